import KeyholeCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A one-off HTTPS server on loopback for the daemon's self-test (`keyhole doctor`): it records whether a request
/// arrived with the real secret, with the placeholder, or with neither, and answers 200 only for the secret.
public final class SelfTestUpstream: Sendable {
    public enum Outcome: String, Sendable {
        case secret, placeholder, neither
    }

    /// The path that answers `204` to anything: `keyhole doctor` checks that a runtime reaches it through the proxy.
    public static let reachPath = "/reach"

    private let channel: any Channel
    private let outcome: NIOLockedValueBox<Outcome?>

    public var port: Int { self.channel.localAddress?.port ?? 0 }
    /// What the last request carried; nil when none arrived.
    public var received: Outcome? { self.outcome.withLockedValue { $0 } }

    private init(channel: any Channel, outcome: NIOLockedValueBox<Outcome?>) {
        self.channel = channel
        self.outcome = outcome
    }

    /// Listens on 127.0.0.1 (a port the kernel picks), presenting `context`'s certificate.
    public static func start(
        group: any EventLoopGroup,
        context: NIOSSLContext,
        expectedAuthorization: String,
        placeholderAuthorization: String
    ) async throws -> SelfTestUpstream {
        let outcome = NIOLockedValueBox<Outcome?>(nil)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLServerHandler(context: context))
                    try sync.configureHTTPServerPipeline()
                    try sync.addHandler(
                        SelfTestRequestHandler(
                            expected: expectedAuthorization, placeholder: placeholderAuthorization, outcome: outcome
                        )
                    )
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return SelfTestUpstream(channel: channel, outcome: outcome)
    }

    public func close() async {
        try? await self.channel.close()
    }
}

/// Answers each request: 200 "verified" when it carries the expected `Authorization`, 401 otherwise.
final class SelfTestRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let expected: String
    private let placeholder: String
    private let outcome: NIOLockedValueBox<SelfTestUpstream.Outcome?>
    private var verified = false
    private var reach = false

    init(expected: String, placeholder: String, outcome: NIOLockedValueBox<SelfTestUpstream.Outcome?>) {
        self.expected = expected
        self.placeholder = placeholder
        self.outcome = outcome
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head) where head.uri == SelfTestUpstream.reachPath:
            self.reach = true
        case .head(let head):
            let authorization = head.headers.first(name: "authorization")
            let result: SelfTestUpstream.Outcome =
                authorization == self.expected ? .secret : authorization == self.placeholder ? .placeholder : .neither
            self.verified = result == .secret
            self.outcome.withLockedValue { $0 = result }
        case .body:
            break
        case .end where self.reach:
            self.reach = false
            let head = HTTPResponseHead(version: .http1_1, status: .noContent, headers: ["Connection": "close"])
            context.write(self.wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
        case .end:
            let body = self.verified ? "verified\n" : "not the expected secret\n"
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            headers.add(name: "Connection", value: "close")
            let status: HTTPResponseStatus = self.verified ? .ok : .unauthorized
            context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension SelfTestRequestHandler: Sendable {}
