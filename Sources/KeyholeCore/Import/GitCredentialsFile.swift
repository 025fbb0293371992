/// The plaintext file of git's `store` helper (git-credential-store(1), `~/.git-credentials`): one URL per
/// line, `https://user:password@host[:port][/path]`, with user and password percent-encoded. Lines that are not
/// such a URL (blank lines, comments) are skipped, as git skips them. The file's bytes are kept, so imported
/// entries can be removed leaving every other byte as it was.
public struct GitCredentialsFile: Sendable {
    /// One credential line. Its description, debug description and mirror never show the password.
    public struct Entry: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
        CustomReflectable
    {
        /// 1-based line number.
        public var line: Int
        /// `https` or `http`.
        public var scheme: String
        /// `host` or `host:port`, as git sends it to helpers (percent-decoded).
        public var host: String
        /// The path, when the line has one (`credential.useHttpPath`).
        public var path: String?
        /// Nil when the line has an empty user name.
        public var username: String?
        public var password: String

        public init(line: Int, scheme: String, host: String, path: String?, username: String?, password: String) {
            self.line = line
            self.scheme = scheme
            self.host = host
            self.path = path
            self.username = username
            self.password = password
        }

        public var description: String {
            let user = self.username.map { "\($0)@" } ?? ""
            let path = self.path.map { "/\($0)" } ?? ""
            let url = "\(self.scheme)://\(user)\(self.host)\(path)"
            return "GitCredentialsFile.Entry(line \(self.line): \(url), password: <secret>)"
        }

        public var debugDescription: String { self.description }

        public var customMirror: Mirror {
            Mirror(self, children: ["line": self.line, "host": self.host, "password": "<redacted>"])
        }
    }

    /// A line that looks like it was meant as an entry but cannot be imported, and why (never its content).
    public struct Problem: Sendable, Equatable {
        public var line: Int
        public var reason: String
    }

    /// The file as read.
    public let bytes: [UInt8]
    public private(set) var entries: [Entry] = []
    public private(set) var problems: [Problem] = []

    public init(bytes: [UInt8]) {
        self.bytes = bytes
        for line in TextLine.split(bytes) {
            guard let text = line.text(in: bytes) else {
                self.problems.append(Problem(line: line.number, reason: "not UTF-8 text"))
                continue
            }
            let trimmed = text.trimmingASCIIWhitespace()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            switch Self.parse(text, line: line.number) {
            case .entry(let entry): self.entries.append(entry)
            case .problem(let reason): self.problems.append(Problem(line: line.number, reason: reason))
            }
        }
    }

    /// The file without the lines of `lines`; every other byte as it was.
    public func removing(lines: Set<Int>) -> [UInt8] {
        TextLine.removing(lines, from: self.bytes)
    }

    private enum Parsed {
        case entry(Entry)
        case problem(String)
    }

    /// Reads a line the way git's `credential_from_url` does: `scheme://[user[:password]@]host[/path]`, the
    /// user info ending at the first `@` before the first `/`.
    private static func parse(_ text: String, line: Int) -> Parsed {
        guard let separator = text.range(of: "://"), separator.lowerBound > text.startIndex else {
            return .problem("not a URL (scheme://user:password@host)")
        }
        let scheme = text[..<separator.lowerBound].lowercased()
        guard scheme == "https" || scheme == "http" else {
            return .problem("\(scheme):// is not an HTTP URL; keyhole covers https and http")
        }
        let rest = text[separator.upperBound...]
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let at = rest[..<slash].firstIndex(of: "@") else {
            return .problem("no user name and password in the URL")
        }
        let userInfo = rest[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else {
            return .problem("no password in the URL")
        }
        guard let username = Self.percentDecoded(userInfo[..<colon]),
            let password = Self.percentDecoded(userInfo[userInfo.index(after: colon)...]),
            let host = Self.percentDecoded(rest[rest.index(after: at)..<slash])
        else {
            return .problem("a percent-encoded part is not UTF-8 text")
        }
        guard !password.isEmpty else { return .problem("empty password") }
        guard !host.isEmpty else { return .problem("no host in the URL") }
        var path: String?
        if slash < rest.endIndex {
            var decoded = Self.percentDecoded(rest[rest.index(after: slash)...]) ?? ""
            while decoded.hasSuffix("/") { decoded.removeLast() }
            path = decoded.isEmpty ? nil : decoded
        }
        return .entry(
            Entry(
                line: line, scheme: scheme, host: host, path: path, username: username.isEmpty ? nil : username,
                password: password
            )
        )
    }

    /// `%XX` sequences as bytes (others left as written, like git's `url_decode`), then UTF-8; nil if not UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        let bytes = PercentEncoding.decode(text)
        let decoded = String(decoding: bytes, as: UTF8.self)
        return decoded.utf8.elementsEqual(bytes) ? decoded : nil
    }
}
