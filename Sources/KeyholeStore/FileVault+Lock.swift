import KeyholeCore

/// The passphrase given after start (`keyhole unlock`) and taken back (`keyhole lock`).
extension FileVault {
    /// Whether the daemon can open the vault, read from the vault file as it is now; nil for a vault protected by
    /// its key file (nothing to unlock). A vault that cannot be read counts as existing: its lookups report why.
    public func lockState() -> VaultLockState? {
        self.state.withLock { state in
            let known = state.passphrase != nil
            let document: VaultDocument?
            do {
                document = try self.load()
            } catch {
                return known ? .unlocked : .locked
            }
            switch document?.derivation {
            case .scrypt: return known ? .unlocked : .locked
            case .keyFile: return nil
            case nil: return known ? .new : .unset
            }
        }
    }

    /// Gives the vault its passphrase. An existing vault must open with it: a wrong (or empty) passphrase throws
    /// ``StoreError/wrongPassphrase`` and changes nothing. Without a vault yet, it is the passphrase the vault
    /// will be created with (replacing one given before). A vault protected by its key file throws
    /// ``StoreError/keyMismatch``, whatever the passphrase. Runs scrypt once (about 0.1 s).
    public func unlock(passphrase: [UInt8]) throws -> VaultLockState {
        try self.state.withLock { state in
            let document = try self.load()
            if case .keyFile? = document?.derivation {
                throw StoreError.keyMismatch.with(
                    message: "the file vault at \(self.vaultFile) is protected by its key file \(self.keyFile), not "
                        + "by a passphrase",
                    hint: "there is nothing to unlock: keyhole opens it with the key file"
                )
            }
            guard !passphrase.isEmpty else {
                throw StoreError.wrongPassphrase.with(message: "an empty passphrase opens no vault", hint: "type the passphrase")
            }
            guard let document else {
                self.forgetKey(&state)
                state.passphrase = passphrase
                return .new
            }
            let cipher = VaultCipher(masterKey: try document.derivation.deriveKey(passphrase: passphrase))
            guard cipher.opens(document.check) else {
                throw StoreError.wrongPassphrase.with(
                    message: "that passphrase does not open the file vault at \(self.vaultFile); nothing changed",
                    hint: "try again with the passphrase the vault was created with"
                )
            }
            self.forgetKey(&state)
            state.passphrase = passphrase
            state.derived = (document.derivation, cipher)
            return .unlocked
        }
    }

    /// Forgets the passphrase and what was derived or opened with it: from now on lookups fail with
    /// ``StoreError/vaultLocked`` (or, without a vault yet, the first secret stored creates a key-file vault,
    /// unless ``unlock(passphrase:)`` comes first). A vault protected by its key file throws
    /// ``StoreError/keyMismatch`` when no passphrase is set: its key is on disk, there is nothing to forget.
    public func lock() throws {
        try self.state.withLock { state in
            if case .keyFile? = (try? self.load())?.derivation, state.passphrase == nil {
                throw StoreError.keyMismatch.with(
                    message: "the file vault at \(self.vaultFile) is protected by its key file \(self.keyFile), not "
                        + "by a passphrase",
                    hint: "there is nothing to lock; to protect secrets with a passphrase, move the vault and its key "
                        + "file aside, `keyhole unlock` to choose one, and add the secrets again"
                )
            }
            self.forgetKey(&state)
        }
    }

    /// Drops the passphrase (its bytes overwritten), the key derived from it and the secrets opened with it.
    private func forgetKey(_ state: inout State) {
        if state.passphrase != nil {
            Self.wipe(&state.passphrase!)
        }
        state.passphrase = nil
        state.derived = nil
        state.opened = nil
    }
}
