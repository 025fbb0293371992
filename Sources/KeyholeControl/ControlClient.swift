#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The CLI's end of the control socket: plain blocking-style POSIX calls (non-blocking descriptor + `poll`
/// for timeouts), no event loop, so that a command talks to the daemon in well under a millisecond.
///
/// The descriptor is close-on-exec: a child started by `keyhole run` does not inherit it, and the daemon
/// sees the connection close when `keyhole run` itself exits. Not thread-safe; use from one thread.
public final class ControlClient {
    /// The longest line accepted from the daemon.
    public static let maximumLineLength = 1 << 20

    public let path: String
    /// Seconds each `send`/`receiveLine` may wait; nil waits forever.
    public var timeout: Double?
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var bufferStart = 0

    /// The connected socket, e.g. to `poll` it while a child runs. -1 after ``close()``.
    public var fileDescriptor: Int32 { self.fd }

    private init(path: String, fd: Int32, timeout: Double?) {
        self.path = path
        self.fd = fd
        self.timeout = timeout
    }

    deinit {
        self.close()
    }

    /// Connects to the daemon's socket. Fails fast with ``ControlError/Code/noDaemon`` when nothing
    /// listens there; `timeout` (seconds) bounds the wait when the daemon's backlog is full, and becomes the
    /// default timeout of later calls.
    public static func connect(path: String, timeout: Double) throws(ControlError) -> ControlClient {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !pathBytes.isEmpty, pathBytes.count < capacity, !pathBytes.contains(0) else {
            throw ControlError(
                code: .invalidPath,
                path: path,
                message:
                    "the control socket path \(path) is too long (\(pathBytes.count) bytes, at most \(capacity - 1))"
            )
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else {
            throw ControlSocketFile.failure(errno, path: path, doing: "cannot create a socket for")
        }
        let deadline = Deadline(seconds: timeout)
        while true {
            let result = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                    Glibc.connect(fd, socketAddress, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if result == 0 { break }
            let code = errno
            switch code {
            case EINTR:
                continue
            case EAGAIN:
                // The listen backlog is full: the daemon is alive but busy.
                guard !deadline.hasPassed else {
                    Glibc.close(fd)
                    throw ControlError(
                        code: .timeout, path: path, message: "the keyhole daemon did not accept the connection in time")
                }
                usleep(2000)
            case EINPROGRESS:
                do throws(ControlError) {
                    try Self.wait(fd, for: Int16(POLLOUT), until: deadline, path: path)
                } catch {
                    Glibc.close(fd)
                    throw error
                }
                var pending: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &length)
                if pending == 0 { return ControlClient(path: path, fd: fd, timeout: timeout) }
                Glibc.close(fd)
                throw Self.connectFailure(pending, path: path)
            default:
                Glibc.close(fd)
                throw Self.connectFailure(code, path: path)
            }
        }
        return ControlClient(path: path, fd: fd, timeout: timeout)
    }

    /// Sends one request line; the newline is added here, so `line` must not contain one.
    public func send(_ line: [UInt8]) throws(ControlError) {
        guard !line.contains(UInt8(ascii: "\n")) else {
            throw ControlError(
                code: .protocolError, path: self.path, message: "a control request must be a single line")
        }
        var bytes = line
        bytes.append(UInt8(ascii: "\n"))
        try self.writeAll(bytes)
    }

    /// The next line from the daemon, without its newline.
    public func receiveLine() throws(ControlError) -> [UInt8] {
        let deadline = Deadline(seconds: self.timeout)
        var scanned = self.bufferStart
        while true {
            if let newline = self.buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(self.buffer[self.bufferStart..<newline])
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                self.bufferStart = newline + 1
                if self.bufferStart == self.buffer.count {
                    self.buffer.removeAll(keepingCapacity: true)
                    self.bufferStart = 0
                }
                return line
            }
            scanned = self.buffer.count
            guard self.buffer.count - self.bufferStart <= Self.maximumLineLength else {
                throw ControlError(
                    code: .protocolError,
                    path: self.path,
                    message: "the keyhole daemon sent a line longer than \(Self.maximumLineLength) bytes"
                )
            }
            if self.bufferStart > 0 {
                self.buffer.removeSubrange(0..<self.bufferStart)
                scanned -= self.bufferStart
                self.bufferStart = 0
            }
            try self.readMore(until: deadline)
        }
    }

