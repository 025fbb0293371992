#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A host a leaf certificate can name: a DNS name or an IP address literal, in one normal form so that
/// `API.Example.com.` and `api.example.com`, or `[::1]` and `0:0::1`, share one certificate.
public struct CertificateHost: Hashable, Sendable, CustomStringConvertible {
    /// What the certificate's subject alternative name will hold.
    public enum Kind: Hashable, Sendable {
        /// A lower-case DNS name without a trailing dot.
        case dnsName(String)
        /// The 4 bytes of an IPv4 address.
        case ipv4Address([UInt8])
        /// The 16 bytes of an IPv6 address.
        case ipv6Address([UInt8])
    }

    public let kind: Kind
    /// The normal form: the DNS name, or the address as `inet_ntop` writes it (no brackets).
    public let normalized: String

    /// Parses `host`: a DNS name (letters, digits, `-`, `_`; labels of 1–63 bytes; 253 bytes in all; a
    /// trailing dot is dropped) or an IPv4/IPv6 literal (brackets allowed around IPv6). Anything else
    /// (a port, a wildcard, a zone id, spaces) throws ``TLSError/Code/invalidHost``.
    public init(_ host: String) throws(TLSError) {
        var text = host
        if text.hasPrefix("[") && text.hasSuffix("]") && text.count > 2 {
            text = String(text.dropFirst().dropLast())
        }
        if let bytes = Self.parseAddress(text, family: AF_INET, count: 4) {
            self.kind = .ipv4Address(bytes)
            self.normalized = Self.formatAddress(bytes, family: AF_INET) ?? text
            return
        }
        if let bytes = Self.parseAddress(text, family: AF_INET6, count: 16) {
            self.kind = .ipv6Address(bytes)
            self.normalized = Self.formatAddress(bytes, family: AF_INET6) ?? text
            return
        }
        if text.hasSuffix(".") { text.removeLast() }
        let name = text.lowercased()
        guard Self.isDNSName(name) else { throw TLSError.invalidHost(host) }
        self.kind = .dnsName(name)
        self.normalized = name
    }

    public var description: String { self.normalized }

    /// Whether this is an IP address rather than a DNS name.
    public var isIPAddress: Bool {
        switch self.kind {
        case .dnsName: return false
        case .ipv4Address, .ipv6Address: return true
        }
    }

    private static func isDNSName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 253 else { return false }
        for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.count <= 63 else { return false }
            guard label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-") else { return false }
            for byte in label {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "-"), UInt8(ascii: "_"):
                    continue
                default:
                    return false
                }
            }
        }
        return true
    }

    private static func parseAddress(_ text: String, family: Int32, count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let result = buffer.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        return result == 1 ? Array(buffer[0..<count]) : nil
    }

    private static func formatAddress(_ bytes: [UInt8], family: Int32) -> String? {
        var output = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok = bytes.withUnsafeBytes { raw in
            output.withUnsafeMutableBufferPointer { out in
                inet_ntop(family, raw.baseAddress, out.baseAddress, socklen_t(out.count))
            }
        }
        guard ok != nil else { return nil }
        return String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
