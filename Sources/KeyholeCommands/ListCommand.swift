import ArgumentParser
import KeyholeControl
import KeyholeCore

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List credentials: names, hosts, injected header, variables. Never secrets.",
        discussion: "Example:\n  keyhole list --json"
    )

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() throws {
        let connection = try ClientContext().connect()
        defer { connection.close() }
        let credentials = try connection.send(ControlRequest(command: .list)).credentials ?? []
        if self.json {
            try Terminal.printJSON(credentials)
            return
        }
        guard !credentials.isEmpty else {
            Terminal.print("No credentials yet. Add one with: printf %s \"$TOKEN\" | keyhole add NAME --host api.example.com")
            return
        }
        let rows = credentials.map { credential in
            [
                credential.name,
                credential.kind.rawValue,
                credential.hosts.map(\.description).joined(separator: ","),
                credential.inject.map(\.headerName) ?? "-",
                credential.env.isEmpty ? "-" : credential.env.joined(separator: ","),
                credential.username ?? "-",
            ]
        }
        Terminal.print(TextTable.render(header: ["NAME", "TYPE", "HOSTS", "INJECT", "ENV", "USER"], rows: rows))
    }
}

/// Left-aligned columns separated by two spaces.
enum TextTable {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
