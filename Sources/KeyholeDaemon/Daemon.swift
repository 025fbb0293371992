import NIOConcurrencyHelpers
import Foundation
import KeyholeControl
import KeyholeCore
import KeyholeProxy
import KeyholeStore
import KeyholeTLS
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// How to start the daemon.
public struct DaemonOptions: Sendable {
    public var paths: Paths
    public var storeKind: StoreKind
    /// `--listen`; overrides `listen` in config.toml.
    public var listen: String?
    public var environment: [String: String]
    /// Copy daemon log lines to stderr (foreground on a terminal).
    public var echoLog: Bool

    public init(paths: Paths, storeKind: StoreKind, listen: String?, environment: [String: String], echoLog: Bool) {
        self.paths = paths
        self.storeKind = storeKind
        self.listen = listen
        self.environment = environment
        self.echoLog = echoLog
    }
}

/// The composition root: store, CA, proxy and control socket, run as a ServiceGroup until SIGTERM/SIGINT or
/// `keyhole stop`.
public enum Daemon {
    public static let version = "0.1.0"

    public static func run(_ options: DaemonOptions, ready: @Sendable (DaemonStatus) -> Void = { _ in }) async throws {
        ProcessHardening.apply()
        let paths = options.paths
        let lock = try InstanceLock.acquire(paths: paths)
        defer { lock.release() }

        try FileSystem.makePrivateDirectory(paths.stateDirectory)
        try FileSystem.makePrivateDirectory(paths.dataDirectory)
        let sink = FileLogHandler.Sink(path: paths.daemonLogFile)
        let echo = options.echoLog
        let logger = Logger(label: "keyhole") { label in
            FileLogHandler(label: label, sink: sink, echo: echo)
        }
        OpenFilesLimit.raise(logger: logger)

        let config = try Config.load(from: paths.configFile)
        for warning in config.warnings {
            logger.warning("config: \(warning)")
        }
        let listen = try Config.listenAddress(options.listen ?? config.listen ?? "127.0.0.1:0")

        let store = try StoreFactory.open(
            kind: options.storeKind, paths: paths, environment: options.environment, logger: logger,
            warn: { message in
                FileHandle.standardError.write(Data("keyhole: warning: \(message)\n".utf8))
                logger.warning("\(message)")
            }
        )
        let authority = try CertificateAuthority.loadOrCreate(paths: paths)
        try TrustBundle.write(caPEM: authority.certificatePEM, to: paths.trustBundleFile)
        let upstreamTLS = try UpstreamTLS.makeClientContext(extraCAFiles: config.upstreamCA)
        var resolve: [Authority: Authority] = [:]
        for (from, to) in config.resolve {
            guard let key = Authority(parsing: from, defaultPort: nil), let value = Authority(parsing: to, defaultPort: nil) else {
                throw DaemonError.invalidRequest("resolve entry \(from) = \(to) must be host:port = addr:port")
            }
            resolve[key] = value
        }

        let threadPool = NIOThreadPool(numberOfThreads: 2)
        threadPool.start()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let leafCache = LeafCertificateCache(authority: authority, threadPool: threadPool)
        let repository = CredentialRepository(directory: paths.credentialsDirectory)
        let registry = SessionRegistry(definitions: try repository.load())
        let auditLog = ThrottledAuditLog(log: AuditLog(path: paths.auditLogFile))
        let selfTestRoutes = SelfTestRoutes(caPEM: authority.certificatePEM)

        let dependencies = ProxyDependencies(
            sessions: registry,
            resolver: StoreResolver(store: store, threadPool: threadPool),
            serverContext: { host, eventLoop in leafCache.serverContext(for: host, on: eventLoop) },
            connector: SocketUpstreamConnector(
                resolve: resolve, tlsContext: upstreamTLS,
                handshakeTimeout: .seconds(Int64(config.limits.handshakeSeconds)), selfTest: selfTestRoutes
            ),
            audit: { auditLog.append($0) },
            logger: logger,
            admitPeer: { [peers = ProxyPeerFilter(ownUID: getuid(), logger: logger)] in peers.admit($0) },
            limits: config.limits
        )
        let proxy: ProxyServer
        do {
            proxy = try await ProxyServer.start(host: listen.host, port: listen.port, group: group, dependencies: dependencies)
        } catch {
            throw DaemonError.listenAddress("\(listen): \(error)")
        }
        let proxyAddress = "127.0.0.1:\(proxy.localAddress?.port ?? listen.port)"
        let started = Date()
        let statusProvider: @Sendable () -> DaemonStatus = {
            DaemonStatus(
                proxy: proxyAddress, ca: paths.caCertificateFile, caFingerprint: authority.fingerprintSHA256,
                bundle: paths.trustBundleFile, store: store.kind.rawValue, storeState: store.describe(),
                pid: getpid(), version: Daemon.version, credentials: registry.definitions.count,
                sessions: registry.count, uptimeSeconds: Int(Date().timeIntervalSince(started)),
                controlSocket: paths.controlSocket, auditLog: paths.auditLogFile, daemonLog: paths.daemonLogFile
            )
        }

        let stopper = StopSignal()
        let control = ControlService(
            registry: registry, repository: repository, store: store, threadPool: threadPool, paths: paths,
            proxyAddress: proxyAddress, logger: logger, statusProvider: statusProvider,
            selfTest: SelfTest(
                group: group, leafCache: leafCache, routes: selfTestRoutes,
                proxyPort: proxy.localAddress?.port ?? listen.port, bundlePath: paths.trustBundleFile
            ),
            onStop: { stopper.fire() }
        )
        let controlServer = ControlServer(path: paths.controlSocket, logger: logger, handler: control)

        let services: [any Service] = [
            auditLog,  // first, so it stops last: what the proxy audits until it stops is written
            ProxyService(server: proxy),
            ControlSocketService(server: controlServer),
            SessionSweeper(registry: registry, logger: logger),
        ]
        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [],
                logger: Logger(label: "keyhole.lifecycle", factory: { _ in SwiftLogNoOpLogHandler() })
            )
        )
        stopper.onFire { Task { await serviceGroup.triggerGracefulShutdown() } }

        try? "\(getpid())\n".write(toFile: paths.pidFile, atomically: true, encoding: .utf8)
        logger.info(
            "daemon started",
            metadata: ["pid": "\(getpid())", "proxy": "\(proxyAddress)", "store": "\(store.kind.rawValue)", "version": "\(Daemon.version)"]
        )
        ready(statusProvider())

        do {
            try await serviceGroup.run()
        } catch {
            logger.error("daemon stopped on error", metadata: ["error": "\(error)"])
        }
        unlink(paths.pidFile)
        logger.info("daemon stopped")
        try? await group.shutdownGracefully()
        try? await threadPool.shutdownGracefully()
    }
}

/// `keyhole stop`: fires once, possibly before the service group exists.
final class StopSignal: Sendable {
    private let state = NIOLockedValueBox<(fired: Bool, action: (@Sendable () -> Void)?)>((false, nil))

    func fire() {
        let action = self.state.withLockedValue { state -> (@Sendable () -> Void)? in
            state.fired = true
            return state.action
        }
        action?()
    }

    func onFire(_ action: @escaping @Sendable () -> Void) {
        let fired = self.state.withLockedValue { state -> Bool in
            state.action = action
            return state.fired
        }
        if fired { action() }
    }
}
