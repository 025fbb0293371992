/// Why a SigV4 request could not be verified or re-signed. Descriptions name what is wrong (a header, a part of
/// the Authorization value, a chunk) and never contain a secret key, a session token or a signature.
public struct SigV4Error: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case signatureMismatch
            case malformed
            case invalidCredentialJSON
            case bodyHashRequired
            case chunkTooLarge
            case malformedChunk
            case chunkSignatureMismatch
            case incompleteBody
        }

        private let value: Value

        private init(_ value: Value) {
            self.value = value
        }

        /// The request's signature is not the one the placeholder credentials give, under any canonical form.
        public static let signatureMismatch = Code(.signatureMismatch)
        /// The request looks like SigV4 but a part of it cannot be parsed.
        public static let malformed = Code(.malformed)
        /// The stored credential is not the expected JSON.
        public static let invalidCredentialJSON = Code(.invalidCredentialJSON)
        /// The caller did not pass the body's hash where the signature covers it (a bug in the caller).
        public static let bodyHashRequired = Code(.bodyHashRequired)
        /// An aws-chunked chunk declares more than ``SigV4ChunkResigner/maximumChunkSize`` bytes.
        public static let chunkTooLarge = Code(.chunkTooLarge)
        /// The aws-chunked body does not follow the framing.
        public static let malformedChunk = Code(.malformedChunk)
        /// A chunk's (or the trailer's) signature does not follow from the placeholder chain.
        public static let chunkSignatureMismatch = Code(.chunkSignatureMismatch)
        /// The body ended before its final chunk (and trailer).
        public static let incompleteBody = Code(.incompleteBody)

        public var description: String {
            switch self.value {
            case .signatureMismatch: return "signatureMismatch"
            case .malformed: return "malformed"
            case .invalidCredentialJSON: return "invalidCredentialJSON"
            case .bodyHashRequired: return "bodyHashRequired"
            case .chunkTooLarge: return "chunkTooLarge"
            case .malformedChunk: return "malformedChunk"
            case .chunkSignatureMismatch: return "chunkSignatureMismatch"
            case .incompleteBody: return "incompleteBody"
            }
        }
    }

    public let code: Code
    /// What exactly is wrong, in words for people; never a secret value.
    public let reason: String?

    private init(code: Code, reason: String? = nil) {
        self.code = code
        self.reason = reason
    }

    /// The signature does not match the placeholder credentials.
    public static let signatureMismatch = SigV4Error(code: .signatureMismatch)
    /// The caller did not pass the body's hash although the signature covers the body.
    public static let bodyHashRequired = SigV4Error(code: .bodyHashRequired)
    /// A chunk declares more than ``SigV4ChunkResigner/maximumChunkSize`` bytes.
    public static let chunkTooLarge = SigV4Error(code: .chunkTooLarge)
    /// A chunk's or the trailer's signature does not match the placeholder chain.
    public static let chunkSignatureMismatch = SigV4Error(code: .chunkSignatureMismatch)
    /// The body ended before the final chunk (and trailer).
    public static let incompleteBody = SigV4Error(code: .incompleteBody)

    /// The request looks like SigV4 but cannot be parsed; `reason` must not contain secrets.
    public static func malformed(_ reason: String) -> SigV4Error {
        SigV4Error(code: .malformed, reason: reason)
    }

    /// The stored credential JSON is unusable; `reason` names the problem, never a value.
    public static func invalidCredentialJSON(_ reason: String) -> SigV4Error {
        SigV4Error(code: .invalidCredentialJSON, reason: reason)
    }

    /// The aws-chunked framing is broken; `reason` says where.
    public static func malformedChunk(_ reason: String) -> SigV4Error {
        SigV4Error(code: .malformedChunk, reason: reason)
    }

    /// The HTTP status the proxy answers with: 403 for signatures that do not match, 413 for a chunk that is too
    /// large, 500 for a bad stored credential or a caller bug, 400 for everything malformed.
    public var httpStatus: Int {
        switch self.code {
        case .signatureMismatch, .chunkSignatureMismatch: return 403
        case .chunkTooLarge: return 413
        case .invalidCredentialJSON, .bodyHashRequired: return 500
        default: return 400
        }
    }

    public var description: String {
        let words: String
        switch self.code {
        case .signatureMismatch: words = "the SigV4 signature does not match the session's placeholder credentials"
        case .malformed: words = "malformed SigV4 request"
        case .invalidCredentialJSON: words = "the stored AWS credential is not valid JSON keys"
        case .bodyHashRequired: words = "the body's SHA-256 is needed to check this SigV4 signature"
        case .chunkTooLarge: words = "an aws-chunked chunk exceeds \(SigV4ChunkResigner.maximumChunkSize) bytes"
        case .malformedChunk: words = "malformed aws-chunked body"
        case .chunkSignatureMismatch: words = "an aws-chunked chunk signature does not match the placeholder chain"
        default: words = "the aws-chunked body ended before its final chunk"
        }
        if let reason = self.reason {
            return "\(words): \(reason)"
        }
        return words
    }
}
