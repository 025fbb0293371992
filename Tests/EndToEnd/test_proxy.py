"""The proxy path end to end: real clients under `keyhole run` against the HTTPS test upstream."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass

import pytest
from cryptography import x509

from harness import (PYTHON, connect_tunnel, env_session, proxy_auth_header, random_secret, read_http_head, redact,
                     tls_client)
from upstream import API_HOST as API, OTHER_HOST as OTHER, UNTRUSTED_HOST as UNTRUSTED


# --------------------------------------------------------------------------------------------------
# Set-up: one user and daemon for the module, a credential per way of carrying a secret.


@dataclass
class Cred:
    name: str
    secret: str
    env_var: str


CREDS = {
    # name: (hosts, inject, env var)
    "bearer": ([API], None, "API_TOKEN"),
    "injected": ([API], "Authorization: Bearer {secret}", "INJECTED_TOKEN"),
    "apikey": ([API], None, "APIKEY_TOKEN"),
    "basic": ([API], None, "BASIC_TOKEN"),
    "query": ([API], None, "QUERY_TOKEN"),
    "other": ([OTHER], None, "OTHER_TOKEN"),
    "portbound": (["api.keyhole.test:1"], None, "PORTBOUND_TOKEN"),
    "wild": (["*.keyhole.test"], None, "WILD_TOKEN"),
    "untrusted": ([UNTRUSTED], "Authorization: Bearer {secret}", "UNTRUSTED_TOKEN"),
}


@pytest.fixture(scope="module")
def creds(module_user, upstream) -> dict[str, Cred]:
    out = {}
    for name, (hosts, inject, var) in CREDS.items():
        secret = random_secret(f"sk_{name}_")
        module_user.add(name, secret, *hosts, inject=inject, env_var=var)
        upstream.expect(name, secret)
        out[name] = Cred(name, secret, var)
    return out


@pytest.fixture
def kh(module_user, creds):
    return module_user


@dataclass
class CurlResult:
    code: int
    connect: int
    body: str
    vars: dict[str, str]
    exit: int
    raw: str
    size_down: int = 0

    def __str__(self):
        return redact(f"http_code={self.code} http_connect={self.connect} curl_exit={self.exit}\n{self.raw[-2000:]}")


def curl(user, args: str, only=(), show=(), timeout=60) -> CurlResult:
    """Runs `keyhole run --only ... -- sh -c 'curl ARGS'`; ARGS is shell text ($VARS expand in the child).
    `show` names variables of the child to report (placeholders, proxy URL)."""
    lines = [f'printf "@@{v}=%s\\n" "${v}"' for v in show]
    lines.append(f'curl -sS {args} -w "\\n@@HTTP=%{{http_code}}\\n@@CONNECT=%{{http_connect}}\\n'
                 '@@SIZE_DOWN=%{size_download}\\n@@SIZE_UP=%{size_upload}\\n"; echo "@@EXIT=$?"')
    result = user.run_sh("\n".join(lines), only=only, timeout=timeout)
    out = result.stdout
    values = dict(re.findall(r"^@@(\w+)=(.*)$", out, re.M))
    body = re.sub(r"^@@\w+=.*$\n?", "", out, flags=re.M)
    if "HTTP" not in values:
        raise AssertionError(f"curl did not run under keyhole run:\n{result}")
    return CurlResult(int(values["HTTP"]), int(values.get("CONNECT") or 0), body.strip(),
                      {k: v for k, v in values.items() if k in show}, int(values.get("EXIT", "-1")),
                      out + "\n--- stderr\n" + result.stderr, int(values.get("SIZE_DOWN") or 0))


def header(record: dict, name: str) -> list[str]:
    return [v for k, v in record["headers"] if k.lower() == name.lower()]


def only_request(upstream, mark) -> dict:
    requests = upstream.requests_since(mark)
    assert len(requests) == 1, f"expected exactly one request upstream, got {len(requests)}"
    return requests[0]


def audit_values(record) -> list[str]:
    out = []
    if isinstance(record, dict):
        for value in record.values():
            out += audit_values(value)
    elif isinstance(record, list):
        for value in record:
            out += audit_values(value)
    else:
        out.append(str(record))
    return out


def wait_audit(user, *, decision: str, host: str | None = None, credential: str | None = None,
               since: int = 0, timeout: float = 5, path: str | None = None) -> dict:
    """The first audit record (after `since` lines) with that decision, credential, and a host that
    contains `host` (fields as in AuditEvent: time session method host path credential decision status
    bytes_up bytes_down ms reason)."""
    deadline = time.monotonic() + timeout
    records = []
    while True:
        records = user.audit_records()[since:]
        for record in records:
            if record.get("decision") != decision:
                continue
            if credential is not None and record.get("credential") != credential:
                continue
            if host is not None and host not in str(record.get("host")):
                continue
            if path is not None and record.get("path") != path:
                continue
            return record
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no audit record with decision={decision} credential={credential} host={host} among "
                f"{len(records)} new records: {redact(json.dumps(records)[-2000:])}")
        time.sleep(0.1)


def audit_len(user) -> int:
    return len(user.audit_records())


# --------------------------------------------------------------------------------------------------
# Swapping: the upstream gets the real secret, never the placeholder.


def test_curl_bearer_header_is_swapped(kh, creds, upstream):
    mark = upstream.mark()
    result = curl(kh, f'-H "Authorization: Bearer $API_TOKEN" {upstream.url("/bearer/bearer")}',
                  only=["bearer"], show=["API_TOKEN"])
    assert result.code == 200, str(result)
    placeholder = result.vars["API_TOKEN"]
    assert placeholder and placeholder != creds["bearer"].secret
    request = only_request(upstream, mark)
    assert header(request, "Authorization") == [f"Bearer {creds['bearer'].secret}"], "upstream did not get the secret"
    assert request["sni"] == API
    assert header(request, "Host") == [f"{API}:{upstream.tls_port}"], "Host header must be kept"
    assert not upstream.saw(placeholder, mark), "the placeholder reached the upstream"
    assert not header(request, "Proxy-Authorization"), "the proxy credentials must not be forwarded"


def test_curl_inject_without_client_header(kh, creds, upstream):
    mark = upstream.mark()
    result = curl(kh, upstream.url("/bearer/injected"), only=["injected"], show=["INJECTED_TOKEN"])
    assert result.code == 200, str(result)
    request = only_request(upstream, mark)
    assert header(request, "Authorization") == [f"Bearer {creds['injected'].secret}"]
    assert not upstream.saw(result.vars["INJECTED_TOKEN"], mark)


def test_inject_keeps_a_header_the_client_sent(kh, creds, upstream):
    mark = upstream.mark()
    result = curl(kh, f'-H "Authorization: Bearer client-own-value" {upstream.url("/bearer/injected")}',
                  only=["injected"])
    assert result.code == 401, str(result)
    request = only_request(upstream, mark)
    assert header(request, "Authorization") == ["Bearer client-own-value"], "a client's header is left alone"
    assert not upstream.saw(creds["injected"].secret, mark)


def test_inject_swaps_placeholder_in_client_header(kh, creds, upstream):
    mark = upstream.mark()
    result = curl(kh, f'-H "Authorization: Bearer $INJECTED_TOKEN" {upstream.url("/bearer/injected")}',
                  only=["injected"])
    assert result.code == 200, str(result)
    assert header(only_request(upstream, mark), "Authorization") == [f"Bearer {creds['injected'].secret}"]


def test_python_requests_header_is_swapped(kh, creds, upstream):
    mark = upstream.mark()
    url = upstream.url("/bearer/bearer")
    script = (
        "import os, requests\n"
        "s = requests.Session()\n"
        "h = {'Authorization': 'Bearer ' + os.environ['API_TOKEN']}\n"
        f"codes = [s.get({url!r}, headers=h, timeout=20).status_code for _ in range(3)]\n"
        "print('CODES', *codes)\n"
        "print('PH', os.environ['API_TOKEN'])\n"
    )
    result = kh.run(PYTHON, "-c", script, only=["bearer"])
    assert result.returncode == 0, str(result)
    assert "CODES 200 200 200" in result.stdout, str(result)
    placeholder = re.search(r"^PH (.+)$", result.stdout, re.M).group(1)
    requests = upstream.requests_since(mark)
    assert len(requests) == 3
    assert all(header(r, "Authorization") == [f"Bearer {creds['bearer'].secret}"] for r in requests)
    assert not upstream.saw(placeholder, mark)


def test_keep_alive_on_both_legs(kh, creds, upstream):
    """Several requests on one client connection reuse one upstream connection."""
    mark = upstream.mark()
    url = upstream.url("/bearer/bearer")
    result = curl(kh, f'-H "Authorization: Bearer $API_TOKEN" {url} {url} {url} {url}', only=["bearer"])
    assert result.code == 200, str(result)
    assert len(upstream.requests_since(mark)) == 4
    handshakes = [e for e in upstream.events_since(mark) if e["event"] == "handshake"]
    assert len(handshakes) == 1, f"upstream leg should be kept alive: {len(handshakes)} TLS handshakes for 4 requests"


def test_custom_header_is_swapped(kh, creds, upstream):
    mark = upstream.mark()
    result = curl(kh, f'-H "X-Api-Key: $APIKEY_TOKEN" {upstream.url("/apikey/apikey")}', only=["apikey"])
    assert result.code == 200, str(result)
    assert header(only_request(upstream, mark), "X-Api-Key") == [creds["apikey"].secret]


def test_placeholder_inside_a_header_value_is_swapped_and_other_text_kept(kh, creds, upstream):
    mark = upstream.mark()
    result = curl(kh, f'-H "X-Note: before-$API_TOKEN-after" -H "X-Plain: nothing to see 123" '
                      f'{upstream.url("/open/x")}', only=["bearer"], show=["API_TOKEN"])
    assert result.code == 200, str(result)
    request = only_request(upstream, mark)
    assert header(request, "X-Note") == [f"before-{creds['bearer'].secret}-after"]
    assert header(request, "X-Plain") == ["nothing to see 123"]


def test_basic_auth_password_is_swapped(kh, creds, upstream):
    mark = upstream.mark()
    result = curl(kh, f'-u "alice:$BASIC_TOKEN" {upstream.url("/basic/basic")}', only=["basic"], show=["BASIC_TOKEN"])
    assert result.code == 200, str(result)
    request = only_request(upstream, mark)
    expected = "Basic " + base64.b64encode(f"alice:{creds['basic'].secret}".encode()).decode()
    assert header(request, "Authorization") == [expected]
    assert not upstream.saw(result.vars["BASIC_TOKEN"], mark)


def test_basic_auth_user_is_swapped(kh, creds, upstream):
    mark = upstream.mark()
    result = curl(kh, f'-u "$BASIC_TOKEN:x-oauth-basic" {upstream.url("/basicuser/basic")}', only=["basic"])
    assert result.code == 200, str(result)
    expected = "Basic " + base64.b64encode(f"{creds['basic'].secret}:x-oauth-basic".encode()).decode()
    assert header(only_request(upstream, mark), "Authorization") == [expected]


def test_query_parameter_is_swapped(kh, creds, upstream):
    mark = upstream.mark()
    audit_mark = audit_len(kh)
    result = curl(kh, f'"{upstream.url("/query/query")}?key=$QUERY_TOKEN&other=1"', only=["query"],
                  show=["QUERY_TOKEN"])
    assert result.code == 200, str(result)
    request = only_request(upstream, mark)
    assert request["target"] == f"/query/query?key={creds['query'].secret}&other=1"
    assert not upstream.saw(result.vars["QUERY_TOKEN"], mark)
    record = wait_audit(kh, decision="swap", credential="query", host=API, since=audit_mark)
    assert record.get("path") == "/query/query", f"audit path without query: {redact(json.dumps(record))}"
    assert not any("key=" in v for v in audit_values(record)), "audit must not carry the query"


def test_wildcard_pattern_matches_subdomains(kh, creds, upstream):
    for host in (API, OTHER):
        mark = upstream.mark()
        result = curl(kh, f'-H "Authorization: Bearer $WILD_TOKEN" {upstream.url("/bearer/wild", host=host)}',
                      only=["wild"])
        assert result.code == 200, f"{host}: {result}"
        assert header(only_request(upstream, mark), "Authorization") == [f"Bearer {creds['wild'].secret}"]


@pytest.mark.parametrize("how", ["header", "inject", "port"])
def test_secret_never_goes_over_plain_http(kh, creds, upstream, how):
    """Issue 9 item 1: a secret only leaves over verified TLS. A credential scoped to a host without a port (or with
    the very port of the plain request) is refused (403, nothing sent, audited) in a plain http:// request."""
    mark = upstream.mark()
    audit_mark = audit_len(kh)
    if how == "port":
        # `--host api.keyhole.test:PORT` + `curl http://api.keyhole.test:PORT/`: the port matches, the scheme does not.
        name = f"portplain{upstream.plain_port}"
        if not any(c["name"] == name for c in json.loads(kh.ok("list", "--json").stdout)):
            kh.add(name, random_secret("sk_port_"), f"{API}:{upstream.plain_port}", inject="X-Api-Key: {secret}")
        args, only = upstream.url("/apikey/x", tls=False), [name]
    elif how == "inject":
        args, only, name = upstream.url("/bearer/injected", tls=False), ["injected"], "injected"
    else:
        args, only, name = (f'-H "Authorization: Bearer $API_TOKEN" {upstream.url("/bearer/bearer", tls=False)}',
                            ["bearer"], "bearer")
    result = curl(kh, args, only=only)
    assert result.code == 403, str(result)
    assert name in result.body and "--allow-http" in result.body, str(result)
    assert upstream.requests_since(mark) == [], "nothing may reach the upstream in clear text"
    wait_audit(kh, decision="deny-cleartext", credential=name, host=API, since=audit_mark)


