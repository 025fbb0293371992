import KeyholeCore
import NIOConcurrencyHelpers
import NIOSSL

/// Where the daemon's self-test (`keyhole doctor`) upstreams listen. Names under `keyhole.invalid` (a
/// reserved TLD that never resolves) reach only these loopback servers, verified against keyhole's own CA and
/// nothing else; no other name can be routed or trusted this way.
public final class SelfTestRoutes: Sendable {
    public static let domain = "keyhole.invalid"

    private let caPEM: String
    private let ports = NIOLockedValueBox<[Authority: Int]>([:])
    /// Trusts the keyhole CA alone; made at the first self-test, so an idle daemon does not carry it.
    private let context = NIOLockedValueBox<NIOSSLContext?>(nil)

    public init(caPEM: String) {
        self.caPEM = caPEM
    }

    func tlsContext() throws -> NIOSSLContext {
        try self.context.withLockedValue { context in
            if let context { return context }
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .fullVerification
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(self.caPEM.utf8)))
            configuration.minimumTLSVersion = .tlsv12
            configuration.applicationProtocols = ["http/1.1"]
            let made = try NIOSSLContext(configuration: configuration)
            context = made
            return made
        }
    }

    public static func isSelfTest(_ authority: Authority) -> Bool {
        authority.host.hasSuffix("." + Self.domain)
    }

    public func add(_ authority: Authority, port: Int) {
        self.ports.withLockedValue { $0[authority] = port }
    }

    public func remove(_ authority: Authority) {
        self.ports.withLockedValue { _ = $0.removeValue(forKey: authority) }
    }

    func port(for authority: Authority) -> Int? {
        self.ports.withLockedValue { $0[authority] }
    }
}

/// A `keyhole.invalid` name with no self-test server behind it.
struct UnknownSelfTestHost: Error, CustomStringConvertible {
    let authority: Authority
    var description: String { "no self-test server for \(self.authority)" }
}
