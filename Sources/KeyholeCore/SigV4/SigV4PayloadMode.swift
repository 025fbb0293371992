/// What stands for the body in a SigV4 canonical request, and whether the body itself is signed chunk by chunk.
public enum SigV4PayloadMode: Sendable, Equatable {
    /// `x-amz-content-sha256` is present and not a signed-streaming marker: its value (64 lowercase hex,
    /// `UNSIGNED-PAYLOAD`, `STREAMING-UNSIGNED-PAYLOAD-TRAILER`, …) is the payload hash, used verbatim.
    case declared(String)
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` (`-TRAILER`): the body is aws-chunked with a signature per chunk
    /// and must go through ``SigV4Resigned/chunkResigner``.
    case streamingSigned(trailer: Bool)
    /// Header authentication without `x-amz-content-sha256`: the payload hash is the SHA-256 of the whole body,
    /// which the caller must compute.
    case bodyHash
    /// Query (presigned) authentication without `x-amz-content-sha256`: `UNSIGNED-PAYLOAD`, or for some
    /// services the hash of the (usually empty) body.
    case presigned

    static let streamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    static let streamingPayloadTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// The mode of `head`, judged by its first `x-amz-content-sha256` header and where the signature is.
    public static func of(_ head: RequestHead, authorization: SigV4Authorization) -> SigV4PayloadMode {
        if let declared = Self.declaredHash(in: head) {
            switch declared {
            case Self.streamingPayload: return .streamingSigned(trailer: false)
            case Self.streamingPayloadTrailer: return .streamingSigned(trailer: true)
            default: return .declared(declared)
            }
        }
        switch authorization.location {
        case .header: return .bodyHash
        case .query: return .presigned
        }
    }

    /// The trimmed value of the first `x-amz-content-sha256` header.
    static func declaredHash(in head: RequestHead) -> String? {
        head.headers.first { $0.name.lowercased() == "x-amz-content-sha256" }
            .map { SigV4Authorization.trimmed($0.value) }
    }
}
