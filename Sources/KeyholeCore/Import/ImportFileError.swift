/// A plaintext credential file that `keyhole import` cannot read as what it should be: which problem, in words
/// that name keys, profiles and line numbers but never a value.
public struct ImportFileError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: Sendable, Equatable {
        case invalidJSON(line: Int, what: String)
        case notAnObject(String)
        case duplicateKey(String)
        case unknownProfile(String, available: [String])
        case duplicateProfile(String)
        case duplicateSetting(profile: String, key: String)
        case incompleteProfile(String, missing: String)
        case invalidProfileValue(String, key: String)
    }

    private let code: Code

    private init(_ code: Code) {
        self.code = code
    }

    /// Not JSON: what was expected at `line`.
    public static func invalidJSON(line: Int, _ what: String) -> ImportFileError {
        ImportFileError(.invalidJSON(line: line, what: what))
    }

    /// `what` (the document, `"auths"`, an entry) is JSON but not an object.
    public static func notAnObject(_ what: String) -> ImportFileError { ImportFileError(.notAnObject(what)) }

    /// A key that appears twice where only one can count.
    public static func duplicateKey(_ key: String) -> ImportFileError { ImportFileError(.duplicateKey(key)) }

    public static func unknownProfile(_ name: String, available: [String]) -> ImportFileError {
        ImportFileError(.unknownProfile(name, available: available))
    }

    public static func duplicateProfile(_ name: String) -> ImportFileError { ImportFileError(.duplicateProfile(name)) }

    public static func duplicateSetting(profile: String, key: String) -> ImportFileError {
        ImportFileError(.duplicateSetting(profile: profile, key: key))
    }

    /// The profile lacks `missing` (or has it empty).
    public static func incompleteProfile(_ name: String, missing: String) -> ImportFileError {
        ImportFileError(.incompleteProfile(name, missing: missing))
    }

    /// The value of `key` is not usable (not UTF-8, or characters a key cannot have).
    public static func invalidProfileValue(_ name: String, key: String) -> ImportFileError {
        ImportFileError(.invalidProfileValue(name, key: key))
    }

    /// Whether the error is about the file's syntax (as opposed to a missing or incomplete profile).
    public var isSyntax: Bool {
        switch self.code {
        case .invalidJSON, .notAnObject, .duplicateKey, .duplicateProfile, .duplicateSetting: true
        case .unknownProfile, .incompleteProfile, .invalidProfileValue: false
        }
    }

    public var description: String {
        switch self.code {
        case .invalidJSON(let line, let what):
            return "not valid JSON: \(what) on line \(line)"
        case .notAnObject(let what):
            return "\(what) is not a JSON object"
        case .duplicateKey(let key):
            return "the key \"\(key)\" appears twice"
        case .unknownProfile(let name, let available):
            let list = available.isEmpty ? "it has no profiles" : "its profiles: " + available.joined(separator: ", ")
            return "no profile [\(name)] (\(list))"
        case .duplicateProfile(let name):
            return "profile [\(name)] appears twice"
        case .duplicateSetting(let profile, let key):
            return "\(key) appears twice in profile [\(profile)]"
        case .incompleteProfile(let name, let missing):
            return "profile [\(name)] has no \(missing)"
        case .invalidProfileValue(let name, let key):
            return "the \(key) of profile [\(name)] is not printable text"
        }
    }
}
