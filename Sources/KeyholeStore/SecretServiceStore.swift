import KeyholeCore
import Logging
import Synchronization

/// Secrets in the Secret Service (gnome-keyring, KeePassXC, ...) through libsecret: items of the schema
/// `dev.keyhole.Credential` with the attributes `service=keyhole` and `name=NAME`, labelled `keyhole: NAME`,
/// in the default collection — so `secret-tool search service keyhole` lists them.
///
/// A lookup never trusts an empty answer: a locked collection answers "nothing" too, so the collection's
/// state is read first and a locked collection is reported as ``StoreError/locked``. When a display is
/// available (`DISPLAY` or `WAYLAND_DISPLAY`) a locked collection is first offered to the keyring's unlock
/// prompt; headless, the error comes at once. All calls block; callers on an event loop must offload.
public final class SecretServiceStore: SecretStore {
    /// The attribute value of `service` on every keyhole item.
    public static let serviceAttribute = "keyhole"
    /// The libsecret schema name of keyhole items.
    public static let schemaName = "dev.keyhole.Credential"

    /// Deadline of one keyring call (D-Bus's own default is 25 s).
    static let callTimeoutMilliseconds = 25_000
    /// Deadline of an unlock prompt: a person has to type a password.
    static let unlockTimeoutMilliseconds = 120_000
    /// After a dismissed prompt, do not prompt again for this long (each request would pop another one).
    static let promptBackoff = Duration.seconds(30)

    public var kind: StoreKind { .secretService }

    private let library: LibSecret
    private let canPrompt: Bool
    private let logger: Logger
    /// When the last unlock prompt was dismissed.
    private let lastDismissal = Mutex<ContinuousClock.Instant?>(nil)

    init(library: LibSecret, environment: [String: String], logger: Logger) {
        self.library = library
        let display = environment["DISPLAY"].map { !$0.isEmpty } ?? false
        let wayland = environment["WAYLAND_DISPLAY"].map { !$0.isEmpty } ?? false
        self.canPrompt = display || wayland
        self.logger = logger
    }

    /// Opens the Secret Service store when the session bus offers it; throws the reason otherwise
    /// (``StoreError/libsecretMissing``, ``StoreError/noProvider``).
    public convenience init(environment: [String: String], logger: Logger) throws {
        let library = try SecretServiceProbe.run(environment: environment).get()
        self.init(library: library, environment: environment, logger: logger)
    }

    public func describe() -> String {
        do {
            switch try self.library.collectionState(timeoutMilliseconds: SecretServiceProbe.timeoutMilliseconds * 4) {
            case .unlocked: return "secret-service (default collection unlocked)"
            case .locked: return "secret-service (default collection locked)"
            case .missing: return "secret-service (no default collection yet)"
            }
        } catch let error as StoreError {
            return "secret-service (\(error.message))"
        } catch {
            return "secret-service (unreachable)"
        }
    }

    public func store(_ secret: Secret, for name: String) throws {
        guard !secret.value.utf8.contains(0) else {
            throw StoreError.invalidSecret.with(message: "the Secret Service cannot store a secret with a NUL byte")
        }
        try self.unlockingIfNeeded {
            try self.library.store(
                name: name,
                label: "keyhole: \(name)",
                secret: secret,
                timeoutMilliseconds: Self.callTimeoutMilliseconds
            )
        }
        self.logger.debug("stored secret", metadata: ["store.credential": "\(name)"])
    }

    public func secret(for name: String) throws -> Secret {
        try self.unlockingIfNeeded {
            try self.library.lookup(name: name, timeoutMilliseconds: Self.callTimeoutMilliseconds)
        }
    }

    public func delete(_ name: String) throws {
        try self.unlockingIfNeeded {
            try self.library.clear(name: name, timeoutMilliseconds: Self.callTimeoutMilliseconds)
        }
        self.logger.debug("deleted secret", metadata: ["store.credential": "\(name)"])
    }

    /// Runs `body`; when it finds the collection locked and a prompt can be shown (and none was dismissed
    /// recently), asks the keyring to unlock and runs `body` once more.
    private func unlockingIfNeeded<Result>(_ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch let error as StoreError where error == StoreError.locked {
            guard self.canPrompt, self.mayPrompt() else { throw error }
            self.logger.info("keyring is locked; asking to unlock it")
            do {
                try self.library.unlockDefault(timeoutMilliseconds: Self.unlockTimeoutMilliseconds)
            } catch let unlockError as StoreError where unlockError == StoreError.dismissed {
                self.lastDismissal.withLock { $0 = .now }
                throw unlockError
            }
            return try body()
        }
    }

    private func mayPrompt() -> Bool {
        self.lastDismissal.withLock { last in
            guard let last else { return true }
            return last.duration(to: .now) >= Self.promptBackoff
        }
    }
}
