import KeyholeCore

/// Why a secret store could not do what was asked. Equality compares the kind of failure only, so callers can
/// match `error == StoreError.locked` whatever the message says. Neither ``message`` nor ``hint`` ever contains
/// a secret value.
public struct StoreError: HintedError, Sendable, Hashable {
    private enum Code: Sendable, Hashable {
        case libsecretMissing
        case noProvider
        case locked
        case noCollection
        case dismissed
        case timedOut
        case notFound
        case secretServiceFailure
        case vaultCorrupt
        case vaultLocked
        case wrongPassphrase
        case wrongKeyFile
        case keyMismatch
        case keyFileMissing
        case invalidSecret
        case io
    }

    private let code: Code
    /// What went wrong, for people.
    public let message: String
    /// What to do about it, for people.
    public let hint: String?

    private init(_ code: Code, _ message: String, hint: String?) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    /// The same kind of error with a more specific message (and hint, when given).
    func with(message: String, hint: String? = nil) -> StoreError {
        StoreError(self.code, message, hint: hint ?? self.hint)
    }

    public static func == (lhs: StoreError, rhs: StoreError) -> Bool {
        lhs.code == rhs.code
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
    }

    public var description: String {
        guard let hint = self.hint else { return self.message }
        return "\(self.message) (hint: \(hint))"
    }

    private static let useFileStore = "or use the file vault (--store file)"

    /// libsecret could not be loaded (not installed).
    public static let libsecretMissing = StoreError(
        .libsecretMissing,
        "libsecret is not installed",
        hint: "install it (Debian: apt install libsecret-1-0 gnome-keyring) \(useFileStore)"
    )
    /// No session bus, or nothing on it provides `org.freedesktop.secrets`.
    public static let noProvider = StoreError(
        .noProvider,
        "no Secret Service provider on the session bus",
        hint: "run keyhole inside a desktop session with a keyring (gnome-keyring, KeePassXC, ...) \(useFileStore)"
    )
    /// The default collection is locked.
    public static let locked = StoreError(
        .locked,
        "the keyring (Secret Service default collection) is locked",
        hint: "unlock your keyring (e.g. log in to the desktop, or `gnome-keyring-daemon --unlock`, or seahorse) "
            + useFileStore
    )
    /// The Secret Service has no default collection and could not create one (creating needs a prompt).
    public static let noCollection = StoreError(
        .noCollection,
        "the keyring has no default collection",
        hint: "create the login keyring: log in to the desktop once, or run `gnome-keyring-daemon --unlock` and "
            + "type a password on its standard input, \(useFileStore)"
    )
    /// An unlock or create prompt was dismissed, or could not be shown.
    public static let dismissed = StoreError(
        .dismissed,
        "the keyring prompt was dismissed",
        hint: "unlock the keyring when it asks (or unlock it beforehand, e.g. with seahorse) \(useFileStore)"
    )
    /// The Secret Service did not answer in time.
    public static let timedOut = StoreError(
        .timedOut,
        "the Secret Service did not answer in time",
        hint: "check that the keyring daemon is running and not waiting on a prompt, \(useFileStore)"
    )
    /// No secret is stored under that name.
    public static let notFound = StoreError(
        .notFound,
        "no secret is stored under that name",
        hint: "add it with `keyhole add NAME`"
    )
    /// Any other failure of the Secret Service.
    public static let secretServiceFailure = StoreError(
        .secretServiceFailure,
        "the Secret Service failed",
        hint: "check the keyring daemon's log \(useFileStore)"
    )
    /// The vault file is not a readable keyhole vault, or its contents fail authentication.
    public static let vaultCorrupt = StoreError(
        .vaultCorrupt,
        "the file vault is damaged or was modified",
        hint: "restore the vault from a backup; keyhole never overwrites a damaged vault (move it aside to start "
            + "a new, empty one)"
    )
    /// The vault is protected by a passphrase the daemon has not been given (yet, or since `keyhole lock`).
    public static let vaultLocked = StoreError(
        .vaultLocked,
        "the file vault is locked",
        hint: "run `keyhole unlock` (it asks for the vault's passphrase), or start the daemon with KEYHOLE_PASSPHRASE"
    )
    /// The passphrase given (`KEYHOLE_PASSPHRASE` or `keyhole unlock`) is not the one the vault was created with.
    public static let wrongPassphrase = StoreError(
        .wrongPassphrase,
        "the passphrase does not open the file vault",
        hint: "give the passphrase the vault was created with (`keyhole unlock`, or KEYHOLE_PASSPHRASE)"
    )
    /// The vault key file is not the key the vault was created with.
    public static let wrongKeyFile = StoreError(
        .wrongKeyFile,
        "the vault key file does not open the file vault",
        hint: "restore the key file the vault was created with"
    )
    /// The vault was made with a key file but a passphrase is set.
    public static let keyMismatch = StoreError(
        .keyMismatch,
        "the file vault was created with a different kind of key",
        hint: "set or unset KEYHOLE_PASSPHRASE to match how the vault was created"
    )
    /// The vault was made with a key file that no longer exists.
    public static let keyFileMissing = StoreError(
        .keyFileMissing,
        "the vault key file is missing",
        hint: "restore the key file from a backup; without it the vault cannot be opened"
    )
    /// The secret cannot be stored by this backend (e.g. it contains a NUL byte).
    public static let invalidSecret = StoreError(
        .invalidSecret,
        "the secret cannot be stored",
        hint: nil
    )
    /// A file operation failed.
    public static let io = StoreError(
        .io,
        "a file operation failed",
        hint: "check the permissions and free space of the keyhole data directory"
    )
}
