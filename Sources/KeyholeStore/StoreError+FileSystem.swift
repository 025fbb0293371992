import KeyholeCore

extension StoreError {
    /// The ``io`` error for a failed file operation, in the store's words: what could not be done to which
    /// path, and why.
    init(_ error: FileSystemError) {
        let path = error.path
        let message: String
        switch error.operation {
        case .requireDirectory: message = "\(path) is not a directory"
        case .requireRegularFile: message = "\(path) is not a regular file"
        case .limitSize: message = "\(path) is too large"
        case .open: message = "cannot open \(path): \(error.reason)"
        case .inspect: message = "cannot inspect \(path): \(error.reason)"
        case .read: message = "cannot read \(path): \(error.reason)"
        case .write: message = "cannot write \(path): \(error.reason)"
        case .setPermissions: message = "cannot restrict the permissions of \(path): \(error.reason)"
        case .sync: message = "cannot sync \(path): \(error.reason)"
        case .rename: message = "cannot replace \(path): \(error.reason)"
        case .lock: message = "cannot lock \(path): \(error.reason)"
        default: message = "cannot create \(path): \(error.reason)"  // create, link, makeDirectory
        }
        self = StoreError.io.with(message: message)
    }

    /// Runs `body`, turning a ``FileSystemError`` it throws into the matching ``io`` error; other errors pass
    /// through.
    static func mappingFileErrors<Result>(_ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch let error as FileSystemError {
            throw StoreError(error)
        }
    }
}
