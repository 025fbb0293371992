import Crypto
import KeyholeCore
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension CertificateAuthority {
    /// Loads the CA from `paths.caKeyFile` and `paths.caCertificateFile`, or creates it when neither exists.
    ///
    /// Creating writes the key as PKCS#8 PEM with mode 0600 (from the moment the file exists) and the
    /// certificate with mode 0644, each atomically, in the data directory (created 0700). Loading never
    /// replaces anything: a missing half, a corrupt file, a key that does not match the certificate, a key
    /// readable by others or an expired CA each throw a ``TLSError`` with a hint. Blocking file I/O: call
    /// it at start-up, not on an event loop.
    public static func loadOrCreate(paths: Paths, now: Date = Date()) throws -> CertificateAuthority {
        let keyPath = paths.caKeyFile
        let certificatePath = paths.caCertificateFile
        try Self.prepareDataDirectory(paths.dataDirectory, for: keyPath)

        let keyExists = FileSystem.exists(keyPath)
        if keyExists { try Self.checkKeyPermissions(keyPath) }
        let keyBytes = try Self.readCAFile(keyPath)
        let certificateBytes = try Self.readCAFile(certificatePath)

        switch (keyBytes, certificateBytes) {
        case (nil, nil):
            return try Self.create(keyPath: keyPath, certificatePath: certificatePath, now: now)
        case (.some, nil):
            throw TLSError.caIncomplete(present: keyPath, missing: certificatePath)
        case (nil, .some):
            throw TLSError.caIncomplete(present: certificatePath, missing: keyPath)
        case (.some(let keyBytes), .some(let certificateBytes)):
            return try Self.load(
                keyPEM: String(decoding: keyBytes, as: UTF8.self),
                keyPath: keyPath,
                certificatePEM: String(decoding: certificateBytes, as: UTF8.self),
                certificatePath: certificatePath,
                now: now
            )
        }
    }

    private static func create(keyPath: String, certificatePath: String, now: Date) throws -> CertificateAuthority {
        let privateKey = P256.Signing.PrivateKey()
        let certificate = try Self.makeCertificate(
            privateKey: privateKey,
            commonName: Self.defaultCommonName(),
            now: now
        )
        let authority = try CertificateAuthority(certificate: certificate, privateKey: privateKey)

        do {
            try FileSystem.writeAtomically(
                Array((privateKey.pemRepresentation + "\n").utf8),
                to: keyPath,
                mode: 0o600,
                replacing: false
            )
        } catch {
            throw TLSError.caWriteFailed(path: keyPath, reason: error.reason(about: keyPath))
        }
        do {
            try FileSystem.writeAtomically(
                Array(authority.certificatePEM.utf8),
                to: certificatePath,
                mode: 0o644,
                replacing: false
            )
        } catch {
            // The key was created a moment ago by this call and never used: remove it rather than leave a
            // half CA that the next start refuses.
            FileSystem.remove(keyPath)
            throw TLSError.caWriteFailed(path: certificatePath, reason: error.reason(about: certificatePath))
        }
        return authority
    }

    private static func load(
        keyPEM: String,
        keyPath: String,
        certificatePEM: String,
        certificatePath: String,
        now: Date
    ) throws -> CertificateAuthority {
        let privateKey: P256.Signing.PrivateKey
        do {
            privateKey = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
        } catch {
            throw TLSError.caKeyCorrupt(path: keyPath)
        }
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: certificatePEM)
        } catch {
            throw TLSError.caCertificateCorrupt(path: certificatePath, reason: "not a PEM certificate")
        }
        guard case .isCertificateAuthority = try? certificate.extensions.basicConstraints else {
            throw TLSError.caCertificateCorrupt(path: certificatePath, reason: "not a CA certificate")
        }
        guard certificate.publicKey == Certificate.PublicKey(privateKey.publicKey) else {
            throw TLSError.caKeyMismatch(key: keyPath, certificate: certificatePath)
        }
        guard certificate.notValidBefore <= now, now < certificate.notValidAfter else {
            throw TLSError.caExpired(path: certificatePath)
        }
        do {
            return try CertificateAuthority(certificate: certificate, privateKey: privateKey)
        } catch let error as TLSError {
            throw error
        } catch {
            throw TLSError.caCertificateCorrupt(path: certificatePath, reason: "\(error)")
        }
    }

    /// Creates the data directory 0700; tightens it to 0700 when it exists, is ours and is wider.
    private static func prepareDataDirectory(_ directory: String, for keyPath: String) throws {
        do {
            try FileSystem.makePrivateDirectory(directory)
        } catch {
            throw TLSError.caWriteFailed(path: directory, reason: error.reason(about: directory))
        }
    }

    private static func checkKeyPermissions(_ keyPath: String) throws {
        let owner: uid_t
        let mode: mode_t
        do {
            (owner, mode) = try FileSystem.ownerAndMode(keyPath)
        } catch {
            throw TLSError.caFileUnreadable(path: keyPath, reason: error.reason(about: keyPath))
        }
        guard owner == getuid(), mode & 0o077 == 0 else {
            throw TLSError.caKeyInsecure(path: keyPath)
        }
    }

    private static func readCAFile(_ path: String) throws -> [UInt8]? {
        do {
            return try FileSystem.contents(of: path)
        } catch {
            throw TLSError.caFileUnreadable(path: path, reason: error.reason(about: path))
        }
    }
}
