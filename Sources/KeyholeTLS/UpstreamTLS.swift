import KeyholeCore
import NIOSSL

/// TLS towards upstream servers: verified against the system roots plus the user's extra trust anchors
/// (`upstream_ca` in config.toml, e.g. a company CA); TLS 1.2 or newer; ALPN `http/1.1`.
///
/// The context verifies the chain. The *name* is verified by `NIOSSLClientHandler`, from the
/// `serverHostname` it is given, so callers must pass it:
/// ```swift
/// let handler = try NIOSSLClientHandler(context: context, serverHostname: "api.example.com")
/// ```
/// For an IP-literal upstream, pass `serverHostname: nil` (SNI cannot carry an address): NIOSSL then checks
/// the certificate against the address of the connected socket, which is the literal unless `resolve`
/// redirected the connection. Never disable verification to make an upstream work: add its CA instead.
public enum UpstreamTLS {
    /// The client configuration, with each file of `extraCAFiles` read and parsed now, so that an
    /// unreadable or invalid file fails here with an error naming it rather than at the first connection.
    public static func clientConfiguration(extraCAFiles: [String]) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        configuration.trustRoots = .default
        configuration.additionalTrustRoots = try extraCAFiles.map { .certificates(try Self.loadCertificates($0)) }
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        return configuration
    }

    /// A context for ``clientConfiguration(extraCAFiles:)``. Loads the system roots from disk: make it once
    /// at start-up (off any event loop) and share it; a context serves any number of connections.
    public static func makeClientContext(extraCAFiles: [String]) throws -> NIOSSLContext {
        let configuration = try Self.clientConfiguration(extraCAFiles: extraCAFiles)
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            let files = extraCAFiles.isEmpty ? "the system roots" : extraCAFiles.joined(separator: ", ")
            throw TLSError.upstreamCAInvalid(path: files, reason: "\(error)")
        }
    }

    /// The certificates of the PEM file at `path`; throws a ``TLSError`` naming it when it cannot be read
    /// or holds none.
    static func loadCertificates(_ path: String) throws -> [NIOSSLCertificate] {
        let bytes: [UInt8]?
        do {
            bytes = try FileSystem.contents(of: path)
        } catch {
            throw TLSError.upstreamCAUnreadable(path: path, reason: error.reason(about: path))
        }
        guard let bytes else {
            throw TLSError.upstreamCAUnreadable(path: path, reason: "no such file")
        }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMBytes(bytes)
        } catch {
            throw TLSError.upstreamCAInvalid(path: path, reason: "\(error)")
        }
        guard !certificates.isEmpty else {
            throw TLSError.upstreamCAInvalid(path: path, reason: "no certificate in it")
        }
        return certificates
    }
}
