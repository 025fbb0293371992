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
    /// Whether the secret may also go into plain `http://` requests (`--allow-http`, for a development server on
    /// loopback). Without it a secret only ever leaves over verified TLS.
    public var allowHTTP: Bool
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
        allowHTTP: Bool = false,
        created: String,
        rotated: String? = nil
    ) {
        self.name = name
        self.kind = kind
        self.hosts = hosts
        self.username = username
        self.inject = inject
        self.env = env
        self.allowHTTP = allowHTTP
        self.created = created
        self.rotated = rotated
    }

    enum CodingKeys: String, CodingKey {
        case name, kind = "type", hosts, username, inject, env, created, rotated
        case allowHTTP = "allow_http"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.name = try container.decode(String.self, forKey: .name)
        self.kind = try container.decode(Kind.self, forKey: .kind)
        self.hosts = try container.decode([HostPattern].self, forKey: .hosts)
        self.username = try container.decodeIfPresent(String.self, forKey: .username)
        self.inject = try container.decodeIfPresent(InjectTemplate.self, forKey: .inject)
        self.env = try container.decodeIfPresent([String].self, forKey: .env) ?? []
        self.allowHTTP = try container.decodeIfPresent(Bool.self, forKey: .allowHTTP) ?? false
        self.created = try container.decode(String.self, forKey: .created)
        self.rotated = try container.decodeIfPresent(String.self, forKey: .rotated)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.name, forKey: .name)
        try container.encode(self.kind, forKey: .kind)
        try container.encode(self.hosts, forKey: .hosts)
        try container.encodeIfPresent(self.username, forKey: .username)
        try container.encodeIfPresent(self.inject, forKey: .inject)
        try container.encode(self.env, forKey: .env)
        if self.allowHTTP { try container.encode(true, forKey: .allowHTTP) }
        try container.encode(self.created, forKey: .created)
        try container.encodeIfPresent(self.rotated, forKey: .rotated)
    }

    /// Whether a secret of this credential may go to `authority` over the given transport: only over verified TLS,
    /// unless the credential was added with `--allow-http`.
    public func mayTravel(cleartext: Bool) -> Bool {
        !cleartext || self.allowHTTP
    }

    /// Whether a host pattern names a loopback address (`localhost`, `127.x.x.x`, `::1`): whatever listens there
    /// gets the secret, including a listener a workload opened itself while the real service is down.
    public var loopbackHosts: [HostPattern] {
        self.hosts.filter { $0.isLoopback }
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
