import Foundation
import Glibc
import KeyholeCore
import Logging
import NIOCore
import NIOEmbedded

@testable import KeyholeProxy

/// The request path through keyhole's real handlers: a client connection (a new proxy connection, or one inside
/// an intercepted CONNECT to api.test:443 with TLS already terminated) on an `EmbeddedChannel`, upstreams that are
/// `EmbeddedChannel`s too, and a session with four credentials whose secrets are known and AWS keys (requests signed
/// with the placeholder keys below are verified and re-signed with the real ones).
///
/// Input: segments separated by `|||`. A segment starting with `<` is what the latest upstream answers; any other
/// is bytes from the client. In both, `$P1`…`$P4` become the credentials' placeholders, `$P9` a placeholder of no
/// credential and `$T` the Basic value of the session's proxy password. The first byte of the input picks the
/// kind of client connection (even: new proxy connection; odd: inside the tunnel).
///
/// Properties:
/// - bytes written toward an upstream hold a secret (for AWS: the real key id, secret key or session token) only
///   when its credential is scoped to that upstream's authority, and only over TLS unless the credential allows
///   plain http; the real AWS secret key is never written at all;
/// - every request head an upstream connection carries names that connection's authority in its Host header;
/// - no secret ever reaches the client;
/// - after every timeout has had its time, the client connection and every upstream connection are closed.
enum ProxyFuzz {
    static let target = FuzzTarget(
        name: "proxy",
        summary: "the request path (front handler, forwarding, upstream) with scope, host and cleanup oracles",
        run: { bytes in ProxyFuzz.run(Array(bytes)) }
    )

    struct Credential {
        let definition: CredentialDefinition
        let placeholder: String
        /// What the resolver returns.
        let secret: String
        /// What must go only where the credential is scoped (the secret itself, or for AWS the parts of the keys).
        var markers: [String] { self.definition.kind == .aws ? [ProxyFuzz.realAWS.accessKeyID, ProxyFuzz.realAWS.secretAccessKey, ProxyFuzz.realAWS.sessionToken!] : [self.secret] }
    }

    /// The AWS keys: the workload signs with `placeholderAWS` (Fuzz/corpus/proxy/tunnel-aws-* were signed with them
    /// by botocore), keyhole re-signs with `realAWS`.
    static let placeholderAWS = AWSCredentials(accessKeyID: "ASIAKEYHOLEFUZZ00005", secretAccessKey: "fuzzPlaceholderSecretKey/5+aws", sessionToken: "fuzzPlaceholderSessionToken5")
    static let realAWS = AWSCredentials(accessKeyID: "AKIAREALFUZZPROXY005", secretAccessKey: "REALsecretKEYproxyFUZZ/5+aws", sessionToken: "REALsessionTOKENproxyFUZZ5")

    static let credentials: [Credential] = {
        func make(_ name: String, _ hosts: [String], kind: CredentialDefinition.Kind = .generic, inject: String? = nil, allowHTTP: Bool = false, index: Int) -> Credential {
            Credential(
                definition: CredentialDefinition(
                    name: name, kind: kind, hosts: hosts.map { try! HostPattern($0) }, inject: inject.map { try! InjectTemplate($0) },
                    allowHTTP: allowHTTP, created: ""
                ),
                placeholder: "khp_" + String(repeating: String(index), count: 40),
                secret: kind == .aws
                    ? #"{"AccessKeyId":"\#(realAWS.accessKeyID)","SecretAccessKey":"\#(realAWS.secretAccessKey)","SessionToken":"\#(realAWS.sessionToken!)"}"#
                    : "SECRET\(index)-\(name)-value"
            )
        }
        return [
            make("api", ["api.test"], index: 1),
            make("inj", ["api.test:443"], inject: "X-Key: {secret}", index: 2),
            make("other", ["*.other.test"], index: 3),
            make("dev", ["dev.test"], allowHTTP: true, index: 4),
            make("aws", ["api.test", "*.amazonaws.com"], kind: .aws, index: 5),
        ]
    }()

    static let token = "fuzz-token"
    /// `KEYHOLE_FUZZ_DUMP=1`: print what went to each upstream and to the client (to read a finding).
    static let dump = getenv("KEYHOLE_FUZZ_DUMP") != nil
    static let tunnel = Authority(host: "api.test", port: 443)
    static let logger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

    static let session = ProxySession(
        id: "fz1", credentials: credentials.map(\.definition),
        placeholders: Dictionary(uniqueKeysWithValues: credentials.filter { $0.definition.kind != .aws }.map { ($0.placeholder, $0.definition.name) }),
        awsKeys: [placeholderAWS.accessKeyID: AWSSessionKey(credential: "aws", placeholder: placeholderAWS)]
    )

    /// `$P1`…`$P5`, `$P9` (after `$P`) and `$T` (after `$`): what they stand for.
    static let placeholderSubstitutions: [UInt8: [UInt8]] = {
        var table = Dictionary(uniqueKeysWithValues: credentials.enumerated().map { (UInt8(ascii: "1") + UInt8($0.offset), Array($0.element.placeholder.utf8)) })
        table[UInt8(ascii: "9")] = Array(("khp_" + String(repeating: "9", count: 40)).utf8)
        return table
    }()
    static let tokenSubstitution = Array(("Basic " + Data("keyhole:\(token)".utf8).base64EncodedString()).utf8)

