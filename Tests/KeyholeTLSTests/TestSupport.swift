import Foundation
import KeyholeCore
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// A fresh directory under /tmp, removed when `body` returns.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    var template = Array("/tmp/keyhole-tls-tests-XXXXXX".utf8CString)
    guard let pointer = mkdtemp(&template) else { throw POSIXError(.EIO) }
    let directory = String(cString: pointer)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try await body(directory)
}

/// XDG locations all under `root`, like an isolated user.
func makePaths(root: String) -> Paths {
    Paths(
        configDirectory: root + "/config/keyhole",
        dataDirectory: root + "/data/keyhole",
        stateDirectory: root + "/state/keyhole",
        runtimeDirectory: root + "/run/keyhole"
    )
}

func permissions(of path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
}

func inode(of path: String) throws -> UInt64 {
    var info = stat()
    guard stat(path, &info) == 0 else { throw POSIXError(.ENOENT) }
    return UInt64(info.st_ino)
}

func writeFile(_ path: String, _ text: String) throws {
    try text.write(toFile: path, atomically: false, encoding: .utf8)
}

func readFile(_ path: String) throws -> String {
    try String(contentsOfFile: path, encoding: .utf8)
}

struct ProcessResult {
    var status: Int32
    var output: String
}

/// Runs `arguments[0]` (looked up on PATH) with stdin from /dev/null, capturing stdout and stderr together.
func runProcess(_ arguments: [String]) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}

/// A TLS server on 127.0.0.1 that gets each connection's context from `context` and answers any bytes it
/// receives with a small HTTP response.
final class TestTLSServer: Sendable {
    let channel: any Channel
    var port: Int { self.channel.localAddress!.port! }

    init(context: @escaping @Sendable (any Channel) -> EventLoopFuture<NIOSSLContext>) async throws {
        self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                context(channel).flatMapThrowing { sslContext in
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    try channel.pipeline.syncOperations.addHandler(ReplyHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    func close() async throws {
        try await self.channel.close()
    }
}

/// Answers the first bytes of a connection with `HTTP/1.1 200 OK` and closes it; closes on any error.
final class ReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.answered else { return }
        self.answered = true
        let body = "hello from keyhole test\n"
        let response = "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: response)), promise: nil)
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ReplyHandler: Sendable {}

struct ConnectionClosedBeforeHandshake: Error {}

/// Connects to 127.0.0.1:`port` with `context` and `serverHostname`; returns the negotiated ALPN protocol
/// once the handshake (including NIOSSL's hostname check) completed, or throws its error.
func handshake(port: Int, context: NIOSSLContext, serverHostname: String?) async throws -> String? {
    let group = MultiThreadedEventLoopGroup.singleton
    let promise = group.next().makePromise(of: String?.self)
    let channel: any Channel
    do {
        channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = try NIOSSLClientHandler(context: context, serverHostname: serverHostname)
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.addHandler(HandshakeObserver(promise: promise))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
    } catch {
        promise.fail(error)
        throw error
    }
    defer { channel.close(promise: nil) }
    return try await promise.futureResult.get()
}

/// Completes `promise` with the handshake's outcome.
final class HandshakeObserver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let promise: EventLoopPromise<String?>

    init(promise: EventLoopPromise<String?>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = event {
            self.promise.succeed(negotiated)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.promise.fail(ConnectionClosedBeforeHandshake())
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension HandshakeObserver: Sendable {}
