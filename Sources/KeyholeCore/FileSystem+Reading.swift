#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension FileSystem {
    /// The contents of `path` (following symbolic links), or nil when it does not exist.
    public static func contents(of path: String) throws(FileSystemError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw FileSystemError(.open, path: path, errno: errno)
        }
        defer { close(fd) }
        return try Self.readAll(fd, path: path, capacity: 0, maximumSize: Int.max)
    }

    /// The contents of the private file `path`, or nil when it does not exist. A symbolic link is not followed
    /// (ELOOP), anything but a regular file is refused, and so is a file over `maximumSize` bytes; a file open
    /// to group or others is tightened to 0600. The read buffer is zeroed afterwards (key material).
    public static func privateContents(of path: String, maximumSize: Int) throws(FileSystemError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw FileSystemError(.open, path: path, errno: errno)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileSystemError(.inspect, path: path, errno: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw FileSystemError(.requireRegularFile, path: path, errno: EINVAL)
        }
        guard Int(info.st_size) <= maximumSize else { throw FileSystemError(.limitSize, path: path, errno: EFBIG) }
        if info.st_mode & 0o077 != 0 {
            guard fchmod(fd, 0o600) == 0 else { throw FileSystemError(.setPermissions, path: path, errno: errno) }
        }
        return try Self.readAll(fd, path: path, capacity: Int(info.st_size), maximumSize: maximumSize)
    }

    /// Reads `fd` to its end; throws ``FileSystemError/Operation/limitSize`` past `maximumSize` bytes.
    private static func readAll(
        _ fd: Int32,
        path: String,
        capacity: Int,
        maximumSize: Int
    ) throws(FileSystemError) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(capacity)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        defer { Self.zero(&chunk) }
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(.read, path: path, errno: errno)
            }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
            guard result.count <= maximumSize else { throw FileSystemError(.limitSize, path: path, errno: EFBIG) }
        }
    }

    private static func zero(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            #if canImport(Darwin)
            _ = memset_s(base, buffer.count, 0, buffer.count)
            #else
            explicit_bzero(base, buffer.count)
            #endif
        }
    }
}
