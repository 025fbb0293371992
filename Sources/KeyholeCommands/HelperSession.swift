import KeyholeControl
import KeyholeCore

/// What the credential helpers (git, docker, AWS credential_process) know: the `keyhole run` session they run
/// in, found through `KEYHOLE_SESSION`, and its placeholders. They never see a secret, and they never open the
/// store: everything goes through the daemon.
struct HelperSession {
    static let tokenVariable = "KEYHOLE_SESSION"

    let grant: HelperGrant

    /// The session of this process, nil outside one (no `KEYHOLE_SESSION`). Throws when the variable names a
    /// session the daemon does not know (it ended, or the daemon stopped).
    static func current(_ context: ClientContext) throws -> HelperSession? {
        guard let token = context.environment[Self.tokenVariable], !token.isEmpty else { return nil }
        let connection: DaemonConnection
        do {
            connection = try context.connect(autostart: false)
        } catch {
            throw CLIError(
                "KEYHOLE_SESSION is set but no keyhole daemon is running, so its session has ended",
                hint: "start the command again with `keyhole run -- CMD`"
            )
        }
        defer { connection.close() }
        var request = ControlRequest(command: .helperSession)
        request.token = token
        guard let grant = try connection.send(request).helper else {
            throw CLIError("the daemon sent no session", hint: "is the keyhole daemon the same version as this client?")
        }
        return HelperSession(grant: grant)
    }

    /// The generic credential to hand out for `authority`: among those scoped to it, one whose user name is
    /// `username` when given, then exact host patterns before wildcards, then by name.
    func credential(for authority: Authority, username: String?) -> (definition: CredentialDefinition, placeholder: String)? {
        let candidates = self.grant.credentials.filter { $0.kind == .generic && $0.isScoped(to: authority) }
        func rank(_ definition: CredentialDefinition) -> (Int, Int, String) {
            let userRank = username.map { definition.username == $0 ? 0 : 1 } ?? 0
            let exact = definition.hosts.contains { !$0.isWildcard && $0.matches(authority) } ? 0 : 1
            return (userRank, exact, definition.name)
        }
        guard let best = candidates.min(by: { rank($0) < rank($1) }),
            let placeholder = self.grant.placeholders[best.name]
        else {
            return nil
        }
        return (best, placeholder)
    }

    /// The credential a placeholder of this session stands for.
    func credential(forPlaceholder placeholder: String) -> String? {
        self.grant.placeholders.first { $0.value == placeholder }?.key
    }

    /// Stores a secret typed at a client's prompt as a new credential for exactly `hosts`, unless a credential
    /// already covers them; the new credential joins the session, so the next request for it gets a placeholder.
    /// Returns the new credential's name, or nil (and says why on stderr) when nothing was imported.
    static func importSecret(
        _ secret: String,
        name: String,
        hosts: [HostPattern],
        username: String?,
        context: ClientContext,
        client: String
    ) throws -> String? {
        let definition = CredentialDefinition(name: name, hosts: hosts, username: username, created: "")
        let connection = try context.connect()
        defer { connection.close() }
        var request = ControlRequest(command: .importCredential)
        request.definition = definition
        request.secret = secret
        request.token = context.environment[Self.tokenVariable]
        do {
            guard let created = try connection.send(request).credentials?.first else { return nil }
            Terminal.notice(
                "\(client): the secret you entered for \(hosts.map(\.description).joined(separator: ", ")) is now "
                    + "keyhole credential '\(created.name)'; programs under `keyhole run` get a placeholder for it"
            )
            return created.name
        } catch let error as CLIError {
            Terminal.notice("\(client): not stored in keyhole: \(error.message)" + (error.hint.map { " (\($0))" } ?? ""))
            return nil
        }
    }
}
