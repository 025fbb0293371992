import KeyholeCore
import ServiceLifecycle
import Synchronization

/// The audit log behind an ``AuditThrottle``: what the proxy reports goes through ``append(_:)``; as a
/// Service it writes the aggregated refusals every `flushInterval` and, at graceful shutdown, everything
/// still held (afterwards events are written at once).
final class ThrottledAuditLog: Service, Sendable {
    private let log: AuditLog
    private let throttle: Mutex<AuditThrottle<ContinuousClock>>
    private let flushInterval: Duration

    init(log: AuditLog, throttle: AuditThrottle<ContinuousClock> = AuditThrottle(), flushInterval: Duration = .seconds(1)) {
        self.log = log
        self.throttle = Mutex(throttle)
        self.flushInterval = flushInterval
    }

    func append(_ event: AuditEvent) {
        self.write(self.throttle.withLock { $0.record(event) })
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.flushInterval) }
            self.write(self.throttle.withLock { $0.flush() })
        }
        self.write(self.throttle.withLock { $0.finish() })
    }

    private func write(_ events: [AuditEvent]) {
        for event in events {
            self.log.append(event)
        }
    }
}
