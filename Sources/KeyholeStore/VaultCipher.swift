import Crypto

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// AES-256-GCM sealing of the vault's name → secret map under keys derived from the master key (see
/// ``VaultDocument`` for the format).
struct VaultCipher: Sendable {
    static let checkByteCount = 16

    private struct Payload: Codable {
        var secrets: [String: String]
    }

    private let encryptionKey: SymmetricKey
    /// The value stored in the vault's `check` field for this master key.
    let check: [UInt8]

    init(masterKey: SymmetricKey) {
        self.encryptionKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: masterKey,
            info: Array("keyhole-vault/1 encryption".utf8),
            outputByteCount: 32
        )
        let check = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: masterKey,
            info: Array("keyhole-vault/1 key check".utf8),
            outputByteCount: Self.checkByteCount
        )
        self.check = check.withUnsafeBytes { Array($0) }
    }

    /// Whether `check` (from a vault file) belongs to this key, compared in constant time.
    func opens(_ check: [UInt8]) -> Bool {
        guard check.count == self.check.count else { return false }
        var difference: UInt8 = 0
        for index in check.indices {
            difference |= check[index] ^ self.check[index]
        }
        return difference == 0
    }

    /// A new document holding `secrets` (fresh random nonce).
    func seal(_ secrets: [String: String], derivation: VaultKeyDerivation) throws -> VaultDocument {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var plaintext: Data
        do {
            plaintext = try encoder.encode(Payload(secrets: secrets))
        } catch {
            throw StoreError.io.with(message: "cannot encode the vault contents")
        }
        defer { plaintext.resetBytes(in: 0..<plaintext.count) }
        do {
            let box = try AES.GCM.seal(plaintext, using: self.encryptionKey, authenticating: derivation.associatedData)
            guard let combined = box.combined else {
                throw StoreError.io.with(message: "cannot seal the vault")
            }
            return VaultDocument(derivation: derivation, check: self.check, sealed: Array(combined))
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.io.with(message: "cannot seal the vault")
        }
    }

    /// The map inside `document`. The caller has checked ``opens(_:)``, so a failure here means the file was
    /// damaged or tampered with.
    func open(_ document: VaultDocument, path: String) throws -> [String: String] {
        var plaintext: Data
        do {
            let box = try AES.GCM.SealedBox(combined: document.sealed)
            plaintext = try AES.GCM.open(
                box,
                using: self.encryptionKey,
                authenticating: document.derivation.associatedData
            )
        } catch {
            throw StoreError.vaultCorrupt.with(
                message: "the file vault at \(path) fails authentication: it was modified or is damaged"
            )
        }
        defer { plaintext.resetBytes(in: 0..<plaintext.count) }
        do {
            return try JSONDecoder().decode(Payload.self, from: plaintext).secrets
        } catch {
            throw StoreError.vaultCorrupt.with(message: "the file vault at \(path) holds unreadable contents")
        }
    }
}
