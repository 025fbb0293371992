import KeyholeControl
import KeyholeCore

/// Moves what an importer found into keyhole, one `add` request per credential, then (with `--remove`) takes
/// exactly the imported entries out of their files. A name that is taken is skipped, never overwritten.
struct Importer {
    let output: ImportOutputOptions
    /// Nil for sources that are no file (`import env`).
    let removal: ImportRemovalOptions?
    let context = ClientContext()

    /// Imports `candidates` (in order; a later one with the same name as an earlier one is skipped), reports
    /// `skipped` as found by the parser, and edits `files` with `--remove`. Exits 1 when anything failed.
    @discardableResult
    func run(_ candidates: [ImportCandidate], skipped: [ImportReport.Item], files: [ImportSourceFile]) throws
        -> ImportReport
    {
        var report = ImportReport(dryRun: self.output.dryRun)
        report.skipped = skipped
        var connection: DaemonConnection?
        if !candidates.isEmpty {
            connection = self.output.dryRun ? try? self.context.connect(autostart: false) : try self.context.connect()
        }
        defer { connection?.close() }
        var existing = Set<String>()
        if let connection {
            existing = Set((try connection.send(ControlRequest(command: .list)).credentials ?? []).map(\.name))
        } else if !candidates.isEmpty {
            report.namesChecked = false
        }

        var firstSource: [String: String] = [:]
        var imported: [ImportCandidate] = []
        for candidate in candidates {
            let name = candidate.definition.name
            if let earlier = firstSource[name] {
                report.skipped.append(
                    ImportReport.Item(
                        candidate, reason: "\(earlier) gives the same name and comes first",
                        hint: "add this one under another name with `keyhole add NAME --host …`"
                    )
                )
                continue
            }
            firstSource[name] = candidate.source
            if existing.contains(name) {
                report.skipped.append(Self.nameTaken(candidate))
                continue
            }
            if let connection, !self.output.dryRun {
                do {
                    try Self.add(candidate, over: connection)
                } catch {
                    // One refusal (a name taken since the list, a store error) does not stop the others.
                    let (message, hint) = Self.describe(error)
                    if message.hasSuffix("already exists") {
                        report.skipped.append(Self.nameTaken(candidate))
                    } else {
                        report.failed.append(ImportReport.Item(candidate, reason: message, hint: hint))
                    }
                    continue
                }
            }
            report.imported.append(ImportReport.Item(candidate))
            imported.append(candidate)
        }

        var keptFiles: [String] = []
        for file in files {
            let fromFile = imported.filter { $0.file == file.path }
            let entries = Set(fromFile.compactMap(\.entry))
            guard !entries.isEmpty else { continue }
            guard let removal, removal.remove else {
                if !self.output.dryRun { keptFiles.append(file.path) }
                continue
            }
            var change = ImportReport.FileChange(path: file.path, removed: fromFile.map(\.source))
            if !self.output.dryRun {
                do {
                    change.backup = try ImportFileAccess.rewrite(
                        file.path, original: file.bytes, with: file.removing(entries), backup: removal.backup
                    )
                } catch let error as CLIError {
                    change.error = error.message
                    change.hint = error.hint
                }
            }
            report.files.append(change)
        }

        if self.output.json {
            try Terminal.printJSON(report)
        } else {
            report.printForPeople(keptFiles: keptFiles)
        }
        if report.hasFailures { throw ExitStatus(code: 1) }
        return report
    }

    private static func add(_ candidate: ImportCandidate, over connection: DaemonConnection) throws {
        var request = ControlRequest(command: .add)
        request.name = candidate.definition.name
        request.definition = candidate.definition
        request.secret = candidate.secret
        _ = try connection.send(request)
    }

    private static func describe(_ error: any Error) -> (message: String, hint: String?) {
        if let error = error as? CLIError { return (error.message, error.hint) }
        if let error = error as? any HintedError { return (error.description, error.hint) }
        return ("\(error)", "is the keyhole daemon the same version as this client? (`keyhole status`)")
    }

    private static func nameTaken(_ candidate: ImportCandidate) -> ImportReport.Item {
        let name = candidate.definition.name
        return ImportReport.Item(
            candidate, reason: "a credential named '\(name)' already exists; it was not changed",
            hint: "to give it this secret: `keyhole rotate \(name)`; to keep both: `keyhole add` it under another name"
        )
    }
}
