import Crypto

/// Checks a request's SigV4 signature with a session's placeholder credentials and signs the same request again
/// with the real ones, keeping the canonical form the client used.
///
/// Clients canonicalize paths and queries differently (S3 signs the path as sent, botocore's `SigV4Auth`
/// normalizes and encodes it again, …), so verification tries each form (``SigV4Signer/URIStyle``,
/// ``SigV4Signer/QueryStyle``, and for presigned URLs each payload hash) until the placeholder signature
/// matches, then re-signs in that same form. AWS recomputes its own form, so a request only succeeds upstream
/// when the client's form was the right one, as it would without keyhole.
public struct SigV4Resigner: Sendable, CustomStringConvertible, CustomReflectable {
    private let placeholder: AWSCredentials
    private let real: AWSCredentials

    static let tokenHeader = "x-amz-security-token"
    static let tokenParameter = "X-Amz-Security-Token"
    static let signatureParameter = "X-Amz-Signature"
    static let credentialParameter = "X-Amz-Credential"

    /// The payload hash of an empty body.
    public static let emptyPayloadHash = SigV4Signer.emptyHash

    /// The lowercase-hex SHA-256 of a body, as `resign(_:authorization:bodyHash:)` takes it.
    public static func payloadHash(_ body: UnsafeRawBufferPointer) -> String {
        SigV4Signer.hex(SHA256.hash(data: body))
    }

    public init(placeholder: AWSCredentials, real: AWSCredentials) {
        self.placeholder = placeholder
        self.real = real
    }

    /// The canonical form that verified, reused to sign with the real credentials.
    private struct Form {
        /// The canonical URI (the path does not change when re-signing).
        var uri: String
        var queryStyle: SigV4Signer.QueryStyle
        var payloadHash: String
    }

    /// Verifies `head`'s signature with the placeholder credentials, then returns it signed with the real ones.
    ///
    /// - Parameter bodyHash: lowercase-hex SHA-256 of the body. Required for ``SigV4PayloadMode/bodyHash``. For
    ///   ``SigV4PayloadMode/presigned`` pass the hash of the empty body when the body is known to be empty,
    ///   else `nil` (then only `UNSIGNED-PAYLOAD` is tried). Ignored otherwise.
    /// - Throws: ``SigV4Error/signatureMismatch`` when the access key id is not the placeholder's or no
    ///   canonical form gives the request's signature; `malformed` for a missing date, signed header, ….
    public func resign(
        _ head: RequestHead, authorization: SigV4Authorization, bodyHash: String?
    ) throws(SigV4Error) -> SigV4Resigned {
        guard authorization.accessKeyID == self.placeholder.accessKeyID else {
            throw SigV4Error.signatureMismatch
        }
        let target = SigV4Target(head.target)
        let timestamp = try Self.timestamp(of: head, target: target, location: authorization.location)
        let mode = SigV4PayloadMode.of(head, authorization: authorization)
        let payloadHashes = try Self.payloadHashes(of: head, mode: mode, bodyHash: bodyHash)
        let verifier = SigV4Signer(
            secretAccessKey: self.placeholder.secretAccessKey, timestamp: timestamp, date: authorization.date,
            region: authorization.region, service: authorization.service
        )
        let signer = SigV4Signer(
            secretAccessKey: self.real.secretAccessKey, timestamp: timestamp, date: authorization.date,
            region: authorization.region, service: authorization.service
        )
        let form = try Self.verifiedForm(
            head, target: target, authorization: authorization, payloadHashes: payloadHashes, verifier: verifier
        )
        var resigned = head
        let signature: String
        switch authorization.location {
        case .header:
            signature = try self.resignHeader(&resigned, authorization: authorization, form: form, signer: signer)
        case .query:
            signature = try self.resignQuery(
                &resigned, target: target, authorization: authorization, form: form, signer: signer
            )
        }
        var chunkResigner: SigV4ChunkResigner?
        if case .streamingSigned(let trailer) = mode {
            chunkResigner = SigV4ChunkResigner(
                trailer: trailer, verifier: verifier, signer: signer, placeholderSeed: authorization.signature,
                realSeed: signature
            )
        }
        return SigV4Resigned(head: resigned, chunkResigner: chunkResigner)
    }

