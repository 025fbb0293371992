import Foundation

/// Decides what happens to one request bound for `authority` in a session, and performs the swap.
///
/// Placeholders are looked for in every header value, inside `Authorization: Basic` (user and password) and in
/// the request target (path and query). The rewriter works in two steps so that secrets are fetched only when a
/// request is allowed: ``plan(_:)`` says which credentials the request needs (or why it is refused), and
/// ``apply(_:secrets:)`` substitutes them.
public struct PlaceholderRewriter: Sendable {
    public let session: ProxySession
    public let authority: Authority
    /// The request leaves as plain `http://`: only credentials added with `--allow-http` may go into it.
    public let cleartext: Bool

    public init(session: ProxySession, authority: Authority, cleartext: Bool = false) {
        self.session = session
        self.authority = authority
        self.cleartext = cleartext
    }

    public enum Plan: Sendable, Equatable {
        /// Nothing to swap or inject: forward as it is.
        case forward
        /// Resolve these credentials' secrets, then ``PlaceholderRewriter/apply(_:secrets:)``.
        case rewrite(credentials: [String])
        /// Refuse: a placeholder is bound for a host its credential is not scoped to.
        case denyScope(credential: String)
        /// Refuse: a placeholder that belongs to no live credential of this session.
        case denyUnknownPlaceholder
        /// Refuse: the request is plain `http://` and this credential's secret only travels over TLS.
        case denyCleartext(credential: String)
    }

    public struct Outcome: Sendable {
        public var head: RequestHead
        /// Credentials whose placeholders were replaced.
        public var swapped: [String]
        /// Credentials whose header was injected.
        public var injected: [String]
    }

    public func plan(_ head: RequestHead) -> Plan {
        var needed: [String] = []
        func note(_ name: String) {
            if !needed.contains(name) { needed.append(name) }
        }
        for placeholder in self.placeholders(in: head) {
            guard let name = self.session.placeholders[String(placeholder)],
                let credential = self.session.credentials.first(where: { $0.name == name })
            else {
                return .denyUnknownPlaceholder
            }
            guard credential.isScoped(to: self.authority) else {
                return .denyScope(credential: credential.name)
            }
            guard credential.mayTravel(cleartext: self.cleartext) else {
                return .denyCleartext(credential: credential.name)
            }
            note(name)
        }
        for credential in self.injections(for: head) {
            guard credential.mayTravel(cleartext: self.cleartext) else {
                return .denyCleartext(credential: credential.name)
            }
            note(credential.name)
        }
        return needed.isEmpty ? .forward : .rewrite(credentials: needed)
    }

    /// Replaces placeholders and adds injected headers. Throws ``RewriteError`` when a secret cannot be placed
    /// safely (e.g. a line break bound for a header), so the caller fails closed.
    public func apply(_ head: RequestHead, secrets: [String: Secret]) throws -> Outcome {
        var swapped: [String] = []
        var result = head
        func secret(for placeholder: Substring) throws -> (String, Secret) {
            guard let name = self.session.placeholders[String(placeholder)], let secret = secrets[name] else {
                throw RewriteError.missingSecret
            }
            if !swapped.contains(name) { swapped.append(name) }
            return (name, secret)
        }

        for index in result.headers.indices {
            let value = result.headers[index].value
            if let basic = PlaceholderRewriter.basicCredentials(in: value),
                Placeholder.contains(in: Substring(basic.decoded))
            {
                var decoded = basic.decoded
                for placeholder in Placeholder.occurrences(in: Substring(basic.decoded)) {
                    let (_, secret) = try secret(for: placeholder)
                    decoded = decoded.replacingAll(String(placeholder), with: secret.value)
                }
                let encoded = Data(decoded.utf8).base64EncodedString()
                result.headers[index].value = basic.scheme + " " + encoded
                continue
            }
            guard Placeholder.contains(in: Substring(value)) else { continue }
            var replaced = value
            for placeholder in Placeholder.occurrences(in: Substring(value)) {
                let (_, secret) = try secret(for: placeholder)
                try PlaceholderRewriter.checkHeaderSafe(secret)
                replaced = replaced.replacingAll(String(placeholder), with: secret.value)
            }
            result.headers[index].value = replaced
        }

        if Placeholder.contains(in: Substring(result.target)) {
            var target = result.target
            for placeholder in Placeholder.occurrences(in: Substring(result.target)) {
                let (_, secret) = try secret(for: placeholder)
                target = target.replacingAll(String(placeholder), with: PercentEncoding.encode(secret.value.utf8))
            }
            result.target = target
        }

        var injected: [String] = []
        for credential in self.injections(for: head) {
            guard let template = credential.inject, let secret = secrets[credential.name] else {
                throw RewriteError.missingSecret
            }
            try PlaceholderRewriter.checkHeaderSafe(secret)
            result.headers.append(.init(name: template.headerName, value: template.render(secret)))
            injected.append(credential.name)
        }
        return Outcome(head: result, swapped: swapped, injected: injected)
    }

    /// Scoped credentials whose `--inject` header the request lacks (first credential wins per header name).
    func injections(for head: RequestHead) -> [CredentialDefinition] {
        var seen = Set(head.headers.map { $0.name.lowercased() })
        var result: [CredentialDefinition] = []
        for credential in self.session.credentials(scopedTo: self.authority).sorted(by: { $0.name < $1.name }) {
            guard let template = credential.inject else { continue }
            let key = template.headerName.lowercased()
            if seen.insert(key).inserted {
                result.append(credential)
            }
        }
        return result
    }

    /// Every placeholder-shaped token in the head: header values, decoded Basic credentials, the target.
    func placeholders(in head: RequestHead) -> [Substring] {
        var found: [Substring] = []
        for header in head.headers {
            found += Placeholder.occurrences(in: Substring(header.value))
            if let basic = PlaceholderRewriter.basicCredentials(in: header.value) {
                found += Placeholder.occurrences(in: Substring(basic.decoded))
            }
        }
        found += Placeholder.occurrences(in: Substring(head.target))
        return found
    }

    /// `Basic <base64>` decoded to `user:password`, keeping the scheme's spelling.
    static func basicCredentials(in value: String) -> (scheme: String, decoded: String)? {
        let trimmed = value.trimmingASCIIWhitespace()
        guard let space = trimmed.firstIndex(of: " ") else { return nil }
        let scheme = String(trimmed[..<space])
        guard scheme.lowercased() == "basic" else { return nil }
        let payload = String(trimmed[trimmed.index(after: space)...]).trimmingASCIIWhitespace()
        guard let data = Data(base64Encoded: payload), let decoded = String(data: data, encoding: .utf8) else {
            return nil
        }
        return (scheme, decoded)
    }

    static func checkHeaderSafe(_ secret: Secret) throws {
        if secret.value.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D || $0 == 0x00 }) {
            throw RewriteError.unsafeForHeader
        }
    }

}

public struct RewriteError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable {
        case missingSecret
        case unsafeForHeader
    }

    private let code: Code

    static let missingSecret = RewriteError(code: .missingSecret)
    static let unsafeForHeader = RewriteError(code: .unsafeForHeader)

    public var description: String {
        switch self.code {
        case .missingSecret: return "a secret the request needs was not resolved"
        case .unsafeForHeader: return "the secret contains a line break and cannot go into a header"
        }
    }
}
