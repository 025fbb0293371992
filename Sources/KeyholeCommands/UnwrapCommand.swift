import ArgumentParser
import KeyholeCore

struct UnwrapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unwrap",
        abstract: "Stop running commands through `keyhole run`: removes their wrappers and shell functions.",
        discussion: """
            Examples:
              keyhole unwrap gh
              keyhole unwrap --all
            """
    )

    @Flag(help: "Unwrap every wrapped command.")
    var all = false

    @Argument(help: "The commands to unwrap, by name.")
    var names: [String] = []

    func validate() throws {
        if self.all && !self.names.isEmpty {
            throw ValidationError("--all takes no command names")
        }
        if !self.all && self.names.isEmpty {
            throw ValidationError("name at least one command to unwrap, e.g. `keyhole unwrap gh`, or use --all")
        }
    }

    func run() throws {
        let context = ClientContext()
        let wrapped = WrappedCommands(paths: context.paths)
        let listed = wrapped.names()
        let names = self.all ? listed : self.names.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for name in names where !listed.contains(name) && !wrapped.hasWrapper(name) {
            throw CLIError("`\(name)` is not wrapped", hint: "`keyhole wrap --list` shows the wrapped commands")
        }
        if names.isEmpty {
            Terminal.print("Nothing is wrapped.")
            return
        }
        do {
            try wrapped.update { list in
                list.removeAll { names.contains($0) }
                for name in names { wrapped.removeWrapper(name) }
            }
        } catch let error as FileSystemError {
            throw CLIError(
                "could not update the wrapped commands: \(error)", hint: "check \(context.paths.wrappedListFile)"
            )
        }
        for name in names {
            Terminal.print("Unwrapped \(name): it runs without keyhole again.")
        }
    }
}
