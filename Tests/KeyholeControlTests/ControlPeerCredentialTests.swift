import Foundation
import KeyholeControl
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A client running as another uid is refused by `SO_PEERCRED` alone: the test opens the directory and the
/// socket to everyone, so that file permissions no longer stand in the way.
@Suite struct ControlPeerCredentialTests {
    @Test(.enabled(if: getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0, "needs root and setpriv"))
    func aPeerOfAnotherUIDIsDisconnectedUnheard() async throws {
        let fixture = try await ServerFixture()
        chmod(fixture.root, 0o755)
        chmod(fixture.root + "/run", 0o755)
        chmod(fixture.socketDirectory, 0o755)
        chmod(fixture.socketPath, 0o666)

        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX)
            s.connect(sys.argv[1])
            print("connected", flush=True)
            try:
                s.sendall(b'{"op":"status"}\\n')
                data = s.recv(100)
            except (BrokenPipeError, ConnectionResetError):
                data = b""
            print("EOF" if data == b"" else "DATA " + data.decode().strip())
            """
        let output = try await Self.run(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script, fixture.socketPath]
        )
        #expect(output == "connected\nEOF\n")
        #expect(await fixture.handler.lines.isEmpty)
        #expect(await fixture.handler.closed.isEmpty)

        // The same script as ourselves is answered, so the refusal above was the uid check.
        let own = try await Self.run("/usr/bin/python3", ["-c", script, fixture.socketPath])
        #expect(own == "connected\nDATA ok:{\"op\":\"status\"}\n")
        try await fixture.shutDown()
    }

    private static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        try await blocking {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
    }
}
