import Logging
import NIOCore

/// Hands each decoded request line of one control connection to the task that serves it, and tells that
/// task when no more lines will come (the peer closed, half-closed, or the connection failed).
///
/// A peer that pipelines more than `maximumPendingLines` requests without reading the answers is
/// disconnected, so a connection cannot make the daemon buffer without bound.
final class ControlConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    static let maximumPendingLines = 64

    private let lines: AsyncStream<[UInt8]>.Continuation
    private let logger: Logger

    init(lines: AsyncStream<[UInt8]>.Continuation, logger: Logger) {
        self.lines = lines
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = Self.unwrapInboundIn(data)
        switch self.lines.yield(Array(buffer: line)) {
        case .enqueued, .terminated:
            break
        case .dropped:
            self.logger.notice("closing a control connection that sent too many requests without reading the answers")
            self.lines.finish()
            context.close(promise: nil)
        @unknown default:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            // Half-closed by the peer: answer what was asked, then the serving task closes.
            self.lines.finish()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.lines.finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.lines.finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is ControlLineDecoder.LineTooLongError {
            self.logger.notice("closing a control connection that sent a line over 1 MiB")
        } else {
            self.logger.debug("control connection failed", metadata: ["error": "\(error)"])
        }
        self.lines.finish()
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ControlConnectionHandler: Sendable {}