def test_allow_http_credential_is_swapped_over_plain_http(kh, creds, upstream):
    secret = random_secret("sk_devhttp_")
    added = kh.add("devhttp", secret, API, env_var="DEVHTTP_TOKEN", extra=("--allow-http",))
    assert "allow-http" in added.stderr, added
    upstream.expect("devhttp", secret)
    listed = {c["name"]: c for c in json.loads(kh.ok("list", "--json").stdout)}
    assert listed["devhttp"].get("allow_http") is True and "allow_http" not in listed["bearer"]
    mark = upstream.mark()
    result = curl(kh, f'-H "Authorization: Bearer $DEVHTTP_TOKEN" {upstream.url("/bearer/devhttp", tls=False)}',
                  only=["devhttp"], show=["DEVHTTP_TOKEN"])
    assert result.code == 200, str(result)
    request = only_request(upstream, mark)
    assert request["server"] == "plain"
    assert header(request, "Authorization") == [f"Bearer {secret}"]
    assert not header(request, "Proxy-Authorization")
    assert not upstream.saw(result.vars["DEVHTTP_TOKEN"], mark)


def test_loopback_host_pattern_warns(kh):
    added = kh.add("loopdev", random_secret("sk_loop_"), "127.0.0.1:15000")
    assert "loopback" in added.stderr and "--isolate" in added.stderr, added