    /// The first canonical form whose placeholder signature is the request's, compared in constant time.
    private static func verifiedForm(
        _ head: RequestHead, target: SigV4Target, authorization: SigV4Authorization, payloadHashes: [String],
        verifier: SigV4Signer
    ) throws(SigV4Error) -> Form {
        let canonicalHeaders = try SigV4Signer.canonicalHeaders(head.headers, signed: authorization.signedHeaders)
        let excluded = authorization.location == .query ? Self.signatureParameter : nil
        var tried: Set<String> = []
        for uriStyle in SigV4Signer.uriStyles(service: authorization.service) {
            let uri = SigV4Signer.canonicalURI(target.path, style: uriStyle)
            for queryStyle in SigV4Signer.QueryStyle.allCases {
                let query = SigV4Signer.canonicalQuery(target.parameters, style: queryStyle, excluding: excluded)
                for payloadHash in payloadHashes {
                    let request = SigV4Signer.canonicalRequest(
                        method: head.method, uri: uri, query: query, canonicalHeaders: canonicalHeaders,
                        signedHeaders: authorization.signedHeaders, payloadHash: payloadHash
                    )
                    guard tried.insert(request).inserted else {
                        continue
                    }
                    let signature = verifier.signature(canonicalRequest: request)
                    if SigV4Signer.constantTimeEquals(signature, authorization.signature) {
                        return Form(uri: uri, queryStyle: queryStyle, payloadHash: payloadHash)
                    }
                }
            }
        }
        throw SigV4Error.signatureMismatch
    }

    /// Sets the real session token header (or removes it), re-signs, and replaces the Authorization value.
    private func resignHeader(
        _ head: inout RequestHead, authorization: SigV4Authorization, form: Form, signer: SigV4Signer
    ) throws(SigV4Error) -> String {
        var signedHeaders = authorization.signedHeaders
        let isToken: (RequestHead.Header) -> Bool = { $0.name.lowercased() == Self.tokenHeader }
        if let token = self.real.sessionToken {
            if let first = head.headers.firstIndex(where: isToken) {
                head.headers[first].value = token
                head.headers = head.headers.enumerated().filter { $0.offset == first || !isToken($0.element) }
                    .map(\.element)
            } else {
                head.headers.append(RequestHead.Header(name: "X-Amz-Security-Token", value: token))
            }
            if !signedHeaders.contains(Self.tokenHeader) {
                let position = signedHeaders.firstIndex { $0 > Self.tokenHeader } ?? signedHeaders.endIndex
                signedHeaders.insert(Self.tokenHeader, at: position)
            }
        } else {
            head.headers.removeAll(where: isToken)
            signedHeaders.removeAll { $0 == Self.tokenHeader }
        }
        let query = SigV4Signer.canonicalQuery(SigV4Target(head.target).parameters, style: form.queryStyle)
        let request = SigV4Signer.canonicalRequest(
            method: head.method, uri: form.uri, query: query,
            canonicalHeaders: try SigV4Signer.canonicalHeaders(head.headers, signed: signedHeaders),
            signedHeaders: signedHeaders, payloadHash: form.payloadHash
        )
        let signature = signer.signature(canonicalRequest: request)
        let value = "\(SigV4Authorization.algorithm) Credential=\(self.real.accessKeyID)/\(authorization.scope), "
            + "SignedHeaders=\(signedHeaders.joined(separator: ";")), Signature=\(signature)"
        for index in head.headers.indices where head.headers[index].name.lowercased() == "authorization" {
            head.headers[index].value = value
        }
        return signature
    }

    /// Replaces X-Amz-Credential, sets (or removes) X-Amz-Security-Token, re-signs and replaces X-Amz-Signature;
    /// every other parameter keeps its bytes and place.
    private func resignQuery(
        _ head: inout RequestHead, target: SigV4Target, authorization: SigV4Authorization, form: Form,
        signer: SigV4Signer
    ) throws(SigV4Error) -> String {
        var target = target
        let credential = "\(self.real.accessKeyID)/\(authorization.scope)"
        for index in target.indices(named: Self.credentialParameter) {
            target.parameters[index].value = PercentEncoding.encode(credential.utf8)
        }
        let tokens = target.indices(named: Self.tokenParameter)
        if let token = self.real.sessionToken {
            let encoded = PercentEncoding.encode(token.utf8)
            if let first = tokens.first {
                target.parameters[first].value = encoded
                for index in tokens.dropFirst().reversed() {
                    target.parameters.remove(at: index)
                }
            } else {
                let position = target.indices(named: Self.signatureParameter).first ?? target.parameters.endIndex
                target.parameters.insert(.init(name: Self.tokenParameter, value: encoded), at: position)
            }
        } else {
            for index in tokens.reversed() {
                target.parameters.remove(at: index)
            }
        }
        let query = SigV4Signer.canonicalQuery(
            target.parameters, style: form.queryStyle, excluding: Self.signatureParameter
        )
        let request = SigV4Signer.canonicalRequest(
            method: head.method, uri: form.uri, query: query,
            canonicalHeaders: try SigV4Signer.canonicalHeaders(head.headers, signed: authorization.signedHeaders),
            signedHeaders: authorization.signedHeaders, payloadHash: form.payloadHash
        )
        let signature = signer.signature(canonicalRequest: request)
        for index in target.indices(named: Self.signatureParameter) {
            target.parameters[index].value = signature
        }
        head.target = target.target
        return signature
    }

