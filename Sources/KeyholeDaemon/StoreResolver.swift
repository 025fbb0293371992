import KeyholeCore
import NIOPosix

/// Resolves secrets from the store on a thread pool, never on an event loop. Each request reads the store
/// afresh, so `rotate` takes effect on the next request and a store that becomes unreachable fails closed.
struct StoreResolver: SecretResolver {
    let store: any SecretStore
    let threadPool: NIOThreadPool

    func cachedSecret(for credential: String) -> Secret? {
        guard let secret = self.store.cachedSecret(for: credential), !secret.isEmpty else { return nil }
        return secret
    }

    func secret(for credential: String) async throws -> Secret {
        let store = self.store
        let secret = try await self.threadPool.runIfActive {
            try store.secret(for: credential)
        }
        guard !secret.isEmpty else { throw DaemonError.emptySecret(credential) }
        return secret
    }
}
