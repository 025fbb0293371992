import ArgumentParser
import KeyholeControl

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the daemon's proxy address, store, CA and sessions (starts the daemon if needed).",
        discussion: """
            Example:
              keyhole status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["proxy"])'
            """
    )

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() throws {
        let connection = try ClientContext().connect()
        defer { connection.close() }
        let status = try connection.status()
        if self.json {
            try Terminal.printJSON(status)
            return
        }
        Terminal.print(
            """
            keyhole daemon \(status.version) running (pid \(status.pid), up \(status.uptimeSeconds)s)
              proxy:        \(status.proxy)
              store:        \(status.storeState)
              CA:           \(status.ca)
              fingerprint:  \(status.caFingerprint)
              credentials:  \(status.credentials)
              sessions:     \(status.sessions)
              audit log:    \(status.auditLog)
              daemon log:   \(status.daemonLog)
            """
        )
    }
}
