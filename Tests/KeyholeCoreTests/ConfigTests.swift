import Testing

@testable import KeyholeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct TOMLSubsetParserTests {
    private func parse(_ text: String) throws -> TOMLTable {
        try TOMLSubsetParser.parse(text)
    }

    private func parseError(_ text: String) -> TOMLParseError? {
        do {
            _ = try TOMLSubsetParser.parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func scalarsAndComments() throws {
        let table = try self.parse(
            """
            # a comment
            name = "value" # trailing comment
            count = 42
            negative = -17
            big = 1_000_000
            hex = 0xff
            octal = 0o17
            binary = 0b101
            ratio = 3.5
            exponent = 1e3
            yes = true
            no = false
            "quoted key" = 'literal \\n no escapes'
            'single' = ""
            bare-key_1 = 1
            """
        )
        #expect(table["name"]?.kind == .string("value"))
        #expect(table["count"]?.kind == .integer(42))
        #expect(table["negative"]?.kind == .integer(-17))
        #expect(table["big"]?.kind == .integer(1_000_000))
        #expect(table["hex"]?.kind == .integer(255))
        #expect(table["octal"]?.kind == .integer(15))
        #expect(table["binary"]?.kind == .integer(5))
        #expect(table["ratio"]?.kind == .float(3.5))
        #expect(table["exponent"]?.kind == .float(1000))
        #expect(table["yes"]?.kind == .boolean(true))
        #expect(table["no"]?.kind == .boolean(false))
        #expect(table["quoted key"]?.kind == .string("literal \\n no escapes"))
        #expect(table["single"]?.kind == .string(""))
        #expect(table["bare-key_1"]?.kind == .integer(1))
        #expect(table.keys.first == "name")
        #expect(table["count"]?.line == 3)
    }

    @Test func basicStringEscapes() throws {
        let table = try self.parse(#"s = "tab\there \"quoted\" back\\slash \u00e9 \U0001F600 nl\n""#)
        #expect(table["s"]?.kind == .string("tab\there \"quoted\" back\\slash é 😀 nl\n"))
    }

    @Test func multiLineStrings() throws {
        let table = try self.parse(
            "basic = \"\"\"\nline one\nline \\\n    two\"\"\"\n"
                + "literal = '''\nraw \\n\nend'''\n"
                + "quotes = \"\"\"a \"\"quoted\"\" \"\"\"\"\"\n"
                + "after = 1\n"
        )
        #expect(table["basic"]?.kind == .string("line one\nline two"))
        #expect(table["literal"]?.kind == .string("raw \\n\nend"))
        #expect(table["quotes"]?.kind == .string("a \"\"quoted\"\" \"\""))
        #expect(table["after"]?.line == 9)
    }

    @Test func arraysOverSeveralLines() throws {
        let table = try self.parse(
            """
            empty = []
            list = [
                "a", # first
                'b',

                "c",   # trailing comma next
            ]
            nested = [[1, 2], ["x"]]
            """
        )
        #expect(table["empty"]?.kind == .array([]))
        #expect(table["list"]?.arrayValue?.compactMap(\.stringValue) == ["a", "b", "c"])
        #expect(table["list"]?.arrayValue?.map(\.line) == [3, 4, 6])
        #expect(table["nested"]?.arrayValue?.count == 2)
    }

    @Test func inlineTablesHeadersAndDottedKeys() throws {
        let table = try self.parse(
            """
            inline = { a = 1, "b.c" = "x", d.e = true }
            [server]
            host = "h"
            [server.tls]
            on = true
            [[items]]
            n = 1
            [[items]]
            n = 2
            [fruit]
            apple.color = "red"
            """
        )
        let inline = try #require(table["inline"]?.tableValue)
        #expect(inline["a"]?.kind == .integer(1))
        #expect(inline["b.c"]?.kind == .string("x"))
        #expect(inline["d"]?.tableValue?["e"]?.kind == .boolean(true))
        let server = try #require(table["server"]?.tableValue)
        #expect(server["host"]?.kind == .string("h"))
        #expect(server["tls"]?.tableValue?["on"]?.kind == .boolean(true))
        let items = try #require(table["items"]?.arrayValue)
        #expect(items.compactMap { $0.tableValue?["n"]?.kind } == [.integer(1), .integer(2)])
        #expect(table["fruit"]?.tableValue?["apple"]?.tableValue?["color"]?.kind == .string("red"))
    }

    @Test func implicitSuperTableCanBeDefinedLater() throws {
        let table = try self.parse("[a.b]\nx = 1\n[a]\ny = 2\n")
        let a = try #require(table["a"]?.tableValue)
        #expect(a["y"]?.kind == .integer(2))
        #expect(a["b"]?.tableValue?["x"]?.kind == .integer(1))
    }

    @Test func crlfAndBOM() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("a = 1\r\n# c\r\nb = \"x\"\r\n".utf8)
        let table = try TOMLSubsetParser.parse(bytes)
        #expect(table["a"]?.kind == .integer(1))
        #expect(table["b"]?.kind == .string("x"))
        #expect(table["b"]?.line == 3)
    }

    @Test(arguments: [
        ("a = \"unterminated\n", 1, "unterminated string"),
        ("\n\nkey \"value\"\n", 3, "expected '=' after the key 'key'"),
        ("a = 1 2\n", 1, "expected the end of the line"),
        ("a = \n", 1, "expected a value"),
        ("a = bare\n", 1, "strings must be quoted"),
        ("a = 1\na = 2\n", 2, "duplicate key 'a' (first set on line 1)"),
        ("[t]\n[t]\n", 2, "defined twice (first on line 1)"),
        ("x = [\n1,\n2\n", 1, "never closed with ']'"),
        ("x = [1 2]\n", 1, "expected ',' or ']'"),
        ("x = { a = 1\n", 1, "never closed with '}'"),
        ("s = \"bad \\q escape\"\n", 1, "invalid escape sequence '\\q'"),
        ("s = \"\\u12\"\n", 1, "hexadecimal digits"),
        ("d = 1979-05-27T07:32:00Z\n", 1, "dates and times are not supported"),
        ("n = 012\n", 1, "not a valid number"),
        ("n = 1__0\n", 1, "not a valid number"),
        ("n = 99999999999999999999\n", 1, "not a valid number"),
        ("[t\n", 1, "expected ']' to close the table header"),
        ("inline = { a = 1 }\n[inline]\n", 2, "already holds a value"),
        ("a = 1\na.b = 2\n", 2, "already holds a value"),
        ("[a.b]\n[a]\nb.c = 1\n", 3, "cannot add keys to the table 'a.b'"),
        ("= 1\n", 1, "expected a key"),
        ("a = \"x\u{01}\"\n", 1, "control character U+0001"),
        ("a = '''\nnever closed\n", 1, "never closed with '''"),
        ("[[t]]\n[t]\n", 2, "is an array of tables"),
        ("a = 1\r\rb = 2\n", 1, "carriage return"),
    ])
    func syntaxErrorsNameTheLine(text: String, line: Int, message: String) {
        let error = self.parseError(text)
        #expect(error?.line == line, "\(error.map { "\($0.line): \($0.message)" } ?? "no error")")
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "no error")")
    }

    @Test func invalidUTF8IsRefusedWithItsLine() {
        let bytes: [UInt8] = Array("a = 1\nb = \"".utf8) + [0xFF, 0xFE] + Array("\"\n".utf8)
        #expect(throws: TOMLParseError(line: 2, message: "the file is not valid UTF-8")) {
            try TOMLSubsetParser.parse(bytes)
        }
    }
}

