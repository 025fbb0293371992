/// The parts of a SigV4 (`AWS4-HMAC-SHA256`) signature that a request carries in its Authorization header or,
/// for a presigned URL, in its query.
public struct SigV4Authorization: Sendable, Equatable {
    /// Where the signature is.
    public enum Location: Sendable, Equatable {
        /// `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
        case header
        /// `?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=…&X-Amz-Signature=…` (presigned URL).
        case query
    }

    public let location: Location
    public let accessKeyID: String
    /// `yyyymmdd` of the credential scope.
    public let date: String
    public let region: String
    public let service: String
    /// The signed header names, lowercased, in the order the request lists them.
    public let signedHeaders: [String]
    /// The signature, lowercase hex.
    public let signature: String

    static let algorithm = "AWS4-HMAC-SHA256"
    static let algorithmA = "AWS4-ECDSA-P256-SHA256"

    init(
        location: Location, accessKeyID: String, date: String, region: String, service: String,
        signedHeaders: [String], signature: String
    ) {
        self.location = location
        self.accessKeyID = accessKeyID
        self.date = date
        self.region = region
        self.service = service
        self.signedHeaders = signedHeaders
        self.signature = signature
    }

    /// `date/region/service/aws4_request`.
    var scope: String { "\(self.date)/\(self.region)/\(self.service)/aws4_request" }

    /// Finds the SigV4 authentication of `head`: an Authorization header whose value starts with `AWS4-`, or
    /// presigned-URL parameters. Both at once, or either twice, is malformed (AWS refuses them too).
    public static func detect(in head: RequestHead) -> SigV4Detection {
        let authorizations = head.headers.filter { $0.name.lowercased() == "authorization" }
        let headerValues = authorizations.map { Self.trimmed($0.value) }
        let inHeader = headerValues.contains { $0.hasPrefix("AWS4-") }
        let target = SigV4Target(head.target)
        let queryNames = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"]
        let inQuery = queryNames.contains { !target.indices(named: $0).isEmpty }
        switch (inHeader, inQuery) {
        case (true, true):
            return .malformed("the request has both an AWS4 Authorization header and X-Amz-* query authentication")
        case (true, false):
            guard headerValues.count == 1 else {
                return .malformed("the request has more than one Authorization header")
            }
            return Self.parseHeader(headerValues[0])
        case (false, true):
            return Self.parseQuery(target)
        case (false, false):
            return .none
        }
    }

    private static func parseHeader(_ value: String) -> SigV4Detection {
        let algorithmEnd = value.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? value.endIndex
        let algorithm = String(value[..<algorithmEnd])
        if algorithm == Self.algorithmA {
            let credential = value.firstRange(of: "Credential=").map { String(value[$0.upperBound...]) }
            return .sigV4A(accessKeyID: credential.flatMap(Self.accessKeyPart))
        }
        guard algorithm == Self.algorithm else {
            return .malformed("the Authorization algorithm is neither AWS4-HMAC-SHA256 nor AWS4-ECDSA-P256-SHA256")
        }
        var components: [String: String] = [:]
        for part in value[algorithmEnd...].split(separator: ",") {
            let component = Self.trimmed(String(part))
            guard let equals = component.firstIndex(of: "="), components.count < 8 else {
                return .malformed("the Authorization header is not `ALGORITHM Credential=…, SignedHeaders=…, …`")
            }
            let key = String(component[..<equals])
            guard components[key] == nil else {
                return .malformed("the Authorization header repeats \(Self.printable(key))")
            }
            components[key] = String(component[component.index(after: equals)...])
        }
        for key in components.keys where !["Credential", "SignedHeaders", "Signature"].contains(key) {
            return .malformed("the Authorization header has an unknown part \(Self.printable(key))")
        }
        guard let credential = components["Credential"], let signedHeaders = components["SignedHeaders"],
            let signature = components["Signature"]
        else {
            return .malformed("the Authorization header lacks Credential, SignedHeaders or Signature")
        }
        return Self.make(
            .header, credential: credential, signedHeaders: signedHeaders, signature: signature,
            names: ("Credential", "SignedHeaders", "Signature")
        )
    }

