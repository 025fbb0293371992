/// What keyhole knows about a credential apart from its secret: where it may be sent and how it is handed out.
/// Stored as JSON in the config directory; never holds a secret value.
public struct CredentialDefinition: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A token, password or API key swapped in headers, Basic auth and query strings.
        case generic
        /// AWS access keys (secret: `{"AccessKeyId","SecretAccessKey","SessionToken"?}` JSON). Workloads get
        /// placeholder keys through `credential_process`; the proxy verifies their SigV4 signature and re-signs.
        case aws
    }

    /// Hosts an `--type aws` credential is scoped to when `add` names none.
    public static let defaultAWSHosts = ["*.amazonaws.com"]

    public var name: String
    public var kind: Kind
    public var hosts: [HostPattern]
    public var username: String?
    public var inject: InjectTemplate?
    public var env: [String]
    /// RFC 3339 times of creation and of the last rotation.
    public var created: String
    public var rotated: String?

    public init(
        name: String,
        kind: Kind = .generic,
        hosts: [HostPattern],
        username: String? = nil,
        inject: InjectTemplate? = nil,
        env: [String] = [],
        created: String,
        rotated: String? = nil
    ) {
        self.name = name
        self.kind = kind
        self.hosts = hosts
        self.username = username
        self.inject = inject
        self.env = env
        self.created = created
        self.rotated = rotated
    }

    enum CodingKeys: String, CodingKey {
        case name, kind = "type", hosts, username, inject, env, created, rotated
    }

    /// Whether this credential may be sent to `authority`.
    public func isScoped(to authority: Authority) -> Bool {
        self.hosts.contains { $0.matches(authority) }
    }

    /// Credential names: a letter or digit, then letters, digits, `.`, `_`, `-`; at most 64 characters.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 64 else { return false }
        return Self.isAlphanumeric(first) && name.utf8.allSatisfy(Self.isNameByte)
    }

    /// `git-github.com`, `registry-ghcr.io-5000`: the name of a credential imported for a host (`prefix-AUTHORITY`,
    /// anything a name may not hold replaced by `-`, at most 64 characters).
    public static func derivedName(prefix: String, from authority: String) -> String {
        let cleaned = authority.utf8.map { Self.isNameByte($0) ? Character(Unicode.Scalar($0)) : "-" }
        return String((prefix + "-" + String(cleaned)).prefix(64))
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        Self.isAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    /// Environment variable names: `[A-Za-z_][A-Za-z0-9_]*`.
    public static func isValidEnvironmentName(_ name: String) -> Bool {
        guard let first = name.utf8.first else { return false }
        func letter(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
        return letter(first) && name.utf8.allSatisfy { letter($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}
