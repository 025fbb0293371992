import KeyholeCore
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// Opens connections to upstream servers. Injectable so that tests can join the proxy to an in-memory upstream.
public protocol UpstreamConnector: Sendable {
    /// Connects to `authority` on `eventLoop`. With `tls`, the future succeeds only after a verified handshake
    /// (certificate chain and host name); every failure fails the future, and nothing is sent unverified.
    func connect(to authority: Authority, tls: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel>
}

/// The real connector: TCP through NIOPosix, `resolve` overrides like curl's `--resolve`, verified TLS.
public struct SocketUpstreamConnector: UpstreamConnector {
    public let resolve: [Authority: Authority]
    public let tlsContext: NIOSSLContext
    public let connectTimeout: TimeAmount
    /// The longest a TLS handshake with an upstream may take.
    public let handshakeTimeout: TimeAmount
    public let selfTest: SelfTestRoutes?

    public init(
        resolve: [Authority: Authority],
        tlsContext: NIOSSLContext,
        connectTimeout: TimeAmount = .seconds(10),
        handshakeTimeout: TimeAmount = .seconds(15),
        selfTest: SelfTestRoutes? = nil
    ) {
        self.resolve = resolve
        self.tlsContext = tlsContext
        self.connectTimeout = connectTimeout
        self.handshakeTimeout = handshakeTimeout
        self.selfTest = selfTest
    }

    public func connect(to authority: Authority, tls: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        var target = self.resolve[authority] ?? authority
        var context = self.tlsContext
        if SelfTestRoutes.isSelfTest(authority) {
            guard let selfTest = self.selfTest, let port = selfTest.port(for: authority) else {
                return eventLoop.makeFailedFuture(UnknownSelfTestHost(authority: authority))
            }
            target = Authority(host: "127.0.0.1", port: port)
            do {
                context = try selfTest.tlsContext()
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
        }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(self.connectTimeout)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
        let connected = bootstrap.connect(host: target.host, port: target.port)
        guard tls else { return connected }
        let handshakeTimeout = self.handshakeTimeout
        return connected.flatMap { channel in
            let handshake = channel.eventLoop.makePromise(of: Void.self)
            do {
                // An IP literal goes without SNI; NIOSSL then checks the certificate against the peer address.
                let serverHostname = authority.isIPAddress ? nil : authority.host
                let ssl = try NIOSSLClientHandler(context: context, serverHostname: serverHostname)
                try channel.pipeline.syncOperations.addHandler(ssl)
                try channel.pipeline.syncOperations.addHandler(HandshakeWatcher(promise: handshake, timeout: handshakeTimeout))
            } catch {
                channel.close(promise: nil)
                return channel.eventLoop.makeFailedFuture(error)
            }
            return handshake.futureResult.map { channel }.flatMapError { error in
                channel.close(promise: nil)
                return channel.eventLoop.makeFailedFuture(error)
            }
        }
    }
}

extension Authority {
    /// Whether the host is an IPv4 or IPv6 literal.
    var isIPAddress: Bool {
        if self.isIPv6 { return true }
        let parts = self.host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }
}

/// Completes a promise when the TLS handshake finishes (or fails, or takes longer than `timeout`), then leaves
/// the pipeline.
final class HandshakeWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private var promise: EventLoopPromise<Void>?
    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(promise: EventLoopPromise<Void>, timeout: TimeAmount) {
        self.promise = promise
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.timer = context.eventLoop.assumeIsolated().scheduleTask(in: self.timeout) {
            guard let promise = self.promise else { return }
            self.promise = nil
            promise.fail(HandshakeTimeout())
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            self.promise?.succeed(())
            self.promise = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let promise = self.promise {
            self.promise = nil
            promise.fail(error)
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let promise = self.promise {
            self.promise = nil
            promise.fail(ChannelError.eof)
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
        if let promise = self.promise {
            self.promise = nil
            promise.fail(ChannelError.ioOnClosedChannel)
        }
    }
}

@available(*, unavailable)
extension HandshakeWatcher: Sendable {}

/// A TLS handshake did not finish in time.
struct HandshakeTimeout: Error, CustomStringConvertible {
    var description: String { "the TLS handshake timed out" }
}
