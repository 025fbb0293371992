@testable import KeyholeCore

/// Builds SigV4-signed requests and aws-chunked bodies for the SigV4 tests, with the same internal signer the
/// resigner uses (the published vectors and botocore check that signer independently).
enum SigV4TestSupport {
    static let timestamp = "20240517T093015Z"
    static let date = "20240517"

    static let placeholder = AWSCredentials(
        accessKeyID: "ASIAKEYHOLETEST00001", secretAccessKey: "Pl4ceh0lderSecretKeyAbcdefGhijklMnopqrSt",
        sessionToken: "Pl4ceh0lderSessionToken0123456789"
    )
    static let real = AWSCredentials(
        accessKeyID: "AKIAREALACCESSKEY001", secretAccessKey: "rEaL/sEcReT+kEy=wJalrXUtnFEMI/K7MDENG+bP",
        sessionToken: "IQoJb3JpZ2luX2VjEJr//////////wEaCX+real/token=="
    )

    /// `headers` plus X-Amz-Date, X-Amz-Security-Token (when `credentials` has one) and an Authorization header
    /// signing all of them, the path encoded as botocore's `SigV4Auth` does unless `uriStyle` says otherwise.
    static func signed(
        method: String = "GET", target: String = "/", headers: [(String, String)] = [("Host", "api.example.com")],
        credentials: AWSCredentials, region: String = "us-east-1", service: String = "execute-api",
        payloadHash: String? = SigV4Signer.emptyHash, uriStyle: SigV4Signer.URIStyle = .normalizedEncoded,
        queryStyle: SigV4Signer.QueryStyle = .reencoded
    ) -> RequestHead {
        var all = headers.map { RequestHead.Header(name: $0.0, value: $0.1) }
        all.append(.init(name: "X-Amz-Date", value: Self.timestamp))
        if let token = credentials.sessionToken {
            all.append(.init(name: "X-Amz-Security-Token", value: token))
        }
        let signedHeaders = Array(Set(all.map { $0.name.lowercased() })).sorted()
        let split = SigV4Target(target)
        let signer = SigV4Signer(
            secretAccessKey: credentials.secretAccessKey, timestamp: Self.timestamp, date: Self.date, region: region,
            service: service
        )
        let hash = payloadHash ?? all.first { $0.name.lowercased() == "x-amz-content-sha256" }!.value
        let request = SigV4Signer.canonicalRequest(
            method: method, uri: SigV4Signer.canonicalURI(split.path, style: uriStyle),
            query: SigV4Signer.canonicalQuery(split.parameters, style: queryStyle),
            canonicalHeaders: try! SigV4Signer.canonicalHeaders(all, signed: signedHeaders),
            signedHeaders: signedHeaders, payloadHash: hash
        )
        let signature = signer.signature(canonicalRequest: request)
        all.append(
            .init(
                name: "Authorization",
                value: "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(Self.date)/\(region)/\(service)/"
                    + "aws4_request, SignedHeaders=\(signedHeaders.joined(separator: ";")), Signature=\(signature)"
            )
        )
        return RequestHead(method: method, target: target, headers: all)
    }

    /// A presigned URL for `path` (with `query` before the X-Amz-* parameters) as botocore's SigV4QueryAuth
    /// lays it out, signing the Host header and `payloadHash`.
    static func presigned(
        method: String = "GET", path: String = "/", query: String? = nil, host: String = "bucket.s3.amazonaws.com",
        credentials: AWSCredentials, service: String = "s3", payloadHash: String = "UNSIGNED-PAYLOAD"
    ) -> RequestHead {
        let headers = [RequestHead.Header(name: "Host", value: host)]
        let scope = "\(credentials.accessKeyID)/\(Self.date)/us-east-1/\(service)/aws4_request"
        var parts = query.map { [$0] } ?? []
        parts.append("X-Amz-Algorithm=AWS4-HMAC-SHA256")
        parts.append("X-Amz-Credential=" + PercentEncoding.encode(scope.utf8))
        parts.append("X-Amz-Date=\(Self.timestamp)")
        parts.append("X-Amz-Expires=900")
        parts.append("X-Amz-SignedHeaders=host")
        if let token = credentials.sessionToken {
            parts.append("X-Amz-Security-Token=" + PercentEncoding.encode(token.utf8))
        }
        let target = path + "?" + parts.joined(separator: "&")
        let signer = SigV4Signer(
            secretAccessKey: credentials.secretAccessKey, timestamp: Self.timestamp, date: Self.date,
            region: "us-east-1", service: service
        )
        let request = SigV4Signer.canonicalRequest(
            method: method, uri: SigV4Signer.canonicalURI(path, style: service == "s3" ? .asSent : .normalizedEncoded),
            query: SigV4Signer.canonicalQuery(SigV4Target(target).parameters, style: .asSent),
            canonicalHeaders: try! SigV4Signer.canonicalHeaders(headers, signed: ["host"]), signedHeaders: ["host"],
            payloadHash: payloadHash
        )
        let signature = signer.signature(canonicalRequest: request)
        return RequestHead(method: method, target: target + "&X-Amz-Signature=\(signature)", headers: headers)
    }

    /// The detected authorization of `head`, which must be SigV4.
    static func authorization(_ head: RequestHead) -> SigV4Authorization? {
        if case .sigV4(let authorization) = SigV4Authorization.detect(in: head) {
            return authorization
        }
        return nil
    }

    /// An aws-chunked body of `chunks` (a final 0-size chunk is added) signed from `seed`, with `trailers`
    /// (lines `name:value`) and their signature when given.
    static func chunkedBody(
        _ chunks: [[UInt8]], seed: String, signer: SigV4Signer, trailers: [String]? = nil
    ) -> [UInt8] {
        var body: [UInt8] = []
        var previous = seed
        for chunk in chunks + [[]] {
            previous = signer.chunkSignature(previous: previous, dataHash: SigV4Signer.sha256Hex(chunk))
            body += Array("\(String(chunk.count, radix: 16));chunk-signature=\(previous)\r\n".utf8)
            if !chunk.isEmpty || trailers == nil {
                body += chunk + Array("\r\n".utf8)
            }
        }
        if let trailers {
            let text = trailers.map { $0 + "\n" }.joined()
            let signature = signer.trailerSignature(
                previous: previous, trailerHash: SigV4Signer.sha256Hex(Array(text.utf8))
            )
            body += Array((trailers.map { $0 + "\r\n" }.joined() + "x-amz-trailer-signature:\(signature)\r\n\r\n").utf8)
        }
        return body
    }

    /// Feeds `body` to `resigner` in pieces of `pieceSize` bytes and finishes it.
    static func feed(
        _ body: [UInt8], to resigner: inout SigV4ChunkResigner, pieceSize: Int
    ) throws(SigV4Error) -> [UInt8] {
        var output: [UInt8] = []
        var start = 0
        while start < body.count {
            let end = min(start + pieceSize, body.count)
            output += try resigner.feed(Array(body[start..<end]))
            start = end
        }
        output += try resigner.finish()
        return output
    }

    /// The value of the first header called `name` (case-insensitive).
    static func header(_ name: String, in head: RequestHead) -> String? {
        head.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}
