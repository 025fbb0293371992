/// A failure of the control channel between the CLI and the daemon.
public struct ControlError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case noDaemon
            case permission
            case timeout
            case protocolError
            case closed
            case invalidPath
            case unsafeDirectory
            case alreadyRunning
            case systemError
        }

        private let value: Value

        private init(_ value: Value) {
            self.value = value
        }

        /// Nothing listens on the socket (it does not exist, or is stale): start the daemon.
        public static let noDaemon = Code(.noDaemon)
        /// The socket or its directory may not be used by us.
        public static let permission = Code(.permission)
        /// The daemon did not answer in time.
        public static let timeout = Code(.timeout)
        /// The other side sent something that is not a line of the protocol (or a line too long).
        public static let protocolError = Code(.protocolError)
        /// The connection was closed by the other side.
        public static let closed = Code(.closed)
        /// The socket path is too long for a Unix socket address.
        public static let invalidPath = Code(.invalidPath)
        /// The socket directory is not private to us (another owner, a symlink, not a directory): refused.
        public static let unsafeDirectory = Code(.unsafeDirectory)
        /// Another daemon answers on the socket.
        public static let alreadyRunning = Code(.alreadyRunning)
        /// Any other system call failure.
        public static let systemError = Code(.systemError)

        public var description: String {
            switch self.value {
            case .noDaemon: return "noDaemon"
            case .permission: return "permission"
            case .timeout: return "timeout"
            case .protocolError: return "protocolError"
            case .closed: return "closed"
            case .invalidPath: return "invalidPath"
            case .unsafeDirectory: return "unsafeDirectory"
            case .alreadyRunning: return "alreadyRunning"
            case .systemError: return "systemError"
            }
        }
    }

    public let code: Code
    /// The socket (or directory) concerned.
    public let path: String
    /// What happened, in words.
    public let message: String

    public init(code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String {
        self.message
    }

    /// What to do about it.
    public var hint: String {
        switch self.code {
        case .noDaemon:
            return "start it with `keyhole daemon` (client commands start it on their own)"
        case .permission:
            return "the control socket belongs to another user, or its directory is not accessible; "
                + "check $XDG_RUNTIME_DIR and the owner of \(self.path)"
        case .timeout:
            return "the daemon is busy or stuck; see its log (keyhole status) or restart it with `keyhole stop`"
        case .protocolError:
            return "the daemon and this command may be different keyhole versions; "
                + "restart the daemon with `keyhole stop`"
        case .closed:
            return "the daemon closed the connection; it may have stopped — "
                + "see its log in $XDG_STATE_HOME/keyhole/daemon.log"
        case .invalidPath:
            return "a Unix socket path is at most 107 bytes; set XDG_RUNTIME_DIR to a shorter directory"
        case .unsafeDirectory:
            return "the socket directory must be a real directory owned by you with mode 0700; "
                + "remove \(self.path) or set XDG_RUNTIME_DIR to a directory of your own"
        case .alreadyRunning:
            return "a keyhole daemon is already running for this user; use `keyhole status` or `keyhole stop`"
        default:
            return "check the permissions of \(self.path) and its directory"
        }
    }
}
