@testable import KeyholeCore

/// `config.toml` through ``Config/parse(_:path:home:)`` (``TOMLSubsetParser`` then ``ConfigInterpreter``).
///
/// Properties: a ``Config`` or a ``ConfigError`` (typed throws: nothing else can come out), the same one for the
/// same bytes twice and for the same text given as a `String`; an error names a line of the file; what is
/// accepted is valid: `listen` is a loopback `host:port` in its normal form, `resolve` maps normal `host:port`
/// to normal `host:port`, `upstream_ca` paths are absolute, the limits are within their documented ranges.
/// Hangs and runaway memory are libFuzzer's `-timeout` and `-rss_limit_mb`.
enum ConfigFuzz {
    static let target = FuzzTarget(name: "config", summary: "config.toml: Config.parse (TOML subset parser and interpreter)") { bytes in
        ConfigFuzz.run(Array(bytes))
    }

    typealias Outcome = Result<Config, ConfigError>

    static func parse(_ bytes: [UInt8]) -> Outcome {
        Result { () throws(ConfigError) in try Config.parse(bytes, path: "/home/fuzz/.config/keyhole/config.toml", home: "/home/fuzz") }
    }

    static func run(_ bytes: [UInt8]) {
        let first = Self.parse(bytes)
        FuzzCheck.require(Self.parse(bytes) == first, "parsing the same bytes twice gave different results")
        if let text = String(validating: bytes, as: UTF8.self) {
            let fromText = Result { () throws(ConfigError) in try Config.parse(text, path: "/home/fuzz/.config/keyhole/config.toml", home: "/home/fuzz") }
            FuzzCheck.require(fromText == first, "the String and [UInt8] entry points disagree")
        }
        switch first {
        case .failure(let error):
            let lines = 1 + bytes.count { $0 == 0x0A }
            if let line = error.line {
                FuzzCheck.require((1...lines).contains(line), "an error names line \(line) of a \(lines)-line file: \(error)")
            }
            FuzzCheck.require(!error.message.isEmpty && error.file != nil, "an error without a message or a file")
        case .success(let config):
            if let listen = config.listen {
                guard let address = try? Config.listenAddress(listen) else { FuzzCheck.fail("accepted listen '\(fuzzShow(listen))' does not parse again") }
                FuzzCheck.require(address.isLoopback && address.description == listen, "listen '\(fuzzShow(listen))' is not a normal loopback address")
            }
            for (from, to) in config.resolve {
                for text in [from, to] {
                    let again = try? Config.Address.parse(text)
                    FuzzCheck.require(again?.description == text, "resolve holds '\(fuzzShow(text))', not a normal host:port")
                }
                FuzzCheck.require(from.lowercased() == from, "a resolve key is not lowercase")
            }
            for path in config.upstreamCA {
                FuzzCheck.require(path.hasPrefix("/"), "upstream_ca '\(fuzzShow(path))' is not absolute")
            }
            let limits = config.limits
            for seconds in [limits.requestHeadSeconds, limits.handshakeSeconds, limits.idleSeconds, limits.responseHeadSeconds, limits.tunnelIdleSeconds] {
                FuzzCheck.require((1...86_400).contains(seconds), "a timeout of \(seconds) s was accepted")
            }
            FuzzCheck.require((16...1_000_000).contains(limits.maxConnections), "max_connections \(limits.maxConnections) was accepted")
        }
    }
}
