/// Placeholders stand in for secrets inside workloads: `khp_` followed by 40 hex digits (160 random bits),
/// unrelated to the secret, unique per (session, credential). The fixed prefix lets the proxy find every
/// placeholder in a request, including ones of other or ended sessions, and refuse those.
public enum Placeholder {
    public static let prefix = "khp_"
    public static let randomHexDigits = 40
    public static var length: Int { Self.prefix.utf8.count + Self.randomHexDigits }

    public static func generate() -> String {
        Self.prefix + RandomToken.hex(byteCount: Self.randomHexDigits / 2)
    }

    /// Every placeholder-shaped token in `text`, in order.
    public static func occurrences(in text: Substring) -> [Substring] {
        var found: [Substring] = []
        let utf8 = text.utf8
        let prefix = Array(Self.prefix.utf8)
        var index = utf8.startIndex
        while index != utf8.endIndex {
            guard utf8[index] == prefix[0] else {
                index = utf8.index(after: index)
                continue
            }
            guard let end = utf8.index(index, offsetBy: Self.length, limitedBy: utf8.endIndex) else { break }
            let candidate = utf8[index..<end]
            if candidate.starts(with: prefix)
                && candidate.dropFirst(prefix.count).allSatisfy({ isLowerHex($0) })
            {
                found.append(Substring(candidate))
                index = end
            } else {
                index = utf8.index(after: index)
            }
        }
        return found
    }

    /// `text` with every placeholder replaced by `{NAME}` of the credential `name(for:)` gives, or by
    /// `{placeholder}`: what the audit log may hold of a path.
    public static func redacting(_ text: String, name: (Substring) -> String? = { _ in nil }) -> String {
        guard Self.contains(in: Substring(text)) else { return text }
        var result = text
        for placeholder in Self.occurrences(in: Substring(text)) {
            result = result.replacingAll(String(placeholder), with: "{\(name(placeholder) ?? "placeholder")}")
        }
        return result
    }

    public static func contains(in text: Substring) -> Bool {
        text.utf8.count >= Self.length && !Self.occurrences(in: text).isEmpty
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}
