import Testing

@testable import KeyholeCore

/// Round trips through ``SigV4Resigner``: placeholder-signed in, real-signed out, checked with the real keys.
@Suite struct SigV4ResignerTests {
    let placeholder = SigV4TestSupport.placeholder
    let real = SigV4TestSupport.real

    /// Verifies `head` with `credentials` (a resigner whose placeholder is them) and returns the authorization.
    func verifies(_ head: RequestHead, with credentials: AWSCredentials, bodyHash: String? = nil) -> Bool {
        guard let authorization = SigV4TestSupport.authorization(head) else {
            return false
        }
        let other = AWSCredentials(accessKeyID: "AKIDOTHER", secretAccessKey: "x", sessionToken: nil)
        return (try? SigV4Resigner(placeholder: credentials, real: other)
            .resign(head, authorization: authorization, bodyHash: bodyHash)) != nil
    }

    func resign(
        _ head: RequestHead, placeholder: AWSCredentials? = nil, real: AWSCredentials? = nil, bodyHash: String? = nil
    ) throws -> SigV4Resigned {
        let authorization = try #require(SigV4TestSupport.authorization(head))
        return try SigV4Resigner(placeholder: placeholder ?? self.placeholder, real: real ?? self.real)
            .resign(head, authorization: authorization, bodyHash: bodyHash)
    }

