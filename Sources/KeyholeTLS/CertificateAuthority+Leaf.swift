import NIOSSL
import SwiftASN1
import X509

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension CertificateAuthority {
    /// How long a leaf is valid. Short on purpose; ``LeafCertificateCache`` mints a new one before it ends.
    public static let leafLifetime: TimeInterval = 30 * 86_400

    /// Issues a certificate for `host` (a DNS name or an IPv4/IPv6 literal): SAN and CN name the host,
    /// valid from an hour ago for ``leafLifetime`` (never past the CA), a random 128-bit serial,
    /// `CA:false`, key usage `digitalSignature`, extended key usage `serverAuth`, SKI and AKI, signed
    /// ECDSA-SHA256 by the CA.
    ///
    /// CPU work (one ECDSA signature plus encoding): call it off the event loop.
    public func issueLeaf(for host: String, now: Date = Date()) throws -> LeafCertificate {
        let target = try CertificateHost(host)
        do {
            let certificate = try self.makeLeafCertificate(for: target, now: now)
            let leaf = try NIOSSLCertificate(bytes: Self.derBytes(of: certificate), format: .der)
            return LeafCertificate(
                host: target,
                certificate: certificate,
                certificateChain: [leaf, self.nioCertificate],
                privateKey: self.leafKey.nioKey
            )
        } catch let error as TLSError {
            throw error
        } catch {
            throw TLSError.issueFailed(host: target.normalized, reason: "\(error)")
        }
    }

    private func makeLeafCertificate(for host: CertificateHost, now: Date) throws -> Certificate {
        let alternativeName: GeneralName
        switch host.kind {
        case .dnsName(let name):
            alternativeName = .dnsName(name)
        case .ipv4Address(let bytes), .ipv6Address(let bytes):
            alternativeName = .ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes)))
        }
        // X.520 bounds a common name at 64 characters; the SAN is what clients check, so a longer DNS
        // name simply goes without a CN (the organization keeps the subject non-empty).
        let commonName = host.normalized.utf8.count <= 64 ? host.normalized : nil
        let subject = try DistinguishedName {
            OrganizationName("keyhole")
            if let commonName {
                CommonName(commonName)
            }
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames([alternativeName])
            SubjectKeyIdentifier(keyIdentifier: self.leafKey.keyIdentifier)
            AuthorityKeyIdentifier(keyIdentifier: self.keyIdentifier)
        }
        let notValidAfter = min(now.addingTimeInterval(Self.leafLifetime), self.certificate.notValidAfter)
        return try Certificate(
            version: .v3,
            serialNumber: Self.randomSerialNumber(),
            publicKey: self.leafKey.publicKey,
            notValidBefore: now.addingTimeInterval(-3_600),
            notValidAfter: notValidAfter,
            issuer: self.certificate.subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: self.signingKey
        )
    }
}
