import KeyholeCore
import Testing

@Suite struct HostPatternTests {
    func authority(_ text: String) -> Authority {
        Authority(parsing: text, defaultPort: 443)!
    }

    @Test func exactHostMatchesAnyPortAndIgnoresCase() throws {
        let pattern = try HostPattern("API.Example.com")
        #expect(pattern.matches(self.authority("api.example.com:443")))
        #expect(pattern.matches(self.authority("api.example.com:8443")))
        #expect(pattern.matches(self.authority("API.EXAMPLE.COM.")))
        #expect(!pattern.matches(self.authority("example.com")))
        #expect(!pattern.matches(self.authority("evil-api.example.com")))
        #expect(!pattern.matches(self.authority("api.example.com.evil.test")))
    }

    @Test func wildcardMatchesAnyDepthButNotTheApex() throws {
        let pattern = try HostPattern("*.example.com")
        #expect(pattern.matches(self.authority("a.example.com")))
        #expect(pattern.matches(self.authority("a.b.c.example.com")))
        #expect(!pattern.matches(self.authority("example.com")))
        #expect(!pattern.matches(self.authority("badexample.com")))
        #expect(!pattern.matches(self.authority("example.com.evil.test")))
    }

    @Test func portIsEnforcedWhenGiven() throws {
        let pattern = try HostPattern("api.example.com:8443")
        #expect(pattern.matches(self.authority("api.example.com:8443")))
        #expect(!pattern.matches(self.authority("api.example.com:443")))
        let wildcard = try HostPattern("*.example.com:443")
        #expect(wildcard.matches(self.authority("x.example.com:443")))
        #expect(!wildcard.matches(self.authority("x.example.com:80")))
    }

    @Test func ipLiterals() throws {
        #expect(try HostPattern("127.0.0.1:8080").matches(self.authority("127.0.0.1:8080")))
        #expect(try HostPattern("[::1]:8443").matches(self.authority("[::1]:8443")))
        #expect(try HostPattern("[::1]").matches(self.authority("[::1]:1")))
    }

    @Test(arguments: ["", "*", "*.", "a.*.com", "**.example.com", "exa mple.com", "example.com:0", "example.com:99999",
        "example.com:", ".example.com", "example..com", "*.[::1]"])
    func invalidPatternsAreRefused(_ text: String) {
        #expect(throws: HostPatternError.self) { try HostPattern(text) }
    }

    @Test func descriptionRoundTrips() throws {
        for text in ["api.example.com", "*.example.com", "*.example.com:8443", "[::1]:443", "10.0.0.1"] {
            #expect(try HostPattern(text).description == text)
        }
    }

    @Test func authorityParsing() {
        #expect(Authority(parsing: "example.com:443", defaultPort: nil) == Authority(host: "example.com", port: 443))
        #expect(Authority(parsing: "[::1]:8443", defaultPort: nil) == Authority(host: "::1", port: 8443))
        #expect(Authority(parsing: "example.com", defaultPort: nil) == nil)
        #expect(Authority(parsing: "example.com", defaultPort: 80)?.port == 80)
        #expect(Authority(parsing: "exa/mple.com:80", defaultPort: nil) == nil)
        #expect(Authority(parsing: "example.com:+80", defaultPort: nil) == nil)
        #expect(Authority(parsing: "[::1]:8443", defaultPort: nil)?.description == "[::1]:8443")
    }
}
