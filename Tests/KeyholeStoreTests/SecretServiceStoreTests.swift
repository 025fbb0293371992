import Foundation
import KeyholeCore
import Testing

@testable import KeyholeStore

private let keyringAvailable = ProcessInfo.processInfo.environment["KEYHOLE_TEST_KEYRING"] == "1"

private let withKeyringScript = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .deletingLastPathComponent()
    .appendingPathComponent("scripts/with-keyring.sh")
    .path

/// The lines of `secret-tool search --all ATTRIBUTES...` (it prints attributes on stderr, the rest on stdout),
/// without the `secret = ...` lines, so that no failure message can show a value.
private func secretToolSearch(_ attributes: [String]) throws -> [String] {
    let result = try run("/usr/bin/secret-tool", ["search", "--all"] + attributes, mergingErrors: true)
    return result.output.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("secret") }
}

private func secretToolAttributes(_ name: String) throws -> [String] {
    try secretToolSearch(["service", "keyhole", "name", name])
}

/// Against a real gnome-keyring: run as
/// `Tests/scripts/with-keyring.sh swift test --skip-build --filter KeyholeStoreTests`.
/// The tests share the keyring's default collection (one of them locks it), so they run one at a time.
@Suite(
    "SecretServiceStore (real gnome-keyring)",
    .serialized,
    .enabled(
        if: keyringAvailable,
        "needs a real keyring: run Tests/scripts/with-keyring.sh swift test --skip-build --filter KeyholeStoreTests"
    )
)
struct SecretServiceStoreTests {
    private let environment = ProcessInfo.processInfo.environment

    private func makeStore(_ extra: [String: String] = [:]) throws -> SecretServiceStore {
        var environment = self.environment
        environment["DISPLAY"] = nil
        environment["WAYLAND_DISPLAY"] = nil
        environment.merge(extra) { $1 }
        return try SecretServiceStore(environment: environment, logger: quietLogger)
    }

    @Test func autoPicksTheSecretService() throws {
        #expect(StoreFactory.secretServiceAvailable(environment: self.environment))
        let store = try StoreFactory.open(
            kind: .auto,
            paths: Paths(environment: ["HOME": "/nonexistent-keyhole-home"]),
            environment: self.environment,
            logger: quietLogger,
            warn: { _ in Issue.record("no warning expected") }
        )
        #expect(store.kind == .secretService)
        #expect(store.describe() == "secret-service (default collection unlocked)")
    }

    @Test func storeLookupReplaceDelete() throws {
        let store = try self.makeStore()
        let name = uniqueName("roundtrip")
        #expect(throws: StoreError.notFound) { try store.secret(for: name) }
        try store.store(Secret("first value"), for: name)
        #expect(try store.secret(for: name) == Secret("first value"))
        try store.store(Secret("second välue \u{1F511}"), for: name)
        #expect(try store.secret(for: name) == Secret("second välue \u{1F511}"))
        #expect(try self.makeStore().secret(for: name) == Secret("second välue \u{1F511}"))
        // Replacing keeps one item, not two.
        #expect(try secretToolAttributes(name).filter { $0.hasPrefix("[/") }.count == 1)

        let other = uniqueName("other")
        try store.store(Secret("other value"), for: other)
        try store.delete(name)
        #expect(throws: StoreError.notFound) { try store.secret(for: name) }
        #expect(try store.secret(for: other) == Secret("other value"))
        try store.delete(name)  // already gone: fine
        try store.delete(other)
    }

    @Test func secretToolSeesTheItem() throws {
        let store = try self.makeStore()
        let name = uniqueName("visible")
        let value = "visible-\(UInt64.random(in: 0 ... .max))"
        try store.store(Secret(value), for: name)
        defer { try? store.delete(name) }

        let lines = try secretToolAttributes(name)
        #expect(lines.contains("label = keyhole: \(name)"))
        #expect(lines.contains("schema = dev.keyhole.Credential"))
        #expect(lines.contains("attribute.service = keyhole"))
        #expect(lines.contains("attribute.name = \(name)"))
        // The documented way to list keyhole's items.
        #expect(try secretToolSearch(["service", "keyhole"]).contains("attribute.name = \(name)"))

        let lookup = try run("/usr/bin/secret-tool", ["lookup", "service", "keyhole", "name", name])
        let sameValue = lookup.output == value
        #expect(lookup.status == 0)
        #expect(sameValue, "secret-tool lookup returned another value")
    }

    @Test func foreignItemsAreNotOurs() throws {
        let store = try self.makeStore()
        let name = uniqueName("foreign")
        // Same attributes but another schema, and our schema's attributes with another service.
        let plain = try run(
            "/usr/bin/secret-tool",
            ["store", "--label=foreign", "service", "keyhole", "name", name],
            stdin: "foreign value"
        )
        #expect(plain.status == 0)
        #expect(throws: StoreError.notFound) { try store.secret(for: name) }
        _ = try run("/usr/bin/secret-tool", ["clear", "service", "keyhole", "name", name])
    }

    @Test func secretWithNulIsRefused() throws {
        let store = try self.makeStore()
        #expect(throws: StoreError.invalidSecret) { try store.store(Secret("a\u{0}b"), for: uniqueName("nul")) }
    }

    @Test func lockedCollectionIsReportedAsLockedNotAsMissing() throws {
        let store = try self.makeStore()
        let name = uniqueName("locked")
        try store.store(Secret("value while unlocked"), for: name)

        #expect(try run(withKeyringScript, ["--lock"]).status == 0)
        defer {
            _ = try? run(withKeyringScript, ["--unlock"])
            try? store.delete(name)
        }

        let lookupError = #expect(throws: StoreError.locked) { try store.secret(for: name) }
        #expect(lookupError?.hint?.contains("gnome-keyring-daemon --unlock") == true)
        #expect(throws: StoreError.locked) { try store.secret(for: uniqueName("never-stored")) }
        #expect(throws: StoreError.locked) { try store.store(Secret("new"), for: name) }
        #expect(throws: StoreError.locked) { try store.delete(name) }
        #expect(store.describe() == "secret-service (default collection locked)")

        // With a display the keyring is asked to prompt; headless the prompter cannot start, which is a
        // dismissed prompt, and a second request does not prompt again at once.
        let prompting = try self.makeStore(["DISPLAY": ":99"])
        #expect(throws: StoreError.dismissed) { try prompting.secret(for: name) }
        #expect(throws: StoreError.locked) { try prompting.secret(for: name) }

        #expect(try run(withKeyringScript, ["--unlock"]).status == 0)
        #expect(try store.secret(for: name) == Secret("value while unlocked"))
        #expect(store.describe() == "secret-service (default collection unlocked)")
    }
}
