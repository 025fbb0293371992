import NIOSSL
import X509

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A certificate the keyhole CA issued for one host, with what a TLS server needs to present it.
public struct LeafCertificate: Sendable {
    /// The host the certificate names (its subject alternative name and common name).
    public let host: CertificateHost
    /// The leaf certificate itself.
    public let certificate: Certificate
    /// The chain to send in the handshake: the leaf, then the keyhole CA.
    public let certificateChain: [NIOSSLCertificate]
    /// The leaf's private key (memory only).
    public let privateKey: NIOSSLPrivateKey

    /// When the certificate stops being valid.
    public var notValidAfter: Date { self.certificate.notValidAfter }

    /// The leaf certificate in PEM.
    public func certificatePEM() throws -> String {
        try self.certificate.serializeAsPEM().pemString + "\n"
    }

    /// The configuration of a TLS server presenting this certificate: TLS 1.2 or newer, ALPN `http/1.1`,
    /// no client certificates.
    public func makeServerConfiguration() -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: self.certificateChain.map { .certificate($0) },
            privateKey: .privateKey(self.privateKey)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        return configuration
    }
}
