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
              keyhole add work --type aws < keys.json   # {"AccessKeyId":…,"SecretAccessKey":…,"SessionToken":…?}
              keyhole add devapi --host 127.0.0.1:8080 --allow-http --env DEV_API_KEY   # a local dev server

            Secrets only ever leave over verified TLS: a plain http:// request that would carry one is refused \
            (403) unless the credential was added with --allow-http.
            """
    )

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case generic, aws
    }

    @Option(name: .customLong("type"), help: "generic (tokens, passwords, API keys) or aws (access keys JSON; SigV4 re-signing).")
    var kind: Kind = .generic

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

    @Flag(name: .customLong("allow-http"), help: "Also send the secret in plain http:// requests (a development server on loopback). Off: TLS only.")
    var allowHTTP = false

    func validate() throws {
        guard CredentialDefinition.isValidName(self.name) else {
            throw ValidationError("'\(self.name)' is not a valid name: use letters, digits, '.', '_' or '-' (at most 64)")
        }
        switch self.kind {
        case .generic:
            guard !self.hosts.isEmpty else {
                throw ValidationError("at least one --host is required, e.g. --host api.example.com")
            }
        case .aws:
            guard self.inject == nil, self.env.isEmpty, self.username == nil else {
                throw ValidationError(
                    "--inject, --env and --username do not apply to --type aws: AWS SDKs get placeholder keys "
                        + "through credential_process under `keyhole run`"
                )
            }
        }
        for variable in self.env where !CredentialDefinition.isValidEnvironmentName(variable) {
            throw ValidationError("'\(variable)' is not a valid environment variable name")
        }
    }

    func run() throws {
        let hosts: [HostPattern]
        let inject: InjectTemplate?
        let kind: CredentialDefinition.Kind = self.kind == .aws ? .aws : .generic
        let hostTexts = self.hosts.isEmpty && kind == .aws ? CredentialDefinition.defaultAWSHosts : self.hosts
        do {
            hosts = try hostTexts.map { try HostPattern($0) }
            inject = try self.inject.map { try InjectTemplate($0) }
        } catch {
            throw CLIError("\(error)", hint: "see `keyhole add --help`")
        }
        let definition = CredentialDefinition(
            name: self.name, kind: kind, hosts: hosts, username: self.username, inject: inject, env: self.env,
            allowHTTP: self.allowHTTP, created: ""
        )
        let secret = try SecretInput.read(name: self.name)
        if kind == .aws {
            do {
                _ = try AWSCredentials(json: secret)
            } catch {
                throw CLIError(
                    "the secret is not AWS credentials JSON: \(error)",
                    hint: "pipe {\"AccessKeyId\":\"…\",\"SecretAccessKey\":\"…\",\"SessionToken\":\"…\"} on stdin "
                        + "(SessionToken only for temporary keys), e.g. `keyhole add \(self.name) --type aws < keys.json`"
                )
            }
        }
        let connection = try ClientContext().connect()
        defer { connection.close() }
        var request = ControlRequest(command: .add)
        request.name = self.name
        request.definition = definition
        request.secret = secret
        _ = try connection.send(request)
        Terminal.print("keyhole: added '\(self.name)' for \(hosts.map(\.description).joined(separator: ", "))")
        let loopback = definition.loopbackHosts
        if !loopback.isEmpty {
            Terminal.warning(
                "\(loopback.map(\.description).joined(separator: ", ")) is a loopback address: whatever listens there "
                    + "gets the secret, also a program of yours that opened the port while the real service was down. "
                    + "Safe under `keyhole run --isolate`, whose loopback is the sandbox's own; otherwise only for a "
                    + "server you trust to hold the port."
            )
        }
        if self.allowHTTP {
            Terminal.warning("--allow-http: the secret also goes into plain http:// requests to these hosts, unencrypted.")
        }
    }
}
