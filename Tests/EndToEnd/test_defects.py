"""Issue 9's defects, end to end against the real daemon: absolute-form requests inside a tunnel, leaked sockets
and memory under thousands of connections, timeouts for clients that send nothing or half a request, the
connection cap and EMFILE, a kept-alive upstream that closes while idle, and placeholder-free audit paths.
(Clear-text refusals are in test_proxy.py; the non-dumpable processes in test_unlock.py; log escaping and the
other-uid refusal in their own files.)"""

from __future__ import annotations

import os
import resource
import socket
import ssl
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import connect_tunnel, env_session, proxy_auth_header, random_secret, read_http_response, tls_client
from upstream import API_HOST as API, OTHER_HOST as OTHER, make_ca, make_leaf

IDLE_HOST = "idle.keyhole.test"


def daemon_pid(user) -> int:
    return int(user.status()["pid"])


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle_fds(pid: int, at_most: int, timeout: float = 15) -> int:
    """Waits until the daemon holds at most `at_most` fds; returns the last count."""
    deadline = time.monotonic() + timeout
    count = fd_count(pid)
    while count > at_most and time.monotonic() < deadline:
        time.sleep(0.2)
        count = fd_count(pid)
    return count


def raise_own_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < min(hard, 8192):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))


@pytest.fixture(scope="module")
def churn(module_user, upstream):
    """A session with one intercepted credential for the API host (injected), and the daemon's pid."""
    secret = random_secret("sk_churn_")
    module_user.add("churn", secret, API, inject="Authorization: Bearer {secret}", env_var="CHURN_TOKEN")
    upstream.expect("churn", secret)
    session = env_session(module_user)
    module_user.ca = module_user.status()["ca"]
    return module_user, session, daemon_pid(module_user)


def intercepted_request(user, session, upstream, *, close_notify: bool, keep_alive: bool = True) -> int:
    """One new client connection: CONNECT to the API host, TLS with keyhole, one GET, then the client closes."""
    sock, status, _ = connect_tunnel(session.port, f"{API}:{upstream.tls_port}", session.token)
    assert status == 200
    tls = tls_client(sock, user.ca, API)
    connection = "keep-alive" if keep_alive else "close"
    tls.sendall(f"GET /bearer/churn HTTP/1.1\r\nHost: {API}:{upstream.tls_port}\r\nConnection: {connection}\r\n\r\n"
                .encode())
    code, _, _ = read_http_response(tls)
    if close_notify:
        try:
            tls.unwrap().close()
        except (ssl.SSLError, OSError):
            tls.close()
    else:
        tls.close()
    return code


# --------------------------------------------------------------------------------------------------
# 2. Absolute-form requests inside an intercepted connection


def test_absolute_form_naming_another_host_inside_a_tunnel_is_refused(churn, upstream):
    user, session, _ = churn
    mark = upstream.mark()
    audit_mark = len(user.audit_records())
    sock, status, _ = connect_tunnel(session.port, f"{API}:{upstream.tls_port}", session.token)
    assert status == 200
    with tls_client(sock, user.status()["ca"], API) as tls:
        tls.sendall((f"GET https://{OTHER}:{upstream.tls_port}/bearer/churn HTTP/1.1\r\n"
                     f"Host: {API}:{upstream.tls_port}\r\nConnection: close\r\n\r\n").encode())
        code, _, body = read_http_response(tls)
    assert code == 421, body
    assert upstream.requests_since(mark) == [], "a request naming another host must not reach the upstream"
    denied = [r for r in user.audit_records()[audit_mark:] if r["decision"] == "deny-host"]
    assert denied and denied[0]["session"] != "-", "the refusal is attributed to the session"


def test_absolute_form_naming_the_tunnel_host_goes_in_origin_form(churn, upstream):
    user, session, _ = churn
    mark = upstream.mark()
    sock, status, _ = connect_tunnel(session.port, f"{API}:{upstream.tls_port}", session.token)
    assert status == 200
    with tls_client(sock, user.status()["ca"], API) as tls:
        tls.sendall((f"GET https://{API}:{upstream.tls_port}/bearer/churn?x=1 HTTP/1.1\r\n"
                     f"Host: {API}:{upstream.tls_port}\r\nConnection: close\r\n\r\n").encode())
        code, _, _ = read_http_response(tls)
    assert code == 200
    requests = upstream.requests_since(mark)
    assert [r["target"] for r in requests] == ["/bearer/churn?x=1"]


