/// Re-signs an aws-chunked body (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`): each chunk
/// `hex(size);chunk-signature=SIG\r\n DATA \r\n` is checked against the placeholder signature chain and sent on
/// with the real chain's signature in its place; with `-TRAILER` the trailing headers after the final 0-size
/// chunk and their `x-amz-trailer-signature` likewise.
///
/// Signatures are 64 hex digits both ways, so the output is exactly as long as the input and the request's
/// Content-Length stays right. A chunk is emitted only once all of it has arrived and its signature is checked
/// (the signature comes before the data), the trailing headers only with their checked signature.
public struct SigV4ChunkResigner: Sendable, CustomStringConvertible, CustomReflectable {
    /// The largest chunk accepted; a larger declared size is ``SigV4Error/chunkTooLarge``. SDKs use 64 KiB
    /// to 8 MiB.
    public static let maximumChunkSize = 16 * 1024 * 1024
    /// The longest chunk-header or trailer line.
    static let maximumLineLength = 4096
    /// The most bytes of trailing headers held back until their signature is checked.
    static let maximumTrailerSize = 16 * 1024

    private static let signatureExtension = Array(";chunk-signature=".utf8)
    private static let trailerSignatureName = "x-amz-trailer-signature"
    private static let crlf: [UInt8] = [0x0D, 0x0A]

    /// A parsed chunk header line.
    private struct ChunkHeader: Sendable {
        /// The size digits exactly as sent (leading zeros, letter case).
        var sizeDigits: [UInt8]
        var size: Int
        var signature: String
    }

    private enum State: Sendable {
        /// Reading a chunk header line.
        case chunkHeader
        /// Reading a chunk's data and the CRLF after it.
        case chunkData(ChunkHeader)
        /// After the 0-size chunk: reading trailing header lines (or the blank line that ends the body).
        case trailer
        /// After the trailer signature: waiting for the blank line that ends the body.
        case afterTrailerSignature
        case done
        case failed
    }

    private let trailer: Bool
    private let verifier: SigV4Signer
    private let signer: SigV4Signer
    private var placeholderPrevious: String
    private var realPrevious: String
    private var state: State = .chunkHeader
    /// The line being read (chunk header or trailer), CRLF included once complete.
    private var line: [UInt8] = []
    /// The chunk being read, CRLF included once complete.
    private var data: [UInt8] = []
    /// Trailing header lines (without CRLF), held back until the trailer signature is checked.
    private var trailerLines: [[UInt8]] = []
    /// Bytes received after the final chunk and not emitted yet (blank line and trailing headers).
    private var heldBack: [UInt8] = []

    init(trailer: Bool, verifier: SigV4Signer, signer: SigV4Signer, placeholderSeed: String, realSeed: String) {
        self.trailer = trailer
        self.verifier = verifier
        self.signer = signer
        self.placeholderPrevious = placeholderSeed
        self.realPrevious = realSeed
    }

    /// Consumes aws-chunked body bytes (split anywhere across calls) signed with the placeholder chain and
    /// returns the bytes that are complete and checked, signed with the real chain; `[]` while buffering.
    /// After an error every further call throws.
    public mutating func feed(_ bytes: [UInt8]) throws(SigV4Error) -> [UInt8] {
        do throws(SigV4Error) {
            return try self.process(bytes)
        } catch {
            self.state = .failed
            throw error
        }
    }

    /// The end of the body: returns what remains, or throws ``SigV4Error/incompleteBody`` when the final chunk
    /// (and, with `-TRAILER`, the trailer signature) has not been seen.
    public mutating func finish() throws(SigV4Error) -> [UInt8] {
        switch self.state {
        case .done:
            return []
        case .afterTrailerSignature where self.line.isEmpty:
            // Some clients end the body right after the trailer signature line, without the blank line.
            self.state = .done
            return []
        case .failed:
            throw SigV4Error.malformedChunk("the body was already refused")
        default:
            self.state = .failed
            throw SigV4Error.incompleteBody
        }
    }

