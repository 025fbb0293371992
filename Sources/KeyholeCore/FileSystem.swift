import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Small file-system helpers for private files: directories 0700, files written whole or not at all.
public enum FileSystem {
    /// Creates `path` (and parents) with mode 0700, and tightens it if it exists with a looser mode.
    public static func makePrivateDirectory(_ path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
        }
        var info = stat()
        guard stat(path, &info) == 0 else { throw FileSystemError(path: path, errno: errno) }
        if info.st_mode & 0o077 != 0 && info.st_uid == getuid() {
            chmod(path, 0o700)
        }
    }

    /// Writes `data` to a temporary file beside `path`, fsyncs it, renames it into place and fsyncs the directory.
    public static func writeAtomically(_ data: Data, to path: String, mode: mode_t) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = directory + "/." + (path as NSString).lastPathComponent + ".tmp-" + RandomToken.hex(byteCount: 6)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileSystemError(path: temporary, errno: errno) }
        var ok = false
        defer {
            if !ok { unlink(temporary) }
        }
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    let error = FileSystemError(path: temporary, errno: errno)
                    close(fd)
                    throw error
                }
                offset += written
            }
        }
        fchmod(fd, mode)
        guard fsync(fd) == 0 else {
            let error = FileSystemError(path: temporary, errno: errno)
            close(fd)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw FileSystemError(path: path, errno: errno) }
        ok = true
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }
}

public struct FileSystemError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let errno: Int32

    public init(path: String, errno: Int32) {
        self.path = path
        self.errno = errno
    }

    public var description: String { "\(self.path): \(String(cString: strerror(self.errno)))" }
}
