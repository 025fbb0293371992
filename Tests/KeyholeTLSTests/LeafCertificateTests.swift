import Foundation
import SwiftASN1
import Testing
import X509

@testable import KeyholeTLS

@Suite struct LeafCertificateTests {
    /// A host, the name to verify it as, and whether that is an IP address.
    struct Case: Sendable, CustomTestStringConvertible {
        var host: String
        var isIP: Bool
        var other: String
        var testDescription: String { self.host }
    }

    static let cases = [
        Case(host: "api.test", isIP: false, other: "other.test"),
        Case(host: "127.0.0.1", isIP: true, other: "127.0.0.2"),
        Case(host: "::1", isIP: true, other: "::2"),
    ]

    private func verify(
        _ leaf: Certificate,
        against authority: CertificateAuthority,
        host: String,
        isIP: Bool
    ) async -> Bool {
        var verifier = Verifier(rootCertificates: CertificateStore([authority.certificate])) {
            RFC5280Policy()
            ServerIdentityPolicy(serverHostname: isIP ? nil : host, serverIP: isIP ? host : nil)
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore())
        if case .validCertificate(let chain) = result {
            return chain.count == 2 && chain.last == authority.certificate
        }
        return false
    }

    @Test(arguments: Self.cases)
    func leafVerifiesForItsHostOnly(_ testCase: Case) async throws {
        try await withTemporaryDirectory { root in
            let authority = try CertificateAuthority.loadOrCreate(paths: makePaths(root: root))
            let leaf = try authority.issueLeaf(for: testCase.host)
            #expect(await self.verify(leaf.certificate, against: authority, host: testCase.host, isIP: testCase.isIP))
            #expect(
                !(await self.verify(leaf.certificate, against: authority, host: testCase.other, isIP: testCase.isIP))
            )

            // A different CA does not vouch for it.
            let stranger = try CertificateAuthority.loadOrCreate(paths: makePaths(root: root + "/stranger"))
            #expect(!(await self.verify(leaf.certificate, against: stranger, host: testCase.host, isIP: testCase.isIP)))
        }
    }

    @Test(arguments: Self.cases)
    func opensslVerifyAcceptsTheLeafStrictly(_ testCase: Case) async throws {
        try await withTemporaryDirectory { root in
            let paths = makePaths(root: root)
            let authority = try CertificateAuthority.loadOrCreate(paths: paths)
            let leaf = try authority.issueLeaf(for: testCase.host)
            let leafFile = root + "/leaf.pem"
            try writeFile(leafFile, try leaf.certificatePEM())
            let check = testCase.isIP ? "-verify_ip" : "-verify_hostname"
            let base = [
                "openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", paths.caCertificateFile,
            ]

            let accepted = try runProcess(base + [check, testCase.host, leafFile])
            #expect(accepted.status == 0, "\(accepted.output)")
            #expect(accepted.output.contains("\(leafFile): OK"))

            let refused = try runProcess(base + [check, testCase.other, leafFile])
            #expect(refused.status != 0, "\(refused.output)")
        }
    }

    @Test func leafHasTheExtensionsStrictClientsRequire() async throws {
        try await withTemporaryDirectory { root in
            let authority = try CertificateAuthority.loadOrCreate(paths: makePaths(root: root))
            let now = Date()
            let leaf = try authority.issueLeaf(for: "API.Example.COM.", now: now)
            let certificate = leaf.certificate
            let extensions = certificate.extensions

            #expect(try extensions.basicConstraints == .notCertificateAuthority)
            let usage = try #require(try extensions.keyUsage)
            #expect(usage.digitalSignature && !usage.keyCertSign)
            #expect(extensions[oid: .X509ExtensionID.keyUsage]?.critical == true)
            #expect(try extensions.extendedKeyUsage?.contains(.serverAuth) == true)
            #expect(try extensions.subjectAlternativeNames == SubjectAlternativeNames([.dnsName("api.example.com")]))
            let authorityKeyIdentifier = try #require(try extensions.authorityKeyIdentifier?.keyIdentifier)
            let caKeyIdentifier = try #require(try authority.certificate.extensions.subjectKeyIdentifier)
            #expect(authorityKeyIdentifier == caKeyIdentifier.keyIdentifier)
            #expect(try extensions.subjectKeyIdentifier != nil)
            #expect(certificate.subject.description.contains("CN=api.example.com"))
            #expect(certificate.issuer == authority.certificate.subject)
            #expect(certificate.signatureAlgorithm == .ecdsaWithSHA256)

            #expect(abs(certificate.notValidBefore.timeIntervalSince(now) + 3_600) < 2)
            #expect(abs(certificate.notValidAfter.timeIntervalSince(now) - 30 * 86_400) < 2)
            #expect(leaf.notValidAfter == certificate.notValidAfter)

            let serial = certificate.serialNumber.bytes
            #expect(serial.count >= 16 && serial.count <= 20)
            #expect(serial.first! & 0x80 == 0)
            #expect(serial.first! != 0)
            let again = try authority.issueLeaf(for: "api.example.com")
            #expect(again.certificate.serialNumber != certificate.serialNumber)

            #expect(leaf.certificateChain.count == 2)
            let caDER = try CertificateAuthority.derBytes(of: authority.certificate)
            #expect(try leaf.certificateChain[1].toDERBytes() == caDER)
        }
    }

    @Test func ipLeafsCarryAnAddressAlternativeName() async throws {
        try await withTemporaryDirectory { root in
            let authority = try CertificateAuthority.loadOrCreate(paths: makePaths(root: root))
            let v4 = try authority.issueLeaf(for: "127.0.0.1")
            #expect(
                try v4.certificate.extensions.subjectAlternativeNames
                    == SubjectAlternativeNames([.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
            )
            let v6 = try authority.issueLeaf(for: "[::1]")
            #expect(v6.host.normalized == "::1")
            #expect(
                try v6.certificate.extensions.subjectAlternativeNames
                    == SubjectAlternativeNames([
                        .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1])))
                    ])
            )
        }
    }

    @Test func aLongHostGoesWithoutCommonName() async throws {
        try await withTemporaryDirectory { root in
            let authority = try CertificateAuthority.loadOrCreate(paths: makePaths(root: root))
            let host = String(repeating: "a", count: 60) + ".example.com"
            let leaf = try authority.issueLeaf(for: host)
            #expect(!leaf.certificate.subject.description.contains("CN="))
            let names = try leaf.certificate.extensions.subjectAlternativeNames
            #expect(names == SubjectAlternativeNames([.dnsName(host)]))
            #expect(await self.verify(leaf.certificate, against: authority, host: host, isIP: false))
        }
    }

    @Test(arguments: [
        "", "*.example.com", "a b.example.com", "host:443", "fe80::1%eth0", "-x.example.com", "a..b",
        "ex\u{e4}mple.com",
    ])
    func hostsThatAreNotNamesOrAddressesAreRefused(_ host: String) async throws {
        try await withTemporaryDirectory { root in
            let authority = try CertificateAuthority.loadOrCreate(paths: makePaths(root: root))
            let error = try #require(throws: TLSError.self) { try authority.issueLeaf(for: host) }
            #expect(error.code == .invalidHost)
        }
    }

    @Test func hostsAreNormalized() throws {
        #expect(try CertificateHost("API.Example.com.").normalized == "api.example.com")
        #expect(try CertificateHost("[0:0::1]").normalized == "::1")
        #expect(try CertificateHost("10.1.2.3").kind == .ipv4Address([10, 1, 2, 3]))
        #expect(try CertificateHost("_dmarc.example.com").kind == .dnsName("_dmarc.example.com"))
        #expect(try CertificateHost("localhost").isIPAddress == false)
    }
}
