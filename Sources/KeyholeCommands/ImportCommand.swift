import ArgumentParser

/// `keyhole import`: moves secrets that sit in plaintext (a shell variable, git's store file, a registry
/// client's config, the AWS credentials file) into keyhole.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Move secrets from plaintext files and variables into keyhole.",
        discussion: """
            Each importer defines credentials scoped to the hosts the secret belongs to and stores the secrets \
            through the daemon, like `keyhole add`. A name that is already taken is skipped, never overwritten. \
            --dry-run shows what would happen; --remove deletes exactly the imported entries from the file \
            (every other byte stays as it was), --backup keeps a 0600 copy of the original. No secret is printed.

            Examples:
              keyhole import env GITHUB_TOKEN --name github --host api.github.com --host github.com
              keyhole import git-credentials --dry-run
              keyhole import docker-config --remove --backup
              keyhole import aws-profile default --remove
            """,
        subcommands: [
            ImportEnvCommand.self, ImportGitCredentialsCommand.self, ImportDockerConfigCommand.self,
            ImportAWSProfileCommand.self,
        ]
    )
}
