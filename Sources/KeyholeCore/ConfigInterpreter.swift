/// Turns a parsed `config.toml` into a validated ``Config``: checks each known key's type and value,
/// and collects a warning for each unknown key.
struct ConfigInterpreter {
    static let knownKeys = ["listen", "upstream_ca", "resolve", "timeouts", "proxy"]

    let path: String
    let home: String?
    private var warnings: [String] = []

    init(path: String, home: String?) {
        self.path = path
        self.home = home
    }

    mutating func interpret(_ document: TOMLTable) throws(ConfigError) -> Config {
        var config = Config()
        for entry in document.entries {
            switch entry.key {
            case "listen":
                config.listen = try self.listen(entry)
            case "upstream_ca":
                config.upstreamCA = try self.upstreamCA(entry)
            case "resolve":
                config.resolve = try self.resolve(entry)
            case "timeouts":
                for (key, path) in ProxyLimits.timeoutKeys {
                    if let value = try self.integer(in: entry, key: key, range: 1...86_400) {
                        config.limits[keyPath: path] = value
                    }
                }
                self.warnUnknown(in: entry, known: ProxyLimits.timeoutKeys.map(\.key))
            case "proxy":
                if let value = try self.integer(in: entry, key: "max_connections", range: 16...1_000_000) {
                    config.limits.maxConnections = value
                }
                self.warnUnknown(in: entry, known: ["max_connections"])
            default:
                self.warnings.append(
                    "\(self.path):\(entry.line): unknown key '\(TOMLSubsetParser.display([entry.key]))' ignored "
                        + "(known keys: \(Self.knownKeys.joined(separator: ", ")))"
                )
            }
        }
        config.warnings = self.warnings
        return config
    }

    private func listen(_ entry: TOMLTable.Entry) throws(ConfigError) -> String {
        guard let text = entry.value.stringValue else {
            throw self.invalid(
                line: entry.value.line,
                "listen: expected a string like \"127.0.0.1:8899\", found \(entry.value.typeDescription)"
            )
        }
        do {
            return try Config.listenAddress(text).description
        } catch {
            throw self.located(error, line: entry.value.line)
        }
    }

    private func upstreamCA(_ entry: TOMLTable.Entry) throws(ConfigError) -> [String] {
        let values: [TOMLValue]
        switch entry.value.kind {
        case .array(let elements):
            values = elements
        case .string:
            values = [entry.value]
        default:
            throw self.invalid(
                line: entry.value.line,
                "upstream_ca: expected an array of file paths like [\"/etc/ssl/company-ca.pem\"], "
                    + "found \(entry.value.typeDescription)"
            )
        }
        var paths: [String] = []
        for value in values {
            guard let text = value.stringValue else {
                throw self.invalid(
                    line: value.line,
                    "upstream_ca: expected a file path (a string), found \(value.typeDescription)"
                )
            }
            guard !text.isEmpty else {
                throw self.invalid(line: value.line, "upstream_ca: expected a file path, found an empty string")
            }
            paths.append(self.absolutePath(text))
        }
        return paths
    }

    private func resolve(_ entry: TOMLTable.Entry) throws(ConfigError) -> [String: String] {
        guard let table = entry.value.tableValue else {
            throw self.invalid(
                line: entry.value.line,
                "resolve: expected a table like { \"api.example.com:443\" = \"127.0.0.1:8443\" }, "
                    + "found \(entry.value.typeDescription)"
            )
        }
        var result: [String: String] = [:]
        var lines: [String: Int] = [:]
        for item in table.entries {
            let from: Config.Address
            do {
                from = try Config.Address.parse(item.key)
            } catch {
                throw self.located(error, line: item.line, prefix: "resolve: key ")
            }
            guard let target = item.value.stringValue else {
                throw self.invalid(
                    line: item.value.line,
                    "resolve: expected \"addr:port\" as the value of '\(item.key)', found \(item.value.typeDescription)"
                )
            }
            let to: Config.Address
            do {
                to = try Config.Address.parse(target)
            } catch {
                throw self.located(error, line: item.value.line, prefix: "resolve: value ")
            }
            let key = from.description
            if let first = lines[key] {
                throw self.invalid(line: item.line, "resolve: '\(item.key)' is given twice (first on line \(first))")
            }
            lines[key] = item.line
            result[key] = to.description
        }
        return result
    }

    /// The integer `key` of the table `entry`, if present, within `range`.
    private func integer(in entry: TOMLTable.Entry, key: String, range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let table = entry.value.tableValue else {
            throw self.invalid(
                line: entry.value.line, "\(entry.key): expected a table ([\(entry.key)]), found \(entry.value.typeDescription)"
            )
        }
        guard let item = table.entries.first(where: { $0.key == key }) else { return nil }
        guard case .integer(let value) = item.value.kind, range.contains(Int(value)) else {
            throw self.invalid(
                line: item.value.line,
                "\(entry.key).\(key): expected an integer from \(range.lowerBound) to \(range.upperBound), "
                    + "found \(item.value.typeDescription)"
            )
        }
        return Int(value)
    }

    private mutating func warnUnknown(in entry: TOMLTable.Entry, known: [String]) {
        for item in entry.value.tableValue?.entries ?? [] where !known.contains(item.key) {
            self.warnings.append(
                "\(self.path):\(item.line): unknown key '\(entry.key).\(item.key)' ignored "
                    + "(known keys: \(known.joined(separator: ", ")))"
            )
        }
    }

    /// `~/x` is under `home`, a relative path is relative to the configuration file's directory.
    private func absolutePath(_ text: String) -> String {
        if text.hasPrefix("/") { return text }
        if text == "~" || text.hasPrefix("~/"), let home = self.home {
            return home + text.dropFirst()
        }
        guard let slash = self.path.lastIndex(of: "/") else { return text }
        let directory = self.path[..<slash]
        return (directory.isEmpty ? "" : String(directory)) + "/" + text
    }

    private func invalid(line: Int, _ message: String, hint: String? = nil) -> ConfigError {
        ConfigError(code: .invalidValue, file: self.path, line: line, message: message, hint: hint)
    }

    private func located(_ error: ConfigError, line: Int, prefix: String = "") -> ConfigError {
        ConfigError(code: error.code, file: self.path, line: line, message: prefix + error.message, hint: error.hint)
    }
}
