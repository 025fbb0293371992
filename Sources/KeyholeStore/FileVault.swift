import Crypto
import KeyholeCore
import Synchronization

/// Secrets in one encrypted file, `paths.vaultFile` (format: ``VaultDocument``, `keyhole-vault` version 1:
/// AES-256-GCM over the whole name → secret map).
///
/// The key comes from a passphrase through scrypt (random 16-byte salt; derived once per passphrase and cached,
/// so a lookup costs a file read and one AES-GCM open), or — without a passphrase — from a random 32-byte key
/// file `paths.vaultKeyFile` (0600) created on first write with a one-time warning. A vault made one way never
/// opens the other way. The passphrase is `KEYHOLE_PASSPHRASE` at start, or given later with
/// ``unlock(passphrase:)`` (`keyhole unlock`); until then a passphrase vault is locked: it opens without error,
/// and every lookup and write fails with ``StoreError/vaultLocked``. ``lock()`` forgets it again. Writes are
/// atomic (temporary file, fsync, rename, fsync of the directory); files are 0600 in a 0700 directory. A damaged
/// or tampered vault is an error and is never reset or overwritten. Thread-safe; calls block (file I/O, and
/// scrypt on first use).
public final class FileVault: SecretStore {
    /// scrypt costs: `n` (a power of two), block size `r`, parallelism `p`.
    public struct ScryptParameters: Sendable, Equatable {
        public var n: Int
        public var r: Int
        public var p: Int

        public init(n: Int, r: Int, p: Int) {
            self.n = n
            self.r = r
            self.p = p
        }

        /// N = 2^15, r = 8, p = 1: 32 MiB and roughly 0.1 s per derivation.
        public static let standard = ScryptParameters(n: 1 << 15, r: 8, p: 1)

        /// Bounds for parameters read from a file, so a tampered header cannot demand gigabytes.
        var isReasonable: Bool {
            self.n >= 2 && self.n <= 1 << 22 && self.n & (self.n - 1) == 0 && (1...32).contains(self.r)
                && (1...16).contains(self.p) && 128 * self.r * self.n * self.p <= 1 << 31
        }
    }

    /// The environment variable holding the vault passphrase. An empty value counts as unset.
    public static let passphraseVariable = "KEYHOLE_PASSPHRASE"

    struct State {
        /// nil: a passphrase vault is locked, a new vault gets a key file.
        var passphrase: [UInt8]?
        /// The last scrypt derivation and the cipher it gave.
        var derived: (derivation: VaultKeyDerivation, cipher: VaultCipher)?
        /// The key file's cipher, once read or created.
        var keyFileCipher: VaultCipher?
        /// The last vault contents opened, and the identity of the file they came from. The daemon resolves a
        /// secret per request; while the file is unchanged (same inode, size and times) the request is served
        /// from here instead of reading and decrypting it again. Any change to the file (rotate, rm, another
        /// writer, damage, removal) changes its identity and the next lookup reads it afresh.
        var opened: (identity: VaultFileIdentity, secrets: [String: String])?
    }

    public var kind: StoreKind { .file }
    /// The vault file.
    public let vaultFile: String
    /// The key file used when no passphrase is set.
    public let keyFile: String
    /// Whether a passphrase is known (`KEYHOLE_PASSPHRASE` or ``unlock(passphrase:)``).
    public var usesPassphrase: Bool {
        self.state.withLock { $0.passphrase != nil }
    }

    let directory: String
    private let scrypt: ScryptParameters
    private let warn: @Sendable (String) -> Void
    let state: Mutex<State>

    /// - Parameters:
    ///   - environment: read for `KEYHOLE_PASSPHRASE` only (without it a passphrase vault starts locked).
    ///   - scrypt: costs for a vault created by this instance (an existing vault keeps its own).
    ///   - warn: called once when the key file is created (the message names the file; never a secret).
    public init(
        paths: Paths,
        environment: [String: String],
        scrypt: ScryptParameters = .standard,
        warn: @escaping @Sendable (String) -> Void
    ) {
        self.vaultFile = paths.vaultFile
        self.keyFile = paths.vaultKeyFile
        self.directory = FileSystem.parent(of: paths.vaultFile)
        self.scrypt = scrypt
        self.warn = warn
        let passphrase = environment[Self.passphraseVariable].flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        self.state = Mutex(State(passphrase: passphrase))
    }

