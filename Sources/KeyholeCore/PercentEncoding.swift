/// RFC 3986 percent-encoding, one implementation for every place keyhole reads or writes it: secrets placed in a
/// URL, SigV4 canonical requests, and the URLs of git's credential file.
public enum PercentEncoding {
    private static let upperHexDigits = Array("0123456789ABCDEF".utf8)

    /// Every byte as `%XX` (uppercase) except the unreserved `A-Z a-z 0-9 - _ . ~` and, if `keepingSlash`, `/`.
    public static func encode(_ bytes: some Sequence<UInt8>, keepingSlash: Bool = false) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            if Self.isUnreserved(byte) || (keepingSlash && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(Self.upperHexDigits[Int(byte >> 4)])
                out.append(Self.upperHexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of `text` with each `%XX` decoded; a `%` without two hex digits stays as written, `+` stays `+`
    /// (like git's `url_decode` and AWS's canonicalisation).
    public static func decode(_ text: some StringProtocol) -> [UInt8] {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = Hex.value(of: bytes[index + 1]), let low = Hex.value(of: bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    /// `A-Z a-z 0-9 - _ . ~`.
    public static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
