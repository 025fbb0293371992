import ArgumentParser
import KeyholeControl
import KeyholeCore

struct AddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a credential; its secret is read from stdin or a no-echo prompt.",
        discussion: """
            The secret is never taken from the command line or the environment. Programs under `keyhole run` \
            see a placeholder; the proxy swaps in the secret only for the --host patterns.

            Examples:
              printf %s "$GITHUB_TOKEN" | keyhole add github --host api.github.com --host github.com \\
                  --inject 'Authorization: Bearer {secret}' --env GITHUB_TOKEN --env GH_TOKEN
              keyhole add stripe --host api.stripe.com --env STRIPE_API_KEY      # prompts twice
              keyhole add internal --host '*.corp.example.com:8443' --username svc --env INTERNAL_PASSWORD
            """
    )

    @Argument(help: "Name of the credential (letters, digits, . _ -).")
    var name: String

    @Option(name: .customLong("host"), help: "Host pattern the secret may go to: api.example.com, *.example.com, optional :PORT. Repeatable.")
    var hosts: [String] = []

    @Option(help: "User name handed out with the placeholder (e.g. for Basic auth and git).")
    var username: String?

    @Option(help: "Header to add when a request to the hosts lacks it, e.g. 'Authorization: Bearer {secret}'.")
    var inject: String?

    @Option(name: .customLong("env"), help: "Environment variable that holds the placeholder under `keyhole run`. Repeatable.")
    var env: [String] = []

    func validate() throws {
        guard CredentialDefinition.isValidName(self.name) else {
            throw ValidationError("'\(self.name)' is not a valid name: use letters, digits, '.', '_' or '-' (at most 64)")
        }
        guard !self.hosts.isEmpty else {
            throw ValidationError("at least one --host is required, e.g. --host api.example.com")
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
            throw CLIError("\(error)", hint: "see `keyhole add --help`")
        }
        let definition = CredentialDefinition(
            name: self.name, hosts: hosts, username: self.username, inject: inject, env: self.env, created: ""
        )
        let secret = try SecretInput.read(name: self.name)
        let connection = try ClientContext().connect()
        defer { connection.close() }
        var request = ControlRequest(command: .add)
        request.name = self.name
        request.definition = definition
        request.secret = secret
        _ = try connection.send(request)
        Terminal.print("keyhole: added '\(self.name)' for \(hosts.map(\.description).joined(separator: ", "))")
    }
}
