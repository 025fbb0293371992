/// What the proxy did with one request or connection. Raw values are what the audit log holds.
public enum AuditDecision: String, Codable, Sendable, CaseIterable {
    /// Forwarded unchanged: nothing to swap or inject (plain HTTP, or a scoped host without placeholders).
    case forward
    /// Placeholders were replaced by the real secret.
    case swap
    /// An `--inject` header was added.
    case inject
    /// An AWS SigV4 request signed with a session's placeholder keys was verified and re-signed with the real keys.
    case resign
    /// A byte tunnel to a host no credential is scoped to; nothing was looked at.
    case tunnel
    /// A placeholder was going to a host its credential is not scoped to (403, nothing sent).
    case denyScope = "deny-scope"
    /// A secret was going into a plain `http://` request and its credential was not added with `--allow-http`
    /// (403, nothing sent).
    case denyCleartext = "deny-cleartext"
    /// Missing or wrong proxy credentials (407).
    case denyAuth = "deny-auth"
    /// The Host header or TLS SNI did not match the CONNECT authority.
    case denyHost = "deny-host"
    /// A secret could not be resolved (store locked or gone): 502, nothing forwarded.
    case failClosed = "fail-closed"
    /// Anything else that went wrong (upstream unreachable, TLS verification failure, …).
    case error

    /// True for the decisions that refused the request.
    public var isDenial: Bool {
        switch self {
        case .denyScope, .denyCleartext, .denyAuth, .denyHost, .failClosed: return true
        case .forward, .swap, .inject, .resign, .tunnel, .error: return false
        }
    }
}
