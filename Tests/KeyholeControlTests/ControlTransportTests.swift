import Foundation
import KeyholeControl
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ControlTransportTests {
    @Test func roundTripsInOrderOnOneConnection() async throws {
        let fixture = try await ServerFixture()
        let path = fixture.socketPath
        let answers = try await blocking {
            let client = try ControlClient.connect(path: path, timeout: 5)
            defer { client.close() }
            var answers = [text(try client.roundTrip(bytes("{\"op\":\"first\"}")))]
            // Pipelined: three requests before reading any answer.
            for name in ["a", "b", "c"] {
                try client.send(bytes(name))
            }
            for _ in 0..<3 {
                answers.append(text(try client.receiveLine()))
            }
            return answers
        }
        #expect(answers == ["ok:{\"op\":\"first\"}", "ok:a", "ok:b", "ok:c"])
        let lines = await fixture.handler.lines
        #expect(lines.map(\.line) == ["{\"op\":\"first\"}", "a", "b", "c"])
        #expect(Set(lines.map(\.peer)).count == 1)
        #expect(lines.first?.peer.uid == getuid())
        #expect(lines.first?.peer.pid == getpid())
        try await fixture.shutDown()
    }

    @Test func eachConnectionIsItsOwnPeer() async throws {
        let fixture = try await ServerFixture()
        let path = fixture.socketPath
        try await blocking {
            let first = try ControlClient.connect(path: path, timeout: 5)
            let second = try ControlClient.connect(path: path, timeout: 5)
            _ = try first.roundTrip(bytes("1"))
            _ = try second.roundTrip(bytes("2"))
            first.close()
            second.close()
        }
        let peers = await fixture.handler.lines.map(\.peer.connectionID)
        #expect(Set(peers).count == 2)
        try await fixture.shutDown()
    }

    @Test func connectionClosedIsCalledWhenTheClientCloses() async throws {
        let fixture = try await ServerFixture()
        let path = fixture.socketPath
        try await blocking {
            let client = try ControlClient.connect(path: path, timeout: 5)
            _ = try client.roundTrip(bytes("hello"))
            client.close()
        }
        let peer = try #require(await fixture.handler.lines.first?.peer)
        #expect(await fixture.handler.waitUntil { await $0.closed == [peer] })
        try await fixture.shutDown()
    }

    @Test func connectionClosedIsCalledWhenTheClientIsKilled() async throws {
        let fixture = try await ServerFixture()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            "-c",
            "import socket,sys,time\n"
                + "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'from-python\\n')\n"
                + "s.recv(100); time.sleep(60)",
            fixture.socketPath,
        ]
        try process.run()
        let handler = fixture.handler
        #expect(await handler.waitUntil { await $0.lines.count == 1 })
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let peer = try #require(await handler.lines.first?.peer)
        #expect(peer.pid == process.processIdentifier)
        #expect(await handler.waitUntil { await $0.closed == [peer] })
        try await fixture.shutDown()
    }

    @Test func socketIs0600InA0700Directory() async throws {
        let fixture = try await ServerFixture()
        let socketMode = try #require(fileMode(fixture.socketPath))
        #expect(socketMode & S_IFMT == S_IFSOCK)
        #expect(socketMode & 0o7777 == 0o600)
        #expect(fileMode(fixture.socketDirectory).map { $0 & 0o7777 } == 0o700)
        try await fixture.shutDown()
        #expect(fileMode(fixture.socketPath) == nil)
    }

    @Test func anExistingDirectoryWithAWideModeIsTightened() async throws {
        let fixture = try await ServerFixture { root in
            mkdir(root + "/run", 0o755)
            mkdir(root + "/run/keyhole", 0o755)
            chmod(root + "/run/keyhole", 0o755)
        }
        #expect(fileMode(fixture.socketDirectory).map { $0 & 0o7777 } == 0o700)
        #expect(fileMode(fixture.root + "/run").map { $0 & 0o7777 } == 0o755)
        try await fixture.shutDown()
    }

    @Test(.enabled(if: getuid() == 0, "needs root to give the directory to another uid"))
    func aDirectoryOfAnotherUserIsRefused() async throws {
        let root = try ServerFixture.makeTemporaryDirectory()
        defer { ServerFixture.removeTree(root) }
        mkdir(root + "/keyhole", 0o700)
        chown(root + "/keyhole", 65534, 65534)
        let server = ControlServer(
            path: root + "/keyhole/control.sock",
            logger: ServerFixture.logger,
            handler: RecordingHandler()
        )
        let error = await #expect(throws: ControlError.self) { try await server.start() }
        #expect(error?.code == .unsafeDirectory)
        #expect(error?.message.contains("belongs to uid 65534") == true)
    }

    @Test func aSymlinkedDirectoryIsRefused() async throws {
        let root = try ServerFixture.makeTemporaryDirectory()
        defer { ServerFixture.removeTree(root) }
        mkdir(root + "/elsewhere", 0o700)
        symlink(root + "/elsewhere", root + "/keyhole")
        let server = ControlServer(
            path: root + "/keyhole/control.sock",
            logger: ServerFixture.logger,
            handler: RecordingHandler()
        )
        let error = await #expect(throws: ControlError.self) { try await server.start() }
        #expect(error?.code == .unsafeDirectory)
    }

    @Test func aStaleSocketFileIsReplaced() async throws {
        let fixture = try await ServerFixture { root in
            let directory = root + "/run/keyhole"
            mkdir(root + "/run", 0o700)
            mkdir(directory, 0o700)
            Self.leaveStaleSocket(at: directory + "/control.sock")
            #expect(fileMode(directory + "/control.sock").map { $0 & S_IFMT } == S_IFSOCK)
        }
        let path = fixture.socketPath
        let answer = try await blocking { try ControlClient.connect(path: path, timeout: 5).roundTrip(bytes("x")) }
        #expect(text(answer) == "ok:x")
        try await fixture.shutDown()
    }

    @Test func aLiveDaemonIsNotReplaced() async throws {
        let fixture = try await ServerFixture()
        let second = ControlServer(path: fixture.socketPath, logger: ServerFixture.logger, handler: RecordingHandler())
        let error = await #expect(throws: ControlError.self) { try await second.start() }
        #expect(error?.code == .alreadyRunning)
        let path = fixture.socketPath
        let answer = try await blocking { try ControlClient.connect(path: path, timeout: 5).roundTrip(bytes("still")) }
        #expect(text(answer) == "ok:still")
        try await fixture.shutDown()
    }

    @Test func aRegularFileAtTheSocketPathIsNotRemoved() async throws {
        let root = try ServerFixture.makeTemporaryDirectory()
        defer { ServerFixture.removeTree(root) }
        let path = root + "/control.sock"
        _ = FileManager.default.createFile(atPath: path, contents: Data("keep".utf8))
        let server = ControlServer(path: path, logger: ServerFixture.logger, handler: RecordingHandler())
        await #expect(throws: ControlError.self) { try await server.start() }
        #expect(FileManager.default.contents(atPath: path) == Data("keep".utf8))
    }

    @Test func anOversizeLineClosesTheConnection() async throws {
        let fixture = try await ServerFixture()
        let path = fixture.socketPath
        let outcome = try await blocking { () -> ControlError.Code? in
            let client = try ControlClient.connect(path: path, timeout: 5)
            defer { client.close() }
            do throws(ControlError) {
                try client.send([UInt8](repeating: UInt8(ascii: "x"), count: ControlServer.maximumLineLength + 4096))
                _ = try client.receiveLine()
                return nil
            } catch {
                return error.code
            }
        }
        #expect(outcome == .closed)
        #expect(await fixture.handler.lines.isEmpty)
        #expect(await fixture.handler.waitUntil { await $0.closed.count == 1 })
        try await fixture.shutDown()
    }

    @Test func aLineOfExactlyTheMaximumIsAccepted() async throws {
        let fixture = try await ServerFixture()
        let path = fixture.socketPath
        let answer = try await blocking {
            let client = try ControlClient.connect(path: path, timeout: 10)
            defer { client.close() }
            return try client.roundTrip([UInt8](repeating: UInt8(ascii: "y"), count: ControlServer.maximumLineLength))
        }
        #expect(answer.count == ControlServer.maximumLineLength + 3)
        try await fixture.shutDown()
    }

    @Test func closingTheServerEndsConnectionsAndRemovesTheSocket() async throws {
        let fixture = try await ServerFixture()
        let path = fixture.socketPath
        let client = try await blocking { () -> UncheckedBox<ControlClient> in
            let client = try ControlClient.connect(path: path, timeout: 5)
            _ = try client.roundTrip(bytes("before"))
            return UncheckedBox(client)
        }
        try await fixture.shutDown()
        #expect(await fixture.handler.closed.count == 1)
        #expect(fileMode(path) == nil)
        let code = try await blocking { () -> ControlError.Code? in
            do throws(ControlError) {
                _ = try client.value.roundTrip(bytes("after"))
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code == .closed)
    }

    @Test func cancellingRunClosesTheServer() async throws {
        let root = try ServerFixture.makeTemporaryDirectory()
        defer { ServerFixture.removeTree(root) }
        let server = ControlServer(
            path: root + "/control.sock", logger: ServerFixture.logger, handler: RecordingHandler())
        let task = Task { try await server.run() }
        for _ in 0..<200 where fileMode(root + "/control.sock") == nil {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(fileMode(root + "/control.sock") != nil)
        task.cancel()
        try await task.value
        #expect(fileMode(root + "/control.sock") == nil)
    }

    @Test func aMissingDaemonIsReportedQuickly() async throws {
        let root = try ServerFixture.makeTemporaryDirectory()
        defer { ServerFixture.removeTree(root) }
        let clock = ContinuousClock()
        for path in [root + "/control.sock", root + "/missing/dir/control.sock"] {
            let start = clock.now
            let error = #expect(throws: ControlError.self) { try ControlClient.connect(path: path, timeout: 5) }
            #expect(error?.code == .noDaemon)
            #expect(clock.now - start < .milliseconds(50))
        }
        Self.leaveStaleSocket(at: root + "/stale.sock")
        let stale = #expect(throws: ControlError.self) {
            try ControlClient.connect(path: root + "/stale.sock", timeout: 5)
        }
        #expect(stale?.code == .noDaemon)
        #expect(stale?.hint.contains("keyhole daemon") == true)
    }

    @Test func aTooLongPathIsRefused() {
        let error = #expect(throws: ControlError.self) {
            try ControlClient.connect(path: "/tmp/" + String(repeating: "d", count: 200) + "/control.sock", timeout: 1)
        }
        #expect(error?.code == .invalidPath)
    }

    @Test func aSlowAnswerTimesOut() async throws {
        let fixture = try await ServerFixture()
        let path = fixture.socketPath
        let code = try await blocking { () -> ControlError.Code? in
            let client = try ControlClient.connect(path: path, timeout: 0.2)
            defer { client.close() }
            do throws(ControlError) {
                _ = try client.roundTrip(bytes("slow"))
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code == .timeout)
        try await fixture.shutDown()
    }

    @Test func theClientDescriptorIsCloseOnExec() async throws {
        let fixture = try await ServerFixture()
        let path = fixture.socketPath
        let flags = try await blocking { () -> Int32 in
            let client = try ControlClient.connect(path: path, timeout: 5)
            defer { client.close() }
            return fcntl(client.fileDescriptor, F_GETFD)
        }
        #expect(flags & FD_CLOEXEC != 0)
        try await fixture.shutDown()
    }

    @Test func aNewlineInsideARequestIsRefused() async throws {
        let fixture = try await ServerFixture()
        let path = fixture.socketPath
        let code = try await blocking { () -> ControlError.Code? in
            let client = try ControlClient.connect(path: path, timeout: 5)
            defer { client.close() }
            do throws(ControlError) {
                try client.send(bytes("a\nb"))
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code == .protocolError)
        try await fixture.shutDown()
    }

    /// Binds a socket at `path` and closes it without removing the file: what a crashed daemon leaves.
    static func leaveStaleSocket(at path: String) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        close(fd)
    }
}

/// Moves a non-Sendable value between the test's threads (used strictly one at a time).
final class UncheckedBox<Value>: @unchecked Sendable {
    let value: Value

    init(_ value: Value) {
        self.value = value
    }
}