@Suite struct ConfigTests {
    private let file = "/home/u/.config/keyhole/config.toml"

    private func parse(_ text: String) throws(ConfigError) -> Config {
        try Config.parse(text, path: self.file, home: "/home/u")
    }

    private func configError(_ text: String) -> ConfigError? {
        do {
            _ = try self.parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func fullInlineForm() throws {
        let config = try self.parse(
            """
            listen = "127.0.0.1:8899"
            upstream_ca = ["/etc/ssl/company.pem", "relative/ca.pem", "~/ca.pem"]
            resolve = { "API.example.com:443" = "127.0.0.1:8443", "[::1]:443" = "[::1]:9443" }
            """
        )
        #expect(config.listen == "127.0.0.1:8899")
        #expect(config.listenAddress == Config.Address(host: "127.0.0.1", port: 8899))
        #expect(
            config.upstreamCA == ["/etc/ssl/company.pem", "/home/u/.config/keyhole/relative/ca.pem", "/home/u/ca.pem"]
        )
        #expect(config.resolve == ["api.example.com:443": "127.0.0.1:8443", "[::1]:443": "[::1]:9443"])
        #expect(config.warnings.isEmpty)
    }

    @Test func resolveAsTableAndMultiLineArray() throws {
        let config = try self.parse(
            """
            upstream_ca = [
                "/a.pem",
                "/b.pem",
            ]

            [resolve]
            "git.example.com:443" = "10.0.0.7:443"
            'svc.internal:8443' = "localhost:9443"
            """
        )
        #expect(config.upstreamCA == ["/a.pem", "/b.pem"])
        #expect(config.resolve == ["git.example.com:443": "10.0.0.7:443", "svc.internal:8443": "localhost:9443"])
        #expect(config.listen == nil)
    }

    @Test func singleStringUpstreamCAIsAccepted() throws {
        #expect(try self.parse("upstream_ca = \"/ca.pem\"").upstreamCA == ["/ca.pem"])
    }

    @Test func emptyFileIsTheDefaults() throws {
        #expect(try self.parse("# nothing here\n") == Config.defaults)
    }

    @Test func unknownKeysAreWarningsNotErrors() throws {
        let config = try self.parse(
            """
            listen = "127.0.0.1:1"
            session_ttl = 3600
            verbose = true
            [future]
            thing = 1
            """
        )
        #expect(config.listen == "127.0.0.1:1")
        #expect(config.warnings.count == 3)
        #expect(config.warnings[0].hasPrefix("\(self.file):2: unknown key 'session_ttl' ignored"))
        #expect(config.warnings[1].hasPrefix("\(self.file):3: unknown key 'verbose'"))
        #expect(config.warnings[2].hasPrefix("\(self.file):4: unknown key 'future'"))
    }

    @Test(arguments: [
        "127.0.0.1:8899", "127.1.2.3:1", "[::1]:8899", "127.0.0.1:0", "[0:0:0:0:0:0:0:1]:80",
    ])
    func loopbackListenIsAccepted(value: String) throws {
        let config = try self.parse("listen = \"\(value)\"")
        #expect(config.listenAddress?.isLoopback == true)
    }

    @Test(arguments: [
        ("0.0.0.0:8899", "not a loopback address"),
        ("192.168.1.10:8899", "not a loopback address"),
        ("[::]:8899", "not a loopback address"),
        ("[::ffff:127.0.0.1]:8899", "not a loopback address"),
        ("localhost:8899", "not a loopback address"),
        ("127.0.0.1", "has no port"),
        ("127.0.0.1:99999", "is not a port"),
        ("127.0.0.1:-1", "is not a port"),
        ("::1:8899", "write an IPv6 address in brackets"),
        ("127.1:80", "not a host name or an IPv4 address"),
    ])
    func nonLoopbackListenIsRefusedWithAHint(value: String, message: String) {
        let error = self.configError("\n\nlisten = \"\(value)\"\n")
        #expect(error?.code == .invalidValue)
        #expect(error?.file == self.file)
        #expect(error?.line == 3)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "no error")")
        #expect(error?.hint?.contains("loopback") == true)
    }

    @Test func listenAddressValidatesFlagsToo() throws {
        #expect(try Config.listenAddress("127.0.0.1:0") == Config.Address(host: "127.0.0.1", port: 0))
        #expect(try Config.listenAddress("[::1]:80").description == "[::1]:80")
        #expect(throws: ConfigError.self) { try Config.listenAddress("10.0.0.1:80") }
    }

    @Test(arguments: [
        ("listen = 8899", 1, "listen: expected a string like \"127.0.0.1:8899\", found an integer"),
        ("upstream_ca = 1", 1, "upstream_ca: expected an array of file paths"),
        ("upstream_ca = [\n\"/a\",\n2\n]", 3, "upstream_ca: expected a file path (a string), found an integer"),
        ("upstream_ca = [\"\"]", 1, "found an empty string"),
        ("resolve = \"x\"", 1, "resolve: expected a table"),
        ("[resolve]\n\"api.example.com\" = \"127.0.0.1:1\"", 2, "resolve: key 'api.example.com' has no port"),
        ("[resolve]\n\"a.example:443\" = \"127.0.0.1\"", 2, "resolve: value '127.0.0.1' has no port"),
        ("[resolve]\n\"a.example:443\" = 5", 2, "expected \"addr:port\" as the value of 'a.example:443'"),
        ("[resolve]\n\"a.example:0\" = \"127.0.0.1:1\"", 2, "is not a port"),
        ("[resolve]\n\"bad host!:443\" = \"127.0.0.1:1\"", 2, "not a host name"),
        ("[resolve]\n\"A.example:443\" = \"127.0.0.1:1\"\n\"a.example:443\" = \"127.0.0.1:2\"", 3, "given twice"),
    ])
    func invalidValuesNameTheLine(text: String, line: Int, message: String) {
        let error = self.configError(text)
        #expect(error?.code == .invalidValue)
        #expect(error?.line == line, "\(error?.description ?? "no error")")
        #expect(error?.message.contains(message) == true, "\(error?.description ?? "no error")")
    }

    @Test func syntaxErrorsNameFileAndLine() {
        let error = self.configError("listen = \"127.0.0.1:1\"\nupstream_ca = [\"/a\" \"/b\"]\n")
        #expect(error?.code == .syntax)
        #expect(error?.description.hasPrefix("\(self.file):2: expected ',' or ']' in the array") == true)
        #expect(error?.hint != nil)
    }

    @Test func loadMissingFileGivesDefaults() throws {
        #expect(try Config.load(from: "/nonexistent/keyhole/config.toml") == Config.defaults)
    }

    @Test func loadReadsAFileAndReportsUnreadableOnes() throws {
        let directory = try ConfigTests.TemporaryDirectory()
        let path = directory.path + "/config.toml"
        try directory.write(path, "listen = \"127.0.0.1:7777\"\nupstream_ca = [\"ca.pem\"]\n")
        let config = try Config.load(from: path)
        #expect(config.listen == "127.0.0.1:7777")
        #expect(config.upstreamCA == [directory.path + "/ca.pem"])

        let error = #expect(throws: ConfigError.self) { try Config.load(from: directory.path) }
        #expect(error?.code == .unreadable)
        #expect(error?.file == directory.path)

        try directory.write(path, "listen = [\n")
        let syntax = #expect(throws: ConfigError.self) { try Config.load(from: path) }
        #expect(syntax?.description.hasPrefix(path + ":1: ") == true)
    }
}

extension ConfigTests {
    /// A directory under /tmp, removed with everything in it when the value goes away.
    final class TemporaryDirectory {
        struct Failure: Error {}

