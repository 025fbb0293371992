import Foundation
import KeyholeCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The client half of the daemon's self-test: a real HTTPS request through the proxy listener, exactly as a
/// workload makes it (CONNECT with the session token as proxy password, TLS verified against the trust bundle
/// workloads get, `Authorization: Bearer <placeholder>`).
public enum SelfTestClient {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The HTTP status the upstream answered.
    public static func get(
        proxyPort: Int,
        token: String,
        authority: Authority,
        authorization: String,
        bundlePath: String,
        group: any EventLoopGroup,
        timeout: TimeAmount = .seconds(10)
    ) async throws -> Int {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(bundlePath)
        configuration.applicationProtocols = ["http/1.1"]
        let tls = try NIOSSLContext(configuration: configuration)
        let eventLoop = group.next()
        let status = eventLoop.makePromise(of: Int.self)
        let credentials = Data("keyhole:\(token)".utf8).base64EncodedString()
        let connect = "CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\nProxy-Authorization: Basic \(credentials)\r\n\r\n"
        let request = HTTPRequestHead(
            version: .http1_1, method: .GET, uri: "/",
            headers: ["Host": "\(authority)", "Authorization": authorization, "Connection": "close"]
        )
        let timer = eventLoop.scheduleTask(in: timeout) {
            status.fail(Failure(description: "no answer within \(timeout.nanoseconds / 1_000_000_000) s"))
        }
        defer { timer.cancel() }
        let channel = try await ClientBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectTunnelHandler(
                            connect: connect, status: status,
                            onEstablished: { pipeline in
                                try pipeline.addHandler(NIOSSLClientHandler(context: tls, serverHostname: authority.host))
                                try pipeline.addHTTPClientHandlers()
                                try pipeline.addHandler(SelfTestResponseHandler(request: request, status: status))
                            }
                        )
                    )
                }
            }
            .connect(host: "127.0.0.1", port: proxyPort)
            .get()
        defer { channel.close(promise: nil) }
        return try await status.futureResult.get()
    }
}

/// Sends CONNECT, waits for the proxy's `200`, then hands the connection to TLS and HTTP.
final class ConnectTunnelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let connect: String
    private let status: EventLoopPromise<Int>
    private let onEstablished: (ChannelPipeline.SynchronousOperations) throws -> Void
    private var received = ""

    init(
        connect: String,
        status: EventLoopPromise<Int>,
        onEstablished: @escaping (ChannelPipeline.SynchronousOperations) throws -> Void
    ) {
        self.connect = connect
        self.status = status
        self.onEstablished = onEstablished
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(self.wrapOutboundOut(context.channel.allocator.buffer(string: self.connect)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = self.unwrapInboundIn(data)
        self.received += buffer.readString(length: buffer.readableBytes) ?? ""
        guard let end = self.received.range(of: "\r\n\r\n") else { return }
        let statusLine = self.received[..<end.lowerBound].split(separator: "\r\n").first.map(String.init) ?? ""
        guard statusLine.split(separator: " ").dropFirst().first == "200" else {
            let code = statusLine.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            self.status.succeed(code)
            context.close(promise: nil)
            return
        }
        do {
            try self.onEstablished(context.pipeline.syncOperations)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } catch {
            self.status.fail(error)
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.status.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.status.fail(SelfTestClient.Failure(description: "the proxy closed the connection"))
        context.fireChannelInactive()
    }
}

/// Sends the request once TLS is in place (NIOSSL buffers it until the handshake is done) and reports the status.
final class SelfTestResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let request: HTTPRequestHead
    private let status: EventLoopPromise<Int>

    init(request: HTTPRequestHead, status: EventLoopPromise<Int>) {
        self.request = request
        self.status = status
    }

    func handlerAdded(context: ChannelHandlerContext) {
        context.write(self.wrapOutboundOut(.head(self.request)), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = self.unwrapInboundIn(data) {
            self.status.succeed(Int(head.status.code))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.status.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.status.fail(SelfTestClient.Failure(description: "the upstream closed the connection"))
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension ConnectTunnelHandler: Sendable {}

@available(*, unavailable)
extension SelfTestResponseHandler: Sendable {}
