import Foundation
import KeyholeCore
import Testing

@testable import KeyholeStore

/// Cheap scrypt costs for tests that create many vaults; one test uses the standard costs.
let fastScrypt = FileVault.ScryptParameters(n: 1 << 10, r: 8, p: 1)

/// A vault in `directory`, opened with `passphrase` as `KEYHOLE_PASSPHRASE` (nil: none).
func vault(
    _ directory: TemporaryDirectory,
    passphrase: String? = "correct horse",
    warnings: WarningRecorder = WarningRecorder()
) -> FileVault {
    var environment: [String: String] = [:]
    environment["KEYHOLE_PASSPHRASE"] = passphrase
    return FileVault(paths: directory.paths, environment: environment, scrypt: fastScrypt, warn: warnings.callback)
}

@Suite("FileVault")
struct FileVaultTests {
    @Test func roundTripAcrossInstances() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = vault(directory)
        try first.store(Secret("ghp_first"), for: "github")
        try first.store(Secret("sk_live_second"), for: "stripe")
        #expect(try first.secret(for: "github") == Secret("ghp_first"))
        #expect(try first.secret(for: "stripe") == Secret("sk_live_second"))

        let second = vault(directory)
        #expect(try second.secret(for: "github") == Secret("ghp_first"))
        #expect(try second.secret(for: "stripe") == Secret("sk_live_second"))
        #expect(second.kind == .file)
        #expect(second.describe() == "file vault (passphrase) at \(directory.paths.vaultFile)")
    }

    @Test func standardScryptCostsRoundTrip() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = FileVault(
            paths: directory.paths,
            environment: ["KEYHOLE_PASSPHRASE": "pw"],
            warn: { _ in }
        )
        try store.store(Secret("value"), for: "name")
        #expect(try store.secret(for: "name") == Secret("value"))
        let json = try #require(Files.bytes(directory.paths.vaultFile))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
        #expect(object["format"] as? String == "keyhole-vault")
        #expect(object["version"] as? Int == 1)
        let kdf = try #require(object["kdf"] as? [String: Any])
        #expect(kdf["name"] as? String == "scrypt")
        #expect(kdf["n"] as? Int == 1 << 15)
        #expect(kdf["r"] as? Int == 8)
        #expect(kdf["p"] as? Int == 1)
        let salt = try #require((kdf["salt"] as? String).flatMap { Data(base64Encoded: $0) })
        #expect(salt.count >= 16)
    }

    @Test func unicodeAndLongSecrets() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = vault(directory)
        let long = String(repeating: "xY9+/=", count: 5000)
        try store.store(Secret("pässwörd \u{1F511} \"quoted\" \\ \n newline"), for: "unicode")
        try store.store(Secret(long), for: "long")
        #expect(try vault(directory).secret(for: "unicode") == Secret("pässwörd \u{1F511} \"quoted\" \\ \n newline"))
        #expect(try vault(directory).secret(for: "long") == Secret(long))
    }

    @Test func replaceKeepsOthers() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = vault(directory)
        try store.store(Secret("one"), for: "a")
        try store.store(Secret("other"), for: "b")
        try store.store(Secret("two"), for: "a")
        #expect(try store.secret(for: "a") == Secret("two"))
        #expect(try vault(directory).secret(for: "a") == Secret("two"))
        #expect(try store.secret(for: "b") == Secret("other"))
    }

    @Test func deleteRemovesOnlyThatName() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = vault(directory)
        try store.delete("nothing-yet")  // no vault at all: fine
        try store.store(Secret("one"), for: "a")
        try store.store(Secret("two"), for: "b")
        try store.delete("a")
        #expect(throws: StoreError.notFound) { try store.secret(for: "a") }
        #expect(throws: StoreError.notFound) { try vault(directory).secret(for: "a") }
        #expect(try store.secret(for: "b") == Secret("two"))
        try store.delete("a")  // already gone: fine
    }

    @Test func missingNameIsNotFound() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = vault(directory)
        #expect(throws: StoreError.notFound) { try store.secret(for: "absent") }
        #expect(!FileManager.default.fileExists(atPath: directory.paths.vaultFile))
        try store.store(Secret("x"), for: "present")
        let error = #expect(throws: StoreError.self) { try store.secret(for: "absent") }
        #expect(error == StoreError.notFound)
        #expect(error?.message.contains("absent") == true)
    }

    @Test func wrongPassphraseIsDistinctAndChangesNothing() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try vault(directory, passphrase: "right").store(Secret("value"), for: "name")
        let before = Files.bytes(directory.paths.vaultFile)
        let wrong = vault(directory, passphrase: "wrong")
        #expect(throws: StoreError.wrongPassphrase) { try wrong.secret(for: "name") }
        #expect(throws: StoreError.wrongPassphrase) { try wrong.store(Secret("other"), for: "name") }
        #expect(throws: StoreError.wrongPassphrase) { try wrong.delete("name") }
        #expect(throws: StoreError.wrongPassphrase) { try wrong.validate() }
        #expect(Files.bytes(directory.paths.vaultFile) == before)
        #expect(try vault(directory, passphrase: "right").secret(for: "name") == Secret("value"))
    }

    @Test func tamperedCiphertextIsAnErrorAndTheFileIsLeftAlone() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = vault(directory)
        try store.store(Secret("value"), for: "name")
        let path = directory.paths.vaultFile
        let original = try #require(Files.bytes(path))
        var object = try #require(try JSONSerialization.jsonObject(with: Data(original)) as? [String: Any])
        var sealed = try #require((object["sealed"] as? String).flatMap { Data(base64Encoded: $0) })
        sealed[sealed.count / 2] ^= 0x01
        object["sealed"] = sealed.base64EncodedString()
        let tampered = Array(try JSONSerialization.data(withJSONObject: object))
        try Files.write(path, tampered)

        for candidate in [store, vault(directory)] {
            #expect(throws: StoreError.vaultCorrupt) { try candidate.secret(for: "name") }
            #expect(throws: StoreError.vaultCorrupt) { try candidate.store(Secret("new"), for: "other") }
            #expect(throws: StoreError.vaultCorrupt) { try candidate.delete("name") }
        }
        #expect(Files.bytes(path) == tampered)
    }

    @Test func damagedJSONIsAnErrorAndTheFileIsLeftAlone() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = vault(directory)
        try store.store(Secret("value"), for: "name")
        let path = directory.paths.vaultFile
        var bytes = try #require(Files.bytes(path))
        bytes.removeLast(bytes.count / 3)
        try Files.write(path, bytes)
        #expect(throws: StoreError.vaultCorrupt) { try store.secret(for: "name") }
        #expect(throws: StoreError.vaultCorrupt) { try store.store(Secret("new"), for: "name") }
        #expect(
            throws: StoreError.vaultCorrupt,
            performing: {
                try StoreFactory.open(
                    kind: .file,
                    paths: directory.paths,
                    environment: ["KEYHOLE_PASSPHRASE": "correct horse"],
                    logger: quietLogger,
                    warn: { _ in }
                )
            }
        )
        #expect(Files.bytes(path) == bytes)
    }

    @Test func keyFileModeCreatesA0600KeyAndWarnsOnce() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let warnings = WarningRecorder()
        let store = vault(directory, passphrase: nil, warnings: warnings)
        let paths = directory.paths
        #expect(store.describe() == "file vault (key file \(paths.vaultKeyFile)) at \(paths.vaultFile)")
        #expect(throws: StoreError.notFound) { try store.secret(for: "a") }
        #expect(!FileManager.default.fileExists(atPath: directory.paths.vaultKeyFile))  // not created by a read

        try store.store(Secret("one"), for: "a")
        try store.store(Secret("two"), for: "b")
        #expect(warnings.messages.count == 1)
        let warning = try #require(warnings.messages.first)
        #expect(warning.contains(directory.paths.vaultKeyFile))
        #expect(warning.contains("KEYHOLE_PASSPHRASE"))
        #expect(Files.mode(directory.paths.vaultKeyFile) == 0o600)
        #expect(Files.bytes(directory.paths.vaultKeyFile)?.count == 32)

        let laterWarnings = WarningRecorder()
        let later = vault(directory, passphrase: nil, warnings: laterWarnings)
        #expect(try later.secret(for: "a") == Secret("one"))
        try later.store(Secret("three"), for: "c")
        #expect(laterWarnings.messages.isEmpty)
        #expect(Files.bytes(directory.paths.vaultKeyFile)?.count == 32)
    }

    @Test func emptyPassphraseMeansKeyFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = vault(directory, passphrase: "")
        #expect(!store.usesPassphrase)
    }

    @Test func filesAre0600InA0700Directory() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = directory.paths.dataDirectory
        try vault(directory).store(Secret("value"), for: "name")
        #expect(Files.mode(data) == 0o700)
        #expect(Files.mode(directory.paths.vaultFile) == 0o600)
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: data) == ["vault.json"])

        // A looser directory is tightened on the next write; a looser vault file when it is read.
        chmod(data, 0o755)
        chmod(directory.paths.vaultFile, 0o644)
        #expect(try vault(directory).secret(for: "name") == Secret("value"))
        #expect(Files.mode(directory.paths.vaultFile) == 0o600)
        try vault(directory).store(Secret("value2"), for: "name")
        #expect(Files.mode(data) == 0o700)
        #expect(Files.mode(directory.paths.vaultFile) == 0o600)
    }

    @Test func passphraseAndKeyFileVaultsDoNotOpenEachOther() throws {
        let withKeyFile = try TemporaryDirectory()
        defer { withKeyFile.remove() }
        try vault(withKeyFile, passphrase: nil).store(Secret("value"), for: "name")
        let passphraseError = #expect(throws: StoreError.keyMismatch) {
            try vault(withKeyFile, passphrase: "something").secret(for: "name")
        }
        #expect(passphraseError?.hint?.contains("unset KEYHOLE_PASSPHRASE") == true)
        #expect(throws: StoreError.keyMismatch) {
            try vault(withKeyFile, passphrase: "something").store(Secret("x"), for: "name")
        }

        let withPassphrase = try TemporaryDirectory()
        defer { withPassphrase.remove() }
        try vault(withPassphrase, passphrase: "pw").store(Secret("value"), for: "name")
        // Without its passphrase a passphrase vault is locked (`keyhole unlock`), never opened with a key file.
        let lockedError = #expect(throws: StoreError.vaultLocked) {
            try vault(withPassphrase, passphrase: nil).secret(for: "name")
        }
        #expect(lockedError?.hint?.contains("keyhole unlock") == true)
        // Trying to write to it without a passphrase must not create a key file either.
        #expect(throws: StoreError.vaultLocked) {
            try vault(withPassphrase, passphrase: nil).store(Secret("x"), for: "n")
        }
        #expect(!FileManager.default.fileExists(atPath: withPassphrase.paths.vaultKeyFile))
    }

    @Test func missingOrReplacedKeyFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try vault(directory, passphrase: nil).store(Secret("value"), for: "name")
        let before = Files.bytes(directory.paths.vaultFile)
        let key = try #require(Files.bytes(directory.paths.vaultKeyFile))

        try FileManager.default.removeItem(atPath: directory.paths.vaultKeyFile)
        #expect(throws: StoreError.keyFileMissing) { try vault(directory, passphrase: nil).secret(for: "name") }
        // A write must not invent a new key for the existing vault.
        #expect(throws: StoreError.keyFileMissing) {
            try vault(directory, passphrase: nil).store(Secret("x"), for: "y")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.paths.vaultKeyFile))

        try Files.write(directory.paths.vaultKeyFile, key.map { $0 ^ 0xff })
        #expect(throws: StoreError.wrongKeyFile) { try vault(directory, passphrase: nil).secret(for: "name") }
        #expect(Files.bytes(directory.paths.vaultFile) == before)
    }

    @Test func secretNeverAppearsInPlaintext() throws {
        let secret = "plaintext-canary-7f3e9a1c"
        let encodings = [
            Array(secret.utf8),
            Array(Data(secret.utf8).base64EncodedString().dropLast(2).utf8),
        ]
        for passphrase in ["pw", nil] as [String?] {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try vault(directory, passphrase: passphrase).store(Secret(secret), for: "canary")
            for file in [directory.paths.vaultFile, directory.paths.vaultKeyFile] {
                guard let bytes = Files.bytes(file) else { continue }
                for encoding in encodings {
                    #expect(!contains(bytes, encoding), "the secret is readable in \(file)")
                }
            }
        }
    }

    @Test func concurrentWritersLoseNothing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let shared = vault(directory)
        try shared.store(Secret("seed"), for: "seed")  // derive the key once up front
        await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<16 {
                group.addTask {
                    // Half through the shared instance, half through instances of their own (directory lock).
                    let store = index.isMultiple(of: 2) ? shared : vault(directory)
                    try store.store(Secret("value-\(index)"), for: "name-\(index)")
                }
            }
        }
        let reader = vault(directory)
        for index in 0..<16 {
            #expect(try reader.secret(for: "name-\(index)") == Secret("value-\(index)"))
        }
    }

    @Test func factoryOpensTheVaultAndChecksThePassphraseEarly() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try StoreFactory.open(
            kind: .file,
            paths: directory.paths,
            environment: ["KEYHOLE_PASSPHRASE": "pw"],
            logger: quietLogger,
            warn: { _ in }
        )
        #expect(store.kind == .file)
        try store.store(Secret("value"), for: "name")
        #expect(throws: StoreError.wrongPassphrase) {
            try StoreFactory.open(
                kind: .file,
                paths: directory.paths,
                environment: ["KEYHOLE_PASSPHRASE": "not it"],
                logger: quietLogger,
                warn: { _ in }
            )
        }
    }
}
