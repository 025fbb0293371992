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
                // Lost the race to another daemon that is starting (it answers soon), or failed to start.
                if let client = try? ControlClient.connect(path: self.paths.controlSocket, timeout: 5) {
                    return DaemonConnection(client: client)
                }
                let reason = self.lastStartError() ?? "exit status \(status)"
                if reason.contains("already running") {
                    // Another client's daemon won the lock and is still starting: wait for it.
                    usleep(20_000)
                    continue
                }
                throw CLIError(
                    "the keyhole daemon could not start: \(reason)",
                    hint: "run `keyhole daemon` in a terminal to see more; its log is \(self.paths.daemonLogFile)"
                )
            }
            usleep(20_000)
        }
        var message = "the keyhole daemon did not start"
        if let lastError { message += " (\(lastError))" }
        throw CLIError(message, hint: "run `keyhole daemon` in a terminal to see why, or read \(self.paths.daemonLogFile)")
    }

    /// The last error line a failed daemon start wrote to its log.
    private func lastStartError() -> String? {
        guard let text = try? String(contentsOfFile: self.paths.daemonLogFile, encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n").suffix(20)
        guard let line = lines.last(where: { $0.hasPrefix("keyhole: error:") }) else { return nil }
        return String(line.dropFirst("keyhole: error: ".count))
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

    /// Sends `request` (`status`, `unlock`, `lock`) and returns the daemon's status from its answer.
    func status(_ request: ControlRequest = ControlRequest(command: .status)) throws -> DaemonStatus {
        guard let status = try self.send(request).status else {
            throw CLIError("the daemon sent no status", hint: "restart it with `keyhole stop` if it is an older version")
        }
        return status
    }

    func close() {
        self.client.close()
    }
}