    /// Every marker of every credential, as bytes.
    static let markers: [(credential: Credential, marker: [UInt8])] = credentials.flatMap { credential in credential.markers.map { (credential, Array($0.utf8)) } }
    static let realAWSSecretKey = Array(realAWS.secretAccessKey.utf8)

    /// The bytes with `$P1`…`$P5`, `$P9` and `$T` replaced (bytes, not text: the workload's bytes go as they are).
    static func expand(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        guard bytes.contains(UInt8(ascii: "$")) else { return Array(bytes) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 64)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "$"), index + 1 < bytes.endIndex {
                if bytes[index + 1] == UInt8(ascii: "T") {
                    out += Self.tokenSubstitution
                    index += 2
                    continue
                }
                if bytes[index + 1] == UInt8(ascii: "P"), index + 2 < bytes.endIndex, let value = Self.placeholderSubstitutions[bytes[index + 2]] {
                    out += value
                    index += 3
                    continue
                }
            }
            out.append(byte)
            index += 1
        }
        return out
    }

    /// Whether `needle` occurs in `haystack` (memchr and memcmp: the oracles run after every segment, on everything
    /// so far, and Foundation's `contains` was a quarter of the target's time).
    static func occurs(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        guard let first = needle.first else { return true }
        guard haystack.count >= needle.count else { return false }
        return haystack.withUnsafeBufferPointer { hay in
            needle.withUnsafeBufferPointer { need in
                let base = hay.baseAddress!
                let last = hay.count - need.count
                var start = 0
                while start <= last {
                    guard let found = memchr(base + start, Int32(first), last - start + 1) else { return false }
                    let offset = found.assumingMemoryBound(to: UInt8.self) - UnsafeMutablePointer(mutating: base)
                    if memcmp(base + offset, need.baseAddress!, need.count) == 0 { return true }
                    start = offset + 1
                }
                return false
            }
        }
    }

    static func run(_ input: [UInt8]) {
        guard let first = input.first else { return }
        let loop = EmbeddedEventLoop()
        let connector = RecordingConnector(loop: loop)
        let dependencies = ProxyDependencies(
            sessions: FuzzSessions(),
            resolver: FuzzResolver(),
            serverContext: { _, eventLoop in eventLoop.makeFailedFuture(CancellationError()) },
            connector: connector,
            audit: { _ in },
            logger: Self.logger
        )
        let client = EmbeddedChannel(loop: loop)
        do {
            if first & 1 == 1 {
                let codec = ServerCodecHandlers()
                try codec.add(to: client.pipeline.syncOperations)
                try client.pipeline.syncOperations.addHandler(
                    ForwardingHandler(mode: .intercepted(authority: Self.tunnel, token: Self.token), dependencies: dependencies, codec: codec)
                )
            } else {
                try ProxyServer.configure(channel: client, dependencies: dependencies)
            }
            try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        } catch {
            FuzzCheck.fail("set-up: \(error)")
        }

        var clientOutput: [UInt8] = []
        // What the workload itself wrote: a secret it typed (libFuzzer can learn one from the oracle's own string
        // comparisons) is not one keyhole leaked.
        var known = Set<[UInt8]>()
        for segment in Self.segments(input.dropFirst()) {
            let bytes = Self.expand(segment.first == UInt8(ascii: "<") ? segment.dropFirst() : segment)
            for (_, marker) in Self.markers where Self.occurs(marker, in: bytes) { known.insert(marker) }
        }
        for segment in Self.segments(input.dropFirst()) {
            if segment.first == UInt8(ascii: "<") {
                guard let upstream = connector.connections.last, upstream.channel.isActive else { continue }
                try? upstream.channel.writeInbound(ByteBuffer(bytes: Self.expand(segment.dropFirst())))
            } else {
                guard client.isActive else { break }
                try? client.writeInbound(ByteBuffer(bytes: Self.expand(segment)))
            }
            loop.run()
            Self.check(connector, clientOutput: &clientOutput, client: client, known: known)
        }
        // Let every timeout (head, handshake, idle, response, tunnel idle) fire.
        for _ in 0..<3 {
            loop.advanceTime(by: .hours(2))
            loop.run()
            Self.check(connector, clientOutput: &clientOutput, client: client, known: known)
        }
        if Self.dump {
            for connection in connector.connections {
                print("== to \(connection.authority) (tls: \(connection.tls))\n" + fuzzShow(String(decoding: connection.sent, as: UTF8.self)).replacingOccurrences(of: "\\u{d}\\u{a}", with: "\\r\\n\n"))
            }
            print("== to the client\n" + fuzzShow(String(decoding: clientOutput, as: UTF8.self)).replacingOccurrences(of: "\\u{d}\\u{a}", with: "\\r\\n\n"))
        }
        FuzzCheck.require(!client.isActive, "the client connection is still open after every timeout")
        for connection in connector.connections {
            FuzzCheck.require(!connection.channel.isActive, "an upstream connection to \(connection.authority) is still open")
        }
        _ = try? client.finish()
        for connection in connector.connections {
            _ = try? connection.channel.finish()
        }
        try? loop.syncShutdownGracefully()
    }

    static func segments(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var start = bytes.startIndex
        var index = bytes.startIndex
        while index + 2 < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "|") && bytes[index + 1] == UInt8(ascii: "|") && bytes[index + 2] == UInt8(ascii: "|") {
                result.append(bytes[start..<index])
                index += 3
                start = index
            } else {
                index += 1
            }
        }
        result.append(bytes[start..<bytes.endIndex])
        return result.filter { !$0.isEmpty }
    }

    /// Drains what went out on every connection and checks the properties.
    static func check(_ connector: RecordingConnector, clientOutput: inout [UInt8], client: EmbeddedChannel, known: Set<[UInt8]>) {
        for connection in connector.connections {
            while let data = try? connection.channel.readOutbound(as: IOData.self) {
                if case .byteBuffer(let buffer) = data { connection.sent += buffer.readableBytesView }
            }
            while let buffer = try? connection.channel.readOutbound(as: ByteBuffer.self) {
                connection.sent += buffer.readableBytesView
            }
            for (credential, marker) in Self.markers where !known.contains(marker) && Self.occurs(marker, in: connection.sent) {
                FuzzCheck.require(
                    known.contains(Self.realAWSSecretKey) || !Self.occurs(Self.realAWSSecretKey, in: connection.sent),
                    "the real AWS secret key went to \(connection.authority)"
                )
                FuzzCheck.require(
                    credential.definition.isScoped(to: connection.authority),
                    "the secret of '\(credential.definition.name)' went to \(connection.authority)"
                )
                FuzzCheck.require(
                    connection.tls || credential.definition.allowHTTP,
                    "the secret of '\(credential.definition.name)' went to \(connection.authority) in clear text"
                )
            }
            // Only where secrets may go: to a host no credential is scoped to the proxy opens a byte tunnel on CONNECT,
            // and the client's bytes pass through untouched (the secret check above covers those connections).
            let hostsToCheck = Self.session.credentials(scopedTo: connection.authority).isEmpty
                ? [] : UpstreamStream.hostHeaders(in: connection.sent)
            for host in hostsToCheck {
                guard let parsed = Authority(parsing: host, defaultPort: connection.authority.port) else {
                    FuzzCheck.fail("unparsable Host header \(host.debugDescription) sent to \(connection.authority)")
                }
                FuzzCheck.require(
                    parsed.host == connection.authority.host
                        && (parsed.port == connection.authority.port || !host.contains(":") || connection.authority.isIPv6),
                    "a request for \(host.debugDescription) went on the connection to \(connection.authority)"
                )
            }
        }
        while let buffer = try? client.readOutbound(as: ByteBuffer.self) {
            clientOutput += buffer.readableBytesView
        }
        for (credential, marker) in Self.markers where !known.contains(marker) {
            FuzzCheck.require(!Self.occurs(marker, in: clientOutput), "the secret of '\(credential.definition.name)' reached the client")
        }
    }
}