    public func describe() -> String {
        switch self.lockState() {
        case .locked:
            return "file vault (passphrase; locked: run `keyhole unlock`) at \(self.vaultFile)"
        case .unlocked, .new:
            return "file vault (passphrase) at \(self.vaultFile)"
        case .unset, nil:
            return "file vault (key file \(self.keyFile)) at \(self.vaultFile)"
        }
    }

    /// Opens an existing vault with the configured key, so a wrong passphrase, a missing key file or a damaged
    /// vault is reported now rather than at the first lookup. A missing vault is fine (it is created on the
    /// first store), and so is a locked one (``lockState()`` says so).
    public func validate() throws {
        try self.state.withLock { state in
            guard let document = try self.load() else { return }
            if case .scrypt = document.derivation, state.passphrase == nil { return }
            _ = try self.cipher(opening: document, state: &state).open(document, path: self.vaultFile)
        }
    }

    public func store(_ secret: Secret, for name: String) throws {
        try self.state.withLock { state in
            try self.withLockedDirectory {
                var secrets: [String: String] = [:]
                let derivation: VaultKeyDerivation
                let cipher: VaultCipher
                if let document = try self.load() {
                    cipher = try self.cipher(opening: document, state: &state)
                    secrets = try cipher.open(document, path: self.vaultFile)
                    derivation = document.derivation
                } else {
                    (derivation, cipher) = try self.newKey(state: &state)
                }
                secrets[name] = secret.value
                state.opened = nil
                let document = try cipher.seal(secrets, derivation: derivation)
                try FileSystem.writeAtomically(try document.encoded(), to: self.vaultFile, mode: 0o600)
            }
        }
    }

    public func secret(for name: String) throws -> Secret {
        try self.state.withLock { state in
            let identity = VaultFileIdentity(path: self.vaultFile)
            let secrets: [String: String]
            if let identity, let opened = state.opened, opened.identity == identity {
                secrets = opened.secrets
            } else {
                state.opened = nil
                guard let document = try self.load() else { throw Self.notFound(name) }
                secrets = try self.cipher(opening: document, state: &state).open(document, path: self.vaultFile)
                if let identity { state.opened = (identity, secrets) }
            }
            guard let value = secrets[name] else { throw Self.notFound(name) }
            return Secret(value)
        }
    }

    /// The secret from the contents last opened, when the vault file is unchanged since and no other call holds
    /// the vault; never blocks (one `stat`), so the proxy may ask on its event loop before offloading.
    public func cachedSecret(for name: String) -> Secret? {
        guard let identity = VaultFileIdentity(path: self.vaultFile) else { return nil }
        return self.state.withLockIfAvailable { state -> Secret? in
            guard let opened = state.opened, opened.identity == identity, let value = opened.secrets[name] else {
                return nil
            }
            return Secret(value)
        } ?? nil
    }

    public func delete(_ name: String) throws {
        try self.state.withLock { state in
            guard try self.load() != nil else { return }
            try self.withLockedDirectory {
                // Read again under the directory lock: another writer may have replaced the file.
                guard let document = try self.load() else { return }
                let cipher = try self.cipher(opening: document, state: &state)
                var secrets = try cipher.open(document, path: self.vaultFile)
                guard secrets.removeValue(forKey: name) != nil else { return }
                state.opened = nil
                let replacement = try cipher.seal(secrets, derivation: document.derivation)
                try FileSystem.writeAtomically(try replacement.encoded(), to: self.vaultFile, mode: 0o600)
            }
        }
    }

    // MARK: - Keys

    func load() throws -> VaultDocument? {
        guard let bytes = try Self.readPrivateFile(self.vaultFile) else { return nil }
        return try VaultDocument(decoding: bytes, path: self.vaultFile)
    }

