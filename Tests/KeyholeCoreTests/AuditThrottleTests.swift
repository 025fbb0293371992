import Testing

@testable import KeyholeCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

@Suite struct AuditThrottleTests {
    static func refusal(
        _ decision: AuditDecision = .denyAuth, host: String = "api.example.test:443", session: String = "-",
        status: Int? = 407, reason: String? = nil, time: String = "2025-01-02T03:04:05.678Z"
    ) -> AuditEvent {
        AuditEvent(
            time: time, session: session, method: "CONNECT", host: host, path: "", decision: decision, status: status,
            reason: reason
        )
    }

    /// How many events the lines stand for (a line without `count` stands for one).
    static func total(_ lines: [AuditEvent]) -> Int {
        lines.reduce(0) { $0 + ($1.count ?? 1) }
    }

    @Test func otherEventsAreWrittenAtOnce() {
        let clock = ManualClock()
        var throttle = AuditThrottle(clock: clock)
        let swap = AuditEvent(session: "s", method: "GET", host: "h", path: "/", decision: .swap, status: 200)
        for decision in [AuditDecision.swap, .forward, .tunnel, .inject, .resign, .error, .failClosed] {
            var event = swap
            event.decision = decision
            for _ in 0..<5 {
                #expect(throttle.record(event) == [event])
            }
        }
        #expect(throttle.trackedKeys == 0)
        clock.advance(by: .seconds(5))
        #expect(throttle.flush().isEmpty)
    }

    @Test func repeatsInAWindowBecomeOneLineWithTheirCount() {
        let clock = ManualClock()
        var throttle = AuditThrottle(clock: clock)
        let first = Self.refusal(time: "2025-01-02T03:04:05.000Z")
        #expect(throttle.record(first) == [first])
        for index in 1...1999 {
            clock.advance(by: .microseconds(400))
            #expect(throttle.record(Self.refusal(time: "2025-01-02T03:04:05.\(index % 1000)Z")).isEmpty)
        }
        #expect(throttle.flush().isEmpty, "the window has not ended")
        clock.advance(by: .seconds(1))
        let lines = throttle.flush()
        #expect(lines.count == 1)
        #expect(lines.first?.count == 1999)
        #expect(lines.first?.time == "2025-01-02T03:04:05.1Z", "the line carries the first repeat's time")
        #expect(lines.first?.decision == .denyAuth && lines.first?.host == "api.example.test:443")
        #expect(throttle.flush().isEmpty)
    }

    @Test func aSingleRepeatIsWrittenWithoutACount() {
        let clock = ManualClock()
        var throttle = AuditThrottle(clock: clock)
        _ = throttle.record(Self.refusal())
        #expect(throttle.record(Self.refusal()).isEmpty)
        clock.advance(by: .seconds(1))
        #expect(throttle.flush() == [Self.refusal()])
    }

    @Test func everyDenyDecisionIsThrottled() {
        let clock = ManualClock()
        var throttle = AuditThrottle(clock: clock)
        let denials = AuditDecision.allCases.filter { $0.rawValue.hasPrefix("deny") }
        #expect(denials.count >= 3)
        for decision in denials {
            #expect(throttle.record(Self.refusal(decision)).count == 1)
            #expect(throttle.record(Self.refusal(decision)).isEmpty)
        }
    }

    @Test func refusalsThatDifferAreCountedApart() {
        let clock = ManualClock()
        var throttle = AuditThrottle(clock: clock)
        let kinds = [
            Self.refusal(), Self.refusal(host: "other.example.test:443"), Self.refusal(session: "1a2b3c4d"),
            Self.refusal(status: 403), Self.refusal(reason: "why"), Self.refusal(.denyHost),
        ]
        for kind in kinds {
            #expect(throttle.record(kind) == [kind], "a new kind of refusal is written at once")
        }
        for (index, kind) in kinds.enumerated() {
            for _ in 0...index {
                #expect(throttle.record(kind).isEmpty)
            }
        }
        clock.advance(by: .seconds(1))
        let lines = throttle.flush()
        #expect(Set(lines.map { $0.count ?? 1 }) == Set(1...kinds.count))
        #expect(lines.count == kinds.count)
    }

