import Foundation
import KeyholeCore
import Logging

/// A fresh private directory under /tmp, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/keyhole-store-tests.XXXXXX".utf8CString)
        guard let result = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw POSIXError(.EIO)
        }
        self.path = String(cString: result)
    }

    /// XDG paths inside this directory.
    var paths: Paths {
        Paths(
            configDirectory: self.path + "/config/keyhole",
            dataDirectory: self.path + "/data/keyhole",
            stateDirectory: self.path + "/state/keyhole",
            runtimeDirectory: self.path + "/run/keyhole"
        )
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: self.path)
    }
}

/// Collects warnings from a store.
final class WarningRecorder: Sendable {
    private let lock = NSLock()
    nonisolated(unsafe) private var storage: [String] = []

    var messages: [String] {
        self.lock.withLock { self.storage }
    }

    var callback: @Sendable (String) -> Void {
        { message in self.lock.withLock { self.storage.append(message) } }
    }
}

enum Files {
    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    static func bytes(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { Array($0) }
    }

    static func write(_ path: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}

/// Runs a program and returns its exit status and standard output; with `mergingErrors`, standard error is
/// appended to the output, else it is passed through.
func run(
    _ executable: String,
    _ arguments: [String],
    stdin: String? = nil,
    mergingErrors: Bool = false
) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    let errors = Pipe()
    if mergingErrors {
        process.standardError = errors
    }
    let input = Pipe()
    if stdin != nil {
        process.standardInput = input
    }
    try process.run()
    if let stdin {
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
    }
    // Small outputs: reading one pipe to its end before the other cannot dead-lock here.
    var data = output.fileHandleForReading.readDataToEndOfFile()
    if mergingErrors {
        data.append(errors.fileHandleForReading.readDataToEndOfFile())
    }
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A random suffix, so concurrent or repeated runs never share an item.
func uniqueName(_ prefix: String) -> String {
    "\(prefix)-\(UInt64.random(in: 0 ... .max))"
}

let quietLogger = Logger(label: "keyhole.store.tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// Does `haystack` contain `needle` as a byte sequence?
func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return false }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
        if Array(haystack[start..<(start + needle.count)]) == needle { return true }
    }
    return false
}