    private static func parseQuery(_ target: SigV4Target) -> SigV4Detection {
        var values: [String: String] = [:]
        for name in ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Date"] {
            let indices = target.indices(named: name)
            guard indices.count <= 1 else {
                return .malformed("the query has more than one \(name)")
            }
            if let index = indices.first {
                values[name] = target.parameters[index].decodedValue
            }
        }
        guard let algorithm = values["X-Amz-Algorithm"] else {
            return .malformed("the query has X-Amz-* authentication parameters but no X-Amz-Algorithm")
        }
        if algorithm == Self.algorithmA {
            return .sigV4A(accessKeyID: values["X-Amz-Credential"].flatMap(Self.accessKeyPart))
        }
        guard algorithm == Self.algorithm else {
            return .malformed("X-Amz-Algorithm is neither AWS4-HMAC-SHA256 nor AWS4-ECDSA-P256-SHA256")
        }
        guard let credential = values["X-Amz-Credential"], let signedHeaders = values["X-Amz-SignedHeaders"],
            let signature = values["X-Amz-Signature"]
        else {
            return .malformed("the query lacks X-Amz-Credential, X-Amz-SignedHeaders or X-Amz-Signature")
        }
        guard values["X-Amz-Date"] != nil else {
            return .malformed("the query lacks X-Amz-Date")
        }
        return Self.make(
            .query, credential: credential, signedHeaders: signedHeaders, signature: signature,
            names: ("X-Amz-Credential", "X-Amz-SignedHeaders", "X-Amz-Signature")
        )
    }

    /// Validates the three parts and builds the authorization; `names` are the parts' names for messages.
    private static func make(
        _ location: Location, credential: String, signedHeaders: String, signature: String,
        names: (credential: String, signedHeaders: String, signature: String)
    ) -> SigV4Detection {
        let scope = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard scope.count == 5, scope[4] == "aws4_request", Self.isToken(scope[0]),
            scope[1].utf8.count == 8, scope[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            Self.isScopePart(scope[2]), Self.isScopePart(scope[3])
        else {
            return .malformed("\(names.credential) is not ACCESSKEY/yyyymmdd/region/service/aws4_request")
        }
        let headers = signedHeaders.split(separator: ";", omittingEmptySubsequences: false).map {
            String($0).lowercased()
        }
        guard headers.allSatisfy(Self.isToken), Set(headers).count == headers.count else {
            return .malformed("\(names.signedHeaders) is not a list of distinct header names separated by `;`")
        }
        let hex = signature.lowercased()
        guard hex.utf8.count == 64, hex.utf8.allSatisfy(SigV4Signer.isLowercaseHexDigit) else {
            return .malformed("\(names.signature) is not 64 hexadecimal digits")
        }
        return .sigV4(
            SigV4Authorization(
                location: location, accessKeyID: scope[0], date: scope[1], region: scope[2], service: scope[3],
                signedHeaders: headers, signature: hex
            )
        )
    }

    /// The access key id before the first `/` of a credential, if it looks like one.
    private static func accessKeyPart(_ credential: String) -> String? {
        let key = String(credential.prefix { $0 != "/" })
        return Self.isToken(key) ? key : nil
    }

    /// Non-empty printable ASCII without spaces or separators that would break the header's syntax.
    private static func isToken(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= 256
            && value.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !Self.separators.contains($0) }
    }

    private static let separators: Set<UInt8> = Set(",;/=".utf8)

    /// Region and service names: letters, digits, `-`, `_`, `.`.
    private static func isScopePart(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= 64
            && value.utf8.allSatisfy { PercentEncoding.isUnreserved($0) && $0 != UInt8(ascii: "~") }
    }

    /// `value` without leading and trailing spaces and tabs.
    static func trimmed(_ value: String) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = value.firstIndex(where: { !isSpace($0) }),
            let last = value.lastIndex(where: { !isSpace($0) })
        else {
            return ""
        }
        return String(value[first...last])
    }

    /// A part name for a message: shown only when it is short and plain, so no value can slip in.
    private static func printable(_ key: String) -> String {
        let plain = key.utf8.count <= 32 && key.utf8.allSatisfy { PercentEncoding.isUnreserved($0) }
        return plain ? "`\(key)`" : "part"
    }
}
