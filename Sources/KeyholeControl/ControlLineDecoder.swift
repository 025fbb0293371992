import NIOCore

/// Splits the control stream into lines (without "\n" or "\r\n") and refuses a line longer than
/// `maximumLength` as soon as it is known to be too long, however the bytes arrived. (NIOExtras'
/// `LineBasedFrameDecoder` with `ByteToMessageHandler(maximumBufferSize:)` only checks the buffer between
/// reads, so a long line that ends in the same read as it crosses the limit would pass.)
struct ControlLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    /// Thrown (and so closing the connection) for a line over the limit.
    struct LineTooLongError: Error, Hashable {
        let maximumLength: Int
    }

    let maximumLength: Int
    /// How much of the readable bytes is known to hold no newline.
    private var scanned = 0

    init(maximumLength: Int) {
        self.maximumLength = maximumLength
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let newline = view.dropFirst(self.scanned).firstIndex(of: UInt8(ascii: "\n")) else {
            self.scanned = view.count
            // A trailing CR may be the first half of a CRLF that ends a line of exactly the limit (found by
            // the control fuzz target: such a line was refused only when a read ended between CR and LF).
            let pending = view.last == UInt8(ascii: "\r") ? view.count - 1 : view.count
            if pending > self.maximumLength {
                throw LineTooLongError(maximumLength: self.maximumLength)
            }
            return .needMoreData
        }
        var length = newline - view.startIndex
        let hasCarriageReturn = length > 0 && view[newline - 1] == UInt8(ascii: "\r")
        if hasCarriageReturn {
            length -= 1
        }
        guard length <= self.maximumLength else {
            throw LineTooLongError(maximumLength: self.maximumLength)
        }
        let line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: hasCarriageReturn ? 2 : 1)
        self.scanned = 0
        context.fireChannelRead(Self.wrapInboundOut(line))
        return .continue
    }

    /// At EOF, complete lines are still delivered; an unfinished last line is dropped.
    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}
