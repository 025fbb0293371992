import NIOCore
import NIOEmbedded
import Testing

@testable import KeyholeControl

@Suite struct ControlLineDecoderTests {
    /// The lines `pieces` make on a fresh decoder with a line limit of `limit`, or nil when it refuses them.
    static func lines(_ pieces: [String], limit: Int) throws -> [String]? {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(ControlLineDecoder(maximumLength: limit)))
        defer { _ = try? channel.finish() }
        do {
            for piece in pieces { try channel.writeInbound(ByteBuffer(string: piece)) }
        } catch is ControlLineDecoder.LineTooLongError {
            return nil
        }
        var lines: [String] = []
        while let line = try channel.readInbound(as: ByteBuffer.self) { lines.append(String(buffer: line)) }
        return lines
    }

    /// Found by the control fuzz target (Fuzz/findings-report/control/line-limit-crlf-split): a line of exactly the
    /// limit ending in CRLF was refused when a read ended between the CR and the LF.
    @Test func aLineOfTheLimitIsAcceptedWhereverItsCRLFIsSplit() throws {
        let line = String(repeating: "x", count: 8)
        #expect(try Self.lines([line + "\r\n"], limit: 8) == [line])
        #expect(try Self.lines([line + "\r", "\n"], limit: 8) == [line])
        #expect(try Self.lines([line, "\r", "\nnext\n"], limit: 8) == [line, "next"])
    }

    @Test func aLineOverTheLimitIsRefusedAsSoonAsItIsKnown() throws {
        #expect(try Self.lines([String(repeating: "x", count: 9) + "\r\n"], limit: 8) == nil)
        #expect(try Self.lines([String(repeating: "x", count: 8) + "\ry"], limit: 8) == nil)
        #expect(try Self.lines([String(repeating: "x", count: 9)], limit: 8) == nil)
        #expect(try Self.lines([String(repeating: "x", count: 8) + "\r"], limit: 8) == [])
    }
}