def test_plain_http_without_placeholder_is_forwarded(kh, creds, upstream):
    mark = upstream.mark()
    result = curl(kh, upstream.url("/open/plain", host=OTHER, tls=False), only=["bearer"])
    assert result.code == 200, str(result)
    assert only_request(upstream, mark)["server"] == "plain"


# --------------------------------------------------------------------------------------------------
# Scope: a placeholder to a host its credential is not scoped to never leaves.


@pytest.mark.parametrize("where", ["header", "basic", "query"])
def test_placeholder_to_unscoped_host_is_denied(kh, creds, upstream, where):
    mark = upstream.mark()
    audit_mark = audit_len(kh)
    url = upstream.url("/bearer/bearer", host=OTHER)
    args = {
        "header": f'-H "Authorization: Bearer $API_TOKEN" {url}',
        "basic": f'-u "alice:$API_TOKEN" {url}',
        "query": f'"{url}?key=$API_TOKEN"',
    }[where]
    # "other" is in the session so that other.keyhole.test is intercepted, not tunnelled.
    result = curl(kh, args, only=["bearer", "other"])
    assert result.code == 403, str(result)
    assert "bearer" in result.body and OTHER in result.body, f"403 must name credential and host: {result}"
    assert upstream.requests_since(mark) == [], "the upstream must see nothing"
    wait_audit(kh, decision="deny-scope", credential="bearer", host=OTHER, since=audit_mark)


