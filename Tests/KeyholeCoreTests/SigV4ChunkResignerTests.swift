import Testing

@testable import KeyholeCore

/// ``SigV4ChunkResigner``: any split of the input, trailers, and every way the body can be wrong.
@Suite struct SigV4ChunkResignerTests {
    static let seed = String(repeating: "5e", count: 32)
    static let realSeed = String(repeating: "7a", count: 32)

    let placeholderSigner = SigV4Signer(
        secretAccessKey: SigV4TestSupport.placeholder.secretAccessKey, timestamp: SigV4TestSupport.timestamp,
        date: SigV4TestSupport.date, region: "us-east-1", service: "s3"
    )
    let realSigner = SigV4Signer(
        secretAccessKey: SigV4TestSupport.real.secretAccessKey, timestamp: SigV4TestSupport.timestamp,
        date: SigV4TestSupport.date, region: "us-east-1", service: "s3"
    )
    let chunks: [[UInt8]] = [Array(repeating: 0x61, count: 1000), Array(0..<200).map { UInt8($0) }, [0x0D, 0x0A]]

    /// Where `text` starts in `bytes` (which must contain it).
    static func index(of text: String, in bytes: [UInt8]) -> Int {
        let needle = Array(text.utf8)
        return bytes.indices.first { bytes[$0...].starts(with: needle) }!
    }

    func resigner(trailer: Bool = false) -> SigV4ChunkResigner {
        SigV4ChunkResigner(
            trailer: trailer, verifier: self.placeholderSigner, signer: self.realSigner, placeholderSeed: Self.seed,
            realSeed: Self.realSeed
        )
    }

    @Test(arguments: [1, 2, 3, 17, 100, 1_000_000])
    func anySplitGivesTheRealChain(pieceSize: Int) throws {
        let input = SigV4TestSupport.chunkedBody(self.chunks, seed: Self.seed, signer: self.placeholderSigner)
        let expected = SigV4TestSupport.chunkedBody(self.chunks, seed: Self.realSeed, signer: self.realSigner)
        var resigner = self.resigner()
        let output = try SigV4TestSupport.feed(input, to: &resigner, pieceSize: pieceSize)
        #expect(output == expected)
        #expect(output.count == input.count)
    }

    @Test(arguments: [1, 5, 1_000_000])
    func trailerIsResigned(pieceSize: Int) throws {
        let trailers = ["x-amz-checksum-crc32c:sOO8/Q==", "x-amz-meta-extra:yes"]
        let input = SigV4TestSupport.chunkedBody(
            self.chunks, seed: Self.seed, signer: self.placeholderSigner, trailers: trailers
        )
        let expected = SigV4TestSupport.chunkedBody(
            self.chunks, seed: Self.realSeed, signer: self.realSigner, trailers: trailers
        )
        var resigner = self.resigner(trailer: true)
        #expect(try SigV4TestSupport.feed(input, to: &resigner, pieceSize: pieceSize) == expected)
    }

    @Test func chunkIsHeldUntilComplete() throws {
        let input = SigV4TestSupport.chunkedBody(self.chunks, seed: Self.seed, signer: self.placeholderSigner)
        var resigner = self.resigner()
        #expect(try resigner.feed(Array(input[..<500])) == [])
        let rest = try resigner.feed(Array(input[500...]))
        #expect(rest.count == input.count)
        #expect(try resigner.finish() == [])
    }

    @Test func trailerIsHeldUntilItsSignatureIsChecked() throws {
        let input = SigV4TestSupport.chunkedBody(
            [], seed: Self.seed, signer: self.placeholderSigner, trailers: ["x-amz-checksum-crc32:AAAAAA=="]
        )
        let cut = Self.index(of: "x-amz-trailer-signature:", in: input)
        var resigner = self.resigner(trailer: true)
        let first = try resigner.feed(Array(input[..<cut]))
        #expect(String(decoding: first, as: UTF8.self).hasPrefix("0;chunk-signature="))
        #expect(!String(decoding: first, as: UTF8.self).contains("crc32"))
        let second = try resigner.feed(Array(input[cut...]))
        #expect(first.count + second.count == input.count)
    }

