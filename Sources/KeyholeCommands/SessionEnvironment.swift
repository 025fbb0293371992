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

    /// The variables, in a stable order.
    static func variables(for grant: SessionGrant) -> [(name: String, value: String)] {
        let proxyURL = "http://keyhole:\(grant.token)@\(grant.proxy)"
        var result: [(String, String)] = []
        for name in self.proxyVariables { result.append((name, proxyURL)) }
        for name in self.noProxyVariables { result.append((name, self.noProxyValue)) }
        for name in self.bundleVariables { result.append((name, grant.bundle)) }
        result.append(("NODE_EXTRA_CA_CERTS", grant.ca))
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
    static func apply(_ grant: SessionGrant, to base: [String: String]) -> [String: String] {
        var environment = base
        for name in self.removedVariables { environment.removeValue(forKey: name) }
        for (name, value) in self.variables(for: grant) { environment[name] = value }
        return environment
    }
}
