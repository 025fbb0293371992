import KeyholeCore

/// One credential an importer found: its definition, its secret, and where it came from.
struct ImportCandidate {
    var definition: CredentialDefinition
    var secret: String
    /// Where it came from, for people: `/home/me/.git-credentials line 3`, `$GITHUB_TOKEN`.
    var source: String
    /// The file it came from and the entry's key in that file (line, registry, profile), for `--remove`.
    var file: String?
    var entry: String?
}
