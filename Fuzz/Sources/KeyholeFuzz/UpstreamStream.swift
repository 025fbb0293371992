/// Reads back the HTTP/1.1 requests keyhole wrote on one upstream connection (well-formed: NIO's encoder wrote
/// them), to check each head. Stops at the first thing it cannot frame (an upgrade's raw bytes, a cut stream).
enum UpstreamStream {
    /// The value of the `Host` header of every complete request head in `stream`.
    static func hostHeaders(in stream: String) -> [String] {
        var hosts: [String] = []
        var rest = Substring(stream)
        while let end = rest.range(of: "\r\n\r\n") {
            let head = rest[..<end.lowerBound]
            rest = rest[end.upperBound...]
            var contentLength = 0
            var chunked = false
            var upgrade = false
            for line in head.split(separator: "\r\n").dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
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
                guard contentLength >= 0, rest.utf8.count >= contentLength else { break }
                rest = Substring(rest.utf8.dropFirst(contentLength))
            }
        }
        return hosts
    }

    /// `rest` after a chunked body, or nil when it is not all there.
    private static func skipChunks(_ body: Substring) -> Substring? {
        var rest = body
        while true {
            guard let lineEnd = rest.range(of: "\r\n") else { return nil }
            let sizeText = rest[..<lineEnd.lowerBound].split(separator: ";").first.map(String.init) ?? ""
            // Not a size NIO's encoder writes (a sign, or more than the stream holds): not framed, stop here.
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0,
                size <= rest.utf8.count
            else { return nil }
            rest = rest[lineEnd.upperBound...]
            if size == 0 {
                // Trailers up to an empty line.
                guard let end = rest.range(of: "\r\n\r\n") ?? (rest.hasPrefix("\r\n") ? rest.range(of: "\r\n") : nil)
                else { return nil }
                return rest[end.upperBound...]
            }
            guard rest.utf8.count >= size + 2 else { return nil }
            rest = Substring(rest.utf8.dropFirst(size + 2))
        }
    }
}
