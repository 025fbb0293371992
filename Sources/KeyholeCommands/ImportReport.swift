import KeyholeCore

/// What `keyhole import` did (or, with `--dry-run`, would do): printed for people or as JSON. Holds names,
/// hosts, user names and sources; never a secret.
struct ImportReport: Encodable {
    struct Item: Encodable {
        var name: String?
        var type: String?
        var hosts: [String]?
        var username: String?
        var env: [String]?
        var source: String
        var reason: String?
        var hint: String?

        init(_ candidate: ImportCandidate, reason: String? = nil, hint: String? = nil) {
            self.name = candidate.definition.name
            self.type = candidate.definition.kind.rawValue
            self.hosts = candidate.definition.hosts.map(\.description)
            self.username = candidate.definition.username
            self.env = candidate.definition.env.isEmpty ? nil : candidate.definition.env
            self.source = candidate.source
            self.reason = reason
            self.hint = hint
        }

        /// An entry that never became a candidate (a line that is no credential URL, an identity token, …).
        init(name: String? = nil, source: String, reason: String) {
            self.name = name
            self.source = source
            self.reason = reason
        }
    }

    struct FileChange: Encodable {
        var path: String
        /// The sources of the entries removed (or to be removed).
        var removed: [String]
        var backup: String?
        var error: String?
        var hint: String?
    }

    var dryRun: Bool
    /// Whether the names were checked against the daemon's credentials (a dry run without a daemon cannot).
    var namesChecked = true
    var imported: [Item] = []
    var skipped: [Item] = []
    var failed: [Item] = []
    var files: [FileChange] = []

    enum CodingKeys: String, CodingKey {
        case dryRun = "dry_run", namesChecked = "names_checked", imported, skipped, failed, files
    }

    /// Whether anything went wrong (as opposed to being skipped on purpose).
    var hasFailures: Bool { !self.failed.isEmpty || self.files.contains { $0.error != nil } }

    /// The report for people: what was imported on stdout; what was skipped or failed on stderr.
    func printForPeople(keptFiles: [String]) {
        let verb = self.dryRun ? "would import" : "imported"
        for item in self.imported {
            var details = [(item.hosts ?? []).joined(separator: ", ")]
            if item.type == CredentialDefinition.Kind.aws.rawValue { details.append("type aws") }
            if let username = item.username { details.append("user \(username)") }
            if let env = item.env { details.append("env \(env.joined(separator: ", "))") }
            let name = item.name ?? "?"
            Terminal.print("keyhole: \(verb) '\(name)' for \(details.joined(separator: "; ")) from \(item.source)")
        }
        for item in self.skipped {
            let name = item.name.map { "'\($0)' " } ?? ""
            var line = "skipped \(name)from \(item.source): \(item.reason ?? "")"
            if let hint = item.hint { line += " (\(hint))" }
            Terminal.notice(line)
        }
        for item in self.failed {
            let name = item.name ?? "?"
            Terminal.error("'\(name)' from \(item.source) was not imported: \(item.reason ?? "")", hint: item.hint)
        }
        for change in self.files {
            let count = change.removed.count == 1 ? "1 entry" : "\(change.removed.count) entries"
            if let error = change.error {
                Terminal.error("\(change.path) was left as it is: \(error)", hint: change.hint)
            } else if self.dryRun {
                Terminal.print("keyhole: would remove \(count) from \(change.path)")
            } else {
                let backup = change.backup.map { " (the original is in \($0), mode 0600)" } ?? ""
                Terminal.print("keyhole: removed \(count) from \(change.path)\(backup)")
            }
        }
        if self.imported.isEmpty && self.skipped.isEmpty && self.failed.isEmpty {
            Terminal.print("keyhole: nothing to import")
        }
        if !self.namesChecked {
            Terminal.notice("no keyhole daemon is running, so the names were not checked against existing credentials")
        }
        for path in keptFiles {
            Terminal.notice(
                "the imported secrets are still in \(path) in plaintext: delete those entries, or import with --remove "
                    + "to have keyhole delete exactly them"
            )
        }
    }
}