def test_placeholder_to_unscoped_host_plain_http_is_denied(kh, creds, upstream):
    mark = upstream.mark()
    audit_mark = audit_len(kh)
    result = curl(kh, f'-H "Authorization: Bearer $API_TOKEN" {upstream.url("/bearer/bearer", host=OTHER, tls=False)}',
                  only=["bearer"])
    assert result.code == 403, str(result)
    assert "bearer" in result.body and OTHER in result.body, str(result)
    assert upstream.requests_since(mark) == []
    wait_audit(kh, decision="deny-scope", credential="bearer", host=OTHER, since=audit_mark)


def test_port_in_pattern_limits_scope(kh, creds, upstream):
    mark = upstream.mark()
    result = curl(kh, f'-H "Authorization: Bearer $PORTBOUND_TOKEN" {upstream.url("/bearer/portbound")}',
                  only=["bearer", "portbound"])
    assert result.code == 403, f"portbound is scoped to port 1 only: {result}"
    assert upstream.requests_since(mark) == []


def test_unscoped_host_is_tunnelled_untouched(kh, creds, upstream):
    """No session credential is scoped to other.keyhole.test: the client talks TLS with the upstream itself."""
    mark = upstream.mark()
    audit_mark = audit_len(kh)
    result = curl(kh, f'--cacert {upstream.ca_path} {upstream.url("/open/tunnel", host=OTHER)}', only=["bearer"])
    assert result.code == 200, f"the upstream's own certificate must verify against its CA: {result}"
    assert only_request(upstream, mark)["sni"] == OTHER
    # And keyhole's bundle does not verify it: it really is the upstream's certificate.
    result = curl(kh, upstream.url("/open/tunnel", host=OTHER), only=["bearer"])
    assert result.exit == 60, f"curl with only keyhole's bundle must not trust the upstream's cert: {result}"
    wait_audit(kh, decision="tunnel", host=OTHER, since=audit_mark)


