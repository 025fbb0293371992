import Foundation
import KeyholeCore

#if canImport(Glibc)
import Glibc
#endif

/// The commands `keyhole wrap` routes through `keyhole run`: a list file (one name a line, for the shell
/// integration's functions) and one executable per name in the wrapper directory (for scripts and agents that
/// never read the shell's functions).
struct WrappedCommands {
    let paths: Paths

    /// Names that must never be wrapped: keyhole itself and the helpers it runs inside sessions.
    static let reservedNames: Set<String> = ["keyhole", "git-credential-keyhole", "docker-credential-keyhole"]

    /// The wrapped names, sorted, as the list file has them (lines that are not a valid name are skipped).
    func names() -> [String] {
        guard let text = try? String(contentsOfFile: self.paths.wrappedListFile, encoding: .utf8) else { return [] }
        return Self.parseList(text)
    }

    static func parseList(_ text: String) -> [String] {
        let names = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") && Self.problem(with: $0) == nil }
        return Array(Set(names)).sorted()
    }

    static func renderList(_ names: [String]) -> String {
        let header = "# Commands keyhole runs through `keyhole run`: change with `keyhole wrap` / `keyhole unwrap`.\n"
        return header + Set(names).sorted().map { $0 + "\n" }.joined()
    }

    /// Why `name` cannot be wrapped, or nil when it can. Names must also be shell function names in bash, zsh
    /// and fish.
    static func problem(with name: String) -> String? {
        if name.isEmpty { return "an empty name" }
        if name.contains("/") { return "a path, not a command name" }
        if Self.reservedNames.contains(name) { return "keyhole's own command" }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")
        guard name.allSatisfy({ allowed.contains($0) }), let first = name.first, first != "-", first != "." else {
            return "not a plain command name (letters, digits, `.`, `_`, `+`, `-`, not starting with `-` or `.`)"
        }
        return nil
    }

    /// Runs `body` with the config directory locked, so concurrent `wrap` and `unwrap` do not lose names.
    func update(_ body: (inout [String]) throws -> Void) throws {
        try self.makeDirectories()
        try FileSystem.withDirectoryLock(self.paths.configDirectory) {
            var names = self.names()
            try body(&names)
            let text = Self.renderList(names)
            try FileSystem.writeAtomically(Array(text.utf8), to: self.paths.wrappedListFile, mode: 0o644)
        }
    }

    func makeDirectories() throws {
        try FileSystem.makePrivateDirectory(self.paths.configDirectory)
        try FileSystem.makePrivateDirectory(self.paths.wrapperDirectory)
    }

    func wrapperPath(_ name: String) -> String {
        self.paths.wrapperDirectory + "/" + name
    }

    /// Writes (or rewrites) the wrapper for `name`, running `keyhole` (this binary's path).
    func writeWrapper(_ name: String, keyhole: String) throws {
        let script = WrapperScript.render(name: name, directory: self.paths.wrapperDirectory, keyhole: keyhole)
        try FileSystem.writeAtomically(Array(script.utf8), to: self.wrapperPath(name), mode: 0o755)
    }

    /// Whether the file at the wrapper path is one keyhole wrote (never remove anything else).
    func hasWrapper(_ name: String) -> Bool {
        guard let text = try? String(contentsOfFile: self.wrapperPath(name), encoding: .utf8) else { return false }
        return text.contains(WrapperScript.marker)
    }

    /// Removes the wrapper of `name` if keyhole wrote it; false when there was none.
    @discardableResult
    func removeWrapper(_ name: String) -> Bool {
        guard self.hasWrapper(name) else { return false }
        return unlink(self.wrapperPath(name)) == 0
    }

    /// The first executable `name` on `path` outside the wrapper directory: what the wrapper runs.
    func realCommand(_ name: String, path: String) -> String? {
        Self.findExecutable(name, path: path, skipping: self.paths.wrapperDirectory)
    }

    /// The first executable regular file `name` in the directories of `path`, skipping `skipping` (also when it
    /// is spelt differently, e.g. through a symbolic link) and empty entries (the current directory).
    static func findExecutable(_ name: String, path: String, skipping: String) -> String? {
        let skipped = Self.resolved(skipping)
        return ExecutableSearch.find(name, path: path) { directory in
            directory == skipping || (skipped != nil && Self.resolved(directory) == skipped)
        }
    }

    /// Whether the wrapper directory is the first entry of `path` (what `shell-init` arranges).
    func wrapperDirectoryIsFirst(on path: String) -> Bool {
        guard let first = path.split(separator: ":", omittingEmptySubsequences: true).first else { return false }
        return String(first) == self.paths.wrapperDirectory
            || Self.resolved(String(first)) == Self.resolved(self.paths.wrapperDirectory)
    }

    private static func resolved(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }
}
