import Foundation

/// A registry client's credential file: `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`), and
/// containers-auth.json, which has the same `"auths"` object. Each `"auths"` entry maps a registry (`ghcr.io`,
/// `registry.example:5000`, `https://index.docker.io/v1/`) to `{"auth": base64("user:password")}` or to
/// `{"username": …, "password": …}`. The file's bytes are kept, so imported entries can be removed from
/// `"auths"` leaving every other byte as it was.
public struct DockerConfigFile: Sendable {
    /// One registry's user name and password. Its description, debug description and mirror never show the
    /// password.
    public struct Entry: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
        CustomReflectable
    {
        /// The registry as the file names it (the `"auths"` key).
        public var registry: String
        public var username: String
        public var password: String

        public init(registry: String, username: String, password: String) {
            self.registry = registry
            self.username = username
            self.password = password
        }

        public var description: String {
            "DockerConfigFile.Entry(\(self.registry), username: \(self.username), password: <secret>)"
        }

        public var debugDescription: String { self.description }

        public var customMirror: Mirror {
            Mirror(self, children: ["registry": self.registry, "username": self.username, "password": "<redacted>"])
        }
    }

    /// An `"auths"` entry that cannot be imported, and why (never its content).
    public struct Problem: Sendable, Equatable {
        public var registry: String
        public var reason: String
    }

    /// The file as read.
    public let bytes: [UInt8]
    public private(set) var entries: [Entry] = []
    public private(set) var problems: [Problem] = []
    /// Where `"auths"` is, when the file has one.
    private let auths: JSONObjectLayout?

    /// Why an entry with an identity token is not imported.
    public static let identityTokenReason =
        "it holds an identity token (a refresh token the client sends in a request body, which keyhole does not "
        + "rewrite); log in with a password or access token instead"

    public init(bytes: [UInt8]) throws(ImportFileError) {
        self.bytes = bytes
        let document = try JSONObjectLayout.document(bytes)
        let authsMembers = document.members.filter { $0.key == "auths" }
        guard let authsMember = authsMembers.first else {
            self.auths = nil
            return
        }
        guard authsMembers.count == 1 else { throw ImportFileError.duplicateKey("auths") }
        guard bytes[authsMember.value.lowerBound] == UInt8(ascii: "{") else {
            throw ImportFileError.notAnObject("\"auths\"")
        }
        let auths = try JSONObjectLayout.object(in: bytes, at: authsMember.value.lowerBound)
        self.auths = auths
        var seen = Set<String>()
        for member in auths.members {
            guard seen.insert(member.key).inserted else { throw ImportFileError.duplicateKey(member.key) }
            switch Self.read(member, in: bytes) {
            case .entry(let entry): self.entries.append(entry)
            case .problem(let reason): self.problems.append(Problem(registry: member.key, reason: reason))
            }
        }
    }

    /// The file without the `"auths"` entries of `registries`; every other byte as it was.
    public func removing(registries: Set<String>) -> [UInt8] {
        guard let auths = self.auths else { return self.bytes }
        let indices = Set(auths.members.indices.filter { registries.contains(auths.members[$0].key) })
        return auths.removingMembers(at: indices, from: self.bytes)
    }

    private enum Parsed {
        case entry(Entry)
        case problem(String)
    }

    /// Reads an entry the way the docker CLI does: a non-empty `auth` wins over `username` and `password`.
    private static func read(_ member: JSONObjectLayout.Member, in bytes: [UInt8]) -> Parsed {
        guard bytes[member.value.lowerBound] == UInt8(ascii: "{"),
            let object = try? JSONObjectLayout.object(in: bytes, at: member.value.lowerBound)
        else {
            return .problem("the entry is not a JSON object")
        }
        func field(_ name: String) -> String? {
            guard let found = object.members.last(where: { $0.key == name }),
                let value = JSONObjectLayout.stringValue(of: found, in: bytes), !value.isEmpty
            else {
                return nil
            }
            return value
        }
        if field("identitytoken") != nil { return .problem(Self.identityTokenReason) }
        if field("registrytoken") != nil {
            return .problem("it holds a short-lived registry token; log in with a password or access token instead")
        }
        var username = field("username")
        var password = field("password")
        if let auth = field("auth") {
            guard let decoded = Self.decodeBase64(auth), let colon = decoded.firstIndex(of: ":") else {
                return .problem("its \"auth\" is not base64 of user:password")
            }
            username = String(decoded[..<colon])
            password = String(decoded[decoded.index(after: colon)...])
        }
        guard let password, !password.isEmpty else {
            return .problem("it has no password in the file (a credential store or helper may hold it)")
        }
        return .entry(Entry(registry: member.key, username: username ?? "", password: password))
    }

    /// Standard base64 with or without padding, decoded as UTF-8.
    private static func decodeBase64(_ text: String) -> String? {
        var padded = text.trimmingASCIIWhitespace()
        while padded.utf8.count % 4 != 0 { padded += "=" }
        guard let data = Data(base64Encoded: padded) else { return nil }
        let decoded = String(decoding: data, as: UTF8.self)
        return decoded.utf8.elementsEqual(data) ? decoded : nil
    }
}
