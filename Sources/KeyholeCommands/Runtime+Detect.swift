import Foundation
import KeyholeCore

extension Runtime {
    /// How long a version command may take (a JVM or .NET start can be slow on a loaded machine).
    static let versionTimeout: TimeInterval = 20

    /// The runtime on `environment`'s PATH with its version, as its version command prints it; nil when it is not
    /// installed.
    public func detect(environment: [String: String]) -> Detected? {
        self.detect(environment: environment, run: Self.output(of:environment:))
    }

    /// The standard output and error of `argv` (stdin empty), or nil when it cannot start, fails or times out.
    static func output(of argv: [String], environment: [String: String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return nil
        }
        let timer = DispatchWorkItem { [process] in
            if process.isRunning { process.terminate() }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + self.versionTimeout, execute: timer)
        // Read until the command (or the timer) closes its end, so a chatty command cannot fill the pipe and stall.
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        timer.cancel()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