# --------------------------------------------------------------------------------------------------
# 3. No leaked sockets or memory: both legs end when the client closes


def test_intercepted_connections_closed_by_clients_leave_nothing_behind(churn, upstream):
    user, session, pid = churn
    raise_own_fd_limit()
    for i in range(100):  # warm-up: certificate, TLS contexts, allocator pools
        assert intercepted_request(user, session, upstream, close_notify=bool(i % 2)) == 200
    base_fds = settle_fds(pid, fd_count(pid))
    base_rss = rss_mib(pid)

    def one(i: int) -> int:
        return intercepted_request(user, session, upstream, close_notify=bool(i % 2))

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(one, range(1500)))
    assert codes.count(200) == 1500, {c: codes.count(c) for c in set(codes)}
    fds = settle_fds(pid, base_fds + 8)
    rss = rss_mib(pid)
    print(f"intercepted churn: fds {base_fds} -> {fds}, RSS {base_rss:.1f} -> {rss:.1f} MiB")
    assert fds <= base_fds + 8, f"1500 closed connections left {fds - base_fds} fds open"
    assert rss - base_rss < 40, f"RSS grew {rss - base_rss:.1f} MiB over 1500 connections"


def test_plain_http_and_tunnels_closed_by_clients_leave_nothing_behind(churn, upstream):
    user, session, pid = churn
    raise_own_fd_limit()
    auth = proxy_auth_header(session.token)

    def plain(_: int) -> int:
        with socket.create_connection(("127.0.0.1", session.port), timeout=10) as sock:
            sock.sendall((f"GET http://{OTHER}:{upstream.plain_port}/open/x HTTP/1.1\r\n"
                          f"Host: {OTHER}:{upstream.plain_port}\r\nProxy-Authorization: {auth}\r\n\r\n").encode())
            code, _, _ = read_http_response(sock)
        return code

    context = ssl.create_default_context(cafile=upstream.ca_path)

    def tunnel(_: int) -> int:
        # OTHER has no credential in this session: a byte tunnel, TLS end to end with the upstream itself.
        sock, status, _ = connect_tunnel(session.port, f"{OTHER}:{upstream.tls_port}", session.token)
        assert status == 200
        with context.wrap_socket(sock, server_hostname=OTHER) as tls:
            tls.sendall(f"GET /open/t HTTP/1.1\r\nHost: {OTHER}:{upstream.tls_port}\r\n\r\n".encode())
            code, _, _ = read_http_response(tls)
        return code

    for job in (plain, tunnel):
        list(map(job, range(50)))
    base_fds = settle_fds(pid, fd_count(pid))
    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(plain, range(1000))) + list(pool.map(tunnel, range(1000)))
    assert codes.count(200) == 2000, {c: codes.count(c) for c in set(codes)}
    fds = settle_fds(pid, base_fds + 8)
    print(f"plain + tunnel churn: fds {base_fds} -> {fds}")
    assert fds <= base_fds + 8, f"2000 closed connections left {fds - base_fds} fds open"


def test_holding_and_releasing_keep_alive_connections_returns_memory(churn, upstream):
    user, session, pid = churn
    raise_own_fd_limit()
    ca = user.ca

    def open_one(_: int) -> ssl.SSLSocket:
        sock, status, _ = connect_tunnel(session.port, f"{API}:{upstream.tls_port}", session.token)
        assert status == 200
        tls = tls_client(sock, ca, API)
        tls.sendall(f"GET /bearer/churn HTTP/1.1\r\nHost: {API}:{upstream.tls_port}\r\n\r\n".encode())
        assert read_http_response(tls)[0] == 200
        return tls

    base_fds = settle_fds(pid, fd_count(pid))
    figures = []
    for _ in range(3):
        with ThreadPoolExecutor(max_workers=6) as pool:
            held = list(pool.map(open_one, range(400)))
        peak = rss_mib(pid)
        for tls in held:
            tls.close()
        fds = settle_fds(pid, base_fds + 8)
        figures.append((round(peak, 1), round(rss_mib(pid), 1), fds))
    print(f"hold/release 400 keep-alive connections x3 (peak RSS MiB, RSS after, fds after; base fds {base_fds}):",
          figures)
    assert all(fds <= base_fds + 8 for _, _, fds in figures), figures
    assert figures[2][1] - figures[0][1] < 30, f"RSS kept growing across rounds: {figures}"


