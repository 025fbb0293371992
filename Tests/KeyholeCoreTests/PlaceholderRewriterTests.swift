import Foundation
import KeyholeCore
import Testing

@Suite struct PlaceholderRewriterTests {
    let github = CredentialDefinition(
        name: "github", hosts: [try! HostPattern("api.github.com")], inject: try! InjectTemplate("Authorization: Bearer {secret}"),
        env: ["GITHUB_TOKEN"], created: ""
    )
    let stripe = CredentialDefinition(name: "stripe", hosts: [try! HostPattern("*.stripe.com")], created: "")
    let githubPlaceholder = Placeholder.generate()
    let stripePlaceholder = Placeholder.generate()
    let secrets = ["github": Secret("ghp_REALSECRET"), "stripe": Secret("sk_live_REAL/+=&")]

    var session: ProxySession {
        ProxySession(
            id: "abcd1234", credentials: [self.github, self.stripe],
            placeholders: [self.githubPlaceholder: "github", self.stripePlaceholder: "stripe"]
        )
    }

    func rewriter(_ host: String) -> PlaceholderRewriter {
        PlaceholderRewriter(session: self.session, authority: Authority(parsing: host, defaultPort: 443)!)
    }

    func head(target: String = "/", _ headers: [(String, String)]) -> RequestHead {
        RequestHead(method: "GET", target: target, headers: headers.map { .init(name: $0.0, value: $0.1) })
    }

    @Test func placeholderInAnyHeaderIsSwapped() throws {
        let head = self.head([("Host", "api.stripe.com"), ("X-Api-Key", "key=\(self.stripePlaceholder);v=1")])
        let rewriter = self.rewriter("api.stripe.com")
        #expect(rewriter.plan(head) == .rewrite(credentials: ["stripe"]))
        let outcome = try rewriter.apply(head, secrets: self.secrets)
        #expect(outcome.head.headers[1].value == "key=sk_live_REAL/+=&;v=1")
        #expect(outcome.head.headers[0].value == "api.stripe.com")
        #expect(outcome.swapped == ["stripe"])
        #expect(outcome.injected.isEmpty)
    }

    @Test(arguments: [true, false])
    func basicAuthInUserOrPasswordPosition(userPosition: Bool) throws {
        let pair = userPosition ? "\(self.stripePlaceholder):" : "someone:\(self.stripePlaceholder)"
        let encoded = Data(pair.utf8).base64EncodedString()
        let head = self.head([("Authorization", "Basic \(encoded)")])
        let outcome = try self.rewriter("api.stripe.com").apply(head, secrets: self.secrets)
        let value = outcome.head.headers[0].value
        #expect(value.hasPrefix("Basic "))
        let decoded = String(data: Data(base64Encoded: String(value.dropFirst(6)))!, encoding: .utf8)!
        #expect(decoded == (userPosition ? "sk_live_REAL/+=&:" : "someone:sk_live_REAL/+=&"))
    }

    @Test func queryStringIsSwappedAndPercentEncoded() throws {
        let head = self.head(target: "/v1/charges?key=\(self.stripePlaceholder)&a=b", [])
        let outcome = try self.rewriter("api.stripe.com").apply(head, secrets: self.secrets)
        #expect(outcome.head.target == "/v1/charges?key=sk_live_REAL%2F%2B%3D%26&a=b")
    }

    @Test func unrelatedTextIsUntouched() throws {
        let head = self.head(target: "/search?q=khp_notaplaceholder", [("Accept", "application/json"), ("Cookie", "a=khp_1234")])
        let rewriter = self.rewriter("api.stripe.com")
        #expect(rewriter.plan(head) == .forward)
    }

