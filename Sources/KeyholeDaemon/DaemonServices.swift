import Foundation
import KeyholeControl
import KeyholeProxy
import Logging
import ServiceLifecycle

/// The proxy listener as a Service: runs until graceful shutdown, then stops accepting.
struct ProxyService: Service {
    let server: ProxyServer

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await self.server.closeFuture.get()
        } onGracefulShutdown: {
            Task { try? await self.server.close() }
        }
    }
}

/// The control socket as a Service.
struct ControlSocketService: Service {
    let server: ControlServer

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await self.server.run()
        } onGracefulShutdown: {
            Task { await self.server.shutdown() }
        }
    }
}

/// Ends `env` sessions whose TTL has passed.
struct SessionSweeper: Service {
    let registry: SessionRegistry
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(30)) }
            for id in self.registry.sweep() {
                self.logger.info("session ended", metadata: ["session": "\(id)", "reason": "ttl"])
            }
        }
    }
}
