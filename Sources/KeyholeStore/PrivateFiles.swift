#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// POSIX file operations for private files: a 0700 directory owned by the user, 0600 files, atomic
/// replacement (temporary file in the same directory, fsync, rename, fsync of the directory).
enum PrivateFiles {
    /// Refuse to read anything bigger: a vault or key file is a few kilobytes.
    static let maximumFileSize = 64 << 20

    /// Creates `path` (and missing parents) with mode 0700, or checks an existing one: it must be a directory
    /// owned by the user; group or other permissions are removed.
    static func ensureDirectory(_ path: String) throws {
        var info = stat()
        if stat(path, &info) != 0 {
            guard errno == ENOENT else { throw Self.failure("cannot inspect", path) }
            let parent = Self.parent(of: path)
            if parent != path, !parent.isEmpty {
                try Self.ensureParent(parent)
            }
            guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw Self.failure("cannot create", path) }
            guard stat(path, &info) == 0 else { throw Self.failure("cannot inspect", path) }
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw StoreError.io.with(message: "\(path) is not a directory")
        }
        guard info.st_uid == getuid() else {
            throw StoreError.io.with(
                message: "\(path) belongs to another user (uid \(info.st_uid))",
                hint: "keyhole keeps its data in a directory only you own; fix the owner or set XDG_DATA_HOME"
            )
        }
        if info.st_mode & 0o077 != 0 {
            guard chmod(path, 0o700) == 0 else { throw Self.failure("cannot restrict the permissions of", path) }
        }
    }

    /// Creates missing parents with mode 0700 (XDG says so); existing ones are left alone.
    private static func ensureParent(_ path: String) throws {
        var info = stat()
        if stat(path, &info) == 0 { return }
        let parent = Self.parent(of: path)
        if parent != path, !parent.isEmpty {
            try Self.ensureParent(parent)
        }
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw Self.failure("cannot create", path) }
    }

    /// The contents of `path`, or nil when it does not exist. Symbolic links are not followed; a file readable
    /// by others has its permissions tightened to 0600.
    static func readFile(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw Self.failure("cannot open", path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Self.failure("cannot inspect", path) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw StoreError.io.with(message: "\(path) is not a regular file")
        }
        guard Int(info.st_size) <= Self.maximumFileSize else {
            throw StoreError.io.with(message: "\(path) is too large (\(info.st_size) bytes)")
        }
        if info.st_mode & 0o077 != 0 {
            guard fchmod(fd, 0o600) == 0 else { throw Self.failure("cannot restrict the permissions of", path) }
        }
        var result: [UInt8] = []
        result.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Self.failure("cannot read", path)
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
            guard result.count <= Self.maximumFileSize else {
                throw StoreError.io.with(message: "\(path) is too large")
            }
        }
        Self.wipe(&chunk)
        return result
    }

    /// Replaces `path` with `bytes` atomically: a 0600 temporary file in the same directory is written and
    /// synced, renamed over `path`, and the directory is synced. A reader sees the old file or the new one.
    static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws {
        let directory = Self.parent(of: path)
        var template = Array((path + ".tmp-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw Self.failure("cannot create a temporary file in", directory) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var renamed = false
        defer {
            if !renamed { unlink(temporary) }
        }
        do {
            defer { close(fd) }
            guard fchmod(fd, 0o600) == 0 else { throw Self.failure("cannot set the permissions of", temporary) }
            try Self.writeAll(fd, bytes, path: temporary)
            guard fsync(fd) == 0 else { throw Self.failure("cannot sync", temporary) }
        }
        guard rename(temporary, path) == 0 else { throw Self.failure("cannot replace", path) }
        renamed = true
        try Self.syncDirectory(directory)
    }

    /// Creates `path` with mode 0600 holding `bytes`, only if it does not exist yet. Returns false when it
    /// already existed (nothing is written then).
    static func createExclusively(_ path: String, _ bytes: [UInt8]) throws -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 {
            if errno == EEXIST { return false }
            throw Self.failure("cannot create", path)
        }
        do {
            defer { close(fd) }
            try Self.writeAll(fd, bytes, path: path)
            guard fsync(fd) == 0 else { throw Self.failure("cannot sync", path) }
        } catch {
            unlink(path)
            throw error
        }
        try Self.syncDirectory(Self.parent(of: path))
        return true
    }

    /// Runs `body` holding an exclusive advisory lock on the directory `path` (serialises writers across
    /// processes without an extra lock file).
    static func withDirectoryLock<Result>(_ path: String, _ body: () throws -> Result) throws -> Result {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.failure("cannot open", path) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw Self.failure("cannot lock", path) }
        }
        return try body()
    }

    /// Overwrites `bytes` with zeros (for key material and plaintext read from files).
    static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress {
                explicit_bzero(base, buffer.count)
            }
        }
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Self.failure("cannot write", path)
            }
            offset += count
        }
    }

    private static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.failure("cannot open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Self.failure("cannot sync", path) }
    }

    private static func failure(_ action: String, _ path: String) -> StoreError {
        let reason = String(cString: strerror(errno))
        return StoreError.io.with(message: "\(action) \(path): \(reason)")
    }
}
