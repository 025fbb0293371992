import Foundation
import Synchronization
import Testing

@testable import KeyholeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

@Suite struct AuditEventTests {
    static let sample = AuditEvent(
        time: "2025-01-02T03:04:05.678Z",
        session: "1a2b3c4d",
        method: "GET",
        host: "api.example.com:443",
        path: "/v1/items?token=PLACEHOLDER#frag",
        credential: "github",
        decision: .swap,
        status: 200,
        bytesUp: 12,
        bytesDown: 3456,
        ms: 87
    )

    @Test func jsonLineHasEveryKeyInOrder() {
        let line = String(decoding: Self.sample.jsonLine(), as: UTF8.self)
        #expect(
            line == #"{"time":"2025-01-02T03:04:05.678Z","session":"1a2b3c4d","method":"GET","#
                + #""host":"api.example.com:443","path":"/v1/items","credential":"github","decision":"swap","#
                + #""status":200,"bytes_up":12,"bytes_down":3456,"ms":87,"reason":null}"#
        )
        #expect(!line.contains("\n"))
    }

    @Test func pathNeverKeepsTheQuery() throws {
        #expect(Self.sample.path == "/v1/items")
        var event = Self.sample
        event.path = "/other?x=1"
        #expect(event.path == "/other")
        let decoded = try JSONDecoder().decode(
            AuditEvent.self,
            from: Data(
                #"{"time":"t","session":"s","method":"GET","host":"h","path":"/p?q=1","decision":"tunnel"}"#.utf8)
        )
        #expect(decoded.path == "/p")
        #expect(decoded.credential == nil && decoded.status == nil && decoded.bytesUp == 0 && decoded.ms == 0)
    }

    @Test func escapesAndRoundTrips() throws {
        var event = Self.sample
        event.reason = "quote \" backslash \\ newline \n tab \t bell \u{07} é"
        event.credential = nil
        event.status = nil
        event.decision = .failClosed
        let line = event.jsonLine()
        #expect(!line.contains(UInt8(ascii: "\n")))
        #expect(String(decoding: line, as: UTF8.self).contains(#""credential":null"#))
        #expect(String(decoding: line, as: UTF8.self).contains(#"\u0007"#))
        let decoded = try JSONDecoder().decode(AuditEvent.self, from: Data(line))
        #expect(decoded == event)
        #expect(AuditLogReader.decode(line) == event)
    }

    @Test func codableUsesTheLogKeys() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let object = try JSONDecoder().decode([String: JSONValue].self, from: encoder.encode(Self.sample))
        #expect(
            Set(object.keys) == [
                "time", "session", "method", "host", "path", "credential", "decision", "status", "bytes_up",
                "bytes_down", "ms", "reason",
            ]
        )
        #expect(object["reason"] == .null)
    }

    @Test func decisionsAreKebabCase() {
        #expect(
            AuditDecision.allCases.map(\.rawValue) == [
                "forward", "swap", "inject", "resign", "tunnel", "deny-scope", "deny-cleartext", "deny-auth", "deny-host",
                "fail-closed", "error",
            ]
        )
    }

    @Test func timestamps() {
        #expect(AuditEvent.timestamp(secondsSinceEpoch: 0, milliseconds: 5) == "1970-01-01T00:00:00.005Z")
        #expect(AuditEvent.timestamp(secondsSinceEpoch: 1_735_787_045, milliseconds: 678) == "2025-01-02T03:04:05.678Z")
        let now = AuditEvent.now()
        #expect(now.utf8.count == 24 && now.hasSuffix("Z"))
        let seconds = AuditEvent.secondsSinceEpoch(of: now)
        #expect(seconds.map { abs($0 - Int(time(nil))) <= 2 } == true)
        #expect(AuditEvent.secondsSinceEpoch(of: "2025-01-02T03:04:05.678Z") == 1_735_787_045)
        #expect(AuditEvent.secondsSinceEpoch(of: "2025-01-02T05:04:05+02:00") == 1_735_787_045)
        #expect(AuditEvent.secondsSinceEpoch(of: "2025-01-02T03:04:05") == nil)
        #expect(AuditEvent.secondsSinceEpoch(of: "garbage") == nil)
    }
}

extension AuditEventTests {
    /// Any JSON value, to look at encoded objects in tests.
    enum JSONValue: Decodable, Equatable {
        case null
        case bool(Bool)
        case number(Double)
        case string(String)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Double.self) {
                self = .number(value)
            } else {
                self = .string(try container.decode(String.self))
            }
        }
    }
}

