import Foundation

@testable import KeyholeCore

/// SigV4, three ways (the first byte chooses):
/// - round trip: a generated request (method, path with dot segments and escapes, query, extra headers signed or
///   not, header or presigned-query authentication, X-Amz-Date or Date, every payload mode, with and without
///   session tokens) signed with placeholder keys must be detected, verified and re-signed; the result verifies
///   with the real keys and not with the placeholder's secret, recomputes to the same signature, keeps every byte
///   but the authentication, and holds neither placeholder secrets nor the real secret key; a streaming body then
///   re-signs chunk by chunk to exactly the real chain; any tampered copy of the request is refused;
/// - detection: fuzzed Authorization headers and presigned queries into ``SigV4Authorization/detect(in:)`` never
///   crash, what parses is well-formed, and a fuzzed signature never verifies;
/// - aws-chunked bodies into ``SigV4ChunkResigner`` (``SigV4ChunkFuzz``).
enum SigV4Fuzz {
    static let target = FuzzTarget(name: "sigv4", summary: "SigV4 detect/verify/re-sign round trips, fuzzed Authorization, aws-chunked bodies") {
        var input = FuzzBytes($0)
        switch input.byte() % 4 {
        case 0, 1: SigV4Fuzz.roundTrip(&input)
        case 2: SigV4Fuzz.detect(&input)
        default: SigV4ChunkFuzz.run(&input)
        }
    }

    static let timestamp = "20240517T093015Z"
    static let date = "20240517"
    static let placeholderKey = AWSCredentials(accessKeyID: "ASIAKEYHOLEFUZZ00001", secretAccessKey: "Pl4ceh0lder/Fuzz+Secret=Key", sessionToken: "Pl4ceh0lderFuzzToken0123")
    static let realKey = AWSCredentials(accessKeyID: "AKIAREALFUZZKEY00001", secretAccessKey: "rEaL/sEcReT+kEy=wJalrFuzz", sessionToken: "IQoJreal/fuzz+token==")
    static let pieces = ["..", ".", "%2F", "%7E", "~", "a b", "%", "%zz", "ü", "+", "=", "&", "//", ";", "*"]

    static func text(_ input: inout FuzzBytes, excluding: Set<UInt8>) -> String {
        (0..<input.int(0...3)).map { _ in input.bool() ? input.pick(Self.pieces) : input.text(upTo: 6, excluding: excluding) }
            .joined().filter { !$0.unicodeScalars.contains { excluding.contains(UInt8(truncatingIfNeeded: $0.value)) && $0.isASCII } }
    }

