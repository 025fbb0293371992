import ArgumentParser
import KeyholeControl

struct RotateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Replace a credential's secret (stdin or no-echo prompt). Takes effect on the next request.",
        discussion: "Example:\n  printf %s \"$NEW_TOKEN\" | keyhole rotate github"
    )

    @Argument(help: "Name of the credential.")
    var name: String

    func run() throws {
        let secret = try SecretInput.read(name: self.name)
        let connection = try ClientContext().connect()
        defer { connection.close() }
        var request = ControlRequest(command: .rotate)
        request.name = self.name
        request.secret = secret
        _ = try connection.send(request)
        Terminal.print("keyhole: rotated '\(self.name)'")
    }
}
