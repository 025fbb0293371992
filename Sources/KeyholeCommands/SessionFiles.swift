import Foundation
import KeyholeControl
import KeyholeCore

#if canImport(Glibc)
import Glibc
#endif

/// The files a session's clients read instead of the user's own, in a private directory per session
/// (`$XDG_RUNTIME_DIR/keyhole/sessions/ID`):
/// - `docker/config.json` and `auth.json`: `credsStore` and `credHelpers` naming `docker-credential-keyhole`;
/// - `aws/config`: the user's AWS settings without credentials, one `credential_process` profile per aws
///   credential; `aws/credentials`: empty;
/// - `bin/`: `git-credential-keyhole` and `docker-credential-keyhole` links to this binary, put at the end of
///   PATH when the helpers are not installed, so git and registry clients find them by name.
/// A `run` session's directory goes when its command exits; an `env` session's when a later session starts after
/// its end. Nothing in it is a secret.
struct SessionFiles {
    let directory: String
    /// Variables to set, in order.
    private(set) var variables: [(name: String, value: String)] = []
    /// Variables to remove.
    private(set) var removed: [String] = []

    /// Variables that hand an AWS SDK credentials directly; removed so every SDK asks credential_process.
    static let awsCredentialVariables = [
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    ]
    static let helperNames = ["git-credential-keyhole", "docker-credential-keyhole"]
    private static let ownerFile = "owner"

    enum Lifetime {
        /// Ends with this process (`keyhole run`).
        case process
        /// Ends at the session's expiry (`keyhole env`).
        case until(Date)
    }

    static func create(
        for grant: SessionGrant,
        paths: Paths,
        environment: [String: String],
        lifetime: Lifetime
    ) throws -> SessionFiles {
        Self.sweep(paths: paths)
        let directory = paths.sessionsDirectory + "/" + grant.id
        var files = SessionFiles(directory: directory)
        do {
            try FileSystem.makePrivateDirectory(directory)
            let owner: String
            switch lifetime {
            case .process: owner = "pid \(getpid())\n"
            case .until(let date): owner = "expires \(Int(date.timeIntervalSince1970))\n"
            }
            try FileSystem.writeAtomically(Array(owner.utf8), to: directory + "/" + Self.ownerFile, mode: 0o600)
            try files.writeHelpers(environment: environment)
            try files.writeDockerConfig(grant)
            try files.writeAWSConfig(grant, environment: environment)
            files.variables += RuntimeSupport.variables(
                for: grant, paths: paths, environment: environment, sessionDirectory: directory
            )
        } catch {
            files.remove()
            throw CLIError("could not write the session's client configuration: \(error)", hint: "check \(paths.sessionsDirectory)")
        }
        return files
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// Removes the directories of sessions that have ended: a `run` whose process is gone, an `env` past its end.
    static func sweep(paths: Paths, now: Date = Date()) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: paths.sessionsDirectory) else { return }
        for name in names {
            let directory = paths.sessionsDirectory + "/" + name
            guard let text = try? String(contentsOfFile: directory + "/" + Self.ownerFile, encoding: .utf8) else {
                continue
            }
            let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard parts.count == 2, let number = Int(parts[1]) else { continue }
            let ended: Bool
            switch parts[0] {
            case "pid": ended = kill(pid_t(number), 0) != 0 && errno == ESRCH
            case "expires": ended = Double(number) <= now.timeIntervalSince1970
            default: ended = false
            }
            guard ended else { continue }
            let argumentFile = directory + "/" + RuntimeSupport.javaProxyAuthFile
            if parts[0] == "expires", FileSystem.exists(argumentFile) {
                // A shell that ran `eval "$(keyhole env)"` may still name this file in JDK_JAVA_OPTIONS, and the
                // `java` launcher refuses to start without it: keep it, empty, and drop everything else.
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
                for entry in entries where entry != RuntimeSupport.javaProxyAuthFile {
                    try? FileManager.default.removeItem(atPath: directory + "/" + entry)
                }
                try? FileSystem.writeAtomically([], to: argumentFile, mode: 0o600)
            } else {
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
    }

    // MARK: Helpers on PATH

    private mutating func writeHelpers(environment: [String: String]) throws(FileSystemError) {
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let installed = Self.helperNames.allSatisfy { ExecutableSearch.find($0, path: path) != nil }
        guard !installed else { return }
        let bin = self.directory + "/bin"
        try FileSystem.makePrivateDirectory(bin)
        let executable = SelfExecutable.path
        for name in Self.helperNames {
            let link = bin + "/" + name
            unlink(link)
            guard symlink(executable, link) == 0 else { throw FileSystemError(.create, path: link, errno: errno) }
        }
        self.variables.append(("PATH", path.isEmpty ? bin : path + ":" + bin))
    }


    // MARK: Registries

    private mutating func writeDockerConfig(_ grant: SessionGrant) throws(FileSystemError) {
        var helpers: [String: String] = [:]
        for (key, _) in DockerCredentialCommand.registryKeys(grant.credentials) {
            helpers[key] = "keyhole"
        }
        let config = DockerClientConfig(credsStore: "keyhole", credHelpers: helpers)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes = Array((try? encoder.encode(config)) ?? Data()) + [0x0A]
        let docker = self.directory + "/docker"
        try FileSystem.makePrivateDirectory(docker)
        try FileSystem.writeAtomically(bytes, to: docker + "/config.json", mode: 0o600)
        try FileSystem.writeAtomically(bytes, to: self.directory + "/auth.json", mode: 0o600)
        self.variables.append(("DOCKER_CONFIG", docker))
        self.variables.append(("REGISTRY_AUTH_FILE", self.directory + "/auth.json"))
    }

    // MARK: AWS

    private mutating func writeAWSConfig(_ grant: SessionGrant, environment: [String: String]) throws(FileSystemError) {
        let names = grant.credentials.filter { $0.kind == .aws }.map(\.name).sorted()
        guard !names.isEmpty else { return }
        let userConfig = (try? String(contentsOfFile: ImportFileAccess.awsConfigFile(environment), encoding: .utf8))
            .map { AWSSharedConfig(parsing: $0) }
        let executable = ShellQuote.sh(SelfExecutable.path)
        let profiles = names.map { (name: $0, process: "\(executable) aws-credential-process \($0)") }
        let text = AWSSharedConfig.generate(from: userConfig, profiles: profiles)
        let aws = self.directory + "/aws"
        try FileSystem.makePrivateDirectory(aws)
        try FileSystem.writeAtomically(Array(text.utf8), to: aws + "/config", mode: 0o600)
        try FileSystem.writeAtomically([], to: aws + "/credentials", mode: 0o600)
        self.variables.append(("AWS_CONFIG_FILE", aws + "/config"))
        self.variables.append(("AWS_SHARED_CREDENTIALS_FILE", aws + "/credentials"))
        self.removed += Self.awsCredentialVariables
        if names.count == 1 {
            self.variables.append(("AWS_PROFILE", names[0]))
        } else {
            self.removed += ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"]
        }
    }

}

/// A registry client's config: which credential helpers to ask.
struct DockerClientConfig: Encodable {
    var credsStore: String
    var credHelpers: [String: String]
}
