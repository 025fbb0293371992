import Foundation

@testable import KeyholeCore

/// ``PlaceholderRewriter`` on generated request heads × generated sessions: up to five credentials with host
/// patterns from a small set (scope decided by a hand-written table, not by ``HostPattern``), some with `--inject`
/// or `--allow-http`, secrets of several shapes (CR, LF, NUL, `%`, `:`, non-ASCII), and placeholders of the
/// session, of no credential and look-alikes in header values, inside `Basic` user and password, and in the target.
///
/// Properties: `plan` forwards only a request without placeholders and injections, and its verdicts are justified
/// (a refused credential really is out of scope or barred from clear text, an unknown placeholder really is
/// unknown); after `apply` the output holds no secret of a credential out of scope or barred from clear text, no
/// header value holds CR, LF or NUL, no placeholder is left, every due injection is there; `apply` throws only when
/// a secret could not be placed safely.
enum RewriterFuzz {
    static let target = FuzzTarget(name: "rewriter", summary: "PlaceholderRewriter plan/apply on random heads and sessions") {
        RewriterFuzz.run(FuzzBytes($0))
    }

    static let patterns = ["api.test", "api.test:443", "*.other.test", "dev.test:8080", "*.test", "127.0.0.1"]
    static let authorities = [
        "api.test:443", "api.test:80", "dev.test:8080", "dev.test:443", "x.other.test:443", "other.test:443",
        "evil.test:443", "127.0.0.1:8080", "api.test.evil:443", "API.TEST.:443",
    ]
    /// scope[pattern] = the indices of `authorities` it matches, worked out by hand.
    static let scope: [Set<Int>] = [[0, 1, 9], [0, 9], [4], [2], [0, 1, 2, 3, 4, 5, 6, 9], [7]]
    static let injects = ["Authorization: Bearer {secret}", "X-Key: {secret}", "X-Api-Key: k={secret};v=1"]
    static let secretShapes = ["ecret-value", "-sp ace&x=%41+/?#", "\r\nX-Evil: 1", "\0nul", "-ünï\u{202E}é", ":colon@at", "\n"]
    static let headerNames = ["Authorization", "authorization", "X-Key", "X-Api-Key", "Cookie", "User-Agent", "X-Custom"]

    struct Credential {
        let definition: CredentialDefinition
        let patterns: [Int]
        let placeholder: String
        let secret: String
    }

    static func placeholder(_ digit: Int) -> String { "khp_" + String(repeating: String(digit, radix: 16), count: 40) }

    static func run(_ input: FuzzBytes) {
        var input = input
        var credentials: [Credential] = []
        for index in 0..<input.int(1...5) {
            let patterns = Array(Set((0..<input.int(1...2)).map { _ in input.int(0...(Self.patterns.count - 1)) })).sorted()
            let inject = input.int(0...5) < 3 ? Self.injects[input.int(0...2)] : nil
            let definition = CredentialDefinition(
                name: "c\(index)", hosts: patterns.map { try! HostPattern(Self.patterns[$0]) },
                inject: inject.map { try! InjectTemplate($0) }, allowHTTP: input.bool(), created: ""
            )
            let secret = "S\(index)" + input.pick(Self.secretShapes)
            credentials.append(Credential(definition: definition, patterns: patterns, placeholder: Self.placeholder(index + 1), secret: secret))
        }
        var map = Dictionary(uniqueKeysWithValues: credentials.map { ($0.placeholder, $0.definition.name) })
        let ghost = Self.placeholder(0xa)
        if input.bool() { map[ghost] = "gone" }  // a placeholder whose credential was removed meanwhile
        let session = ProxySession(id: "fz", credentials: credentials.map(\.definition), placeholders: map)
        let authorityIndex = input.int(0...(Self.authorities.count - 1))
        let authority = Authority(parsing: Self.authorities[authorityIndex], defaultPort: nil)!
        let cleartext = input.bool()

        func piece() -> String {
            switch input.int(0...9) {
            case 0...3: return input.text(upTo: 8, excluding: [0x00, 0x0A, 0x0D])
            case 4, 5: return credentials[input.int(0...(credentials.count - 1))].placeholder
            case 6: return input.pick([Self.placeholder(9), ghost])
            case 7: return String(Self.placeholder(1).dropLast())  // one digit short
            case 8: return Self.placeholder(2).uppercased()
            default: return input.pick(["%", "/", "?", "=", "&", " ", ":", "khp_"])
            }
        }
        func pieces() -> String { (0..<input.int(0...4)).map { _ in piece() }.joined() }
        let target = "/" + pieces().filter { !" \r\n\0".contains($0) }
        var headers: [RequestHead.Header] = []
        for _ in 0..<input.int(0...6) {
            let name = input.pick(Self.headerNames)
            switch input.int(0...3) {
            case 0: headers.append(.init(name: name, value: pieces()))
            case 1, 2:
                let basic = Data((pieces() + ":" + pieces()).utf8).base64EncodedString()
                headers.append(.init(name: name, value: input.pick(["Basic ", "basic  ", " BASIC\t"]) + basic + input.pick(["", " "])))
            default: headers.append(.init(name: name, value: "Bearer " + pieces()))
            }
        }
        let head = RequestHead(method: input.pick(["GET", "POST", "PUT", "PATCH"]), target: target, headers: headers)
        Self.check(head, credentials: credentials, session: session, authority: (authorityIndex, authority), cleartext: cleartext)
    }

