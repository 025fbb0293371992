// The errors keyhole's TLS module throws, each with its message and hint.

extension TLSError {
    static func caIncomplete(present: String, missing: String) -> TLSError {
        TLSError(
            .caIncomplete,
            "the keyhole CA is incomplete: \(present) exists but \(missing) does not",
            hint: "restore \(missing) from a backup; or, to start over with a new CA, remove \(present) "
                + "(programs that trusted the old CA must then trust the new ca.pem)"
        )
    }

    static func caFileUnreadable(path: String, reason: String) -> TLSError {
        TLSError(
            .caFileUnreadable,
            "cannot read \(path): \(reason)",
            hint: "check that \(path) belongs to you and is readable by you"
        )
    }

    static func caKeyInsecure(path: String) -> TLSError {
        TLSError(
            .caKeyInsecure,
            "the CA key \(path) is accessible to other users or not owned by you",
            hint: "run `chmod 600 \(path)` (and check its owner); if others may have read it, remove the CA files "
                + "so keyhole creates a new CA"
        )
    }

    static func caKeyCorrupt(path: String) -> TLSError {
        TLSError(
            .caKeyCorrupt,
            "the CA key \(path) is not a P-256 private key in PEM",
            hint: "restore it from a backup, or remove it and ca.pem beside it so keyhole creates a new CA"
        )
    }

    static func caCertificateCorrupt(path: String, reason: String) -> TLSError {
        TLSError(
            .caCertificateCorrupt,
            "the CA certificate \(path) is not usable: \(reason)",
            hint: "restore it from a backup, or remove it and the CA key beside it so keyhole creates a new CA"
        )
    }

    static func caKeyMismatch(key: String, certificate: String) -> TLSError {
        TLSError(
            .caKeyMismatch,
            "the CA key \(key) does not belong to the CA certificate \(certificate)",
            hint: "restore the matching pair from a backup, or remove both so keyhole creates a new CA"
        )
    }

    static func caExpired(path: String) -> TLSError {
        TLSError(
            .caExpired,
            "the CA certificate \(path) is expired or not valid yet",
            hint: "check the system clock; if it is right, remove the CA key and certificate so keyhole creates a "
                + "new CA"
        )
    }

    static func caWriteFailed(path: String, reason: String) -> TLSError {
        TLSError(
            .caWriteFailed,
            "cannot create \(path): \(reason)",
            hint: "check that the data directory (XDG_DATA_HOME) is writable and not full"
        )
    }

    static func invalidHost(_ host: String) -> TLSError {
        TLSError(
            .invalidHost,
            "cannot issue a certificate for \"\(host)\": not a DNS name or an IP address",
            hint: "use a host name such as api.example.com, or an IPv4/IPv6 address"
        )
    }

    static func issueFailed(host: String, reason: String) -> TLSError {
        TLSError(
            .issueFailed,
            "cannot issue a certificate for \(host): \(reason)",
            hint: "this is a bug in keyhole or its TLS libraries; please report it"
        )
    }

    static func trustBundleFailed(path: String, reason: String) -> TLSError {
        TLSError(
            .trustBundleFailed,
            "cannot write the trust bundle \(path): \(reason)",
            hint: "check that the data directory (XDG_DATA_HOME) is writable and the system roots are readable"
        )
    }

    static func upstreamCAUnreadable(path: String, reason: String) -> TLSError {
        TLSError(
            .upstreamCAUnreadable,
            "cannot read the upstream CA file \(path): \(reason)",
            hint: "fix or remove this entry of `upstream_ca` in config.toml"
        )
    }

    static func upstreamCAInvalid(path: String, reason: String) -> TLSError {
        TLSError(
            .upstreamCAInvalid,
            "the upstream CA file \(path) holds no usable PEM certificate: \(reason)",
            hint: "`upstream_ca` entries must be PEM files with one or more `BEGIN CERTIFICATE` blocks"
        )
    }
}
