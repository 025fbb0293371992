import Crypto
import Foundation

/// A PKCS#12 (RFC 7292) file of trusted certificates, as Java's `PKCS12` keystore reads it for
/// `javax.net.ssl.trustStore`: one unencrypted certificate bag per certificate, each with a friendly name (the
/// alias) and Java's trusted-key-usage attribute (without it the JDK ignores a certificate that has no key), and a
/// SHA-1 MAC under a password. It holds public certificates only: the password protects nothing and is not a
/// secret. The encoding is deterministic (the MAC salt comes from the content), so an unchanged input gives the
/// same bytes and the file is rewritten only when the certificates change.
public enum PKCS12TrustStore {
    public struct Entry: Sendable, Equatable {
        public var alias: String
        /// The certificate in DER.
        public var der: [UInt8]

        public init(alias: String, der: [UInt8]) {
            self.alias = alias
            self.der = der
        }
    }

    static let dataOID = "1.2.840.113549.1.7.1"
    static let certBagOID = "1.2.840.113549.1.12.10.1.3"
    static let x509CertificateOID = "1.2.840.113549.1.9.22.1"
    static let friendlyNameOID = "1.2.840.113549.1.9.20"
    /// Oracle's "trusted key usage" attribute: the JDK loads a certificate bag carrying it as a trusted entry.
    static let javaTrustedKeyUsageOID = "2.16.840.1.113894.746875.1.1"
    static let anyExtendedKeyUsageOID = "2.5.29.37.0"
    static let sha1OID = "1.3.14.3.2.26"
    static let macIterations = 2048

    /// The PKCS#12 file holding `entries` (aliases should be unique; the JDK compares them case-insensitively).
    public static func encode(_ entries: [Entry], password: String) -> [UInt8] {
        let bags = entries.map { entry in
            let certBag = DERWriter.sequence([
                DERWriter.objectIdentifier(self.x509CertificateOID),
                DERWriter.explicit(0, DERWriter.octetString(entry.der)),
            ])
            let attributes = DERWriter.set([
                DERWriter.sequence([
                    DERWriter.objectIdentifier(self.friendlyNameOID),
                    DERWriter.set([DERWriter.bmpString(entry.alias)]),
                ]),
                DERWriter.sequence([
                    DERWriter.objectIdentifier(self.javaTrustedKeyUsageOID),
                    DERWriter.set([DERWriter.objectIdentifier(self.anyExtendedKeyUsageOID)]),
                ]),
            ])
            return DERWriter.sequence([
                DERWriter.objectIdentifier(self.certBagOID), DERWriter.explicit(0, certBag), attributes,
            ])
        }
        let safeContents = DERWriter.sequence(bags)
        let authenticatedSafe = DERWriter.sequence([self.dataContentInfo(safeContents)])
        let salt = Array(SHA256.hash(data: authenticatedSafe).prefix(20))
        let key = self.deriveMACKey(password: password, salt: salt, iterations: self.macIterations)
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: authenticatedSafe, using: SymmetricKey(data: key))
        let macData = DERWriter.sequence([
            DERWriter.sequence([
                DERWriter.sequence([DERWriter.objectIdentifier(self.sha1OID), DERWriter.null]),
                DERWriter.octetString(Array(mac)),
            ]),
            DERWriter.octetString(salt),
            DERWriter.integer(self.macIterations),
        ])
        return DERWriter.sequence([DERWriter.integer(3), self.dataContentInfo(authenticatedSafe), macData])
    }

    /// The certificates of a PEM bundle in DER, in order, duplicates dropped (blocks other than `CERTIFICATE`
    /// and blocks that are not valid base64 are skipped).
    public static func certificates(fromPEM text: String) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var seen = Set<[UInt8]>()
        var body: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line == "-----BEGIN CERTIFICATE-----" {
                body = ""
            } else if line == "-----END CERTIFICATE-----" {
                if let base64 = body, let data = Data(base64Encoded: base64), !data.isEmpty {
                    let der = Array(data)
                    if seen.insert(der).inserted { result.append(der) }
                }
                body = nil
            } else if body != nil {
                body! += line
            }
        }
        return result
    }

    private static func dataContentInfo(_ content: [UInt8]) -> [UInt8] {
        DERWriter.sequence([
            DERWriter.objectIdentifier(self.dataOID), DERWriter.explicit(0, DERWriter.octetString(content)),
        ])
    }

    /// RFC 7292 appendix B.2 with SHA-1 (u = 20, v = 64) and ID 3 (MAC key), 20 bytes: one block suffices.
    public static func deriveMACKey(password: String, salt: [UInt8], iterations: Int) -> [UInt8] {
        let v = 64
        // BMPString with a two-byte terminator.
        let passwordBytes: [UInt8] = password.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } + [0, 0]
        func stretch(_ bytes: [UInt8]) -> [UInt8] {
            guard !bytes.isEmpty else { return [] }
            let length = v * ((bytes.count + v - 1) / v)
            return (0..<length).map { bytes[$0 % bytes.count] }
        }
        let input = [UInt8](repeating: 3, count: v) + stretch(salt) + stretch(passwordBytes)
        var digest = Array(Insecure.SHA1.hash(data: input))
        for _ in 1..<max(iterations, 1) {
            digest = Array(Insecure.SHA1.hash(data: digest))
        }
        return digest
    }
}