@Suite struct AuditLogTests {
    /// Paths seen by a follower, shared with the test.
    final class Seen: Sendable {
        private let paths = Mutex<[String]>([])

        var value: [String] { self.paths.withLock { $0 } }

        func append(_ path: String) {
            self.paths.withLock { $0.append(path) }
        }
    }

    private func mode(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    private func lines(_ path: String) throws -> [String] {
        let contents = try AuditLogReader.readAll(path: path)
        #expect(contents.malformedLines == 0)
        return contents.events.map(\.path)
    }

    private func event(_ path: String, decision: AuditDecision = .swap) -> AuditEvent {
        AuditEvent(session: "00000000", method: "GET", host: "h:443", path: path, decision: decision)
    }

    @Test func createsPrivateDirectoryAndFileAndAppendsLines() throws {
        let directory = try ConfigTests.TemporaryDirectory()
        let path = directory.path + "/state/keyhole/audit.jsonl"
        let log = AuditLog(path: path) { error in Issue.record("unexpected: \(error)") }
        log.append(self.event("/one"))
        log.append(self.event("/two"))
        #expect(self.mode(directory.path + "/state/keyhole") == 0o700)
        #expect(self.mode(path) == 0o600)
        #expect(try self.lines(path) == ["/one", "/two"])
        log.close()
        log.append(self.event("/dropped"))
        #expect(try self.lines(path) == ["/one", "/two"])
    }

    @Test func tightensAnExistingDirectoryAndFile() throws {
        let directory = try ConfigTests.TemporaryDirectory()
        let stateDirectory = directory.path + "/keyhole"
        mkdir(stateDirectory, 0o755)
        chmod(stateDirectory, 0o755)
        try directory.write(stateDirectory + "/audit.jsonl", "")
        chmod(stateDirectory + "/audit.jsonl", 0o644)
        let log = AuditLog(path: stateDirectory + "/audit.jsonl")
        log.append(self.event("/x"))
        #expect(self.mode(stateDirectory) == 0o700)
        #expect(self.mode(stateDirectory + "/audit.jsonl") == 0o600)
    }

    @Test func concurrentAppendsNeverInterleave() async throws {
        let directory = try ConfigTests.TemporaryDirectory()
        let path = directory.path + "/audit.jsonl"
        let log = AuditLog(path: path)
        let longPath = "/" + String(repeating: "p", count: 3000)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<200 {
                        log.append(self.event("\(longPath)/\(task)/\(index)"))
                    }
                }
            }
        }
        let contents = try AuditLogReader.readAll(path: path)
        #expect(contents.malformedLines == 0)
        #expect(contents.events.count == 1600)
        #expect(Set(contents.events.map(\.path)).count == 1600)
    }

    @Test func reopensWhenTheFileIsRemovedOrRotated() throws {
        let directory = try ConfigTests.TemporaryDirectory()
        let path = directory.path + "/audit.jsonl"
        let log = AuditLog(path: path)
        log.append(self.event("/before"))
        rename(path, path + ".1")
        log.append(self.event("/after-rotation"))
        unlink(path)
        log.append(self.event("/after-removal"))
        #expect(try self.lines(path + ".1") == ["/before"])
        #expect(try self.lines(path) == ["/after-removal"])
    }

    @Test func errorsGoToTheCallbackNotTheCaller() throws {
        let directory = try ConfigTests.TemporaryDirectory()
        try directory.write(directory.path + "/file", "")
        let errors = Mutex<[AuditLogError]>([])
        let log = AuditLog(path: directory.path + "/file/audit.jsonl") { error in
            errors.withLock { $0.append(error) }
        }
        log.append(self.event("/x"))
        let seen = errors.withLock { $0 }
        #expect(seen.count == 2)
        #expect(seen.first?.code == .cannotCreateDirectory)
        #expect(seen.first?.description.contains("not a directory") == true)
    }

    @Test func readerSkipsAndCountsMalformedLines() throws {
        let directory = try ConfigTests.TemporaryDirectory()
        let path = directory.path + "/audit.jsonl"
        let good = String(decoding: self.event("/good").jsonLine(), as: UTF8.self)
        try directory.write(path, good + "\nnot json\n\n{\"time\":1}\n" + good + "\n{\"truncated")
        let contents = try AuditLogReader.readAll(path: path)
        #expect(contents.events.map(\.path) == ["/good", "/good"])
        #expect(contents.malformedLines == 3)
        #expect(try AuditLogReader.readAll(path: directory.path + "/missing").events.isEmpty)
    }

    @Test func followSeesCreationAppendsTruncationAndRotation() async throws {
        let directory = try ConfigTests.TemporaryDirectory()
        let path = directory.path + "/audit.jsonl"
        let seen = Seen()
        let follower = Task {
            try await AuditLogReader.follow(from: path, pollInterval: .milliseconds(20)) { event in
                seen.append(event.path)
            }
        }
        func waitFor(_ expected: [String]) async {
            for _ in 0..<250 where seen.value != expected {
                try? await Task.sleep(for: .milliseconds(20))
            }
            #expect(seen.value == expected)
        }
        try await Task.sleep(for: .milliseconds(60))
        let log = AuditLog(path: path)
        log.append(self.event("/1"))
        await waitFor(["/1"])
        log.append(self.event("/2"))
        await waitFor(["/1", "/2"])
        truncate(path, 0)
        try await Task.sleep(for: .milliseconds(100))
        log.append(self.event("/3"))
        await waitFor(["/1", "/2", "/3"])
        rename(path, path + ".old")
        log.append(self.event("/4"))
        await waitFor(["/1", "/2", "/3", "/4"])
        follower.cancel()
        try await follower.value
    }

    @Test func followContinuesExactlyWhereReadAllStopped() async throws {
        let directory = try ConfigTests.TemporaryDirectory()
        let path = directory.path + "/audit.jsonl"
        let first = String(decoding: self.event("/first").jsonLine(), as: UTF8.self)
        let second = String(decoding: self.event("/second").jsonLine(), as: UTF8.self)
        // The second line is still being written when the log is read.
        try directory.write(path, first + "\n" + second.prefix(10))
        let contents = try AuditLogReader.readAll(path: path)
        #expect(contents.events.map(\.path) == ["/first"])
        #expect(contents.endOffset == Int64(first.utf8.count + 1))
        try directory.write(path, first + "\n" + second + "\n")
        let log = AuditLog(path: path)
        log.append(self.event("/third"))
        let seen = Seen()
        let follower = Task {
            try await AuditLogReader.follow(
                from: path, startOffset: contents.endOffset, pollInterval: .milliseconds(20)
            ) {
                event in
                seen.append(event.path)
            }
        }
        for _ in 0..<250 where seen.value.count < 2 {
            try await Task.sleep(for: .milliseconds(20))
        }
        follower.cancel()
        try await follower.value
        #expect(seen.value == ["/second", "/third"])
    }

    @Test func followCanSkipWhatIsAlreadyThere() async throws {
        let directory = try ConfigTests.TemporaryDirectory()
        let path = directory.path + "/audit.jsonl"
        let log = AuditLog(path: path)
        log.append(self.event("/old"))
        let seen = Seen()
        let follower = Task {
            try await AuditLogReader.follow(from: path, skipExisting: true, pollInterval: .milliseconds(20)) { event in
                seen.append(event.path)
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        log.append(self.event("/new"))
        for _ in 0..<250 where seen.value.isEmpty {
            try await Task.sleep(for: .milliseconds(20))
        }
        follower.cancel()
        try await follower.value
        #expect(seen.value == ["/new"])
    }
}

@Suite struct AuditLogRendererTests {
    private let event = AuditEventTests.sample

    /// Column start offsets: where a non-space follows two spaces (or the line starts).
    private func columnStarts(_ line: String) -> [Int] {
        let characters = Array(line)
        return characters.indices.filter { index in
            characters[index] != " "
                && (index == 0 || (index >= 2 && characters[index - 1] == " " && characters[index - 2] == " "))
        }
    }

    @Test func rowsAlignWithTheHeader() {
        let renderer = AuditLogRenderer(utc: true)
        let header = renderer.header()
        let row = renderer.render(self.event)
        #expect(header.hasPrefix("TIME      SESSION   DECISION     STATUS  METHOD   HOST"))
        #expect(row.hasPrefix("03:04:05  1a2b3c4d  swap         200     GET      api.example.com:443"))
        #expect(header.count == row.count)
        #expect(self.columnStarts(header) == self.columnStarts(row))
        #expect(row.contains("github"))
        #expect(row.contains("12B/3.4K"))
        #expect(row.hasSuffix("    87"))
    }

    @Test func longFieldsAreCutWithAnEllipsis() {
        var event = self.event
        event.path = "/" + String(repeating: "a", count: 100)
        event.host = String(repeating: "sub.", count: 20) + "example.com:443"
        event.credential = nil
        event.status = nil
        let renderer = AuditLogRenderer(utc: true)
        let row = renderer.render(event)
        #expect(row.count == renderer.header().count)
        #expect(row.contains("…sub.sub.sub.example.com:443  "))
        #expect(row.contains("/aaa"))
        #expect(row.contains("a…"))
        #expect(self.columnStarts(row).count == 10)
    }

    @Test func terminalWidthSizesHostAndPath() {
        let renderer = AuditLogRenderer(utc: true, terminalWidth: 200)
        #expect(renderer.header().count == 200)
        #expect(renderer.render(self.event).count == 200)
    }

    @Test func colorOnlyWhenAsked() {
        let plain = AuditLogRenderer(color: false, utc: true)
        #expect(!plain.render(self.event).contains("\u{1B}"))
        #expect(!plain.header().contains("\u{1B}"))
        let colored = AuditLogRenderer(color: true, utc: true)
        var event = self.event
        #expect(colored.render(event).contains("\u{1B}[32mswap"))
        event.decision = .tunnel
        #expect(colored.render(event).contains("\u{1B}[2mtunnel"))
        for decision in [AuditDecision.denyScope, .denyAuth, .denyHost, .failClosed] {
            event.decision = decision
            #expect(colored.render(event).contains("\u{1B}[31m\(decision.rawValue)"))
        }
        let stripped = colored.render(event).replacingEscapes()
        #expect(stripped == plain.render(event))
    }

    @Test func controlCharactersCannotReachTheTerminal() {
        var event = self.event
        event.path = "/evil\u{1B}]0;pwned\u{07}\u{9B}31m"
        event.host = "h\r\n:443"
        let row = AuditLogRenderer(utc: true).render(event)
        #expect(!row.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        #expect(row.contains("/evil?]0;pwned??31m"))
    }

    @Test func localTimeIsUsedByDefault() {
        let seconds = AuditEvent.secondsSinceEpoch(of: self.event.time)!
        var time = time_t(seconds)
        var parts = tm()
        localtime_r(&time, &parts)
        let expected = String.clock(parts.tm_hour, parts.tm_min, parts.tm_sec)
        #expect(AuditLogRenderer().render(self.event).hasPrefix(expected))
    }

    static let byteCases: [(Int64, String)] = [
        (0, "0B"), (1023, "1023B"), (1024, "1.0K"), (1536, "1.5K"), (10 * 1024, "10K"),
        (1_048_575, "1.0M"), (5 * 1_048_576 + 400_000, "5.4M"), (1 << 30, "1.0G"), (1 << 50, "1.0P"),
    ]

    @Test(arguments: Self.byteCases)
    func humanBytes(count: Int64, expected: String) {
        #expect(AuditLogRenderer.humanBytes(count) == expected)
    }
}

extension String {
    fileprivate static func clock(_ hour: Int32, _ minute: Int32, _ second: Int32) -> String {
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return two(hour) + ":" + two(minute) + ":" + two(second)
    }

    fileprivate func replacingEscapes() -> String {
        var result = ""
        var iterator = self.makeIterator()
        while let character = iterator.next() {
            if character == "\u{1B}" {
                while let next = iterator.next(), next != "m" {}
            } else {
                result.append(character)
            }
        }
        return result
    }
}

@Suite struct TimestampTests {
    @Test func utcWithMilliseconds() {
        #expect(Timestamp.string(from: Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.string(from: Date(timeIntervalSince1970: 1_795_442_587.1231)) == "2026-11-23T14:03:07.123Z")
        #expect(Timestamp.string(from: Date(timeIntervalSince1970: 951_782_400.999)) == "2000-02-29T00:00:00.999Z")
    }

    @Test func localHasAnOffset() {
        let text = Timestamp.local(from: Date(timeIntervalSince1970: 1_795_442_587))
        #expect(text.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$"#, options: .regularExpression) != nil)
    }

    @Test func matchesFoundationsFormatter() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for seconds in stride(from: 0.0, to: 4_000_000_000.0, by: 123_456_789.321) {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(Timestamp.string(from: date) == formatter.string(from: date))
        }
    }
}