    static func roundTrip(_ input: inout FuzzBytes) {
        var placeholder = Self.placeholderKey
        var real = Self.realKey
        if input.bool() { placeholder.sessionToken = nil }
        if input.bool() { real.sessionToken = nil }
        let service = input.pick(["s3", "execute-api", "sts", "dynamodb"])
        let region = input.pick(["us-east-1", "eu-west-3", "us-gov-west-1"])
        let method = input.pick(["GET", "PUT", "POST", "DELETE", "HEAD"])
        let presigned = input.int(0...3) == 0
        let path = "/" + (0..<input.int(0...3)).map { _ in Self.text(&input, excluding: [0x20, 0x3F, 0x23, 0x0D, 0x0A, 0]) }.joined(separator: "/")
        var query: [String] = (0..<input.int(0...3)).compactMap { _ in
            let name = input.pick(["a", "list-type", "prefix", "acl", "%41", "b%20c", ""]) + Self.text(&input, excluding: [0x20, 0x26, 0x3D, 0x23, 0x0D, 0x0A, 0])
            guard !SigV4Signer.percentDecoded(name).hasPrefix("X-Amz-") else { return nil }
            return input.bool() ? name : name + "=" + Self.text(&input, excluding: [0x20, 0x26, 0x23, 0x0D, 0x0A, 0])
        }
        var headers = [RequestHead.Header(name: "Host", value: input.pick(["bucket.s3.amazonaws.com", "api.test"]))]
        var signed: Set<String> = ["host"]
        for _ in 0..<input.int(0...4) {
            let name = input.pick(["Content-Type", "X-Amz-Meta-Note", "x-amz-meta-note", "Range", "User-Agent", "X-Custom"])
            headers.append(.init(name: name, value: Self.text(&input, excluding: [0x0D, 0x0A, 0])))
            if input.int(0...3) != 0 { signed.insert(name.lowercased()) }
        }
        let streaming = ["STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"]
        var payload = input.pick([SigV4Signer.emptyHash, "UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", ""] + streaming)
        var bodyHash: String? = nil
        if payload.isEmpty || presigned {
            // No x-amz-content-sha256: the body's hash (header) or UNSIGNED-PAYLOAD / the empty body's (presigned).
            bodyHash = presigned ? (input.bool() ? SigV4Signer.emptyHash : nil) : SigV4Signer.sha256Hex(input.bytes(upTo: 8))
            payload = presigned ? (bodyHash != nil && input.bool() ? SigV4Signer.emptyHash : "UNSIGNED-PAYLOAD") : bodyHash!
        } else {
            headers.append(.init(name: "X-Amz-Content-SHA256", value: payload))
            signed.insert("x-amz-content-sha256")
        }
        let uriStyle = input.pick(SigV4Signer.URIStyle.allCases)
        let queryStyle = input.pick(SigV4Signer.QueryStyle.allCases)
        let signer = SigV4Signer(secretAccessKey: placeholder.secretAccessKey, timestamp: Self.timestamp, date: Self.date, region: region, service: service)
        let scope = "\(Self.date)/\(region)/\(service)/aws4_request"
        if presigned {
            query += ["X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Credential=" + PercentEncoding.encode("\(placeholder.accessKeyID)/\(scope)".utf8),
                "X-Amz-Date=\(Self.timestamp)", "X-Amz-Expires=900", "X-Amz-SignedHeaders=" + signed.sorted().joined(separator: "%3B")]
            if let token = placeholder.sessionToken { query.append("X-Amz-Security-Token=" + PercentEncoding.encode(token.utf8)) }
        } else {
            if input.int(0...5) == 0 {
                headers.append(.init(name: "Date", value: "Fri, 17 May 2024 09:30:15 GMT"))
                signed.insert("date")
            } else {
                headers.append(.init(name: "X-Amz-Date", value: Self.timestamp))
                signed.insert("x-amz-date")
            }
            if let token = placeholder.sessionToken {
                headers.append(.init(name: "X-Amz-Security-Token", value: token))
                signed.insert("x-amz-security-token")
            }
        }
        let signedHeaders = signed.sorted()
        var target = path + (query.isEmpty && !input.bool() ? "" : "?" + query.joined(separator: "&"))
        let split = SigV4Target(target)
        let canonical = SigV4Signer.canonicalRequest(
            method: method, uri: SigV4Signer.canonicalURI(split.path, style: uriStyle),
            query: SigV4Signer.canonicalQuery(split.parameters, style: queryStyle, excluding: presigned ? "X-Amz-Signature" : nil),
            canonicalHeaders: try! SigV4Signer.canonicalHeaders(headers, signed: signedHeaders), signedHeaders: signedHeaders, payloadHash: payload
        )
        let signature = signer.signature(canonicalRequest: canonical)
        if presigned {
            target += "&X-Amz-Signature=" + signature
        } else {
            headers.append(.init(name: "Authorization", value: "AWS4-HMAC-SHA256 Credential=\(placeholder.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders.joined(separator: ";")), Signature=\(signature)"))
        }
        let head = RequestHead(method: method, target: target, headers: headers)
        guard case .sigV4(let authorization) = SigV4Authorization.detect(in: head) else {
            FuzzCheck.fail("a request signed with placeholder keys is not detected: \(SigV4Authorization.detect(in: head)) \(fuzzShow(target))")
        }
        FuzzCheck.require(authorization.signature == signature && authorization.signedHeaders == signedHeaders, "detection misread the signature")
        let resigned: SigV4Resigned
        do {
            resigned = try SigV4Resigner(placeholder: placeholder, real: real).resign(head, authorization: authorization, bodyHash: bodyHash)
        } catch {
            FuzzCheck.fail("a correctly signed request was refused: \(error) (\(uriStyle), \(queryStyle), \(service), \(fuzzShow(target)))")
        }
        Self.checkResigned(resigned.head, original: head, placeholder: placeholder, real: real, presigned: presigned, bodyHash: bodyHash)
        guard case .sigV4(let after) = SigV4Authorization.detect(in: resigned.head) else { FuzzCheck.fail("the re-signed request is not SigV4") }
        if !presigned {
            let recomputed = SigV4Signer(secretAccessKey: real.secretAccessKey, timestamp: Self.timestamp, date: Self.date, region: region, service: service)
                .signature(canonicalRequest: SigV4Signer.canonicalRequest(
                    method: method, uri: SigV4Signer.canonicalURI(split.path, style: uriStyle),
                    query: SigV4Signer.canonicalQuery(split.parameters, style: queryStyle),
                    canonicalHeaders: try! SigV4Signer.canonicalHeaders(resigned.head.headers, signed: after.signedHeaders),
                    signedHeaders: after.signedHeaders, payloadHash: payload))
            FuzzCheck.require(recomputed == after.signature, "the real signature does not recompute")
        }
        if streaming.contains(payload) {
            guard var chunks = resigned.chunkResigner else { FuzzCheck.fail("a streaming request without a chunk resigner") }
            let data = (0..<input.int(0...3)).map { _ in input.bytes(upTo: 40) }.filter { !$0.isEmpty }
            let trailers = payload.hasSuffix("TRAILER") ? ["x-amz-checksum-crc32:AAAAAA=="] : nil
            let body = SigV4ChunkFuzz.body(data, seed: signature, signer: signer, trailers: trailers)
            let expected = SigV4ChunkFuzz.body(data, seed: after.signature, signer: SigV4ChunkFuzz.signer(real, region: region, service: service), trailers: trailers)
            let output = try? fuzzSplit(body, &input).reduce(into: [UInt8]()) { $0 += try chunks.feed($1) } + chunks.finish()
            FuzzCheck.require(output == expected, "the chunk-signed body does not come out in the real chain")
        }
        // Tampered copies never verify.
        var tampered = head
        switch input.int(0...2) {
        case 0: tampered.method += "X"
        case 1: tampered.target = path + "x" + target.dropFirst(path.count)
        default:
            guard let index = tampered.headers.firstIndex(where: { signed.contains($0.name.lowercased()) && $0.name != "X-Amz-Date" && $0.name != "Date" }) else { break }
            tampered.headers[index].value += "x"
        }
        if tampered != head, case .sigV4(let forged) = SigV4Authorization.detect(in: tampered) {
            let result = try? SigV4Resigner(placeholder: placeholder, real: real).resign(tampered, authorization: forged, bodyHash: bodyHash)
            FuzzCheck.require(result == nil, "a tampered request verified")
        }
    }

