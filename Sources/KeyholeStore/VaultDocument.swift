import Crypto

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The on-disk format of the file vault, `keyhole-vault` version 1: one JSON object
///
/// ```json
/// {
///   "format": "keyhole-vault",
///   "version": 1,
///   "kdf": { "name": "scrypt", "salt": "<base64, 16 bytes>", "n": 32768, "r": 8, "p": 1 },
///   "check": "<base64, 16 bytes>",
///   "sealed": "<base64: 12-byte nonce | ciphertext | 16-byte tag>"
/// }
/// ```
///
/// or with `"kdf": { "name": "keyfile" }` when the master key is the random 32 bytes of the vault key file.
/// From the master key K, HKDF-SHA256 derives the AES-256-GCM key (info `keyhole-vault/1 encryption`) and the
/// `check` value (info `keyhole-vault/1 key check`), which tells a wrong key apart from a damaged vault.
/// `sealed` is one AES-256-GCM box of the whole name → secret map (JSON `{"secrets":{"NAME":"SECRET",...}}`),
/// authenticated together with the `kdf` parameters.
struct VaultDocument: Sendable {
    static let format = "keyhole-vault"
    static let version = 1

    var derivation: VaultKeyDerivation
    var check: [UInt8]
    var sealed: [UInt8]

    /// The JSON layout.
    private struct Wire: Codable {
        struct KDF: Codable {
            var name: String
            var salt: String?
            var n: Int?
            var r: Int?
            var p: Int?
        }

        var format: String
        var version: Int
        var kdf: KDF
        var check: String
        var sealed: String
    }

    init(derivation: VaultKeyDerivation, check: [UInt8], sealed: [UInt8]) {
        self.derivation = derivation
        self.check = check
        self.sealed = sealed
    }

    /// Parses a vault file; anything unexpected is ``StoreError/vaultCorrupt``.
    init(decoding bytes: [UInt8], path: String) throws {
        func corrupt(_ why: String) -> StoreError {
            StoreError.vaultCorrupt.with(message: "the file vault at \(path) is damaged: \(why)")
        }
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: Data(bytes))
        } catch {
            throw corrupt("it is not a keyhole vault (invalid JSON)")
        }
        guard wire.format == Self.format else { throw corrupt("it is not a keyhole vault") }
        guard wire.version == Self.version else {
            throw StoreError.vaultCorrupt.with(
                message: "the file vault at \(path) has version \(wire.version), this keyhole reads version 1",
                hint: "use the keyhole version that wrote it"
            )
        }
        switch wire.kdf.name {
        case "scrypt":
            guard let salt = wire.kdf.salt.flatMap({ Data(base64Encoded: $0) }), salt.count >= 16,
                let n = wire.kdf.n, let r = wire.kdf.r, let p = wire.kdf.p
            else { throw corrupt("incomplete scrypt parameters") }
            let parameters = FileVault.ScryptParameters(n: n, r: r, p: p)
            guard parameters.isReasonable else { throw corrupt("unreasonable scrypt parameters") }
            self.derivation = .scrypt(salt: Array(salt), parameters: parameters)
        case "keyfile":
            self.derivation = .keyFile
        default:
            throw corrupt("unknown key derivation \"\(wire.kdf.name)\"")
        }
        guard let check = Data(base64Encoded: wire.check), check.count == VaultCipher.checkByteCount else {
            throw corrupt("invalid key check value")
        }
        guard let sealed = Data(base64Encoded: wire.sealed), sealed.count >= 28 else {
            throw corrupt("invalid sealed box")
        }
        self.check = Array(check)
        self.sealed = Array(sealed)
    }

    /// The JSON bytes of the file.
    func encoded() throws -> [UInt8] {
        let kdf: Wire.KDF
        switch self.derivation {
        case .scrypt(let salt, let parameters):
            kdf = Wire.KDF(
                name: "scrypt",
                salt: Data(salt).base64EncodedString(),
                n: parameters.n,
                r: parameters.r,
                p: parameters.p
            )
        case .keyFile:
            kdf = Wire.KDF(name: "keyfile")
        }
        let wire = Wire(
            format: Self.format,
            version: Self.version,
            kdf: kdf,
            check: Data(self.check).base64EncodedString(),
            sealed: Data(self.sealed).base64EncodedString()
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            return Array(try encoder.encode(wire)) + [UInt8(ascii: "\n")]
        } catch {
            throw StoreError.io.with(message: "cannot encode the vault")
        }
    }
}
