#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Config {
    /// A validated `host:port`. IPv6 addresses are written in brackets (`[::1]:8899`) and stored without.
    public struct Address: Sendable, Hashable, CustomStringConvertible {
        /// A DNS name (lowercased), an IPv4 address or an IPv6 address without brackets.
        public let host: String
        public let port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `host:port`, with brackets around an IPv6 address.
        public var description: String {
            self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
        }

        /// True for 127.0.0.0/8 and ::1.
        public var isLoopback: Bool {
            var v4 = in_addr()
            if inet_pton(AF_INET, self.host, &v4) == 1 {
                return UInt32(bigEndian: v4.s_addr) >> 24 == 127
            }
            var v6 = in6_addr()
            if inet_pton(AF_INET6, self.host, &v6) == 1 {
                return withUnsafeBytes(of: &v6) { bytes in
                    bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1
                }
            }
            return false
        }

        /// Parses `host:port` (a name, an IPv4 address or a bracketed IPv6 address, and a port 1–65535, or 0
        /// when `allowPortZero`). Errors carry no file or line; callers reading a file add them.
        public static func parse(_ text: String, allowPortZero: Bool = false) throws(ConfigError) -> Address {
            func fail(_ message: String, _ hint: String? = nil) -> ConfigError {
                ConfigError(code: .invalidValue, file: nil, line: nil, message: message, hint: hint)
            }
            let example = "e.g. \"api.example.com:443\", \"127.0.0.1:8443\" or \"[::1]:8443\""
            let host: Substring
            let portText: Substring
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]") else {
                    throw fail("'\(text)' is not host:port: missing ']' after the IPv6 address", example)
                }
                host = text[text.index(after: text.startIndex)..<close]
                let rest = text[text.index(after: close)...]
                guard rest.hasPrefix(":") else {
                    throw fail("'\(text)' has no port: expected host:port", example)
                }
                portText = rest.dropFirst()
                var v6 = in6_addr()
                guard inet_pton(AF_INET6, String(host), &v6) == 1 else {
                    throw fail("'\(host)' in '\(text)' is not an IPv6 address", example)
                }
            } else {
                guard let colon = text.lastIndex(of: ":") else {
                    throw fail("'\(text)' has no port: expected host:port", example)
                }
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
                if host.contains(":") {
                    throw fail("'\(text)' is ambiguous: write an IPv6 address in brackets", "e.g. \"[::1]:8443\"")
                }
                guard Self.isValidHost(host) else {
                    throw fail("'\(host)' in '\(text)' is not a host name or an IPv4 address", example)
                }
            }
            guard !portText.isEmpty, portText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                portText.count <= 5,
                let port = Int(portText), port <= 65535, port > 0 || allowPortZero
            else {
                throw fail("'\(portText)' in '\(text)' is not a port: expected a number from 1 to 65535", example)
            }
            return Address(host: host.lowercased(), port: port)
        }

        /// A DNS name made of labels of letters, digits, '-' and '_', or a dotted-quad IPv4 address.
        private static func isValidHost(_ host: Substring) -> Bool {
            guard !host.isEmpty, host.utf8.count <= 253 else { return false }
            if host.utf8.allSatisfy({ ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: ".") })
            {
                var v4 = in_addr()
                return inet_pton(AF_INET, String(host), &v4) == 1
            }
            return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
                (1...63).contains(label.utf8.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
            }
        }
    }

    /// Validates an address for the proxy to listen on: loopback only (127.0.0.0/8 or [::1]), with a port
    /// (0 picks a free one). Used for `listen` in the file and for `keyhole daemon --listen`.
    public static func listenAddress(_ text: String) throws(ConfigError) -> Address {
        let hint =
            "the proxy only listens on loopback, e.g. \"127.0.0.1:8899\" or \"[::1]:8899\"; it must never "
            + "listen on a network interface, where other machines could use your credentials"
        let address: Address
        do {
            address = try Address.parse(text, allowPortZero: true)
        } catch {
            throw ConfigError(
                code: .invalidValue, file: nil, line: nil, message: "listen: " + error.message, hint: hint)
        }
        guard address.isLoopback else {
            throw ConfigError(
                code: .invalidValue,
                file: nil,
                line: nil,
                message: "listen: '\(text)' is not a loopback address (127.0.0.0/8 or [::1])",
                hint: hint
            )
        }
        return address
    }
}
