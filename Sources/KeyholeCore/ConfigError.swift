/// A problem with `config.toml` (or with a value such as `--listen` that follows the same rules): which
/// file and line, what was expected there, and a hint of what to do.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case unreadable
            case syntax
            case invalidValue
        }

        private let value: Value

        private init(_ value: Value) {
            self.value = value
        }

        /// The file exists but cannot be read (permissions, a directory, too large, …).
        public static let unreadable = Code(.unreadable)
        /// The file is not valid TOML.
        public static let syntax = Code(.syntax)
        /// The TOML is fine but a value is not acceptable (wrong type, not loopback, not host:port, …).
        public static let invalidValue = Code(.invalidValue)

        public var description: String {
            switch self.value {
            case .unreadable: return "unreadable"
            case .syntax: return "syntax"
            case .invalidValue: return "invalidValue"
            }
        }
    }

    public let code: Code
    /// The file, when the value came from one.
    public let file: String?
    /// The 1-based line, when known.
    public let line: Int?
    /// What is wrong, in words: usually what was expected.
    public let message: String
    /// What to do about it.
    public let hint: String?

    public init(code: Code, file: String?, line: Int?, message: String, hint: String? = nil) {
        self.code = code
        self.file = file
        self.line = line
        self.message = message
        self.hint = hint
    }

    /// `FILE:LINE: message` (as compilers print it), without the hint.
    public var description: String {
        switch (self.file, self.line) {
        case (let file?, let line?): return "\(file):\(line): \(self.message)"
        case (let file?, nil): return "\(file): \(self.message)"
        case (nil, _): return self.message
        }
    }
}
