import KeyholeCore
import NIOCore
import NIOHTTP1

/// One request/response exchange on a client connection, with what the audit line needs.
final class Exchange {
    let started: NIODeadline
    let sessionID: String
    let method: String
    let authority: Authority
    let path: String
    let clientKeepAlive: Bool
    /// The request asked for a protocol upgrade (an `Upgrade` header): only then may a 101 turn the connection
    /// into a tunnel.
    let askedToUpgrade: Bool
    var credential: String?
    var decision: AuditDecision
    var status: Int?
    var bytesUp: Int64 = 0
    var bytesDown: Int64 = 0
    var requestEnded = false
    var responseHeadSent = false
    var responseEnded = false
    /// The next `.end` from upstream closes an informational (1xx) response, not the exchange.
    var awaitingInformationalEnd = false
    var upstreamWillClose = false
    var reason: String?
    /// The head as it went upstream, for a replay on a fresh connection.
    var sentHead: HTTPRequestHead?
    /// The whole body, when the proxy read it before sending (AWS body hashing): a replay can send it again.
    var heldBody: ByteBuffer?
    /// Nothing of the request has gone upstream that could not be sent again.
    var replayable = true
    /// The request went out on a connection kept alive from an earlier request.
    var onReusedConnection = false
    var retried = false
    /// Re-signs an aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) chunk by chunk on its way up.
    var chunkResigner: SigV4ChunkResigner?

    init(sessionID: String, head: HTTPRequestHead, authority: Authority, path: String) {
        self.started = .now()
        self.sessionID = sessionID
        self.method = head.method.rawValue
        self.authority = authority
        self.path = path
        self.clientKeepAlive = head.isKeepAlive
        self.askedToUpgrade = head.headers.contains(name: "upgrade")
        self.decision = .forward
    }

    func auditEvent() -> AuditEvent {
        AuditEvent(
            session: self.sessionID,
            method: self.method,
            host: self.authority.description,
            path: self.path,
            credential: self.credential,
            decision: self.decision,
            status: self.status,
            bytesUp: self.bytesUp,
            bytesDown: self.bytesDown,
            ms: Int((NIODeadline.now() - self.started).nanoseconds / 1_000_000),
            reason: self.reason
        )
    }
}

@available(*, unavailable)
extension Exchange: Sendable {}