    @Test func tamperedChunkIsRefused() throws {
        var input = SigV4TestSupport.chunkedBody(self.chunks, seed: Self.seed, signer: self.placeholderSigner)
        input[200] ^= 0x01
        var resigner = self.resigner()
        let error = try #require(throws: SigV4Error.self) {
            _ = try SigV4TestSupport.feed(input, to: &resigner, pieceSize: 64)
        }
        #expect(error == .chunkSignatureMismatch)
        #expect(error.httpStatus == 403)
        #expect(throws: SigV4Error.self) { try resigner.feed([0x30]) }
    }

    @Test func reorderedOrWronglySeededChunksAreRefused() throws {
        let otherSeed = SigV4TestSupport.chunkedBody(self.chunks, seed: Self.realSeed, signer: self.placeholderSigner)
        var resigner = self.resigner()
        #expect(throws: SigV4Error.chunkSignatureMismatch) {
            _ = try SigV4TestSupport.feed(otherSeed, to: &resigner, pieceSize: 4096)
        }
        let realKey = SigV4TestSupport.chunkedBody(self.chunks, seed: Self.seed, signer: self.realSigner)
        var second = self.resigner()
        #expect(throws: SigV4Error.chunkSignatureMismatch) {
            _ = try SigV4TestSupport.feed(realKey, to: &second, pieceSize: 4096)
        }
    }

    @Test func tamperedTrailerIsRefused() throws {
        let input = SigV4TestSupport.chunkedBody(
            self.chunks, seed: Self.seed, signer: self.placeholderSigner, trailers: ["x-amz-checksum-crc32c:sOO8/Q=="]
        )
        var tampered = input
        let value = Self.index(of: "sOO8/Q==", in: input)
        tampered[value + 6] = UInt8(ascii: "A")
        var resigner = self.resigner(trailer: true)
        #expect(throws: SigV4Error.chunkSignatureMismatch) {
            _ = try SigV4TestSupport.feed(tampered, to: &resigner, pieceSize: 4096)
        }
    }

    @Test func truncatedBodyIsIncomplete() throws {
        let input = SigV4TestSupport.chunkedBody(self.chunks, seed: Self.seed, signer: self.placeholderSigner)
        for cut in [0, 10, 500, input.count - 2, input.count - 1] {
            var resigner = self.resigner()
            let error = try #require(throws: SigV4Error.self) {
                _ = try SigV4TestSupport.feed(Array(input[..<cut]), to: &resigner, pieceSize: 100)
            }
            #expect(error == .incompleteBody)
        }
        let withTrailer = SigV4TestSupport.chunkedBody(
            self.chunks, seed: Self.seed, signer: self.placeholderSigner, trailers: ["x-amz-checksum-crc32c:AA=="]
        )
        let withoutSignature = Array(withTrailer[..<Self.index(of: "x-amz-trailer-signature", in: withTrailer)])
        var resigner = self.resigner(trailer: true)
        #expect(throws: SigV4Error.incompleteBody) {
            _ = try SigV4TestSupport.feed(withoutSignature, to: &resigner, pieceSize: 100)
        }
    }

    @Test func tooLargeChunkIsRefusedBeforeItsData() throws {
        var resigner = self.resigner()
        let size = String(SigV4ChunkResigner.maximumChunkSize + 1, radix: 16)
        let error = try #require(throws: SigV4Error.self) {
            _ = try resigner.feed(Array("\(size);chunk-signature=\(Self.seed)\r\n".utf8))
        }
        #expect(error == .chunkTooLarge)
        #expect(error.httpStatus == 413)
        var huge = self.resigner()
        #expect(throws: SigV4Error.chunkTooLarge) {
            _ = try huge.feed(Array("ffffffffffffffffffffffff;chunk-signature=\(Self.seed)\r\n".utf8))
        }
    }

    @Test(arguments: [
        "10;chunk-signature=abc\r\n",
        "zz;chunk-signature=\(String(repeating: "5e", count: 32))\r\n",
        "10\r\n",
        "10;chunk-signature=\(String(repeating: "5e", count: 32))\n",
        String(repeating: "0", count: 5000),
    ])
    func brokenFramingIsMalformed(text: String) throws {
        var resigner = self.resigner()
        let error = try #require(throws: SigV4Error.self) {
            _ = try SigV4TestSupport.feed(Array(text.utf8), to: &resigner, pieceSize: 3)
        }
        #expect(error.code == .malformedChunk)
        #expect(error.httpStatus == 400)
    }

    @Test func dataAfterTheEndOrTrailersWithoutTrailerModeAreMalformed() throws {
        let input = SigV4TestSupport.chunkedBody(self.chunks, seed: Self.seed, signer: self.placeholderSigner)
        var resigner = self.resigner()
        let error = try #require(throws: SigV4Error.self) {
            _ = try SigV4TestSupport.feed(input + [0x30], to: &resigner, pieceSize: 4096)
        }
        #expect(error.code == .malformedChunk)
        let withTrailer = SigV4TestSupport.chunkedBody(
            self.chunks, seed: Self.seed, signer: self.placeholderSigner, trailers: ["x-amz-checksum-crc32c:AA=="]
        )
        var plain = self.resigner()
        let trailerError = try #require(throws: SigV4Error.self) {
            _ = try SigV4TestSupport.feed(withTrailer, to: &plain, pieceSize: 4096)
        }
        #expect(trailerError.code == .malformedChunk)
    }

    @Test func missingDataCRLFIsMalformed() throws {
        var input = SigV4TestSupport.chunkedBody([[0x61, 0x62]], seed: Self.seed, signer: self.placeholderSigner)
        let header = input.firstIndex(of: 0x0A)!
        input[header + 3] = 0x58  // the CR after "ab"
        var resigner = self.resigner()
        let error = try #require(throws: SigV4Error.self) {
            _ = try SigV4TestSupport.feed(input, to: &resigner, pieceSize: 4096)
        }
        #expect(error.code == .malformedChunk)
    }
}
