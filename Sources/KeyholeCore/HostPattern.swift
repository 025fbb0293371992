/// Which hosts a credential may be sent to: `api.example.com`, `*.example.com` (any depth of subdomain,
/// not the apex), each with an optional `:PORT` (without one: any port).
public struct HostPattern: Sendable, Hashable, CustomStringConvertible, Codable {
    /// The host part, lowercased; for a wildcard, the suffix after `*.`.
    public let host: String
    public let isWildcard: Bool
    public let port: Int?

    public init(_ text: String) throws {
        let trimmed = text.trimmingASCIIWhitespace()
        var body = Substring(trimmed)
        var wildcard = false
        if body.hasPrefix("*.") {
            wildcard = true
            body = body.dropFirst(2)
        }
        if body.contains("*") || body.isEmpty {
            throw HostPatternError.invalid(text)
        }
        // Reuse the authority parser; a port is optional here.
        guard let authority = Authority(parsing: body, defaultPort: 0) else {
            throw HostPatternError.invalid(text)
        }
        if wildcard && authority.isIPv6 { throw HostPatternError.invalid(text) }
        self.host = authority.host
        self.isWildcard = wildcard
        self.port = authority.port == 0 ? nil : authority.port
        if self.host.hasPrefix(".") || self.host.hasSuffix(".") || self.host.contains("..") {
            throw HostPatternError.invalid(text)
        }
    }

    /// Whether a request to `authority` is in scope.
    public func matches(_ authority: Authority) -> Bool {
        if let port = self.port, port != authority.port { return false }
        if self.isWildcard {
            return authority.host.hasSuffix("." + self.host)
        }
        return authority.host == self.host
    }

    /// `localhost`, `*.localhost`, `127.0.0.0/8` literals and `::1`.
    public var isLoopback: Bool {
        if self.host == "localhost" || self.host.hasSuffix(".localhost") || self.host == "::1" { return true }
        let parts = self.host.split(separator: ".", omittingEmptySubsequences: false)
        return !self.isWildcard && parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    public var description: String {
        var text = self.isWildcard ? "*." + self.host : self.host
        if text.contains(":") { text = "[\(text)]" }
        if let port = self.port { text += ":\(port)" }
        return text
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(try container.decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.description)
    }
}

public struct HostPatternError: Error, Sendable, CustomStringConvertible {
    public let pattern: String

    static func invalid(_ pattern: String) -> HostPatternError { HostPatternError(pattern: pattern) }

    public var description: String {
        "invalid host pattern '\(self.pattern)': use 'api.example.com', '*.example.com' or either with ':PORT'"
    }
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" || first == "\n" || first == "\r" {
            scalars.removeFirst()
        }
        while let last = scalars.last, last == " " || last == "\t" || last == "\n" || last == "\r" {
            scalars.removeLast()
        }
        return String(scalars)
    }
}
