import Testing

@testable import KeyholeCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Text from a request (a crafted path) reaches `keyhole log` and `keyhole log --json` without anything a
/// terminal would act on: no C0/C1 controls, no bidi overrides or isolates, no line separators.
@Suite struct AuditEscapingTests {
    /// Each character a terminal acts on, with the `\uXXXX` escape the JSON line must carry instead.
    static let unsafe: [(Unicode.Scalar, String)] = [
        ("\u{1B}", #"\u001b"#), ("\u{7F}", #"\u007f"#), ("\u{80}", #"\u0080"#), ("\u{85}", #"\u0085"#),
        ("\u{9B}", #"\u009b"#), ("\u{9F}", #"\u009f"#), ("\u{061C}", #"\u061c"#), ("\u{200E}", #"\u200e"#),
        ("\u{200F}", #"\u200f"#), ("\u{2028}", #"\u2028"#), ("\u{2029}", #"\u2029"#), ("\u{202A}", #"\u202a"#),
        ("\u{202B}", #"\u202b"#), ("\u{202C}", #"\u202c"#), ("\u{202D}", #"\u202d"#), ("\u{202E}", #"\u202e"#),
        ("\u{2066}", #"\u2066"#), ("\u{2067}", #"\u2067"#), ("\u{2068}", #"\u2068"#), ("\u{2069}", #"\u2069"#),
    ]

    static func event(path: String, reason: String? = nil) -> AuditEvent {
        AuditEvent(
            time: "2025-01-02T03:04:05.678Z", session: "1a2b3c4d", method: "GET", host: "api.example.com:443",
            path: path, credential: "github", decision: .denyScope, status: 403, reason: reason
        )
    }

    @Test(arguments: Self.unsafe.map { $0.0 })
    func jsonLineEscapesTheCharacter(_ scalar: Unicode.Scalar) throws {
        let text = "/a" + String(scalar) + "b"
        let event = Self.event(path: text, reason: "why " + String(scalar))
        let line = String(decoding: event.jsonLine(), as: UTF8.self)
        let escape = try #require(Self.unsafe.first { $0.0 == scalar }?.1)
        #expect(!line.unicodeScalars.contains(scalar), "raw U+\(String(scalar.value, radix: 16)) in \(line)")
        #expect(line.contains(#""path":"/a"# + escape + #"b""#))
        #expect(line.contains(#""reason":"why "# + escape + #"""#))
        #expect(try JSONDecoder().decode(AuditEvent.self, from: Data(line.utf8)) == event)
    }

    @Test func jsonLineKeepsOtherTextAsIs() {
        let event = Self.event(path: "/caf\u{E9}/\u{65E5}\u{672C}/\u{1F511}/\u{A0}/\u{200D}")
        let line = String(decoding: event.jsonLine(), as: UTF8.self)
        #expect(line.contains(#""path":"/café/日本/🔑/\#u{A0}/\#u{200D}""#))
    }

    @Test func jsonLineOfACraftedLogLineIsClean() throws {
        // What `keyhole log --json` prints for a line someone wrote into audit.jsonl with raw characters.
        let crafted = "{\"time\":\"2025-01-02T03:04:05.678Z\",\"session\":\"s\u{202E}\",\"method\":\"GET\","
            + "\"host\":\"h\u{9B}31m\",\"path\":\"/x\u{202E}\u{9B}2J\u{2066}\",\"decision\":\"deny-auth\"}"
        let event = try #require(AuditLogReader.decode(Array(crafted.utf8)))
        let line = String(decoding: event.jsonLine(), as: UTF8.self)
        #expect(!line.unicodeScalars.contains { $0.isUnsafeToDisplay })
        #expect(line.contains(#""path":"/x\u202e\u009b2J\u2066""#))
        #expect(line.contains(#""host":"h\u009b31m""#))
    }

    @Test(arguments: Self.unsafe.map { $0.0 })
    func tableShowsTheCharacterAsQuestionMark(_ scalar: Unicode.Scalar) {
        let renderer = AuditLogRenderer(utc: true)
        var event = Self.event(path: "/a" + String(scalar) + "b")
        event.host = "h" + String(scalar)
        event.session = String(scalar) + "s"
        let row = renderer.render(event)
        #expect(!row.unicodeScalars.contains(scalar), "raw U+\(String(scalar.value, radix: 16)) in \(row)")
        #expect(row.contains("/a?b") && row.contains("h?") && row.contains("?s"))
    }

    @Test func tableKeepsOtherTextAsIs() {
        let row = AuditLogRenderer(utc: true).render(Self.event(path: "/café/日本"))
        #expect(row.contains("/café/日本"))
    }
}
