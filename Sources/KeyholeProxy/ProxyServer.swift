import KeyholeCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The loopback proxy listener. The only place in the proxy that binds sockets.
public final class ProxyServer: Sendable {
    private let dependencies: ProxyDependencies
    private let group: any EventLoopGroup
    private let channel: any Channel

    /// The address actually bound (the port is chosen by the kernel when 0 was asked for).
    public var localAddress: SocketAddress? { self.channel.localAddress }

    private init(dependencies: ProxyDependencies, group: any EventLoopGroup, channel: any Channel) {
        self.dependencies = dependencies
        self.group = group
        self.channel = channel
    }

    /// Binds `host:port` (callers ensure it is a loopback address) and starts accepting.
    public static func start(
        host: String,
        port: Int,
        group: any EventLoopGroup,
        dependencies: ProxyDependencies
    ) async throws -> ProxyServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try ProxyServer.configure(channel: channel, dependencies: dependencies)
                }
            }
            .bind(host: host, port: port)
            .get()
        return ProxyServer(dependencies: dependencies, group: group, channel: channel)
    }

    /// Sets up a new client connection: HTTP codec and the front handler.
    static func configure(channel: any Channel, dependencies: ProxyDependencies) throws {
        let codec = ServerCodecHandlers()
        let sync = channel.pipeline.syncOperations
        try codec.add(to: sync)
        try sync.addHandler(ProxyFrontHandler(dependencies: dependencies, codec: codec))
    }

    /// Stops accepting. Open connections end on their own or when the event loop group shuts down.
    public func close() async throws {
        try await self.channel.close()
    }

    public var closeFuture: EventLoopFuture<Void> { self.channel.closeFuture }
}
