import ArgumentParser
import Foundation
import KeyholeCore

/// `docker-credential-keyhole get|store|erase|list` (the docker-credential-helpers protocol): registry clients
/// get a placeholder as the password; the proxy swaps it for the registry and its token service only.
struct DockerCredentialCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "docker-credential",
        abstract: "Registry credential helper: answers with placeholders (also installed as docker-credential-keyhole).",
        discussion: """
            Clients (docker, skopeo, podman, buildah, crane) run it with the server URL (get, erase) or a JSON \
            object (store) on stdin. `keyhole run` points DOCKER_CONFIG and REGISTRY_AUTH_FILE at a session config \
            that names it.
              get    {"ServerURL","Username","Secret"} with the placeholder; "credentials not found in native \
            keychain" (exit 1) outside a session or for a registry keyhole does not cover
              store  a placeholder: nothing to do; real credentials (`docker login`): imported as registry-HOST
              erase  never deletes a secret (`keyhole rm NAME` does)
              list   {"registry": "username"} for the session's registries

            Example:
              echo ghcr.io | keyhole run -- docker-credential-keyhole get
            """
    )

    @Argument(help: "get, store, erase or list.")
    var operation: String

    /// The message registry clients recognise as "no credentials" (docker-credential-helpers' errCredentialsNotFound).
    static let notFound = "credentials not found in native keychain"
    /// The hosts of Docker Hub: the registry, its token service and the legacy index name.
    static let dockerHubHosts = ["registry-1.docker.io", "auth.docker.io", "index.docker.io"]
    static let defaultUsername = "keyhole"

    func run() throws {
        let input = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        let context = ClientContext()
        switch self.operation {
        case "get":
            try self.get(serverURL: input.trimmingCharacters(in: .whitespacesAndNewlines), context: context)
        case "store":
            try self.store(input, context: context)
        case "erase":
            self.erase(serverURL: input.trimmingCharacters(in: .whitespacesAndNewlines))
        case "list":
            try self.list(context: context)
        default:
            throw CLIError(
                "docker-credential-keyhole: unknown operation '\(self.operation)'",
                hint: "use get, store, erase or list"
            )
        }
    }

    private func get(serverURL: String, context: ClientContext) throws {
        guard let authorities = Self.authorities(forServerURL: serverURL) else {
            throw CLIError("docker-credential-keyhole: '\(serverURL)' is not a registry address", hint: "send a host[:port] or URL on stdin")
        }
        let session: HelperSession?
        do {
            session = try HelperSession.current(context)
        } catch let error as CLIError {
            Terminal.notice("docker-credential-keyhole: \(error.message)")
            session = nil
        }
        for authority in authorities {
            if let session, let (definition, placeholder) = session.credential(for: authority, username: nil) {
                let answer = DockerCredentials(
                    serverURL: serverURL, username: definition.username ?? Self.defaultUsername, secret: placeholder
                )
                try Terminal.printJSON(answer, pretty: false)
                return
            }
        }
        FileHandle.standardOutput.write(Data((Self.notFound + "\n").utf8))
        throw ExitStatus(code: 1)
    }

    private func store(_ input: String, context: ClientContext) throws {
        let credentials: DockerCredentials
        do {
            credentials = try JSONDecoder().decode(DockerCredentials.self, from: Data(input.utf8))
        } catch {
            throw CLIError(
                "docker-credential-keyhole: store expects {\"ServerURL\",\"Username\",\"Secret\"} JSON on stdin",
                hint: "this is what `docker login` sends"
            )
        }
        guard !credentials.secret.isEmpty, !Placeholder.contains(in: Substring(credentials.secret)) else { return }
        guard Self.authorities(forServerURL: credentials.serverURL) != nil else {
            throw CLIError("docker-credential-keyhole: '\(credentials.serverURL)' is not a registry address", hint: nil)
        }
        guard let target = Self.importTarget(forServerURL: credentials.serverURL) else { return }
        _ = try HelperSession.importSecret(
            credentials.secret, name: target.name, hosts: target.hosts, username: credentials.username,
            context: context, client: "docker-credential-keyhole"
        )
    }

    private func erase(serverURL: String) {
        Terminal.notice(
            "docker-credential-keyhole: keyhole keeps the secret for \(serverURL) on logout; "
                + "`keyhole rm NAME` removes it (`keyhole list` shows the names)"
        )
    }

    private func list(context: ClientContext) throws {
        var registries: [String: String] = [:]
        if let session = try? HelperSession.current(context) {
            for (key, definition) in Self.registryKeys(session.grant.credentials) {
                registries[key] = definition.username ?? Self.defaultUsername
            }
        }
        try Terminal.printJSON(registries, pretty: false)
    }

    /// The `credHelpers` keys of generic credentials: every exact host pattern (`host` or `host:port`), and the
    /// names clients use for Docker Hub when a credential covers it. Wildcard patterns cannot be listed.
    static func registryKeys(_ credentials: [CredentialDefinition]) -> [(String, CredentialDefinition)] {
        var result: [(String, CredentialDefinition)] = []
        var seen = Set<String>()
        for definition in credentials where definition.kind == .generic {
            for pattern in definition.hosts where !pattern.isWildcard {
                var keys = [pattern.description]
                if Self.dockerHubHosts.contains(pattern.host) {
                    keys += ["docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"]
                }
                for key in keys where seen.insert(key).inserted {
                    result.append((key, definition))
                }
            }
        }
        return result
    }

    /// The name and hosts a registry's secret is stored under: `registry-HOST[-PORT]` for exactly that registry,
    /// `registry-docker.io` for Docker Hub's registry, token service and index. Nil when `serverURL` is no
    /// registry address.
    static func importTarget(forServerURL serverURL: String) -> (name: String, hosts: [HostPattern])? {
        guard let authorities = Self.authorities(forServerURL: serverURL), let first = authorities.first else {
            return nil
        }
        if authorities.contains(where: { Self.dockerHubHosts.contains($0.host) }) {
            let hosts = Self.dockerHubHosts.compactMap { try? HostPattern($0) }
            return (CredentialDefinition.derivedName(prefix: "registry", from: "docker.io"), hosts)
        }
        let hostText = first.port == 443 ? first.host : first.description
        guard let pattern = try? HostPattern(hostText) else { return nil }
        return (CredentialDefinition.derivedName(prefix: "registry", from: hostText), [pattern])
    }

    /// `https://index.docker.io/v1/`, `docker.io`, `ghcr.io`, `registry.example:5000/path` -> where to look.
    static func authorities(forServerURL serverURL: String) -> [Authority]? {
        var text = Substring(serverURL)
        for scheme in ["https://", "http://"] where text.hasPrefix(scheme) {
            text = text.dropFirst(scheme.count)
        }
        if let slash = text.firstIndex(of: "/") { text = text[..<slash] }
        guard let authority = Authority(parsing: text, defaultPort: 443) else { return nil }
        if ["docker.io", "index.docker.io", "registry-1.docker.io"].contains(authority.host) {
            return ["index.docker.io", "registry-1.docker.io"].map { Authority(host: $0, port: 443) }
        }
        return [authority]
    }

}

/// The docker-credential-helpers JSON object.
struct DockerCredentials: Codable {
    var serverURL: String
    var username: String
    var secret: String

    enum CodingKeys: String, CodingKey {
        case serverURL = "ServerURL", username = "Username", secret = "Secret"
    }
}
