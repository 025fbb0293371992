import ArgumentParser
import KeyholeCore

/// `keyhole import aws-profile PROFILE`: a profile's keys from the AWS shared credentials file.
struct ImportAWSProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aws-profile",
        abstract: "Import a profile of ~/.aws/credentials as an aws credential.",
        discussion: """
            Reads profile PROFILE of $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials (or --file): \
            aws_access_key_id, aws_secret_access_key and, for temporary keys, aws_session_token. It becomes an \
            aws credential (like `keyhole add NAME --type aws`) named PROFILE, for *.amazonaws.com unless --host \
            says otherwise; under `keyhole run` it is an AWS profile of that name whose credential_process hands \
            out placeholder keys, and the proxy re-signs requests with the real ones. --remove deletes exactly the \
            profile's key lines (and its [PROFILE] header when nothing else is left in the section); settings in \
            ~/.aws/config are not touched.

            Examples:
              keyhole import aws-profile default --dry-run
              keyhole import aws-profile work --remove --backup
              keyhole import aws-profile ci --name aws-ci
            """
    )

    @Argument(help: "The profile: the name in [brackets] in the credentials file.")
    var profile: String

    @Option(help: "Name of the credential (default: PROFILE).")
    var name: String?

    @Option(
        name: .customLong("host"),
        help: "Host pattern the keys may be used for (default: *.amazonaws.com). Repeatable."
    )
    var hosts: [String] = []

    @Option(help: "Read this file instead of $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials.")
    var file: String?

    @OptionGroup var removal: ImportRemovalOptions
    @OptionGroup var output: ImportOutputOptions

    func validate() throws {
        let name = self.name ?? self.profile
        guard CredentialDefinition.isValidName(name) else {
            if self.name == nil {
                throw ValidationError(
                    "'\(self.profile)' cannot be a credential name (letters, digits, '.', '_', '-'; at most 64): "
                        + "pass one with --name NAME"
                )
            }
            throw ValidationError("'\(name)' is not a valid name: use letters, digits, '.', '_' or '-' (at most 64)")
        }
    }

    func run() throws {
        let importer = Importer(output: self.output, removal: self.removal)
        let environment = importer.context.environment
        let hosts: [HostPattern]
        do {
            let texts = self.hosts.isEmpty ? CredentialDefinition.defaultAWSHosts : self.hosts
            hosts = try texts.map { try HostPattern($0) }
        } catch {
            throw CLIError("\(error)", hint: "see `keyhole import aws-profile --help`")
        }
        let path: String
        if let file = self.file {
            path = ImportFileAccess.expandTilde(file, environment: environment)
        } else {
            path = ImportFileAccess.awsCredentialsFile(environment)
        }
        guard let bytes = try ImportFileAccess.read(path) else {
            throw CLIError(
                "no AWS credentials file at \(path)",
                hint: "`aws configure` writes it; for another file set AWS_SHARED_CREDENTIALS_FILE or pass --file PATH"
            )
        }
        let parsed = AWSCredentialsFile(bytes: bytes)
        let profile: AWSCredentialsFile.Profile
        do {
            profile = try parsed.profile(self.profile)
        } catch {
            throw CLIError("\(path): \(error)", hint: Self.hint(for: error))
        }
        let definition = CredentialDefinition(name: self.name ?? self.profile, kind: .aws, hosts: hosts, created: "")
        let candidate = ImportCandidate(
            definition: definition, secret: profile.credentials.json, source: "\(path) [\(self.profile)]", file: path,
            entry: self.profile
        )
        let file = ImportSourceFile(path: path, bytes: bytes) { _ in parsed.removing(profile) }
        try importer.run([candidate], skipped: [], files: [file])
    }

    private static func hint(for error: ImportFileError) -> String {
        if error.isSyntax { return "fix the file (the AWS CLI and SDKs refuse it too), or pass another with --file" }
        return "name a profile that has aws_access_key_id and aws_secret_access_key here; SSO and role profiles live "
            + "in ~/.aws/config and hold no keys to import"
    }
}