    static func check(
        _ head: RequestHead, credentials: [Credential], session: ProxySession, authority: (index: Int, value: Authority),
        cleartext: Bool
    ) {
        let rewriter = PlaceholderRewriter(session: session, authority: authority.value, cleartext: cleartext)
        func scoped(_ credential: Credential) -> Bool { credential.patterns.contains { Self.scope[$0].contains(authority.index) } }
        func mayTravel(_ credential: Credential) -> Bool { !cleartext || credential.definition.allowHTTP }
        func owner(_ placeholder: String) -> Credential? { credentials.first { $0.placeholder == placeholder } }

        let found = Self.views(of: head).flatMap(Self.placeholders(in:))
        var names = Set(head.headers.map { $0.name.lowercased() })
        let due = credentials.filter { scoped($0) && $0.definition.inject != nil }.sorted { $0.definition.name < $1.definition.name }
            .filter { names.insert($0.definition.inject!.headerName.lowercased()).inserted }
        let plan = rewriter.plan(head)
        switch plan {
        case .forward:
            FuzzCheck.require(found.isEmpty && due.isEmpty, "plan forwards a head with placeholders \(found) or due injections")
            return
        case .denyUnknownPlaceholder:
            FuzzCheck.require(found.contains { owner($0) == nil }, "denyUnknownPlaceholder without an unknown placeholder")
            return
        case .denyScope(let name):
            FuzzCheck.require(found.contains { owner($0).map { $0.definition.name == name && !scoped($0) } ?? false },
                "denyScope(\(name)) without a placeholder of it out of scope (authority \(authority.value))")
            return
        case .denyCleartext(let name):
            let credential = credentials.first { $0.definition.name == name }
            FuzzCheck.require(credential.map { !mayTravel($0) && (found.contains($0.placeholder) || due.contains { $0.definition.name == name }) } ?? false,
                "denyCleartext(\(name)) for a credential that may travel or is not used")
            return
        case .rewrite(let planned):
            for placeholder in found {
                guard let credential = owner(placeholder) else { FuzzCheck.fail("rewrite with unknown placeholder \(placeholder)") }
                FuzzCheck.require(scoped(credential) && mayTravel(credential) && planned.contains(credential.definition.name),
                    "rewrite plans \(planned) with a placeholder of \(credential.definition.name) (scoped \(scoped(credential)), cleartext \(cleartext))")
            }
            for credential in due {
                FuzzCheck.require(mayTravel(credential) && planned.contains(credential.definition.name), "due injection \(credential.definition.name) not planned")
            }
            let secrets = Dictionary(uniqueKeysWithValues: credentials.filter { planned.contains($0.definition.name) }
                .map { ($0.definition.name, Secret($0.secret)) })
            let outcome: PlaceholderRewriter.Outcome
            do {
                outcome = try rewriter.apply(head, secrets: secrets)
            } catch {
                FuzzCheck.require(credentials.contains { planned.contains($0.definition.name) && $0.secret.utf8.contains { ($0 == 0 || $0 == 0x0A || $0 == 0x0D) } },
                    "apply refused (\(error)) though every planned secret is header-safe")
                return
            }
            let result = outcome.head
            for header in result.headers {
                FuzzCheck.require(!header.value.utf8.contains { ($0 == 0 || $0 == 0x0A || $0 == 0x0D) }, "header \(header.name) holds CR, LF or NUL: \(fuzzShow(header.value))")
            }
            let outputViews = Self.views(of: result)
            FuzzCheck.require(outputViews.allSatisfy { Self.placeholders(in: $0).isEmpty }, "a placeholder is left in \(outputViews.map(fuzzShow))")
            let inputText = Self.views(of: head).joined(separator: "\n")
            for credential in credentials where !inputText.contains(credential.secret) && outputViews.contains(where: { $0.contains(credential.secret) }) {
                FuzzCheck.require(scoped(credential) && mayTravel(credential),
                    "the secret of \(credential.definition.name) went to \(authority.value) (cleartext \(cleartext))")
            }
            for credential in due {
                let template = credential.definition.inject!
                FuzzCheck.require(result.headers.contains { $0.name == template.headerName && $0.value == template.render(Secret(credential.secret)) },
                    "the injection of \(credential.definition.name) is missing")
            }
            FuzzCheck.require(result.method == head.method && result.headers.count == head.headers.count + due.count
                && zip(result.headers, head.headers).allSatisfy { $0.name == $1.name }, "apply changed the head's shape")
        }
    }

    /// The texts a placeholder or secret may sit in: header values, decoded `Basic` credentials, the target as
    /// sent and percent-decoded.
    static func views(of head: RequestHead) -> [String] {
        var views = [head.target, String(decoding: PercentEncoding.decode(head.target), as: UTF8.self)]
        for header in head.headers {
            views.append(header.value)
            let parts = Self.trimmed(header.value).split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "basic", let data = Data(base64Encoded: Self.trimmed(parts[1])),
                let decoded = String(data: data, encoding: .utf8)
            {
                views.append(decoded)
            }
        }
        return views
    }

    /// Without leading and trailing spaces and tabs (HTTP's OWS).
    static func trimmed(_ text: some StringProtocol) -> String {
        let bytes = Array(text.utf8)
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    /// Every `khp_` followed by 40 lowercase hex digits.
    static func placeholders(in text: String) -> [String] {
        let bytes = Array(text.utf8)
        var found: [String] = []
        var start = 0
        while start + 44 <= bytes.count {
            defer { start += 1 }
            guard bytes[start] == 0x6B, bytes[start + 1] == 0x68, bytes[start + 2] == 0x70, bytes[start + 3] == 0x5F else { continue }
            var end = start + 4
            while end < start + 44, (0x30...0x39).contains(bytes[end]) || (0x61...0x66).contains(bytes[end]) { end += 1 }
            if end == start + 44 { found.append(String(decoding: bytes[start..<end], as: UTF8.self)) }
        }
        return found
    }
}