def test_tunnel_presents_upstream_certificate(kh, creds, upstream):
    session = env_session(kh)
    # env opens a session with every credential; "other" and "wild" cover other.keyhole.test, so use
    # a host no credential covers: 127.0.0.1 itself (the upstream's cert has it as an IP SAN).
    sock, status, _ = connect_tunnel(session.port, f"127.0.0.1:{upstream.tls_port}", session.token)
    assert status == 200
    with tls_client(sock, upstream.ca_path, "127.0.0.1") as tls:
        cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
        ca = x509.load_pem_x509_certificate(open(upstream.ca_path, "rb").read())
        assert cert.issuer == ca.subject, "a tunnel must show the upstream's own certificate"


def test_intercepted_connection_uses_keyhole_leaf(kh, creds, upstream):
    session = env_session(kh)
    ca = x509.load_pem_x509_certificate(open(kh.status()["ca"], "rb").read())
    sock, status, _ = connect_tunnel(session.port, f"{API}:{upstream.tls_port}", session.token)
    assert status == 200
    context = ssl.create_default_context(cafile=kh.status()["ca"])
    context.set_alpn_protocols(["h2", "http/1.1"])
    with context.wrap_socket(sock, server_hostname=API) as tls:
        assert tls.selected_alpn_protocol() == "http/1.1", "ALPN must pick http/1.1"
        leaf = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
        assert leaf.issuer == ca.subject
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert API in sans.get_values_for_type(x509.DNSName)
    # openssl verify accepts the leaf against ca.pem
    leaf_path = kh.scratch / "leaf.pem"
    from cryptography.hazmat.primitives.serialization import Encoding
    leaf_path.write_bytes(leaf.public_bytes(Encoding.PEM))
    verify = subprocess.run(["openssl", "verify", "-CAfile", kh.status()["ca"], str(leaf_path)],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_intercept_without_sni_uses_connect_authority(kh, creds, upstream):
    session = env_session(kh)
    sock, status, _ = connect_tunnel(session.port, f"{API}:{upstream.tls_port}", session.token)
    assert status == 200
    context = ssl.create_default_context(cafile=kh.status()["ca"])
    context.check_hostname = False
    with context.wrap_socket(sock, server_hostname=None) as tls:
        leaf = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert API in sans.get_values_for_type(x509.DNSName), "the leaf is for the CONNECT authority"


def test_sni_mismatch_is_refused(kh, creds, upstream):
    session = env_session(kh)
    mark = upstream.mark()
    sock, status, _ = connect_tunnel(session.port, f"{API}:{upstream.tls_port}", session.token)
    assert status == 200
    context = ssl.create_default_context(cafile=kh.status()["ca"])
    context.check_hostname = False
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        with context.wrap_socket(sock, server_hostname="other.example") as tls:
            # If a handshake slipped through, the connection must at least not carry a request.
            tls.sendall(f"GET /open/x HTTP/1.1\r\nHost: {API}:{upstream.tls_port}\r\n\r\n".encode())
            status, _, _ = read_http_head(tls)
            raise AssertionError(f"SNI other.example was accepted and a request answered {status}")
    assert upstream.requests_since(mark) == []


def test_sni_mismatch_is_refused_openssl_s_client(kh, creds, upstream):
    session = env_session(kh)
    proc = subprocess.run(
        ["openssl", "s_client", "-proxy", f"127.0.0.1:{session.port}", "-proxy_user", "keyhole",
         "-proxy_pass", f"pass:{session.token}", "-connect", f"{API}:{upstream.tls_port}",
         "-servername", "other.example", "-CAfile", kh.status()["ca"], "-verify_return_error", "-brief"],
        input="", capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0, f"handshake with SNI other.example must fail:\n{proc.stdout}\n{proc.stderr}"
    good = subprocess.run(
        ["openssl", "s_client", "-proxy", f"127.0.0.1:{session.port}", "-proxy_user", "keyhole",
         "-proxy_pass", f"pass:{session.token}", "-connect", f"{API}:{upstream.tls_port}",
         "-servername", API, "-CAfile", kh.status()["ca"], "-verify_return_error", "-brief"],
        input="", capture_output=True, text=True, timeout=30)
    assert good.returncode == 0, f"the matching SNI must work:\n{good.stdout}\n{good.stderr}"


def test_host_header_differing_from_connect_authority_is_refused(kh, creds, upstream):
    session = env_session(kh)
    mark = upstream.mark()
    sock, status, _ = connect_tunnel(session.port, f"{API}:{upstream.tls_port}", session.token)
    assert status == 200
    placeholder = session.env["API_TOKEN"]
    with tls_client(sock, kh.status()["ca"], API) as tls:
        tls.sendall((f"GET /bearer/bearer HTTP/1.1\r\nHost: {OTHER}:{upstream.tls_port}\r\n"
                     f"Authorization: Bearer {placeholder}\r\nConnection: close\r\n\r\n").encode())
        try:
            status, _, _ = read_http_head(tls)
        except (ConnectionError, ssl.SSLError, OSError):
            status = 0
    assert status in (0,) or 400 <= status < 500, f"Host mismatch must be refused, got {status}"
    assert upstream.requests_since(mark) == []


# --------------------------------------------------------------------------------------------------
# Proxy authentication and sessions


def test_wrong_session_token_gets_407_with_curl(kh, creds, upstream):
    mark = upstream.mark()
    port = kh.proxy_port()
    proc = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_connect}", "--proxy",
         f"http://keyhole:wrong@127.0.0.1:{port}", "--cacert", kh.status()["ca"], upstream.url("/open/x")],
        capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"]})
    assert proc.stdout.strip() == "407", f"curl: {proc.stdout} {proc.stderr}"
    assert upstream.requests_since(mark) == []


