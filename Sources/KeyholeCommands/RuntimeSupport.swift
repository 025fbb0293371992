import Foundation
import KeyholeControl
import KeyholeCore

#if canImport(Glibc)
import Glibc
#endif

/// What a session adds for runtimes that read no proxy or CA-bundle variable of their own, with the files they need
/// (in the data directory, rewritten only when they change; nothing in them is secret):
/// - Java: `JAVA_TOOL_OPTIONS` += a PKCS#12 trust store (the session bundle: system roots and the keyhole CA), the
///   proxy as `http(s).proxyHost/Port`, its credentials as `http(s).proxyUser/Password` and Basic allowed for
///   proxies and tunnels;
/// - Node before 24.5: `NODE_OPTIONS` += `--require` of ``NodeProxyPreload``.
/// Options a previous session added to those variables are replaced, the user's own kept in front. A file that
/// cannot be written leaves its runtime out; the session still starts.
enum RuntimeSupport {
    static let javaTrustStorePassword = "changeit"
    static let keyholeCAAlias = "keyhole-ca"
    /// The `-D` properties keyhole sets in `JAVA_TOOL_OPTIONS` (replaced when already there).
    static let javaProperties = [
        "javax.net.ssl.trustStore", "javax.net.ssl.trustStoreType", "javax.net.ssl.trustStorePassword",
        "https.proxyHost", "https.proxyPort", "http.proxyHost", "http.proxyPort", "http.nonProxyHosts",
        "https.proxyUser", "https.proxyPassword", "http.proxyUser", "http.proxyPassword",
        "jdk.http.auth.tunneling.disabledSchemes", "jdk.http.auth.proxying.disabledSchemes",
    ]

    /// The argument file (in the session's directory) holding the proxy's credentials for the `java` launcher.
    static let javaProxyAuthFile = "java-proxy-auth"

