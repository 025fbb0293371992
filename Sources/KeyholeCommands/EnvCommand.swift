import ArgumentParser
import Foundation
import KeyholeControl
import KeyholeCore

struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Open a session that lasts until its TTL and print its variables for a shell or a script.",
        discussion: """
            Examples:
              eval "$(keyhole env)"                       # sh, bash, zsh
              keyhole env --shell fish | source
              keyhole env --shell json --ttl 3600
            """
    )

    enum Shell: String, ExpressibleByArgument, CaseIterable {
        case sh, fish, json
    }

    @Option(help: "Output format: sh, fish or json (a flat object).")
    var shell: Shell = .sh

    @Option(help: "Session lifetime in seconds (default 12 h).")
    var ttl: Int = 12 * 3600

    @Option(name: .customLong("only"), help: "Limit the session to this credential. Repeatable.")
    var only: [String] = []

    func validate() throws {
        guard self.ttl > 0, self.ttl <= 366 * 86_400 else {
            throw ValidationError("--ttl must be a number of seconds from 1 to 31622400 (366 days)")
        }
    }

    func run() throws {
        let context = ClientContext()
        let connection = try context.connect()
        defer { connection.close() }
        var request = ControlRequest(command: .openSession)
        request.sessionKind = .env
        request.ttlSeconds = self.ttl
        request.only = self.only.isEmpty ? nil : self.only
        guard let grant = try connection.send(request).session else {
            throw CLIError("the daemon opened no session", hint: nil)
        }
        let files = try SessionFiles.create(
            for: grant, paths: context.paths, environment: context.environment,
            lifetime: .until(Date().addingTimeInterval(TimeInterval(self.ttl)))
        )
        let variables = SessionEnvironment.variables(for: grant, files: files, base: context.environment)
        let removed = SessionEnvironment.removed(files: files)
        switch self.shell {
        case .json:
            var object: [String: String] = [:]
            for (name, value) in variables { object[name] = value }
            try Terminal.printJSON(object)
        case .sh:
            for (name, value) in variables { Terminal.print("export \(name)=\(ShellQuote.sh(value))") }
            for name in removed { Terminal.print("unset \(name)") }
        case .fish:
            for (name, value) in variables { Terminal.print("set -gx \(name) \(ShellQuote.fish(value))") }
            for name in removed { Terminal.print("set -e \(name)") }
        }
    }
}

enum ShellQuote {
    static func sh(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    static func fish(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
