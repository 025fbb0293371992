@testable import KeyholeCore

/// ``SigV4ChunkResigner`` on aws-chunked bodies: either raw fuzz bytes, or a correctly signed body (chunks and
/// trailers from the input) that a mutation may then break, fed in pieces the input chooses.
///
/// Properties: at every step the output so far is no longer than the input so far; after an error every further
/// call throws; a body that is accepted came out exactly as long as it went in, differs from it only inside
/// signatures, and its signatures are the real chain (a second resigner verifying with the real key accepts it
/// unchanged); an unbroken body is accepted and equals the real chain's body; the mutations botocore's peers
/// would refuse are refused: a changed or missing data byte, a signature with another value, a cut before the end
/// (except the final CRLF after a trailer signature, which some clients leave out), bytes after the end.
enum SigV4ChunkFuzz {
    static let seed = String(repeating: "5e", count: 32)
    static let realSeed = String(repeating: "7a", count: 32)

    static func signer(_ key: AWSCredentials, region: String = "us-east-1", service: String = "s3") -> SigV4Signer {
        SigV4Signer(secretAccessKey: key.secretAccessKey, timestamp: SigV4Fuzz.timestamp, date: SigV4Fuzz.date, region: region, service: service)
    }

    static let placeholderSigner = Self.signer(SigV4Fuzz.placeholderKey)
    static let realSigner = Self.signer(SigV4Fuzz.realKey)

    /// The body the SDKs send: `hex;chunk-signature=SIG\r\nDATA\r\n` per chunk, the final 0-size chunk, then with
    /// trailers the `name:value` lines and `x-amz-trailer-signature` (signed over `name:value\n` each).
    static func body(_ chunks: [[UInt8]], seed: String, signer: SigV4Signer, trailers: [String]?) -> [UInt8] {
        var body: [UInt8] = []
        var previous = seed
        for chunk in chunks + [[]] {
            previous = signer.chunkSignature(previous: previous, dataHash: SigV4Signer.sha256Hex(chunk))
            body += Array("\(String(chunk.count, radix: 16));chunk-signature=\(previous)\r\n".utf8)
            if !chunk.isEmpty || trailers == nil { body += chunk + [0x0D, 0x0A] }
        }
        if let trailers {
            let signature = signer.trailerSignature(previous: previous, trailerHash: SigV4Signer.sha256Hex(Array(trailers.map { $0 + "\n" }.joined().utf8)))
            body += Array((trailers.map { $0 + "\r\n" }.joined() + "x-amz-trailer-signature:\(signature)\r\n\r\n").utf8)
        }
        return body
    }

    /// Where the 64 hex digits of each signature are in `body`.
    static func signatureRanges(_ body: [UInt8]) -> [Range<Int>] {
        let body = body.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }  // names in any case
        var ranges: [Range<Int>] = []
        for marker in [";chunk-signature=", "x-amz-trailer-signature:"].map({ Array($0.utf8) }) {
            for start in body.indices where body[start...].starts(with: marker) {
                var first = start + marker.count
                while first < body.count, body[first] == 0x20 || body[first] == 0x09 { first += 1 }
                ranges.append(first..<min(first + 64, body.count))
            }
        }
        return ranges
    }

    static func feed(_ pieces: [[UInt8]], trailer: Bool, verifier: SigV4Signer, signer: SigV4Signer, seeds: (String, String)) -> [UInt8]? {
        var resigner = SigV4ChunkResigner(trailer: trailer, verifier: verifier, signer: signer, placeholderSeed: seeds.0, realSeed: seeds.1)
        var fed = 0
        var output: [UInt8] = []
        for piece in pieces {
            fed += piece.count
            do {
                output += try resigner.feed(piece)
            } catch {
                FuzzCheck.require((try? resigner.feed([0x30])) == nil && (try? resigner.finish()) == nil, "the resigner goes on after an error")
                return nil
            }
            FuzzCheck.require(output.count <= fed, "the resigner put out \(output.count) bytes for \(fed) in")
        }
        guard let rest = try? resigner.finish() else { return nil }
        return output + rest
    }

    static func run(_ input: inout FuzzBytes) {
        let trailer = input.bool()
        var body: [UInt8]
        var mustRefuse = false
        var expected: [UInt8]? = nil
        if input.int(0...3) == 0 {
            body = input.bytes(upTo: 255)
        } else {
            let chunks = (0..<input.int(0...3)).map { _ in input.bytes(upTo: input.pick([1, 4, 64, 255])) }.filter { !$0.isEmpty }
            let trailers = trailer ? (0..<input.int(0...2)).map { _ in input.pick(["x-amz-checksum-crc32:AAAAAA==", "x-amz-meta-a:  b\tc ", "X-Amz-Checksum-Sha256:" + input.text(upTo: 8, excluding: [0x0A, 0x0D])]) } : nil
            body = Self.body(chunks, seed: Self.seed, signer: Self.placeholderSigner, trailers: trailers)
            let data = Self.dataRanges(chunks, in: body)
            let signatures = Self.signatureRanges(body)
            let position = input.int(0...255) * max(body.count, 1) / 256
            switch input.int(0...7) {
            case 0:  // a bit flipped anywhere
                let bit = UInt8(1) << (input.byte() % 8)
                let old = body[position]
                body[position] ^= bit
                if data.contains(where: { $0.contains(position) }) { mustRefuse = true }
                if signatures.contains(where: { $0.contains(position) }) {
                    mustRefuse = Hex.value(of: body[position]) != Hex.value(of: old) || Hex.value(of: old) == nil
                }
            case 1:  // a data byte missing
                if let range = data.first(where: { !$0.isEmpty }) { body.remove(at: range.lowerBound); mustRefuse = true }
            case 2:  // cut short
                mustRefuse = !(trailer && position == body.count - 2)
                body.removeSubrange(position...)
            case 3:  // bytes after the end
                let extra = input.bytes(upTo: 8)
                mustRefuse = !extra.isEmpty
                body += extra
            default:
                expected = Self.body(chunks, seed: Self.realSeed, signer: Self.realSigner, trailers: trailers)
            }
        }
        let output = Self.feed(fuzzSplit(body, &input), trailer: trailer, verifier: Self.placeholderSigner, signer: Self.realSigner, seeds: (Self.seed, Self.realSeed))
        if let expected {
            FuzzCheck.require(output == expected, "a correctly signed body did not come out in the real chain")
        }
        guard let output else { return }
        FuzzCheck.require(!mustRefuse, "a broken body was accepted: \(fuzzShow(String(decoding: body, as: UTF8.self)))")
        FuzzCheck.require(output.count == body.count, "the re-signed body is \(output.count) bytes for \(body.count) in")
        let signatures = Self.signatureRanges(output)
        for index in body.indices where body[index] != output[index] {
            FuzzCheck.require(signatures.contains { $0.contains(index) }, "the resigner changed byte \(index), outside any signature")
        }
        let again = Self.feed([output], trailer: trailer, verifier: Self.realSigner, signer: Self.realSigner, seeds: (Self.realSeed, Self.realSeed))
        FuzzCheck.require(again == output, "the re-signed body is not in the real chain")
    }

    /// The data of each chunk in a body `body(chunks…)` built.
    static func dataRanges(_ chunks: [[UInt8]], in body: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var position = 0
        for chunk in chunks {
            position += "\(String(chunk.count, radix: 16));chunk-signature=".utf8.count + 64 + 2
            ranges.append(position..<(position + chunk.count))
            position += chunk.count + 2
        }
        return ranges
    }
}
