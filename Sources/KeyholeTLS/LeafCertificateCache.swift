import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// TLS server contexts for intercepted hosts, one per host, built on a thread pool and kept.
///
/// Minting a leaf (a signature) and creating its `NIOSSLContext` never run on an event loop. Concurrent
/// requests for one host share one mint; a context whose certificate has less than ``renewalMargin`` left
/// is minted anew; at most `maxEntries` hosts are kept, the least recently used leaving first. A failed
/// mint is not cached: the next request tries again.
public final class LeafCertificateCache: Sendable {
    /// A certificate with less validity left than this is replaced on its next use.
    public static let renewalMargin: TimeInterval = 86_400

    private let authority: CertificateAuthority
    private let threadPool: NIOThreadPool
    private let maxEntries: Int
    private let now: @Sendable () -> Date
    private let state: NIOLockedValueBox<State>

    private struct State {
        var entries: [String: Entry] = [:]
        /// Ticks on every use, so eviction can find the least recently used entry.
        var clock: UInt64 = 0
        /// Mints started so far (tests check that concurrent requests share one).
        var mintCount = 0
    }

    private struct Entry {
        var phase: Phase
        var lastUsed: UInt64
    }

    private enum Phase {
        /// A mint is running; `token` tells its result apart from that of a later mint for the same host.
        case minting(future: EventLoopFuture<NIOSSLContext>, token: UInt64)
        case ready(context: NIOSSLContext, notValidAfter: Date)
    }

    /// - Parameters:
    ///   - authority: the CA that signs the leaves.
    ///   - threadPool: where minting and context creation run; it must be started.
    ///   - maxEntries: how many hosts to keep (at least 1).
    public convenience init(authority: CertificateAuthority, threadPool: NIOThreadPool, maxEntries: Int = 2048) {
        self.init(authority: authority, threadPool: threadPool, maxEntries: maxEntries, now: { Date() })
    }

    /// `now` tells the time, for tests that let certificates approach their end.
    init(
        authority: CertificateAuthority,
        threadPool: NIOThreadPool,
        maxEntries: Int,
        now: @escaping @Sendable () -> Date
    ) {
        self.authority = authority
        self.threadPool = threadPool
        self.maxEntries = max(1, maxEntries)
        self.now = now
        self.state = NIOLockedValueBox(State())
    }

    /// The server context for `host` (a DNS name or IP literal; case and a trailing dot do not matter),
    /// completed on `eventLoop`. Fails with ``TLSError`` for a host that is neither, or when minting fails.
    public func serverContext(for host: String, on eventLoop: any EventLoop) -> EventLoopFuture<NIOSSLContext> {
        let target: CertificateHost
        do {
            target = try CertificateHost(host)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let key = target.normalized
        let now = self.now()

        enum Decision {
            case cached(NIOSSLContext)
            case join(EventLoopFuture<NIOSSLContext>)
            case mint(EventLoopPromise<NIOSSLContext>, token: UInt64)
        }
        let decision: Decision = self.state.withLockedValue { state in
            state.clock += 1
            if var entry = state.entries[key] {
                entry.lastUsed = state.clock
                switch entry.phase {
                case .ready(let context, let notValidAfter)
                where notValidAfter.timeIntervalSince(now) > Self.renewalMargin:
                    state.entries[key] = entry
                    return .cached(context)
                case .minting(let future, _):
                    state.entries[key] = entry
                    return .join(future)
                case .ready:
                    break  // expiring: mint a new one below
                }
            }
            // Registered before the mint starts, so that requests arriving meanwhile join it.
            let promise = eventLoop.makePromise(of: NIOSSLContext.self)
            state.entries[key] = Entry(
                phase: .minting(future: promise.futureResult, token: state.clock),
                lastUsed: state.clock
            )
            state.mintCount += 1
            return .mint(promise, token: state.clock)
        }

        switch decision {
        case .cached(let context):
            return eventLoop.makeSucceededFuture(context)
        case .join(let future):
            return future.hop(to: eventLoop)
        case .mint(let promise, let token):
            self.mint(key: key, token: token, promise: promise, on: eventLoop)
            return promise.futureResult
        }
    }

    /// The server context for `host`, for callers outside an event loop (completed on a loop of
    /// `MultiThreadedEventLoopGroup.singleton`).
    public func serverContext(for host: String) async throws -> NIOSSLContext {
        try await self.serverContext(for: host, on: MultiThreadedEventLoopGroup.singleton.any()).get()
    }

    /// How many hosts are cached or being minted.
    public var count: Int {
        self.state.withLockedValue { $0.entries.count }
    }

    /// How many mints have started since this cache was made.
    var mintCount: Int {
        self.state.withLockedValue { $0.mintCount }
    }

    private func mint(
        key: String,
        token: UInt64,
        promise: EventLoopPromise<NIOSSLContext>,
        on eventLoop: any EventLoop
    ) {
        let authority = self.authority
        let clock = self.now
        let minted = self.threadPool.runIfActive(eventLoop: eventLoop) { () throws -> MintResult in
            let leaf = try authority.issueLeaf(for: key, now: clock())
            let context = try NIOSSLContext(configuration: leaf.makeServerConfiguration())
            return MintResult(context: context, notValidAfter: leaf.notValidAfter)
        }
        minted.whenComplete { result in
            self.state.withLockedValue { state in
                guard let entry = state.entries[key], case .minting(_, let current) = entry.phase, current == token
                else { return }
                switch result {
                case .success(let mint):
                    state.entries[key] = Entry(
                        phase: .ready(context: mint.context, notValidAfter: mint.notValidAfter),
                        lastUsed: entry.lastUsed
                    )
                    Self.evict(&state, keeping: self.maxEntries)
                case .failure:
                    state.entries[key] = nil
                }
            }
        }
        promise.completeWith(minted.map(\.context))
    }

    private struct MintResult: Sendable {
        let context: NIOSSLContext
        let notValidAfter: Date
    }

    /// Drops the least recently used ready entries until at most `limit` remain (mints in flight stay).
    private static func evict(_ state: inout State, keeping limit: Int) {
        while state.entries.count > limit {
            var oldest: (key: String, lastUsed: UInt64)?
            for (key, entry) in state.entries {
                guard case .ready = entry.phase else { continue }
                if oldest == nil || entry.lastUsed < oldest!.lastUsed {
                    oldest = (key, entry.lastUsed)
                }
            }
            guard let oldest else { return }
            state.entries[oldest.key] = nil
        }
    }
}
