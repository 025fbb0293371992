/// Which backend holds the secrets.
public enum StoreKind: String, Sendable, Codable, CaseIterable {
    /// Secret Service (gnome-keyring, KeePassXC, …) when the session bus offers it, else the file vault.
    case auto
    case secretService = "secret-service"
    case file
}

/// A place that holds secret values by credential name. Implementations are synchronous and may block
/// (D-Bus round trips, file I/O, key derivation): callers on an event loop must offload.
///
/// Every method throws on any failure to reach the backend; "not found" is an error too, never an empty
/// answer, so that callers fail closed.
public protocol SecretStore: Sendable {
    /// The backend actually in use (never `.auto`).
    var kind: StoreKind { get }

    /// A short human description of the backend's state, e.g. "gnome-keyring, collection unlocked".
    func describe() -> String

    /// Stores (or replaces) the secret of `name`.
    func store(_ secret: Secret, for name: String) throws

    /// The secret of `name`; throws when it is missing or the backend is locked or unreachable.
    func secret(for name: String) throws -> Secret

    /// Deletes the secret of `name`. Deleting a missing secret is not an error.
    func delete(_ name: String) throws

    /// See the extension's default.
    func cachedSecret(for name: String) -> Secret?
}

extension SecretStore {
    /// A secret the store can answer without blocking (from memory, still known to be current), or nil to
    /// ask ``secret(for:)`` off the event loop. Stores that cannot tell cheaply return nil.
    public func cachedSecret(for name: String) -> Secret? { nil }
}
