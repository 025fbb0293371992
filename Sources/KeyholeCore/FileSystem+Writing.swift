#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension FileSystem {
    /// Writes `bytes` to `path` atomically: a temporary file beside it (`.NAME.RANDOM.tmp`), created with `mode`
    /// (and exactly that mode, whatever the umask), written, fsynced, then renamed over `path`; then the
    /// directory is fsynced. A reader sees the old file or the new one, never a part.
    ///
    /// With `replacing: false` an existing `path` is never replaced: the temporary is hard-linked into place,
    /// which fails with ``FileSystemError/Operation/link`` and EEXIST when `path` exists.
    public static func writeAtomically(
        _ bytes: [UInt8],
        to path: String,
        mode: mode_t,
        replacing: Bool = true
    ) throws(FileSystemError) {
        let directory = Self.parent(of: path)
        let temporary = "\(directory)/.\(Self.baseName(of: path)).\(RandomToken.hex(byteCount: 6)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw FileSystemError(.create, path: temporary, errno: errno) }
        var keepTemporary = false
        defer { if !keepTemporary { unlink(temporary) } }
        do throws(FileSystemError) {
            guard fchmod(fd, mode) == 0 else { throw FileSystemError(.setPermissions, path: temporary, errno: errno) }
            try Self.writeAll(fd, bytes, path: temporary)
            guard fsync(fd) == 0 else { throw FileSystemError(.sync, path: temporary, errno: errno) }
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        if replacing {
            guard rename(temporary, path) == 0 else { throw FileSystemError(.rename, path: path, errno: errno) }
            keepTemporary = true
        } else {
            guard link(temporary, path) == 0 else { throw FileSystemError(.link, path: path, errno: errno) }
        }
        try Self.syncDirectory(directory)
    }

    /// Creates `path` with `mode` holding `bytes`, only if it does not exist yet, atomically (see
    /// ``writeAtomically(_:to:mode:replacing:)`` with `replacing: false`). Returns false, writing nothing,
    /// when it already exists.
    public static func createExclusively(_ bytes: [UInt8], at path: String, mode: mode_t) throws(FileSystemError)
        -> Bool
    {
        do {
            try Self.writeAtomically(bytes, to: path, mode: mode, replacing: false)
            return true
        } catch where error.operation == .link && error.errno == EEXIST {
            return false
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(FileSystemError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(.write, path: path, errno: errno)
            }
            offset += written
        }
    }

    private static func syncDirectory(_ directory: String) throws(FileSystemError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError(.open, path: directory, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileSystemError(.sync, path: directory, errno: errno) }
    }
}
