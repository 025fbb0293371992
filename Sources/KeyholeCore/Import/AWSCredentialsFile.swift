/// The AWS shared credentials file (`~/.aws/credentials`, `$AWS_SHARED_CREDENTIALS_FILE`): INI sections named
/// after profiles (`[default]`, `[work]`) with `aws_access_key_id`, `aws_secret_access_key` and, for temporary
/// keys, `aws_session_token`. Read as botocore reads it (configparser: `=` or `:` between key and value, `#` and
/// `;` comment lines, indented continuation lines, keys case-insensitive). The file's bytes are kept, so a
/// profile's keys can be removed leaving every other byte as it was.
public struct AWSCredentialsFile: Sendable {
    /// The keys of one profile and the lines they are on.
    public struct Profile: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
        CustomReflectable
    {
        public var name: String
        public var credentials: AWSCredentials
        /// The lines that hold the keys (continuation lines included).
        public var credentialLines: Set<Int>
        /// The section header's line, when nothing but keys (and comments or blank lines) is in the section.
        public var headerLineIfOnlyKeys: Int?

        public var description: String { "AWSCredentialsFile.Profile(\(self.name), \(self.credentials))" }
        public var debugDescription: String { self.description }
        public var customMirror: Mirror {
            Mirror(self, children: ["name": self.name, "credentials": self.credentials.description])
        }
    }

    /// The settings that hold the keys; all of them go when a profile is removed.
    public static let credentialKeys: Set<String> = [
        "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_security_token",
    ]

    /// The file as read.
    public var bytes: [UInt8] { self.document.bytes }
    private let document: AWSINIDocument

    public init(bytes: [UInt8]) {
        self.document = AWSINIDocument(bytes: bytes)
    }

    /// The names of the profiles, in file order.
    public var profileNames: [String] { self.document.sections.map(\.name) }

    /// Profile `name`'s keys.
    public func profile(_ name: String) throws(ImportFileError) -> Profile {
        let matching = self.document.sections.filter { $0.name == name }
        guard let section = matching.first else {
            throw ImportFileError.unknownProfile(name, available: self.profileNames)
        }
        guard matching.count == 1 else { throw ImportFileError.duplicateProfile(name) }
        var values: [String: String] = [:]
        var lines = Set<Int>()
        for setting in section.settings where Self.credentialKeys.contains(setting.key) {
            guard values[setting.key] == nil else {
                throw ImportFileError.duplicateSetting(profile: name, key: setting.key)
            }
            let raw = self.bytes[setting.valueStart..<setting.value.content.upperBound]
            let text = String(decoding: raw, as: UTF8.self)
            guard text.utf8.elementsEqual(raw) else {
                throw ImportFileError.invalidProfileValue(name, key: setting.key)
            }
            values[setting.key] = text.trimmingASCIIWhitespace()
            lines.formUnion(setting.lines.map(\.number))
        }
        for required in ["aws_access_key_id", "aws_secret_access_key"] where values[required, default: ""].isEmpty {
            throw ImportFileError.incompleteProfile(name, missing: required)
        }
        let token = [values["aws_session_token"], values["aws_security_token"]].compactMap { $0 }.first { !$0.isEmpty }
        for (key, value) in [("aws_access_key_id", values["aws_access_key_id"]), ("aws_session_token", token)] {
            if let value, !value.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) {
                throw ImportFileError.invalidProfileValue(name, key: key)
            }
        }
        let credentials = AWSCredentials(
            accessKeyID: values["aws_access_key_id"]!, secretAccessKey: values["aws_secret_access_key"]!,
            sessionToken: token
        )
        // A section that also holds a line keyhole skips keeps its header: without it, an indented such line would
        // continue the last setting of the section above (found by the importers fuzz target).
        let onlyKeys = section.settings.allSatisfy { Self.credentialKeys.contains($0.key) } && section.skippedLines.isEmpty
        return Profile(
            name: name, credentials: credentials, credentialLines: lines,
            headerLineIfOnlyKeys: onlyKeys ? section.headerLine : nil
        )
    }

    /// The file without `profile`'s key lines, and without its header when the section had nothing else.
    public func removing(_ profile: Profile) -> [UInt8] {
        var lines = profile.credentialLines
        if let header = profile.headerLineIfOnlyKeys { lines.insert(header) }
        return TextLine.removing(lines, from: self.bytes)
    }
}
