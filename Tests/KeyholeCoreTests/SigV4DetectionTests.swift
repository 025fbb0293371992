import Foundation
import Testing

@testable import KeyholeCore

private let fakeSignature = String(repeating: "ab", count: 32)

/// ``SigV4Authorization/detect(in:)``, ``SigV4PayloadMode`` and ``AWSCredentials`` parsing.
@Suite struct SigV4DetectionTests {
    func head(target: String = "/", _ headers: [(String, String)]) -> RequestHead {
        RequestHead(method: "GET", target: target, headers: headers.map { .init(name: $0.0, value: $0.1) })
    }

    static let signature = fakeSignature

    @Test func headerAuthorizationIsParsed() throws {
        let value = "AWS4-HMAC-SHA256 Credential=ASIAABCDEFGHIJKLMNOP/20240517/eu-west-1/s3/aws4_request,"
            + "SignedHeaders=Host;X-Amz-Date, Signature=\(Self.signature.uppercased())"
        let detection = SigV4Authorization.detect(in: self.head([("authorization", value)]))
        let expected = SigV4Authorization(
            location: .header, accessKeyID: "ASIAABCDEFGHIJKLMNOP", date: "20240517", region: "eu-west-1",
            service: "s3", signedHeaders: ["host", "x-amz-date"], signature: Self.signature
        )
        #expect(detection == .sigV4(expected))
    }

    @Test func presignedQueryIsParsed() {
        let target = "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            + "&X-Amz-Credential=AKIA1%2F20240517%2Fus-east-1%2Fs3%2Faws4_request"
            + "&X-Amz-Date=20240517T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=\(Self.signature)"
        guard case .sigV4(let authorization) = SigV4Authorization.detect(in: self.head(target: target, [])) else {
            Issue.record("not detected")
            return
        }
        #expect(authorization.location == .query)
        #expect(authorization.accessKeyID == "AKIA1")
        #expect(authorization.signedHeaders == ["host"])
    }

    @Test func otherSchemesAreNone() {
        #expect(SigV4Authorization.detect(in: self.head([("Authorization", "Bearer abc")])) == .none)
        #expect(SigV4Authorization.detect(in: self.head([("Authorization", "AWS AKIA:c2ln")])) == .none)
        #expect(SigV4Authorization.detect(in: self.head(target: "/?x-amz-signature-ish=1", [])) == .none)
        #expect(SigV4Authorization.detect(in: self.head([])) == .none)
    }

