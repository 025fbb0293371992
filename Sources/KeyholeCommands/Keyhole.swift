import ArgumentParser

/// The `keyhole` command tree.
public struct Keyhole: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "keyhole",
        abstract: "Let programs use credentials without ever holding them.",
        discussion: """
            A per-user daemon keeps your secrets in the keyring (or an encrypted file vault) and runs a loopback \
            proxy. Programs started with `keyhole run` get placeholders; the proxy swaps in the real secret only \
            for the hosts each credential is scoped to.

            Example:
              printf %s "$TOKEN" | keyhole add github --host api.github.com \\
                  --inject 'Authorization: Bearer {secret}' --env GITHUB_TOKEN
              keyhole run -- curl https://api.github.com/user
            """,
        version: "0.1.0",
        subcommands: [
            DaemonCommand.self, StatusCommand.self, StopCommand.self, UnlockCommand.self, LockCommand.self,
            AddCommand.self, ListCommand.self, RemoveCommand.self, RotateCommand.self, RunCommand.self,
            EnvCommand.self, LogCommand.self,
            DoctorCommand.self, ImportCommand.self, GitCredentialCommand.self, DockerCredentialCommand.self,
            AWSCredentialProcessCommand.self, ShellInitCommand.self, WrapCommand.self, UnwrapCommand.self,
        ]
    )

    public init() {}
}
