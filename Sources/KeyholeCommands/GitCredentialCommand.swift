import ArgumentParser
import Foundation
import KeyholeCore

/// `git-credential-keyhole get|store|erase` (gitcredentials(7)): hands git a placeholder for the host it asks
/// about; never a secret.
struct GitCredentialCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "git-credential",
        abstract: "git credential helper: answers with placeholders (also installed as git-credential-keyhole).",
        discussion: """
            git runs it as `git credential-keyhole get|store|erase` with `key=value` lines on stdin. `keyhole run` \
            configures it for the session (GIT_CONFIG_COUNT/KEY/VALUE), without touching any git config file.
              get    username and placeholder of the credential scoped to the host (nothing outside a session)
              store  a placeholder: nothing to do; a password you typed at git's prompt for a host no credential
                     covers: imported into keyhole as credential git-HOST
              erase  never deletes a secret; says which credential the host refused and how to rotate it

            Example:
              printf 'protocol=https\\nhost=github.com\\n\\n' | keyhole run -- git credential fill
            """
    )

    @Argument(help: "get, store or erase (anything else is ignored, as the protocol asks).")
    var operation: String

    /// User name git sends with a token when the credential names none; GitHub, GitLab and Gitea accept it.
    static let defaultUsername = "x-access-token"

    func run() throws {
        let input = FileHandle.standardInput.readDataToEndOfFile()
        let request: GitCredentialRequest
        do {
            request = try GitCredentialRequest(parsing: String(decoding: input, as: UTF8.self))
        } catch {
            throw CLIError("git-credential-keyhole: \(error)", hint: "git sends `key=value` lines; see gitcredentials(7)")
        }
        let context = ClientContext()
        switch self.operation {
        case "get":
            try self.get(request, context: context)
        case "store":
            try self.store(request, context: context)
        case "erase":
            try self.erase(request, context: context)
        default:
            return
        }
    }

    private func get(_ request: GitCredentialRequest, context: ClientContext) throws {
        guard let authority = request.authority else { return }
        let session: HelperSession?
        do {
            session = try HelperSession.current(context)
        } catch let error as CLIError {
            // Let git's other helpers and its prompt take over, but say why keyhole had nothing.
            Terminal.notice("git-credential-keyhole: \(error.message)")
            return
        }
        guard let session, let (definition, placeholder) = session.credential(for: authority, username: request.username)
        else {
            return
        }
        let username = definition.username ?? request.username ?? Self.defaultUsername
        var output = ""
        if let proto = request.protocolName { output += "protocol=\(proto)\n" }
        output += "host=\(request.host ?? authority.description)\n"
        output += "username=\(username)\npassword=\(placeholder)\n"
        FileHandle.standardOutput.write(Data(output.utf8))
    }

    private func store(_ request: GitCredentialRequest, context: ClientContext) throws {
        guard let password = request.password, !password.isEmpty, request.authority != nil, let host = request.host
        else {
            return
        }
        // What git stores after a success with our placeholder: nothing to do.
        if Placeholder.contains(in: Substring(password)) { return }
        guard let pattern = try? HostPattern(host) else { return }
        _ = try HelperSession.importSecret(
            password, name: CredentialDefinition.derivedName(prefix: "git", from: host), hosts: [pattern],
            username: request.username, context: context, client: "git-credential-keyhole"
        )
    }

    private func erase(_ request: GitCredentialRequest, context: ClientContext) throws {
        guard let password = request.password, Placeholder.contains(in: Substring(password)) else { return }
        let session = try? HelperSession.current(context)
        let name = (session ?? nil)?.credential(forPlaceholder: password) ?? "?"
        let host = request.host ?? "the server"
        Terminal.notice(
            "\(host) refused keyhole credential '\(name)' (git erases credentials after an authentication failure). "
                + "The secret was kept. If the token was revoked or has expired: `keyhole rotate \(name)`; "
                + "check its hosts with `keyhole list`."
        )
    }
}

/// The attributes git sends a credential helper (gitcredentials(7)): `key=value` lines up to a blank line.
struct GitCredentialRequest {
    var protocolName: String?
    var host: String?
    var path: String?
    var username: String?
    var password: String?

    struct MalformedInput: Error, CustomStringConvertible {
        let line: Int
        var description: String { "malformed input on line \(self.line): expected key=value" }
    }

    init(parsing text: String) throws {
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty { break }
            guard let equals = line.firstIndex(of: "="), equals != line.startIndex else {
                throw MalformedInput(line: lineNumber)
            }
            let key = String(line[..<equals])
            let value = String(line[line.index(after: equals)...])
            switch key {
            case "protocol": self.protocolName = value
            case "host": self.host = value
            case "path": self.path = value
            case "username": self.username = value
            case "password": self.password = value
            case "url": self.apply(url: value)
            default: continue
            }
        }
    }

    /// `url=https://user@host:port/path` fills the attributes it carries.
    private mutating func apply(url: String) {
        guard let schemeEnd = url.range(of: "://") else { return }
        self.protocolName = String(url[..<schemeEnd.lowerBound])
        var rest = url[schemeEnd.upperBound...]
        if let slash = rest.firstIndex(of: "/") {
            self.path = String(rest[rest.index(after: slash)...])
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let user = rest[..<at]
            self.username = String(user.split(separator: ":", maxSplits: 1).first ?? user).removingPercentEncoding
            rest = rest[rest.index(after: at)...]
        }
        self.host = String(rest)
    }

    /// The host git asks about (`host=name:port` when the URL has a port), with the protocol's default port.
    var authority: Authority? {
        guard let host = self.host else { return nil }
        let defaultPort: Int
        switch self.protocolName {
        case "http": defaultPort = 80
        case "https", nil: defaultPort = 443
        default: return nil
        }
        return Authority(parsing: Substring(host), defaultPort: defaultPort)
    }
}
