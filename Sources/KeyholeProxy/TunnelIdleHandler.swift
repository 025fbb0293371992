import NIOCore

/// Sends `IdleStateHandler.IdleStateEvent.all` down the pipeline when no byte has been read or written for
/// `timeout` (the glue then ends the tunnel). Unlike NIO's `IdleStateHandler` it measures time with the event
/// loop's own clock, so it behaves the same on an `EmbeddedEventLoop` whose time a test or a fuzzer moves.
final class TunnelIdleHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let timeout: TimeAmount
    private var lastActivity = NIODeadline.uptimeNanoseconds(0)
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.lastActivity = context.eventLoop.now
        self.schedule(context: context, in: self.timeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.lastActivity = context.eventLoop.now
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.lastActivity = context.eventLoop.now
        context.write(data, promise: promise)
    }

    private func schedule(context: ChannelHandlerContext, in delay: TimeAmount) {
        self.timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            self.timer = nil
            let quiet = context.eventLoop.now - self.lastActivity
            if quiet >= self.timeout {
                context.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.all)
            } else {
                self.schedule(context: context, in: self.timeout - quiet)
            }
        }
    }
}

@available(*, unavailable)
extension TunnelIdleHandler: Sendable {}
