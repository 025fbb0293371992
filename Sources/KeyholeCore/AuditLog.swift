import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends ``AuditEvent``s to a JSON-lines file: one object per line, each written with a single
/// `write(2)` on an `O_APPEND` descriptor so that lines never interleave. The file is created 0600 in a 0700
/// directory and kept open; when it is removed or replaced (log rotation), the next append reopens it.
///
/// `append` never throws and never blocks for long: a failure goes to `onError` and the event is dropped.
public final class AuditLog: Sendable {
    public typealias ErrorHandler = @Sendable (AuditLogError) -> Void

    private struct State {
        var fd: Int32 = -1
        var device: UInt64 = 0
        var inode: UInt64 = 0
        var closed = false
    }

    public let path: String
    private let onError: ErrorHandler?
    private let state = Mutex(State())

    /// Opens (creating if needed) the log at `path`. A failure is reported to `onError` and retried at the
    /// next append.
    public init(path: String, onError: ErrorHandler? = nil) {
        self.path = path
        self.onError = onError
        let failure = self.state.withLock { (state: inout State) -> AuditLogError? in
            do throws(AuditLogError) {
                try self.open(&state)
                return nil
            } catch {
                return error
            }
        }
        if let failure {
            onError?(failure)
        }
    }

    deinit {
        self.close()
    }

    /// Writes `event` as one line. Thread-safe; errors go to `onError`.
    public func append(_ event: AuditEvent) {
        var line = event.jsonLine()
        line.append(UInt8(ascii: "\n"))
        let failure = self.state.withLock { (state: inout State) -> AuditLogError? in
            guard !state.closed else { return nil }
            do throws(AuditLogError) {
                if state.fd < 0 || !self.isCurrentFile(state) {
                    try self.open(&state)
                }
                try self.write(line, to: state.fd)
                return nil
            } catch {
                return error
            }
        }
        if let failure {
            self.onError?(failure)
        }
    }

    /// Closes the file; later appends are dropped silently.
    public func close() {
        self.state.withLock { state in
            if state.fd >= 0 {
                _ = Glibc.close(state.fd)
            }
            state.fd = -1
            state.closed = true
        }
    }

    private func open(_ state: inout State) throws(AuditLogError) {
        if state.fd >= 0 {
            _ = Glibc.close(state.fd)
            state.fd = -1
        }
        if let slash = self.path.lastIndex(of: "/"), slash != self.path.startIndex {
            try Self.makePrivateDirectory(String(self.path[..<slash]))
        }
        let fd = Glibc.open(self.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw AuditLogError(code: .cannotOpen, path: self.path, reason: Self.errorText())
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = Self.errorText()
            _ = Glibc.close(fd)
            throw AuditLogError(code: .cannotOpen, path: self.path, reason: reason)
        }
        if info.st_mode & 0o7777 != 0o600, info.st_uid == getuid() {
            _ = fchmod(fd, 0o600)
        }
        state.fd = fd
        state.device = UInt64(info.st_dev)
        state.inode = UInt64(info.st_ino)
    }

    /// False when the path now names another file (or none): it was rotated or deleted.
    private func isCurrentFile(_ state: State) -> Bool {
        var info = stat()
        guard stat(self.path, &info) == 0 else { return false }
        return UInt64(info.st_dev) == state.device && UInt64(info.st_ino) == state.inode
    }

    private func write(_ line: [UInt8], to fd: Int32) throws(AuditLogError) {
        var offset = 0
        while offset < line.count {
            let written = line.withUnsafeBytes { buffer in
                Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw AuditLogError(code: .cannotWrite, path: self.path, reason: Self.errorText())
            }
            offset += written
        }
    }

    /// Creates `directory` (and missing parents) with mode 0700; tightens `directory` itself to 0700 when
    /// it exists with a wider mode and belongs to us (parents that exist are left alone).
    static func makePrivateDirectory(_ directory: String, tighten: Bool = true) throws(AuditLogError) {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw AuditLogError(code: .cannotCreateDirectory, path: directory, reason: "not a directory")
            }
            if tighten, info.st_uid == getuid(), info.st_mode & 0o077 != 0 {
                _ = chmod(directory, 0o700)
            }
            return
        }
        if let slash = directory.lastIndex(of: "/"), slash != directory.startIndex {
            try Self.makePrivateDirectory(String(directory[..<slash]), tighten: false)
        }
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw AuditLogError(code: .cannotCreateDirectory, path: directory, reason: Self.errorText())
        }
    }

    private static func errorText() -> String {
        String(cString: strerror(errno))
    }
}
