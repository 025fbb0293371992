/// A host and port as they appear in a CONNECT request, an absolute URL or a `Host` header:
/// `example.com:443`, `127.0.0.1:8080`, `[::1]:8443`. Hosts are kept lowercased without a trailing dot.
public struct Authority: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = Authority.normalize(host: host)
        self.port = port
    }

    /// Parses `host[:port]`, using `defaultPort` when none is given. Returns nil for anything malformed.
    public init?(parsing text: Substring, defaultPort: Int?) {
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                portText = rest.dropFirst()
            }
            guard host.contains(":") else { return nil }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else { return nil }
        } else {
            host = text
        }
        guard !host.isEmpty, Authority.isValidHost(host) else { return nil }
        let port: Int
        if let portText {
            guard let parsed = Int(portText), (1...65535).contains(parsed), portText.allSatisfy(\.isASCIIDigit)
            else { return nil }
            port = parsed
        } else {
            guard let defaultPort else { return nil }
            port = defaultPort
        }
        self.init(host: String(host), port: port)
    }

    public init?(parsing text: String, defaultPort: Int?) {
        self.init(parsing: Substring(text), defaultPort: defaultPort)
    }

    /// Whether the host is an IPv6 literal (printed in brackets).
    public var isIPv6: Bool { self.host.contains(":") }

    /// `host:port`, with brackets around an IPv6 literal.
    public var description: String {
        self.isIPv6 ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }

    /// The host as it goes into a URL or Host header (brackets around IPv6).
    public var urlHost: String { self.isIPv6 ? "[\(self.host)]" : self.host }

    public static func normalize(host: String) -> String {
        var lowered = host.lowercased()
        while lowered.hasSuffix(".") && lowered.count > 1 { lowered.removeLast() }
        return lowered
    }

    static func isValidHost(_ host: Substring) -> Bool {
        host.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: ":"), UInt8(ascii: "%"):
                return true
            default:
                return false
            }
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { self.isASCII && self.isNumber }
}
