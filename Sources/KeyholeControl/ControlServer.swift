import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The daemon's end of the control socket: JSON lines over a Unix stream socket in a private (0700)
/// directory, the socket itself 0600. Each connection's peer is identified with `SO_PEERCRED` and closed
/// at once unless it runs as our uid. Lines are handed to the ``ControlRequestHandler`` one at a time per
/// connection and answered in order; a line over 1 MiB closes the connection.
///
/// Lifecycle: ``start()`` binds and begins serving (errors such as another daemon on the socket surface
/// here, before the daemon reports itself ready); ``run()`` waits until ``close()`` or cancellation and
/// returns once every connection has ended and its `connectionClosed` has run; ``close()`` stops
/// accepting, closes every connection and removes the socket file.
///
/// Each connection is served by its own task, which the server tracks and awaits. (The server does not use
/// NIO's async `bind`, whose accepted-but-unread channels trap when the server stops at the wrong moment.)
public final class ControlServer: Sendable {
    /// The longest request line accepted.
    public static let maximumLineLength = 1 << 20

    private enum Phase {
        case idle
        case starting
        case serving
        case closed
    }

    private struct State {
        var phase: Phase = .idle
        var serverChannel: (any Channel)?
        var socketIdentity: (device: UInt64, inode: UInt64)?
        var connections: [UInt64: any Channel] = [:]
        var tasks: [UInt64: Task<Void, Never>] = [:]
    }

    public let path: String
    private let logger: Logger
    private let handler: any ControlRequestHandler
    private let eventLoopGroup: any EventLoopGroup
    private let state = Mutex(State())
    private let nextConnectionID = Atomic<UInt64>(1)

    public init(
        path: String,
        logger: Logger,
        handler: any ControlRequestHandler,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.path = path
        self.logger = logger
        self.handler = handler
        self.eventLoopGroup = eventLoopGroup
    }

    /// Prepares the directory, replaces a stale socket, binds and starts serving. Throws ``ControlError``
    /// (e.g. `alreadyRunning`, `unsafeDirectory`). Does nothing when already started or closed.
    public func start() async throws {
        let shouldStart = self.state.withLock { state -> Bool in
            guard case .idle = state.phase else { return false }
            state.phase = .starting
            return true
        }
        guard shouldStart else { return }
        do {
            try await self.bind()
        } catch {
            self.state.withLock { state in
                if case .starting = state.phase { state.phase = .idle }
            }
            throw error
        }
    }

    /// Serves until ``close()`` is called or the task is cancelled (starting first if needed), then waits
    /// for every connection to end.
    public func run() async throws {
        try await self.start()
        let serverChannel = self.state.withLock { $0.serverChannel }
        if let serverChannel {
            await withTaskCancellationHandler {
                try? await serverChannel.closeFuture.get()
            } onCancel: {
                self.close()
            }
        }
        self.close()
        await self.waitForConnections()
    }

    /// Stops accepting, closes all connections and removes the socket file. Safe to call more than once,
    /// from any thread; ``run()`` returns once the connections are done.
    public func close() {
        let (serverChannel, connections, identity) = self.state.withLock { state in
            let result = (state.serverChannel, Array(state.connections.values), state.socketIdentity)
            state.phase = .closed
            state.connections = [:]
            state.socketIdentity = nil
            return result
        }
        serverChannel?.close(promise: nil)
        for connection in connections {
            connection.close(promise: nil)
        }
        self.removeSocketFile(identity: identity)
    }

    /// ``close()`` for async callers (e.g. a graceful-shutdown handler).
    public func shutdown() async {
        self.close()
    }

    // MARK: - Private

