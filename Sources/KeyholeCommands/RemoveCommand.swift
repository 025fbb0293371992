import ArgumentParser
import KeyholeControl

struct RemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Remove a credential and its secret. Open sessions lose it at once.",
        discussion: "Example:\n  keyhole rm stripe"
    )

    @Argument(help: "Name of the credential.")
    var name: String

    func run() throws {
        let connection = try ClientContext().connect()
        defer { connection.close() }
        var request = ControlRequest(command: .remove)
        request.name = self.name
        _ = try connection.send(request)
        Terminal.print("keyhole: removed '\(self.name)'")
    }
}
