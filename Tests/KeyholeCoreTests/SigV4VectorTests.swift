import Testing

@testable import KeyholeCore

/// Published vectors: AWS's SigV4 test suite (also checked against botocore) and the S3 chunked-upload examples
/// of the AWS documentation ("sigv4-streaming", "sigv4-streaming-trailers").
@Suite struct SigV4VectorTests {
    static let suite = AWSCredentials(
        accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: nil
    )
    static let other = AWSCredentials(accessKeyID: "AKIDOTHER", secretAccessKey: "other", sessionToken: nil)

    struct Vector: Sendable, CustomStringConvertible {
        var name: String
        var method = "GET"
        var target = "/"
        var headers: [(String, String)] = []
        var signedHeaders = "host;x-amz-date"
        var signature: String
        var bodyHash: String? = SigV4Signer.emptyHash
        var sessionToken: String?

        var description: String { self.name }

        var head: RequestHead {
            let authorization = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=\(self.signedHeaders), Signature=\(self.signature)"
            let all = [("Host", "example.amazonaws.com")] + self.headers
                + [("X-Amz-Date", "20150830T123600Z"), ("Authorization", authorization)]
            return RequestHead(
                method: self.method, target: self.target, headers: all.map { .init(name: $0.0, value: $0.1) }
            )
        }
    }

