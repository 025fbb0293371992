/// The runtimes keyhole knows how it reaches (or cannot), for `keyhole doctor` and the README. A probe prints the
/// HTTP status code of a GET of the URL on stdout and exits 0; it is meant to run under a session (`keyhole run`)
/// against a local HTTPS test server whose CA is in the session's bundle.
public enum RuntimeCatalog {
    static let proxy = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"]

    public static let all: [Runtime] = [
        Runtime(
            name: "curl", executables: ["curl"], versionPrefix: "curl ",
            variables: ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "NO_PROXY", "CURL_CA_BUNDLE", "SSL_CERT_FILE"],
            assess: { _ in .init(.works) },
            probe: { ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", $0] }
        ),
        Runtime(
            name: "python3", executables: ["python3", "python"], versionPrefix: "Python ",
            variables: Self.proxy + ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"],
            assess: { _ in
                .init(
                    .worksWithNote,
                    "urllib and requests read the proxy variables and the bundle; aiohttp reads the proxy "
                        + "variables only with trust_env=True, and a client that loads its own CA file (certifi) "
                        + "must be pointed at $SSL_CERT_FILE"
                )
            },
            probe: { url in
                [
                    "python3", "-c",
                    "import sys, urllib.error, urllib.request\ntry:\n"
                        + "    print(urllib.request.urlopen(sys.argv[1], timeout=20).status)\n"
                        + "except urllib.error.HTTPError as error:\n    print(error.code)",
                    url,
                ]
            }
        ),
        Runtime(
            name: "node", executables: ["node", "nodejs"], versionPrefix: "v",
            variables: Self.proxy + ["NODE_USE_ENV_PROXY", "NODE_EXTRA_CA_CERTS", "NODE_OPTIONS"],
            assess: Self.assessNode,
            probe: { url in
                [
                    "node", "-e",
                    "require('https').get(process.argv[1], (r) => { console.log(r.statusCode); r.resume(); })"
                        + ".on('error', (e) => { console.error(e.message); process.exit(1); })",
                    url,
                ]
            }
        ),
        Runtime(
            name: "go", executables: ["go"], versionArguments: ["version"], versionPrefix: "go version go",
            variables: Self.proxy + ["SSL_CERT_FILE"],
            assess: { _ in
                .init(
                    .works,
                    "programs built with Go (net/http's default transport) read the proxy variables and "
                        + "SSL_CERT_FILE; a custom Transport needs Proxy: http.ProxyFromEnvironment"
                )
            }
        ),
        Runtime(
            name: "java", executables: ["java"], versionArguments: ["-version"], versionPrefix: "version \"",
            variables: ["JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS"],
            assess: Self.assessJava
        ),
        Runtime(
            name: "git", executables: ["git"], versionPrefix: "git version ",
            variables: Self.proxy + ["GIT_SSL_CAINFO", "GIT_CONFIG_COUNT"],
            assess: { _ in .init(.works, "credential.helper = keyhole for hosts a credential covers") }
        ),
        Runtime(
            name: "aws", executables: ["aws"], versionPrefix: "aws-cli/",
            variables: Self.proxy + ["AWS_CA_BUNDLE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE"],
            assess: { _ in .init(.works, "credential_process profiles; the proxy re-signs SigV4 (not SigV4A)") }
        ),
        Runtime(
            name: "gh", executables: ["gh"], versionPrefix: "gh version ",
            variables: Self.proxy + ["SSL_CERT_FILE"],
            assess: { _ in .init(.works, "a Go program: the proxy variables and SSL_CERT_FILE; GH_TOKEN via --env") }
        ),
        Runtime(
            name: "docker", executables: ["docker"], versionPrefix: "version ",
            variables: ["DOCKER_CONFIG"],
            assess: { _ in
                .init(
                    .doesNot,
                    "pulls and pushes are made by dockerd, which reads neither the client's proxy variables nor "
                        + "keyhole's CA; use skopeo, podman or crane"
                )
            }
        ),
        Runtime(
            name: "podman", executables: ["podman"], versionPrefix: "version ",
            variables: Self.proxy + ["SSL_CERT_FILE", "REGISTRY_AUTH_FILE"],
            assess: { _ in
                .init(.works, "the same registry library as skopeo; credHelpers → docker-credential-keyhole")
            }
        ),
        Runtime(
            name: "skopeo", executables: ["skopeo"], versionPrefix: "version ",
            variables: Self.proxy + ["SSL_CERT_FILE", "REGISTRY_AUTH_FILE"],
            assess: { _ in .init(.works, "credHelpers → docker-credential-keyhole; Basic and token auth") }
        ),
        Runtime(
            name: "cargo", executables: ["cargo"], versionPrefix: "cargo ",
            variables: Self.proxy + ["CARGO_HTTP_CAINFO"],
            assess: { _ in .init(.works, "registry tokens through --env (CARGO_REGISTRY_TOKEN)") }
        ),
        Runtime(
            name: "pip", executables: ["pip3", "pip"], versionPrefix: "pip ",
            variables: Self.proxy + ["PIP_CERT"],
            assess: { _ in .init(.works) }
        ),
        Runtime(
            name: "uv", executables: ["uv"], versionPrefix: "uv ",
            variables: Self.proxy + ["SSL_CERT_FILE"],
            assess: { _ in .init(.works, "SSL_CERT_FILE replaces uv's bundled roots with keyhole's bundle") }
        ),
        Runtime(
            name: "ruby", executables: ["ruby"], versionPrefix: "ruby ",
            variables: Self.proxy + ["SSL_CERT_FILE"],
            assess: { _ in .init(.works, "Net::HTTP (and gems built on it) with the proxy's user:password") },
            probe: { ["ruby", "-rnet/http", "-e", "puts Net::HTTP.get_response(URI(ARGV[0])).code", $0] }
        ),
        Runtime(
            name: "dotnet", executables: ["dotnet"], versionPrefix: "",
            variables: Self.proxy + ["SSL_CERT_FILE"],
            assess: { _ in
                .init(
                    .worksWithNote,
                    "HttpClient reads HTTPS_PROXY with its user:password; on Linux .NET trusts SSL_CERT_FILE "
                        + "(OpenSSL); not tested here: no .NET in Debian 12"
                )
            }
        ),
        Runtime(
            name: "deno", executables: ["deno"], versionPrefix: "deno ",
            variables: Self.proxy + ["DENO_CERT"],
            assess: { _ in .init(.works) },
            probe: { ["deno", "eval", "const r = await fetch(Deno.args[0]); console.log(r.status)", $0] }
        ),
    ]

