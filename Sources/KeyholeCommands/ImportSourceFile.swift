/// A plaintext file an importer read: its path, its bytes as read, and how to remove entries from it.
struct ImportSourceFile {
    var path: String
    var bytes: [UInt8]
    /// The file's bytes without the entries of these keys (``ImportCandidate/entry``).
    var removing: (Set<String>) -> [UInt8]
}
