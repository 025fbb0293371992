import Crypto

/// The SigV4 computations for one signing key: the key derivation, the string to sign of a request, of an
/// aws-chunked chunk and of a trailer, and the HMAC over them. Canonicalization lives in
/// `SigV4Signer+Canonicalization.swift`.
struct SigV4Signer: Sendable {
    /// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
    private let key: SymmetricKey
    /// `yyyymmddThhmmssZ`, exactly as the request states it.
    let timestamp: String
    /// `date/region/service/aws4_request`.
    let scope: String

    /// The hash of the empty string, which every chunk's string to sign contains.
    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    init(secretAccessKey: String, timestamp: String, date: String, region: String, service: String) {
        var key = SymmetricKey(data: Array("AWS4\(secretAccessKey)".utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        self.key = key
        self.timestamp = timestamp
        self.scope = "\(date)/\(region)/\(service)/aws4_request"
    }

    /// The signature of a canonical request.
    func signature(canonicalRequest: String) -> String {
        let hash = Self.sha256Hex(Array(canonicalRequest.utf8))
        return self.sign("AWS4-HMAC-SHA256\n\(self.timestamp)\n\(self.scope)\n\(hash)")
    }

    /// The signature of one aws-chunked chunk whose data hashes to `dataHash`, chained on `previous`.
    func chunkSignature(previous: String, dataHash: String) -> String {
        self.sign(
            "AWS4-HMAC-SHA256-PAYLOAD\n\(self.timestamp)\n\(self.scope)\n\(previous)\n\(Self.emptyHash)\n\(dataHash)"
        )
    }

    /// The signature of the trailing headers whose canonical text hashes to `trailerHash`, chained on `previous`.
    func trailerSignature(previous: String, trailerHash: String) -> String {
        self.sign("AWS4-HMAC-SHA256-TRAILER\n\(self.timestamp)\n\(self.scope)\n\(previous)\n\(trailerHash)")
    }

    /// HMAC-SHA256 of `stringToSign` with the signing key, lowercase hex.
    private func sign(_ stringToSign: String) -> String {
        Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: self.key))
    }

    /// The canonical request: method, URI, query, headers, signed header names and payload hash, one per line.
    static func canonicalRequest(
        method: String, uri: String, query: String, canonicalHeaders: String, signedHeaders: [String],
        payloadHash: String
    ) -> String {
        [method, uri, query, canonicalHeaders, signedHeaders.joined(separator: ";"), payloadHash]
            .joined(separator: "\n")
    }

    /// SHA-256 of `bytes`, lowercase hex.
    static func sha256Hex(_ bytes: [UInt8]) -> String {
        Self.hex(SHA256.hash(data: bytes))
    }

    /// Lowercase hex of `bytes`.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        Hex.lowercase(bytes)
    }

    /// Compares two signatures in time that depends on their length only.
    static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8)
        let right = Array(rhs.utf8)
        guard left.count == right.count else {
            return false
        }
        var difference: UInt8 = 0
        for index in left.indices {
            difference |= left[index] ^ right[index]
        }
        return difference == 0
    }

    static func isLowercaseHexDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }

    /// Whether `value` is a SHA-256 in lowercase hex.
    static func isLowercaseHash(_ value: String) -> Bool {
        value.utf8.count == 64 && value.utf8.allSatisfy(Self.isLowercaseHexDigit)
    }
}
