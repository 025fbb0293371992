import KeyholeCore

/// A request from a CLI command to the daemon, sent as one JSON line over the control socket.
public struct ControlRequest: Codable, Sendable {
    public enum Command: String, Codable, Sendable {
        case status, add, rotate, remove, list, openSession, closeSession, stop
        /// The credential helpers' view of a live session (`token`): its credentials and placeholders.
        case helperSession
        /// A secret a client typed at a prompt (git, `docker login`) for a host no credential covers: stored
        /// as a new credential (`definition`, renamed if the name is taken) that joins the session of `token`.
        case importCredential
        /// Run the end-to-end self-test (`keyhole doctor`).
        case selfTest
        /// Start a reach server and a session without credentials, both kept until this connection closes
        /// (`keyhole doctor` probes runtimes against it): answers `session` and `reachURL`.
        case reachTest
        /// Give the file vault its `passphrase` (`keyhole unlock`): checked against an existing vault, or the
        /// passphrase of the vault still to be created. Answers `status`.
        case unlock
        /// Make the daemon forget the vault's passphrase (`keyhole lock`). Answers `status`.
        case lock
    }

    public var command: Command
    /// add, rotate, remove: the credential name.
    public var name: String?
    /// add: the definition (its `name` must equal `name`).
    public var definition: CredentialDefinition?
    /// add, rotate: the secret. Travels only over the 0600, same-uid control socket.
    public var secret: String?
    /// unlock: the file vault's passphrase, over the same socket.
    public var passphrase: String?
    /// openSession: limit to these credentials (nil: all).
    public var only: [String]?
    /// openSession: `run` sessions end when their control connection closes; `env` sessions at their TTL.
    public var sessionKind: SessionKind?
    public var ttlSeconds: Int?
    /// closeSession, helperSession, importCredential: the session's token.
    public var token: String?

    public init(command: Command) {
        self.command = command
    }
}

public enum SessionKind: String, Codable, Sendable {
    case run
    case env
}

/// The daemon's answer to one ``ControlRequest``.
public struct ControlResponse: Codable, Sendable {
    public var ok: Bool
    /// What went wrong, for people, and what to do about it.
    public var error: String?
    public var hint: String?
    public var status: DaemonStatus?
    public var credentials: [CredentialDefinition]?
    public var session: SessionGrant?
    public var helper: HelperGrant?
    public var selfTest: SelfTestReport?
    public var reachURL: String?

    public init(ok: Bool) {
        self.ok = ok
    }

    public static func failure(_ error: String, hint: String?) -> ControlResponse {
        var response = ControlResponse(ok: false)
        response.error = error
        response.hint = hint
        return response
    }
}

/// `keyhole status --json`.
public struct DaemonStatus: Codable, Sendable {
    public var proxy: String
    public var ca: String
    public var caFingerprint: String
    public var bundle: String
    public var store: String
    public var storeState: String
    public var pid: Int32
    public var version: String
    public var credentials: Int
    public var sessions: Int
    public var uptimeSeconds: Int
    public var controlSocket: String
    public var auditLog: String
    public var daemonLog: String
    /// The file vault's lock state; nil for the Secret Service and for a vault protected by its key file.
    public var vaultLock: VaultLockState?

    public init(
        proxy: String, ca: String, caFingerprint: String, bundle: String, store: String, storeState: String,
        pid: Int32, version: String, credentials: Int, sessions: Int, uptimeSeconds: Int, controlSocket: String,
        auditLog: String, daemonLog: String
    ) {
        self.proxy = proxy
        self.ca = ca
        self.caFingerprint = caFingerprint
        self.bundle = bundle
        self.store = store
        self.storeState = storeState
        self.pid = pid
        self.version = version
        self.credentials = credentials
        self.sessions = sessions
        self.uptimeSeconds = uptimeSeconds
        self.controlSocket = controlSocket
        self.auditLog = auditLog
        self.daemonLog = daemonLog
    }

    enum CodingKeys: String, CodingKey {
        case proxy, ca, caFingerprint = "ca_fingerprint", bundle, store, storeState = "store_state", pid, version,
            credentials, sessions, uptimeSeconds = "uptime_seconds", controlSocket = "control_socket",
            auditLog = "audit_log", daemonLog = "daemon_log", vaultLock = "vault_lock"
    }
}

/// What a new session gets: the proxy password and one placeholder per credential.
public struct SessionGrant: Codable, Sendable {
    public var id: String
    public var token: String
    /// `127.0.0.1:PORT`
    public var proxy: String
    public var ca: String
    public var bundle: String
    /// Credential name -> placeholder.
    public var placeholders: [String: String]
    /// The definitions of the session's credentials (for their `env` names).
    public var credentials: [CredentialDefinition]
    /// RFC 3339 end for `env` sessions.
    public var expires: String?

    public init(
        id: String, token: String, proxy: String, ca: String, bundle: String, placeholders: [String: String],
        credentials: [CredentialDefinition], expires: String?
    ) {
        self.id = id
        self.token = token
        self.proxy = proxy
        self.ca = ca
        self.bundle = bundle
        self.placeholders = placeholders
        self.credentials = credentials
        self.expires = expires
    }
}

/// What a credential helper may hand out in a session: placeholders only, never a secret.
public struct HelperGrant: Codable, Sendable {
    public var id: String
    /// The session's credentials, current definitions.
    public var credentials: [CredentialDefinition]
    /// Generic credential name -> placeholder.
    public var placeholders: [String: String]
    /// aws credential name -> placeholder keys.
    public var aws: [String: AWSPlaceholderKeys]
    /// RFC 3339 end of the session; nil for a `run` session, which ends with its command.
    public var expires: String?

    public init(
        id: String, credentials: [CredentialDefinition], placeholders: [String: String],
        aws: [String: AWSPlaceholderKeys], expires: String?
    ) {
        self.id = id
        self.credentials = credentials
        self.placeholders = placeholders
        self.aws = aws
        self.expires = expires
    }
}

/// Placeholder AWS keys as they travel to `keyhole aws-credential-process`.
public struct AWSPlaceholderKeys: Codable, Sendable, Equatable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(_ credentials: AWSCredentials) {
        self.accessKeyID = credentials.accessKeyID
        self.secretAccessKey = credentials.secretAccessKey
        self.sessionToken = credentials.sessionToken
    }
}

/// The outcome of the daemon's self-test.
public struct SelfTestReport: Codable, Sendable {
    public var ok: Bool
    /// Where it stopped: store, certificate, session, proxy, swap, or done.
    public var stage: String
    public var detail: String
    public var milliseconds: Int

    public init(ok: Bool, stage: String, detail: String, milliseconds: Int) {
        self.ok = ok
        self.stage = stage
        self.detail = detail
        self.milliseconds = milliseconds
    }
}
