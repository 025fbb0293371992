import Foundation
import KeyholeCore
import Testing

@testable import KeyholeStore

/// A passphrase given after start (`keyhole unlock`) and forgotten again (`keyhole lock`).
@Suite("FileVault lock")
struct FileVaultLockTests {
    @Test func aPassphraseVaultWithoutItsPassphraseOpensLockedAndFailsClosed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try vault(directory, passphrase: "right").store(Secret("value"), for: "name")
        let before = Files.bytes(directory.paths.vaultFile)

        let locked = vault(directory, passphrase: nil)
        try locked.validate()  // the daemon starts
        #expect(locked.lockState() == .locked)
        #expect(locked.describe().contains("locked: run `keyhole unlock`"))
        #expect(throws: StoreError.vaultLocked) { try locked.secret(for: "name") }
        #expect(throws: StoreError.vaultLocked) { try locked.store(Secret("other"), for: "name") }
        #expect(throws: StoreError.vaultLocked) { try locked.delete("name") }
        #expect(locked.cachedSecret(for: "name") == nil)
        #expect(Files.bytes(directory.paths.vaultFile) == before)
        #expect(!FileManager.default.fileExists(atPath: directory.paths.vaultKeyFile))

        let store = try StoreFactory.open(
            kind: .file, paths: directory.paths, environment: [:], logger: quietLogger, warn: { _ in }
        )
        #expect(throws: StoreError.vaultLocked) { try store.secret(for: "name") }
    }

    @Test func unlockWithTheRightPassphraseOpensItAndAWrongOneChangesNothing() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try vault(directory, passphrase: "right").store(Secret("value"), for: "name")
        let store = vault(directory, passphrase: nil)

        let wrong = #expect(throws: StoreError.wrongPassphrase) { try store.unlock(passphrase: Array("wrong".utf8)) }
        #expect(wrong?.message.contains("nothing changed") == true)
        #expect(wrong?.hint != nil)
        #expect(throws: StoreError.wrongPassphrase) { try store.unlock(passphrase: []) }
        #expect(store.lockState() == .locked)
        #expect(throws: StoreError.vaultLocked) { try store.secret(for: "name") }

        #expect(try store.unlock(passphrase: Array("right".utf8)) == .unlocked)
        #expect(store.lockState() == .unlocked)
        #expect(store.usesPassphrase)
        #expect(try store.secret(for: "name") == Secret("value"))
        try store.store(Secret("second"), for: "other")
        #expect(try vault(directory, passphrase: "right").secret(for: "other") == Secret("second"))

        // A wrong passphrase while unlocked keeps the right one.
        #expect(throws: StoreError.wrongPassphrase) { try store.unlock(passphrase: Array("wrong".utf8)) }
        #expect(try store.secret(for: "name") == Secret("value"))
    }

    @Test func lockForgetsThePassphraseAndWhatWasOpenedWithIt() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = vault(directory, passphrase: "right")
        try store.store(Secret("value"), for: "name")
        #expect(try store.secret(for: "name") == Secret("value"))
        #expect(store.cachedSecret(for: "name") == Secret("value"))

        try store.lock()
        #expect(store.lockState() == .locked)
        #expect(!store.usesPassphrase)
        #expect(store.cachedSecret(for: "name") == nil)
        #expect(throws: StoreError.vaultLocked) { try store.secret(for: "name") }

        #expect(try store.unlock(passphrase: Array("right".utf8)) == .unlocked)
        #expect(try store.secret(for: "name") == Secret("value"))
    }

    @Test func unlockBeforeTheVaultExistsChoosesItsPassphrase() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let warnings = WarningRecorder()
        let store = vault(directory, passphrase: nil, warnings: warnings)
        #expect(store.lockState() == .unset)

        #expect(try store.unlock(passphrase: Array("chosen".utf8)) == .new)
        #expect(store.lockState() == .new)
        try store.store(Secret("value"), for: "name")
        #expect(store.lockState() == .unlocked)
        #expect(!FileManager.default.fileExists(atPath: directory.paths.vaultKeyFile))
        #expect(warnings.messages.isEmpty)
        #expect(try vault(directory, passphrase: "chosen").secret(for: "name") == Secret("value"))
        #expect(vault(directory, passphrase: nil).lockState() == .locked)

        try store.lock()
        #expect(store.lockState() == .locked)
    }

    @Test func aKeyFileVaultHasNothingToUnlockOrLock() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = vault(directory, passphrase: nil)
        try store.store(Secret("value"), for: "name")
        #expect(store.lockState() == nil)

        let unlockError = #expect(throws: StoreError.keyMismatch) { try store.unlock(passphrase: Array("pw".utf8)) }
        #expect(unlockError?.hint?.contains("nothing to unlock") == true)
        #expect(throws: StoreError.keyMismatch) { try store.unlock(passphrase: []) }
        #expect(throws: StoreError.keyMismatch) { try store.lock() }
        #expect(try store.secret(for: "name") == Secret("value"))
    }

    @Test func lockDropsAPassphraseThatKeepsAKeyFileVaultShut() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let chosen = vault(directory, passphrase: nil)
        #expect(try chosen.unlock(passphrase: Array("for the new vault".utf8)) == .new)
        // Meanwhile another writer (without a passphrase) created the vault with a key file.
        try vault(directory, passphrase: nil).store(Secret("value"), for: "name")
        #expect(throws: StoreError.keyMismatch) { try chosen.secret(for: "name") }
        try chosen.lock()
        #expect(try chosen.secret(for: "name") == Secret("value"))
    }
}
