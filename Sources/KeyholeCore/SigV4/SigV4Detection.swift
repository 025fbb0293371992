/// What kind of AWS signature, if any, a request carries; see ``SigV4Authorization/detect(in:)``.
public enum SigV4Detection: Sendable, Equatable {
    /// The request carries no SigV4 authentication (no `AWS4-…` Authorization header, no `X-Amz-Algorithm`,
    /// `X-Amz-Credential` or `X-Amz-Signature` query parameter).
    case none
    /// `AWS4-HMAC-SHA256` in the Authorization header, or a presigned URL with that algorithm.
    case sigV4(SigV4Authorization)
    /// `AWS4-ECDSA-P256-SHA256` (SigV4a), in the header or the query: keyhole cannot re-sign it, so the proxy
    /// answers 400. The access key id is given when it can be read.
    case sigV4A(accessKeyID: String?)
    /// The request looks like SigV4 but cannot be parsed; the reason is for people and holds no secret.
    case malformed(String)
}