    /// The payload hashes to try for `mode`.
    private static func payloadHashes(
        of head: RequestHead, mode: SigV4PayloadMode, bodyHash: String?
    ) throws(SigV4Error) -> [String] {
        let declared = head.headers.filter { $0.name.lowercased() == "x-amz-content-sha256" }
        guard declared.count <= 1 else {
            throw SigV4Error.malformed("the request has more than one x-amz-content-sha256 header")
        }
        let bodyHash = bodyHash?.lowercased()
        let bodyHashIsValid = bodyHash.map(SigV4Signer.isLowercaseHash) ?? true
        switch mode {
        case .declared(let value):
            return [value]
        case .streamingSigned(let trailer):
            return [trailer ? SigV4PayloadMode.streamingPayloadTrailer : SigV4PayloadMode.streamingPayload]
        case .bodyHash:
            guard let hash = bodyHash, bodyHashIsValid else {
                throw SigV4Error.bodyHashRequired
            }
            return [hash]
        case .presigned:
            guard bodyHashIsValid else {
                throw SigV4Error.bodyHashRequired
            }
            return [SigV4PayloadMode.unsignedPayload] + (bodyHash.map { [$0] } ?? [])
        }
    }

    /// The request time as signed: X-Amz-Date (header or query), else the Date header in basic ISO 8601.
    static func timestamp(
        of head: RequestHead, target: SigV4Target, location: SigV4Authorization.Location
    ) throws(SigV4Error) -> String {
        let value: String
        switch location {
        case .query:
            let indices = target.indices(named: "X-Amz-Date")
            guard indices.count == 1 else {
                throw SigV4Error.malformed("the query needs exactly one X-Amz-Date")
            }
            value = target.parameters[indices[0]].decodedValue
        case .header:
            let dates = head.headers.filter { $0.name.lowercased() == "x-amz-date" }
            guard dates.count <= 1 else {
                throw SigV4Error.malformed("the request has more than one X-Amz-Date header")
            }
            if let date = dates.first {
                value = SigV4Authorization.trimmed(date.value)
            } else if let date = head.headers.first(where: { $0.name.lowercased() == "date" }),
                let converted = Self.basicTimestamp(httpDate: date.value)
            {
                value = converted
            } else {
                throw SigV4Error.malformed("the request has no X-Amz-Date header and no usable Date header")
            }
        }
        let bytes = Array(value.utf8)
        let digits = bytes.enumerated().allSatisfy { index, byte in
            index == 8 || index == 15 || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        }
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z"), digits else {
            throw SigV4Error.malformed("X-Amz-Date is not yyyymmddThhmmssZ")
        }
        return value
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Sun, 30 Aug 2015 12:36:00 GMT` (or `-0000`, `+0000`, `UTC`) as `20150830T123600Z`: botocore signs
    /// with a Date header instead of X-Amz-Date when the request already has one.
    static func basicTimestamp(httpDate: String) -> String? {
        let parts = httpDate.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard parts.count == 6, parts[0].hasSuffix(","), ["GMT", "UTC", "UT", "Z", "+0000", "-0000"].contains(parts[5]),
            let day = Int(parts[1]), (1...31).contains(day), parts[1].count <= 2,
            let month = Self.months.firstIndex(of: parts[2]),
            parts[3].count == 4, Int(parts[3]) != nil
        else {
            return nil
        }
        let time = parts[4].split(separator: ":", omittingEmptySubsequences: false)
        guard time.count == 3, time.allSatisfy({ $0.count == 2 && Int($0) != nil }) else {
            return nil
        }
        let twoDigits: (Int) -> String = { $0 < 10 ? "0\($0)" : "\($0)" }
        return "\(parts[3])\(twoDigits(month + 1))\(twoDigits(day))T\(time.joined())Z"
    }

    public var description: String {
        "SigV4Resigner(placeholder: \(self.placeholder.accessKeyID), real: \(self.real.accessKeyID))"
    }

    public var customMirror: Mirror {
        Mirror(self, children: ["placeholder": self.placeholder.accessKeyID, "real": self.real.accessKeyID])
    }
}
