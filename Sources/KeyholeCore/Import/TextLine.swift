/// One line of a text file as bytes: where it starts and ends, with and without its terminator. Files that keyhole
/// edits on the user's behalf are cut into these so that removing a line leaves every other byte as it was
/// (CRLF or LF endings, a missing final newline, bytes that are not UTF-8).
struct TextLine: Sendable, Equatable {
    /// 1-based line number.
    var number: Int
    /// The whole line, terminator included.
    var range: Range<Int>
    /// The line without `\n` or `\r\n`.
    var content: Range<Int>

    /// The lines of `bytes`; a final line without a terminator counts, an empty tail after the last `\n` does not.
    static func split(_ bytes: [UInt8]) -> [TextLine] {
        var lines: [TextLine] = []
        var start = 0
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                var end = index
                if end > start && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                lines.append(TextLine(number: lines.count + 1, range: start..<(index + 1), content: start..<end))
                start = index + 1
            }
            index += 1
        }
        if start < bytes.count {
            var end = bytes.count
            if bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            lines.append(TextLine(number: lines.count + 1, range: start..<bytes.count, content: start..<end))
        }
        return lines
    }

    /// `bytes` without the lines whose numbers are in `numbers`.
    static func removing(_ numbers: Set<Int>, from bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var copied = 0
        for line in Self.split(bytes) where numbers.contains(line.number) {
            out.append(contentsOf: bytes[copied..<line.range.lowerBound])
            copied = line.range.upperBound
        }
        out.append(contentsOf: bytes[copied...])
        return out
    }

    /// The content as text, or nil when it is not UTF-8.
    func text(in bytes: [UInt8]) -> String? {
        let slice = bytes[self.content]
        let text = String(decoding: slice, as: UTF8.self)
        return text.utf8.elementsEqual(slice) ? text : nil
    }
}
