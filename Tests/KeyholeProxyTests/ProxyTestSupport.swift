import Foundation
import KeyholeCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOSSL

@testable import KeyholeProxy

/// A session table with one known token.
struct FakeSessions: SessionAuthenticator {
    let token: String
    let session: ProxySession

    func session(forToken token: String) -> ProxySession? {
        token == self.token ? self.session : nil
    }
}

/// A resolver that must not be reached in these tests (they cover paths that need no secret).
struct UnreachableResolver: SecretResolver {
    func secret(for credential: String) async throws -> Secret {
        throw CancellationError()
    }
}

/// A resolver that knows one secret per credential name.
struct FixedResolver: SecretResolver {
    let secrets: [String: String]

    func secret(for credential: String) async throws -> Secret {
        guard let value = self.secrets[credential] else { throw CancellationError() }
        return Secret(value)
    }

    func cachedSecret(for credential: String) -> Secret? {
        self.secrets[credential].map { Secret($0) }
    }
}

/// Hands out in-memory upstream channels on the test's event loop, one per connection in order, and records what
/// was asked for.
final class FakeConnector: UpstreamConnector, @unchecked Sendable {
    let upstreams: [EmbeddedChannel]
    private let lock = NIOLock()
    private var _requests: [(Authority, Bool)] = []

    init(upstreams: [EmbeddedChannel]) {
        self.upstreams = upstreams
    }

    var upstream: EmbeddedChannel { self.upstreams[0] }

    var requests: [(Authority, Bool)] { self.lock.withLock { self._requests } }

    func connect(to authority: Authority, tls: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        let index = self.lock.withLock { () -> Int in
            self._requests.append((authority, tls))
            return self._requests.count - 1
        }
        guard index < self.upstreams.count else { return eventLoop.makeFailedFuture(ChannelError.connectPending) }
        return eventLoop.makeSucceededFuture(self.upstreams[index])
    }
}

/// Collects audit events.
final class AuditRecorder: @unchecked Sendable {
    private let lock = NIOLock()
    private var _events: [AuditEvent] = []

    var events: [AuditEvent] { self.lock.withLock { self._events } }

    func record(_ event: AuditEvent) {
        self.lock.withLock { self._events.append(event) }
    }
}

struct ProxyHarness {
    let loop = EmbeddedEventLoop()
    let client: EmbeddedChannel
    let upstream: EmbeddedChannel
    let connector: FakeConnector
    let audit = AuditRecorder()
    let token = "t0ken"
    let placeholder = Placeholder.generate()
    let secret = "real-secret-value"

    /// - Parameters:
    ///   - credentials: the session's credentials (default: `api` for `api.test`, swapped only).
    ///   - intercepted: a connection inside an intercepted CONNECT to this authority (TLS already terminated), instead
    ///     of a new proxy connection.
    init(
        credentials: [CredentialDefinition]? = nil,
        intercepted: Authority? = nil,
        limits: ProxyLimits = .defaults,
        upstreams: Int = 3,
        awsKeys: [String: AWSSessionKey] = [:]
    ) throws {
        let loop = self.loop
        self.client = EmbeddedChannel(loop: loop)
        let channels = (0..<upstreams).map { _ in EmbeddedChannel(loop: loop) }
        self.upstream = channels[0]
        self.connector = FakeConnector(upstreams: channels)
        let credentials = try credentials
            ?? [CredentialDefinition(name: "api", hosts: [try HostPattern("api.test")], env: ["API"], created: "")]
        let first = self.placeholder
        let session = ProxySession(
            id: "s1", credentials: credentials,
            placeholders: Dictionary(uniqueKeysWithValues: credentials.enumerated().map {
                ($0.offset == 0 ? first : Placeholder.generate(), $0.element.name)
            }),
            awsKeys: awsKeys
        )
        let secret = self.secret
        let audit = self.audit
        let dependencies = ProxyDependencies(
            sessions: FakeSessions(token: self.token, session: session),
            resolver: FixedResolver(secrets: Dictionary(uniqueKeysWithValues: credentials.map { ($0.name, secret) })),
            serverContext: { _, eventLoop in eventLoop.makeFailedFuture(CancellationError()) },
            connector: self.connector,
            audit: { audit.record($0) },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            limits: limits
        )
        for channel in channels {
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        }
        if let intercepted {
            let codec = ServerCodecHandlers()
            try codec.add(to: self.client.pipeline.syncOperations)
            try self.client.pipeline.syncOperations.addHandler(
                ForwardingHandler(
                    mode: .intercepted(authority: intercepted, token: self.token), dependencies: dependencies, codec: codec
                )
            )
        } else {
            try ProxyServer.configure(channel: self.client, dependencies: dependencies)
        }
        try self.client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    /// Sends bytes from the upstream at `index` toward the proxy.
    func answer(_ text: String, from index: Int = 0) throws {
        try self.connector.upstreams[index].writeInbound(ByteBuffer(string: text))
        self.loop.run()
    }

    func upstreamOutput(_ index: Int) throws -> String {
        let channel = self.connector.upstreams[index]
        var text = ""
        while let data = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = data { text += String(buffer: buffer) }
        }
        return text
    }

    var authorization: String {
        "Proxy-Authorization: Basic " + Data("keyhole:\(self.token)".utf8).base64EncodedString()
    }

    func send(_ text: String) throws {
        try self.client.writeInbound(ByteBuffer(string: text))
        self.loop.run()
    }

    /// Everything the client has been sent so far, as text.
    func clientOutput() throws -> String {
        var text = ""
        while let buffer = try self.client.readOutbound(as: ByteBuffer.self) {
            text += String(buffer: buffer)
        }
        return text
    }

    func upstreamOutput() throws -> String {
        var text = ""
        while let data = try self.upstream.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = data { text += String(buffer: buffer) }
        }
        while let buffer = try self.upstream.readOutbound(as: ByteBuffer.self) {
            text += String(buffer: buffer)
        }
        return text
    }
}
