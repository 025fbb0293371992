import Foundation
import KeyholeCore
import Testing

/// Compares ``SigV4Resigner`` with botocore: `Tests/scripts/sigv4_cases.py` signs a table of requests with
/// placeholder and with real credentials; re-signing the placeholder-signed request must give botocore's
/// real-signed one. Fails (does not skip) when python3 or botocore is missing.
@Suite struct SigV4BotocoreTests {
    struct Case: Sendable {
        var name: String
        var head: RequestHead
        var bodyHash: String
        var placeholder: AWSCredentials
        var real: AWSCredentials
        var expectedTarget: String
        var expectedHeaders: [RequestHead.Header]
    }

    static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts").appendingPathComponent("sigv4_cases.py")
    }

    /// Runs the script and parses its JSON lines.
    static func cases() throws -> [Case] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script.path]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let messages = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "sigv4_cases.py failed: \(messages)")
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            func headers(_ key: String) throws -> [RequestHead.Header] {
                let pairs = try #require(object[key] as? [[String]])
                return pairs.map { RequestHead.Header(name: $0[0], value: $0[1]) }
            }
            func credentials(_ key: String) throws -> AWSCredentials {
                let values = try #require(object[key] as? [String: Any])
                return AWSCredentials(
                    accessKeyID: try #require(values["access_key"] as? String),
                    secretAccessKey: try #require(values["secret_key"] as? String),
                    sessionToken: values["token"] as? String
                )
            }
            return Case(
                name: try #require(object["name"] as? String),
                head: RequestHead(
                    method: try #require(object["method"] as? String),
                    target: try #require(object["target"] as? String),
                    headers: try headers("headers")
                ),
                bodyHash: try #require(object["body_sha256"] as? String),
                placeholder: try credentials("placeholder"),
                real: try credentials("real"),
                expectedTarget: try #require(object["expected_target"] as? String),
                expectedHeaders: try headers("expected_headers")
            )
        }
    }

    /// Headers sorted by lowercased name (then value): botocore moves the headers it sets to the end.
    static func normalized(_ headers: [RequestHead.Header]) -> [String] {
        headers.map { "\($0.name.lowercased()): \($0.value)" }.sorted()
    }

    @Test func resigningMatchesBotocore() throws {
        let cases = try Self.cases()
        #expect(cases.count >= 15)
        for reference in cases {
            guard case .sigV4(let authorization) = SigV4Authorization.detect(in: reference.head) else {
                Issue.record("\(reference.name): not detected as SigV4")
                continue
            }
            #expect(authorization.accessKeyID == reference.placeholder.accessKeyID, "\(reference.name)")
            let mode = SigV4PayloadMode.of(reference.head, authorization: authorization)
            let bodyHash: String? = mode == .bodyHash || mode == .presigned ? reference.bodyHash : nil
            do {
                let resigned = try SigV4Resigner(placeholder: reference.placeholder, real: reference.real)
                    .resign(reference.head, authorization: authorization, bodyHash: bodyHash)
                #expect(resigned.chunkResigner == nil, "\(reference.name)")
                #expect(resigned.head.method == reference.head.method, "\(reference.name)")
                #expect(resigned.head.target == reference.expectedTarget, "\(reference.name)")
                #expect(
                    Self.normalized(resigned.head.headers) == Self.normalized(reference.expectedHeaders),
                    "\(reference.name)"
                )

                // A forged signature (right key id, wrong secret) must not pass for the same request.
                let forged = AWSCredentials(
                    accessKeyID: reference.placeholder.accessKeyID, secretAccessKey: "forged",
                    sessionToken: reference.placeholder.sessionToken
                )
                #expect(throws: SigV4Error.signatureMismatch, "\(reference.name)") {
                    try SigV4Resigner(placeholder: forged, real: reference.real)
                        .resign(reference.head, authorization: authorization, bodyHash: bodyHash)
                }
            } catch {
                Issue.record("\(reference.name): \(error)")
            }
        }
    }
}
