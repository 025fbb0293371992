import KeyholeControl
import KeyholeCore

/// The variables a session hands to a workload: the proxy (with the session token as its password), the
/// trust bundle for every runtime we can reach, and one placeholder per `--env` name. Never a secret.
enum SessionEnvironment {
    static let proxyVariables = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    static let noProxyVariables = ["NO_PROXY", "no_proxy"]
    static let noProxyValue = "localhost,127.0.0.1,::1"
    /// Variables naming a CA bundle file (system roots plus the keyhole CA).
    static let bundleVariables = [
        "SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO", "AWS_CA_BUNDLE", "PIP_CERT",
        "CARGO_HTTP_CAINFO", "DENO_CERT",
    ]
    /// Variables that must never reach a workload.
    static let removedVariables = ["KEYHOLE_PASSPHRASE"]

    /// The variables, in a stable order: the session's own, git's credential helper, then those of the
    /// session's client files.
    static func variables(
        for grant: SessionGrant,
        files: SessionFiles?,
        base: [String: String]
    ) -> [(name: String, value: String)] {
        self.variables(for: grant) + self.gitVariables(base: base) + (files?.variables ?? [])
    }

    /// Variables to remove from the workload's environment.
    static func removed(files: SessionFiles?) -> [String] {
        self.removedVariables + (files?.removed ?? [])
    }

    /// git's `credential.helper`, reset (empty value) then set to keyhole, as command-line configuration after any
    /// the environment already carries: no git config file changes.
    static func gitVariables(base: [String: String]) -> [(name: String, value: String)] {
        let existing = base["GIT_CONFIG_COUNT"].flatMap { Int($0) }.map { max(0, $0) } ?? 0
        return [
            ("GIT_CONFIG_KEY_\(existing)", "credential.helper"),
            ("GIT_CONFIG_VALUE_\(existing)", ""),
            ("GIT_CONFIG_KEY_\(existing + 1)", "credential.helper"),
            ("GIT_CONFIG_VALUE_\(existing + 1)", "keyhole"),
            ("GIT_CONFIG_COUNT", "\(existing + 2)"),
        ]
    }

    /// The session's own variables: proxy, trust, token and `--env` placeholders.
    static func variables(for grant: SessionGrant) -> [(name: String, value: String)] {
        let proxyURL = "http://keyhole:\(grant.token)@\(grant.proxy)"
        var result: [(String, String)] = []
        for name in self.proxyVariables { result.append((name, proxyURL)) }
        for name in self.noProxyVariables { result.append((name, self.noProxyValue)) }
        for name in self.bundleVariables { result.append((name, grant.bundle)) }
        result.append(("NODE_EXTRA_CA_CERTS", grant.ca))
        // Node 24.5+ (and 22.21+) then proxy fetch() and the http/https agents themselves.
        result.append(("NODE_USE_ENV_PROXY", "1"))
        result.append(("KEYHOLE_SESSION", grant.token))
        for credential in grant.credentials.sorted(by: { $0.name < $1.name }) {
            guard let placeholder = grant.placeholders[credential.name] else { continue }
            for variable in credential.env {
                result.append((variable, placeholder))
            }
        }
        return result
    }

    /// `base` with the session's variables set and the removed ones gone.
    static func apply(_ grant: SessionGrant, files: SessionFiles?, to base: [String: String]) -> [String: String] {
        var environment = base
        for name in self.removed(files: files) { environment.removeValue(forKey: name) }
        for (name, value) in self.variables(for: grant, files: files, base: base) { environment[name] = value }
        return environment
    }
}
