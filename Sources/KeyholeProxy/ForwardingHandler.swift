import KeyholeCore
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// Handles the HTTP requests of one client connection once the proxy knows where they go: inside an
/// intercepted CONNECT (TLS terminated with the host's leaf certificate) or as plain `http://` absolute-form
/// requests. For each request it decides (forward, swap, inject, refuse), resolves the secrets it needs, rewrites
/// the head, and streams the body both ways over a kept-alive upstream connection, reading from one side only
/// while the other can take the bytes.
final class ForwardingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    enum Mode {
        /// Requests inside a CONNECT to `authority`, authenticated when the tunnel was opened.
        case intercepted(authority: Authority, token: String)
        /// Plain-HTTP absolute-form requests, each authenticated by its own `Proxy-Authorization`.
        case plain
    }

    private enum State {
        case idle
        /// Reading a whole request body to hash it before an AWS request can be re-signed.
        case collecting(Exchange, AWSBodyCollector)
        /// Resolving secrets or connecting upstream; the request's parts wait in `queue`.
        case preparing(Exchange)
        /// The head went upstream; body parts follow as they are read; the response flows back.
        case forwarding(Exchange, UpstreamHandler)
        /// A 101 turned the connection into a byte tunnel; this handler is leaving the pipeline.
        case upgraded
        case closed
    }

    private let mode: Mode
    private let dependencies: ProxyDependencies
    private let codec: ServerCodecHandlers
    private var state: State = .idle
    private var queue = CircularBuffer<HTTPServerRequestPart>()
    private var upstream: UpstreamHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    /// The client half-closed: finish what it sent, then close.
    private var clientInputClosed = false
    /// Closes the connection when no request arrives for the idle time (between requests only).
    private var idleTimer: Scheduled<Void>?
    /// Answers 504 when the upstream sends no response head in time after the request was sent.
    private var responseTimer: Scheduled<Void>?
    /// Ends an exchange in which no byte has moved either way for the tunnel idle time (a response body that
    /// stalls forever, a request body that never ends).
    private var stallTimer: Scheduled<Void>?
    private var lastActivity = NIODeadline.uptimeNanoseconds(0)
    private var logger: Logger { self.dependencies.logger }
    private var limits: ProxyLimits { self.dependencies.limits }

    init(mode: Mode, dependencies: ProxyDependencies, codec: ServerCodecHandlers) {
        self.mode = mode
        self.dependencies = dependencies
        self.codec = codec
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.armIdleTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.cancelTimers()
        self.context = nil
    }

    private func cancelTimers() {
        self.idleTimer?.cancel()
        self.idleTimer = nil
        self.responseTimer?.cancel()
        self.responseTimer = nil
        self.stallTimer?.cancel()
        self.stallTimer = nil
    }

    /// Watches an exchange for a stall: checks at the tunnel idle time after the last byte either way (while the
    /// request goes upstream, and while keyhole reads a body it must hash before it can re-sign the request).
    private func armStallTimer(_ exchange: Exchange, after delay: TimeAmount? = nil) {
        self.stallTimer?.cancel()
        guard let context = self.context else { return }
        let limit = TimeAmount.seconds(Int64(self.limits.tunnelIdleSeconds))
        self.stallTimer = context.eventLoop.assumeIsolated().scheduleTask(in: delay ?? limit) {
            self.stallTimer = nil
            let current: Exchange
            switch self.state {
            case .forwarding(let exchange, _), .collecting(let exchange, _): current = exchange
            default: return
            }
            guard current === exchange, let context = self.context else { return }
            let quiet = context.eventLoop.now - self.lastActivity
            guard quiet >= limit else {
                self.armStallTimer(exchange, after: limit - quiet)
                return
            }
            exchange.reason = "no data either way for \(self.limits.tunnelIdleSeconds) s"
            exchange.decision = .error
            exchange.responseEnded = true
            self.dependencies.audit(exchange.auditEvent())
            self.closeBoth(context: context)
        }
    }

    private func armIdleTimer() {
        self.idleTimer?.cancel()
        guard let context = self.context else { return }
        self.idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(Int64(self.limits.idleSeconds))) {
            guard case .idle = self.state, let context = self.context else { return }
            self.logger.debug("closing an idle client connection")
            self.state = .closed
            self.upstream?.close()
            self.upstream = nil
            context.close(promise: nil)
        }
    }

    private func armResponseTimer(_ exchange: Exchange) {
        self.responseTimer?.cancel()
        guard let context = self.context else { return }
        self.responseTimer = context.eventLoop.assumeIsolated().scheduleTask(
            in: .seconds(Int64(self.limits.responseHeadSeconds))
        ) {
            guard case .forwarding(let current, _) = self.state, current === exchange, !exchange.responseHeadSent,
                let context = self.context
            else { return }
            self.refuse(
                context: context, exchange: exchange, status: .gatewayTimeout, decision: .error,
                message: "keyhole: \(exchange.authority) sent no response within \(self.limits.responseHeadSeconds) s.",
                reason: "upstream response timed out"
            )
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, case .inputClosed = event else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // The client sends nothing more. A request it finished is still answered; a request cut short is not
        // sent on, and an idle connection ends now.
        self.clientInputClosed = true
        let queued = self.queue.contains { if case .end = $0 { return true } else { return false } }
        switch self.state {
        case .idle:
            self.drive()
        case .preparing(let exchange), .collecting(let exchange, _), .forwarding(let exchange, _):
            if !exchange.requestEnded && !queued {
                exchange.reason = "client closed the connection mid-request"
                exchange.decision = .error
                self.dependencies.audit(exchange.auditEvent())
                exchange.responseEnded = true
                self.closeBoth(context: context)
            }
        case .upgraded:
            // The glue that takes over after the 101 needs to know (it half-closes the upstream).
            context.fireUserInboundEventTriggered(event)
        case .closed:
            break
        }
    }

    /// Ends the exchange at once: both connections close.
    private func closeBoth(context: ChannelHandlerContext) {
        self.state = .closed
        self.cancelTimers()
        self.upstream?.close()
        self.upstream = nil
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.lastActivity = context.eventLoop.now
        self.queue.append(self.unwrapInboundIn(data))
        self.drive()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.upstream?.flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if self.mayRead {
            context.read()
        } else {
            self.pendingRead = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.upstream?.resumeReading()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch self.state {
        case .preparing(let exchange), .forwarding(let exchange, _), .collecting(let exchange, _):
            if !exchange.responseEnded {
                exchange.reason = exchange.reason ?? "client closed the connection"
                self.dependencies.audit(exchange.auditEvent())
            }
        case .idle, .upgraded, .closed:
            break
        }
        self.state = .closed
        self.upstream?.close()
        self.upstream = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("client connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    /// Whether reading from the client may go on: only between requests, or while a request body streams to an
    /// upstream that can take it.
    private var mayRead: Bool {
        guard self.queue.count < 16 else { return false }
        switch self.state {
        case .idle, .collecting:
            return true
        case .forwarding(let exchange, let upstream):
            return !exchange.requestEnded && upstream.isWritable
        case .preparing, .upgraded, .closed:
            return false
        }
    }

    private func resumeReadingIfPossible() {
        guard self.pendingRead, self.mayRead, let context = self.context else { return }
        self.pendingRead = false
        context.read()
    }

    // MARK: The request loop

    /// Processes queued parts as far as the state allows.
    private func drive() {
        while let context = self.context {
            switch self.state {
            case .idle:
                guard let part = self.queue.popFirst() else {
                    if self.clientInputClosed {
                        self.closeBoth(context: context)
                        return
                    }
                    self.resumeReadingIfPossible()
                    return
                }
                guard case .head(let head) = part else {
                    // Body or end without a head: the rest of a refused request. Drop it.
                    continue
                }
                self.start(head, context: context)
            case .forwarding(let exchange, let upstream):
                guard !exchange.requestEnded else {
                    return
                }
                guard let part = self.queue.popFirst() else {
                    self.resumeReadingIfPossible()
                    return
                }
                switch part {
                case .head:
                    preconditionFailure("request head while the previous request body was streaming")
                case .body(let buffer):
                    exchange.bytesUp += Int64(buffer.readableBytes)
                    if exchange.heldBody == nil {
                        // A streamed body is gone once sent: the request can no longer be replayed.
                        exchange.replayable = false
                    }
                    if exchange.chunkResigner != nil {
                        do {
                            let bytes = try exchange.chunkResigner!.feed(Array(buffer.readableBytesView))
                            if !bytes.isEmpty {
                                upstream.write(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes))))
                            }
                        } catch {
                            self.abortResigning(exchange, error: error, context: context)
                            return
                        }
                    } else {
                        upstream.write(.body(.byteBuffer(buffer)))
                    }
                case .end(let trailers):
                    if exchange.chunkResigner != nil {
                        do {
                            let bytes = try exchange.chunkResigner!.finish()
                            if !bytes.isEmpty {
                                upstream.write(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes))))
                            }
                        } catch {
                            self.abortResigning(exchange, error: error, context: context)
                            return
                        }
                    }
                    exchange.requestEnded = true
                    upstream.write(.end(trailers))
                    upstream.flush()
                    if !exchange.responseHeadSent {
                        self.armResponseTimer(exchange)
                    }
                    if exchange.responseEnded {
                        self.finish(exchange)
                    }
                }
            case .collecting(let exchange, let collector):
                guard let part = self.queue.popFirst() else {
                    self.resumeReadingIfPossible()
                    return
                }
                switch part {
                case .head:
                    preconditionFailure("request head while the previous request body was being read")
                case .body(var buffer):
                    guard collector.body.readableBytes + buffer.readableBytes <= AWSSigningPlan.bodyHashLimit else {
                        self.refuse(context: context, exchange: exchange, AWSSigningPlan.bodyTooLarge(credential: collector.resigning.key.credential))
                        return
                    }
                    collector.body.writeBuffer(&buffer)
                case .end(let trailers):
                    self.state = .preparing(exchange)
                    self.queue.prepend(.end(trailers))
                    if collector.body.readableBytes > 0 {
                        self.queue.prepend(.body(collector.body))
                        exchange.heldBody = collector.body
                    }
                    let hash = collector.body.withUnsafeReadableBytes { SigV4Resigner.payloadHash($0) }
                    self.resignAndSend(collector.head, collector.resigning, bodyHash: hash, exchange: exchange, context: context)
                }
            case .preparing, .upgraded, .closed:
                return
            }
        }
    }

    private func start(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        var head = head
        self.idleTimer?.cancel()
        self.idleTimer = nil
        // Who is asking, and where does the request go?
        let token: String?
        let authority: Authority
        var target = head.uri
        switch self.mode {
        case .intercepted(let connectAuthority, let connectToken):
            token = connectToken
            authority = connectAuthority
            // Inside the tunnel the request must name the tunnel's host, in its target and its Host header: an
            // absolute-form target naming another host would reach a virtual-host server behind this one with the
            // secret swapped in.
            let origin = AbsoluteURI.originForm(of: head.uri, method: head.method.rawValue, inTunnelTo: connectAuthority)
            let hostMatches = head.headers.first(name: "host")
                .flatMap { Authority(parsing: $0, defaultPort: connectAuthority.port) } == connectAuthority
            guard let origin, hostMatches else {
                let what = origin == nil ? "request target" : "Host header"
                self.refuse(
                    context: context, head: head, authority: connectAuthority,
                    sessionID: self.dependencies.sessions.session(forToken: connectToken)?.id ?? "-",
                    status: .misdirectedRequest, decision: .denyHost,
                    message: Refusals.misdirected(connectAuthority, what: "The \(what)"),
                    reason: "\(what) names another host"
                )
                return
            }
            target = origin
        case .plain:
            token = ProxyAuthorization.token(in: head.headers)
            guard let parsed = AbsoluteURI(head.uri) else {
                self.refuse(
                    context: context, head: head, authority: Authority(host: "-", port: 0), sessionID: "-",
                    status: .badRequest, decision: .error,
                    message: "keyhole: this is an HTTP proxy port; send absolute-form http:// requests or CONNECT. "
                        + "Run programs with `keyhole run -- CMD`."
                )
                return
            }
            authority = parsed.authority
            target = parsed.target
        }

        guard let token, let session = self.dependencies.sessions.session(forToken: token) else {
            self.refuse(
                context: context, head: head, authority: authority, sessionID: "-",
                status: .proxyAuthenticationRequired, decision: .denyAuth,
                message: ProxyResponder.authenticationRequired, extraHeaders: [ProxyResponder.proxyAuthenticate]
            )
            return
        }

        if let problem = RequestFraming.problem(normalizing: &head) {
            self.refuse(
                context: context, head: head, authority: authority, sessionID: session.id,
                status: .badRequest, decision: .error,
                message: "keyhole: the request's body framing is ambiguous (\(problem)); refused, nothing was sent. "
                    + "Send the body with Content-Length or Transfer-Encoding: chunked.",
                reason: "ambiguous framing: \(problem)"
            )
            return
        }
        var requestHead = RequestHead(head: head, target: target, authority: authority)
        let exchange = Exchange(
            sessionID: session.id, head: head, authority: authority,
            path: Placeholder.redacting(requestHead.pathWithoutQuery) { session.placeholders[String($0)] }
        )
        let cleartext = !self.upstreamUsesTLS
        switch AWSSigningPlan.make(for: requestHead, session: session, authority: authority, cleartext: cleartext) {
        case .notSigned:
            break
        case .refuse(let refusal):
            self.refuse(context: context, exchange: exchange, refusal)
            return
        case .resign(let resigning):
            exchange.credential = resigning.key.credential
            if resigning.needsBodyHash {
                // The body decides the signature: read it all (up to the limit) before anything goes upstream.
                if let index = requestHead.headers.firstIndex(where: { $0.name.lowercased() == "expect" }),
                    requestHead.headers[index].value.lowercased().contains("100-continue")
                {
                    requestHead.headers.remove(at: index)
                    context.writeAndFlush(
                        self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))),
                        promise: nil
                    )
                }
                self.state = .collecting(exchange, AWSBodyCollector(head: requestHead, resigning: resigning, allocator: context.channel.allocator))
                self.lastActivity = context.eventLoop.now
                self.armStallTimer(exchange)
            } else {
                self.state = .preparing(exchange)
                self.resignAndSend(requestHead, resigning, bodyHash: nil, exchange: exchange, context: context)
            }
            return
        }

        let rewriter = PlaceholderRewriter(session: session, authority: authority, cleartext: cleartext)
        switch rewriter.plan(requestHead) {
        case .forward:
            self.state = .preparing(exchange)
            self.connectAndSend(requestHead, exchange: exchange, context: context)
        case .denyScope(let credential):
            exchange.credential = credential
            self.refuse(
                context: context, exchange: exchange, status: .forbidden, decision: .denyScope,
                message: "keyhole: credential '\(credential)' is not allowed for host \(authority); nothing was sent. "
                    + "If this host should receive it, `keyhole rm \(credential)` and add it again with that --host "
                    + "as well.",
                reason: "credential not scoped to host"
            )
        case .denyCleartext(let credential):
            exchange.credential = credential
            self.refuse(
                context: context, exchange: exchange, status: .forbidden, decision: .denyCleartext,
                message: Refusals.cleartext(credential: credential, authority: authority),
                reason: Refusals.cleartextReason
            )
        case .denyUnknownPlaceholder:
            self.refuse(
                context: context, exchange: exchange, status: .forbidden, decision: .denyScope,
                message: "keyhole: the request carries a placeholder that belongs to no credential of this session "
                    + "(another session's, or one that ended); nothing was sent.",
                reason: "unknown placeholder"
            )
        case .rewrite(let names):
            self.state = .preparing(exchange)
            exchange.credential = names.joined(separator: ",")
            self.secrets(names, context: context).whenComplete { result in
                guard case .preparing = self.state, let context = self.context else { return }
                switch result {
                case .success(let secrets):
                    do {
                        let outcome = try rewriter.apply(requestHead, secrets: secrets)
                        requestHead = outcome.head
                        exchange.decision = outcome.swapped.isEmpty ? .inject : .swap
                        self.connectAndSend(requestHead, exchange: exchange, context: context)
                    } catch {
                        self.failClosed(context: context, exchange: exchange, reason: "\(error)")
                    }
                case .failure(let error):
                    self.failClosed(context: context, exchange: exchange, reason: "\(error)")
                }
            }
        }
    }

    /// The secrets of `names`: at once when the resolver has them in memory, else from the store off the loop.
    private func secrets(
        _ names: [String],
        context: ChannelHandlerContext
    ) -> EventLoopFuture<[String: Secret]>.Isolated {
        let resolver = self.dependencies.resolver
        var cached: [String: Secret] = [:]
        for name in names {
            if let secret = resolver.cachedSecret(for: name) { cached[name] = secret }
        }
        if cached.count == names.count {
            return context.eventLoop.makeSucceededFuture(cached).assumeIsolated()
        }
        return context.eventLoop.makeFutureWithTask {
            var secrets: [String: Secret] = [:]
            for name in names {
                secrets[name] = try await resolver.secret(for: name)
            }
            return secrets
        }.hop(to: context.eventLoop).assumeIsolated()
    }

    /// Verifies an AWS request's placeholder signature and sends it re-signed with the real keys.
    private func resignAndSend(
        _ head: RequestHead,
        _ resigning: AWSResigning,
        bodyHash: String?,
        exchange: Exchange,
        context: ChannelHandlerContext
    ) {
        let name = resigning.key.credential
        self.secrets([name], context: context).whenComplete { result in
            guard case .preparing = self.state, let context = self.context else { return }
            switch result {
            case .success(let secrets):
                guard let secret = secrets[name], let real = try? AWSCredentials(json: secret.value) else {
                    self.failClosed(context: context, exchange: exchange, reason: "the stored secret is not AWS keys JSON")
                    return
                }
                do {
                    let resigned = try resigning.resign(head, real: real, bodyHash: bodyHash)
                    exchange.decision = .resign
                    exchange.chunkResigner = resigned.chunkResigner
                    self.connectAndSend(resigned.head, exchange: exchange, context: context)
                } catch let error as SigV4Error {
                    self.refuse(context: context, exchange: exchange, Self.refusal(for: error, credential: name))
                } catch {
                    self.failClosed(context: context, exchange: exchange, reason: "\(error)")
                }
            case .failure(let error):
                self.failClosed(context: context, exchange: exchange, reason: "\(error)")
            }
        }
    }

    /// A re-signing failure in words for the client: a signature that does not verify is refused (403).
    private static func refusal(for error: SigV4Error, credential: String) -> AWSSigningPlan.Refusal {
        let status = HTTPResponseStatus(statusCode: error.httpStatus)
        let message: String
        if error.httpStatus == 403 {
            message = "keyhole: the AWS signature does not verify with this session's placeholder keys for credential "
                + "'\(credential)' (\(error)); nothing was sent. Sign with the keys `keyhole aws-credential-process` "
                + "hands out under `keyhole run`."
        } else {
            message = "keyhole: this AWS request cannot be re-signed (\(error)); nothing more was sent."
        }
        return AWSSigningPlan.Refusal(
            status: status, decision: error.httpStatus == 403 ? .denyAuth : .error, credential: credential,
            message: message, reason: "\(error)"
        )
    }

    /// A chunk of an aws-chunked body failed to verify or parse: stop the request.
    private func abortResigning(_ exchange: Exchange, error: any Error, context: ChannelHandlerContext) {
        let refusal = (error as? SigV4Error).map { Self.refusal(for: $0, credential: exchange.credential ?? "?") }
        if exchange.responseHeadSent || refusal == nil {
            exchange.reason = "\(error)"
            exchange.decision = .error
            self.dependencies.audit(exchange.auditEvent())
            self.state = .closed
            self.upstream?.close()
            self.upstream = nil
            context.close(promise: nil)
            return
        }
        self.refuse(context: context, exchange: exchange, refusal!)
    }

    private func refuse(context: ChannelHandlerContext, exchange: Exchange, _ refusal: AWSSigningPlan.Refusal) {
        if let credential = refusal.credential { exchange.credential = credential }
        self.refuse(
            context: context, exchange: exchange, status: refusal.status, decision: refusal.decision,
            message: refusal.message, reason: refusal.reason
        )
    }

    private func failClosed(context: ChannelHandlerContext, exchange: Exchange, reason: String) {
        self.refuse(
            context: context, exchange: exchange, status: .badGateway, decision: .failClosed,
            message: "keyhole: the secret of '\(exchange.credential ?? "?")' could not be resolved (\(reason)); "
                + "nothing was sent. Check `keyhole status` and unlock the store.",
            reason: reason
        )
    }

    // MARK: Upstream

    private var upstreamUsesTLS: Bool {
        if case .intercepted = self.mode { return true }
        return false
    }

    private func connectAndSend(_ head: RequestHead, exchange: Exchange, context: ChannelHandlerContext) {
        self.connectAndSend(HTTPRequestHead(requestHead: head, version: .http1_1), exchange: exchange, context: context)
    }

    private func connectAndSend(_ nioHead: HTTPRequestHead, exchange: Exchange, context: ChannelHandlerContext) {
        if let upstream = self.upstream, upstream.isReusable(for: exchange.authority) {
            exchange.onReusedConnection = true
            self.send(nioHead, exchange: exchange, upstream: upstream)
            return
        }
        exchange.onReusedConnection = false
        self.upstream?.close()
        self.upstream = nil
        let tls = self.upstreamUsesTLS
        self.dependencies.connector.connect(to: exchange.authority, tls: tls, on: context.eventLoop)
            .hop(to: context.eventLoop)
            .assumeIsolated()
            .flatMapThrowing { channel -> UpstreamHandler in
                let handler = UpstreamHandler(owner: self, authority: exchange.authority, channel: channel)
                let codec = ClientCodecHandlers()
                try codec.add(to: channel.pipeline.syncOperations)
                try channel.pipeline.syncOperations.addHandler(handler)
                handler.codec = codec
                return handler
            }
            .whenComplete { result in
                switch result {
                case .success(let upstream):
                    guard case .preparing = self.state, self.context != nil else {
                        upstream.close()
                        return
                    }
                    self.upstream = upstream
                    self.send(nioHead, exchange: exchange, upstream: upstream)
                case .failure(let error):
                    guard case .preparing = self.state, let context = self.context else { return }
                    let reason = UpstreamFailure.describe(error)
                    self.refuse(
                        context: context, exchange: exchange, status: .badGateway, decision: .error,
                        message: "keyhole: could not reach \(exchange.authority) securely: \(reason). Nothing was sent.",
                        reason: reason
                    )
                }
            }
    }

    private func send(_ head: HTTPRequestHead, exchange: Exchange, upstream: UpstreamHandler) {
        self.state = .forwarding(exchange, upstream)
        self.lastActivity = self.context?.eventLoop.now ?? .now()
        self.armStallTimer(exchange)
        exchange.sentHead = head
        upstream.write(.head(head))
        if exchange.requestEnded {
            // A replay: the request was read before; what is held of it goes again.
            if let body = exchange.heldBody {
                upstream.write(.body(.byteBuffer(body)))
            }
            upstream.write(.end(nil))
            self.armResponseTimer(exchange)
        } else {
            self.drive()
        }
        upstream.flush()
    }

    /// A kept-alive upstream connection failed before any byte of the response: the server most likely closed
    /// it while idle just as the request went out. Send the request once more on a fresh connection, if all of
    /// it is still at hand. Never twice, never after a response byte.
    private func retryIfPossible(_ exchange: Exchange, context: ChannelHandlerContext) -> Bool {
        guard exchange.onReusedConnection, !exchange.retried, exchange.requestEnded, exchange.replayable,
            !exchange.responseHeadSent, !exchange.awaitingInformationalEnd, exchange.bytesDown == 0,
            let head = exchange.sentHead
        else { return false }
        exchange.retried = true
        self.responseTimer?.cancel()
        self.responseTimer = nil
        self.state = .preparing(exchange)
        self.logger.debug("retrying a request on a fresh upstream connection", metadata: ["host": "\(exchange.authority)"])
        self.connectAndSend(head, exchange: exchange, context: context)
        return true
    }

    // MARK: Called by the upstream handler

    func upstreamRead(_ part: HTTPClientResponsePart) {
        self.lastActivity = self.context?.eventLoop.now ?? .now()
        guard case .forwarding(let exchange, _) = self.state, let context = self.context else { return }
        switch part {
        case .head(let head):
            self.responseTimer?.cancel()
            self.responseTimer = nil
            if head.status == .switchingProtocols, !exchange.askedToUpgrade {
                // A switch nobody asked for (RFC 9110 §15.2.2): the bytes that follow are not a protocol keyhole
                // agreed to pass through.
                self.refuse(
                    context: context, exchange: exchange, status: .badGateway, decision: .error,
                    message: "keyhole: \(exchange.authority) switched protocols without being asked to; refused.",
                    reason: "unrequested 101"
                )
                return
            }
            if head.status == .switchingProtocols {
                exchange.status = 101
                exchange.responseHeadSent = true
                context.write(self.wrapOutboundOut(.head(head)), promise: nil)
                context.flush()
                // Rewire outside the upstream decoder's read loop, which is delivering this head.
                self.state = .upgraded
                context.eventLoop.assumeIsolated().execute {
                    guard let context = self.context else { return }
                    self.upgrade(exchange: exchange, context: context)
                }
                return
            }
            if head.status.code < 200 {
                exchange.awaitingInformationalEnd = true
            } else {
                exchange.status = Int(head.status.code)
                exchange.responseHeadSent = true
                exchange.upstreamWillClose = !head.isKeepAlive
            }
            var head = head
            if !exchange.clientKeepAlive {
                head.headers.replaceOrAdd(name: "Connection", value: "close")
            }
            context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        case .body(let buffer):
            exchange.bytesDown += Int64(buffer.readableBytes)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            if exchange.awaitingInformationalEnd {
                exchange.awaitingInformationalEnd = false
                context.flush()
                return
            }
            exchange.responseEnded = true
            context.writeAndFlush(self.wrapOutboundOut(.end(trailers)), promise: nil)
            if exchange.requestEnded {
                self.finish(exchange)
            }
        }
    }

    func upstreamReadComplete() {
        self.context?.flush()
    }

    var clientIsWritable: Bool {
        self.context?.channel.isWritable ?? false
    }

    func upstreamWritabilityChanged() {
        self.resumeReadingIfPossible()
    }

    func upstreamClosed(_ upstream: UpstreamHandler, error: (any Error)?) {
        guard upstream === self.upstream else { return }
        self.upstream = nil
        guard case .forwarding(let exchange, _) = self.state, let context = self.context else { return }
        if exchange.responseEnded { return }
        if self.retryIfPossible(exchange, context: context) { return }
        let reason = error.map { UpstreamFailure.describe($0) } ?? "upstream closed the connection"
        if exchange.responseHeadSent {
            exchange.reason = reason
            self.dependencies.audit(exchange.auditEvent())
            self.closeBoth(context: context)
        } else {
            self.refuse(
                context: context, exchange: exchange, status: .badGateway, decision: exchange.decision,
                message: "keyhole: \(exchange.authority) closed the connection before answering: \(reason).",
                reason: reason
            )
        }
    }

    /// Both directions of an exchange are done: audit it and take the next request.
    private func finish(_ exchange: Exchange) {
        self.dependencies.audit(exchange.auditEvent())
        if exchange.upstreamWillClose {
            self.upstream?.close()
            self.upstream = nil
        }
        self.responseTimer?.cancel()
        self.responseTimer = nil
        self.stallTimer?.cancel()
        self.stallTimer = nil
        guard exchange.clientKeepAlive else {
            self.state = .closed
            self.context?.close(promise: nil)
            return
        }
        self.state = .idle
        self.armIdleTimer()
        self.drive()
    }

    // MARK: Refusals and upgrades

    private func refuse(
        context: ChannelHandlerContext,
        head: HTTPRequestHead,
        authority: Authority,
        sessionID: String,
        status: HTTPResponseStatus,
        decision: AuditDecision,
        message: String,
        reason: String? = nil,
        extraHeaders: [(String, String)] = []
    ) {
        let exchange = Exchange(
            sessionID: sessionID, head: head, authority: authority,
            path: RequestHead.path(of: head.uri)
        )
        self.refuse(
            context: context, exchange: exchange, status: status, decision: decision, message: message,
            reason: reason, extraHeaders: extraHeaders
        )
    }

    private func refuse(
        context: ChannelHandlerContext,
        exchange: Exchange,
        status: HTTPResponseStatus,
        decision: AuditDecision,
        message: String,
        reason: String?,
        extraHeaders: [(String, String)] = []
    ) {
        exchange.decision = decision
        exchange.status = Int(status.code)
        exchange.reason = reason
        exchange.responseEnded = true
        self.dependencies.audit(exchange.auditEvent())
        self.state = .closed
        self.cancelTimers()
        self.upstream?.close()
        self.upstream = nil
        self.logger.info(
            "refused request",
            metadata: [
                "session": "\(exchange.sessionID)", "host": "\(exchange.authority)",
                "decision": "\(decision.rawValue)", "credential": "\(exchange.credential ?? "-")",
            ]
        )
        ProxyResponder.respond(
            context: context, status: status, message: message, extraHeaders: extraHeaders,
            wrap: self.wrapOutboundOut
        )
    }

    /// After `101 Switching Protocols` both connections carry raw bytes: drop the HTTP codecs and glue them.
    private func upgrade(exchange: Exchange, context: ChannelHandlerContext) {
        guard let upstream = self.upstream else {
            context.close(promise: nil)
            return
        }
        self.upstream = nil
        exchange.responseEnded = true
        let sessionAudit = self.dependencies.audit
        let (clientGlue, upstreamGlue) = GlueHandler.matchedPair { up, down in
            exchange.bytesUp += up
            exchange.bytesDown += down
            sessionAudit(exchange.auditEvent())
        }
        do {
            let clientPipeline = context.pipeline.syncOperations
            try clientPipeline.addHandler(clientGlue, position: .after(self))
            try clientPipeline.addHandler(
                TunnelIdleHandler(timeout: .seconds(Int64(self.limits.tunnelIdleSeconds))), position: .before(clientGlue)
            )
            try upstream.detach(replacingWith: upstreamGlue)
            // Leftover bytes of the request decoder flow into the glue.
            clientPipeline.removeHandler(self, promise: nil)
            self.codec.remove(from: clientPipeline)
            // Reads may have been held while the request was answered; the glue decides from now on.
            context.channel.read()
            upstream.channel.read()
        } catch {
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension ForwardingHandler: Sendable {}
