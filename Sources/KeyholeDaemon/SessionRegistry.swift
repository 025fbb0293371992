import Foundation
import KeyholeControl
import KeyholeCore
import NIOConcurrencyHelpers

/// The live sessions. A session is a random token (the proxy password) and one random placeholder per
/// credential. `run` sessions end with their control connection; `env` sessions at their deadline. An ended
/// session is forgotten at once, so its token and placeholders never work again.
final class SessionRegistry: SessionAuthenticator, Sendable {
    struct Entry: Sendable {
        let id: String
        let token: String
        let kind: SessionKind
        /// Credential name -> placeholder (generic credentials).
        var placeholders: [String: String]
        /// Credential name -> placeholder keys (aws credentials).
        var aws: [String: AWSCredentials]
        let expires: Date?
        let connectionID: UInt64?
    }

    private struct State {
        var byToken: [String: Entry] = [:]
        var definitions: [String: CredentialDefinition] = [:]
    }

    private let state: NIOLockedValueBox<State>

    init(definitions: [CredentialDefinition]) {
        var state = State()
        for definition in definitions {
            state.definitions[definition.name] = definition
        }
        self.state = NIOLockedValueBox(state)
    }

    /// Opens a session over `names` (all current credentials when nil). Unknown names are an error.
    /// The longest an `env` session may live (a TTL beyond it is refused; times far in the future overflow).
    static let maximumTTLSeconds = 366 * 86_400

    func open(names: [String]?, kind: SessionKind, ttlSeconds: Int?, connectionID: UInt64?) throws -> (Entry, [CredentialDefinition]) {
        try self.state.withLockedValue { state in
            let chosen: [CredentialDefinition]
            if let names {
                chosen = try names.map { name in
                    guard let definition = state.definitions[name] else {
                        throw DaemonError.unknownCredential(name)
                    }
                    return definition
                }
            } else {
                chosen = state.definitions.values.sorted { $0.name < $1.name }
            }
            var placeholders: [String: String] = [:]
            var aws: [String: AWSCredentials] = [:]
            for definition in chosen {
                switch definition.kind {
                case .generic: placeholders[definition.name] = Placeholder.generate()
                case .aws: aws[definition.name] = AWSPlaceholder.generate()
                }
            }
            let expires = ttlSeconds.map { Date().addingTimeInterval(TimeInterval($0)) }
            let entry = Entry(
                id: RandomToken.hex(byteCount: 4), token: RandomToken.hex(byteCount: 24), kind: kind,
                placeholders: placeholders, aws: aws, expires: expires, connectionID: connectionID
            )
            state.byToken[entry.token] = entry
            return (entry, chosen)
        }
    }

    /// The live session of `token` with the current definitions of its credentials, for the helpers.
    func lookup(token: String) -> (Entry, [CredentialDefinition])? {
        self.state.withLockedValue { state in
            guard let entry = state.byToken[token], entry.expires.map({ $0 > Date() }) ?? true else { return nil }
            let names = Set(entry.placeholders.keys).union(entry.aws.keys)
            return (entry, names.sorted().compactMap { state.definitions[$0] })
        }
    }

    /// Gives the live session of `token` a placeholder for `definition` (a credential just imported from it).
    func join(token: String, definition: CredentialDefinition) {
        self.state.withLockedValue { state in
            guard var entry = state.byToken[token] else { return }
            switch definition.kind {
            case .generic: entry.placeholders[definition.name] = entry.placeholders[definition.name] ?? Placeholder.generate()
            case .aws: entry.aws[definition.name] = entry.aws[definition.name] ?? AWSPlaceholder.generate()
            }
            state.byToken[token] = entry
        }
    }

    func close(token: String) -> Bool {
        self.state.withLockedValue { $0.byToken.removeValue(forKey: token) != nil }
    }

    /// Ends every `run` session opened over a control connection that has closed.
    func closeAll(connectionID: UInt64) -> [String] {
        self.state.withLockedValue { state in
            let ended = state.byToken.values.filter { $0.kind == .run && $0.connectionID == connectionID }
            for entry in ended {
                state.byToken.removeValue(forKey: entry.token)
            }
            return ended.map(\.id)
        }
    }

    /// Forgets expired sessions; returns their ids.
    func sweep(now: Date = Date()) -> [String] {
        self.state.withLockedValue { state in
            let expired = state.byToken.values.filter { entry in entry.expires.map { $0 <= now } ?? false }
            for entry in expired {
                state.byToken.removeValue(forKey: entry.token)
            }
            return expired.map(\.id)
        }
    }

    var count: Int { self.state.withLockedValue { $0.byToken.count } }

    var definitions: [CredentialDefinition] {
        self.state.withLockedValue { $0.definitions.values.sorted { $0.name < $1.name } }
    }

    func definition(named name: String) -> CredentialDefinition? {
        self.state.withLockedValue { $0.definitions[name] }
    }

    func setDefinition(_ definition: CredentialDefinition) {
        self.state.withLockedValue { $0.definitions[definition.name] = definition }
    }

    func removeDefinition(_ name: String) {
        self.state.withLockedValue { _ = $0.definitions.removeValue(forKey: name) }
    }

    // MARK: SessionAuthenticator

    func session(forToken token: String) -> ProxySession? {
        self.state.withLockedValue { state in
            guard let entry = state.byToken[token] else { return nil }
            if let expires = entry.expires, expires <= Date() {
                state.byToken.removeValue(forKey: token)
                return nil
            }
            // A credential removed since the session opened is gone from it too.
            let names = Set(entry.placeholders.keys).union(entry.aws.keys)
            let credentials = names.sorted().compactMap { state.definitions[$0] }
            var byPlaceholder: [String: String] = [:]
            var awsKeys: [String: AWSSessionKey] = [:]
            for credential in credentials {
                if let placeholder = entry.placeholders[credential.name] {
                    byPlaceholder[placeholder] = credential.name
                }
                if let keys = entry.aws[credential.name] {
                    awsKeys[keys.accessKeyID] = AWSSessionKey(credential: credential.name, placeholder: keys)
                }
            }
            return ProxySession(id: entry.id, credentials: credentials, placeholders: byPlaceholder, awsKeys: awsKeys)
        }
    }
}
