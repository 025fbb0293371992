#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The optional user configuration, `$XDG_CONFIG_HOME/keyhole/config.toml`:
///
/// ```toml
/// listen = "127.0.0.1:8899"                      # loopback only
/// upstream_ca = ["/etc/ssl/company-ca.pem"]      # extra trust anchors for upstream TLS
/// resolve = { "api.example.com:443" = "127.0.0.1:8443" }   # like curl --resolve
///
/// [resolve]                                      # the same, as a table
/// "git.example.com:443" = "10.0.0.7:443"
///
/// [timeouts]                                     # seconds; see ``ProxyLimits``
/// idle = 120
///
/// [proxy]
/// max_connections = 4096
/// ```
///
/// A missing file means the defaults. Unknown keys are reported in ``warnings``, not refused, so that an
/// older keyhole can read a newer file.
public struct Config: Sendable, Equatable {
    /// Where the proxy listens (validated loopback `host:port`), or nil for the default.
    public var listen: String?
    /// Extra PEM trust anchors for upstream TLS, as absolute paths.
    public var upstreamCA: [String]
    /// `host:port` → `addr:port` overrides for upstream connections; keys are normalized (lowercase host).
    public var resolve: [String: String]
    /// Timeouts and the connection cap of the proxy (`[timeouts]`, `[proxy]`).
    public var limits: ProxyLimits = .defaults
    /// `FILE:LINE: unknown key …` for each key this version does not know.
    public var warnings: [String]

    public init(
        listen: String? = nil, upstreamCA: [String] = [], resolve: [String: String] = [:], warnings: [String] = []
    ) {
        self.listen = listen
        self.upstreamCA = upstreamCA
        self.resolve = resolve
        self.warnings = warnings
    }

    /// The configuration when there is no file.
    public static let defaults = Config()

    /// The parsed ``listen`` address, if one is configured.
    public var listenAddress: Address? {
        self.listen.flatMap { try? Config.listenAddress($0) }
    }

    /// Reads and validates the file at `path`. A missing file gives the defaults; anything else that is
    /// wrong throws a ``ConfigError`` naming the file, the line and what was expected.
    /// Relative `upstream_ca` paths are taken relative to the file's directory; `~/` means `home`
    /// (default `$HOME`).
    public static func load(from path: String, home: String? = nil) throws(ConfigError) -> Config {
        guard let bytes = try Self.readFile(path) else {
            return .defaults
        }
        return try Self.parse(bytes, path: path, home: home)
    }

    /// Parses the text of a configuration file; `path` is used in messages and to resolve relative paths.
    public static func parse(_ text: String, path: String, home: String? = nil) throws(ConfigError) -> Config {
        try Self.parse(Array(text.utf8), path: path, home: home)
    }

    static func parse(_ bytes: [UInt8], path: String, home: String?) throws(ConfigError) -> Config {
        let document: TOMLTable
        do {
            document = try TOMLSubsetParser.parse(bytes)
        } catch {
            throw ConfigError(
                code: .syntax,
                file: path,
                line: error.line,
                message: error.message,
                hint: "config.toml is TOML (https://toml.io); fix the line or remove the file to use the defaults"
            )
        }
        var interpreter = ConfigInterpreter(path: path, home: home ?? ProcessEnvironment.current["HOME"])
        return try interpreter.interpret(document)
    }

    /// The file's bytes, or nil when it does not exist.
    private static func readFile(_ path: String) throws(ConfigError) -> [UInt8]? {
        func unreadable(_ message: String) -> ConfigError {
            ConfigError(
                code: .unreadable,
                file: path,
                line: nil,
                message: message,
                hint: "make it a readable file, or remove it to use the defaults"
            )
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT { return nil }
            throw unreadable("cannot open: \(String(cString: strerror(code)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw unreadable("cannot stat: \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw unreadable("not a regular file")
        }
        let limit = 1 << 20
        guard Int(info.st_size) <= limit else {
            throw unreadable("too large (\(info.st_size) bytes; a configuration file is at most 1 MiB)")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw unreadable("cannot read: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit {
                throw unreadable("too large (a configuration file is at most 1 MiB)")
            }
        }
        return bytes
    }
}
