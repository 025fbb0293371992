import Foundation
import KeyholeControl
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Records what the server hands to it and answers `ok:<line>`; a line `slow` takes a second.
actor RecordingHandler: ControlRequestHandler {
    private(set) var lines: [(peer: ControlPeer, line: String)] = []
    private(set) var closed: [ControlPeer] = []

    func handle(line: [UInt8], peer: ControlPeer) async -> [UInt8] {
        let text = String(decoding: line, as: UTF8.self)
        self.lines.append((peer, text))
        if text == "slow" {
            try? await Task.sleep(for: .seconds(1))
        }
        return Array("ok:\(text)".utf8)
    }

    func connectionClosed(peer: ControlPeer) async {
        self.closed.append(peer)
    }

    /// Waits up to `seconds` for `condition` to hold.
    func waitUntil(seconds: Double = 5, _ condition: @Sendable (RecordingHandler) async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if await condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return await condition(self)
    }
}

/// A temporary directory with a control server running on `socketPath` (in a not yet existing
/// subdirectory, so the server creates it).
final class ServerFixture: Sendable {
    let root: String
    let socketDirectory: String
    let socketPath: String
    let handler = RecordingHandler()
    let server: ControlServer
    private let task: Task<Void, any Error>

    init(prepare: (String) throws -> Void = { _ in }) async throws {
        self.root = try Self.makeTemporaryDirectory()
        self.socketDirectory = self.root + "/run/keyhole"
        self.socketPath = self.socketDirectory + "/control.sock"
        try prepare(self.root)
        self.server = ControlServer(path: self.socketPath, logger: Self.logger, handler: self.handler)
        do {
            try await self.server.start()
        } catch {
            Self.removeTree(self.root)
            throw error
        }
        let server = self.server
        self.task = Task { try await server.run() }
    }

    static let logger = Logger(label: "keyhole.control.tests") { _ in SwiftLogNoOpLogHandler() }

    /// Closes the server, waits for `run()` to return and removes the directory.
    func shutDown() async throws {
        self.server.close()
        try await self.task.value
        Self.removeTree(self.root)
    }

    static func makeTemporaryDirectory() throws -> String {
        var template = Array("/tmp/keyhole-control-XXXXXX".utf8CString)
        guard let result = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw POSIXError(.EIO)
        }
        return String(cString: result)
    }

    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs blocking client code on its own thread, so that it cannot starve the concurrency pool the server
/// and handler run on.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try body() })
        }
    }
}

func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return info.st_mode
}

func bytes(_ text: String) -> [UInt8] {
    Array(text.utf8)
}

func text(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: UTF8.self)
}