    static let vectors: [Vector] = [
        Vector(name: "get-vanilla", signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        Vector(
            name: "get-vanilla-query-order-key-case", target: "/?Param2=value2&Param1=value1",
            signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        ),
        Vector(
            name: "get-vanilla-query-order-key", target: "/?Param1=value2&Param1=Value1",
            signature: "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"
        ),
        Vector(
            name: "get-vanilla-empty-query-key", target: "/?Param1=value1",
            signature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"
        ),
        Vector(
            name: "get-vanilla-query-unreserved",
            target: "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
                + "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"
        ),
        Vector(
            name: "get-utf8", target: "/%E1%88%B4",
            signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"
        ),
        Vector(
            name: "get-header-key-duplicate",
            headers: [("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")],
            signedHeaders: "host;my-header1;x-amz-date",
            signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"
        ),
        Vector(
            name: "get-header-value-trim", headers: [("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
            signedHeaders: "host;my-header1;my-header2;x-amz-date",
            signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"
        ),
        Vector(
            name: "get-vanilla-with-session-token",
            headers: [("X-Amz-Security-Token", "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267")],
            signedHeaders: "host;x-amz-date;x-amz-security-token",
            signature: "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
            sessionToken: "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
        ),
        Vector(
            name: "post-x-www-form-urlencoded", method: "POST",
            headers: [("Content-Type", "application/x-www-form-urlencoded")],
            signedHeaders: "content-type;host;x-amz-date",
            signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
            bodyHash: SigV4Signer.sha256Hex(Array("Param1=value1".utf8))
        ),
    ]

    @Test(arguments: SigV4VectorTests.vectors)
    func testSuiteVectorVerifies(_ vector: Vector) throws {
        let head = vector.head
        let authorization = try #require(SigV4TestSupport.authorization(head))
        #expect(authorization.accessKeyID == "AKIDEXAMPLE")
        #expect(authorization.date == "20150830")
        #expect(authorization.service == "service")
        #expect(SigV4PayloadMode.of(head, authorization: authorization) == .bodyHash)

        // Re-signing with the very same keys must reproduce the published request byte for byte.
        var suite = Self.suite
        suite.sessionToken = vector.sessionToken
        let same = SigV4Resigner(placeholder: suite, real: suite)
        let resigned = try same.resign(head, authorization: authorization, bodyHash: vector.bodyHash)
        #expect(resigned.head == head)
        #expect(resigned.chunkResigner == nil)

        let wrong = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "not-the-key", sessionToken: nil)
        #expect(throws: SigV4Error.signatureMismatch) {
            try SigV4Resigner(placeholder: wrong, real: Self.other)
                .resign(head, authorization: authorization, bodyHash: vector.bodyHash)
        }
    }

    @Test func formBodyWithAnotherHashDoesNotVerify() throws {
        let vector = Self.vectors.last!
        let authorization = try #require(SigV4TestSupport.authorization(vector.head))
        #expect(throws: SigV4Error.signatureMismatch) {
            try SigV4Resigner(placeholder: Self.suite, real: Self.other)
                .resign(vector.head, authorization: authorization, bodyHash: SigV4Signer.emptyHash)
        }
        #expect(throws: SigV4Error.bodyHashRequired) {
            try SigV4Resigner(placeholder: Self.suite, real: Self.other)
                .resign(vector.head, authorization: authorization, bodyHash: nil)
        }
    }

    // MARK: - S3 chunked upload examples (AWS documentation)

    static let s3Example = AWSCredentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        sessionToken: nil
    )

    static func chunkedHead(trailer: Bool) -> RequestHead {
        let signedHeaders = trailer
            ? "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
                + "x-amz-storage-class;x-amz-trailer"
            : "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
                + "x-amz-storage-class"
        let seed = trailer
            ? "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
            : "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        var headers = [
            ("Host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                    + "SignedHeaders=\(signedHeaders),Signature=\(seed)"
            ),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + (trailer ? "-TRAILER" : "")),
            ("Content-Encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
        ]
        headers.append(trailer ? ("x-amz-trailer", "x-amz-checksum-crc32c") : ("Content-Length", "66824"))
        return RequestHead(
            method: "PUT", target: "/examplebucket/chunkObject.txt",
            headers: headers.map { .init(name: $0.0, value: $0.1) }
        )
    }

    static func chunkedBody(trailer: Bool, blankLineBeforeTrailer: Bool = false) -> [UInt8] {
        let signatures = trailer
            ? [
                "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
                "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
                "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
            ]
            : [
                "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
            ]
        let a = UInt8(ascii: "a")
        var body = Array("10000;chunk-signature=\(signatures[0])\r\n".utf8) + Array(repeating: a, count: 65536)
        body += Array("\r\n400;chunk-signature=\(signatures[1])\r\n".utf8) + Array(repeating: a, count: 1024)
        body += Array("\r\n0;chunk-signature=\(signatures[2])\r\n".utf8)
        if trailer {
            body += Array((blankLineBeforeTrailer ? "\r\n" : "").utf8)
            body += Array("x-amz-checksum-crc32c:sOO8/Q==\r\n".utf8)
            body += Array("x-amz-trailer-signature:".utf8)
            body += Array("d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n".utf8)
        } else {
            body += Array("\r\n".utf8)
        }
        return body
    }

    @Test func s3ChunkedExampleSeedAndChunksVerify() throws {
        let head = Self.chunkedHead(trailer: false)
        let body = Self.chunkedBody(trailer: false)
        #expect(body.count == 66824)
        let authorization = try #require(SigV4TestSupport.authorization(head))
        #expect(SigV4PayloadMode.of(head, authorization: authorization) == .streamingSigned(trailer: false))
        for pieceSize in [body.count, 1, 7, 8192] {
            let resigned = try SigV4Resigner(placeholder: Self.s3Example, real: Self.s3Example)
                .resign(head, authorization: authorization, bodyHash: nil)
            // Only the Authorization value's spacing changes (", " between its parts); the signature stays.
            let isAuthorization: (RequestHead.Header) -> Bool = { $0.name == "Authorization" }
            let unchanged = head.headers.filter { !isAuthorization($0) }
            #expect(resigned.head.headers.filter { !isAuthorization($0) } == unchanged)
            let value = SigV4TestSupport.header("Authorization", in: resigned.head)
            #expect(value?.hasSuffix("Signature=\(authorization.signature)") == true)
            var chunks = try #require(resigned.chunkResigner)
            #expect(try SigV4TestSupport.feed(body, to: &chunks, pieceSize: pieceSize) == body)
        }
    }

    @Test(arguments: [false, true])
    func s3TrailerExampleVerifies(blankLineBeforeTrailer: Bool) throws {
        let head = Self.chunkedHead(trailer: true)
        let body = Self.chunkedBody(trailer: true, blankLineBeforeTrailer: blankLineBeforeTrailer)
        let authorization = try #require(SigV4TestSupport.authorization(head))
        #expect(SigV4PayloadMode.of(head, authorization: authorization) == .streamingSigned(trailer: true))
        for pieceSize in [body.count, 1, 1000] {
            let resigned = try SigV4Resigner(placeholder: Self.s3Example, real: Self.s3Example)
                .resign(head, authorization: authorization, bodyHash: nil)
            var chunks = try #require(resigned.chunkResigner)
            #expect(try SigV4TestSupport.feed(body, to: &chunks, pieceSize: pieceSize) == body)
        }
    }

    @Test func s3ChunkedExampleResignedWithOtherKeysVerifiesWithThem() throws {
        let head = Self.chunkedHead(trailer: true)
        let body = Self.chunkedBody(trailer: true)
        let authorization = try #require(SigV4TestSupport.authorization(head))
        let real = SigV4TestSupport.real
        let resigned = try SigV4Resigner(placeholder: Self.s3Example, real: real)
            .resign(head, authorization: authorization, bodyHash: nil)
        var chunks = try #require(resigned.chunkResigner)
        let output = try SigV4TestSupport.feed(body, to: &chunks, pieceSize: 4096)
        #expect(output.count == body.count)
        #expect(output != body)

        // The output is a valid body for the real keys: a resigner whose "placeholder" is the real key accepts it.
        let realAuthorization = try #require(SigV4TestSupport.authorization(resigned.head))
        #expect(realAuthorization.accessKeyID == real.accessKeyID)
        let again = try SigV4Resigner(placeholder: real, real: Self.s3Example)
            .resign(resigned.head, authorization: realAuthorization, bodyHash: nil)
        var check = try #require(again.chunkResigner)
        #expect(try SigV4TestSupport.feed(output, to: &check, pieceSize: 65536) == body)
    }
}
