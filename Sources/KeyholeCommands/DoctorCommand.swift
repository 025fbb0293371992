import ArgumentParser
import Foundation
import KeyholeControl
import KeyholeCore

/// `keyhole doctor`: one screen of what works and what to fix.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the daemon, store, CA, a real round trip, credentials, plain-text secrets and runtimes.",
        discussion: """
            Each line says what works or what is wrong and how to fix it. The round trip is real: a throw-away \
            secret goes into the store, and an HTTPS request carrying its placeholder goes through the proxy to a \
            loopback test server, which checks that the real secret arrived. Exit status 1 when a check fails \
            (with --strict, also when one warns).

            Examples:
              keyhole doctor
              keyhole doctor --json | jq '.checks[] | select(.status != "ok")'
            """
    )

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @Flag(help: "Exit 1 on warnings too (plain-text secrets, runtimes keyhole cannot reach).")
    var strict = false

    @Flag(help: "Skip running installed runtimes (the runtime lines then only say what is installed).")
    var noRuntimes = false

    func run() throws {
        let context = ClientContext()
        var report = DoctorReport()
        DoctorChecks(context: context).run(into: &report, runtimes: !self.noRuntimes)
        if self.json {
            try Terminal.printJSON(report)
        } else {
            Terminal.print(report.rendered(color: Terminal.colorOnStdout))
        }
        if report.hasFailures || (self.strict && report.hasWarnings) {
            throw ExitStatus(code: 1)
        }
    }
}

/// What `doctor` found: checks in order, each with a fix when it is not ok.
struct DoctorReport: Encodable {
    enum Status: String, Encodable {
        case ok, warn, fail, skip
    }

    struct Check: Encodable {
        var id: String
        var title: String
        var status: Status
        var detail: String
        var fix: String?
    }

    var checks: [Check] = []

    var ok: Bool { !self.hasFailures }
    var hasFailures: Bool { self.checks.contains { $0.status == .fail } }
    var hasWarnings: Bool { self.checks.contains { $0.status == .warn } }

    mutating func add(_ id: String, _ title: String, _ status: Status, _ detail: String, fix: String? = nil) {
        self.checks.append(Check(id: id, title: title, status: status, detail: detail, fix: fix))
    }

    enum CodingKeys: String, CodingKey {
        case ok, checks
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.ok, forKey: .ok)
        try container.encode(self.checks, forKey: .checks)
    }

    func rendered(color: Bool) -> String {
        let width = (self.checks.map(\.title.count).max() ?? 0) + 2
        var lines: [String] = []
        for check in self.checks {
            let (mark, code): (String, String)
            switch check.status {
            case .ok: (mark, code) = ("ok  ", "\u{1B}[32m")
            case .warn: (mark, code) = ("warn", "\u{1B}[33m")
            case .fail: (mark, code) = ("FAIL", "\u{1B}[31m")
            case .skip: (mark, code) = ("--  ", "\u{1B}[2m")
            }
            let label = color ? code + mark + "\u{1B}[0m" : mark
            lines.append("\(label)  \(check.title.padding(toLength: width, withPad: " ", startingAt: 0))\(check.detail)")
            if let fix = check.fix {
                // A fix for what is wrong; on a line that is fine, a note (e.g. a runtime that works with one).
                let word = check.status == .ok || check.status == .skip ? "note: " : "fix: "
                lines.append(String(repeating: " ", count: 6 + width) + word + fix)
            }
        }
        let failures = self.checks.filter { $0.status == .fail }.count
        let warnings = self.checks.filter { $0.status == .warn }.count
        lines.append("")
        lines.append(
            failures == 0 && warnings == 0
                ? "All good."
                : "\(failures) to fix, \(warnings) warning\(warnings == 1 ? "" : "s")."
        )
        return lines.joined(separator: "\n")
    }
}
