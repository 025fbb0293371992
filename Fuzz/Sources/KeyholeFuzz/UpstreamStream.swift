/// Reads back the HTTP/1.1 requests keyhole wrote on one upstream connection (well-formed: NIO's encoder wrote
/// them), to check each head. Stops at the first thing it cannot frame (an upgrade's raw bytes, a cut stream).
/// Works on bytes: bodies carry whatever the workload sent, and reading them as text would change their length.
enum UpstreamStream {
    static let crlf: [UInt8] = [0x0D, 0x0A]
    static let blankLine: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A]

    /// The value of the `Host` header of every complete request head in `stream`.
    static func hostHeaders(in stream: [UInt8]) -> [String] {
        var hosts: [String] = []
        var rest = stream[...]
        while let end = Self.find(Self.blankLine, in: rest) {
            let head = rest[rest.startIndex..<end]
            rest = rest[(end + 4)...]
            var contentLength = 0
            var chunked = false
            var upgrade = false
            for line in Self.lines(head).dropFirst() {
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
                let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased()
                let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                switch name {
                case "host": hosts.append(value)
                case "content-length": contentLength = Int(value) ?? 0
                case "transfer-encoding": chunked = value.lowercased().contains("chunked")
                case "upgrade": upgrade = true
                default: break
                }
            }
            if upgrade { break }
            if chunked {
                guard let after = Self.skipChunks(rest) else { break }
                rest = after
            } else {
                guard contentLength >= 0, rest.count >= contentLength else { break }
                rest = rest.dropFirst(contentLength)
            }
        }
        return hosts
    }

    /// `rest` after a chunked body, or nil when it is not all there.
    private static func skipChunks(_ body: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        var rest = body
        while true {
            guard let lineEnd = Self.find(Self.crlf, in: rest) else { return nil }
            let sizeLine = rest[rest.startIndex..<lineEnd]
            let sizeText = String(decoding: sizeLine.prefix { $0 != UInt8(ascii: ";") }, as: UTF8.self)
            // Not a size NIO's encoder writes (a sign, or more than the stream holds): not framed, stop here.
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0, size <= rest.count
            else { return nil }
            rest = rest[(lineEnd + 2)...]
            if size == 0 {
                // Trailers up to an empty line.
                if rest.starts(with: Self.crlf) { return rest.dropFirst(2) }
                guard let end = Self.find(Self.blankLine, in: rest) else { return nil }
                return rest[(end + 4)...]
            }
            guard rest.count >= size + 2 else { return nil }
            rest = rest.dropFirst(size + 2)
        }
    }

    /// The lines of a head (split at CRLF).
    private static func lines(_ head: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var rest = head
        while let end = Self.find(Self.crlf, in: rest) {
            lines.append(rest[rest.startIndex..<end])
            rest = rest[(end + 2)...]
        }
        lines.append(rest)
        return lines
    }

    /// Where `needle` first occurs in `haystack` (an index of `haystack`).
    static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard haystack.count >= needle.count, let first = needle.first else { return nil }
        var index = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while index <= last {
            guard let found = haystack[index...last].firstIndex(of: first) else { return nil }
            if haystack[found..<(found + needle.count)].elementsEqual(needle) { return found }
            index = found + 1
        }
        return nil
    }
}