    private func bind() async throws {
        try ControlSocketFile.preparePrivateDirectory(for: self.path)
        try ControlSocketFile.removeStaleSocket(at: self.path)
        let ownUID = getuid()
        let serverChannel = try await ServerBootstrap(group: self.eventLoopGroup)
            .serverChannelOption(.backlog, value: 128)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                self.initialize(channel, ownUID: ownUID)
            }
            .bind(unixDomainSocketPath: self.path)
            .get()
        guard chmod(self.path, 0o600) == 0 else {
            let error = ControlSocketFile.failure(errno, path: self.path, doing: "cannot restrict the control socket")
            try? await serverChannel.close()
            throw error
        }
        let identity = ControlSocketFile.identity(of: self.path)
        let closedMeanwhile = self.state.withLock { state -> Bool in
            guard case .starting = state.phase else { return true }
            state.phase = .serving
            state.serverChannel = serverChannel
            state.socketIdentity = identity
            return false
        }
        if closedMeanwhile {
            try? await serverChannel.close()
            self.removeSocketFile(identity: identity)
            return
        }
        self.logger.info("control socket listening", metadata: ["control.path": "\(self.path)"])
    }

    /// Runs on the event loop for each accepted connection: checks the peer's uid, installs the line
    /// decoder and starts the task that serves the connection.
    private func initialize(_ channel: any Channel, ownUID: uid_t) -> EventLoopFuture<Void> {
        let connectionID = self.nextConnectionID.wrappingAdd(1, ordering: .relaxed).oldValue
        guard let provider = channel as? any SocketOptionProvider else {
            self.logger.error("control connection without socket options; closing it")
            return channel.close()
        }
        let credentials: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET),
            name: SocketOptionName(SO_PEERCRED)
        )
        return credentials.flatMapThrowing { credentials in
            let peer = ControlPeer(connectionID: connectionID, pid: credentials.pid, uid: credentials.uid)
            guard credentials.uid == ownUID else {
                self.logger.warning(
                    "refused a control connection from another user",
                    metadata: ["control.peer.uid": "\(peer.uid)", "control.peer.pid": "\(peer.pid)"]
                )
                channel.close(promise: nil)
                return
            }
            var logger = self.logger
            logger[metadataKey: "control.connection"] = "\(peer.connectionID)"
            logger[metadataKey: "control.peer.pid"] = "\(peer.pid)"
            let (lines, continuation) = AsyncStream<[UInt8]>.makeStream(
                bufferingPolicy: .bufferingOldest(ControlConnectionHandler.maximumPendingLines)
            )
            try channel.pipeline.syncOperations.addHandler(
                ByteToMessageHandler(ControlLineDecoder(maximumLength: Self.maximumLineLength))
            )
            try channel.pipeline.syncOperations.addHandler(
                ControlConnectionHandler(lines: continuation, logger: logger))
            let isOpen = self.state.withLock { state -> Bool in
                guard case .serving = state.phase else { return false }
                state.connections[connectionID] = channel
                state.tasks[connectionID] = self.makeServingTask(lines, channel: channel, peer: peer, logger: logger)
                return true
            }
            if !isOpen {
                continuation.finish()
                channel.close(promise: nil)
            }
        }.flatMapErrorThrowing { error in
            channel.close(promise: nil)
            throw error
        }
    }

    private func makeServingTask(
        _ lines: AsyncStream<[UInt8]>,
        channel: any Channel,
        peer: ControlPeer,
        logger: Logger
    ) -> Task<Void, Never> {
        Task {
            await self.serve(lines, channel: channel, peer: peer, logger: logger)
        }
    }

    /// Answers the connection's lines in order, then closes it and tells the handler.
    private func serve(_ lines: AsyncStream<[UInt8]>, channel: any Channel, peer: ControlPeer, logger: Logger) async {
        logger.debug("control connection opened")
        for await line in lines {
            let response = await self.handler.handle(line: line, peer: peer)
            var buffer = channel.allocator.buffer(capacity: response.count + 1)
            buffer.writeBytes(response)
            buffer.writeInteger(UInt8(ascii: "\n"))
            do {
                // Waits until the answer is written, so a close right after cannot lose it.
                try await channel.writeAndFlush(buffer).get()
            } catch {
                logger.debug("could not answer on the control connection", metadata: ["error": "\(error)"])
                break
            }
        }
        try? await channel.close()
        self.state.withLock { state in
            _ = state.connections.removeValue(forKey: peer.connectionID)
        }
        await self.handler.connectionClosed(peer: peer)
        self.state.withLock { state in
            _ = state.tasks.removeValue(forKey: peer.connectionID)
        }
        logger.debug("control connection closed")
    }

    private func waitForConnections() async {
        while true {
            let tasks = self.state.withLock { Array($0.tasks.values) }
            if tasks.isEmpty { return }
            for task in tasks {
                await task.value
            }
        }
    }

    private func removeSocketFile(identity: (device: UInt64, inode: UInt64)?) {
        guard let identity, let current = ControlSocketFile.identity(of: self.path),
            current.device == identity.device, current.inode == identity.inode
        else { return }
        unlink(self.path)
    }
}
