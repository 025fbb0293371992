import Foundation
import KeyholeControl
import KeyholeCore
import KeyholeProxy
import KeyholeStore
import Logging
import NIOConcurrencyHelpers
import NIOPosix

/// Answers the CLI's requests on the control socket. Every change to credentials goes through here, so the
/// daemon is the only writer of the store and the definitions.
final class ControlService: ControlRequestHandler, Sendable {
    private let registry: SessionRegistry
    private let repository: CredentialRepository
    let store: any SecretStore
    let threadPool: NIOThreadPool
    let logger: Logger
    private let statusProvider: @Sendable () -> DaemonStatus
    private let onStop: @Sendable () -> Void
    private let proxyAddress: String
    private let paths: Paths
    private let selfTest: SelfTest?
    /// Reach servers of `reachTest`, by control connection: they stop when it closes.
    private let reachServers = NIOLockedValueBox<[UInt64: (SelfTestUpstream, Authority)]>([:])

    init(
        registry: SessionRegistry,
        repository: CredentialRepository,
        store: any SecretStore,
        threadPool: NIOThreadPool,
        paths: Paths,
        proxyAddress: String,
        logger: Logger,
        statusProvider: @escaping @Sendable () -> DaemonStatus,
        selfTest: SelfTest? = nil,
        onStop: @escaping @Sendable () -> Void
    ) {
        self.selfTest = selfTest
        self.registry = registry
        self.repository = repository
        self.store = store
        self.threadPool = threadPool
        self.paths = paths
        self.proxyAddress = proxyAddress
        self.logger = logger
        self.statusProvider = statusProvider
        self.onStop = onStop
    }

