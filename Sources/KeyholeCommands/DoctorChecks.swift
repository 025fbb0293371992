import Foundation
import KeyholeControl
import KeyholeCore

/// The checks `keyhole doctor` runs, in order. Each adds one line (or a few) to the report; none prints a secret.
struct DoctorChecks {
    let context: ClientContext

    /// Environment variables that commonly hold a plain-text token.
    static let tokenVariables = [
        "GITHUB_TOKEN", "GH_TOKEN", "GITLAB_TOKEN", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "STRIPE_API_KEY",
        "STRIPE_SECRET_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "NPM_TOKEN", "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN", "GOOGLE_API_KEY", "GEMINI_API_KEY", "MISTRAL_API_KEY", "SLACK_TOKEN",
        "DOCKER_PASSWORD", "CLOUDFLARE_API_TOKEN", "DIGITALOCEAN_TOKEN",
    ]

    func run(into report: inout DoctorReport, runtimes: Bool) {
        let connection = try? self.context.connect(autostart: false)
        defer { connection?.close() }
        let status = try? connection?.send(ControlRequest(command: .status)).status
        self.daemon(status, into: &report)
        self.store(status, into: &report)
        self.authority(status, into: &report)
        self.roundTrip(connection, into: &report)
        self.credentials(connection, into: &report)
        self.plainTextSecrets(into: &report)
        if runtimes {
            RuntimeChecks(context: self.context).run(into: &report)
        }
    }

    private func daemon(_ status: DaemonStatus?, into report: inout DoctorReport) {
        guard let status else {
            report.add(
                "daemon", "daemon", .fail, "not running",
                fix: "start it: any command such as `keyhole status` does, or `systemctl --user start keyhole`; "
                    + "if it fails, `keyhole daemon` shows why (log: \(self.context.paths.daemonLogFile))"
            )
            return
        }
        report.add(
            "daemon", "daemon", .ok,
            "running, pid \(status.pid), proxy \(status.proxy), \(status.sessions) session(s), version \(status.version)"
        )
    }

    private func store(_ status: DaemonStatus?, into report: inout DoctorReport) {
        guard let status else {
            report.add("store", "store", .skip, "unknown while the daemon is not running")
            return
        }
        let state = status.storeState
        if status.vaultLock == .locked {
            report.add(
                "store", "store", .fail, "file vault locked: run `keyhole unlock`",
                fix: "`keyhole unlock` asks for the vault's passphrase once (or start the daemon with KEYHOLE_PASSPHRASE)"
            )
        } else if state.contains("locked") && !state.contains("unlocked") {
            report.add(
                "store", "store", .fail, state,
                fix: "unlock your keyring (log in to the desktop session, or `gnome-keyring-daemon --unlock`); "
                    + "or use the file vault: `keyhole daemon --store file`"
            )
        } else if state.contains("unreachable") || state.contains("not ") {
            report.add("store", "store", .fail, state, fix: "start a Secret Service provider, or use `--store file`")
        } else {
            report.add("store", "store", .ok, state)
        }
    }

    private func authority(_ status: DaemonStatus?, into report: inout DoctorReport) {
        let paths = self.context.paths
        guard FileSystem.exists(paths.caCertificateFile) else {
            report.add(
                "ca", "CA", .fail, "missing (\(paths.caCertificateFile))",
                fix: "restart the daemon (`keyhole stop`, then `keyhole status`): it creates a new CA and trust bundle"
            )
            return
        }
        guard FileSystem.exists(paths.trustBundleFile) else {
            report.add(
                "ca", "CA", .fail, "trust bundle missing (\(paths.trustBundleFile))",
                fix: "restart the daemon (`keyhole stop`, then `keyhole status`): it writes the bundle again"
            )
            return
        }
        let fingerprint = status.map { "SHA-256 \($0.caFingerprint)" } ?? "present"
        report.add("ca", "CA", .ok, "\(paths.caCertificateFile), \(fingerprint)")
    }