@pytest.mark.parametrize("auth", ["wrong-token", "none", "wrong-user", "not-basic"])
def test_connect_without_valid_session_gets_407(kh, creds, upstream, auth):
    session = env_session(kh)
    audit_mark = audit_len(kh)
    port = session.port
    authority = f"{API}:{upstream.tls_port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if auth == "wrong-token":
        lines.append(f"Proxy-Authorization: {proxy_auth_header('x' * len(session.token))}")
    elif auth == "wrong-user":
        lines.append(f"Proxy-Authorization: {proxy_auth_header(session.token, user='admin')}")
    elif auth == "not-basic":
        lines.append(f"Proxy-Authorization: Bearer {session.token}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status, headers, _ = read_http_head(sock)
    assert status == 407
    assert headers.get("proxy-authenticate") == 'Basic realm="keyhole"', headers
    if auth != "none":
        wait_audit(kh, decision="deny-auth", since=audit_mark)


def test_absolute_form_with_wrong_token_gets_407(kh, creds, upstream):
    mark = upstream.mark()
    port = kh.proxy_port()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall((f"GET {upstream.url('/open/x', tls=False)} HTTP/1.1\r\nHost: {API}:{upstream.plain_port}\r\n"
                      f"Proxy-Authorization: {proxy_auth_header('wrong')}\r\n\r\n").encode())
        status, headers, _ = read_http_head(sock)
    assert status == 407 and "proxy-authenticate" in headers
    assert upstream.requests_since(mark) == []


def test_placeholder_of_ended_session_never_works(kh, creds, upstream):
    captured = kh.run_sh('echo "$API_TOKEN"; echo "$HTTPS_PROXY"; echo "$SSL_CERT_FILE"', only=["bearer"])
    assert captured.returncode == 0, str(captured)
    placeholder, proxy, bundle = captured.stdout.split()
    assert placeholder != creds["bearer"].secret
    # 1. The old session's proxy credentials are refused.
    mark = upstream.mark()
    old = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{http_connect}", "--proxy", proxy,
         "--cacert", kh.status()["ca"], "-H", f"Authorization: Bearer {placeholder}", upstream.url("/bearer/bearer")],
        capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"]})
    codes = old.stdout.split()
    assert "200" not in codes and ("407" in codes or "403" in codes), f"old session: {old.stdout} {old.stderr}"
    assert not upstream.saw(creds["bearer"].secret, mark)
    # 2. The old placeholder in a new, live session is not swapped either.
    mark = upstream.mark()
    result = curl(kh, f'-H "Authorization: Bearer {placeholder}" {upstream.url("/bearer/bearer")}', only=["bearer"])
    assert result.code != 200, str(result)
    assert not upstream.saw(creds["bearer"].secret, mark), "an ended session's placeholder was swapped"