    @Test func aSteadyStreamCostsOneLinePerWindow() {
        let clock = ManualClock()
        var throttle = AuditThrottle(clock: clock)
        var written: [AuditEvent] = []
        // 10,000 refusals over 5 seconds, the flush running every second as the daemon does.
        for index in 0..<10_000 {
            written += throttle.record(Self.refusal())
            clock.advance(by: .microseconds(500))
            if index % 2000 == 1999 {
                written += throttle.flush()
            }
        }
        clock.advance(by: .seconds(1))
        written += throttle.flush()
        #expect(written.count <= 7, "\(written.count) lines")
        #expect(Self.total(written) == 10_000)
    }

    @Test func aQuietWindowIsForgotten() {
        let clock = ManualClock()
        var throttle = AuditThrottle(clock: clock)
        #expect(throttle.record(Self.refusal()).count == 1)
        clock.advance(by: .seconds(1))
        #expect(throttle.flush().isEmpty)
        #expect(throttle.trackedKeys == 0)
        #expect(throttle.record(Self.refusal()).count == 1, "after a quiet window the next one is written at once")
    }

    @Test func aWindowThatEndedIsClosedByTheNextRecordWithoutAFlush() {
        let clock = ManualClock()
        var throttle = AuditThrottle(clock: clock)
        _ = throttle.record(Self.refusal())
        _ = throttle.record(Self.refusal())
        _ = throttle.record(Self.refusal())
        clock.advance(by: .milliseconds(1500))
        let lines = throttle.record(Self.refusal())
        #expect(lines.map(\.count) == [2], "the ended window's line; the new refusal is held in the next window")
        clock.advance(by: .seconds(1))
        #expect(throttle.flush().map { $0.count ?? 1 } == [1])
    }

    @Test func trackedKeysAreCappedAndFurtherKindsWrittenThrough() {
        let clock = ManualClock()
        var throttle = AuditThrottle(maximumKeys: 4, clock: clock)
        for index in 0..<10 {
            let event = Self.refusal(host: "h\(index)")
            #expect(throttle.record(event) == [event])
            #expect(throttle.record(event) == (index < 4 ? [] : [event]))
        }
        #expect(throttle.trackedKeys == 4)
        clock.advance(by: .seconds(1))
        #expect(throttle.flush().count == 4)
        #expect(throttle.trackedKeys == 4, "kinds that had repeats stay tracked for one more window")
        clock.advance(by: .seconds(1))
        #expect(throttle.flush().isEmpty)
        #expect(throttle.trackedKeys == 0)
    }

    @Test func finishWritesEverythingHeldAndThenWritesThrough() {
        let clock = ManualClock()
        var throttle = AuditThrottle(clock: clock)
        _ = throttle.record(Self.refusal())
        for _ in 0..<3 { _ = throttle.record(Self.refusal()) }
        _ = throttle.record(Self.refusal(host: "other"))
        #expect(throttle.finish().map(\.count) == [3], "held repeats are written before the window ends")
        #expect(throttle.trackedKeys == 0)
        #expect(throttle.record(Self.refusal()) == [Self.refusal()])
        #expect(throttle.record(Self.refusal()) == [Self.refusal()])
    }

    @Test func countIsWrittenOnlyWhenSet() throws {
        var event = Self.refusal()
        let plain = String(decoding: event.jsonLine(), as: UTF8.self)
        #expect(!plain.contains("count"))
        event.count = 1999
        let line = String(decoding: event.jsonLine(), as: UTF8.self)
        #expect(line.hasSuffix(#","reason":null,"count":1999}"#))
        #expect(try JSONDecoder().decode(AuditEvent.self, from: Data(line.utf8)) == event)
        #expect(AuditLogReader.decode(Array(plain.utf8))?.count == nil, "a line without count stands for one")
        let encoded = String(decoding: try JSONEncoder().encode(event), as: UTF8.self)
        #expect(encoded.contains(#""count":1999"#))
        #expect(!String(decoding: try JSONEncoder().encode(Self.refusal()), as: UTF8.self).contains("count"))
    }

    @Test func tableShowsTheCount() {
        let renderer = AuditLogRenderer(utc: true)
        var event = Self.refusal()
        #expect(!renderer.render(event).contains("×"))
        event.count = 1999
        let row = renderer.render(event)
        #expect(row.hasSuffix("  ×1999"))
        #expect(row.hasPrefix(renderer.render(Self.refusal())))
    }
}