    @Test func sigV4AIsRecognized() {
        let header = "AWS4-ECDSA-P256-SHA256 Credential=AKIAEXAMPLE/20240517/s3/aws4_request, SignedHeaders=host, "
            + "Signature=3045"
        #expect(
            SigV4Authorization.detect(in: self.head([("Authorization", header)])) == .sigV4A(accessKeyID: "AKIAEXAMPLE")
        )
        let target = "/?X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256&X-Amz-Credential=AKIAQ%2F20240517%2Fs3%2Faws4_request"
        #expect(SigV4Authorization.detect(in: self.head(target: target, [])) == .sigV4A(accessKeyID: "AKIAQ"))
    }

    @Test(arguments: [
        "AWS4-HMAC-SHA256 Credential=AKIA/20240517/us-east-1/s3/aws4_request, SignedHeaders=host",
        "AWS4-HMAC-SHA256 Credential=AKIA/2024051/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=SIG",
        "AWS4-HMAC-SHA256 Credential=AKIA/20240517/us-east-1/s3/aws5_request, SignedHeaders=host, Signature=SIG",
        "AWS4-HMAC-SHA256 Credential=AKIA/20240517/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc",
        "AWS4-HMAC-SHA256 Credential=AKIA/20240517/us-east-1/s3/aws4_request, SignedHeaders=host;host, Signature=SIG",
        "AWS4-HMAC-SHA256 Credential=AKIA/20240517/us-east-1/s3/aws4_request, SignedHeaders=, Signature=SIG",
        "AWS4-HMAC-SHA512 Credential=AKIA/20240517/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=SIG",
        "AWS4-HMAC-SHA256 Credential=AKIA/20240517/us-east-1/s3/aws4_request, Signature=SIG, Signature=SIG",
        "AWS4-HMAC-SHA256 Credential=AKIA/20240517/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=SIG, X=1",
        "AWS4-HMAC-SHA256 Credential=AKIA/20240517/us-east-1/s3, SignedHeaders=host, Signature=SIG",
    ])
    func brokenHeadersAreMalformed(value: String) {
        let value = value.replacingOccurrences(of: "SIG", with: fakeSignature)
        guard case .malformed(let reason) = SigV4Authorization.detect(in: self.head([("Authorization", value)])) else {
            Issue.record("not malformed: \(value)")
            return
        }
        #expect(!reason.contains(Self.signature))
    }

    @Test func ambiguousAuthenticationIsMalformed() {
        let value = "AWS4-HMAC-SHA256 Credential=AKIA/20240517/us-east-1/s3/aws4_request, SignedHeaders=host, "
            + "Signature=\(Self.signature)"
        let twice = self.head([("Authorization", value), ("Authorization", value)])
        let both = self.head(target: "/?X-Amz-Signature=\(Self.signature)", [("Authorization", value)])
        let noAlgorithm = self.head(target: "/?X-Amz-Credential=AKIA%2F20240517%2Fus-east-1%2Fs3%2Faws4_request", [])
        for head in [twice, both, noAlgorithm] {
            guard case .malformed = SigV4Authorization.detect(in: head) else {
                Issue.record("not malformed: \(head)")
                continue
            }
        }
    }

    @Test func payloadModes() throws {
        let value = "AWS4-HMAC-SHA256 Credential=AKIA/20240517/us-east-1/s3/aws4_request, SignedHeaders=host, "
            + "Signature=\(Self.signature)"
        let hash = SigV4Signer.emptyHash
        let cases: [(String?, SigV4PayloadMode)] = [
            (nil, .bodyHash), (hash, .declared(hash)), ("UNSIGNED-PAYLOAD", .declared("UNSIGNED-PAYLOAD")),
            ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", .declared("STREAMING-UNSIGNED-PAYLOAD-TRAILER")),
            ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", .streamingSigned(trailer: false)),
            ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", .streamingSigned(trailer: true)),
        ]
        for (declared, mode) in cases {
            var headers = [("Authorization", value)]
            if let declared {
                headers.append(("X-Amz-Content-SHA256", declared))
            }
            let head = self.head(headers)
            let authorization = try #require(SigV4TestSupport.authorization(head))
            #expect(SigV4PayloadMode.of(head, authorization: authorization) == mode)
        }
        let presigned = SigV4TestSupport.presigned(credentials: SigV4TestSupport.placeholder)
        let authorization = try #require(SigV4TestSupport.authorization(presigned))
        #expect(SigV4PayloadMode.of(presigned, authorization: authorization) == .presigned)
    }

    @Test func credentialsJSONRoundTrip() throws {
        let parsed = try AWSCredentials(
            json: #"{"Version":1,"AccessKeyId":"AKIAX","SecretAccessKey":"s/e+c=r\"et","SessionToken":"t/o+k","#
                + #""Expiration":"2030-01-01T00:00:00Z"}"#
        )
        #expect(parsed == AWSCredentials(accessKeyID: "AKIAX", secretAccessKey: "s/e+c=r\"et", sessionToken: "t/o+k"))
        #expect(parsed.json == #"{"AccessKeyId":"AKIAX","SecretAccessKey":"s/e+c=r\"et","SessionToken":"t/o+k"}"#)
        #expect(try AWSCredentials(json: parsed.json) == parsed)

        let noToken = try AWSCredentials(json: #"{"AccessKeyId":"AKIAX","SecretAccessKey":"s","SessionToken":""}"#)
        #expect(noToken.sessionToken == nil)
        #expect(noToken.json == #"{"AccessKeyId":"AKIAX","SecretAccessKey":"s"}"#)
    }

    @Test(arguments: [
        "", "[]", "not json", #"{"AccessKeyId":"AKIAX"}"#, #"{"AccessKeyId":1,"SecretAccessKey":"topsecret"}"#,
        #"{"AccessKeyId":"AKIAX","SecretAccessKey":"topsecret","SessionToken":5}"#,
        #"{"AccessKeyId":"","SecretAccessKey":"topsecret"}"#,
        #"{"AccessKeyId":"AKIAX","SecretAccessKey":"topsecret","SessionToken":"top secret"}"#,
    ])
    func badCredentialsJSONIsRefusedWithoutValues(json: String) throws {
        let error = try #require(throws: SigV4Error.self) { try AWSCredentials(json: json) }
        #expect(error.code == .invalidCredentialJSON)
        #expect(!error.description.contains("topsecret"))
        #expect(!error.description.contains("top secret"))
    }
}
