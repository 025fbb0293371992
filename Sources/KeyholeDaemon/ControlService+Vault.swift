import KeyholeControl
import KeyholeCore
import KeyholeStore

/// `keyhole unlock` and `keyhole lock`: the file vault's passphrase, given to the daemon over the control socket
/// (same uid, checked with `SO_PEERCRED`) instead of living in a shell's environment. Never logged.
extension ControlService {
    func unlock(_ request: ControlRequest, peer: ControlPeer) async throws -> ControlResponse {
        // Without a passphrase the answer says why this store has none to take (or that it is empty).
        let passphrase = Array((request.passphrase ?? "").utf8)
        let vault = try self.passphraseVault()
        let state: VaultLockState
        do {
            state = try await self.threadPool.runIfActive { try vault.unlock(passphrase: passphrase) }
        } catch let error as StoreError where error == StoreError.wrongPassphrase {
            self.logger.info("vault unlock refused", metadata: ["reason": "wrong passphrase", "peer.pid": "\(peer.pid)"])
            throw error
        }
        let event = state == .new ? "vault passphrase set for the new vault" : "vault unlocked"
        self.logger.info("\(event)", metadata: ["peer.pid": "\(peer.pid)"])
        return self.statusResponse()
    }

    func lock(peer: ControlPeer) async throws -> ControlResponse {
        let vault = try self.passphraseVault()
        try await self.threadPool.runIfActive { try vault.lock() }
        self.logger.info("vault locked", metadata: ["peer.pid": "\(peer.pid)"])
        return self.statusResponse()
    }

    /// The store, when it is the file vault: only that has a passphrase.
    private func passphraseVault() throws -> FileVault {
        guard let vault = self.store as? FileVault else { throw DaemonError.noPassphrase(self.store.describe()) }
        return vault
    }
}
