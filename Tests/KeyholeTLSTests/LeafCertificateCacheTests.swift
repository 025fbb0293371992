import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing

@testable import KeyholeTLS

@Suite struct LeafCertificateCacheTests {
    private func withCache(
        maxEntries: Int = 2048,
        now: @escaping @Sendable () -> Date = { Date() },
        _ body: (LeafCertificateCache) async throws -> Void
    ) async throws {
        try await withTemporaryDirectory { root in
            let authority = try CertificateAuthority.loadOrCreate(paths: makePaths(root: root))
            let pool = NIOThreadPool(numberOfThreads: 2)
            pool.start()
            let cache = LeafCertificateCache(authority: authority, threadPool: pool, maxEntries: maxEntries, now: now)
            do {
                try await body(cache)
            } catch {
                try await pool.shutdownGracefully()
                throw error
            }
            try await pool.shutdownGracefully()
        }
    }

    @Test func theSameHostGetsTheSameContext() async throws {
        try await self.withCache { cache in
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            let first = try await cache.serverContext(for: "api.test", on: loop).get()
            let second = try await cache.serverContext(for: "api.test", on: loop).get()
            let spelledDifferently = try await cache.serverContext(for: "API.Test.")
            #expect(first === second)
            #expect(first === spelledDifferently)
            #expect(cache.mintCount == 1)
            #expect(cache.count == 1)

            let other = try await cache.serverContext(for: "other.test")
            #expect(other !== first)
            #expect(cache.mintCount == 2)
        }
    }

    @Test func concurrentRequestsShareOneMint() async throws {
        try await self.withCache { cache in
            let group = MultiThreadedEventLoopGroup.singleton
            // All requested before any mint can finish: they join the one in flight.
            let futures = (0..<32).map { _ in cache.serverContext(for: "shared.test", on: group.next()) }
            var contexts: [NIOSSLContext] = []
            for future in futures {
                contexts.append(try await future.get())
            }
            #expect(cache.mintCount == 1)
            #expect(contexts.allSatisfy { $0 === contexts[0] })

            // And from many tasks at once, for another host.
            let fromTasks = try await withThrowingTaskGroup(of: ObjectIdentifier.self) { tasks in
                for _ in 0..<32 {
                    tasks.addTask { ObjectIdentifier(try await cache.serverContext(for: "tasks.test")) }
                }
                return try await tasks.reduce(into: Set<ObjectIdentifier>()) { $0.insert($1) }
            }
            #expect(fromTasks.count == 1)
            #expect(cache.mintCount == 2)
        }
    }

    @Test func anExpiringCertificateIsMintedAgain() async throws {
        let offset = NIOLockedOffset()
        try await self.withCache(now: { Date().addingTimeInterval(offset.value) }) { cache in
            let first = try await cache.serverContext(for: "api.test")
            offset.value = 28 * 86_400
            #expect(try await cache.serverContext(for: "api.test") === first)
            offset.value = 29.5 * 86_400
            let renewed = try await cache.serverContext(for: "api.test")
            #expect(renewed !== first)
            #expect(cache.mintCount == 2)
            #expect(try await cache.serverContext(for: "api.test") === renewed)
        }
    }

    @Test func theCacheIsBoundedAndDropsTheLeastRecentlyUsed() async throws {
        try await self.withCache(maxEntries: 2) { cache in
            let a = try await cache.serverContext(for: "a.test")
            _ = try await cache.serverContext(for: "b.test")
            #expect(try await cache.serverContext(for: "a.test") === a)  // a is now more recent than b
            _ = try await cache.serverContext(for: "c.test")  // evicts b
            #expect(cache.count == 2)
            #expect(try await cache.serverContext(for: "a.test") === a)
            #expect(cache.mintCount == 3)
            _ = try await cache.serverContext(for: "b.test")
            #expect(cache.mintCount == 4)
            #expect(cache.count == 2)
        }
    }

    @Test func anInvalidHostFailsAndIsNotCached() async throws {
        try await self.withCache { cache in
            await #expect(throws: TLSError.self) { try await cache.serverContext(for: "*.test") }
            #expect(cache.count == 0)
            #expect(cache.mintCount == 0)
        }
    }

    @Test func aStoppedThreadPoolFailsTheRequestAndTheNextOneRetries() async throws {
        try await withTemporaryDirectory { root in
            let authority = try CertificateAuthority.loadOrCreate(paths: makePaths(root: root))
            let pool = NIOThreadPool(numberOfThreads: 1)
            let cache = LeafCertificateCache(authority: authority, threadPool: pool)
            await #expect(throws: (any Error).self) { try await cache.serverContext(for: "api.test") }
            #expect(cache.count == 0)
            pool.start()
            _ = try await cache.serverContext(for: "api.test")
            #expect(cache.count == 1)
            try await pool.shutdownGracefully()
        }
    }
}

/// A time offset the tests move forward.
final class NIOLockedOffset: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: TimeInterval = 0
    var value: TimeInterval {
        get { self.lock.withLock { self.storage } }
        set { self.lock.withLock { self.storage = newValue } }
    }
}
