/// Placeholder AWS credentials: shaped like real ones so SDK format checks pass, unrelated to the real keys.
///
/// The access key id is `ASIA` and 16 random characters of `[A-Z0-9]` (82 bits), so every SDK treats the
/// keys as temporary and sends the session token, which the proxy then sets, replaces or removes to match the
/// real credential. The secret key and session token are random letters and digits; none of them uses the
/// `khp_` prefix, so the header rewriter never mistakes them for a swappable placeholder.
public enum AWSPlaceholder {
    public static let accessKeyPrefix = "ASIA"

    public static func generate() -> AWSCredentials {
        AWSCredentials(
            accessKeyID: Self.accessKeyPrefix + Self.random(count: 16, from: Self.upperAlphanumerics),
            secretAccessKey: Self.random(count: 40, from: Self.alphanumerics),
            sessionToken: Self.random(count: 64, from: Self.alphanumerics)
        )
    }

    static let upperAlphanumerics = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
    static let alphanumerics = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// Uniformly random characters of `alphabet` from the system CSPRNG.
    static func random(count: Int, from alphabet: [UInt8]) -> String {
        var generator = SystemRandomNumberGenerator()
        var out: [UInt8] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            out.append(alphabet[Int.random(in: 0..<alphabet.count, using: &generator)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