    @Test func injectAddsHeaderOnlyWhenMissing() throws {
        let rewriter = self.rewriter("api.github.com")
        let bare = self.head([("Host", "api.github.com")])
        #expect(rewriter.plan(bare) == .rewrite(credentials: ["github"]))
        let outcome = try rewriter.apply(bare, secrets: self.secrets)
        #expect(outcome.head.headers.last == RequestHead.Header(name: "Authorization", value: "Bearer ghp_REALSECRET"))
        #expect(outcome.injected == ["github"])

        // A header the client sent is kept: swapped if it holds a placeholder, else left alone.
        let own = self.head([("authorization", "token mine")])
        #expect(rewriter.plan(own) == .forward)
        let withPlaceholder = self.head([("Authorization", "token \(self.githubPlaceholder)")])
        let swapped = try rewriter.apply(withPlaceholder, secrets: self.secrets)
        #expect(swapped.head.headers == [.init(name: "Authorization", value: "token ghp_REALSECRET")])
        #expect(swapped.injected.isEmpty)
    }

    @Test func placeholderToUnscopedHostIsDenied() {
        let head = self.head([("Authorization", "Bearer \(self.githubPlaceholder)")])
        #expect(self.rewriter("evil.test").plan(head) == .denyScope(credential: "github"))
        // Scope is decided by the authority, not by a Host header the client controls.
        let lying = self.head([("Host", "api.github.com"), ("Authorization", "Bearer \(self.githubPlaceholder)")])
        #expect(self.rewriter("evil.test").plan(lying) == .denyScope(credential: "github"))
        // Inside Basic auth and the query too.
        let basic = self.head([("Authorization", "Basic " + Data("x:\(self.githubPlaceholder)".utf8).base64EncodedString())])
        #expect(self.rewriter("api.stripe.com").plan(basic) == .denyScope(credential: "github"))
        let query = self.head(target: "/?t=\(self.githubPlaceholder)", [])
        #expect(self.rewriter("api.stripe.com").plan(query) == .denyScope(credential: "github"))
    }

    @Test func foreignPlaceholderIsDenied() {
        let head = self.head([("Authorization", "Bearer \(Placeholder.generate())")])
        #expect(self.rewriter("api.github.com").plan(head) == .denyUnknownPlaceholder)
    }

    @Test func secretWithLineBreakNeverReachesAHeader() {
        let head = self.head([("Authorization", "Bearer \(self.githubPlaceholder)")])
        #expect(throws: RewriteError.self) {
            try self.rewriter("api.github.com").apply(head, secrets: ["github": Secret("a\r\nX-Evil: 1")])
        }
    }

    @Test func missingSecretFailsClosed() {
        let head = self.head([("Authorization", "Bearer \(self.githubPlaceholder)")])
        #expect(throws: RewriteError.self) { try self.rewriter("api.github.com").apply(head, secrets: [:]) }
    }

    @Test func placeholdersAreRandomAndWellFormed() {
        let a = Placeholder.generate()
        let b = Placeholder.generate()
        #expect(a != b)
        #expect(a.count == Placeholder.length)
        #expect(Placeholder.occurrences(in: Substring("x\(a)y\(b)")).map(String.init) == [a, b])
    }

    @Test func injectTemplateValidation() throws {
        #expect(throws: InjectTemplateError.self) { try InjectTemplate("Authorization Bearer {secret}") }
        #expect(throws: InjectTemplateError.self) { try InjectTemplate("Authorization: Bearer") }
        #expect(throws: InjectTemplateError.self) { try InjectTemplate("Host: {secret}") }
        #expect(throws: InjectTemplateError.self) { try InjectTemplate("Bad Name: {secret}") }
        #expect(try InjectTemplate("X-Api-Key: {secret}").render(Secret("s")) == "s")
    }

    @Test func secretDescriptionsNeverShowTheValue() {
        let secret = Secret("hunter2")
        #expect("\(secret)" == "<secret>")
        #expect(String(reflecting: secret) == "<secret>")
    }
}

@Suite struct AuditPathRedactionTests {
    @Test func anyPlaceholderLeftInAPathIsRedacted() {
        let placeholder = Placeholder.generate()
        let event = AuditEvent(session: "s", method: "GET", host: "h:443", path: "/a/\(placeholder)/b?k=\(placeholder)", decision: .forward)
        #expect(event.path == "/a/{placeholder}/b")
        #expect(Placeholder.redacting("/x/\(placeholder)") { _ in "github" } == "/x/{github}")
    }
}
