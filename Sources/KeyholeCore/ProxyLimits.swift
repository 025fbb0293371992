/// How long the proxy waits for each step of a connection, and how many client connections it keeps at once.
/// `[timeouts]` and `[proxy] max_connections` in config.toml; the defaults are meant to go unnoticed by people and
/// to end anything a hostile or broken client leaves hanging.
///
/// ```toml
/// [timeouts]            # seconds
/// request_head = 30     # a new connection's first request head (before proxy authentication)
/// handshake = 15        # each TLS handshake: the client's with keyhole, keyhole's with the upstream
/// idle = 120            # a kept-alive connection with no request in progress (both legs)
/// response_head = 300   # from a request sent upstream to its response head
/// tunnel_idle = 3600    # a CONNECT tunnel or upgraded connection with no byte in either direction
///
/// [proxy]
/// max_connections = 4096   # client connections at once; beyond it new ones are closed at once
/// ```
public struct ProxyLimits: Sendable, Equatable {
    public var requestHeadSeconds: Int
    public var handshakeSeconds: Int
    public var idleSeconds: Int
    public var responseHeadSeconds: Int
    public var tunnelIdleSeconds: Int
    public var maxConnections: Int

    public init(
        requestHeadSeconds: Int = 30,
        handshakeSeconds: Int = 15,
        idleSeconds: Int = 120,
        responseHeadSeconds: Int = 300,
        tunnelIdleSeconds: Int = 3600,
        maxConnections: Int = 4096
    ) {
        self.requestHeadSeconds = requestHeadSeconds
        self.handshakeSeconds = handshakeSeconds
        self.idleSeconds = idleSeconds
        self.responseHeadSeconds = responseHeadSeconds
        self.tunnelIdleSeconds = tunnelIdleSeconds
        self.maxConnections = maxConnections
    }

    public static let defaults = ProxyLimits()

    /// The `[timeouts]` keys, with the property each sets.
    nonisolated(unsafe) static let timeoutKeys: [(key: String, path: WritableKeyPath<ProxyLimits, Int>)] = [
        ("request_head", \.requestHeadSeconds),
        ("handshake", \.handshakeSeconds),
        ("idle", \.idleSeconds),
        ("response_head", \.responseHeadSeconds),
        ("tunnel_idle", \.tunnelIdleSeconds),
    ]
}
