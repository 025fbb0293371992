import ArgumentParser
import KeyholeCore

/// `keyhole import docker-config`: the `"auths"` of a registry client's config.
struct ImportDockerConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "docker-config",
        abstract: "Import the \"auths\" entries of ~/.docker/config.json.",
        discussion: """
            Reads $DOCKER_CONFIG/config.json or ~/.docker/config.json, or the file of --file (podman, skopeo and \
            buildah keep the same "auths" in ${XDG_RUNTIME_DIR}/containers/auth.json). Each entry with a password \
            ("auth", base64 of USER:PASSWORD, or "username" and "password") becomes credential registry-HOST for \
            that registry; Docker Hub (https://index.docker.io/v1/) becomes registry-docker.io for \
            registry-1.docker.io, auth.docker.io and index.docker.io. Under `keyhole run`, registry clients get a \
            placeholder from keyhole's credential helper. Entries with an identity token are not imported (the \
            client sends it in a request body, which keyhole does not rewrite): log in with a password or access \
            token instead. --remove takes only the imported entries out of "auths"; every other byte stays.

            Examples:
              keyhole import docker-config --dry-run
              keyhole import docker-config --remove --backup
              keyhole import docker-config --file "$XDG_RUNTIME_DIR/containers/auth.json" --remove
            """
    )

    @Option(help: "Read this file instead of $DOCKER_CONFIG/config.json or ~/.docker/config.json.")
    var file: String?

    @OptionGroup var removal: ImportRemovalOptions
    @OptionGroup var output: ImportOutputOptions

    func run() throws {
        let importer = Importer(output: self.output, removal: self.removal)
        let environment = importer.context.environment
        let path: String
        if let file = self.file {
            path = ImportFileAccess.expandTilde(file, environment: environment)
        } else {
            path = ImportFileAccess.dockerConfigFile(environment)
        }
        guard let bytes = try ImportFileAccess.read(path) else {
            throw CLIError(
                "no registry client config at \(path)",
                hint: "`docker login` writes it; for another file set DOCKER_CONFIG or pass --file PATH"
            )
        }
        let parsed: DockerConfigFile
        do {
            parsed = try DockerConfigFile(bytes: bytes)
        } catch {
            throw CLIError("\(path): \(error)", hint: "fix the file (docker reads it too), or pass another with --file")
        }
        var candidates: [ImportCandidate] = []
        var skipped: [ImportReport.Item] = []
        for problem in parsed.problems {
            let name = DockerCredentialCommand.importTarget(forServerURL: problem.registry)?.name
            let source = Self.source(path, problem.registry)
            skipped.append(ImportReport.Item(name: name, source: source, reason: problem.reason))
        }
        for entry in parsed.entries {
            let source = Self.source(path, entry.registry)
            guard let target = DockerCredentialCommand.importTarget(forServerURL: entry.registry) else {
                let reason = "'\(entry.registry)' is not a registry address"
                skipped.append(ImportReport.Item(source: source, reason: reason))
                continue
            }
            if Placeholder.contains(in: Substring(entry.password)) {
                let reason = "the password is a keyhole placeholder"
                skipped.append(ImportReport.Item(name: target.name, source: source, reason: reason))
                continue
            }
            let definition = CredentialDefinition(
                name: target.name, hosts: target.hosts, username: entry.username.isEmpty ? nil : entry.username,
                created: ""
            )
            candidates.append(
                ImportCandidate(
                    definition: definition, secret: entry.password, source: source, file: path, entry: entry.registry
                )
            )
        }
        let file = ImportSourceFile(path: path, bytes: bytes) { parsed.removing(registries: $0) }
        try importer.run(candidates, skipped: skipped, files: [file])
    }

    private static func source(_ path: String, _ registry: String) -> String {
        "\(path) auths[\"\(registry)\"]"
    }
}
