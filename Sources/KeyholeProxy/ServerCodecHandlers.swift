import NIOCore
import NIOHTTP1

/// The HTTP/1.1 server codec of a client connection, kept by reference so it can be removed for a tunnel or
/// an upgrade.
struct ServerCodecHandlers {
    let encoder: HTTPResponseEncoder
    let decoder: ByteToMessageHandler<HTTPRequestDecoder>

    init() {
        self.encoder = HTTPResponseEncoder()
        self.decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
    }

    func add(to pipeline: ChannelPipeline.SynchronousOperations, after: (any ChannelHandler)? = nil) throws {
        if let after {
            try pipeline.addHandler(self.decoder, position: .after(after))
            try pipeline.addHandler(self.encoder, position: .after(after))
        } else {
            try pipeline.addHandler(self.encoder)
            try pipeline.addHandler(self.decoder)
        }
    }

    /// Removes the decoder (its buffered bytes go on to the next handler) and the encoder.
    func remove(from pipeline: ChannelPipeline.SynchronousOperations) {
        pipeline.removeHandler(self.decoder, promise: nil)
        pipeline.removeHandler(self.encoder, promise: nil)
    }
}

/// The HTTP/1.1 client codec of an upstream connection.
struct ClientCodecHandlers {
    let encoder: HTTPRequestEncoder
    let decoder: ByteToMessageHandler<HTTPResponseDecoder>

    init() {
        self.encoder = HTTPRequestEncoder()
        self.decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
    }

    func add(to pipeline: ChannelPipeline.SynchronousOperations) throws {
        try pipeline.addHandler(self.encoder)
        try pipeline.addHandler(self.decoder)
    }

    func remove(from pipeline: ChannelPipeline.SynchronousOperations) {
        pipeline.removeHandler(self.decoder, promise: nil)
        pipeline.removeHandler(self.encoder, promise: nil)
    }
}
