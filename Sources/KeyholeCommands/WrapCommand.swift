import ArgumentParser
import KeyholeCore

struct WrapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wrap",
        abstract: "Run commands through `keyhole run` wherever they start: at the prompt, in scripts, from agents.",
        discussion: """
            For each command, keyhole records its name (for the functions of `keyhole shell-init`) and writes a \
            small executable of that name into its wrapper directory ($XDG_DATA_HOME/keyhole/bin), which \
            `shell-init` puts first on PATH. The wrapper runs the real command, the next one on PATH, through \
            `keyhole run`; inside a keyhole session it runs it directly, so sessions never nest.

            Examples:
              keyhole wrap gh curl
              keyhole wrap --list --json
              keyhole unwrap gh
            """
    )

    @Flag(help: "List the wrapped commands instead.")
    var list = false

    @Flag(help: "With --list: print JSON for scripts.")
    var json = false

    @Flag(help: "Wrap a command even when it is not on PATH (yet).")
    var force = false

    @Argument(help: "The commands to wrap, by name (as you type them).")
    var names: [String] = []

    func validate() throws {
        if self.list && !self.names.isEmpty {
            throw ValidationError("--list takes no command names")
        }
        if self.json && !self.list {
            throw ValidationError("--json goes with --list")
        }
        if !self.list && self.names.isEmpty {
            throw ValidationError("name at least one command to wrap, e.g. `keyhole wrap gh`, or use --list")
        }
    }

    func run() throws {
        let context = ClientContext()
        let wrapped = WrappedCommands(paths: context.paths)
        let path = context.environment["PATH"] ?? ""
        if self.list {
            try self.printList(wrapped, path: path)
            return
        }
        var targets: [(name: String, real: String?)] = []
        for name in self.names where !targets.contains(where: { $0.name == name }) {
            if let problem = WrappedCommands.problem(with: name) {
                throw CLIError(
                    "cannot wrap `\(name)`: it is \(problem)",
                    hint: "name a command as you would type it, e.g. `keyhole wrap gh`"
                )
            }
            let real = wrapped.realCommand(name, path: path)
            if real == nil && !self.force {
                throw CLIError(
                    "`\(name)` is not on PATH, so a wrapper would have nothing to run",
                    hint: "check the spelling or install it first; `keyhole wrap --force \(name)` wraps it anyway"
                )
            }
            targets.append((name, real))
        }
        let keyhole = SelfExecutable.path
        do {
            try wrapped.update { names in
                for target in targets {
                    try wrapped.writeWrapper(target.name, keyhole: keyhole)
                    names.append(target.name)
                }
            }
        } catch let error as FileSystemError {
            throw CLIError("could not write the wrappers: \(error)", hint: "check \(context.paths.wrapperDirectory)")
        }
        for target in targets {
            let runs = target.real ?? "the \(target.name) found on PATH when it runs"
            Terminal.print("Wrapped \(target.name): runs \(runs) through `keyhole run`.")
        }
        if !wrapped.wrapperDirectoryIsFirst(on: path) {
            Terminal.print(
                """
                Note: \(context.paths.wrapperDirectory) is not first on PATH here, so scripts still find the real \
                commands. Add to ~/.bashrc: eval "$(keyhole shell-init bash)" (zsh: the same in ~/.zshrc; fish: \
                keyhole shell-init fish | source in ~/.config/fish/config.fish).
                """
            )
        }
    }

    private func printList(_ wrapped: WrappedCommands, path: String) throws {
        let entries = wrapped.names().map { name in
            WrappedEntry(
                name: name, wrapper: wrapped.wrapperPath(name), installed: wrapped.hasWrapper(name),
                command: wrapped.realCommand(name, path: path)
            )
        }
        if self.json {
            try Terminal.printJSON(entries)
            return
        }
        guard !entries.isEmpty else {
            Terminal.print("Nothing is wrapped. Wrap a command with: keyhole wrap gh")
            return
        }
        let rows = entries.map { entry in
            [
                entry.name,
                entry.command ?? "(not on PATH)",
                entry.installed ? entry.wrapper : "missing: run `keyhole wrap \(entry.name)` again",
            ]
        }
        Terminal.print(TextTable.render(header: ["NAME", "RUNS", "WRAPPER"], rows: rows))
    }
}

/// One line of `keyhole wrap --list --json`.
struct WrappedEntry: Encodable {
    let name: String
    /// The wrapper's path.
    let wrapper: String
    /// Whether the wrapper file is there.
    let installed: Bool
    /// The real command the wrapper runs (null when it is not on PATH).
    let command: String?

    private enum CodingKeys: String, CodingKey {
        case name, wrapper, installed, command
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.name, forKey: .name)
        try container.encode(self.wrapper, forKey: .wrapper)
        try container.encode(self.installed, forKey: .installed)
        try container.encode(self.command, forKey: .command)
    }
}
