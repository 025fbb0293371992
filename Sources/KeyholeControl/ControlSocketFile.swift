#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// File-system side of the control socket: a private directory for it, and the removal of a stale socket
/// left behind by a daemon that died.
enum ControlSocketFile {
    /// Creates the socket's directory with mode 0700 (parents too, when missing), or checks an existing
    /// one: it must be a real directory owned by us; a wider mode is tightened to 0700.
    static func preparePrivateDirectory(for socketPath: String) throws(ControlError) {
        guard let slash = socketPath.lastIndex(of: "/"), slash != socketPath.startIndex else { return }
        let directory = String(socketPath[..<slash])
        var info = stat()
        if lstat(directory, &info) != 0 {
            guard errno == ENOENT else {
                throw Self.failure(errno, path: directory, doing: "cannot inspect the socket directory")
            }
            try Self.makeParents(of: directory)
            if mkdir(directory, 0o700) != 0 && errno != EEXIST {
                throw Self.failure(errno, path: directory, doing: "cannot create the socket directory")
            }
            guard lstat(directory, &info) == 0 else {
                throw Self.failure(errno, path: directory, doing: "cannot inspect the socket directory")
            }
        }
        guard info.st_mode & S_IFMT != S_IFLNK else {
            throw ControlError(
                code: .unsafeDirectory,
                path: directory,
                message: "the control socket directory \(directory) is a symbolic link"
            )
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw ControlError(
                code: .unsafeDirectory,
                path: directory,
                message: "the control socket directory \(directory) is not a directory"
            )
        }
        guard info.st_uid == getuid() else {
            throw ControlError(
                code: .unsafeDirectory,
                path: directory,
                message:
                    "the control socket directory \(directory) belongs to uid \(info.st_uid), not to us (\(getuid()))"
            )
        }
        if info.st_mode & 0o7777 != 0o700 {
            guard chmod(directory, 0o700) == 0 else {
                throw Self.failure(errno, path: directory, doing: "cannot make the socket directory private")
            }
        }
    }

    /// Removes a socket file nobody listens on. Throws when a daemon answers on it, or when the path is
    /// something else than a socket of ours.
    static func removeStaleSocket(at path: String) throws(ControlError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw Self.failure(errno, path: path, doing: "cannot inspect the control socket")
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw ControlError(
                code: .unsafeDirectory,
                path: path,
                message: "\(path) exists and is not a socket; refusing to replace it"
            )
        }
        guard info.st_uid == getuid() else {
            throw ControlError(
                code: .permission,
                path: path,
                message: "the control socket \(path) belongs to uid \(info.st_uid)"
            )
        }
        let client: ControlClient
        do throws(ControlError) {
            client = try ControlClient.connect(path: path, timeout: 1)
        } catch {
            guard error.code == .noDaemon else { throw error }
            guard unlink(path) == 0 || errno == ENOENT else {
                throw Self.failure(errno, path: path, doing: "cannot remove the stale control socket")
            }
            return
        }
        client.close()
        throw ControlError(code: .alreadyRunning, path: path, message: "another keyhole daemon is listening on \(path)")
    }

    /// Identity of the file at `path` (device, inode), to remove only our own socket on close.
    static func identity(of path: String) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    private static func makeParents(of directory: String) throws(ControlError) {
        guard let slash = directory.lastIndex(of: "/"), slash != directory.startIndex else { return }
        let parent = String(directory[..<slash])
        var info = stat()
        if stat(parent, &info) == 0 { return }
        try Self.makeParents(of: parent)
        if mkdir(parent, 0o700) != 0 && errno != EEXIST {
            throw Self.failure(errno, path: parent, doing: "cannot create the directory")
        }
    }

    static func failure(_ code: Int32, path: String, doing what: String) -> ControlError {
        let reason = String(cString: strerror(code))
        switch code {
        case EACCES, EPERM:
            return ControlError(code: .permission, path: path, message: "\(what) \(path): \(reason)")
        default:
            return ControlError(code: .systemError, path: path, message: "\(what) \(path): \(reason)")
        }
    }
}
