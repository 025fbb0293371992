import Foundation
import Testing

@testable import KeyholeTLS

@Suite struct TrustBundleTests {
    @Test func bundleHoldsTheSystemRootsThenTheCA() async throws {
        try await withTemporaryDirectory { root in
            let paths = makePaths(root: root)
            let authority = try CertificateAuthority.loadOrCreate(paths: paths)
            let system = try #require(
                TrustBundle.systemBundleCandidates.first { FileManager.default.fileExists(atPath: $0) }
            )

            let used = try TrustBundle.write(caPEM: authority.certificatePEM, to: paths.trustBundleFile)
            #expect(used == system)
            let bundle = try readFile(paths.trustBundleFile)
            let systemRoots = try readFile(system)
            #expect(bundle.hasPrefix(systemRoots))
            #expect(bundle.hasSuffix(authority.certificatePEM))
            #expect(bundle.components(separatedBy: "BEGIN CERTIFICATE").count
                == systemRoots.components(separatedBy: "BEGIN CERTIFICATE").count + 1)
            #expect(try permissions(of: paths.trustBundleFile) == 0o644)

            // A leaf verifies against the bundle, and so does a certificate from the system roots.
            let leafFile = root + "/leaf.pem"
            try writeFile(leafFile, try authority.issueLeaf(for: "api.test").certificatePEM())
            let leafCheck = try runProcess(["openssl", "verify", "-CAfile", paths.trustBundleFile, leafFile])
            #expect(leafCheck.status == 0, "\(leafCheck.output)")
        }
    }

    @Test func writingIsIdempotentAndFollowsTheCA() async throws {
        try await withTemporaryDirectory { root in
            let paths = makePaths(root: root)
            let authority = try CertificateAuthority.loadOrCreate(paths: paths)
            try TrustBundle.write(caPEM: authority.certificatePEM, to: paths.trustBundleFile)
            let first = try inode(of: paths.trustBundleFile)
            try TrustBundle.write(caPEM: authority.certificatePEM, to: paths.trustBundleFile)
            #expect(try inode(of: paths.trustBundleFile) == first)

            let other = try CertificateAuthority.loadOrCreate(paths: makePaths(root: root + "/other"))
            try TrustBundle.write(caPEM: other.certificatePEM, to: paths.trustBundleFile)
            #expect(try inode(of: paths.trustBundleFile) != first)
            let bundle = try readFile(paths.trustBundleFile)
            #expect(bundle.hasSuffix(other.certificatePEM))
            #expect(!bundle.contains(authority.certificatePEM))
            #expect(try FileManager.default.contentsOfDirectory(atPath: paths.dataDirectory).filter {
                $0.hasSuffix(".tmp")
            }.isEmpty)
        }
    }

    @Test func withoutSystemRootsTheBundleHoldsExtrasAndTheCA() async throws {
        try await withTemporaryDirectory { root in
            let paths = makePaths(root: root)
            let authority = try CertificateAuthority.loadOrCreate(paths: paths)
            let extra = try CertificateAuthority.loadOrCreate(paths: makePaths(root: root + "/extra"))
            let extraFile = root + "/company-ca.pem"
            try writeFile(extraFile, extra.certificatePEM.trimmingCharacters(in: .newlines))  // no final newline

            let used = try TrustBundle.write(
                caPEM: authority.certificatePEM,
                to: paths.trustBundleFile,
                additionalPEMFiles: [extraFile],
                systemBundleCandidates: [root + "/nowhere.pem"]
            )
            #expect(used == nil)
            let bundle = try readFile(paths.trustBundleFile)
            #expect(bundle == extra.certificatePEM + "# keyhole local CA\n" + authority.certificatePEM)

            let error = try #require(throws: TLSError.self) {
                try TrustBundle.write(
                    caPEM: authority.certificatePEM,
                    to: paths.trustBundleFile,
                    additionalPEMFiles: [root + "/missing.pem"]
                )
            }
            #expect(error.code == .trustBundleFailed)
            #expect(error.message.contains(root + "/missing.pem"))
        }
    }
}
