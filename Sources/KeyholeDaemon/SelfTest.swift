import Foundation
import KeyholeControl
import KeyholeCore
import KeyholeProxy
import KeyholeTLS
import Logging
import NIOCore
import NIOPosix

/// The daemon's end-to-end self-test, run for `keyhole doctor`: a throw-away secret goes into the store, a
/// throw-away credential scoped to a `keyhole.invalid` name gets a session, and a real HTTPS request carrying the
/// placeholder goes through the proxy listener to a loopback server presenting a leaf of keyhole's CA. It passes
/// when that server received the real secret (and not the placeholder). Everything is removed afterwards.
struct SelfTest: Sendable {
    let group: any EventLoopGroup
    let leafCache: LeafCertificateCache
    let routes: SelfTestRoutes
    let proxyPort: Int
    let bundlePath: String

    /// Runs the test over `registry` and `store`; never throws: each failure is a report naming its stage.
    func run(registry: SessionRegistry, store: any SecretStore, threadPool: NIOThreadPool) async -> SelfTestReport {
        let started = Date()
        let name = "keyhole-selftest-\(RandomToken.hex(byteCount: 4))"
        let secret = "selftest-" + RandomToken.hex(byteCount: 16)
        let host = "selftest-\(RandomToken.hex(byteCount: 4)).\(SelfTestRoutes.domain)"
        func report(_ ok: Bool, _ stage: String, _ detail: String) -> SelfTestReport {
            SelfTestReport(ok: ok, stage: stage, detail: detail, milliseconds: Int(Date().timeIntervalSince(started) * 1000))
        }

        do {
            try await threadPool.runIfActive { try store.store(Secret(secret), for: name) }
        } catch {
            return report(false, "store", "could not store a test secret: \(ErrorDescription.describe(error).message)")
        }
        defer {
            let pool = threadPool
            Task { try? await pool.runIfActive { try store.delete(name) } }
        }

        let server: SelfTestUpstream
        do {
            let context = try await self.leafCache.serverContext(for: host, on: self.group.next()).get()
            server = try await SelfTestUpstream.start(
                group: self.group, context: context, expectedAuthorization: "Bearer \(secret)",
                placeholderAuthorization: ""
            )
        } catch {
            return report(false, "certificate", "could not start the test server: \(error)")
        }
        let authority = Authority(host: host, port: server.port)
        self.routes.add(authority, port: server.port)
        let definition = CredentialDefinition(
            name: name, hosts: [try! HostPattern(authority.description)], created: Timestamp.now()
        )
        registry.setDefinition(definition)
        defer {
            registry.removeDefinition(name)
            self.routes.remove(authority)
        }
        let entry: SessionRegistry.Entry
        do {
            (entry, _) = try registry.open(names: [name], kind: .env, ttlSeconds: 60, connectionID: nil)
        } catch {
            await server.close()
            return report(false, "session", "could not open a session: \(error)")
        }
        defer { _ = registry.close(token: entry.token) }
        guard let placeholder = entry.placeholders[name] else {
            await server.close()
            return report(false, "session", "the session has no placeholder")
        }

        let status: Int
        do {
            status = try await SelfTestClient.get(
                proxyPort: self.proxyPort, token: entry.token, authority: authority,
                authorization: "Bearer \(placeholder)", bundlePath: self.bundlePath, group: self.group
            )
        } catch {
            await server.close()
            return report(false, "proxy", "the request through the proxy failed: \(error)")
        }
        let received = server.received
        await server.close()
        switch (status, received) {
        case (200, .secret?):
            return report(true, "done", "placeholder in, real secret out, verified by the test server")
        case (_, .placeholder?):
            return report(false, "swap", "the test server received the placeholder, not the secret")
        case (_, nil):
            return report(false, "proxy", "the proxy answered \(status) and sent nothing upstream")
        default:
            return report(false, "swap", "the test server answered \(status): it did not receive the secret")
        }
    }

    /// A self-test server that answers `/reach` for as long as the caller keeps it, behind a `keyhole.invalid`
    /// name routed to it. Runtimes probed by `keyhole doctor` reach it only through the proxy with the keyhole CA
    /// trusted, which is what `keyhole run` must give them.
    func startReachServer() async throws -> (SelfTestUpstream, Authority) {
        let host = "reach-\(RandomToken.hex(byteCount: 4)).\(SelfTestRoutes.domain)"
        let context = try await self.leafCache.serverContext(for: host, on: self.group.next()).get()
        let server = try await SelfTestUpstream.start(
            group: self.group, context: context, expectedAuthorization: "-", placeholderAuthorization: "-"
        )
        let authority = Authority(host: host, port: server.port)
        self.routes.add(authority, port: server.port)
        return (server, authority)
    }

    func stopReachServer(_ server: SelfTestUpstream, _ authority: Authority) async {
        self.routes.remove(authority)
        await server.close()
    }
}