# --------------------------------------------------------------------------------------------------
# 4. Timeouts, the connection cap and EMFILE


def test_partial_and_silent_connections_are_closed_and_do_not_starve_others(make_user, upstream):
    user = make_user()
    user.write_config(timeouts="{ request_head = 4, handshake = 3 }")
    secret = random_secret("sk_slow_")
    user.add("slowloris", secret, API, inject="Authorization: Bearer {secret}")
    upstream.expect("slowloris", secret)
    session = env_session(user)
    raise_own_fd_limit()
    port = session.port
    sockets: list[socket.socket] = []
    for i in range(600):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"CONNECT " + API.encode() + b":443 HTTP/1.1\r\nHost: ")  # a head never finished
        sockets.append(sock)
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"  # the start of a ClientHello, never finished
    for i in range(250):
        sock, status, _ = connect_tunnel(port, f"{API}:{upstream.tls_port}", session.token)
        assert status == 200
        sock.sendall(hello)
        sockets.append(sock)
    for i in range(200):
        sockets.append(socket.create_connection(("127.0.0.1", port), timeout=10))
    started = time.monotonic()
    result = user.run("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                      upstream.url("/bearer/slowloris"), timeout=30)
    elapsed = time.monotonic() - started
    assert result.stdout.strip() == "200", result
    assert elapsed < 8, f"a legitimate request took {elapsed:.1f} s among 1050 hanging connections"
    # Every hanging connection is closed by the daemon within its timeout (plus slack).
    deadline = time.monotonic() + 4 + 6
    still_open = 0
    for sock in sockets:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            while sock.recv(4096):
                pass
        except socket.timeout:
            still_open += 1
        except OSError:
            pass
        sock.close()
    assert still_open == 0, f"{still_open} of {len(sockets)} hanging connections were still open after their timeouts"


def test_connections_beyond_the_cap_are_closed_at_once(make_user):
    user = make_user()
    user.write_config(proxy="{ max_connections = 32 }")
    port = user.proxy_port()
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(32)]
    time.sleep(0.3)
    extra = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(8)]
    closed = 0
    for sock in extra:
        sock.settimeout(2)
        try:
            closed += sock.recv(1) == b""
        except (socket.timeout, OSError) as error:
            closed += not isinstance(error, socket.timeout)
    for sock in held[:4]:
        sock.settimeout(0.3)
        with pytest.raises(socket.timeout):
            sock.recv(1)
    for sock in held + extra:
        sock.close()
    assert closed == 8, f"only {closed} of 8 connections beyond the cap were closed"
    # Slots free up again: a new connection is served.
    time.sleep(0.5)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"CONNECT x.test:443 HTTP/1.1\r\nHost: x.test:443\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 407")


