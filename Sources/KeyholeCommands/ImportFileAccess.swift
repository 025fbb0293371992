import Foundation
import KeyholeCore

#if canImport(Glibc)
import Glibc
#endif

/// Reading and rewriting the plaintext files `keyhole import` moves secrets out of.
enum ImportFileAccess {
    static let backupSuffix = ".keyhole-backup"

    /// The user's home directory: `$HOME`, else the password database's.
    static func home(_ environment: [String: String]) -> String {
        if let home = environment["HOME"], !home.isEmpty { return home }
        return NSHomeDirectory()
    }

    /// `~/x` -> `$HOME/x`, as shells and botocore expand it.
    static func expandTilde(_ path: String, environment: [String: String]) -> String {
        if path == "~" { return Self.home(environment) }
        if path.hasPrefix("~/") { return Self.home(environment) + String(path.dropFirst(1)) }
        return path
    }

    // MARK: Where the plain-text files are (import, doctor and run read the same ones)

    /// git's `store` helper files: `~/.git-credentials` and `$XDG_CONFIG_HOME/git/credentials`.
    static func gitCredentialsFiles(_ environment: [String: String]) -> [String] {
        let home = Self.home(environment)
        let xdg = environment["XDG_CONFIG_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home + "/.config"
        return [home + "/.git-credentials", xdg + "/git/credentials"]
    }

    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    static func dockerConfigFile(_ environment: [String: String]) -> String {
        if let directory = environment["DOCKER_CONFIG"], !directory.isEmpty {
            return Self.expandTilde(directory, environment: environment) + "/config.json"
        }
        return Self.home(environment) + "/.docker/config.json"
    }

    /// `$AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
    static func awsCredentialsFile(_ environment: [String: String]) -> String {
        Self.awsFile("AWS_SHARED_CREDENTIALS_FILE", default: "/.aws/credentials", environment)
    }

    /// `$AWS_CONFIG_FILE`, else `~/.aws/config`.
    static func awsConfigFile(_ environment: [String: String]) -> String {
        Self.awsFile("AWS_CONFIG_FILE", default: "/.aws/config", environment)
    }

    private static func awsFile(_ variable: String, default path: String, _ environment: [String: String]) -> String {
        if let configured = environment[variable], !configured.isEmpty {
            return Self.expandTilde(configured, environment: environment)
        }
        return Self.home(environment) + path
    }

    /// The file's bytes, or nil when it does not exist.
    static func read(_ path: String) throws -> [UInt8]? {
        do throws(FileSystemError) {
            return try FileSystem.contents(of: path)
        } catch {
            throw CLIError(
                "cannot read \(path): \(error.reason)",
                hint: "check the file's permissions, or pass another file with --file"
            )
        }
    }

    /// Replaces `path` (the file a symbolic link points to, if it is one) with `bytes`, atomically and with its
    /// mode, after checking that it still holds `original`. With `backup`, first writes `original` to a new
    /// `path.keyhole-backup` (mode 0600; `.2`, `.3`, … when that exists). Returns the backup's path.
    static func rewrite(_ path: String, original: [UInt8], with bytes: [UInt8], backup: Bool) throws -> String? {
        let target = Self.resolvingSymbolicLinks(path)
        let current: [UInt8]?
        let mode: mode_t
        do {
            current = try FileSystem.contents(of: target)
            mode = try FileSystem.ownerAndMode(target).mode & 0o777
        } catch {
            throw CLIError("cannot read it again: \(error)", hint: "delete the imported entries by hand")
        }
        guard current == original else {
            throw CLIError(
                "it changed while keyhole was importing",
                hint: "the imported entries are in keyhole now (`keyhole list`): delete them from the file by hand"
            )
        }
        var backupPath: String?
        if backup {
            backupPath = try Self.writeBackup(of: path, original)
        }
        do {
            try FileSystem.writeAtomically(bytes, to: target, mode: mode)
        } catch {
            throw CLIError(
                "cannot write it: \(error)",
                hint: "check that you may write in \(FileSystem.parent(of: target)); "
                    + "then delete the imported entries by hand"
            )
        }
        return backupPath
    }

    private static func writeBackup(of path: String, _ bytes: [UInt8]) throws -> String {
        for attempt in 1...100 {
            let candidate = path + Self.backupSuffix + (attempt == 1 ? "" : ".\(attempt)")
            do {
                if try FileSystem.createExclusively(bytes, at: candidate, mode: 0o600) { return candidate }
            } catch {
                throw CLIError("cannot write the backup: \(error)", hint: "free some space or run without --backup")
            }
        }
        throw CLIError(
            "cannot write the backup: \(path)\(Self.backupSuffix) through .100 exist",
            hint: "delete old backups you no longer need"
        )
    }

    private static func resolvingSymbolicLinks(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
