import ArgumentParser
import Foundation
import KeyholeCore

#if canImport(Glibc)
import Glibc
#endif

struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Show the audit log: every request the proxy swapped, injected, tunnelled or refused.",
        discussion: """
            Examples:
              keyhole log                 # a table of past requests
              keyhole log --follow        # and keep watching
              keyhole log --json | jq 'select(.decision == "deny-scope")'
            """
    )

    @Flag(help: "Keep printing new entries as they arrive.")
    var follow = false

    @Flag(help: "Print the raw JSON lines.")
    var json = false

    @Option(help: "Show only the last N entries (0: all).")
    var last: Int = 0

    func run() async throws {
        let context = ClientContext()
        // The log is the daemon's; make sure one runs so a new user sees it created.
        if let connection = try? context.connect() { connection.close() }
        let path = context.paths.auditLogFile
        let renderer = AuditLogRenderer(color: Terminal.colorOnStdout, terminalWidth: TerminalSize.columns())
        let json = self.json
        func emit(_ event: AuditEvent) {
            if json {
                FileHandle.standardOutput.write(Data(event.jsonLine() + [0x0A]))
            } else {
                Terminal.print(renderer.render(event))
            }
        }
        if !json {
            Terminal.print(renderer.header())
        }
        let contents = try AuditLogReader.readAll(path: path)
        var events = contents.events
        if self.last > 0 && events.count > self.last {
            events = Array(events.suffix(self.last))
        }
        events.forEach(emit)
        if contents.malformedLines > 0 {
            Terminal.warning("\(contents.malformedLines) malformed line(s) in \(path) were skipped")
        }
        if self.follow {
            try await AuditLogReader.follow(from: path, startOffset: contents.endOffset) { event in
                emit(event)
            }
        }
    }
}

enum TerminalSize {
    static func columns() -> Int? {
        guard isatty(1) == 1 else { return nil }
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }
}
