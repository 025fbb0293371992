import KeyholeCore
import Logging
import NIOCore
import NIOSSL

/// Everything the proxy's handlers need from the rest of keyhole, injected so that handlers can be tested
/// with fakes. The proxy sees secrets only through `resolver`.
public struct ProxyDependencies: Sendable {
    public var sessions: any SessionAuthenticator
    public var resolver: any SecretResolver
    /// The TLS server context presenting a leaf certificate for a host (minted off the event loop, cached).
    public var serverContext: @Sendable (_ host: String, _ eventLoop: any EventLoop) -> EventLoopFuture<NIOSSLContext>
    public var connector: any UpstreamConnector
    public var audit: @Sendable (AuditEvent) -> Void
    public var logger: Logger
    /// Decides, before a single byte is read, whether a new client connection may use the proxy (the daemon
    /// refuses other local users' connections). nil admits everyone (tests).
    public var admitPeer: (@Sendable (_ channel: any Channel) -> Bool)?
    /// Timeouts and the connection cap.
    public var limits: ProxyLimits

    public init(
        sessions: any SessionAuthenticator,
        resolver: any SecretResolver,
        serverContext: @escaping @Sendable (_ host: String, _ eventLoop: any EventLoop) -> EventLoopFuture<NIOSSLContext>,
        connector: any UpstreamConnector,
        audit: @escaping @Sendable (AuditEvent) -> Void,
        logger: Logger,
        admitPeer: (@Sendable (_ channel: any Channel) -> Bool)? = nil,
        limits: ProxyLimits = .defaults
    ) {
        self.sessions = sessions
        self.resolver = resolver
        self.serverContext = serverContext
        self.connector = connector
        self.audit = audit
        self.logger = logger
        self.admitPeer = admitPeer
        self.limits = limits
    }
}
