import KeyholeCore

extension FileSystemError {
    /// The words a ``TLSError`` puts after its own path (`subject`): what failed and why, naming the path only
    /// when it is another one (a parent directory, a temporary file) or the destination of a rename or link.
    func reason(about subject: String) -> String {
        if self.operation.isCheck { return self.description }
        if self.path == subject && self.operation != .rename && self.operation != .link {
            return "\(self.operation): \(self.reason)"
        }
        return self.description
    }
}
