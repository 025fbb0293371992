import KeyholeCore
import Testing

@Suite struct GitCredentialsFileTests {
    static let text = """
        # work tokens
        https://alice:ghp_one@github.com
        https://bob:p%40ss%2Fw%3Ard@git.example.com:8443/team/repo.git

        ssh://carol:x@ssh.example.com
        https://token-only@gitlab.com
        https://:glpat_two@gitlab.com
        not a url at all
        http://dave:pw@plain.example.com/

        """

    @Test func parsesEntriesDecodingUserAndPassword() throws {
        let file = GitCredentialsFile(bytes: Array(Self.text.utf8))
        #expect(file.entries.map(\.line) == [2, 3, 7, 9])
        let first = try #require(file.entries.first)
        #expect(first.scheme == "https" && first.host == "github.com" && first.username == "alice")
        #expect(first.password == "ghp_one" && first.path == nil)
        let second = file.entries[1]
        #expect(second.host == "git.example.com:8443" && second.username == "bob" && second.password == "p@ss/w:rd")
        #expect(second.path == "team/repo.git")
        #expect(file.entries[2].username == nil && file.entries[2].password == "glpat_two")
        #expect(file.entries[3].scheme == "http" && file.entries[3].path == nil)
    }

    @Test func reportsLinesItCannotImportWithoutTheirContent() {
        let file = GitCredentialsFile(bytes: Array(Self.text.utf8))
        #expect(file.problems.map(\.line) == [5, 6, 8])
        for problem in file.problems {
            #expect(!problem.reason.contains("carol") && !problem.reason.contains("token-only"))
        }
    }

    @Test func removingLinesKeepsEveryOtherByte() {
        let file = GitCredentialsFile(bytes: Array(Self.text.utf8))
        let result = String(decoding: file.removing(lines: [2, 9]), as: UTF8.self)
        let expected = Self.text
            .replacingOccurrences(of: "https://alice:ghp_one@github.com\n", with: "")
            .replacingOccurrences(of: "http://dave:pw@plain.example.com/\n", with: "")
        #expect(result == expected)
    }

    @Test func keepsCRLFAndAMissingFinalNewline() {
        let text = "https://a:one@one.example\r\nhttps://b:two@two.example\r\nhttps://c:three@three.example"
        let bytes = Array(text.utf8)
        let file = GitCredentialsFile(bytes: bytes)
        #expect(file.entries.map(\.password) == ["one", "two", "three"])
        #expect(String(decoding: file.removing(lines: [2]), as: UTF8.self)
            == "https://a:one@one.example\r\nhttps://c:three@three.example")
        #expect(String(decoding: file.removing(lines: [3]), as: UTF8.self)
            == "https://a:one@one.example\r\nhttps://b:two@two.example\r\n")
    }

    @Test func nonUTF8BytesElsewhereSurviveARemoval() {
        var bytes = Array("https://a:one@one.example\n".utf8)
        bytes += [0xFF, 0xFE, 0x0A]
        bytes += Array("https://b:two@two.example\n".utf8)
        let file = GitCredentialsFile(bytes: bytes)
        #expect(file.problems.map(\.line) == [2])
        #expect(file.removing(lines: [1]) == [0xFF, 0xFE, 0x0A] + Array("https://b:two@two.example\n".utf8))
    }

    @Test func descriptionNeverShowsThePassword() {
        let file = GitCredentialsFile(bytes: Array("https://alice:sk_hidden@github.com\n".utf8))
        let entry = file.entries[0]
        #expect(!"\(entry)".contains("sk_hidden"))
        #expect(!String(reflecting: entry).contains("sk_hidden"))
        var dumped = ""
        dump(entry, to: &dumped)
        #expect(!dumped.contains("sk_hidden"))
    }
}
