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
