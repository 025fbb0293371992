import ArgumentParser
import Foundation
import KeyholeControl
import KeyholeCore

#if canImport(Glibc)
import Glibc
#endif

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command with the proxy forced on it, the keyhole CA trusted and placeholders in its environment.",
        discussion: """
            The session ends when the command exits; its placeholders never work again. The exit status, \
            signals and the terminal are passed through.

            Examples:
              keyhole run -- curl -H "Authorization: Bearer $GITHUB_TOKEN" https://api.github.com/user
              keyhole run --only stripe -- python3 charge.py
            """
    )

    @Option(name: .customLong("only"), help: "Limit the session to this credential. Repeatable.")
    var only: [String] = []

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).")
    var command: [String] = []

    func run() throws {
        var argv = self.command
        // Passthrough parsing captures everything; `keyhole run --help` (before any `--`) still means help.
        if let first = argv.first, first == "--help" || first == "-h" {
            throw CleanExit.helpRequest(self)
        }
        if argv.first == "--" { argv.removeFirst() }
        guard !argv.isEmpty else {
            throw CLIError("no command given", hint: "keyhole run -- CMD [ARGS...]")
        }
        let context = ClientContext()
        let connection = try context.connect()
        var request = ControlRequest(command: .openSession)
        request.sessionKind = .run
        request.only = self.only.isEmpty ? nil : self.only
        guard let grant = try connection.send(request).session else {
            throw CLIError("the daemon opened no session", hint: nil)
        }
        let files = try SessionFiles.create(
            for: grant, paths: context.paths, environment: context.environment, lifetime: .process
        )
        defer { files.remove() }
        let environment = SessionEnvironment.apply(grant, files: files, to: context.environment)
        let status = try ChildProcess.run(argv, environment: environment)
        // Ending the connection ends the session too; closing it explicitly first makes it immediate.
        var close = ControlRequest(command: .closeSession)
        close.token = grant.token
        _ = try? connection.send(close)
        connection.close()
        if status != 0 {
            throw ExitStatus(code: status)
        }
    }
}
