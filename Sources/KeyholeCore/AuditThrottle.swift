/// Aggregates identical refusals before they reach the audit log, so a workload hammering the proxy with a
/// wrong password (or a host it may not reach) cannot grow the log by a line per request.
///
/// A refusal is an event whose decision starts with `deny`. Refusals are identical when they agree in
/// session, method, host, path, credential, decision, status and reason. The first of them is written at
/// once and opens a window (one second by default); the identical ones that arrive inside it are held and
/// written as one line with ``AuditEvent/count`` at ``flush()`` once the window has ended. While repeats keep
/// coming, each flushed line opens the next window, so a steady stream costs one line per window; a window
/// that ends without repeats is forgotten. Every other event is written at once.
///
/// At most `maximumKeys` kinds of refusal are tracked; refusals of further kinds are written at once until
/// windows end. The throttle does no I/O and reads time only from `clock`: the caller writes what the
/// methods return, calls ``flush()`` periodically (at least once a window) and ``finish()`` at shutdown.
public struct AuditThrottle<C: Clock>: Sendable where C.Duration == Duration, C: Sendable {
    /// One kind of refusal seen in the current window.
    private struct Window: Sendable {
        var end: C.Instant
        /// The first repeat in this window (its time and fields go on the aggregated line), if any.
        var held: AuditEvent?
        /// How many repeats arrived in this window.
        var repeats: Int
    }

    public let window: Duration
    public let maximumKeys: Int
    private let clock: C
    /// By kind of refusal: the event without what differs between identical ones (``key(_:)``).
    private var windows: [AuditEvent: Window] = [:]
    private var finished = false

    /// The number of kinds of refusal tracked now.
    public var trackedKeys: Int { self.windows.count }

    public init(window: Duration = .seconds(1), maximumKeys: Int = 1024, clock: C) {
        self.window = window
        self.maximumKeys = maximumKeys
        self.clock = clock
    }

    /// What to write now for `event` (nothing when it is a repeat held for later; more than `event` when a
    /// window of its kind ended and ``flush()`` has not run since).
    public mutating func record(_ event: AuditEvent) -> [AuditEvent] {
        guard !self.finished, event.decision.rawValue.hasPrefix("deny") else { return [event] }
        let now = self.clock.now
        let key = Self.key(event)
        var written: [AuditEvent] = []
        if let current = self.windows[key], current.end <= now {
            written += self.close(key, now: now)
        }
        if var current = self.windows[key] {
            if current.held == nil {
                current.held = event
            } else {
                current.held?.bytesUp += event.bytesUp
                current.held?.bytesDown += event.bytesDown
            }
            current.repeats += 1
            self.windows[key] = current
            return written
        }
        if self.windows.count < self.maximumKeys {
            self.windows[key] = Window(end: now.advanced(by: self.window), held: nil, repeats: 0)
        }
        written.append(event)
        return written
    }

    /// The aggregated lines of every window that has ended, oldest first.
    public mutating func flush() -> [AuditEvent] {
        let now = self.clock.now
        let ended = self.windows.filter { $0.value.end <= now }.sorted { $0.value.end < $1.value.end }
        return ended.flatMap { self.close($0.key, now: now) }
    }

    /// Everything still held, whether or not its window has ended; afterwards every event is written at once
    /// (for shutdown, so that nothing recorded later is held where no flush will find it).
    public mutating func finish() -> [AuditEvent] {
        self.finished = true
        let held = self.windows.values.sorted { $0.end < $1.end }.compactMap { Self.line($0) }
        self.windows = [:]
        return held
    }

    /// Ends the window of `key`: its line if repeats arrived (and a new window for further repeats),
    /// nothing otherwise (and the key is forgotten).
    private mutating func close(_ key: AuditEvent, now: C.Instant) -> [AuditEvent] {
        guard let ended = self.windows[key], let line = Self.line(ended) else {
            self.windows[key] = nil
            return []
        }
        self.windows[key] = Window(end: now.advanced(by: self.window), held: nil, repeats: 0)
        return [line]
    }

    /// The event without what differs between identical refusals: time, byte counts, duration.
    private static func key(_ event: AuditEvent) -> AuditEvent {
        var key = event
        key.time = ""
        key.bytesUp = 0
        key.bytesDown = 0
        key.ms = 0
        key.count = nil
        return key
    }

    private static func line(_ window: Window) -> AuditEvent? {
        guard var line = window.held else { return nil }
        line.count = window.repeats > 1 ? window.repeats : nil
        return line
    }
}

extension AuditThrottle where C == ContinuousClock {
    /// A throttle on the real (monotonic) clock.
    public init(window: Duration = .seconds(1), maximumKeys: Int = 1024) {
        self.init(window: window, maximumKeys: maximumKeys, clock: ContinuousClock())
    }
}
