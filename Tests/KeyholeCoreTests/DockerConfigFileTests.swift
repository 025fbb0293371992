import Foundation
import KeyholeCore
import Testing

@Suite struct DockerConfigFileTests {
    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    static let text = """
        {
        \t"auths": {
        \t\t"ghcr.io": {
        \t\t\t"auth": "\(base64("alice:ghp_secret"))"
        \t\t},
        \t\t"https://index.docker.io/v1/": {
        \t\t\t"auth": "\(base64("bob:dckr_pat"))",
        \t\t\t"email": "bob@example.com"
        \t\t},
        \t\t"registry.example:5000": {
        \t\t\t"username": "carol",
        \t\t\t"password": "p\\u00e4ss\\"word"
        \t\t},
        \t\t"azurecr.example.io": {
        \t\t\t"auth": "",
        \t\t\t"identitytoken": "refresh"
        \t\t},
        \t\t"quay.io": {}
        \t},
        \t"credHelpers": {"gcr.io": "gcloud"},
        \t"psFormat": "table {{.ID}}\\t{{.Names}}",
        \t"currentContext": "default"
        }

        """

    @Test func readsAuthAndUsernamePasswordEntries() throws {
        let file = try DockerConfigFile(bytes: Array(Self.text.utf8))
        #expect(file.entries.map(\.registry) == ["ghcr.io", "https://index.docker.io/v1/", "registry.example:5000"])
        #expect(file.entries[0].username == "alice" && file.entries[0].password == "ghp_secret")
        #expect(file.entries[1].username == "bob" && file.entries[1].password == "dckr_pat")
        #expect(file.entries[2].username == "carol" && file.entries[2].password == "päss\"word")
        #expect(file.problems.map(\.registry) == ["azurecr.example.io", "quay.io"])
        #expect(file.problems[0].reason == DockerConfigFile.identityTokenReason)
    }

    @Test func removingEntriesKeepsEveryOtherByte() throws {
        let file = try DockerConfigFile(bytes: Array(Self.text.utf8))
        let first = String(decoding: file.removing(registries: ["ghcr.io"]), as: UTF8.self)
        #expect(first == Self.text.replacingOccurrences(
            of: "\t\t\"ghcr.io\": {\n\t\t\t\"auth\": \"\(Self.base64("alice:ghp_secret"))\"\n\t\t},\n", with: ""))
        let middle = String(decoding: file.removing(registries: ["registry.example:5000"]), as: UTF8.self)
        #expect(!middle.contains("carol") && middle.contains("\"azurecr.example.io\""))
        #expect(try JSONSerialization.jsonObject(with: Data(middle.utf8)) is [String: Any])
        let last = String(decoding: file.removing(registries: ["quay.io"]), as: UTF8.self)
        #expect(last == Self.text.replacingOccurrences(of: "\t\t},\n\t\t\"quay.io\": {}\n", with: "\t\t}\n"))
    }

    @Test func removingEveryEntryLeavesAnEmptyAuthsObject() throws {
        let text = "{\"auths\": {\"a.example\": {\"auth\": \"\(Self.base64("u:p"))\"}}, \"x\": 1}"
        let file = try DockerConfigFile(bytes: Array(text.utf8))
        let result = String(decoding: file.removing(registries: ["a.example"]), as: UTF8.self)
        #expect(result == "{\"auths\": {}, \"x\": 1}")
    }

    @Test func removingSeveralKeepsTheSeparatorsOfTheRest() throws {
        let (one, two, three) = (Self.base64("u:1"), Self.base64("u:2"), Self.base64("u:3"))
        let text = "{\"auths\":{\"a\":{\"auth\":\"\(one)\"} , \"b\":{\"auth\":\"\(two)\"},\n"
            + "  \"c\":{\"auth\":\"\(three)\"}}}"
        let file = try DockerConfigFile(bytes: Array(text.utf8))
        let result = String(decoding: file.removing(registries: ["a", "c"]), as: UTF8.self)
        #expect(result == "{\"auths\":{\"b\":{\"auth\":\"\(two)\"}}}")
        let onlyB = String(decoding: file.removing(registries: ["b"]), as: UTF8.self)
        #expect(onlyB == "{\"auths\":{\"a\":{\"auth\":\"\(one)\"},\n  \"c\":{\"auth\":\"\(three)\"}}}")
    }

    @Test func aFileWithoutAuthsHasNoEntriesAndIsNotChanged() throws {
        let text = "{\"credsStore\": \"desktop\"}\n"
        let file = try DockerConfigFile(bytes: Array(text.utf8))
        #expect(file.entries.isEmpty && file.problems.isEmpty)
        #expect(file.removing(registries: ["x"]) == Array(text.utf8))
    }

    @Test(arguments: [
        ("", "empty file"),
        ("{\"auths\": {\"a\": {}}", "unterminated"),
        ("{\"auths\": {\"a\": {}},}", "trailing comma"),
        ("[1, 2]", "array"),
        ("{\"auths\": []}", "auths not an object"),
        ("{\"auths\": {\"a\": {}, \"a\": {}}}", "duplicate registry"),
        ("{\"a\": 01}", "leading zero"),
        ("{\"a\": \"\\x\"}", "bad escape"),
        ("{} {}", "two documents"),
    ])
    func refusesWhatIsNotAConfigObject(text: String, what: String) {
        #expect(throws: ImportFileError.self, "\(what)") { try DockerConfigFile(bytes: Array(text.utf8)) }
    }

    @Test func errorsNameTheLine() {
        do {
            _ = try DockerConfigFile(bytes: Array("{\n\"auths\": {\n\"a\" {}\n}}".utf8))
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("line 3"))
        }
    }

    @Test func decodesEscapesAndSkipsAByteOrderMark() throws {
        let text = "\u{FEFF}{\"auths\": {\"r\\u002eexample\": {\"username\": \"u\",\n"
            + "\"password\": \"\\ud83d\\ude00 \\u00e9\\t\\/\"}}}"
        let file = try DockerConfigFile(bytes: Array(text.utf8))
        #expect(file.entries == [DockerConfigFile.Entry(registry: "r.example", username: "u", password: "😀 é\t/")])
        #expect(throws: ImportFileError.self) {
            try DockerConfigFile(bytes: Array("{\"a\": \"\\udc00\"}".utf8))
        }
    }

    @Test func descriptionNeverShowsThePassword() throws {
        let text = "{\"auths\":{\"r\":{\"auth\":\"\(Self.base64("u:sk_hidden"))\"}}}"
        let file = try DockerConfigFile(bytes: Array(text.utf8))
        let entry = try #require(file.entries.first)
        #expect(!"\(entry)".contains("sk_hidden") && !String(reflecting: entry).contains("sk_hidden"))
    }
}