    /// Sends a request and waits for its answer.
    public func roundTrip(_ line: [UInt8]) throws(ControlError) -> [UInt8] {
        try self.send(line)
        return try self.receiveLine()
    }

    /// Closes the connection (the daemon then ends what belongs to it). Safe to call twice.
    public func close() {
        if self.fd >= 0 {
            Glibc.close(self.fd)
            self.fd = -1
        }
    }

    // MARK: - Private

    private func writeAll(_ bytes: [UInt8]) throws(ControlError) {
        try self.checkOpen()
        let deadline = Deadline(seconds: self.timeout)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.send(self.fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written >= 0 {
                offset += written
                continue
            }
            switch errno {
            case EINTR:
                continue
            case EAGAIN:
                try Self.wait(self.fd, for: Int16(POLLOUT), until: deadline, path: self.path)
            case EPIPE, ECONNRESET:
                throw ControlError(code: .closed, path: self.path, message: "the keyhole daemon closed the connection")
            default:
                throw ControlSocketFile.failure(errno, path: self.path, doing: "cannot write to")
            }
        }
    }

    private func readMore(until deadline: Deadline) throws(ControlError) {
        try self.checkOpen()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { raw in
                Glibc.recv(self.fd, raw.baseAddress, raw.count, 0)
            }
            if count > 0 {
                self.buffer.append(contentsOf: chunk[0..<count])
                return
            }
            if count == 0 {
                throw ControlError(code: .closed, path: self.path, message: "the keyhole daemon closed the connection")
            }
            switch errno {
            case EINTR:
                continue
            case EAGAIN:
                try Self.wait(self.fd, for: Int16(POLLIN), until: deadline, path: self.path)
            case ECONNRESET:
                throw ControlError(code: .closed, path: self.path, message: "the keyhole daemon closed the connection")
            default:
                throw ControlSocketFile.failure(errno, path: self.path, doing: "cannot read from")
            }
        }
    }

    private func checkOpen() throws(ControlError) {
        guard self.fd >= 0 else {
            throw ControlError(code: .closed, path: self.path, message: "the control connection is closed")
        }
    }

    private static func wait(_ fd: Int32, for events: Int16, until deadline: Deadline, path: String)
        throws(ControlError)
    {
        while true {
            var descriptor = pollfd(fd: fd, events: events, revents: 0)
            let result = poll(&descriptor, 1, deadline.remainingMilliseconds)
            if result > 0 { return }
            if result == 0 {
                throw ControlError(code: .timeout, path: path, message: "the keyhole daemon did not answer in time")
            }
            if errno != EINTR {
                throw ControlSocketFile.failure(errno, path: path, doing: "cannot wait for")
            }
        }
    }

    private static func connectFailure(_ code: Int32, path: String) -> ControlError {
        switch code {
        case ENOENT, ECONNREFUSED, ENOTDIR:
            return ControlError(
                code: .noDaemon, path: path, message: "no keyhole daemon is running (nothing listens on \(path))")
        case EACCES, EPERM:
            return ControlError(
                code: .permission,
                path: path,
                message: "cannot connect to \(path): \(String(cString: strerror(code)))"
            )
        default:
            return ControlSocketFile.failure(code, path: path, doing: "cannot connect to")
        }
    }
}

/// A point in monotonic time after which waiting stops; none means wait forever.
private struct Deadline {
    private let nanoseconds: UInt64?

    init(seconds: Double?) {
        self.nanoseconds = seconds.map { Self.now() + UInt64(max(0, $0) * 1e9) }
    }

    var hasPassed: Bool {
        guard let nanoseconds = self.nanoseconds else { return false }
        return Self.now() >= nanoseconds
    }

    /// For `poll`: -1 for forever, else what is left (at least 0).
    var remainingMilliseconds: Int32 {
        guard let nanoseconds = self.nanoseconds else { return -1 }
        let now = Self.now()
        guard nanoseconds > now else { return 0 }
        return Int32(min(UInt64(Int32.max), (nanoseconds - now + 999_999) / 1_000_000))
    }

    private static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