    static func checkResigned(_ out: RequestHead, original: RequestHead, placeholder: AWSCredentials, real: AWSCredentials, presigned: Bool, bodyHash: String?) {
        // What the fuzzer wrote itself (outside the authentication) may hold anything: it is not a leak.
        let authentication: Set<String> = ["authorization", "x-amz-security-token", "x-amz-credential"]
        var fuzzed = SigV4Target(original.target)
        fuzzed.parameters.removeAll { authentication.contains($0.decodedName.lowercased()) }
        let known = ([fuzzed.target, SigV4Signer.percentDecoded(fuzzed.target)]
            + original.headers.filter { !authentication.contains($0.name.lowercased()) }.map(\.value)).joined(separator: "\n")
        let everything = ([out.target, SigV4Signer.percentDecoded(out.target)] + out.headers.map(\.value)).joined(separator: "\n")
        for secret in [placeholder.secretAccessKey, real.secretAccessKey, Self.placeholderKey.sessionToken!, placeholder.accessKeyID]
        where !known.contains(secret) {
            FuzzCheck.require(!everything.contains(secret), "the re-signed request holds \(secret.prefix(4))…")
        }
        FuzzCheck.require(out.method == original.method && SigV4Target(out.target).path == SigV4Target(original.target).path, "re-signing changed the method or path")
        let changing: Set<String> = ["authorization", "x-amz-security-token"]
        FuzzCheck.require(out.headers.filter { !changing.contains($0.name.lowercased()) } == original.headers.filter { !changing.contains($0.name.lowercased()) },
            "re-signing changed a header it should keep")
        if presigned {
            let kept = SigV4Target(out.target).parameters.filter { !["X-Amz-Credential", "X-Amz-Security-Token", "X-Amz-Signature"].contains($0.decodedName) }
            let before = SigV4Target(original.target).parameters.filter { !["X-Amz-Credential", "X-Amz-Security-Token", "X-Amz-Signature"].contains($0.decodedName) }
            FuzzCheck.require(kept == before, "re-signing changed a query parameter it should keep")
            let tokens = SigV4Target(out.target).parameters.filter { $0.decodedName == "X-Amz-Security-Token" }.map(\.decodedValue)
            FuzzCheck.require(tokens == (real.sessionToken.map { [$0] } ?? []), "the presigned token is not the real one")
        } else {
            FuzzCheck.require(out.target == original.target, "re-signing changed the target")
            let tokens = out.headers.filter { $0.name.lowercased() == "x-amz-security-token" }.map(\.value)
            FuzzCheck.require(tokens == (real.sessionToken.map { [$0] } ?? []), "the token header is not the real one")
        }
        guard case .sigV4(let after) = SigV4Authorization.detect(in: out), after.accessKeyID == real.accessKeyID else {
            FuzzCheck.fail("the re-signed request does not carry the real access key id")
        }
        let verifies = { (key: AWSCredentials) in
            (try? SigV4Resigner(placeholder: key, real: Self.placeholderKey).resign(out, authorization: after, bodyHash: bodyHash)) != nil
        }
        FuzzCheck.require(verifies(real), "the re-signed request does not verify with the real keys")
        var wrong = real
        wrong.secretAccessKey = placeholder.secretAccessKey
        FuzzCheck.require(!verifies(wrong), "the re-signed request verifies with the placeholder secret")
    }

