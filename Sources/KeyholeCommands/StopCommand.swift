import ArgumentParser
import Foundation
import KeyholeControl

#if canImport(Glibc)
import Glibc
#endif

struct StopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop the daemon. Every session ends; their placeholders stop working.",
        discussion: "Example:\n  keyhole stop"
    )

    func run() throws {
        let context = ClientContext()
        let connection: DaemonConnection
        do {
            connection = try context.connect(autostart: false)
        } catch {
            Terminal.print("keyhole: no daemon running")
            return
        }
        let pid = (try? connection.send(ControlRequest(command: .status)))?.status?.pid
        do {
            _ = try connection.send(ControlRequest(command: .stop))
        } catch let error as ControlError where error.code == .closed {
            // It went away before answering: that is what we asked for.
        }
        connection.close()
        // Wait until it has gone, so that a following start does not race it.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let pid, kill(pid, 0) != 0 { break }
            if pid == nil, !FileManager.default.fileExists(atPath: context.paths.pidFile) { break }
            usleep(20_000)
        }
        Terminal.print("keyhole: daemon stopped")
    }
}
