"""The audit log under attack: crafted lines cannot steer a terminal through `keyhole log`, and a flood of
identical refusals costs a few lines carrying a count instead of a line each."""

from __future__ import annotations

import json
import socket
import time

from harness import proxy_auth_header, read_http_head
from upstream import API_HOST as API

# U+202E RIGHT-TO-LEFT OVERRIDE reorders what a terminal shows after it; U+009B is the one-byte CSI that a
# terminal in UTF-8 mode may take as the start of an escape sequence (here: clear the screen).
RLO = "\u202e"
CSI = "\u009b"
UNSAFE = (RLO, CSI, "\u2066", "\u200f", "\u0085")


def crafted_line() -> str:
    """An audit line as a workload could make the proxy write it, or as anyone could append it, raw."""
    return json.dumps({
        "time": "2025-01-02T03:04:05.678Z", "session": f"ab{RLO}cd", "method": "GET",
        "host": f"{API}:443{CSI}31m", "path": f"/evil{RLO}gpj.exe{CSI}2J/\u2066x\u200f\u0085",
        "credential": None, "decision": "deny-scope", "status": 403, "bytes_up": 0, "bytes_down": 0, "ms": 1,
        "reason": f"crafted {CSI}0m",
    }, ensure_ascii=False) + "\n"


def test_log_shows_no_bidi_or_c1_controls_from_a_crafted_line(user):
    user.ok("status")
    with open(user.audit_log, "a", encoding="utf-8") as log:
        log.write(crafted_line())
    raw = user.audit_log.read_bytes()
    assert RLO.encode() in raw and CSI.encode() in raw, "the crafted line was not written raw"

    table = user.ok("log")
    for char in UNSAFE:
        assert char not in table.stdout, f"keyhole log printed U+{ord(char):04X} raw"
    assert "/evil?gpj.exe?2J/?x??" in table.stdout, str(table)
    assert "ab?cd" in table.stdout, str(table)

    listing = user.ok("log", "--json")
    for char in UNSAFE:
        assert char not in listing.stdout, f"keyhole log --json printed U+{ord(char):04X} raw"
    (line,) = [l for l in listing.stdout.splitlines() if "evil" in l]
    assert "\\u202e" in line and "\\u009b" in line, line
    record = json.loads(line)
    assert record["path"] == f"/evil{RLO}gpj.exe{CSI}2J/\u2066x\u200f\u0085", "escaped, not changed"
    assert record["reason"] == f"crafted {CSI}0m"


def refuse_many(port: int, count: int) -> None:
    """`count` connections, each a CONNECT with a wrong proxy password answered 407."""
    request = (f"CONNECT {API}:443 HTTP/1.1\r\nHost: {API}:443\r\n"
               f"Proxy-Authorization: {proxy_auth_header('wrong-password')}\r\n\r\n").encode()
    for index in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            status, _, _ = read_http_head(sock)
        assert status == 407, f"request {index}: {status}"


def new_denials(user, since: int) -> tuple[list[dict], list[dict]]:
    records = user.audit_records()[since:]
    return records, [r for r in records if r["decision"] == "deny-auth"]


def test_identical_refusals_are_aggregated_with_a_count(user):
    port = user.proxy_port()
    since = len(user.audit_records())
    size_before = user.audit_log.stat().st_size if user.audit_log.exists() else 0
    started = time.monotonic()
    refuse_many(port, 2000)
    elapsed = time.monotonic() - started
    time.sleep(2.5)  # the pending count is flushed at the end of its one-second window
    records, denials = new_denials(user, since)
    assert sum(r.get("count", 1) for r in denials) == 2000, json.dumps(denials)[-2000:]
    assert len(records) <= 4 + 2 * elapsed, f"{len(records)} lines for 2000 refusals in {elapsed:.1f}s"
    assert "count" not in denials[0], "the first refusal is written at once, alone"
    assert all(r["host"] == f"{API}:443" and r["status"] == 407 for r in denials)
    growth = user.audit_log.stat().st_size - size_before
    assert growth < 4096, f"the audit log grew {growth} bytes for 2000 identical refusals"
    table = user.ok("log")
    assert "×" in table.stdout, str(table)


def test_refusals_held_at_shutdown_are_written(user):
    port = user.proxy_port()
    since = len(user.audit_records())
    refuse_many(port, 50)
    user.stop_daemon()
    _, denials = new_denials(user, since)
    assert sum(r.get("count", 1) for r in denials) == 50, json.dumps(denials)
    assert len(denials) <= 2
