import Foundation
import KeyholeCore
import NIOCore
import NIOEmbedded

@testable import KeyholeControl

/// The control socket's input: bytes through the daemon's ``ControlLineDecoder`` (in a `ByteToMessageHandler` on
/// an `EmbeddedChannel`, fed in pieces the input chooses, with a line limit the input chooses), then each line as
/// the daemon reads it (a ``ControlRequest``) and as the client reads it (a ``ControlResponse``).
///
/// Properties: the lines that come out are exactly those of a reference splitter (LF or CRLF ends a line) up to
/// the first line over the limit, whatever the pieces; a line over the limit is refused with `LineTooLongError`
/// (and nothing else), an unfinished line as soon as it is known to be too long (more than the limit, plus one for
/// a CR that may start its CRLF), a shorter one never; no line is longer than the limit; nothing comes out at the
/// end of input. A line is a request (or response) or a decoding error; what decodes, encodes and decodes again
/// to the same JSON; an `--inject` template in it is a single line.
enum ControlFuzz {
    static let target = FuzzTarget(name: "control", summary: "control socket: line decoder (EmbeddedChannel) and request/response JSON") { raw in
        var input = FuzzBytes(raw)
        let limit = input.pick([0, 1, 2, 16, 64, 200, ControlServer.maximumLineLength])
        let pieceBytes = input.bytes(upTo: 32)
        ControlFuzz.run(input.rest(), limit: limit, pieces: FuzzBytes(pieceBytes))
    }

    static func run(_ stream: [UInt8], limit: Int, pieces: FuzzBytes) {
        var choices = pieces
        let pieces = fuzzSplit(stream, &choices)
        let expected = Self.reference(pieces, limit: limit)
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(ControlLineDecoder(maximumLength: limit)))
        defer { _ = try? channel.finish() }
        var lines: [[UInt8]] = []
        var refused = false
        for piece in pieces {
            do {
                try channel.writeInbound(ByteBuffer(bytes: piece))
            } catch {
                FuzzCheck.require(error is ControlLineDecoder.LineTooLongError, "the decoder failed with \(error)")
                refused = true
            }
            while let line = try? channel.readInbound(as: ByteBuffer.self) {
                lines.append(Array(buffer: line))
            }
            if refused { break }
        }
        FuzzCheck.require(lines == expected.lines, "decoded \(lines.count) lines, expected \(expected.lines.count) (limit \(limit))")
        FuzzCheck.require(refused == expected.refused, refused ? "a stream within the limit \(limit) was refused" : "a line over the limit \(limit) was not refused")
        if !refused, case .leftOvers(let inbound, _, _) = try? channel.finish() {
            FuzzCheck.require(inbound.isEmpty, "a line came out at the end of input")
        }
        for line in lines {
            FuzzCheck.require(line.count <= limit && !line.contains(0x0A), "a line of \(line.count) bytes with limit \(limit)")
            Self.decode(line)
        }
    }

    /// The lines of the stream and whether it must be refused, piece by piece: a complete line over the limit, or
    /// an unfinished one that can no longer end within it (an unfinished line of limit + 1 bytes ending in CR still
    /// can: the LF that may follow makes it a line of `limit` bytes).
    static func reference(_ pieces: [[UInt8]], limit: Int) -> (lines: [[UInt8]], refused: Bool) {
        let stream = pieces.flatMap { $0 }
        var lines: [[UInt8]] = []
        var start = 0
        var end = 0
        for piece in pieces {
            end += piece.count
            while let newline = stream[start..<end].firstIndex(of: 0x0A) {
                var line = Array(stream[start..<newline])
                if line.last == 0x0D { line.removeLast() }
                guard line.count <= limit else { return (lines, true) }
                lines.append(line)
                start = newline + 1
            }
            let pendingCR = end > start && stream[end - 1] == 0x0D
            if end - start > limit + (pendingCR ? 1 : 0) { return (lines, true) }
        }
        return (lines, false)
    }

    static func decode(_ line: [UInt8]) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(line)) {
            if let inject = request.definition?.inject {
                FuzzCheck.require(!inject.description.utf8.contains { ($0 == 0 || $0 == 0x0A || $0 == 0x0D) }, "a decoded --inject template spans lines")
            }
            Self.requireStable(request, encoder)
        }
        if let response = try? JSONDecoder().decode(ControlResponse.self, from: Data(line)) {
            Self.requireStable(response, encoder)
        }
    }

    /// `value` encodes, and what it encodes to decodes and encodes to the same bytes.
    static func requireStable<T: Codable>(_ value: T, _ encoder: JSONEncoder) {
        guard let first = try? encoder.encode(value) else { FuzzCheck.fail("a decoded \(T.self) does not encode") }
        guard let again = try? JSONDecoder().decode(T.self, from: first), let second = try? encoder.encode(again) else {
            FuzzCheck.fail("an encoded \(T.self) does not decode: \(String(decoding: first, as: UTF8.self))")
        }
        FuzzCheck.require(first == second, "\(T.self) does not round-trip: \(String(decoding: first, as: UTF8.self)) vs \(String(decoding: second, as: UTF8.self))")
    }
}
