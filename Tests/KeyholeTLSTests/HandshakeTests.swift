import Foundation
import KeyholeCore
import NIOCore
import NIOPosix
import NIOSSL
import Testing

@testable import KeyholeTLS

/// Real TLS handshakes against a NIOPosix server presenting the cache's certificates, checked by NIOSSL,
/// OpenSSL's s_client, curl and Python's ssl module in strict mode, each trusting only ca.pem.
@Suite(.timeLimit(.minutes(2))) struct HandshakeTests {
    private struct Fixture {
        var root: String
        var paths: KeyholeCore.Paths
        var authority: CertificateAuthority
        var cache: LeafCertificateCache
        var server: TestTLSServer
        var pool: NIOThreadPool
    }

    /// A server on 127.0.0.1 presenting `host`'s certificate (as the proxy does for a CONNECT authority,
    /// whatever the client's SNI).
    private func withServer(presenting host: String, _ body: (Fixture) async throws -> Void) async throws {
        try await withTemporaryDirectory { root in
            let paths = makePaths(root: root)
            let authority = try CertificateAuthority.loadOrCreate(paths: paths)
            let pool = NIOThreadPool(numberOfThreads: 1)
            pool.start()
            let cache = LeafCertificateCache(authority: authority, threadPool: pool)
            let server = try await TestTLSServer { channel in
                cache.serverContext(for: host, on: channel.eventLoop)
            }
            let fixture = Fixture(
                root: root, paths: paths, authority: authority, cache: cache, server: server, pool: pool
            )
            do {
                try await body(fixture)
            } catch {
                try await server.close()
                try await pool.shutdownGracefully()
                throw error
            }
            try await server.close()
            try await pool.shutdownGracefully()
        }
    }

    private func clientTrustingOnly(_ caFile: String) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        configuration.applicationProtocols = ["http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }

    @Test func nioSSLClientCompletesTheHandshakeForTheRightNameOnly() async throws {
        try await self.withServer(presenting: "api.test") { fixture in
            let client = try self.clientTrustingOnly(fixture.paths.caCertificateFile)
            let negotiated = try await handshake(port: fixture.server.port, context: client, serverHostname: "api.test")
            #expect(negotiated == "http/1.1")
            await #expect(throws: (any Error).self) {
                _ = try await handshake(port: fixture.server.port, context: client, serverHostname: "other.test")
            }
            #expect(fixture.cache.mintCount == 1)
        }
    }

    @Test func opensslSClientVerifiesTheChainAndName() async throws {
        try await self.withServer(presenting: "api.test") { fixture in
            let base = [
                "openssl", "s_client", "-connect", "127.0.0.1:\(fixture.server.port)", "-servername", "api.test",
                "-CAfile", fixture.paths.caCertificateFile, "-verify_return_error", "-x509_strict",
            ]
            let accepted = try runProcess(base + ["-verify_hostname", "api.test"])
            #expect(accepted.status == 0, "\(accepted.output)")
            #expect(accepted.output.contains("Verify return code: 0 (ok)"))
            #expect(accepted.output.contains("subject=O = keyhole, CN = api.test"))

            let refused = try runProcess(base + ["-verify_hostname", "other.test"])
            #expect(refused.status != 0, "\(refused.output)")
        }
    }

    @Test func curlTrustsTheLeafThroughCACert() async throws {
        try await self.withServer(presenting: "api.test") { fixture in
            let port = fixture.server.port
            let accepted = try runProcess([
                "curl", "-sS", "--resolve", "api.test:\(port):127.0.0.1", "--cacert", fixture.paths.caCertificateFile,
                "https://api.test:\(port)/",
            ])
            #expect(accepted.status == 0, "\(accepted.output)")
            #expect(accepted.output == "hello from keyhole test\n")

            let refused = try runProcess([
                "curl", "-sS", "--resolve", "other.test:\(port):127.0.0.1", "--cacert",
                fixture.paths.caCertificateFile, "https://other.test:\(port)/",
            ])
            #expect(refused.status == 60, "\(refused.output)")  // peer certificate cannot be authenticated
        }
    }

    @Test func curlTrustsAnIPLeaf() async throws {
        try await self.withServer(presenting: "127.0.0.1") { fixture in
            let result = try runProcess([
                "curl", "-sS", "--cacert", fixture.paths.caCertificateFile, "https://127.0.0.1:\(fixture.server.port)/",
            ])
            #expect(result.status == 0, "\(result.output)")
        }
    }

    static let pythonClient = """
        import socket, ssl, sys
        ca, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        context = ssl.create_default_context(cafile=ca)
        context.verify_flags |= ssl.VERIFY_X509_STRICT
        context.set_alpn_protocols(["http/1.1"])
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with context.wrap_socket(raw, server_hostname=name) as tls:
                tls.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
                print("ok", tls.version(), tls.selected_alpn_protocol())
        """

    @Test(arguments: ["api.test", "127.0.0.1"])
    func pythonStrictVerificationAcceptsTheLeaf(_ host: String) async throws {
        try await self.withServer(presenting: host) { fixture in
            let ca = fixture.paths.caCertificateFile
            let port = "\(fixture.server.port)"
            let accepted = try runProcess(["python3", "-c", Self.pythonClient, ca, port, host])
            #expect(accepted.status == 0, "\(accepted.output)")
            #expect(accepted.output.hasPrefix("ok TLSv1.3 http/1.1"), "\(accepted.output)")

            let other = host == "api.test" ? "other.test" : "127.0.0.2"
            let refused = try runProcess(["python3", "-c", Self.pythonClient, ca, port, other])
            #expect(refused.status != 0)
            #expect(refused.output.contains("CERTIFICATE_VERIFY_FAILED"), "\(refused.output)")
        }
    }

    @Test func upstreamContextTrustsExtraCAFiles() async throws {
        try await self.withServer(presenting: "api.test") { fixture in
            let port = fixture.server.port
            let withCA = try UpstreamTLS.makeClientContext(extraCAFiles: [fixture.paths.caCertificateFile])
            #expect(try await handshake(port: port, context: withCA, serverHostname: "api.test") == "http/1.1")
            await #expect(throws: (any Error).self) {
                _ = try await handshake(port: port, context: withCA, serverHostname: "other.test")
            }
            // Without the extra file, the system roots alone do not trust keyhole's CA.
            let systemOnly = try UpstreamTLS.makeClientContext(extraCAFiles: [])
            await #expect(throws: (any Error).self) {
                _ = try await handshake(port: port, context: systemOnly, serverHostname: "api.test")
            }
        }
    }

    @Test func trustBundleServesClientsForInterceptedAndOrdinaryHosts() async throws {
        try await self.withServer(presenting: "api.test") { fixture in
            let bundle = fixture.paths.trustBundleFile
            try TrustBundle.write(caPEM: fixture.authority.certificatePEM, to: bundle)
            let port = fixture.server.port
            let result = try runProcess([
                "curl", "-sS", "--resolve", "api.test:\(port):127.0.0.1", "--cacert", bundle,
                "https://api.test:\(port)/",
            ])
            #expect(result.status == 0, "\(result.output)")
        }
    }
}
