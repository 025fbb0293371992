import KeyholeCore

/// The PEM bundle that programs under `keyhole run` trust (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`,
/// `CURL_CA_BUNDLE`, …): the system's roots, so that tunnelled hosts still verify, then any extra PEM
/// files (e.g. `upstream_ca`), then the keyhole CA, so that intercepted hosts verify.
public enum TrustBundle {
    /// Where Linux distributions (and a few others) keep their root bundle, most common first.
    public static let systemBundleCandidates = [
        "/etc/ssl/certs/ca-certificates.crt",  // Debian, Ubuntu, Gentoo, Arch
        "/etc/pki/tls/certs/ca-bundle.crt",  // Fedora, RHEL
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // RHEL, CentOS
        "/etc/ssl/ca-bundle.pem",  // openSUSE
        "/etc/ssl/cert.pem",  // Alpine, macOS, BSDs
        "/etc/pki/tls/cacert.pem",  // OpenELEC
    ]

    /// Writes the bundle to `path` atomically with mode 0644, unless it already holds exactly that content.
    ///
    /// - Parameters:
    ///   - caPEM: the keyhole CA certificate in PEM.
    ///   - path: the bundle file (``KeyholeCore/Paths/trustBundleFile``); its directory must exist.
    ///   - additionalPEMFiles: more trust anchors to include, between the system roots and the CA.
    ///   - systemBundleCandidates: where to look for the system roots; the first that exists is used.
    /// - Returns: the system bundle that was included, or nil when none of the candidates exists (the
    ///   bundle then trusts only the extra files and the keyhole CA).
    @discardableResult
    public static func write(
        caPEM: String,
        to path: String,
        additionalPEMFiles: [String] = [],
        systemBundleCandidates: [String] = TrustBundle.systemBundleCandidates
    ) throws -> String? {
        var content: [UInt8] = []
        var systemBundle: String?
        for candidate in systemBundleCandidates {
            let bytes: [UInt8]?
            do {
                bytes = try FileSystem.contents(of: candidate)
            } catch {
                throw TLSError.trustBundleFailed(path: path, reason: "\(candidate): \(error.reason(about: candidate))")
            }
            if let bytes {
                Self.append(bytes, to: &content)
                systemBundle = candidate
                break
            }
        }
        for file in additionalPEMFiles {
            let bytes: [UInt8]?
            do {
                bytes = try FileSystem.contents(of: file)
            } catch {
                throw TLSError.trustBundleFailed(path: path, reason: "\(file): \(error.reason(about: file))")
            }
            guard let bytes else {
                throw TLSError.trustBundleFailed(path: path, reason: "\(file): no such file")
            }
            Self.append(bytes, to: &content)
        }
        Self.append(Array("# keyhole local CA\n".utf8) + Array(caPEM.utf8), to: &content)

        do {
            if try FileSystem.contents(of: path) == content { return systemBundle }
            try FileSystem.writeAtomically(content, to: path, mode: 0o644)
        } catch {
            throw TLSError.trustBundleFailed(path: path, reason: error.reason(about: path))
        }
        return systemBundle
    }

    private static func append(_ bytes: [UInt8], to content: inout [UInt8]) {
        if let last = content.last, last != UInt8(ascii: "\n") {
            content.append(UInt8(ascii: "\n"))
        }
        content.append(contentsOf: bytes)
        if let last = content.last, last != UInt8(ascii: "\n") {
            content.append(UInt8(ascii: "\n"))
        }
    }
}
