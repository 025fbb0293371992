#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The file primitives keyhole's modules share, on POSIX calls: private directories (0700), whole-file reads,
/// atomic writes whose file has its final mode from the moment it exists, and a directory lock. Each failure is
/// a ``FileSystemError``; modules with their own error types map it where they call. Calls block.
public enum FileSystem {
    /// Creates `path` and any missing parents with mode 0700. An existing directory that belongs to the user
    /// and is open to group or others is tightened to 0700; one that belongs to someone else is left alone
    /// (callers that care check ``ownerAndMode(_:)``). Throws ``FileSystemError/Operation/requireDirectory``
    /// when `path` exists and is not a directory.
    public static func makePrivateDirectory(_ path: String) throws(FileSystemError) {
        try Self.makeDirectories(path, mode: 0o700)
        var info = stat()
        guard stat(path, &info) == 0 else { throw FileSystemError(.inspect, path: path, errno: errno) }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw FileSystemError(.requireDirectory, path: path, errno: ENOTDIR)
        }
        if info.st_uid == getuid() && info.st_mode & 0o077 != 0 {
            guard chmod(path, 0o700) == 0 else { throw FileSystemError(.setPermissions, path: path, errno: errno) }
        }
    }

    /// Whether something exists at `path` (following symbolic links).
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// The owner and permission bits of `path` (following symbolic links).
    public static func ownerAndMode(_ path: String) throws(FileSystemError) -> (owner: uid_t, mode: mode_t) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw FileSystemError(.inspect, path: path, errno: errno) }
        return (info.st_uid, info.st_mode & 0o7777)
    }

    /// Removes the file at `path`, if there is one.
    public static func remove(_ path: String) {
        unlink(path)
    }

    /// Runs `body` holding an exclusive advisory lock (flock) on the directory `path`: serialises writers
    /// across processes without an extra lock file. A failure to lock is a ``FileSystemError``; `body`'s errors
    /// pass through unchanged.
    public static func withDirectoryLock<Result>(_ path: String, _ body: () throws -> Result) throws -> Result {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError(.open, path: path, errno: errno) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw FileSystemError(.lock, path: path, errno: errno) }
        }
        return try body()
    }

    /// The directory part of `path`: "." without a slash, "/" for a path directly under the root.
    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// mkdir -p with `mode` for each directory created; existing ones are left as they are.
    private static func makeDirectories(_ path: String, mode: mode_t) throws(FileSystemError) {
        if path.isEmpty || Self.isDirectory(path) { return }
        let parent = Self.parent(of: path)
        if parent != path { try Self.makeDirectories(parent, mode: mode) }
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw FileSystemError(.makeDirectory, path: path, errno: errno)
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}
