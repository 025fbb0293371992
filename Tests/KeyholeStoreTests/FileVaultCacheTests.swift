import Foundation
import KeyholeCore
import Testing

@testable import KeyholeStore

/// The daemon resolves a secret per request; the vault answers from memory only while the file is unchanged.
@Suite("FileVault cache")
struct FileVaultCacheTests {
    private func vault(_ directory: TemporaryDirectory) -> FileVault {
        FileVault(
            paths: directory.paths, environment: ["KEYHOLE_PASSPHRASE": "pw"],
            scrypt: FileVault.ScryptParameters(n: 1 << 10, r: 8, p: 1), warn: { _ in }
        )
    }

    @Test func cachedSecretNeedsAPriorReadOfTheSameFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = self.vault(directory)
        try store.store(Secret("one"), for: "api")
        #expect(store.cachedSecret(for: "api") == nil)
        #expect(try store.secret(for: "api") == Secret("one"))
        #expect(store.cachedSecret(for: "api") == Secret("one"))
        #expect(store.cachedSecret(for: "missing") == nil)
    }

    @Test func anotherWriterReplacingTheFileIsSeenAtOnce() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let daemon = self.vault(directory)
        try daemon.store(Secret("one"), for: "api")
        #expect(try daemon.secret(for: "api") == Secret("one"))
        try self.vault(directory).store(Secret("two"), for: "api")
        #expect(daemon.cachedSecret(for: "api") == nil)
        #expect(try daemon.secret(for: "api") == Secret("two"))
    }

    @Test(arguments: ["damaged", "removed"])
    func aDamagedOrRemovedVaultFailsEvenAfterCaching(_ change: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = self.vault(directory)
        try store.store(Secret("one"), for: "api")
        #expect(try store.secret(for: "api") == Secret("one"))
        if change == "damaged" {
            var bytes = try #require(Files.bytes(directory.paths.vaultFile))
            bytes[bytes.count / 2] ^= 0x01
            try Files.write(directory.paths.vaultFile, bytes)
        } else {
            try FileManager.default.removeItem(atPath: directory.paths.vaultFile)
        }
        #expect(store.cachedSecret(for: "api") == nil)
        #expect(throws: StoreError.self) { try store.secret(for: "api") }
    }
}