/// The session table: one token.
struct FuzzSessions: SessionAuthenticator {
    func session(forToken token: String) -> ProxySession? {
        token == ProxyFuzz.token ? ProxyFuzz.session : nil
    }
}

/// Every credential's secret, at once.
struct FuzzResolver: SecretResolver {
    func secret(for credential: String) async throws -> Secret {
        guard let secret = self.cachedSecret(for: credential) else { throw CancellationError() }
        return secret
    }

    func cachedSecret(for credential: String) -> Secret? {
        ProxyFuzz.credentials.first { $0.definition.name == credential }.map { Secret($0.secret) }
    }
}

/// Hands out a new connected `EmbeddedChannel` per connection and remembers where each one goes.
final class RecordingConnector: UpstreamConnector, @unchecked Sendable {
    final class Connection {
        let authority: Authority
        let tls: Bool
        let channel: EmbeddedChannel
        var sent: [UInt8] = []

        init(authority: Authority, tls: Bool, channel: EmbeddedChannel) {
            self.authority = authority
            self.tls = tls
            self.channel = channel
        }
    }

    let loop: EmbeddedEventLoop
    var connections: [Connection] = []

    init(loop: EmbeddedEventLoop) {
        self.loop = loop
    }

    func connect(to authority: Authority, tls: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        guard self.connections.count < 16 else { return eventLoop.makeFailedFuture(ChannelError.connectTimeout(.seconds(1))) }
        let channel = EmbeddedChannel(loop: self.loop)
        _ = channel.connect(to: try! SocketAddress(ipAddress: "127.0.0.1", port: 9))
        self.connections.append(Connection(authority: authority, tls: tls, channel: channel))
        return eventLoop.makeSucceededFuture(channel)
    }
}
