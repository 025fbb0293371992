import NIOHTTP1

/// How a request's body is framed, made unambiguous before anything goes upstream. The decoder and the upstream
/// must agree on where a request ends: a `Transfer-Encoding` other than exactly `chunked`, both framings at once,
/// differing `Content-Length`s, or a body on a method whose body NIO's encoder drops (TRACE) would let the bytes of
/// one request be read upstream as another request — one keyhole never inspected, or one that swallows the next
/// request and the secret swapped into it (found by the network fuzzer). Such requests are refused (400).
enum RequestFraming {
    /// Normalises `head`'s framing headers, or says why the request is refused.
    static func problem(normalizing head: inout HTTPRequestHead) -> String? {
        let codings = head.headers["transfer-encoding"]
            .flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let lengths = head.headers["content-length"]
            .flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if !codings.isEmpty {
            guard codings == ["chunked"] else {
                return "Transfer-Encoding other than chunked"
            }
            guard lengths.isEmpty else { return "both Content-Length and Transfer-Encoding" }
            head.headers.remove(name: "transfer-encoding")
            head.headers.add(name: "Transfer-Encoding", value: "chunked")
        }
        if let first = lengths.first {
            guard first.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), !first.isEmpty,
                lengths.allSatisfy({ $0 == first })
            else { return "an invalid or repeated Content-Length" }
            if head.headers["content-length"].count > 1 || lengths.count > 1 {
                head.headers.replaceOrAdd(name: "Content-Length", value: first)
            }
        }
        if head.method == .TRACE, !codings.isEmpty || lengths.contains(where: { $0.contains(where: { $0 != "0" }) }) {
            return "a TRACE request with a body"
        }
        return nil
    }
}
