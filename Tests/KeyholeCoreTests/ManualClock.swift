import KeyholeCore
import Synchronization

/// A clock that only moves when a test says so.
final class ManualClock: Clock, Sendable {
    typealias Instant = ContinuousClock.Instant

    private let current = Mutex(ContinuousClock.now)

    var now: Instant { self.current.withLock { $0 } }
    var minimumResolution: Duration { .nanoseconds(1) }

    func advance(by duration: Duration) {
        self.current.withLock { $0 = $0.advanced(by: duration) }
    }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        preconditionFailure("ManualClock does not sleep; advance it instead")
    }
}
