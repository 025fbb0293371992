#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The few file operations this module needs, on POSIX calls: reading whole files, creating private
/// directories, and atomic writes whose file has its final mode from the moment it exists.
enum FileOperations {
    /// A failed system call, with `strerror`'s words.
    struct Failure: Error, CustomStringConvertible {
        let operation: String
        let errorNumber: Int32

        var description: String {
            "\(self.operation): \(String(cString: strerror(self.errorNumber)))"
        }

        var isNotFound: Bool { self.errorNumber == ENOENT }
    }

    /// The contents of `path`, or nil when it does not exist.
    static func contents(of path: String) throws(Failure) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let error = errno
            if error == ENOENT { return nil }
            throw Failure(operation: "open", errorNumber: error)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(operation: "read", errorNumber: errno)
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    /// Whether something exists at `path` (following symlinks).
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// The owner and permission bits of `path`.
    static func ownerAndMode(_ path: String) throws(Failure) -> (owner: uid_t, mode: mode_t) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw Failure(operation: "stat", errorNumber: errno) }
        return (info.st_uid, info.st_mode & 0o7777)
    }

    /// Creates `path` and any missing parents with `mode`; an existing directory is left as it is.
    static func makeDirectories(_ path: String, mode: mode_t) throws(Failure) {
        if path.isEmpty || Self.isDirectory(path) { return }
        let parent = Self.parent(of: path)
        if parent != path { try Self.makeDirectories(parent, mode: mode) }
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw Failure(operation: "mkdir \(path)", errorNumber: errno)
        }
    }

    /// Sets the permission bits of `path` (used on keyhole's own directories).
    static func setMode(_ path: String, _ mode: mode_t) throws(Failure) {
        guard chmod(path, mode) == 0 else { throw Failure(operation: "chmod \(path)", errorNumber: errno) }
    }

    /// Writes `bytes` to `path` atomically: a temporary file beside it, created with `mode` (and exactly
    /// that mode, whatever the umask), fsynced, then renamed over `path`. With `exclusive`, an existing
    /// `path` is never replaced (the temporary is hard-linked into place, which fails with EEXIST).
    static func writeAtomically(
        _ bytes: [UInt8],
        to path: String,
        mode: mode_t,
        exclusive: Bool = false
    ) throws(Failure) {
        let directory = Self.parent(of: path)
        var random = SystemRandomNumberGenerator()
        let temporary = "\(directory)/.\(Self.baseName(of: path)).\(String(random.next() as UInt64, radix: 36)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw Failure(operation: "create \(temporary)", errorNumber: errno) }
        var keepTemporary = false
        defer { if !keepTemporary { unlink(temporary) } }
        do throws(Failure) {
            guard fchmod(fd, mode) == 0 else { throw Failure(operation: "fchmod", errorNumber: errno) }
            try Self.writeAll(fd, bytes)
            guard fsync(fd) == 0 else { throw Failure(operation: "fsync", errorNumber: errno) }
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        if exclusive {
            guard link(temporary, path) == 0 else { throw Failure(operation: "link \(path)", errorNumber: errno) }
        } else {
            guard rename(temporary, path) == 0 else {
                throw Failure(operation: "rename to \(path)", errorNumber: errno)
            }
            keepTemporary = true
        }
        Self.syncDirectory(directory)
    }

    static func remove(_ path: String) {
        unlink(path)
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    private static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure(operation: "write", errorNumber: errno)
            }
            offset += written
        }
    }

    private static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