    /// `sessionDirectory`: where the proxy's credentials go for Java (`JDK_JAVA_OPTIONS=@FILE`), so that the
    /// `Picked up JAVA_TOOL_OPTIONS` line every JVM prints on stderr never shows the session token. Without one
    /// they go into `JAVA_TOOL_OPTIONS` like the rest.
    static func variables(
        for grant: SessionGrant,
        paths: Paths,
        environment: [String: String],
        sessionDirectory: String? = nil
    ) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        if let path = try? self.writeJavaTrustStore(grant, to: paths.javaTrustStoreFile) {
            var options = self.javaOptions(for: grant, trustStore: path)
            if let sessionDirectory {
                let credentials = options.filter { self.isJavaProxyCredential($0) }
                let file = sessionDirectory + "/" + self.javaProxyAuthFile
                if (try? FileSystem.writeAtomically(Array((credentials.joined(separator: "\n") + "\n").utf8), to: file, mode: 0o600)) != nil {
                    options.removeAll { self.isJavaProxyCredential($0) }
                    result.append(("JDK_JAVA_OPTIONS", self.appendArgumentFile(file, to: environment["JDK_JAVA_OPTIONS"])))
                }
            }
            result.append(("JAVA_TOOL_OPTIONS", self.appendJava(options, to: environment["JAVA_TOOL_OPTIONS"])))
        }
        if (try? self.writeIfChanged(Array(NodeProxyPreload.source.utf8), to: paths.nodePreloadFile)) != nil {
            let options = self.appendNode(preload: paths.nodePreloadFile, to: environment["NODE_OPTIONS"])
            result.append(("NODE_OPTIONS", options))
        }
        return result
    }

    // MARK: Java

    /// The trust store for the session's bundle; its path. The daemon rewrites the bundle only when it changes, so a
    /// store newer than the bundle is current.
    static func writeJavaTrustStore(_ grant: SessionGrant, to path: String) throws -> String {
        if let store = self.modificationTime(path), let bundle = self.modificationTime(grant.bundle), store >= bundle {
            return path
        }
        let bundle = try FileSystem.contents(of: grant.bundle) ?? []
        let certificates = PKCS12TrustStore.certificates(fromPEM: String(decoding: bundle, as: UTF8.self))
        let ca = try FileSystem.contents(of: grant.ca).map {
            PKCS12TrustStore.certificates(fromPEM: String(decoding: $0, as: UTF8.self))
        }?.first
        guard !certificates.isEmpty else {
            throw CLIError("the trust bundle \(grant.bundle) holds no certificate", hint: nil)
        }
        var entries: [PKCS12TrustStore.Entry] = []
        for (index, der) in certificates.enumerated() {
            entries.append(.init(alias: der == ca ? self.keyholeCAAlias : "root-\(index + 1)", der: der))
        }
        let store = PKCS12TrustStore.encode(entries, password: self.javaTrustStorePassword)
        if (try? FileSystem.contents(of: path)) == store {
            utimes(path, nil)  // current again: later sessions skip the work
        } else {
            try FileSystem.writeAtomically(store, to: path, mode: 0o644)
        }
        return path
    }

    static func javaOptions(for grant: SessionGrant, trustStore: String) -> [String] {
        let (host, port) = self.hostAndPort(grant.proxy)
        let nonProxy = SessionEnvironment.noProxyValue.split(separator: ",")
            .map { $0.contains(":") ? "[\($0)]" : String($0) }.joined(separator: "|")
        var options = [
            "-Djavax.net.ssl.trustStore=\(trustStore)", "-Djavax.net.ssl.trustStoreType=PKCS12",
            "-Djavax.net.ssl.trustStorePassword=\(self.javaTrustStorePassword)",
        ]
        for scheme in ["https", "http"] {
            options += ["-D\(scheme).proxyHost=\(host)", "-D\(scheme).proxyPort=\(port)"]
        }
        options.append("-Dhttp.nonProxyHosts=\(nonProxy)")
        for scheme in ["https", "http"] {
            options += ["-D\(scheme).proxyUser=keyhole", "-D\(scheme).proxyPassword=\(grant.token)"]
        }
        options += ["-Djdk.http.auth.tunneling.disabledSchemes=", "-Djdk.http.auth.proxying.disabledSchemes="]
        // The JVM splits JAVA_TOOL_OPTIONS at white space and (since 9) honours double quotes.
        return options.map { $0.contains(where: \.isWhitespace) ? "\"\($0)\"" : $0 }
    }

    static func isJavaProxyCredential(_ option: String) -> Bool {
        ["https.proxyUser", "https.proxyPassword", "http.proxyUser", "http.proxyPassword"]
            .contains { option.hasPrefix("-D\($0)=") }
    }

    /// `existing` without an argument file of an earlier keyhole session, then `@FILE`.
    static func appendArgumentFile(_ file: String, to existing: String?) -> String {
        let kept = self.splitOptions(existing ?? "").filter { option in
            !(option.hasPrefix("@") && option.hasSuffix("/" + self.javaProxyAuthFile))
        }
        return (kept + ["@" + file]).joined(separator: " ")
    }

    /// `existing` without the properties keyhole sets, then `options`.
    static func appendJava(_ options: [String], to existing: String?) -> String {
        let kept = self.splitOptions(existing ?? "").filter { option in
            let unquoted = option.replacingOccurrences(of: "\"", with: "")
            return !self.javaProperties.contains { unquoted.hasPrefix("-D\($0)=") }
        }
        return (kept + options).joined(separator: " ")
    }

    // MARK: Node

    /// `existing` without an earlier `--require` of the preload, then `--require PRELOAD`.
    static func appendNode(preload: String, to existing: String?) -> String {
        let options = self.splitOptions(existing ?? "")
        var kept: [String] = []
        var index = 0
        while index < options.count {
            let option = options[index].replacingOccurrences(of: "\"", with: "")
            let next = index + 1 < options.count ? options[index + 1].replacingOccurrences(of: "\"", with: "") : nil
            if (option == "--require" || option == "-r") && next == preload {
                index += 2
                continue
            }
            if option != "--require=\(preload)" { kept.append(options[index]) }
            index += 1
        }
        let path = preload.contains(where: \.isWhitespace) ? "\"\(preload)\"" : preload
        return (kept + ["--require", path]).joined(separator: " ")
    }

    // MARK: Helpers

    /// Splits at white space outside double quotes (quotes kept).
    static func splitOptions(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        var quoted = false
        for character in text {
            if character == "\"" { quoted.toggle() }
            if character.isWhitespace && !quoted {
                if !current.isEmpty { result.append(current) }
                current = ""
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    static func hostAndPort(_ authority: String) -> (host: String, port: String) {
        guard let colon = authority.lastIndex(of: ":") else { return (authority, "80") }
        var host = String(authority[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, String(authority[authority.index(after: colon)...]))
    }

    private static func modificationTime(_ path: String) -> Double? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
    }

    private static func writeIfChanged(_ bytes: [UInt8], to path: String) throws {
        if (try? FileSystem.contents(of: path)) == bytes { return }
        try FileSystem.writeAtomically(bytes, to: path, mode: 0o644)
    }
}