# --------------------------------------------------------------------------------------------------
# Rotation, upstream failures, upgrade, audit


def test_rotate_takes_effect_on_next_request(kh, upstream):
    first, second = random_secret("sk_rot1_"), random_secret("sk_rot2_")
    kh.add("rotating", first, API, env_var="ROT_TOKEN")
    upstream.expect("rotating", first)
    session = env_session(kh)  # one live session across the rotation
    placeholder = session.env["ROT_TOKEN"]

    def request() -> tuple[int, dict]:
        mark = upstream.mark()
        proc = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--proxy", session.proxy_url,
             "--cacert", session.bundle, "-H", f"Authorization: Bearer {placeholder}",
             upstream.url("/bearer/rotating")],
            capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"]})
        return int(proc.stdout or 0), only_request(upstream, mark)

    code, _ = request()
    assert code == 200
    pid = kh.status()["pid"]
    kh.ok("rotate", "rotating", input=second)
    upstream.expect("rotating", second)
    code, seen = request()
    assert code == 200, "the rotated secret must be used on the next request"
    assert header(seen, "Authorization") == [f"Bearer {second}"]
    assert kh.status()["pid"] == pid, "no daemon restart"
    result = curl(kh, f'-H "Authorization: Bearer $ROT_TOKEN" {upstream.url("/bearer/rotating")}', only=["rotating"])
    assert result.code == 200, str(result)


def test_rm_takes_effect_for_live_session(kh, upstream):
    secret = random_secret()
    kh.add("removed", secret, API, env_var="REMOVED_TOKEN")
    upstream.expect("removed", secret)
    session = env_session(kh)
    mark = upstream.mark()
    kh.ok("rm", "removed")
    proc = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--proxy", session.proxy_url,
         "--cacert", session.bundle, "-H", f"Authorization: Bearer {session.env['REMOVED_TOKEN']}",
         upstream.url("/bearer/removed")],
        capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"]})
    assert proc.stdout != "200"
    assert not upstream.saw(secret, mark), "a removed credential's secret was sent"


def test_untrusted_upstream_certificate_gives_502(kh, creds, upstream):
    mark = upstream.mark()
    result = curl(kh, upstream.url("/open/x", host=UNTRUSTED), only=["untrusted"])
    assert result.code == 502, str(result)
    assert result.body, "the 502 should say why"
    assert upstream.requests_since(mark) == [], "nothing may be sent over an unverified connection"
    assert not any(e["event"] == "handshake" for e in upstream.events_since(mark))


def test_unreachable_upstream_gives_502(kh, creds, upstream):
    # api.keyhole.test:1 is not in `resolve` and .test never resolves: the upstream cannot be reached.
    result = curl(kh, '-H "Authorization: Bearer $API_TOKEN" https://api.keyhole.test:1/bearer/bearer',
                  only=["bearer"])
    assert result.code == 502, str(result)


