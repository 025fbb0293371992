import KeyholeCore
import NIOCore
import NIOHTTP1
import NIOSSL

/// The far end of a forwarded exchange: sits on the upstream connection, hands response parts to its
/// ``ForwardingHandler`` and reads only while the client can take more.
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private weak var owner: ForwardingHandler?
    let authority: Authority
    let channel: any Channel
    var codec: ClientCodecHandlers?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var closed = false
    private var willClose = false

    init(owner: ForwardingHandler, authority: Authority, channel: any Channel) {
        self.owner = owner
        self.authority = authority
        self.channel = channel
    }

    var isWritable: Bool { self.channel.isWritable }

    func isReusable(for authority: Authority) -> Bool {
        !self.closed && !self.willClose && self.channel.isActive && self.authority == authority
    }

    func write(_ part: HTTPClientRequestPart) {
        self.context?.write(self.wrapOutboundOut(part), promise: nil)
    }

    func flush() {
        self.context?.flush()
    }

    func close() {
        guard !self.closed else { return }
        self.closed = true
        self.channel.close(promise: nil)
    }

    func resumeReading() {
        if self.pendingRead, let context = self.context {
            self.pendingRead = false
            context.read()
        }
    }

    /// Hands the connection over to a byte tunnel (after a protocol upgrade).
    func detach(replacingWith glue: GlueHandler) throws {
        guard let context = self.context else { throw ChannelError.ioOnClosedChannel }
        let pipeline = context.pipeline.syncOperations
        try pipeline.addHandler(glue, position: .after(self))
        self.closed = true
        pipeline.removeHandler(context: context, promise: nil)
        self.codec?.remove(from: pipeline)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = self.unwrapInboundIn(data)
        if case .head(let head) = part, head.status.code >= 200, !head.isKeepAlive {
            self.willClose = true
        }
        self.owner?.upstreamRead(part)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.owner?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if self.owner?.clientIsWritable ?? true {
            context.read()
        } else {
            self.pendingRead = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.owner?.upstreamWritabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed = true
        self.owner?.upstreamClosed(self, error: nil)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            // The server closed its side (FIN, or TLS close_notify after its idle timeout). The response decoder
            // has already delivered the end of a response framed by the close; the connection is of no more use.
            self.closed = true
            context.close(promise: nil)
            self.owner?.upstreamClosed(self, error: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? NIOSSLError, case .uncleanShutdown = error {
            // A server that closes without close_notify, as many do: handled as the end of input that follows.
            return
        }
        self.closed = true
        self.owner?.upstreamClosed(self, error: error)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension UpstreamHandler: Sendable {}