        let path: String

        init() throws {
            var template = Array("/tmp/keyhole-test-XXXXXX".utf8CString)
            guard let result = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
                throw Failure()
            }
            self.path = String(cString: result)
        }

        func write(_ path: String, _ text: String) throws {
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw Failure() }
            defer { close(fd) }
            let bytes = Array(text.utf8)
            guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
                throw Failure()
            }
        }

        deinit {
            Self.removeTree(self.path)
        }

        private static func removeTree(_ path: String) {
            var info = stat()
            guard lstat(path, &info) == 0 else { return }
            if info.st_mode & S_IFMT == S_IFDIR, let directory = opendir(path) {
                var names: [String] = []
                while let entry = readdir(directory) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) {
                        String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
                    }
                    if name != "." && name != ".." { names.append(name) }
                }
                closedir(directory)
                for name in names { Self.removeTree(path + "/" + name) }
                rmdir(path)
            } else {
                unlink(path)
            }
        }
    }
}

@Suite struct ConfigNestingTests {
    /// Found by the config fuzz target: deep nesting overflowed the stack (the daemon died at start).
    @Test func deepNestingIsAnErrorNotACrash() {
        let text = "resolve = " + String(repeating: "[", count: 10_000)
        #expect(throws: ConfigError.self) { try Config.parse(text, path: "config.toml") }
        let shallow = "x = " + String(repeating: "[", count: 3) + String(repeating: "]", count: 3)
        #expect((try? Config.parse(shallow, path: "config.toml")) != nil)
    }
}
