import KeyholeCore
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS

/// The first handler of every client connection. It authenticates the session, then decides what the
/// connection becomes: a byte tunnel (CONNECT to a host no credential of the session is scoped to), an
/// intercepted TLS connection (CONNECT to a scoped host), or plain-HTTP forwarding (absolute-form requests).
/// It then rebuilds the pipeline and leaves.
final class ProxyFrontHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        /// Waiting for an upstream tunnel or the host's certificate; reads are held.
        case connecting(Authority)
        case done
    }

    private let dependencies: ProxyDependencies
    private let codec: ServerCodecHandlers
    private var state: State = .idle
    private var pendingRead = false
    /// The CONNECT's `.end` has been read: the HTTP decoder holds nothing more of the request.
    private var connectEnded = false
    /// The pipeline change to make once the CONNECT has ended.
    private var whenEnded: (() -> Void)?
    /// An upstream tunnel connected but not yet joined: closed if the client goes away first.
    private var pendingUpstream: (any Channel)?
    /// Closes a connection whose first request head has not been handled in time (before proxy authentication,
    /// so anyone who can connect could otherwise hold connections open forever).
    private var headTimer: Scheduled<Void>?

    init(dependencies: ProxyDependencies, codec: ServerCodecHandlers) {
        self.dependencies = dependencies
        self.codec = codec
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.headTimer = context.eventLoop.assumeIsolated().scheduleTask(
            in: .seconds(Int64(self.dependencies.limits.requestHeadSeconds))
        ) {
            self.dependencies.logger.debug("closing a connection that sent no complete request in time")
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.headTimer?.cancel()
        self.headTimer = nil
        self.whenEnded = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.state = .done
        self.whenEnded = nil
        self.pendingUpstream?.close(promise: nil)
        self.pendingUpstream = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            // The client stopped sending before its request was handled: nothing more can come.
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.dependencies.logger.debug("client connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    private var isClosed: Bool {
        if case .done = self.state { return true }
        return false
    }

    func read(context: ChannelHandlerContext) {
        if case .idle = self.state {
            context.read()
        } else {
            self.pendingRead = true
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = self.unwrapInboundIn(data)
        switch self.state {
        case .connecting, .done:
            // The `.end` of a CONNECT; anything else after it is a protocol error the decoder reports.
            if case .end = part {
                self.connectEnded = true
                if let action = self.whenEnded {
                    self.whenEnded = nil
                    self.defer(action, context: context)
                }
            }
            return
        case .idle:
            break
        }
        guard case .head(let head) = part else { return }

        guard head.method == .CONNECT else {
            // Plain HTTP: hand the connection to a forwarding handler and replay this head into it.
            self.state = .done
            let forwarding = ForwardingHandler(mode: .plain, dependencies: self.dependencies, codec: self.codec)
            do {
                try context.pipeline.syncOperations.addHandler(forwarding, position: .after(self))
                context.fireChannelRead(data)
                context.pipeline.syncOperations.removeHandler(self, promise: nil)
            } catch {
                context.close(promise: nil)
            }
            return
        }

        guard let authority = Authority(parsing: head.uri, defaultPort: nil) else {
            self.refuse(context: context, status: .badRequest, message: "keyhole: CONNECT needs host:port.")
            return
        }
        guard let token = ProxyAuthorization.token(in: head.headers),
            let session = self.dependencies.sessions.session(forToken: token)
        else {
            self.audit(authority: authority, sessionID: "-", decision: .denyAuth, status: 407)
            self.refuse(
                context: context, status: .proxyAuthenticationRequired, message: ProxyResponder.authenticationRequired,
                extraHeaders: [ProxyResponder.proxyAuthenticate]
            )
            return
        }

        self.state = .connecting(authority)
        switch session.connectDecision(for: authority) {
        case .tunnel:
            self.openTunnel(to: authority, session: session, context: context)
        case .intercept:
            self.intercept(authority: authority, token: token, session: session, context: context)
        }
    }

    // MARK: Tunnel

    private func openTunnel(to authority: Authority, session: ProxySession, context: ChannelHandlerContext) {
        let started = NIODeadline.now()
        self.dependencies.connector.connect(to: authority, tls: false, on: context.eventLoop)
            .hop(to: context.eventLoop)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    guard !self.isClosed else { return }
                    let reason = UpstreamFailure.describe(error)
                    self.audit(authority: authority, sessionID: session.id, decision: .tunnel, status: 502, reason: reason)
                    self.refuse(context: context, status: .badGateway, message: "keyhole: could not reach \(authority): \(reason).")
                case .success(let upstream):
                    guard !self.isClosed else {
                        upstream.close(promise: nil)
                        return
                    }
                    self.pendingUpstream = upstream
                    self.afterConnectEnded({
                        self.pendingUpstream = nil
                        self.joinTunnel(upstream, authority: authority, session: session, started: started, context: context)
                    }, context: context)
                }
            }
    }

    private func joinTunnel(_ upstream: any Channel, authority: Authority, session: ProxySession, started: NIODeadline, context: ChannelHandlerContext) {
                    let audit = self.dependencies.audit
                    let (clientGlue, upstreamGlue) = GlueHandler.matchedPair { up, down in
                        audit(
                            AuditEvent(
                                session: session.id, method: "CONNECT", host: authority.description, path: "",
                                credential: nil, decision: .tunnel, status: 200, bytesUp: up, bytesDown: down,
                                ms: Int((NIODeadline.now() - started).nanoseconds / 1_000_000), reason: nil
                            )
                        )
                    }
                    do {
                        try upstream.pipeline.syncOperations.addHandler(upstreamGlue)
                        self.writeEstablished(context: context)
                        try self.replace(with: [self.tunnelIdleHandler(), clientGlue], context: context)
                    } catch {
                        upstream.close(promise: nil)
                        context.close(promise: nil)
                    }
    }

    // MARK: Intercept

    private func intercept(authority: Authority, token: String, session: ProxySession, context: ChannelHandlerContext) {
        let dependencies = self.dependencies
        dependencies.serverContext(authority.host, context.eventLoop)
            .hop(to: context.eventLoop)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    guard !self.isClosed else { return }
                    dependencies.logger.error("could not mint a certificate", metadata: ["host": "\(authority.host)", "error": "\(error)"])
                    self.refuse(context: context, status: .badGateway, message: "keyhole: could not prepare a certificate for \(authority.host).")
                case .success(let sslContext):
                    self.afterConnectEnded({ self.startTLS(sslContext, authority: authority, token: token, session: session, context: context) }, context: context)
                }
            }
    }

    private func startTLS(_ sslContext: NIOSSLContext, authority: Authority, token: String, session: ProxySession, context: ChannelHandlerContext) {
                    let dependencies = self.dependencies
                    let innerCodec = ServerCodecHandlers()
                    let forwarding = ForwardingHandler(
                        mode: .intercepted(authority: authority, token: token), dependencies: dependencies, codec: innerCodec
                    )
                    let eventLoop = context.eventLoop
                    let channel = context.channel
                    let sni = ByteToMessageHandler(
                        SNIHandler { result in
                            switch result {
                            case .hostname(let name) where Authority.normalize(host: name) != authority.host:
                                dependencies.audit(
                                    AuditEvent(
                                        session: session.id, method: "CONNECT", host: authority.description, path: "",
                                        credential: nil, decision: .denyHost, status: nil, bytesUp: 0, bytesDown: 0,
                                        ms: 0, reason: "TLS SNI names another host"
                                    )
                                )
                                channel.close(promise: nil)
                                return eventLoop.makeFailedFuture(SNIMismatch())
                            case .hostname, .fallback:
                                return eventLoop.makeSucceededVoidFuture()
                            }
                        }
                    )
                    do {
                        self.writeEstablished(context: context)
                        let ssl = NIOSSLServerHandler(context: sslContext)
                        let deadline = HandshakeDeadlineHandler(timeout: .seconds(Int64(dependencies.limits.handshakeSeconds)))
                        try self.replace(
                            with: [sni, ssl, deadline, innerCodec.encoder, innerCodec.decoder, forwarding], context: context
                        )
                    } catch {
                        context.close(promise: nil)
                    }
    }

    // MARK: Helpers

    /// Ends a tunnel in which no byte has moved either way for the configured time.
    private func tunnelIdleHandler() -> TunnelIdleHandler {
        TunnelIdleHandler(timeout: .seconds(Int64(self.dependencies.limits.tunnelIdleSeconds)))
    }

    /// Runs a pipeline change after the CONNECT has been fully read, and outside the decoder's read loop
    /// (a cached certificate completes at once, while the decoder is still delivering the request).
    private func afterConnectEnded(_ action: @escaping () -> Void, context: ChannelHandlerContext) {
        if self.connectEnded {
            self.defer(action, context: context)
        } else {
            self.whenEnded = action
        }
    }

    private func `defer`(_ action: @escaping () -> Void, context: ChannelHandlerContext) {
        context.eventLoop.assumeIsolated().execute(action)
    }

    /// Answers the CONNECT. The response goes out as raw bytes after the HTTP encoder has left the pipeline, so
    /// that no framing (Content-Length, chunked) follows it: the next bytes belong to the tunnel.
    private func writeEstablished(context: ChannelHandlerContext) {
        context.pipeline.syncOperations.removeHandler(self.codec.encoder, promise: nil)
        let response = ByteBuffer(string: "HTTP/1.1 200 Connection established\r\n\r\n")
        context.writeAndFlush(NIOAny(response), promise: nil)
    }

    /// Puts `handlers` where the HTTP codec and this handler were. The decoder's buffered bytes (a ClientHello
    /// sent early) flow into the first of them.
    private func replace(with handlers: [any ChannelHandler], context: ChannelHandlerContext) throws {
        let pipeline = context.pipeline.syncOperations
        try pipeline.addHandlers(handlers, position: .after(self))
        self.state = .done
        pipeline.removeHandler(self, promise: nil)
        pipeline.removeHandler(self.codec.decoder, promise: nil)
        if self.pendingRead {
            self.pendingRead = false
            context.channel.read()
        }
    }

    private func refuse(
        context: ChannelHandlerContext, status: HTTPResponseStatus, message: String, extraHeaders: [(String, String)] = []
    ) {
        self.state = .done
        ProxyResponder.respond(
            context: context, status: status, message: message, extraHeaders: extraHeaders, wrap: self.wrapOutboundOut
        )
    }

    private func audit(authority: Authority, sessionID: String, decision: AuditDecision, status: Int?, reason: String? = nil) {
        self.dependencies.audit(
            AuditEvent(
                session: sessionID, method: "CONNECT", host: authority.description, path: "", credential: nil,
                decision: decision, status: status, bytesUp: 0, bytesDown: 0, ms: 0, reason: reason
            )
        )
    }
}

struct SNIMismatch: Error, CustomStringConvertible {
    var description: String { "the TLS ClientHello names another host than the CONNECT authority" }
}

@available(*, unavailable)
extension ProxyFrontHandler: Sendable {}
