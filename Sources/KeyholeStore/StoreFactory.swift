import KeyholeCore
import Logging

/// Opens the secret store a daemon should use.
public enum StoreFactory {
    /// The store for `kind`:
    /// - `.file`: the file vault (an existing vault is opened now, so a wrong passphrase fails early; a passphrase
    ///   vault without `KEYHOLE_PASSPHRASE` opens locked, with a warning, until `keyhole unlock`);
    /// - `.secretService`: the Secret Service, or an error with a hint when libsecret or a provider is missing;
    /// - `.auto`: the Secret Service when the session bus offers it (decided in about half a second at most),
    ///   else the file vault.
    ///
    /// - Parameters:
    ///   - environment: the daemon's environment (`KEYHOLE_PASSPHRASE`, `DBUS_SESSION_BUS_ADDRESS`,
    ///     `XDG_RUNTIME_DIR`, `DISPLAY`, `WAYLAND_DISPLAY`); nothing is read from the process globally.
    ///   - warn: one-time warnings for people (the vault key file was created, the vault is locked).
    public static func open(
        kind: StoreKind,
        paths: Paths,
        environment: [String: String],
        logger: Logger,
        warn: @escaping @Sendable (String) -> Void
    ) throws -> any SecretStore {
        switch kind {
        case .file:
            return try Self.openVault(paths: paths, environment: environment, warn: warn)
        case .secretService:
            let library = try SecretServiceProbe.run(environment: environment).get()
            return SecretServiceStore(library: library, environment: environment, logger: logger)
        case .auto:
            switch SecretServiceProbe.run(environment: environment) {
            case .success(let library):
                logger.debug("using the Secret Service")
                return SecretServiceStore(library: library, environment: environment, logger: logger)
            case .failure(let reason):
                logger.info(
                    "Secret Service not available; using the file vault",
                    metadata: ["store.reason": "\(reason.message)"]
                )
                return try Self.openVault(paths: paths, environment: environment, warn: warn)
            }
        }
    }

    /// Whether the session bus in `environment` offers `org.freedesktop.secrets` (owned or activatable) and
    /// libsecret can be loaded. Returns within about half a second, also when the bus address points nowhere.
    public static func secretServiceAvailable(environment: [String: String]) -> Bool {
        if case .success = SecretServiceProbe.run(environment: environment) {
            return true
        }
        return false
    }

    private static func openVault(
        paths: Paths,
        environment: [String: String],
        warn: @escaping @Sendable (String) -> Void
    ) throws -> FileVault {
        let vault = FileVault(paths: paths, environment: environment, warn: warn)
        try vault.validate()
        if vault.lockState() == .locked {
            warn("the file vault at \(vault.vaultFile) is locked: run `keyhole unlock` to give it its passphrase")
        }
        return vault
    }
}
