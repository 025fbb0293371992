import Foundation
import Testing
import X509

@testable import KeyholeTLS

@Suite struct CertificateAuthorityTests {
    @Test func firstStartCreatesKeyAndCertificateWithPrivateModes() async throws {
        try await withTemporaryDirectory { root in
            let paths = makePaths(root: root)
            let authority = try CertificateAuthority.loadOrCreate(paths: paths)

            #expect(try permissions(of: paths.dataDirectory) == 0o700)
            #expect(try permissions(of: paths.caKeyFile) == 0o600)
            #expect(try permissions(of: paths.caCertificateFile) == 0o644)
            #expect(try readFile(paths.caKeyFile).hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
            #expect(try readFile(paths.caCertificateFile) == authority.certificatePEM)
            // No temporary files left behind.
            #expect(try FileManager.default.contentsOfDirectory(atPath: paths.dataDirectory).sorted()
                == ["ca-key.pem", "ca.pem"])

            let certificate = authority.certificate
            #expect(certificate.subject.description.contains("CN=keyhole local CA ("))
            #expect(certificate.subject.description.contains("O=keyhole"))
            #expect(certificate.subject == certificate.issuer)
            #expect(try certificate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
            #expect(certificate.extensions[oid: .X509ExtensionID.basicConstraints]?.critical == true)
            let usage = try #require(try certificate.extensions.keyUsage)
            #expect(usage.keyCertSign && usage.cRLSign && usage.digitalSignature)
            #expect(certificate.extensions[oid: .X509ExtensionID.keyUsage]?.critical == true)
            #expect(try certificate.extensions.subjectKeyIdentifier != nil)
            let lifetime = certificate.notValidAfter.timeIntervalSince(certificate.notValidBefore)
            #expect(lifetime > 10 * 365 * 86_400)
            #expect(certificate.notValidBefore < Date().addingTimeInterval(-23 * 3_600))
            #expect(authority.fingerprintSHA256.count == 32 * 3 - 1)

            // OpenSSL agrees on the fingerprint, reads the key, and accepts the CA under strict rules.
            let fingerprint = try runProcess([
                "openssl", "x509", "-in", paths.caCertificateFile, "-noout", "-fingerprint", "-sha256",
            ])
            #expect(fingerprint.output.contains(authority.fingerprintSHA256))
            let key = try runProcess(["openssl", "pkey", "-in", paths.caKeyFile, "-noout"])
            #expect(key.status == 0)
            let selfCheck = try runProcess([
                "openssl", "verify", "-x509_strict", "-CAfile", paths.caCertificateFile, paths.caCertificateFile,
            ])
            #expect(selfCheck.status == 0, "\(selfCheck.output)")
        }
    }

    @Test func laterStartsLoadTheSameCA() async throws {
        try await withTemporaryDirectory { root in
            let paths = makePaths(root: root)
            let first = try CertificateAuthority.loadOrCreate(paths: paths)
            let keyInode = try inode(of: paths.caKeyFile)
            let second = try CertificateAuthority.loadOrCreate(paths: paths)
            #expect(second.fingerprintSHA256 == first.fingerprintSHA256)
            #expect(second.certificate == first.certificate)
            #expect(try inode(of: paths.caKeyFile) == keyInode)
            // A leaf from the reloaded CA chains to the original certificate.
            let leaf = try second.issueLeaf(for: "api.test")
            #expect(leaf.certificate.issuer == first.certificate.subject)
        }
    }

    @Test func aKeyOfAnotherCAIsRefusedAndNothingIsReplaced() async throws {
        try await withTemporaryDirectory { root in
            let paths = makePaths(root: root + "/a")
            let other = makePaths(root: root + "/b")
            _ = try CertificateAuthority.loadOrCreate(paths: paths)
            _ = try CertificateAuthority.loadOrCreate(paths: other)
            let otherKey = try readFile(other.caKeyFile)
            try FileManager.default.removeItem(atPath: paths.caKeyFile)
            try writeFile(paths.caKeyFile, otherKey)
            chmod(paths.caKeyFile, 0o600)
            let certificateBefore = try readFile(paths.caCertificateFile)

            let error = try #require(throws: TLSError.self) { try CertificateAuthority.loadOrCreate(paths: paths) }
            #expect(error.code == .caKeyMismatch)
            #expect(error.message.contains(paths.caKeyFile))
            #expect(!error.hint.isEmpty)
            #expect(try readFile(paths.caKeyFile) == otherKey)
            #expect(try readFile(paths.caCertificateFile) == certificateBefore)
        }
    }

    @Test func aMissingHalfIsRefusedNeverRegenerated() async throws {
        try await withTemporaryDirectory { root in
            let paths = makePaths(root: root)
            _ = try CertificateAuthority.loadOrCreate(paths: paths)
            let key = try readFile(paths.caKeyFile)
            try FileManager.default.removeItem(atPath: paths.caCertificateFile)

            let error = try #require(throws: TLSError.self) { try CertificateAuthority.loadOrCreate(paths: paths) }
            #expect(error.code == .caIncomplete)
            #expect(error.message.contains(paths.caCertificateFile))
            #expect(try readFile(paths.caKeyFile) == key)
            #expect(!FileManager.default.fileExists(atPath: paths.caCertificateFile))
        }
        try await withTemporaryDirectory { root in
            let paths = makePaths(root: root)
            _ = try CertificateAuthority.loadOrCreate(paths: paths)
            try FileManager.default.removeItem(atPath: paths.caKeyFile)
            let error = try #require(throws: TLSError.self) { try CertificateAuthority.loadOrCreate(paths: paths) }
            #expect(error.code == .caIncomplete)
            #expect(!FileManager.default.fileExists(atPath: paths.caKeyFile))
        }
    }

    @Test func corruptFilesAreRefused() async throws {
        try await withTemporaryDirectory { root in
            let paths = makePaths(root: root)
            _ = try CertificateAuthority.loadOrCreate(paths: paths)
            let key = try readFile(paths.caKeyFile)
            try writeFile(paths.caKeyFile, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
            var error = try #require(throws: TLSError.self) { try CertificateAuthority.loadOrCreate(paths: paths) }
            #expect(error.code == .caKeyCorrupt)

            try writeFile(paths.caKeyFile, key)
            try writeFile(paths.caCertificateFile, "garbage\n")
            error = try #require(throws: TLSError.self) { try CertificateAuthority.loadOrCreate(paths: paths) }
            #expect(error.code == .caCertificateCorrupt)
            #expect(error.message.contains(paths.caCertificateFile))
        }
    }

    @Test func aKeyReadableByOthersIsRefused() async throws {
        try await withTemporaryDirectory { root in
            let paths = makePaths(root: root)
            _ = try CertificateAuthority.loadOrCreate(paths: paths)
            chmod(paths.caKeyFile, 0o644)
            let error = try #require(throws: TLSError.self) { try CertificateAuthority.loadOrCreate(paths: paths) }
            #expect(error.code == .caKeyInsecure)
            #expect(error.hint.contains("chmod 600"))
        }
    }

    @Test func anExpiredCAIsRefused() async throws {
        try await withTemporaryDirectory { root in
            let paths = makePaths(root: root)
            _ = try CertificateAuthority.loadOrCreate(paths: paths)
            let later = Date().addingTimeInterval(11 * 365 * 86_400)
            let error = try #require(throws: TLSError.self) {
                try CertificateAuthority.loadOrCreate(paths: paths, now: later)
            }
            #expect(error.code == .caExpired)
        }
    }

    @Test func anExistingWideDataDirectoryIsTightened() async throws {
        try await withTemporaryDirectory { root in
            let paths = makePaths(root: root)
            try FileManager.default.createDirectory(
                atPath: paths.dataDirectory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o755]
            )
            _ = try CertificateAuthority.loadOrCreate(paths: paths)
            #expect(try permissions(of: paths.dataDirectory) == 0o700)
        }
    }
}