    func handle(line: [UInt8], peer: ControlPeer) async -> [UInt8] {
        let response: ControlResponse
        do {
            let request = try JSONDecoder().decode(ControlRequest.self, from: Data(line))
            response = await self.respond(to: request, peer: peer)
        } catch {
            response = .failure("malformed control request", hint: "is the keyhole client the same version as the daemon?")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(response)) ?? Data("{\"ok\":false}".utf8))
    }

    func connectionClosed(peer: ControlPeer) async {
        if let (server, authority) = self.reachServers.withLockedValue({ $0.removeValue(forKey: peer.connectionID) }) {
            await self.selfTest?.stopReachServer(server, authority)
        }
        let ended = self.registry.closeAll(connectionID: peer.connectionID)
        for id in ended {
            self.logger.info("session ended", metadata: ["session": "\(id)", "reason": "run exited"])
        }
    }

    private func respond(to request: ControlRequest, peer: ControlPeer) async -> ControlResponse {
        do {
            switch request.command {
            case .status:
                return self.statusResponse()
            case .list:
                var response = ControlResponse(ok: true)
                response.credentials = self.registry.definitions
                return response
            case .add:
                return try await self.add(request)
            case .rotate:
                return try await self.rotate(request)
            case .remove:
                return try await self.remove(request)
            case .openSession:
                return try self.openSession(request, peer: peer)
            case .closeSession:
                guard let token = request.token else { throw DaemonError.invalidRequest("closeSession needs a token") }
                _ = self.registry.close(token: token)
                return ControlResponse(ok: true)
            case .helperSession:
                return try self.helperSession(request)
            case .importCredential:
                return try await self.importCredential(request)
            case .reachTest:
                return try await self.reachTest(peer: peer)
            case .unlock:
                return try await self.unlock(request, peer: peer)
            case .lock:
                return try await self.lock(peer: peer)
            case .selfTest:
                guard let selfTest = self.selfTest else { throw DaemonError.invalidRequest("no self-test here") }
                var response = ControlResponse(ok: true)
                response.selfTest = await selfTest.run(registry: self.registry, store: self.store, threadPool: self.threadPool)
                self.logger.info("self-test", metadata: ["ok": "\(response.selfTest?.ok ?? false)", "stage": "\(response.selfTest?.stage ?? "-")"])
                return response
            case .stop:
                self.logger.info("stop requested", metadata: ["peer.pid": "\(peer.pid)"])
                // Answer first; the shutdown closes this connection.
                let onStop = self.onStop
                Task {
                    try? await Task.sleep(for: .milliseconds(50))
                    onStop()
                }
                return ControlResponse(ok: true)
            }
        } catch let error as DaemonError {
            return .failure(error.description, hint: error.hint)
        } catch {
            let (message, hint) = ErrorDescription.describe(error)
            return .failure(message, hint: hint)
        }
    }

    /// The daemon's status, with the vault's lock state.
    func statusResponse() -> ControlResponse {
        var response = ControlResponse(ok: true)
        response.status = self.statusProvider()
        response.status?.vaultLock = (self.store as? FileVault)?.lockState()
        return response
    }

    private func add(_ request: ControlRequest) async throws -> ControlResponse {
        guard let definition = request.definition, let secret = request.secret else {
            throw DaemonError.invalidRequest("add needs a definition and a secret")
        }
        if self.registry.definition(named: definition.name) != nil {
            throw DaemonError.credentialExists(definition.name)
        }
        var response = ControlResponse(ok: true)
        response.credentials = [try await self.create(definition, secret: secret)]
        return response
    }

    /// Checks a new credential, stores its secret, then saves its definition (the secret is removed again when
    /// saving fails).
    private func create(_ proposed: CredentialDefinition, secret: String) async throws -> CredentialDefinition {
        var definition = proposed
        guard CredentialDefinition.isValidName(definition.name) else {
            throw DaemonError.invalidRequest("'\(definition.name)' is not a valid credential name")
        }
        guard !definition.hosts.isEmpty else { throw DaemonError.invalidRequest("at least one --host is needed") }
        guard !secret.isEmpty else { throw DaemonError.emptySecret(definition.name) }
        try Self.validate(secret: secret, kind: definition.kind)
        definition.created = Timestamp.now()
        let store = self.store
        let name = definition.name
        try await self.threadPool.runIfActive { try store.store(Secret(secret), for: name) }
        do {
            try self.repository.save(definition)
        } catch {
            try? await self.threadPool.runIfActive { try store.delete(name) }
            throw error
        }
        self.registry.setDefinition(definition)
        self.logger.info("credential added", metadata: ["credential": "\(name)", "hosts": "\(definition.hosts.map(\.description))"])
        return definition
    }

    /// An aws credential's secret must be the keys' JSON; nothing is stored otherwise.
    private static func validate(secret: String, kind: CredentialDefinition.Kind) throws {
        switch kind {
        case .generic:
            return
        case .aws:
            do {
                _ = try AWSCredentials(json: secret)
            } catch {
                throw DaemonError.invalidAWSSecret("\(error)")
            }
        }
    }

    private func reachTest(peer: ControlPeer) async throws -> ControlResponse {
        guard let selfTest = self.selfTest else { throw DaemonError.invalidRequest("no self-test here") }
        let (server, authority) = try await selfTest.startReachServer()
        let previous = self.reachServers.withLockedValue { servers in
            let previous = servers[peer.connectionID]
            servers[peer.connectionID] = (server, authority)
            return previous
        }
        if let (server, authority) = previous { await selfTest.stopReachServer(server, authority) }
        let (entry, _) = try self.registry.open(names: [], kind: .run, ttlSeconds: nil, connectionID: peer.connectionID)
        var response = ControlResponse(ok: true)
        response.session = SessionGrant(
            id: entry.id, token: entry.token, proxy: self.proxyAddress, ca: self.paths.caCertificateFile,
            bundle: self.paths.trustBundleFile, placeholders: [:], credentials: [], expires: nil
        )
        response.reachURL = "https://\(authority)\(SelfTestUpstream.reachPath)"
        return response
    }

    private func helperSession(_ request: ControlRequest) throws -> ControlResponse {
        guard let token = request.token, let (entry, credentials) = self.registry.lookup(token: token) else {
            throw DaemonError.unknownSession
        }
        var response = ControlResponse(ok: true)
        response.helper = HelperGrant(
            id: entry.id, credentials: credentials, placeholders: entry.placeholders,
            aws: entry.aws.mapValues { AWSPlaceholderKeys($0) },
            expires: entry.expires.map { Timestamp.string(from: $0) }
        )
        return response
    }

    /// A secret typed at a client's prompt becomes a credential for exactly the hosts it was typed for, unless a
    /// credential already covers one of them: an import never re-scopes or replaces an existing secret.
    private func importCredential(_ request: ControlRequest) async throws -> ControlResponse {
        guard var definition = request.definition, let secret = request.secret else {
            throw DaemonError.invalidRequest("importCredential needs a definition and a secret")
        }
        if Placeholder.contains(in: Substring(secret)) {
            throw DaemonError.invalidRequest("the secret is a keyhole placeholder")
        }
        for pattern in definition.hosts {
            guard !pattern.isWildcard else {
                throw DaemonError.invalidRequest("an imported credential names exact hosts, not \(pattern)")
            }
            // Without a port the import would cover every port of the host: then any credential for that host,
            // on any port, counts as covering it.
            let authority = Authority(host: pattern.host, port: pattern.port ?? 443)
            let covering = self.registry.definitions.first { definition in
                definition.isScoped(to: authority)
                    || (pattern.port == nil
                        && definition.hosts.contains { $0.matches(Authority(host: pattern.host, port: $0.port ?? 443)) })
            }
            if let covering {
                throw DaemonError.hostCovered(pattern.description, by: covering.name)
            }
        }
        let base = definition.name
        var suffix = 2
        while self.registry.definition(named: definition.name) != nil {
            definition.name = "\(base)-\(suffix)"
            suffix += 1
        }
        let created = try await self.create(definition, secret: secret)
        if let token = request.token {
            self.registry.join(token: token, definition: created)
        }
        self.logger.info("credential imported", metadata: ["credential": "\(created.name)"])
        var response = ControlResponse(ok: true)
        response.credentials = [created]
        return response
    }

    private func rotate(_ request: ControlRequest) async throws -> ControlResponse {
        guard let name = request.name, let secret = request.secret else {
            throw DaemonError.invalidRequest("rotate needs a name and a secret")
        }
        guard var definition = self.registry.definition(named: name) else { throw DaemonError.unknownCredential(name) }
        guard !secret.isEmpty else { throw DaemonError.emptySecret(name) }
        try Self.validate(secret: secret, kind: definition.kind)
        let store = self.store
        try await self.threadPool.runIfActive { try store.store(Secret(secret), for: name) }
        definition.rotated = Timestamp.now()
        try self.repository.save(definition)
        self.registry.setDefinition(definition)
        self.logger.info("credential rotated", metadata: ["credential": "\(name)"])
        return ControlResponse(ok: true)
    }

    private func remove(_ request: ControlRequest) async throws -> ControlResponse {
        guard let name = request.name else { throw DaemonError.invalidRequest("rm needs a name") }
        guard self.registry.definition(named: name) != nil else { throw DaemonError.unknownCredential(name) }
        // Definition first: from this moment no session can use the credential, even if the store call fails.
        self.registry.removeDefinition(name)
        try self.repository.delete(name)
        let store = self.store
        try await self.threadPool.runIfActive { try store.delete(name) }
        self.logger.info("credential removed", metadata: ["credential": "\(name)"])
        return ControlResponse(ok: true)
    }

    private func openSession(_ request: ControlRequest, peer: ControlPeer) throws -> ControlResponse {
        let kind = request.sessionKind ?? .run
        let ttl: Int?
        switch kind {
        case .run:
            ttl = request.ttlSeconds
        case .env:
            ttl = request.ttlSeconds ?? 12 * 3600
        }
        if let ttl, ttl <= 0 || ttl > SessionRegistry.maximumTTLSeconds {
            throw DaemonError.invalidRequest(
                "the TTL must be from 1 second to \(SessionRegistry.maximumTTLSeconds / 86_400) days"
            )
        }
        let (entry, credentials) = try self.registry.open(
            names: request.only, kind: kind, ttlSeconds: ttl,
            connectionID: kind == .run ? peer.connectionID : nil
        )
        self.logger.info(
            "session opened",
            metadata: ["session": "\(entry.id)", "kind": "\(kind.rawValue)", "credentials": "\(credentials.map(\.name))"]
        )
        var response = ControlResponse(ok: true)
        response.session = SessionGrant(
            id: entry.id, token: entry.token, proxy: self.proxyAddress, ca: self.paths.caCertificateFile,
            bundle: self.paths.trustBundleFile, placeholders: entry.placeholders, credentials: credentials,
            expires: entry.expires.map { Timestamp.string(from: $0) }
        )
        return response
    }
}
