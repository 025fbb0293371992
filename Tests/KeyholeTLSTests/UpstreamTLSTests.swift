import Foundation
import NIOSSL
import Testing

@testable import KeyholeTLS

@Suite struct UpstreamTLSTests {
    @Test func configurationVerifiesFullyWithModernTLS() async throws {
        try await withTemporaryDirectory { root in
            let paths = makePaths(root: root)
            _ = try CertificateAuthority.loadOrCreate(paths: paths)
            let configuration = try UpstreamTLS.clientConfiguration(extraCAFiles: [paths.caCertificateFile])
            #expect(configuration.certificateVerification == .fullVerification)
            #expect(configuration.trustRoots == .default)
            #expect(configuration.minimumTLSVersion == .tlsv12)
            #expect(configuration.applicationProtocols == ["http/1.1"])
            #expect(configuration.additionalTrustRoots.count == 1)
            _ = try UpstreamTLS.makeClientContext(extraCAFiles: [paths.caCertificateFile])
        }
    }

    @Test func aMissingExtraCAFileIsNamed() async throws {
        try await withTemporaryDirectory { root in
            let missing = root + "/company-ca.pem"
            let error = try #require(throws: TLSError.self) {
                try UpstreamTLS.clientConfiguration(extraCAFiles: [missing])
            }
            #expect(error.code == .upstreamCAUnreadable)
            #expect(error.message.contains(missing))
            #expect(error.hint.contains("upstream_ca"))
        }
    }

    @Test(arguments: ["", "not a certificate\n", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
    func anInvalidExtraCAFileIsNamed(_ content: String) async throws {
        try await withTemporaryDirectory { root in
            let file = root + "/company-ca.pem"
            try writeFile(file, content)
            let error = try #require(throws: TLSError.self) {
                try UpstreamTLS.clientConfiguration(extraCAFiles: [file])
            }
            #expect(error.code == .upstreamCAInvalid)
            #expect(error.message.contains(file))
        }
    }
}