    private func roundTrip(_ connection: DaemonConnection?, into report: inout DoctorReport) {
        guard let connection else {
            report.add("roundtrip", "round trip", .skip, "needs the daemon")
            return
        }
        do {
            guard let result = try connection.send(ControlRequest(command: .selfTest)).selfTest else {
                report.add("roundtrip", "round trip", .fail, "the daemon sent no result", fix: "update the daemon: `keyhole stop`")
                return
            }
            if result.ok {
                report.add("roundtrip", "round trip", .ok, "\(result.detail) (\(result.milliseconds) ms)")
            } else {
                report.add(
                    "roundtrip", "round trip", .fail, "failed at \(result.stage): \(result.detail)",
                    fix: Self.roundTripFix(stage: result.stage)
                )
            }
        } catch {
            report.add("roundtrip", "round trip", .fail, "\(error)", fix: "see `keyhole status` and the daemon log")
        }
    }

    static func roundTripFix(stage: String) -> String {
        switch stage {
        case "store":
            return "the store cannot be written: unlock the keyring, `keyhole unlock` the vault, or check its key file"
        case "certificate": return "the CA cannot issue certificates: restart the daemon (`keyhole stop`)"
        default: return "read `keyhole log --last 5` and the daemon log; restart with `keyhole stop` and try again"
        }
    }

    private func credentials(_ connection: DaemonConnection?, into report: inout DoctorReport) {
        guard let connection, let credentials = try? connection.send(ControlRequest(command: .list)).credentials else {
            report.add("credentials", "credentials", .skip, "needs the daemon")
            return
        }
        guard !credentials.isEmpty else {
            report.add(
                "credentials", "credentials", .warn, "none defined",
                fix: "add one: `printf %s \"$TOKEN\" | keyhole add NAME --host api.example.com`, or `keyhole import …`"
            )
            return
        }
        let summary = credentials.map { "\($0.name) (\($0.hosts.map(\.description).joined(separator: ",")))" }
        report.add("credentials", "credentials", .ok, "\(credentials.count): " + summary.joined(separator: ", "))
    }

    // MARK: Plain-text secrets

    private func plainTextSecrets(into report: inout DoctorReport) {
        let environment = self.context.environment
        var found = false

        // The same files and parsers as `keyhole import`, so doctor counts exactly what an import would move.
        for gitFile in ImportFileAccess.gitCredentialsFiles(environment) {
            guard let bytes = try? ImportFileAccess.read(gitFile) else { continue }
            let entries = GitCredentialsFile(bytes: bytes).entries
            guard !entries.isEmpty else { continue }
            found = true
            report.add(
                "plaintext.git-credentials", "plain text", .warn,
                "\(gitFile) holds \(entries.count) token(s) for \(Set(entries.map(\.host)).sorted().joined(separator: ", "))",
                fix: "`keyhole import git-credentials --remove` moves them into keyhole"
            )
        }

        let dockerFile = ImportFileAccess.dockerConfigFile(environment)
        if let bytes = try? ImportFileAccess.read(dockerFile), let config = try? DockerConfigFile(bytes: bytes) {
            let registries = config.entries.map(\.registry) + config.problems.map(\.registry)
            if !registries.isEmpty {
                found = true
                report.add(
                    "plaintext.docker-config", "plain text", .warn,
                    "\(dockerFile) holds credentials for \(registries.sorted().joined(separator: ", "))",
                    fix: "`keyhole import docker-config --remove` moves them into keyhole"
                )
            }
        }

        let awsFile = ImportFileAccess.awsCredentialsFile(environment)
        if let bytes = try? ImportFileAccess.read(awsFile) {
            let file = AWSCredentialsFile(bytes: bytes)
            let profiles = file.profileNames.filter { (try? file.profile($0)) != nil }
            if !profiles.isEmpty {
                found = true
                report.add(
                    "plaintext.aws-credentials", "plain text", .warn,
                    "\(awsFile) holds keys for profile(s) \(profiles.joined(separator: ", "))",
                    fix: "`keyhole import aws-profile PROFILE --remove` for each"
                )
            }
        }

        let variables = Self.tokenVariables.filter { name in
            guard let value = environment[name], !value.isEmpty else { return false }
            return !Placeholder.contains(in: Substring(value))
        }
        if !variables.isEmpty {
            found = true
            report.add(
                "plaintext.environment", "plain text", .warn,
                "set in this environment: \(variables.joined(separator: ", "))",
                fix: "`keyhole import env VAR --name NAME --host HOST` for each, then remove it from your shell profile"
            )
        }
        if !found {
            report.add("plaintext", "plain text", .ok, "no tokens found in ~/.git-credentials, Docker and AWS files, or the environment")
        }
    }
}
