import ArgumentParser
import KeyholeCore

/// `keyhole import env VAR`: the value of an exported variable of the calling shell.
struct ImportEnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Import the value of an exported variable of the calling shell.",
        discussion: """
            The credential hands its placeholder out under the same variable (unless --env names others), so \
            programs under `keyhole run` keep finding $VAR, holding a placeholder. Unset the variable in your shell \
            and remove it from your shell's startup files afterwards: keyhole cannot change its parent's environment.

            Example:
              keyhole import env GITHUB_TOKEN --name github --host api.github.com --host github.com \\
                  --inject 'Authorization: Bearer {secret}'
              unset GITHUB_TOKEN
            """
    )

    @Argument(help: "The variable that holds the secret (it must be exported).")
    var variable: String

    @Option(help: "Name of the credential (letters, digits, . _ -).")
    var name: String

    @Option(
        name: .customLong("host"),
        help: "Host pattern the secret may go to: api.example.com, *.example.com, optional :PORT. Repeatable."
    )
    var hosts: [String] = []

    @Option(help: "User name handed out with the placeholder (e.g. for Basic auth and git).")
    var username: String?

    @Option(help: "Header to add when a request to the hosts lacks it, e.g. 'Authorization: Bearer {secret}'.")
    var inject: String?

    @Option(
        name: .customLong("env"),
        help: "Variable that holds the placeholder under `keyhole run` (default: VAR). Repeatable."
    )
    var env: [String] = []

    @OptionGroup var output: ImportOutputOptions

    func validate() throws {
        guard CredentialDefinition.isValidEnvironmentName(self.variable) else {
            throw ValidationError("'\(self.variable)' is not a valid environment variable name")
        }
        guard CredentialDefinition.isValidName(self.name) else {
            throw ValidationError(
                "'\(self.name)' is not a valid name: use letters, digits, '.', '_' or '-' (at most 64)"
            )
        }
        guard !self.hosts.isEmpty else {
            throw ValidationError(
                "at least one --host is required: the hosts the secret is for, e.g. --host api.example.com"
            )
        }
        for variable in self.env where !CredentialDefinition.isValidEnvironmentName(variable) {
            throw ValidationError("'\(variable)' is not a valid environment variable name")
        }
    }

    func run() throws {
        let hosts: [HostPattern]
        let inject: InjectTemplate?
        do {
            hosts = try self.hosts.map { try HostPattern($0) }
            inject = try self.inject.map { try InjectTemplate($0) }
        } catch {
            throw CLIError("\(error)", hint: "see `keyhole import env --help`")
        }
        let importer = Importer(output: self.output, removal: nil)
        guard let value = importer.context.environment[self.variable], !value.isEmpty else {
            throw CLIError(
                "$\(self.variable) is not set in this shell (or is empty), so there is nothing to import",
                hint: "a shell variable reaches keyhole only when exported: `export \(self.variable)`, then run this "
                    + "again; or pipe the secret: `keyhole add \(self.name) --host …`"
            )
        }
        if Placeholder.contains(in: Substring(value)) {
            throw CLIError(
                "$\(self.variable) holds a keyhole placeholder, not a secret (is this shell under `keyhole run`?)",
                hint: "run the import in a shell outside `keyhole run`"
            )
        }
        let definition = CredentialDefinition(
            name: self.name, hosts: hosts, username: self.username, inject: inject,
            env: self.env.isEmpty ? [self.variable] : self.env, created: ""
        )
        let candidate = ImportCandidate(definition: definition, secret: value, source: "$\(self.variable)")
        let report = try importer.run([candidate], skipped: [], files: [])
        if !self.output.dryRun && !self.output.json && !report.imported.isEmpty {
            Terminal.notice(
                "$\(self.variable) still holds the secret in this shell: `unset \(self.variable)` and remove it from "
                    + "your shell's startup files; `keyhole run` gives programs the placeholder under that name"
            )
        }
    }
}
