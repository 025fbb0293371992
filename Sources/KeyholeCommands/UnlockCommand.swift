import ArgumentParser
import KeyholeControl
import KeyholeCore

struct UnlockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Give the daemon the file vault's passphrase: asked once without echo, or read from stdin.",
        discussion: """
            The daemon derives the vault's key and keeps it in memory until `keyhole lock` or `keyhole stop`; \
            until then a passphrase-protected vault is locked and requests that need a secret fail with 502. The \
            passphrase never has to be exported in your shell, where every program running as you can read it \
            (/proc/PID/environ). Before the vault exists, this chooses the passphrase it is created with (asked \
            twice on a terminal). KEYHOLE_PASSPHRASE still works for scripts and CI.

            Examples:
              keyhole unlock                             # asks once, no echo
              keyhole unlock --json                      # then prints the status as JSON
              pass show keyhole/vault | keyhole unlock   # in a script
            """
    )

    @Flag(help: "Print the daemon's status as JSON afterwards (as `keyhole status --json`).")
    var json = false

    func run() throws {
        let connection = try ClientContext().connect()
        defer { connection.close() }
        let before = try connection.status()
        var request = ControlRequest(command: .unlock)
        switch before.vaultLock {
        case .unlocked, .new:
            return try Self.report(before, json: self.json, "the file vault is already unlocked")
        case .locked:
            request.passphrase = try Self.readPassphrase(prompt: "Passphrase of the keyhole vault: ", confirm: false)
        case .unset:
            request.passphrase = try Self.readPassphrase(prompt: "New passphrase for the keyhole vault: ", confirm: true)
        case nil:
            // Nothing to unlock: the daemon says why (a keyring, or a vault protected by its key file).
            break
        }
        let after = try connection.status(request)
        if after.vaultLock == .new {
            try Self.report(after, json: self.json, "passphrase set: the vault is created with it at the first `keyhole add`")
        } else {
            try Self.report(after, json: self.json, "file vault unlocked (until `keyhole lock` or `keyhole stop`)")
        }
    }

    private static func readPassphrase(prompt: String, confirm: Bool) throws -> String {
        try SecretInput.read(
            prompt: prompt, confirm: confirm, what: "passphrase",
            emptyHint: "type it at the prompt of `keyhole unlock` on a terminal, or pipe it on stdin"
        )
    }

    /// `line` for people, or the status as JSON.
    static func report(_ status: DaemonStatus, json: Bool, _ line: String) throws {
        if json {
            try Terminal.printJSON(status)
        } else {
            Terminal.print("keyhole: \(line)")
        }
    }
}
