import ArgumentParser
import Foundation
import KeyholeControl
import KeyholeCore

/// `keyhole aws-credential-process NAME`: the `credential_process` of the profiles `keyhole run` generates. Prints
/// the session's placeholder keys for the aws credential NAME; the proxy verifies what the SDK signs with them
/// and re-signs with the real keys.
struct AWSCredentialProcessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aws-credential-process",
        abstract: "AWS credential_process: prints placeholder keys of an aws credential for this session.",
        discussion: """
            `keyhole run` writes an AWS config in which each aws credential is a profile with \
            `credential_process = keyhole aws-credential-process NAME`; AWS SDKs and the CLI call it themselves. \
            Expiration is the session's end (an hour ahead for a `run` session, asked again after), so SDKs refresh.

            Example:
              keyhole add work --type aws < keys.json
              keyhole run -- aws sts get-caller-identity
            """
    )

    @Argument(help: "The aws credential.")
    var name: String

    /// How far ahead a `run` session's placeholder keys say they expire; the SDK asks again before then.
    static let runSessionValidity: TimeInterval = 3600

    func run() throws {
        let context = ClientContext()
        guard let session = try HelperSession.current(context) else {
            throw CLIError(
                "aws-credential-process only works inside a keyhole session (KEYHOLE_SESSION is not set)",
                hint: "run the AWS command under `keyhole run -- CMD`"
            )
        }
        guard let keys = session.grant.aws[self.name] else {
            let names = session.grant.credentials.filter { $0.kind == .aws }.map(\.name)
            throw CLIError(
                "'\(self.name)' is not an aws credential of this session",
                hint: names.isEmpty
                    ? "add one with `keyhole add NAME --type aws` and start the command again"
                    : "this session has: \(names.joined(separator: ", "))"
            )
        }
        let expiration = session.grant.expires
            ?? Timestamp.string(from: Date().addingTimeInterval(Self.runSessionValidity))
        let output = CredentialProcessOutput(
            version: 1, accessKeyID: keys.accessKeyID, secretAccessKey: keys.secretAccessKey,
            sessionToken: keys.sessionToken, expiration: expiration
        )
        try Terminal.printJSON(output, pretty: false)
    }
}

/// The JSON `credential_process` prints (AWS SDKs' "sourcing credentials with an external process").
struct CredentialProcessOutput: Encodable {
    var version: Int
    var accessKeyID: String
    var secretAccessKey: String
    var sessionToken: String?
    var expiration: String

    enum CodingKeys: String, CodingKey {
        case version = "Version", accessKeyID = "AccessKeyId", secretAccessKey = "SecretAccessKey",
            sessionToken = "SessionToken", expiration = "Expiration"
    }
}
