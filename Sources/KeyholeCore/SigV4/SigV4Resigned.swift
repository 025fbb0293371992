/// A request head signed with the real credentials, and for a chunk-signed body the resigner it must go through.
public struct SigV4Resigned: Sendable {
    /// The head to send upstream: Authorization (or the presigned query), X-Amz-Security-Token and nothing else
    /// changed.
    public var head: RequestHead
    /// Non-nil for `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: the body must be fed through it.
    public var chunkResigner: SigV4ChunkResigner?

    public init(head: RequestHead, chunkResigner: SigV4ChunkResigner?) {
        self.head = head
        self.chunkResigner = chunkResigner
    }
}
