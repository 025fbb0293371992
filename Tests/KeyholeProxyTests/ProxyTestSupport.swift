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

/// Hands out in-memory upstream channels on the test's event loop and records what was asked for.
final class FakeConnector: UpstreamConnector, @unchecked Sendable {
    let upstream: EmbeddedChannel
    private let lock = NIOLock()
    private var _requests: [(Authority, Bool)] = []

    init(upstream: EmbeddedChannel) {
        self.upstream = upstream
    }

    var requests: [(Authority, Bool)] { self.lock.withLock { self._requests } }

    func connect(to authority: Authority, tls: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        self.lock.withLock { self._requests.append((authority, tls)) }
        return eventLoop.makeSucceededFuture(self.upstream)
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

    init() throws {
        self.client = EmbeddedChannel(loop: self.loop)
        self.upstream = EmbeddedChannel(loop: self.loop)
        self.connector = FakeConnector(upstream: self.upstream)
        let credential = CredentialDefinition(name: "api", hosts: [try HostPattern("api.test")], env: ["API"], created: "")
        let session = ProxySession(id: "s1", credentials: [credential], placeholders: [self.placeholder: "api"])
        let audit = self.audit
        let dependencies = ProxyDependencies(
            sessions: FakeSessions(token: self.token, session: session),
            resolver: UnreachableResolver(),
            serverContext: { _, eventLoop in eventLoop.makeFailedFuture(CancellationError()) },
            connector: self.connector,
            audit: { audit.record($0) },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        try self.upstream.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        try ProxyServer.configure(channel: self.client, dependencies: dependencies)
        try self.client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
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
