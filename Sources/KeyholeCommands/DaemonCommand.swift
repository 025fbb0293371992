import ArgumentParser
import Foundation
import KeyholeCore
import KeyholeDaemon

#if canImport(Glibc)
import Glibc
#endif

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run the keyhole daemon in the foreground.",
        discussion: """
            Client commands start the daemon in the background when none answers, so you rarely need this. \
            Use it to see start-up problems, or under a service manager.

            Example:
              keyhole daemon --listen 127.0.0.1:8899 --store file
            """
    )

    @Option(help: "Proxy address, a loopback address with a port (default: `listen` in config.toml, else a free port).")
    var listen: String?

    @Option(help: "Where secrets live: auto, secret-service or file (default: $KEYHOLE_STORE, else auto).")
    var store: StoreKind?

    @Flag(help: .hidden)
    var background = false

    func run() async throws {
        let context = ClientContext()
        let kind = try self.store ?? StoreKind.fromEnvironment(context.environment)
        let options = DaemonOptions(
            paths: context.paths, storeKind: kind, listen: self.listen, environment: context.environment,
            echoLog: !self.background && isatty(2) == 1
        )
        let background = self.background
        try await Daemon.run(options) { status in
            if !background {
                Terminal.print("keyhole daemon \(status.version) (pid \(status.pid)): proxy \(status.proxy), store \(status.storeState)")
            }
        }
    }
}

extension StoreKind: ExpressibleByArgument {
    static func fromEnvironment(_ environment: [String: String]) throws -> StoreKind {
        guard let value = environment["KEYHOLE_STORE"], !value.isEmpty else { return .auto }
        guard let kind = StoreKind(rawValue: value) else {
            throw CLIError("KEYHOLE_STORE=\(value) is not a store", hint: "use auto, secret-service or file")
        }
        return kind
    }
}