    /// The cipher for an existing document, checked against its `check` value.
    private func cipher(opening document: VaultDocument, state: inout State) throws -> VaultCipher {
        switch document.derivation {
        case .scrypt:
            guard let passphrase = state.passphrase else {
                throw StoreError.vaultLocked.with(
                    message: "the file vault at \(self.vaultFile) is locked (protected by a passphrase the daemon "
                        + "has not been given)"
                )
            }
            let cipher: VaultCipher
            if let derived = state.derived, derived.derivation == document.derivation {
                cipher = derived.cipher
            } else {
                cipher = VaultCipher(masterKey: try document.derivation.deriveKey(passphrase: passphrase))
                state.derived = (document.derivation, cipher)
            }
            guard cipher.opens(document.check) else {
                throw StoreError.wrongPassphrase.with(
                    message: "the passphrase does not open the file vault at \(self.vaultFile)"
                )
            }
            return cipher
        case .keyFile:
            guard state.passphrase == nil else {
                throw StoreError.keyMismatch.with(
                    message: "the file vault at \(self.vaultFile) is protected by the key file \(self.keyFile), "
                        + "but a passphrase is set (\(Self.passphraseVariable) or `keyhole unlock`)",
                    hint: "unset \(Self.passphraseVariable), or run `keyhole lock`, to open it with the key file (a "
                        + "passphrase can only protect a new vault)"
                )
            }
            let cipher = try self.keyFileCipher(state: &state, create: false)
            guard cipher.opens(document.check) else {
                throw StoreError.wrongKeyFile.with(
                    message: "the key file \(self.keyFile) does not open the file vault at \(self.vaultFile)"
                )
            }
            return cipher
        }
    }

    /// The key of a vault about to be created.
    private func newKey(state: inout State) throws -> (VaultKeyDerivation, VaultCipher) {
        if let passphrase = state.passphrase {
            let derivation = VaultKeyDerivation.newScrypt(self.scrypt)
            let cipher = VaultCipher(masterKey: try derivation.deriveKey(passphrase: passphrase))
            state.derived = (derivation, cipher)
            return (derivation, cipher)
        }
        return (.keyFile, try self.keyFileCipher(state: &state, create: true))
    }

    private func keyFileCipher(state: inout State, create: Bool) throws -> VaultCipher {
        if let cipher = state.keyFileCipher { return cipher }
        var bytes: [UInt8]
        if let existing = try Self.readPrivateFile(self.keyFile) {
            bytes = existing
        } else if create {
            var generator = SystemRandomNumberGenerator()
            bytes = (0..<VaultKeyDerivation.keyByteCount).map { _ in
                UInt8.random(in: .min ... .max, using: &generator)
            }
            let created = try StoreError.mappingFileErrors {
                try FileSystem.createExclusively(bytes, at: self.keyFile, mode: 0o600)
            }
            if created {
                self.warn(
                    "no passphrase: vault key kept in \(self.keyFile); anyone who can read it can decrypt the "
                        + "vault; to protect a new vault with a passphrase instead, run `keyhole unlock` before "
                        + "the first `keyhole add` (or set \(Self.passphraseVariable))"
                )
            } else if let existing = try Self.readPrivateFile(self.keyFile) {
                // Created by someone else in the meantime: use theirs.
                bytes = existing
            } else {
                throw StoreError.keyFileMissing.with(message: "the vault key file \(self.keyFile) vanished")
            }
        } else {
            throw StoreError.keyFileMissing.with(
                message: "the file vault at \(self.vaultFile) needs its key file \(self.keyFile), which is missing"
            )
        }
        defer { Self.wipe(&bytes) }
        guard bytes.count == VaultKeyDerivation.keyByteCount else {
            throw StoreError.wrongKeyFile.with(
                message: "the vault key file \(self.keyFile) is not a keyhole key (\(bytes.count) bytes, expected 32)"
            )
        }
        let cipher = VaultCipher(masterKey: SymmetricKey(data: bytes))
        state.keyFileCipher = cipher
        return cipher
    }

    private static func notFound(_ name: String) -> StoreError {
        StoreError.notFound.with(
            message: "no secret named \(name) in the file vault",
            hint: "add it with `keyhole add \(name)`"
        )
    }
}
