/// How the proxy obtains a secret at the moment a request needs it. Implementations throw on any failure
/// (locked keyring, missing item, unreadable vault) and the proxy then fails closed.
public protocol SecretResolver: Sendable {
    func secret(for credential: String) async throws -> Secret

    /// A secret available at once without blocking, or nil (then ``secret(for:)`` is asked).
    func cachedSecret(for credential: String) -> Secret?
}

extension SecretResolver {
    public func cachedSecret(for credential: String) -> Secret? { nil }
}