def test_websocket_upgrade_passes_through(kh, creds, upstream):
    session = env_session(kh)
    mark = upstream.mark()
    sock, status, _ = connect_tunnel(session.port, f"{API}:{upstream.tls_port}", session.token)
    assert status == 200
    with tls_client(sock, kh.status()["ca"], API) as tls:
        tls.sendall((f"GET /bearer/bearer/ws HTTP/1.1\r\nHost: {API}:{upstream.tls_port}\r\n"
                     f"Authorization: Bearer {session.env['API_TOKEN']}\r\nConnection: Upgrade\r\n"
                     "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
        status, _, rest = read_http_head(tls)
        assert status == 101
        tls.sendall(b"ping through keyhole")
        data = rest
        while len(data) < len(b"ping through keyhole"):
            chunk = tls.recv(4096)
            if not chunk:
                break
            data += chunk
        ws_events = [e for e in upstream.events_since(mark) if e["event"].startswith("ws-")]
        assert data == b"ping through keyhole", f"no echo after 101; upstream websocket events: {ws_events}"
    assert header(only_request(upstream, mark), "Authorization") == [f"Bearer {creds['bearer'].secret}"]


def test_audit_log_records_a_swap(kh, creds, upstream):
    audit_mark = audit_len(kh)
    result = curl(kh, f'-H "Authorization: Bearer $API_TOKEN" {upstream.url("/bearer/bearer")}', only=["bearer"])
    assert result.code == 200
    record = wait_audit(kh, decision="swap", credential="bearer", host=API, since=audit_mark, path="/bearer/bearer")
    for key in ("time", "session", "method", "host", "path", "credential", "decision", "status",
                "bytes_up", "bytes_down", "ms"):
        assert key in record, f"audit record lacks {key}: {redact(json.dumps(record))}"
    assert record["method"] == "GET" and record["path"] == "/bearer/bearer" and record["status"] == 200
    assert record["bytes_down"] > 0 and record["ms"] >= 0
    assert len(str(record["session"])) < 20, "a short session id, not the session token"
    inject_mark = audit_len(kh)
    curl(kh, upstream.url("/bearer/injected"), only=["injected"])
    wait_audit(kh, decision="inject", credential="injected", host=API, since=inject_mark)


def test_log_command_renders_audit(kh, creds, upstream):
    curl(kh, f'-H "Authorization: Bearer $API_TOKEN" {upstream.url("/bearer/bearer")}', only=["bearer"])
    table = kh.ok("log")
    assert API in table.stdout and "swap" in table.stdout, str(table)
    lines = [l for l in kh.ok("log", "--json").stdout.splitlines() if l.strip()]
    assert lines and all(isinstance(json.loads(l), dict) for l in lines)


def test_log_follow_shows_new_lines(kh, creds, upstream):
    proc = subprocess.Popen([str(kh.binary), "log", "--follow", "--json"], env=kh.env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        time.sleep(1)
        curl(kh, f'-H "X-Follow: yes" {upstream.url("/open/follow-marker")}', only=["bearer"])
        deadline = time.monotonic() + 10
        os.set_blocking(proc.stdout.fileno(), False)
        seen = b""
        while time.monotonic() < deadline and b"/open/follow-marker" not in seen:
            chunk = proc.stdout.read()
            if chunk:
                seen += chunk
            time.sleep(0.1)
        assert b"/open/follow-marker" in seen, "log --follow did not show the new request"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


@pytest.mark.slow
def test_large_download_and_upload_stream(kh, creds, upstream):
    size = 256 * 1024 * 1024
    pid = kh.status()["pid"]

    def rss_kib() -> int:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    before = rss_kib()
    result = curl(kh, f'-o /dev/null -H "Authorization: Bearer $API_TOKEN" '
                      f'"{upstream.url("/bearer/bearer/download")}?bytes={size}"', only=["bearer"], timeout=300)
    assert result.code == 200, str(result)
    assert result.size_down == size, str(result)
    body = kh.scratch / "upload.bin"
    with open(body, "wb") as f:
        f.truncate(size)
    mark = upstream.mark()
    result = curl(kh, f'-T {body} -H "Authorization: Bearer $API_TOKEN" {upstream.url("/bearer/bearer/upload")}',
                  only=["bearer"], timeout=300)
    assert result.code == 200, str(result)
    assert only_request(upstream, mark)["body_bytes"] == size
    body.unlink()
    growth_mib = (rss_kib() - before) / 1024
    assert growth_mib < 64, f"daemon RSS grew {growth_mib:.0f} MiB moving 256 MiB each way: bodies must stream"
