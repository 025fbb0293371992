/// Errors about keyhole's certificate authority, leaf certificates, trust bundle and upstream trust.
///
/// Two errors are equal when their codes are; `message` says which file or host, `hint` what to do.
public struct TLSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, comparable without the details.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: Hashable, Sendable {
            case caIncomplete
            case caFileUnreadable
            case caKeyInsecure
            case caKeyCorrupt
            case caCertificateCorrupt
            case caKeyMismatch
            case caExpired
            case caWriteFailed
            case invalidHost
            case issueFailed
            case trustBundleFailed
            case upstreamCAUnreadable
            case upstreamCAInvalid
        }

        private let backing: Backing

        private init(_ backing: Backing) {
            self.backing = backing
        }

        /// One of the CA's two files (key, certificate) exists without the other.
        public static let caIncomplete = Code(.caIncomplete)
        /// A CA file exists but cannot be read.
        public static let caFileUnreadable = Code(.caFileUnreadable)
        /// The CA key file is readable by other users or owned by someone else.
        public static let caKeyInsecure = Code(.caKeyInsecure)
        /// The CA key file is not a P-256 private key in PEM.
        public static let caKeyCorrupt = Code(.caKeyCorrupt)
        /// The CA certificate file is not a CA certificate in PEM.
        public static let caCertificateCorrupt = Code(.caCertificateCorrupt)
        /// The CA key does not belong to the CA certificate.
        public static let caKeyMismatch = Code(.caKeyMismatch)
        /// The CA certificate has expired (or is not valid yet).
        public static let caExpired = Code(.caExpired)
        /// Creating the CA's files failed.
        public static let caWriteFailed = Code(.caWriteFailed)
        /// The host is neither a DNS name nor an IP address literal.
        public static let invalidHost = Code(.invalidHost)
        /// Building or signing a leaf certificate, or its TLS context, failed.
        public static let issueFailed = Code(.issueFailed)
        /// Writing the trust bundle failed.
        public static let trustBundleFailed = Code(.trustBundleFailed)
        /// An extra upstream CA file cannot be read.
        public static let upstreamCAUnreadable = Code(.upstreamCAUnreadable)
        /// An extra upstream CA file holds no usable PEM certificate.
        public static let upstreamCAInvalid = Code(.upstreamCAInvalid)

        public var description: String {
            switch self.backing {
            case .caIncomplete: return "CA incomplete"
            case .caFileUnreadable: return "CA file unreadable"
            case .caKeyInsecure: return "CA key file insecure"
            case .caKeyCorrupt: return "CA key corrupt"
            case .caCertificateCorrupt: return "CA certificate corrupt"
            case .caKeyMismatch: return "CA key mismatch"
            case .caExpired: return "CA expired"
            case .caWriteFailed: return "CA creation failed"
            case .invalidHost: return "invalid host"
            case .issueFailed: return "certificate issue failed"
            case .trustBundleFailed: return "trust bundle failed"
            case .upstreamCAUnreadable: return "upstream CA unreadable"
            case .upstreamCAInvalid: return "upstream CA invalid"
            }
        }
    }

    /// What went wrong; the only part used for equality.
    public let code: Code
    /// What went wrong, in words, naming the file or host involved.
    public let message: String
    /// What the user can do about it.
    public let hint: String

    init(_ code: Code, _ message: String, hint: String) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    public var description: String {
        "\(self.message) (hint: \(self.hint))"
    }

    public static func == (lhs: TLSError, rhs: TLSError) -> Bool {
        lhs.code == rhs.code
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
    }
}