    /// Fuzzed authentication: detection never crashes, what it accepts is well-formed, and nothing verifies.
    static func detect(_ input: inout FuzzBytes) {
        var headers: [RequestHead.Header] = []
        for _ in 0..<input.int(0...2) {
            let prefix = input.pick(["AWS4-HMAC-SHA256 ", "AWS4-ECDSA-P256-SHA256 ", "AWS4-", " AWS4-HMAC-SHA256\t", ""])
            headers.append(.init(name: input.pick(["Authorization", "authorization"]), value: prefix + input.text(upTo: 200)))
        }
        if input.bool() { headers.append(.init(name: "X-Amz-Date", value: input.bool() ? Self.timestamp : input.text(upTo: 20))) }
        if input.bool() { headers.append(.init(name: "Date", value: input.text(upTo: 40))) }
        _ = SigV4Resigner.basicTimestamp(httpDate: input.text(upTo: 40))
        let head = RequestHead(method: "GET", target: "/" + input.text(upTo: 200), headers: headers + [.init(name: "Host", value: "s3.test")])
        guard case .sigV4(let authorization) = SigV4Authorization.detect(in: head) else { return }
        FuzzCheck.require(SigV4Signer.isLowercaseHash(authorization.signature), "a detected signature is not 64 lowercase hex")
        FuzzCheck.require(!authorization.signedHeaders.isEmpty && Set(authorization.signedHeaders).count == authorization.signedHeaders.count,
            "detected signed headers are empty or repeat")
        FuzzCheck.require(authorization.date.utf8.count == 8 && authorization.date.allSatisfy(\.isASCIIDigit), "a detected date is not yyyymmdd")
        let key = AWSCredentials(accessKeyID: authorization.accessKeyID, secretAccessKey: "fuzz", sessionToken: nil)
        let bodyHash = input.bool() ? SigV4Signer.emptyHash : input.text(upTo: 64)
        let resigned = try? SigV4Resigner(placeholder: key, real: Self.realKey).resign(head, authorization: authorization, bodyHash: bodyHash)
        FuzzCheck.require(resigned == nil, "a fuzzed signature verified")
    }
}
