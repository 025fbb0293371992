import ArgumentParser
import KeyholeControl

struct LockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Make the daemon forget the file vault's passphrase; requests that need a secret fail until unlock.",
        discussion: """
            Sessions stay open, but every request that needs a secret gets 502 until `keyhole unlock`. Does not \
            start a daemon.

            Example:
              keyhole lock && keyhole status
            """
    )

    @Flag(help: "Print the daemon's status as JSON afterwards (as `keyhole status --json`).")
    var json = false

    func run() throws {
        let connection: DaemonConnection
        do {
            connection = try ClientContext().connect(autostart: false)
        } catch {
            Terminal.print("keyhole: no daemon running; nothing to lock")
            return
        }
        defer { connection.close() }
        let status = try connection.status(ControlRequest(command: .lock))
        if status.vaultLock == .unset {
            try UnlockCommand.report(status, json: self.json, "passphrase forgotten (no vault exists yet)")
        } else {
            try UnlockCommand.report(status, json: self.json, "file vault locked: run `keyhole unlock` to use it again")
        }
    }
}
