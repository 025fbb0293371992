/// Where the members of a JSON object sit in its text, found by a strict scan (RFC 8259). Lets a file such as
/// `~/.docker/config.json` lose one member while every other byte stays as the user (or their tools) wrote it,
/// instead of re-serialising the whole document.
struct JSONObjectLayout: Sendable, Equatable {
    struct Member: Sendable, Equatable {
        var key: String
        /// Index of the key's opening quote.
        var keyStart: Int
        /// The value: its first byte through its last (e.g. `{` … `}`).
        var value: Range<Int>
    }

    /// Indices of `{` and `}`.
    var open: Int
    var close: Int
    var members: [Member]

    /// The object that is the whole of `bytes` (whitespace and a UTF-8 byte order mark around it allowed).
    static func document(_ bytes: [UInt8]) throws(ImportFileError) -> JSONObjectLayout {
        var scanner = JSONScanner(bytes: bytes)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { scanner.position = 3 }
        scanner.skipWhitespace()
        guard scanner.peek == UInt8(ascii: "{") else {
            if scanner.atEnd { throw scanner.error("a JSON object, found an empty file") }
            try scanner.skipValue()
            throw ImportFileError.notAnObject("the document")
        }
        let layout = try scanner.object()
        scanner.skipWhitespace()
        guard scanner.atEnd else { throw scanner.error("the end of the document after the top-level object") }
        return layout
    }

    /// The object whose `{` is at `start` in `bytes` (already known to be valid JSON).
    static func object(in bytes: [UInt8], at start: Int) throws(ImportFileError) -> JSONObjectLayout {
        var scanner = JSONScanner(bytes: bytes)
        scanner.position = start
        return try scanner.object()
    }

    /// The decoded value of `member` when it is a string; nil for any other kind of value.
    static func stringValue(of member: Member, in bytes: [UInt8]) -> String? {
        guard bytes[member.value.lowerBound] == UInt8(ascii: "\"") else { return nil }
        var scanner = JSONScanner(bytes: bytes)
        scanner.position = member.value.lowerBound
        return try? scanner.string()
    }

    /// `bytes` with the members at `indices` taken out of this object. Kept members keep their bytes, and the
    /// whitespace between them is the one the file had before each; the object's leading and trailing
    /// whitespace stay. With no member left the object becomes `{}`.
    func removingMembers(at indices: Set<Int>, from bytes: [UInt8]) -> [UInt8] {
        let kept = self.members.indices.filter { !indices.contains($0) }
        guard kept.count != self.members.count else { return bytes }
        var out = Array(bytes[..<(self.open + 1)])
        if !kept.isEmpty {
            out.append(contentsOf: bytes[(self.open + 1)..<self.members[0].keyStart])
            for (position, index) in kept.enumerated() {
                let member = self.members[index]
                if position > 0 {
                    out.append(contentsOf: bytes[self.members[index - 1].value.upperBound..<member.keyStart])
                }
                out.append(contentsOf: bytes[member.keyStart..<member.value.upperBound])
            }
            out.append(contentsOf: bytes[self.members[self.members.count - 1].value.upperBound..<self.close])
        }
        out.append(contentsOf: bytes[self.close...])
        return out
    }
}
