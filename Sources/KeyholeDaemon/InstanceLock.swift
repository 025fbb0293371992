import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KeyholeCore

/// One daemon per user: an exclusive `flock` on a file in the runtime directory, held for the daemon's life.
/// The kernel drops it when the process dies, so a crashed daemon never blocks the next one.
final class InstanceLock {
    private let fd: Int32

    private init(fd: Int32) {
        self.fd = fd
    }

    /// Takes the lock or throws `alreadyRunning` naming the pid in `pidFile`.
    static func acquire(paths: Paths) throws -> InstanceLock {
        try FileSystem.makePrivateDirectory(paths.runtimeDirectory)
        let fd = open(paths.lockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileSystemError(.open, path: paths.lockFile, errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            let pid = (try? String(contentsOfFile: paths.pidFile, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            throw DaemonError.alreadyRunning(pid: pid)
        }
        return InstanceLock(fd: fd)
    }

    func release() {
        flock(self.fd, LOCK_UN)
        close(self.fd)
    }
}