    private mutating func process(_ bytes: [UInt8]) throws(SigV4Error) -> [UInt8] {
        var output: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            switch self.state {
            case .chunkHeader, .trailer, .afterTrailerSignature:
                guard try self.readLine(bytes, from: &index) else {
                    return output
                }
                let line = self.line
                self.line = []
                try self.handle(line: Array(line.dropLast(2)), into: &output)
            case .chunkData(let header):
                let take = min(header.size + 2 - self.data.count, bytes.endIndex - index)
                self.data.append(contentsOf: bytes[index..<(index + take)])
                index += take
                if self.data.count == header.size + 2 {
                    try self.finishChunk(header, into: &output)
                }
            case .done:
                throw SigV4Error.malformedChunk("data follows the end of the aws-chunked body")
            case .failed:
                throw SigV4Error.malformedChunk("the body was already refused")
            }
        }
        return output
    }

    /// Appends bytes up to and including the next LF to `line`; true when the line is complete (ends in CRLF).
    private mutating func readLine(_ bytes: [UInt8], from index: inout Int) throws(SigV4Error) -> Bool {
        let end = bytes[index...].firstIndex(of: 0x0A)
        let stop = end.map { $0 + 1 } ?? bytes.endIndex
        guard self.line.count + (stop - index) <= Self.maximumLineLength else {
            throw SigV4Error.malformedChunk("a chunk header or trailer line exceeds \(Self.maximumLineLength) bytes")
        }
        self.line.append(contentsOf: bytes[index..<stop])
        index = stop
        guard end != nil else {
            return false
        }
        guard self.line.count >= 2, self.line[self.line.count - 2] == 0x0D else {
            throw SigV4Error.malformedChunk("a line does not end with CRLF")
        }
        return true
    }

    private mutating func handle(line: [UInt8], into output: inout [UInt8]) throws(SigV4Error) {
        switch self.state {
        case .chunkHeader:
            let header = try Self.parseChunkHeader(line)
            if header.size == 0 {
                let signature = try self.resign(header, data: [])
                output += header.sizeDigits + Self.signatureExtension + Array(signature.utf8) + Self.crlf
                self.state = .trailer
            } else {
                self.data = []
                self.data.reserveCapacity(header.size + 2)
                self.state = .chunkData(header)
            }
        case .trailer:
            try self.handleTrailer(line: line, into: &output)
        case .afterTrailerSignature:
            guard line.isEmpty else {
                throw SigV4Error.malformedChunk("a line follows the trailer signature")
            }
            output += Self.crlf
            self.state = .done
        case .chunkData, .done, .failed:
            preconditionFailure("SigV4ChunkResigner: a line was read in state \(self.stateName)")
        }
    }

    /// One line after the final chunk: the blank line that ends a body without trailer, trailing headers
    /// (held back), or the trailer signature that releases them.
    private mutating func handleTrailer(line: [UInt8], into output: inout [UInt8]) throws(SigV4Error) {
        guard self.trailer else {
            guard line.isEmpty else {
                throw SigV4Error.malformedChunk("trailing headers without a -TRAILER payload")
            }
            output += Self.crlf
            self.state = .done
            return
        }
        if line.isEmpty {
            // One blank line may separate the final chunk from the trailing headers (some SDKs send it).
            guard self.heldBack.isEmpty else {
                throw SigV4Error.malformedChunk("the trailing headers end without x-amz-trailer-signature")
            }
            self.heldBack += Self.crlf
            return
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
            throw SigV4Error.malformedChunk("a trailing header has no `name:`")
        }
        let name = String(decoding: line[..<colon], as: UTF8.self)
        guard name.lowercased() == Self.trailerSignatureName else {
            guard self.heldBack.count + line.count + 2 <= Self.maximumTrailerSize else {
                throw SigV4Error.malformedChunk("the trailing headers exceed \(Self.maximumTrailerSize) bytes")
            }
            self.trailerLines.append(line)
            self.heldBack += line + Self.crlf
            return
        }
        let value = Array(line[(colon + 1)...])
        guard let first = value.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }), value.count - first >= 64 else {
            throw SigV4Error.malformedChunk("x-amz-trailer-signature is not 64 hexadecimal digits")
        }
        let signatureBytes = value[first..<(first + 64)]
        let rest = value[(first + 64)...]
        let signature = String(decoding: signatureBytes, as: UTF8.self).lowercased()
        guard SigV4Signer.isLowercaseHash(signature), rest.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) else {
            throw SigV4Error.malformedChunk("x-amz-trailer-signature is not 64 hexadecimal digits")
        }
        var matched: String?
        for candidate in self.trailerTexts() {
            let hash = SigV4Signer.sha256Hex(Array(candidate.utf8))
            let expected = self.verifier.trailerSignature(previous: self.placeholderPrevious, trailerHash: hash)
            if SigV4Signer.constantTimeEquals(expected, signature) {
                matched = hash
                break
            }
        }
        guard let hash = matched else {
            throw SigV4Error.chunkSignatureMismatch
        }
        let real = self.signer.trailerSignature(previous: self.realPrevious, trailerHash: hash)
        self.placeholderPrevious = signature
        self.realPrevious = real
        output += self.heldBack
        output += Array(line[...colon]) + Array(value[..<first]) + Array(real.utf8) + Array(rest) + Self.crlf
        self.heldBack = []
        self.trailerLines = []
        self.state = .afterTrailerSignature
    }

    /// The trailing headers as signed: each line as sent plus `\n` (the SDKs), then the canonical form
    /// (lowercase names, trimmed values, sorted) in case a client canonicalized them.
    private func trailerTexts() -> [String] {
        let sent = self.trailerLines.map { String(decoding: $0, as: UTF8.self) + "\n" }.joined()
        let canonical = self.trailerLines.map { line -> String in
            let text = String(decoding: line, as: UTF8.self)
            let colon = text.firstIndex(of: ":") ?? text.endIndex
            let value = text[colon...].dropFirst()
            return text[..<colon].lowercased() + ":" + SigV4Signer.collapsingSpaces(String(value))
        }
        .sorted().map { $0 + "\n" }.joined()
        return sent == canonical ? [sent] : [sent, canonical]
    }

    /// Checks a complete chunk (data + CRLF in `data`) and emits it with the real signature.
    private mutating func finishChunk(_ header: ChunkHeader, into output: inout [UInt8]) throws(SigV4Error) {
        guard self.data[header.size] == 0x0D, self.data[header.size + 1] == 0x0A else {
            throw SigV4Error.malformedChunk("a chunk's data is not followed by CRLF")
        }
        let signature = try self.resign(header, data: self.data[..<header.size])
        output += header.sizeDigits + Self.signatureExtension + Array(signature.utf8) + Self.crlf
        output += self.data
        self.data = []
        self.state = .chunkHeader
    }

    /// Verifies one chunk against the placeholder chain and returns its signature in the real chain.
    private mutating func resign(_ header: ChunkHeader, data: ArraySlice<UInt8>) throws(SigV4Error) -> String {
        let hash = SigV4Signer.sha256Hex(Array(data))
        let expected = self.verifier.chunkSignature(previous: self.placeholderPrevious, dataHash: hash)
        guard SigV4Signer.constantTimeEquals(expected, header.signature) else {
            throw SigV4Error.chunkSignatureMismatch
        }
        let real = self.signer.chunkSignature(previous: self.realPrevious, dataHash: hash)
        self.placeholderPrevious = header.signature
        self.realPrevious = real
        return real
    }

    /// `hex(size);chunk-signature=<64 hex>` without its CRLF.
    private static func parseChunkHeader(_ line: [UInt8]) throws(SigV4Error) -> ChunkHeader {
        guard let semicolon = line.firstIndex(of: UInt8(ascii: ";")),
            line[semicolon...].starts(with: Self.signatureExtension)
        else {
            throw SigV4Error.malformedChunk("a chunk header is not `hex-size;chunk-signature=signature`")
        }
        let digits = Array(line[..<semicolon])
        guard !digits.isEmpty, digits.allSatisfy({ Hex.value(of: $0) != nil }) else {
            throw SigV4Error.malformedChunk("a chunk size is not hexadecimal")
        }
        var size = 0
        for digit in digits {
            size = size * 16 + Int(Hex.value(of: digit)!)
            guard size <= Self.maximumChunkSize else {
                throw SigV4Error.chunkTooLarge
            }
        }
        let signature = String(decoding: line[(semicolon + Self.signatureExtension.count)...], as: UTF8.self)
            .lowercased()
        guard SigV4Signer.isLowercaseHash(signature) else {
            throw SigV4Error.malformedChunk("a chunk signature is not 64 hexadecimal digits")
        }
        return ChunkHeader(sizeDigits: digits, size: size, signature: signature)
    }


    private var stateName: String {
        switch self.state {
        case .chunkHeader: return "chunkHeader"
        case .chunkData: return "chunkData"
        case .trailer: return "trailer"
        case .afterTrailerSignature: return "afterTrailerSignature"
        case .done: return "done"
        case .failed: return "failed"
        }
    }

    public var description: String {
        "SigV4ChunkResigner(trailer: \(self.trailer), state: \(self.stateName))"
    }

    public var customMirror: Mirror {
        Mirror(self, children: ["trailer": self.trailer, "state": self.stateName])
    }
}
