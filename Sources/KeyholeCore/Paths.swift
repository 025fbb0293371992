#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where keyhole keeps its files, following the XDG base directory specification. Every location
/// moves with its variable, so a test can isolate a whole user by setting them.
public struct Paths: Sendable, Equatable {
    /// Credential definitions (no secret values) and `config.toml`.
    public var configDirectory: String
    /// CA key and certificate, file vault, trust bundle.
    public var dataDirectory: String
    /// Audit log and daemon log.
    public var stateDirectory: String
    /// Control socket and pid file.
    public var runtimeDirectory: String

    public init(configDirectory: String, dataDirectory: String, stateDirectory: String, runtimeDirectory: String) {
        self.configDirectory = configDirectory
        self.dataDirectory = dataDirectory
        self.stateDirectory = stateDirectory
        self.runtimeDirectory = runtimeDirectory
    }

    /// The locations for the given environment (defaults to the process environment).
    public init(environment: [String: String] = ProcessEnvironment.current) {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? Paths.passwdHome() ?? "/"
        func base(_ variable: String, _ fallback: String) -> String {
            // The spec says relative paths are invalid and must be ignored.
            if let value = environment[variable], value.hasPrefix("/") { return value }
            return home + "/" + fallback
        }
        self.configDirectory = base("XDG_CONFIG_HOME", ".config") + "/keyhole"
        self.dataDirectory = base("XDG_DATA_HOME", ".local/share") + "/keyhole"
        self.stateDirectory = base("XDG_STATE_HOME", ".local/state") + "/keyhole"
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            self.runtimeDirectory = runtime + "/keyhole"
        } else {
            self.runtimeDirectory = "/tmp/keyhole-\(getuid())"
        }
    }

    public var configFile: String { self.configDirectory + "/config.toml" }
    public var credentialsDirectory: String { self.configDirectory + "/credentials" }
    public var caCertificateFile: String { self.dataDirectory + "/ca.pem" }
    public var caKeyFile: String { self.dataDirectory + "/ca-key.pem" }
    public var trustBundleFile: String { self.dataDirectory + "/bundle.pem" }
    /// The trust bundle as a PKCS#12 trust store for Java (`javax.net.ssl.trustStore`).
    public var javaTrustStoreFile: String { self.dataDirectory + "/truststore.p12" }
    /// The script Node preloads to reach the proxy before it honours `NODE_USE_ENV_PROXY`.
    public var nodePreloadFile: String { self.dataDirectory + "/node-proxy.cjs" }
    public var vaultFile: String { self.dataDirectory + "/vault.json" }
    public var vaultKeyFile: String { self.dataDirectory + "/vault.key" }
    public var auditLogFile: String { self.stateDirectory + "/audit.jsonl" }
    public var daemonLogFile: String { self.stateDirectory + "/daemon.log" }
    public var controlSocket: String { self.runtimeDirectory + "/control.sock" }
    public var pidFile: String { self.runtimeDirectory + "/keyhole.pid" }
    public var lockFile: String { self.runtimeDirectory + "/daemon.lock" }
    /// Per-session files handed to children (e.g. generated configs), removed when the session ends.
    public var sessionsDirectory: String { self.runtimeDirectory + "/sessions" }

    private static func passwdHome() -> String? {
        guard let entry = getpwuid(getuid()), let dir = entry.pointee.pw_dir else { return nil }
        return String(cString: dir)
    }
}
