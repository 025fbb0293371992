import NIOCore

/// Joins two channels into a byte tunnel: whatever one reads the other writes, flushes and half-closes follow,
/// and each side reads only while its partner is writable, so a slow peer slows the fast one instead of
/// filling memory (swift-nio-examples' connect-proxy).
final class GlueHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    /// Bytes this side has read (and handed to its partner).
    private(set) var bytesRead: Int64 = 0
    /// Called once, when the first of the two channels closes, with (bytes read by first, by second).
    private var onClose: ((Int64, Int64) -> Void)?
    private let isFirst: Bool

    private init(isFirst: Bool, onClose: ((Int64, Int64) -> Void)?) {
        self.isFirst = isFirst
        self.onClose = onClose
    }

    /// A matched pair. Both must live on the same event loop.
    static func matchedPair(onClose: ((_ firstRead: Int64, _ secondRead: Int64) -> Void)? = nil) -> (GlueHandler, GlueHandler) {
        let first = GlueHandler(isFirst: true, onClose: onClose)
        let second = GlueHandler(isFirst: false, onClose: onClose)
        first.partner = second
        second.partner = first
        return (first, second)
    }

    private func reportClose() {
        guard let onClose = self.onClose else { return }
        let partner = self.partner
        self.onClose = nil
        partner?.onClose = nil
        let mine = self.bytesRead
        let theirs = partner?.bytesRead ?? 0
        if self.isFirst { onClose(mine, theirs) } else { onClose(theirs, mine) }
    }

    private func partnerWrite(_ buffer: ByteBuffer) {
        self.context?.write(NIOAny(buffer), promise: nil)
    }

    private func partnerFlush() {
        self.context?.flush()
    }

    private func partnerWriteEOF() {
        self.context?.close(mode: .output, promise: nil)
    }

    private func partnerCloseFull() {
        self.context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if self.pendingRead {
            self.pendingRead = false
            self.context?.read()
        }
    }

    private var partnerWritable: Bool {
        self.context?.channel.isWritable ?? false
    }
}

extension GlueHandler: ChannelDuplexHandler {
    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Drop the partner (swift-nio-examples' connect-proxy does the same): the pair references each other, and
        // a pair that outlives its channels is a leak per tunnel.
        self.context = nil
        self.partner = nil
        self.onClose = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        self.bytesRead += Int64(buffer.readableBytes)
        self.partner?.partnerWrite(buffer)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.reportClose()
        self.partner?.partnerCloseFull()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            // We have read EOF.
            self.partner?.partnerWriteEOF()
        }
        if event is IdleStateHandler.IdleStateEvent {
            // No byte either way for the tunnel's idle time: end both sides.
            self.reportClose()
            self.partner?.partnerCloseFull()
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.partner?.partnerCloseFull()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.partner?.partnerBecameWritable()
        }
    }

    func read(context: ChannelHandlerContext) {
        if let partner = self.partner, partner.partnerWritable {
            context.read()
        } else {
            self.pendingRead = true
        }
    }
}

@available(*, unavailable)
extension GlueHandler: Sendable {}
