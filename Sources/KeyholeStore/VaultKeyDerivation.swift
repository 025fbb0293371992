import Crypto
import CryptoExtras

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where the file vault's 256-bit master key comes from.
enum VaultKeyDerivation: Sendable, Equatable {
    /// scrypt over `KEYHOLE_PASSPHRASE` with this salt and these costs.
    case scrypt(salt: [UInt8], parameters: FileVault.ScryptParameters)
    /// A random key kept in the vault key file.
    case keyFile

    static let keyByteCount = 32
    static let saltByteCount = 16

    /// A fresh scrypt derivation with a random salt.
    static func newScrypt(_ parameters: FileVault.ScryptParameters) -> VaultKeyDerivation {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<Self.saltByteCount).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return .scrypt(salt: salt, parameters: parameters)
    }

    /// The master key from a passphrase (scrypt only).
    func deriveKey(passphrase: [UInt8]) throws -> SymmetricKey {
        guard case .scrypt(let salt, let parameters) = self else {
            preconditionFailure("deriveKey(passphrase:) called for a key-file vault")
        }
        do {
            return try KDF.Scrypt.deriveKey(
                from: passphrase,
                salt: salt,
                outputByteCount: Self.keyByteCount,
                rounds: parameters.n,
                blockSize: parameters.r,
                parallelism: parameters.p
            )
        } catch {
            throw StoreError.io.with(message: "scrypt key derivation failed", hint: "check available memory")
        }
    }

    /// A human name, used in descriptions and errors.
    var name: String {
        switch self {
        case .scrypt: return "passphrase"
        case .keyFile: return "key file"
        }
    }

    /// The text authenticated with the ciphertext, so that the key parameters cannot be swapped unnoticed.
    var associatedData: [UInt8] {
        switch self {
        case .scrypt(let salt, let parameters):
            let salt = Data(salt).base64EncodedString()
            let costs = "n=\(parameters.n) r=\(parameters.r) p=\(parameters.p)"
            return Array("keyhole-vault/1 kdf=scrypt salt=\(salt) \(costs)".utf8)
        case .keyFile:
            return Array("keyhole-vault/1 kdf=keyfile".utf8)
        }
    }
}