    @Test func headerRoundTripReplacesTokenAndKeepsEverythingElse() throws {
        let head = SigV4TestSupport.signed(
            method: "POST", target: "/prod/items/a%2Fb?z=1&a=x%20y",
            headers: [("Host", "api.example.com"), ("Content-Type", "application/json"), ("X-Custom", "a   b")],
            credentials: self.placeholder, payloadHash: SigV4Signer.sha256Hex(Array("{}".utf8))
        )
        let resigned = try self.resign(head, bodyHash: SigV4Signer.sha256Hex(Array("{}".utf8)))
        #expect(resigned.chunkResigner == nil)
        #expect(resigned.head.method == head.method)
        #expect(resigned.head.target == head.target)
        #expect(resigned.head.headers.map(\.name) == head.headers.map(\.name))
        for (before, after) in zip(head.headers, resigned.head.headers)
        where !["authorization", "x-amz-security-token"].contains(before.name.lowercased()) {
            #expect(before == after)
        }
        #expect(SigV4TestSupport.header("X-Amz-Security-Token", in: resigned.head) == self.real.sessionToken)
        let authorization = try #require(SigV4TestSupport.header("Authorization", in: resigned.head))
        #expect(
            authorization.hasPrefix(
                "AWS4-HMAC-SHA256 Credential=AKIAREALACCESSKEY001/20240517/us-east-1/execute-api/aws4_request, "
                    + "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-custom, Signature="
            )
        )
        let hash = SigV4Signer.sha256Hex(Array("{}".utf8))
        #expect(self.verifies(resigned.head, with: self.real, bodyHash: hash))
        #expect(!self.verifies(resigned.head, with: self.placeholder, bodyHash: hash))
    }

    @Test func tokenIsRemovedWhenTheRealKeysHaveNone() throws {
        let head = SigV4TestSupport.signed(credentials: self.placeholder)
        var real = self.real
        real.sessionToken = nil
        let resigned = try self.resign(head, real: real, bodyHash: SigV4Signer.emptyHash)
        #expect(SigV4TestSupport.header("X-Amz-Security-Token", in: resigned.head) == nil)
        let authorization = try #require(SigV4TestSupport.authorization(resigned.head))
        #expect(authorization.signedHeaders == ["host", "x-amz-date"])
        #expect(self.verifies(resigned.head, with: real, bodyHash: SigV4Signer.emptyHash))
    }

    @Test func tokenIsAddedWhenThePlaceholderHadNone() throws {
        var placeholder = self.placeholder
        placeholder.sessionToken = nil
        let head = SigV4TestSupport.signed(credentials: placeholder)
        let resigned = try self.resign(head, placeholder: placeholder, bodyHash: SigV4Signer.emptyHash)
        #expect(resigned.head.headers.last?.name == "X-Amz-Security-Token")
        #expect(SigV4TestSupport.header("X-Amz-Security-Token", in: resigned.head) == self.real.sessionToken)
        let authorization = try #require(SigV4TestSupport.authorization(resigned.head))
        #expect(authorization.signedHeaders == ["host", "x-amz-date", "x-amz-security-token"])
        #expect(self.verifies(resigned.head, with: self.real, bodyHash: SigV4Signer.emptyHash))
    }

    @Test func unsignedTokenHeaderIsReplacedAndSigned() throws {
        var placeholder = self.placeholder
        placeholder.sessionToken = nil
        var head = SigV4TestSupport.signed(credentials: placeholder)
        head.headers.insert(.init(name: "x-amz-security-token", value: "stale"), at: 1)
        let resigned = try self.resign(head, placeholder: placeholder, bodyHash: SigV4Signer.emptyHash)
        #expect(resigned.head.headers[1] == .init(name: "x-amz-security-token", value: self.real.sessionToken!))
        #expect(resigned.head.headers.count == head.headers.count)
        #expect(self.verifies(resigned.head, with: self.real, bodyHash: SigV4Signer.emptyHash))
    }

    @Test func s3StylePathVerifies() throws {
        let head = SigV4TestSupport.signed(
            method: "PUT", target: "/my%20key/a+b=c//x",
            headers: [("Host", "bucket.s3.amazonaws.com"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")],
            credentials: self.placeholder, service: "s3",
            payloadHash: nil, uriStyle: .asSent, queryStyle: .asSent
        )
        let authorization = try #require(SigV4TestSupport.authorization(head))
        #expect(SigV4PayloadMode.of(head, authorization: authorization) == .declared("UNSIGNED-PAYLOAD"))
        let resigned = try self.resign(head)
        #expect(resigned.head.target == head.target)
        #expect(self.verifies(resigned.head, with: self.real))
    }

    @Test func wrongPlaceholderSecretIsRefusedWith403() throws {
        let forged = AWSCredentials(
            accessKeyID: self.placeholder.accessKeyID, secretAccessKey: "guessed",
            sessionToken: self.placeholder.sessionToken
        )
        let head = SigV4TestSupport.signed(credentials: forged)
        let authorization = try #require(SigV4TestSupport.authorization(head))
        let error = try #require(throws: SigV4Error.self) {
            try SigV4Resigner(placeholder: self.placeholder, real: self.real)
                .resign(head, authorization: authorization, bodyHash: SigV4Signer.emptyHash)
        }
        #expect(error == .signatureMismatch)
        #expect(error.httpStatus == 403)
        for secret in [self.placeholder.secretAccessKey, self.real.secretAccessKey, self.real.sessionToken!] {
            #expect(!error.description.contains(secret))
        }
    }

    @Test func otherAccessKeyOrTamperedRequestIsRefused() throws {
        let other = AWSCredentials(
            accessKeyID: "ASIAOTHERKEY00000001", secretAccessKey: self.placeholder.secretAccessKey, sessionToken: nil
        )
        #expect(throws: SigV4Error.signatureMismatch) {
            try self.resign(SigV4TestSupport.signed(credentials: other), bodyHash: SigV4Signer.emptyHash)
        }
        var tampered = SigV4TestSupport.signed(target: "/a?x=1", credentials: self.placeholder)
        tampered.target = "/a?x=2"
        #expect(throws: SigV4Error.signatureMismatch) {
            try self.resign(tampered, bodyHash: SigV4Signer.emptyHash)
        }
        var body = SigV4TestSupport.signed(method: "POST", credentials: self.placeholder)
        #expect(throws: SigV4Error.signatureMismatch) {
            try self.resign(body, bodyHash: SigV4Signer.sha256Hex([1]))
        }
        body.headers[0].value = "evil.example.com"
        #expect(throws: SigV4Error.signatureMismatch) {
            try self.resign(body, bodyHash: SigV4Signer.emptyHash)
        }
    }

    @Test func missingSignedHeaderOrDateIsMalformed() throws {
        var head = SigV4TestSupport.signed(credentials: self.placeholder)
        head.headers.removeAll { $0.name == "X-Amz-Date" }
        let error = try #require(throws: SigV4Error.self) {
            try self.resign(head, bodyHash: SigV4Signer.emptyHash)
        }
        #expect(error.code == .malformed)
        #expect(error.httpStatus == 400)
        head.headers.append(.init(name: "Date", value: "Fri, 17 May 2024 09:30:15 GMT"))
        let noDateHeader = try #require(throws: SigV4Error.self) {
            try self.resign(head, bodyHash: SigV4Signer.emptyHash)
        }
        #expect(noDateHeader.code == .malformed)  // x-amz-date is signed but gone
    }

    @Test func dateHeaderBecomesTheTimestamp() {
        #expect(SigV4Resigner.basicTimestamp(httpDate: "Sun, 30 Aug 2015 12:36:00 GMT") == "20150830T123600Z")
        #expect(SigV4Resigner.basicTimestamp(httpDate: "Fri, 7 Jun 2024 01:02:03 -0000") == "20240607T010203Z")
        #expect(SigV4Resigner.basicTimestamp(httpDate: "Fri, 07 Jun 2024 01:02:03 +0100") == nil)
        #expect(SigV4Resigner.basicTimestamp(httpDate: "yesterday") == nil)
    }

    @Test func presignedRoundTripReplacesCredentialTokenAndSignature() throws {
        let head = SigV4TestSupport.presigned(
            path: "/report%20final.pdf", query: "response-content-type=text%2Fplain&versionId=1",
            credentials: self.placeholder
        )
        let authorization = try #require(SigV4TestSupport.authorization(head))
        #expect(authorization.location == .query)
        #expect(SigV4PayloadMode.of(head, authorization: authorization) == .presigned)
        let resigned = try self.resign(head)
        let parameters = SigV4Target(resigned.head.target).parameters
        #expect(parameters.map(\.name) == SigV4Target(head.target).parameters.map(\.name))
        #expect(parameters[0].value == "text%2Fplain")
        #expect(parameters[3].value == "AKIAREALACCESSKEY001%2F20240517%2Fus-east-1%2Fs3%2Faws4_request")
        #expect(parameters[7].decodedValue == self.real.sessionToken)
        #expect(parameters[7].value == "IQoJb3JpZ2luX2VjEJr%2F%2F%2F%2F%2F%2F%2F%2F%2F%2FwEaCX%2Breal%2Ftoken%3D%3D")
        #expect(resigned.head.headers == head.headers)
        #expect(self.verifies(resigned.head, with: self.real))
        #expect(!self.verifies(resigned.head, with: self.placeholder))
    }

    @Test func presignedTokenRemovedAndAdded() throws {
        var real = self.real
        real.sessionToken = nil
        let removed = try self.resign(SigV4TestSupport.presigned(credentials: self.placeholder), real: real)
        #expect(!removed.head.target.contains("X-Amz-Security-Token"))
        #expect(self.verifies(removed.head, with: real))

        var placeholder = self.placeholder
        placeholder.sessionToken = nil
        let added = try self.resign(SigV4TestSupport.presigned(credentials: placeholder), placeholder: placeholder)
        let names = SigV4Target(added.head.target).parameters.map(\.name)
        #expect(names.suffix(2) == ["X-Amz-Security-Token", "X-Amz-Signature"])
        #expect(self.verifies(added.head, with: self.real))
    }

    @Test func presignedWithBodyHashIsTriedWhenGiven() throws {
        let head = SigV4TestSupport.presigned(
            query: "Action=ListQueues", host: "sqs.us-east-1.amazonaws.com", credentials: self.placeholder,
            service: "sqs", payloadHash: SigV4Signer.emptyHash
        )
        #expect(throws: SigV4Error.signatureMismatch) { try self.resign(head) }
        let resigned = try self.resign(head, bodyHash: SigV4Signer.emptyHash)
        #expect(self.verifies(resigned.head, with: self.real, bodyHash: SigV4Signer.emptyHash))
    }

    @Test func streamingHeadGetsAChunkResigner() throws {
        let head = SigV4TestSupport.signed(
            method: "PUT", target: "/key",
            headers: [
                ("Host", "bucket.s3.amazonaws.com"), ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
                ("Content-Encoding", "aws-chunked"),
            ],
            credentials: self.placeholder, service: "s3", payloadHash: nil, uriStyle: .asSent
        )
        let resigned = try self.resign(head)
        #expect(resigned.chunkResigner != nil)
        #expect(self.verifies(resigned.head, with: self.real))
    }

    @Test func duplicateContentSHA256IsMalformed() throws {
        var head = SigV4TestSupport.signed(
            headers: [("Host", "h"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")], credentials: self.placeholder,
            payloadHash: nil
        )
        head.headers.append(.init(name: "X-Amz-Content-Sha256", value: "UNSIGNED-PAYLOAD"))
        let error = try #require(throws: SigV4Error.self) { try self.resign(head) }
        #expect(error.code == .malformed)
    }

    @Test func descriptionsHideSecrets() {
        let resigner = SigV4Resigner(placeholder: self.placeholder, real: self.real)
        let texts = [
            String(describing: resigner), String(reflecting: resigner), String(describing: self.real),
            String(reflecting: self.real), "\(self.placeholder)",
        ]
        var dumped = ""
        dump(resigner, to: &dumped)
        dump(self.real, to: &dumped)
        for text in texts + [dumped] {
            for secret in [
                self.placeholder.secretAccessKey, self.placeholder.sessionToken!, self.real.secretAccessKey,
                self.real.sessionToken!,
            ] {
                #expect(!text.contains(secret))
            }
        }
        #expect(String(describing: self.real).contains(self.real.accessKeyID))
    }
}
