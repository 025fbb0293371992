/// What the proxy needs to know about one `run`/`env` session at the moment a request arrives.
public struct ProxySession: Sendable {
    /// Short session id for logs and the audit trail (never the token).
    public let id: String
    /// Current definitions of the credentials the session may use.
    public let credentials: [CredentialDefinition]
    /// Placeholder -> credential name, for this session only.
    public let placeholders: [String: String]
    /// Placeholder AWS access key id -> the aws credential it stands for, for this session only.
    public let awsKeys: [String: AWSSessionKey]

    public init(
        id: String,
        credentials: [CredentialDefinition],
        placeholders: [String: String],
        awsKeys: [String: AWSSessionKey] = [:]
    ) {
        self.id = id
        self.credentials = credentials
        self.placeholders = placeholders
        self.awsKeys = awsKeys
    }

    /// The session's credentials that may be sent to `authority`.
    public func credentials(scopedTo authority: Authority) -> [CredentialDefinition] {
        self.credentials.filter { $0.isScoped(to: authority) }
    }

    /// CONNECT to `authority`: intercept when one of the session's credentials is scoped to it, else tunnel.
    public func connectDecision(for authority: Authority) -> ConnectDecision {
        let scoped = self.credentials(scopedTo: authority)
        return scoped.isEmpty ? .tunnel : .intercept(credentials: scoped.map(\.name))
    }
}

public enum ConnectDecision: Sendable, Equatable {
    case intercept(credentials: [String])
    case tunnel
}

/// Finds the session a proxy client authenticated as.
public protocol SessionAuthenticator: Sendable {
    /// The live session for a token, or nil for an unknown or ended one.
    func session(forToken token: String) -> ProxySession?
}