def test_accept_at_the_fd_limit_pauses_instead_of_spinning(make_user, upstream):
    user = make_user()
    secret = random_secret("sk_emfile_")
    user.add("emfile", secret, API, inject="Authorization: Bearer {secret}")
    upstream.expect("emfile", secret)
    pid = daemon_pid(user)
    port = user.proxy_port()
    raise_own_fd_limit()
    limit = fd_count(pid) + 40
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={limit}:{limit}"], check=True)
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(120)]
    time.sleep(1)
    before = cpu_seconds(pid)
    time.sleep(3)
    used = cpu_seconds(pid) - before
    for sock in sockets:
        sock.close()
    assert used < 0.6, f"the daemon used {used:.2f} s of CPU in 3 s while out of descriptors"
    assert "accept failed" in user.daemon_log.read_text()
    time.sleep(1)
    result = user.run("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                      upstream.url("/bearer/emfile"), timeout=30)
    assert result.stdout.strip() == "200", result


# --------------------------------------------------------------------------------------------------
# 5. A kept-alive upstream that closes idle connections with close_notify


class IdleClosingServer:
    """A TLS server for idle.keyhole.test that answers keep-alive requests and closes a connection that has
    been idle for `idle` seconds with a TLS close_notify, as most TLS servers do after their idle timeout."""

    def __init__(self, directory: str, idle: float = 1.0):
        self.ca_path, ca_key, ca_cert = make_ca(directory, "idle")
        cert, key = make_leaf(directory, "idle", ca_key, ca_cert, [IDLE_HOST])
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.idle = idle
        self.connections = 0
        self.requests = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            conn.close()
            return
        self.connections += 1
        data = b""
        try:
            while True:
                tls.settimeout(self.idle)
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = tls.recv(4096)
                        if not chunk:
                            return
                        data += chunk
                except socket.timeout:
                    tls.unwrap()  # close_notify, then the socket goes
                    return
                _, _, data = data.partition(b"\r\n\r\n")
                self.requests += 1
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
        except (ssl.SSLError, OSError):
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()


def test_upstream_closing_idle_keep_alive_connections_does_not_hang_the_next_request(make_user, tmp_path):
    server = IdleClosingServer(str(tmp_path), idle=1.0)
    try:
        user = make_user()
        user.write_config(extra_ca=[server.ca_path], extra_resolve={f"{IDLE_HOST}:{server.port}": f"127.0.0.1:{server.port}"})
        user.add("idle", random_secret("sk_idle_"), IDLE_HOST, inject="Authorization: Bearer {secret}")
        session = env_session(user)
        sock, status, _ = connect_tunnel(session.port, f"{IDLE_HOST}:{server.port}", session.token)
        assert status == 200
        with tls_client(sock, user.status()["ca"], IDLE_HOST) as tls:
            tls.settimeout(10)
            codes = []
            for i in range(3):
                if i:
                    time.sleep(2.5)
                tls.sendall(f"GET /{i} HTTP/1.1\r\nHost: {IDLE_HOST}:{server.port}\r\n\r\n".encode())
                started = time.monotonic()
                code, _, body = read_http_response(tls)
                codes.append((code, round(time.monotonic() - started, 2)))
        assert [c for c, _ in codes] == [200, 200, 200], codes
        assert all(seconds < 5 for _, seconds in codes), codes
        assert server.requests == 3 and server.connections == 3, (server.requests, server.connections)
    finally:
        server.close()


# --------------------------------------------------------------------------------------------------
# 7. The audit log holds credential names, never placeholders


def test_placeholder_in_the_path_is_audited_as_the_credential_name(make_user, upstream):
    user = make_user()
    secret = random_secret("sk_path_")
    user.add("pathcred", secret, API, env_var="PATH_TOKEN")
    upstream.expect("pathcred", secret)
    session = env_session(user)
    placeholder = session.env["PATH_TOKEN"]
    sock, status, _ = connect_tunnel(session.port, f"{API}:{upstream.tls_port}", session.token)
    assert status == 200
    with tls_client(sock, user.status()["ca"], API) as tls:
        tls.sendall((f"GET /open/{placeholder}/x HTTP/1.1\r\nHost: {API}:{upstream.tls_port}\r\n"
                     "Connection: close\r\n\r\n").encode())
        assert read_http_response(tls)[0] in (200, 404)  # forwarded; the fixture knows no such path
    deadline = time.monotonic() + 5
    while not any(r["path"] == "/open/{pathcred}/x" for r in user.audit_records()):
        assert time.monotonic() < deadline, "no audit line with the credential's name in the path"
        time.sleep(0.1)
    assert placeholder not in user.audit_log.read_text()


# --------------------------------------------------------------------------------------------------
# Found by the network fuzzer: a control request with a TTL far in the future


@pytest.mark.parametrize("ttl", [9223372036854775807, 1 << 62, 10 ** 15])
def test_a_huge_session_ttl_is_refused_and_the_daemon_lives(make_user, ttl):
    user = make_user()
    status = user.status()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(status["control_socket"])
        sock.sendall(('{"command": "openSession", "sessionKind": "env", "ttlSeconds": %d}\n' % ttl).encode())
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    assert b"TTL" in reply and b"366 days" in reply, reply
    assert user.status()["pid"] == status["pid"], "the daemon must still be the same process"
    assert user.cmd("env", "--ttl", str(ttl)).returncode != 0
