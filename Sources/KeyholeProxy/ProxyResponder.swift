import NIOCore
import NIOHTTP1

/// Answers a client with a short response of the proxy's own (407, 403, 502, …) and closes the connection.
/// Bodies are plain text for people: what happened and what to do, never a secret or a placeholder.
enum ProxyResponder {
    static func respond(
        context: ChannelHandlerContext,
        status: HTTPResponseStatus,
        message: String,
        extraHeaders: [(String, String)] = [],
        wrap: (HTTPServerResponsePart) -> NIOAny
    ) {
        var headers = HTTPHeaders()
        let body = message.hasSuffix("\n") ? message : message + "\n"
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Connection", value: "close")
        headers.add(name: "X-Keyhole", value: "refused")
        for (name, value) in extraHeaders {
            headers.add(name: name, value: value)
        }
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.write(wrap(.head(head)), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        context.write(wrap(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrap(.end(nil))).whenComplete { _ in
            context.close(promise: nil)
        }
    }

    static let proxyAuthenticate = ("Proxy-Authenticate", "Basic realm=\"keyhole\"")

    static let authenticationRequired =
        "keyhole: proxy authentication required. Run the program with `keyhole run -- CMD` (or use the proxy "
        + "URL from `keyhole env`); sessions end when their `run` exits or their TTL passes."
}
