#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file operation that failed: which one, on which path, and the `errno` it left.
///
/// Modules with their own error types map it at their call sites (``operation`` says what was being done;
/// ``errno`` why). ``description`` is short and names the path: `open /x/y: Permission denied`.
public struct FileSystemError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was being done when the call failed.
    public struct Operation: Sendable, Hashable, CustomStringConvertible {
        private enum Code: Sendable, Hashable {
            case open
            case inspect
            case read
            case create
            case write
            case setPermissions
            case sync
            case rename
            case link
            case makeDirectory
            case lock
            case requireDirectory
            case requireRegularFile
            case limitSize
        }

        private let code: Code

        private init(_ code: Code) {
            self.code = code
        }

        /// open(2) of an existing file or directory.
        public static let open = Operation(.open)
        /// stat(2) / fstat(2).
        public static let inspect = Operation(.inspect)
        /// read(2).
        public static let read = Operation(.read)
        /// Creating a new file (a temporary one, for atomic writes).
        public static let create = Operation(.create)
        /// write(2).
        public static let write = Operation(.write)
        /// chmod(2) / fchmod(2).
        public static let setPermissions = Operation(.setPermissions)
        /// fsync(2) of a file or of a directory.
        public static let sync = Operation(.sync)
        /// rename(2) over the destination (`path` is the destination).
        public static let rename = Operation(.rename)
        /// link(2) into place without replacing (`path` is the destination; EEXIST when it exists).
        public static let link = Operation(.link)
        /// mkdir(2).
        public static let makeDirectory = Operation(.makeDirectory)
        /// flock(2).
        public static let lock = Operation(.lock)
        /// The path exists but is not a directory (`errno` is ENOTDIR).
        public static let requireDirectory = Operation(.requireDirectory)
        /// The path is not a regular file (`errno` is EINVAL).
        public static let requireRegularFile = Operation(.requireRegularFile)
        /// The file is larger than allowed (`errno` is EFBIG).
        public static let limitSize = Operation(.limitSize)

        /// Whether this is a check of what is at the path rather than a failed system call.
        public var isCheck: Bool {
            switch self.code {
            case .requireDirectory, .requireRegularFile, .limitSize: true
            case .open, .inspect, .read, .create, .write, .setPermissions, .sync, .rename, .link, .makeDirectory,
                .lock:
                false
            }
        }

        public var description: String {
            switch self.code {
            case .open: "open"
            case .inspect: "stat"
            case .read: "read"
            case .create: "create"
            case .write: "write"
            case .setPermissions: "chmod"
            case .sync: "fsync"
            case .rename: "rename to"
            case .link: "link"
            case .makeDirectory: "mkdir"
            case .lock: "flock"
            case .requireDirectory: "is not a directory"
            case .requireRegularFile: "is not a regular file"
            case .limitSize: "is too large"
            }
        }
    }

    /// What was being done.
    public let operation: Operation
    /// The path it was done to.
    public let path: String
    /// The error number the call left (for checks, the closest one: ENOTDIR, EINVAL, EFBIG).
    public let errno: Int32

    public init(_ operation: Operation, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// `strerror`'s words for ``errno``.
    public var reason: String { String(cString: strerror(self.errno)) }

    public var description: String {
        if self.operation.isCheck { return "\(self.path) \(self.operation)" }
        return "\(self.operation) \(self.path): \(self.reason)"
    }
}