    /// The runtime named `name`.
    public static func runtime(named name: String) -> Runtime? {
        self.all.first { $0.name == name }
    }

    @Sendable static func assessNode(_ version: RuntimeVersion?) -> Runtime.Assessment {
        guard let version else {
            return .init(.worksWithNote, "version unknown: see the notes for Node before and after 24.5")
        }
        let native = version >= RuntimeVersion([24, 5]) || (version.major == 22 && version.minor >= 21)
        if native {
            return .init(.works, "NODE_USE_ENV_PROXY=1: fetch() and the http/https global agents use the proxy")
        }
        return .init(
            .worksWithNote,
            "Node \(version.major) ignores the proxy variables: keyhole's preload (NODE_OPTIONS --require) routes "
                + "fetch() and the http/https global agents; a client with its own Agent or undici dispatcher "
                + "(axios, got, node-fetch with an agent) bypasses it; Node 24.5+ does this itself"
        )
    }

    @Sendable static func assessJava(_ version: RuntimeVersion?) -> Runtime.Assessment {
        .init(
            .worksWithNote,
            "JAVA_TOOL_OPTIONS sets the trust store (system roots + keyhole CA) and the proxy, but the JDK sends "
                + "the proxy's credentials only through an Authenticator: code or tools that answer with "
                + "https.proxyUser/https.proxyPassword (as Gradle does) work; HttpURLConnection or HttpClient "
                + "without one gets 407. The credentials reach the `java` launcher through JDK_JAVA_OPTIONS=@FILE, so "
                + "the options every JVM prints on stderr never show the session token"
        )
    }
}
