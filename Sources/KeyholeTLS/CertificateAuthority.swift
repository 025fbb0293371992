import Crypto
import KeyholeCore
import NIOSSL
import SwiftASN1
import X509

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// keyhole's local certificate authority: a P-256 key and a self-signed CA certificate kept in the data
/// directory, which signs a short-lived leaf certificate for each host the proxy intercepts.
///
/// Load it with ``loadOrCreate(paths:)``, which creates the CA on first start and afterwards only loads it.
/// Issuing a leaf signs with the CA key and is CPU work: call ``issueLeaf(for:now:)`` off the event loop
/// (``LeafCertificateCache`` does).
public final class CertificateAuthority: Sendable {
    /// The CA certificate.
    public let certificate: Certificate
    /// The CA certificate in PEM, as written to `ca.pem`.
    public let certificatePEM: String
    /// SHA-256 of the CA certificate's DER, as colon-separated upper-case hex (like `openssl x509 -fingerprint`).
    public let fingerprintSHA256: String

    let signingKey: Certificate.PrivateKey
    let keyIdentifier: ArraySlice<UInt8>
    let nioCertificate: NIOSSLCertificate
    /// One key pair for every leaf this instance issues: minting then costs one signature, no key generation.
    /// It lives in memory only; a restart makes a new one.
    let leafKey: LeafKey

    struct LeafKey: Sendable {
        let publicKey: Certificate.PublicKey
        let keyIdentifier: ArraySlice<UInt8>
        let nioKey: NIOSSLPrivateKey
    }

    /// Wraps an existing CA certificate and its key. Throws when they do not match.
    init(certificate: Certificate, privateKey: P256.Signing.PrivateKey) throws {
        guard certificate.publicKey == Certificate.PublicKey(privateKey.publicKey) else {
            throw TLSError.caKeyMismatch(key: "the CA key", certificate: "the CA certificate")
        }
        self.certificate = certificate
        self.certificatePEM = try certificate.serializeAsPEM().pemString + "\n"
        let der = try Self.derBytes(of: certificate)
        self.fingerprintSHA256 = SHA256.hash(data: der).map { Self.hexByte($0) }.joined(separator: ":")
        self.signingKey = Certificate.PrivateKey(privateKey)
        self.keyIdentifier = Self.keyIdentifier(of: privateKey.publicKey)
        self.nioCertificate = try NIOSSLCertificate(bytes: der, format: .der)

        let leafPrivateKey = P256.Signing.PrivateKey()
        self.leafKey = LeafKey(
            publicKey: Certificate.PublicKey(leafPrivateKey.publicKey),
            keyIdentifier: Self.keyIdentifier(of: leafPrivateKey.publicKey),
            nioKey: try NIOSSLPrivateKey(bytes: Array(leafPrivateKey.pemRepresentation.utf8), format: .pem)
        )
    }

    /// A new self-signed CA certificate for `privateKey`: valid for 10 years from a day ago, `CA:true`
    /// with path length 0, key usage `keyCertSign cRLSign digitalSignature`, SKI and AKI.
    static func makeCertificate(
        privateKey: P256.Signing.PrivateKey,
        commonName: String,
        now: Date
    ) throws -> Certificate {
        let key = Certificate.PrivateKey(privateKey)
        let identifier = Self.keyIdentifier(of: privateKey.publicKey)
        let name = try DistinguishedName {
            OrganizationName("keyhole")
            CommonName(commonName)
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(keyIdentifier: identifier)
            AuthorityKeyIdentifier(keyIdentifier: identifier)
        }
        return try Certificate(
            version: .v3,
            serialNumber: Self.randomSerialNumber(),
            publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-86_400),
            notValidAfter: now.addingTimeInterval(10 * 365.25 * 86_400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: key
        )
    }

    /// "keyhole local CA (user@hostname)", cut to the 64 characters X.520 allows a common name.
    static func defaultCommonName(environment: [String: String] = ProcessEnvironment.current) -> String {
        let user = SystemIdentity.userName(environment: environment)
        let host = SystemIdentity.hostName()
        return String("keyhole local CA (\(user)@\(host))".prefix(64))
    }

    /// A positive serial number of 16 random bytes (128 bits, top bit clear, never with a leading zero byte).
    static func randomSerialNumber() -> Certificate.SerialNumber {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[0] = (bytes[0] & 0x7F) | 0x40
        return Certificate.SerialNumber(bytes: bytes)
    }

    /// The key identifier of RFC 5280 section 4.2.1.2 method 1: SHA-1 of the public key's bit string,
    /// so it equals the one OpenSSL computes.
    static func keyIdentifier(of publicKey: P256.Signing.PublicKey) -> ArraySlice<UInt8> {
        ArraySlice(Insecure.SHA1.hash(data: publicKey.x963Representation))
    }

    static func derBytes(of certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}
