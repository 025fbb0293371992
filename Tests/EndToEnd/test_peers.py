"""Other local users on the proxy port (issue 9): TCP has no SO_PEERCRED, so the daemon looks the client
socket's owner up in the kernel's socket tables and closes another user's connection before reading a byte
of it, even when that user holds a valid session token."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pytest

from harness import env_session, proxy_auth_header
from upstream import API_HOST as API

NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"  # readable by any uid (a pyenv interpreter under /root is not)

# Connects (IPv4, or an IPv6 socket to the IPv4-mapped address), sends argv[3] `count` times on fresh
# connections, and prints what came back on the last one: its bytes, or "reset".
CLIENT = r"""
import socket, sys
port, family, request, count = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode(), int(sys.argv[4])
for _ in range(count):
    if family == "mapped":
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(("::ffff:127.0.0.1", port))
    else:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    received = b""
    try:
        sock.sendall(request)
        while chunk := sock.recv(65536):
            received += chunk
    except (ConnectionResetError, BrokenPipeError):
        received = b"reset"
    sock.close()
print(received.decode("latin-1"), end="")
"""


def run_client(port: int, request: str, *, family: str = "ipv4", as_uid: int | None = None,
               count: int = 1) -> str:
    command = [SYSTEM_PYTHON, "-c", CLIENT, str(port), family, request, str(count)]
    if as_uid is not None:
        command = ["setpriv", f"--reuid={as_uid}", f"--regid={as_uid}", "--clear-groups", *command]
    proc = subprocess.run(command, capture_output=True, timeout=60, cwd="/", env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, f"client failed: {proc.stderr.decode(errors='replace')[-2000:]}"
    return proc.stdout.decode("latin-1")


@pytest.fixture(scope="module")
def other_uid():
    if os.getuid() == NOBODY or os.getuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run a client as another uid")
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"needs {SYSTEM_PYTHON}")
    return NOBODY


def forwarded_request(upstream, token: str) -> str:
    """An absolute-form GET to the plain-HTTP upstream's open path with a valid session's credentials."""
    return (f"GET {upstream.url('/open/peers', tls=False)} HTTP/1.1\r\nHost: {API}:{upstream.plain_port}\r\n"
            f"Proxy-Authorization: {proxy_auth_header(token)}\r\nConnection: close\r\n\r\n")


@pytest.mark.parametrize("family", ["ipv4", "mapped"])
def test_another_uid_is_closed_before_anything_is_read(module_user, upstream, other_uid, family):
    session = env_session(module_user)
    request = forwarded_request(upstream, session.token)
    own = run_client(session.port, request, family=family)
    assert own.startswith("HTTP/1.1 200"), f"the daemon's own uid must be served: {own[:200]!r}"

    mark = upstream.mark()
    audit_lines = len(module_user.audit_records())
    other = run_client(session.port, request, family=family, as_uid=other_uid)
    assert other in ("", "reset"), f"uid {other_uid} must get no response byte: {other[:200]!r}"
    assert upstream.requests_since(mark) == [], "nothing of another uid's request may be forwarded"
    assert len(module_user.audit_records()) == audit_lines, "a refused peer is not audited"


def test_another_uid_without_credentials_gets_no_407(module_user, other_uid):
    port = module_user.proxy_port()
    request = "CONNECT api.keyhole.test:443 HTTP/1.1\r\nHost: api.keyhole.test:443\r\n\r\n"
    assert run_client(port, request).startswith("HTTP/1.1 407")
    assert run_client(port, request, as_uid=other_uid) in ("", "reset")


def refusal_lines(user) -> list[str]:
    return [line for line in user.daemon_log.read_text(errors="replace").splitlines()
            if "refused a proxy connection" in line]


def test_refusals_are_logged_with_the_uid_and_rate_limited(module_user, other_uid):
    port = module_user.proxy_port()
    before = len(refusal_lines(module_user))
    started = time.monotonic()
    run_client(port, "GET / HTTP/1.1\r\n\r\n", as_uid=other_uid, count=300)
    elapsed = time.monotonic() - started
    # A burst is logged as one line per second with its count; the last one within a second of the burst.
    deadline = time.monotonic() + 5
    while True:
        lines = refusal_lines(module_user)[before:]
        counted = sum(int(m) for line in lines for m in re.findall(r"proxy\.refused=(\d+)", line))
        if counted >= 300 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert counted >= 300, f"all 300 refusals must be counted in the log: {lines}"
    assert f"proxy.peer.uid={other_uid}" in lines[-1], lines[-1]
    assert len(lines) <= elapsed + 3, f"300 refusals in {elapsed:.1f}s logged {len(lines)} lines: not rate-limited"
