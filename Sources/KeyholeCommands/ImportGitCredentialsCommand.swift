import ArgumentParser
import KeyholeCore

/// `keyhole import git-credentials`: the plaintext file of git's `store` helper.
struct ImportGitCredentialsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "git-credentials",
        abstract: "Import ~/.git-credentials (git's plaintext `store` helper).",
        discussion: """
            Reads ~/.git-credentials and $XDG_CONFIG_HOME/git/credentials (~/.config/git/credentials), the files \
            `git credential-store` keeps, or the file of --file. Each line https://USER:TOKEN@HOST[:PORT][/PATH] \
            becomes credential git-HOST (git-HOST-PORT) for exactly that host, with that user name: under \
            `keyhole run`, git gets a placeholder for it from keyhole's credential helper. Lines that are no such \
            URL are left alone, as git leaves them. Drop `store` from git's credential.helper once the file is empty.

            Examples:
              keyhole import git-credentials --dry-run
              keyhole import git-credentials --remove --backup
            """
    )

    @Option(
        help: """
            Read this file instead of ~/.git-credentials and $XDG_CONFIG_HOME/git/credentials \
            (like `git credential-store --file`).
            """
    )
    var file: String?

    @OptionGroup var removal: ImportRemovalOptions
    @OptionGroup var output: ImportOutputOptions

    func run() throws {
        let importer = Importer(output: self.output, removal: self.removal)
        let environment = importer.context.environment
        let paths = self.file.map { [ImportFileAccess.expandTilde($0, environment: environment)] }
            ?? ImportFileAccess.gitCredentialsFiles(environment)
        var files: [ImportSourceFile] = []
        var candidates: [ImportCandidate] = []
        var skipped: [ImportReport.Item] = []
        for path in paths {
            guard let bytes = try ImportFileAccess.read(path) else { continue }
            let parsed = GitCredentialsFile(bytes: bytes)
            files.append(
                ImportSourceFile(path: path, bytes: bytes) { entries in
                    parsed.removing(lines: Set(entries.compactMap { Int($0) }))
                }
            )
            for problem in parsed.problems {
                skipped.append(ImportReport.Item(source: "\(path) line \(problem.line)", reason: problem.reason))
            }
            for entry in parsed.entries {
                let source = "\(path) line \(entry.line)"
                let name = CredentialDefinition.derivedName(prefix: "git", from: entry.host)
                guard let pattern = try? HostPattern(entry.host) else {
                    skipped.append(
                        ImportReport.Item(
                            name: name, source: source,
                            reason: "'\(entry.host)' is not a host name keyhole can scope a secret to"
                        )
                    )
                    continue
                }
                if Placeholder.contains(in: Substring(entry.password)) {
                    let reason = "the password is a keyhole placeholder"
                    skipped.append(ImportReport.Item(name: name, source: source, reason: reason))
                    continue
                }
                let definition = CredentialDefinition(
                    name: name, hosts: [pattern], username: entry.username, created: ""
                )
                candidates.append(
                    ImportCandidate(
                        definition: definition, secret: entry.password, source: source, file: path,
                        entry: "\(entry.line)"
                    )
                )
            }
        }
        guard !files.isEmpty else {
            throw CLIError(
                "no git credential file: \(paths.joined(separator: " and ")) "
                    + "\(paths.count == 1 ? "does" : "do") not exist",
                hint: "git's `store` helper writes ~/.git-credentials; for a file elsewhere pass --file PATH"
            )
        }
        try importer.run(candidates, skipped: skipped, files: files)
    }
}
