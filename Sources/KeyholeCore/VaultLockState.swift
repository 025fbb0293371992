/// Whether the daemon can open its passphrase-protected file vault (`keyhole status --json`: `vault_lock`).
/// A vault protected by its key file, and the Secret Service, have no such state.
public enum VaultLockState: String, Codable, Sendable {
    /// The vault exists and the daemon holds its key.
    case unlocked
    /// The vault exists, protected by a passphrase the daemon does not know: `keyhole unlock`.
    case locked
    /// No vault yet, and the daemon knows the passphrase it is to be created with.
    case new
    /// No vault yet and no passphrase: `keyhole unlock` chooses one, otherwise the first secret stored creates a
    /// vault protected by a key file.
    case unset
}
