import KeyholeCore
import NIOCore

/// The body of an AWS request being read in full so that its hash can enter the signature.
final class AWSBodyCollector {
    let head: RequestHead
    let resigning: AWSResigning
    var body: ByteBuffer

    init(head: RequestHead, resigning: AWSResigning, allocator: ByteBufferAllocator) {
        self.head = head
        self.resigning = resigning
        self.body = allocator.buffer(capacity: 0)
    }
}

@available(*, unavailable)
extension AWSBodyCollector: Sendable {}
