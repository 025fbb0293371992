import Foundation
import KeyholeControl
import KeyholeCore

#if canImport(Glibc)
import Glibc
#endif

/// What every client command shares: where the files are, and a connection to the daemon (started in the
/// background when none answers, as gpg-agent does).
struct ClientContext {
    let environment: [String: String]
    let paths: Paths

    init() {
        self.environment = ProcessEnvironment.current
        self.paths = Paths(environment: self.environment)
    }

    /// Connects to the daemon, starting one if none answers. Never starts two: the daemon's instance lock
    /// decides, and a client that loses the race simply connects to the winner.
    func connect(autostart: Bool = true) throws -> DaemonConnection {
        if let client = try? ControlClient.connect(path: self.paths.controlSocket, timeout: 5) {
            return DaemonConnection(client: client)
        }
        guard autostart else {
            throw CLIError("no keyhole daemon is running", hint: "start one with `keyhole daemon`, or run any command such as `keyhole status`")
        }
        let launched = try DaemonLauncher.launch(paths: self.paths, environment: self.environment)
        let deadline = Date().addingTimeInterval(15)
        var lastError: (any Error)?
        while Date() < deadline {
            do {
                return DaemonConnection(client: try ControlClient.connect(path: self.paths.controlSocket, timeout: 5))
            } catch {
                lastError = error
            }
            if let status = launched.exitStatus(), status != 0 {
                // It may have lost the race to another daemon that is starting; keep trying briefly.
                if !FileManager.default.fileExists(atPath: self.paths.lockFile) { break }
            }
            usleep(20_000)
        }
        var message = "the keyhole daemon did not start"
        if let lastError { message += " (\(lastError))" }
        throw CLIError(message, hint: "run `keyhole daemon` in a terminal to see why, or read \(self.paths.daemonLogFile)")
    }
}

/// One connection to the daemon: JSON requests and responses.
struct DaemonConnection {
    let client: ControlClient

    func send(_ request: ControlRequest) throws -> ControlResponse {
        let encoder = JSONEncoder()
        let line = try encoder.encode(request)
        let reply = try self.client.roundTrip(Array(line))
        let response = try JSONDecoder().decode(ControlResponse.self, from: Data(reply))
        guard response.ok else {
            throw CLIError(response.error ?? "the daemon refused the request", hint: response.hint)
        }
        return response
    }

    func close() {
        self.client.close()
    }
}
