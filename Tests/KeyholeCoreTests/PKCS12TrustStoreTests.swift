import Foundation
import KeyholeCore
import Testing

@Suite struct PKCS12TrustStoreTests {
    static let systemBundle = "/etc/ssl/certs/ca-certificates.crt"

    @Test func readsEveryCertificateOfABundleOnce() throws {
        let first = "-----BEGIN CERTIFICATE-----\nAQID\nBAU=\n-----END CERTIFICATE-----\n"
        let text = "# a comment\n" + first + "-----BEGIN PRIVATE KEY-----\nBgc=\n-----END PRIVATE KEY-----\n"
            + "  -----BEGIN CERTIFICATE-----\r\nCAk=\r\n-----END CERTIFICATE-----\r\n" + first
            + "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"
        #expect(PKCS12TrustStore.certificates(fromPEM: text) == [[1, 2, 3, 4, 5], [8, 9]])
    }

    /// Known answers from OpenSSL: `openssl kdf -keylen 20 -kdfopt digest:SHA1 -kdfopt hexpass:<BMPString + 0000>
    /// -kdfopt hexsalt:… -kdfopt iter:… -kdfopt id:3 PKCS12KDF`.
    @Test func derivesTheMACKeyAsOpenSSLDoes() {
        let queeg = PKCS12TrustStore.deriveMACKey(
            password: "queeg", salt: [0x3D, 0x83, 0xC0, 0xE4, 0x54, 0x6A, 0xC1, 0x40], iterations: 1000
        )
        #expect(self.hex(queeg) == "17b9e78ea534fc2b6a35512d03799d9ea3c461c0")
        let changeit = PKCS12TrustStore.deriveMACKey(
            password: "changeit", salt: [1, 2, 3, 4, 5, 6, 7, 8], iterations: 2048
        )
        #expect(self.hex(changeit) == "9c8bcdd24686980aa78fd6ca1430f7d638097da1")
    }

    @Test func encodingIsDeterministicAndChangesWithItsInput() {
        let entries = [PKCS12TrustStore.Entry(alias: "a", der: [0x30, 0x00])]
        let one = PKCS12TrustStore.encode(entries, password: "changeit")
        #expect(one == PKCS12TrustStore.encode(entries, password: "changeit"))
        #expect(one != PKCS12TrustStore.encode(entries, password: "other"))
        #expect(one != PKCS12TrustStore.encode(entries + [.init(alias: "b", der: [0x30, 0x00])], password: "changeit"))
        #expect(Array(one.prefix(1)) == [0x30])
    }

    /// OpenSSL reads the store, checks its MAC with the password and finds every certificate.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: Self.systemBundle) && Self.opensslPath != nil))
    func opensslVerifiesTheMACAndReadsTheCertificates() throws {
        let text = try String(contentsOfFile: Self.systemBundle, encoding: .utf8)
        let certificates = Array(PKCS12TrustStore.certificates(fromPEM: text).prefix(5))
        #expect(certificates.count == 5)
        let entries = certificates.enumerated().map {
            PKCS12TrustStore.Entry(alias: "root-\($0.offset)", der: $0.element)
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kh-store-\(getpid()).p12").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(PKCS12TrustStore.encode(entries, password: "changeit")).write(to: URL(fileURLWithPath: path))

        let good = try self.openssl(["pkcs12", "-in", path, "-passin", "pass:changeit", "-nokeys", "-info"])
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output.components(separatedBy: "BEGIN CERTIFICATE").count - 1 == 5)
        #expect(good.output.contains("MAC: sha1"))
        #expect(good.output.contains("friendlyName: root-0"))
        let bad = try self.openssl(["pkcs12", "-in", path, "-passin", "pass:wrong", "-nokeys"])
        #expect(bad.status != 0)
    }

    static let opensslPath: String? = ["/usr/bin/openssl", "/usr/local/bin/openssl", "/bin/openssl"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    func openssl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Self.opensslPath))
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
