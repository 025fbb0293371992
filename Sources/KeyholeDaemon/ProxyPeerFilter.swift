import Logging
import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Admits a proxy client connection only when the daemon's own user opened it, before a byte of it is read;
/// another user's connection, or one whose owner cannot be told, is closed (fail closed). Refusals are logged
/// at most once per `logInterval`, each line with how many were refused since the one before (those of a
/// burst in one line at the end of the interval), so a flood of them cannot flood the daemon log.
final class ProxyPeerFilter: Sendable {
    private struct Refusals {
        var lastLogged: NIODeadline?
        var unlogged = 0
        var lastPeer: (uid: uid_t?, address: SocketAddress?)
        var flushScheduled = false
    }

    static let logInterval = TimeAmount.seconds(1)

    private let ownUID: uid_t
    private let logger: Logger
    private let refusals = NIOLockedValueBox(Refusals())

    init(ownUID: uid_t, logger: Logger) {
        self.ownUID = ownUID
        self.logger = logger
    }

    /// The `admitPeer` hook of the proxy: runs on the event loop for each accepted connection.
    func admit(_ channel: any Channel) -> Bool {
        let uid = TCPPeerCredentials.uid(ofClientOf: channel)
        if uid == self.ownUID { return true }
        self.noteRefusal(uid: uid, address: channel.remoteAddress, eventLoop: channel.eventLoop)
        return false
    }

    private func noteRefusal(uid: uid_t?, address: SocketAddress?, eventLoop: any EventLoop) {
        let now = NIODeadline.now()
        let flushAt = self.refusals.withLockedValue { refusals -> NIODeadline? in
            refusals.unlogged += 1
            refusals.lastPeer = (uid, address)
            guard let last = refusals.lastLogged, now - last < Self.logInterval else { return now }
            guard !refusals.flushScheduled else { return nil }
            refusals.flushScheduled = true
            return last + Self.logInterval
        }
        guard let flushAt else { return }
        if flushAt == now {
            self.flush()
        } else {
            eventLoop.scheduleTask(deadline: flushAt) { self.flush() }
        }
    }

    /// Logs the refusals not logged yet, if any, in one line.
    private func flush() {
        let pending = self.refusals.withLockedValue { refusals -> (count: Int, uid: uid_t?, address: SocketAddress?)? in
            refusals.flushScheduled = false
            guard refusals.unlogged > 0 else { return nil }
            defer {
                refusals.unlogged = 0
                refusals.lastLogged = .now()
            }
            return (refusals.unlogged, refusals.lastPeer.uid, refusals.lastPeer.address)
        }
        guard let pending else { return }
        self.logger.warning(
            "refused a proxy connection from another user",
            metadata: [
                "proxy.peer.uid": "\(pending.uid.map { "\($0)" } ?? "unknown")",
                "proxy.peer": "\(pending.address?.ipAddress ?? "unknown"):\(pending.address?.port ?? 0)",
                "proxy.refused": "\(pending.count)",
            ]
        )
    }
}
