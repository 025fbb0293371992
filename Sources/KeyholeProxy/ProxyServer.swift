import KeyholeCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The loopback proxy listener. The only place in the proxy that binds sockets.
public final class ProxyServer: Sendable {
    private let dependencies: ProxyDependencies
    private let group: any EventLoopGroup
    private let channel: any Channel
    private let connections: ConnectionCounter

    /// The address actually bound (the port is chosen by the kernel when 0 was asked for).
    public var localAddress: SocketAddress? { self.channel.localAddress }

    /// Client connections open now.
    public var openConnections: Int { self.connections.current }

    private init(dependencies: ProxyDependencies, group: any EventLoopGroup, channel: any Channel, connections: ConnectionCounter) {
        self.dependencies = dependencies
        self.group = group
        self.channel = channel
        self.connections = connections
    }

    /// How long accepting pauses after `accept` failed (EMFILE, ENFILE, ENOBUFS): long enough not to spin a core
    /// while the process is out of descriptors, short enough that people do not notice.
    static let acceptBackoff: TimeAmount = .milliseconds(200)

    /// Binds `host:port` (callers ensure it is a loopback address) and starts accepting.
    public static func start(
        host: String,
        port: Int,
        group: any EventLoopGroup,
        dependencies: ProxyDependencies
    ) async throws -> ProxyServer {
        let connections = ConnectionCounter(limit: dependencies.limits.maxConnections)
        let logger = dependencies.logger
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AcceptBackoffHandler(shouldForwardIOErrorCaught: false) { error in
                            logger.warning("accept failed; pausing", metadata: ["error": "\(error)"])
                            return ProxyServer.acceptBackoff
                        }
                    )
                }
            }
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard connections.open() else {
                        logger.warning(
                            "connection refused: too many open connections",
                            metadata: ["limit": "\(connections.limit)"]
                        )
                        channel.close(promise: nil)
                        return
                    }
                    channel.closeFuture.whenComplete { _ in connections.close() }
                    try ProxyServer.configure(channel: channel, dependencies: dependencies)
                }
            }
            .bind(host: host, port: port)
            .get()
        return ProxyServer(dependencies: dependencies, group: group, channel: channel, connections: connections)
    }

    /// Sets up a new client connection: HTTP codec and the front handler.
    static func configure(channel: any Channel, dependencies: ProxyDependencies) throws {
        if let admit = dependencies.admitPeer, !admit(channel) {
            channel.close(promise: nil)
            return
        }
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

/// Counts open client connections against the cap.
final class ConnectionCounter: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    var current: Int { self.count.load(ordering: .relaxed) }

    /// Takes a slot; false when all `limit` are taken.
    func open() -> Bool {
        while true {
            let now = self.count.load(ordering: .relaxed)
            guard now < self.limit else { return false }
            if self.count.compareExchange(expected: now, desired: now + 1, ordering: .relaxed).exchanged {
                return true
            }
        }
    }

    func close() {
        self.count.subtract(1, ordering: .relaxed)
    }
}
