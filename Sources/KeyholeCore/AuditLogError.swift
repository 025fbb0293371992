/// A failure to write or read the audit log.
public struct AuditLogError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case cannotCreateDirectory
            case cannotOpen
            case cannotWrite
            case cannotRead
        }

        private let value: Value

        private init(_ value: Value) {
            self.value = value
        }

        public static let cannotCreateDirectory = Code(.cannotCreateDirectory)
        public static let cannotOpen = Code(.cannotOpen)
        public static let cannotWrite = Code(.cannotWrite)
        public static let cannotRead = Code(.cannotRead)

        public var description: String {
            switch self.value {
            case .cannotCreateDirectory: return "cannotCreateDirectory"
            case .cannotOpen: return "cannotOpen"
            case .cannotWrite: return "cannotWrite"
            case .cannotRead: return "cannotRead"
            }
        }
    }

    public let code: Code
    /// The file or directory concerned.
    public let path: String
    /// The system's reason, e.g. "Permission denied".
    public let reason: String

    public init(code: Code, path: String, reason: String) {
        self.code = code
        self.path = path
        self.reason = reason
    }

    public var description: String {
        switch self.code {
        case .cannotCreateDirectory: return "cannot create the audit log directory \(self.path): \(self.reason)"
        case .cannotOpen: return "cannot open the audit log \(self.path): \(self.reason)"
        case .cannotWrite: return "cannot write the audit log \(self.path): \(self.reason)"
        default: return "cannot read the audit log \(self.path): \(self.reason)"
        }
    }

    /// What to do about it.
    public var hint: String {
        "check that \(self.path) and its directory belong to you and that the disk is not full"
    }
}
