import KeyholeCore

/// Errors of the daemon's own making, with words for people and a hint.
public struct DaemonError: HintedError, Sendable {
    private enum Code: Sendable {
        case unknownCredential(String)
        case credentialExists(String)
        case invalidRequest(String)
        case emptySecret(String)
        case alreadyRunning(pid: String)
        case listenAddress(String)
        case unknownSession
        case hostCovered(host: String, credential: String)
        case invalidAWSSecret(String)
        case noPassphrase(store: String)
    }

    private let code: Code

    static func unknownCredential(_ name: String) -> DaemonError { DaemonError(code: .unknownCredential(name)) }
    static func credentialExists(_ name: String) -> DaemonError { DaemonError(code: .credentialExists(name)) }
    static func invalidRequest(_ what: String) -> DaemonError { DaemonError(code: .invalidRequest(what)) }
    static func emptySecret(_ name: String) -> DaemonError { DaemonError(code: .emptySecret(name)) }
    static func alreadyRunning(pid: String) -> DaemonError { DaemonError(code: .alreadyRunning(pid: pid)) }
    static func listenAddress(_ what: String) -> DaemonError { DaemonError(code: .listenAddress(what)) }
    static let unknownSession = DaemonError(code: .unknownSession)
    static func hostCovered(_ host: String, by credential: String) -> DaemonError {
        DaemonError(code: .hostCovered(host: host, credential: credential))
    }
    static func invalidAWSSecret(_ reason: String) -> DaemonError { DaemonError(code: .invalidAWSSecret(reason)) }
    static func noPassphrase(_ store: String) -> DaemonError { DaemonError(code: .noPassphrase(store: store)) }

    public var description: String {
        switch self.code {
        case .unknownCredential(let name): return "no credential named '\(name)'"
        case .credentialExists(let name): return "a credential named '\(name)' already exists"
        case .invalidRequest(let what): return "invalid request: \(what)"
        case .emptySecret(let name): return "the secret of '\(name)' is empty"
        case .alreadyRunning(let pid): return "a keyhole daemon is already running (pid \(pid))"
        case .listenAddress(let what): return "cannot listen: \(what)"
        case .unknownSession: return "no live keyhole session has this token (it ended, or was never opened)"
        case .hostCovered(let host, let credential):
            return "\(host) is already covered by credential '\(credential)'; nothing was imported"
        case .invalidAWSSecret(let reason): return "the secret is not AWS credentials JSON: \(reason)"
        case .noPassphrase(let store): return "the daemon's store has no passphrase: \(store)"
        }
    }

    public var hint: String? {
        switch self.code {
        case .unknownCredential: return "see `keyhole list`"
        case .credentialExists(let name):
            return "change its secret with `keyhole rotate \(name)`, or `keyhole rm \(name)` and add it again"
        case .invalidRequest: return nil
        case .emptySecret(let name): return "set it again with `keyhole rotate \(name)`"
        case .alreadyRunning: return "use `keyhole status` to see it, `keyhole stop` to stop it"
        case .listenAddress: return "set `listen = \"127.0.0.1:PORT\"` in config.toml to a free port, or pass --listen"
        case .unknownSession: return "run the command under `keyhole run -- CMD`"
        case .hostCovered(_, let credential): return "to change its secret: `keyhole rotate \(credential)`"
        case .invalidAWSSecret:
            return "give {\"AccessKeyId\":\"…\",\"SecretAccessKey\":\"…\",\"SessionToken\":\"…\"} on stdin "
                + "(SessionToken only for temporary keys)"
        case .noPassphrase:
            return "a keyring is unlocked by its own tools (log in to the desktop, or `gnome-keyring-daemon --unlock`); "
                + "`keyhole unlock` is for the file vault (`keyhole daemon --store file`)"
        }
    }
}
