#!/usr/bin/env python3
"""keyhole's network fuzzer (issue 17, item 2).

A workload that holds only placeholders and a session's proxy password throws mutated requests at a running
daemon: straight at the proxy port (absolute-form http:// and https://, CONNECT to scoped, unscoped and odd
authorities, good, wrong and missing Proxy-Authorization), inside intercepted TLS tunnels (garbage instead of a
ClientHello, pipelining, smuggling shapes, upgrades, 100-continue, fragments, placeholders in every position) and
as lines on the control socket. Recording upstreams for a *scoped* and an *unscoped* host, each with a TLS and a
plain listener, keep every byte they receive, and the oracles check that

  * the real secrets (raw, percent-encoded, inside base64 at any alignment, JSON-escaped) never reach the
    unscoped host's listeners, never reach a plain listener, never cross the wire in clear text to a TLS port;
  * on the scoped host's TLS listener every request carrying a secret is a well-formed request with an
    origin-form target and one Host naming exactly the scoped host and port, and a secret never sits in a body,
    after an upgrade or in bytes that do not parse as HTTP/1.1;
  * a secret never comes back to the workload (proxy responses, control-socket replies), nor lands in the
    daemon's logs;
  * the daemon stays alive and serves a normal swapped request throughout, and after the run (once its timeouts
    have passed) its fd count and RSS are back near the baseline taken after a warm-up.

Usage (see Fuzz/net/README.md):

    python3 Fuzz/net/netfuzz.py --seconds 60 [--seed S] [--workers K] [--keep DIR]
    python3 Fuzz/net/netfuzz.py --inputs 20000
    python3 Fuzz/net/netfuzz.py --replay Fuzz/net/findings/RUN/001-secret-in-body.json
    python3 Fuzz/net/netfuzz.py --self-check        # plants leaks; exits 1 when the oracles catch them

Exit status: 0 clean, 1 an oracle failed (the offending inputs are saved and their paths printed), 2 set-up
error. Everything runs on loopback, inside a private network namespace when the kernel allows one.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import fcntl
import json
import os
import random
import re
import shutil
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "Tests" / "EndToEnd"))

SCOPED = "scoped.fuzz.test"
UNSCOPED = "unscoped.fuzz.test"
HEALTH_PATH = "/__netfuzz_health"
FORMAT_VERSION = 1

# Small timeouts so that what the fuzzer leaves half-open is closed by the daemon within seconds.
TIMEOUTS = {"request_head": 3, "handshake": 3, "idle": 4, "response_head": 6, "tunnel_idle": 6}
SETTLE_SECONDS = max(TIMEOUTS.values()) + 8


def log(message: str) -> None:
    print(f"netfuzz: {message}", file=sys.stderr, flush=True)


# ==================================================================================================
# Loopback only: a private network namespace


def enter_private_netns() -> str:
    """Moves this process (and so the daemon it starts) into a new network namespace with only `lo`, so that no
    mutated authority can make the daemon reach anything but the fuzzer's own listeners. Returns how it went."""
    if os.environ.get("NETFUZZ_NO_NETNS"):
        return "disabled by NETFUZZ_NO_NETNS"
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWNET, CLONE_NEWUSER = 0x40000000, 0x10000000
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWNET) != 0:
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
            return f"unavailable ({os.strerror(ctypes.get_errno())}); off-map names may cause DNS look-ups"
        try:
            Path("/proc/self/setgroups").write_text("deny")
            Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1\n")
            Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1\n")
        except OSError as error:
            return f"user namespace half set up ({error})"
    # bring lo up: SIOCGIFFLAGS / SIOCSIFFLAGS
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, ifreq))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", flags | 0x1))
    return "private network namespace (loopback only)"


# ==================================================================================================
# Symbolic byte strings ("pieces"): inputs name the session's values instead of holding them, so that a saved
# input replays against a fresh daemon with new tokens, placeholders and ports.
#
#   "text"                       literal bytes (latin-1)
#   {"v": NAME}                  a value of the run: TOKEN, PH_GEN, SCOPED, S_TLS, ... (see FuzzEnv.values)
#   {"b64": [...]} {"b64u": [...]}   base64 (standard / URL-safe) of the pieces
#   {"pct": [...]} {"pctl": [...]}   every byte as %XX (upper / lower case hex)
#   {"up": [...]} {"low": [...]}     ASCII upper / lower case
#   {"rep": [...], "n": N}           N times
#   {"cut": [...], "a": A, "b": B}   bytes [A:B] of the pieces
#   {"mut": [...], "ops": [[frac, op, arg], ...]}   byte mutations applied after expansion (see mutate_bytes)
#   {"len": [...]} {"hexlen": [...]}   the length of the pieces, decimal / hex (Content-Length, chunk sizes)


def expand(pieces, values: dict[str, str]) -> bytes:
    if isinstance(pieces, str):
        return pieces.encode("latin-1")
    if isinstance(pieces, (bytes, bytearray)):
        return bytes(pieces)
    if isinstance(pieces, list):
        return b"".join(expand(p, values) for p in pieces)
    if isinstance(pieces, dict):
        if "v" in pieces:
            value = values[pieces["v"]]
            return value if isinstance(value, bytes) else value.encode("latin-1")
        for key, fn in (("b64", lambda b: base64.b64encode(b)), ("b64u", lambda b: base64.urlsafe_b64encode(b)),
                        ("pct", lambda b: "".join(f"%{c:02X}" for c in b).encode()),
                        ("pctl", lambda b: "".join(f"%{c:02x}" for c in b).encode()),
                        ("up", lambda b: b.upper()), ("low", lambda b: b.lower())):
            if key in pieces:
                return fn(expand(pieces[key], values))
        if "rep" in pieces:
            return expand(pieces["rep"], values) * int(pieces["n"])
        if "cut" in pieces:
            return expand(pieces["cut"], values)[int(pieces["a"]):int(pieces["b"])]
        if "mut" in pieces:
            return mutate_bytes(expand(pieces["mut"], values), pieces["ops"])
        if "len" in pieces:
            return str(len(expand(pieces["len"], values))).encode()
        if "hexlen" in pieces:
            return format(len(expand(pieces["hexlen"], values)), "x").encode()
    raise ValueError(f"bad piece: {pieces!r}")


def mutate_bytes(data: bytes, ops) -> bytes:
    """Deterministic byte mutations; positions are fractions of the length, so they land at the same place when
    a replay's values have the same lengths."""
    buf = bytearray(data)
    for frac, op, arg in ops:
        pos = min(int(frac * len(buf)), max(len(buf) - 1, 0))
        if op == "flip" and buf:
            buf[pos] ^= 1 << (int(arg) & 7)
        elif op == "set" and buf:
            buf[pos] = int(arg) & 0xFF
        elif op == "ins":
            buf[pos:pos] = arg.encode("latin-1")
        elif op == "del":
            del buf[pos:pos + int(arg)]
        elif op == "dup":
            buf[pos:pos] = buf[pos:pos + int(arg)]
        elif op == "trunc":
            del buf[pos:]
    return bytes(buf)


def V(name: str) -> dict:
    return {"v": name}


# ==================================================================================================
# Secrets and their encodings


def percent_encode(data: bytes, lower: bool = False) -> bytes:
    """keyhole's PercentEncoding.encode: every byte but A-Z a-z 0-9 - _ . ~ as %XX."""
    out = bytearray()
    for c in data:
        if chr(c).isascii() and (chr(c).isalnum() or chr(c) in "-_.~"):
            out.append(c)
        else:
            out += (f"%{c:02x}" if lower else f"%{c:02X}").encode()
    return bytes(out)


def base64_fragments(secret: bytes) -> list[bytes]:
    """The base64 characters that encode only `secret`'s bytes, for each of the three alignments it can have inside
    a longer base64 string (`user:secret`, `secret:`, ...): any base64 holding the secret holds one of these."""
    out = []
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + secret)
        start = ((k + 2) // 3) * 4
        end = ((k + len(secret)) // 3) * 4
        fragment = encoded[start:end]
        if len(fragment) >= 12:
            out.append(fragment)
            out.append(fragment.translate(bytes.maketrans(b"+/", b"-_")))
    return out


class Scanner:
    """Finds any encoding of the secrets in a byte string."""

    def __init__(self, secrets: dict[str, str]):
        self.secrets = secrets
        self.labels: dict[bytes, str] = {}
        exact: list[bytes] = []
        for name, secret in secrets.items():
            raw = secret.encode()
            forms = {raw: "raw", percent_encode(raw): "percent-encoded", percent_encode(raw, True): "percent-encoded",
                     "".join(f"%{c:02X}" for c in raw).encode(): "percent-encoded (every byte)",
                     "".join(f"%{c:02x}" for c in raw).encode(): "percent-encoded (every byte)",
                     raw.replace(b"/", b"\\/"): "JSON-escaped"}
            for fragment in base64_fragments(raw):
                forms.setdefault(fragment, "base64")
            for form, how in forms.items():
                self.labels[form] = f"{name} ({how})"
                exact.append(form)
        exact.sort(key=len, reverse=True)
        self.exact = re.compile(b"|".join(re.escape(f) for f in exact))
        # Case-folded (a header value lower-cased on the way, say) still gives the secret away.
        self.folded = re.compile(b"|".join(re.escape(s.encode()) for s in secrets.values()), re.IGNORECASE)
        self.folded_names = {s.encode().lower(): n for n, s in secrets.items()}
        # Any 8 characters of a secret: what the findings' excerpts and details must not show either (an excerpt can
        # cut a secret in two, a parse error can quote part of one).
        parts = {sec[i:i + 8] for sec in secrets.values() for i in range(len(sec) - 7)}
        self.partial = re.compile("|".join(re.escape(p) for p in sorted(parts)).encode())

    def find(self, data: bytes | bytearray) -> list[tuple[int, int, str]]:
        hits = {}
        for m in self.exact.finditer(data):
            hits[m.start()] = (m.start(), m.end() - m.start(), self.labels.get(m.group(0), "secret"))
        for m in self.folded.finditer(data):
            if m.start() not in hits:
                name = self.folded_names.get(m.group(0).lower(), "secret")
                hits[m.start()] = (m.start(), m.end() - m.start(), f"{name} (case-folded)")
        return [hits[k] for k in sorted(hits)]

    def contains(self, data: bytes | bytearray) -> bool:
        return bool(self.exact.search(data) or self.folded.search(data))

    def redact(self, data: bytes | bytearray) -> bytes:
        data = self.exact.sub(lambda m: f"<{self.labels.get(m.group(0), 'secret')}>".encode(), bytes(data))
        data = self.folded.sub(b"<secret (case-folded)>", data)
        return self.partial.sub(b"<part of a secret>", data)


def random_secret(rng: random.Random, prefix: str) -> str:
    # Unreserved characters plus a few that need percent-encoding in a URL and JSON escaping ('/').
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    body = "".join(rng.choice(alphabet) for _ in range(30))
    return f"{prefix}{body[:12]}+{body[12:20]}/{body[20:]}="


# ==================================================================================================
# HTTP/1.1 request stream parser (what an upstream receives). keyhole re-encodes every request, so the stream a
# listener records must be strictly well-formed; anything else is an anomaly, and a secret in it a failure.

TOKEN_CHARS = set(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@dataclass
class ParsedRequest:
    head_start: int
    head_end: int
    body_end: int | None = None
    method: str = ""
    target: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    fuzz_id: str | None = None
    time: float = 0.0
    problems: list[str] = field(default_factory=list)  # why the head is not a proper request for the scoped host


class StreamParser:
    """Incremental strict parser. `feed` returns the actions the upstream takes: ("continue",), ("respond", req),
    ("upgrade", req), ("close", req)."""

    MAX_HEAD = 1 << 20

    def __init__(self):
        self.buf = bytearray()
        self.pos = 0
        self.requests: list[ParsedRequest] = []
        self.error: tuple[int, str] | None = None
        self.upgraded_at: int | None = None
        self.anomalies: list[str] = []
        self.error_head: tuple[int, int] | None = None
        self._current: ParsedRequest | None = None
        self._body_left = 0
        self._chunked = False
        self._chunk_state = "size"

    def feed(self, data: bytes) -> list[tuple]:
        self.buf += data
        actions = []
        while self.error is None and self.upgraded_at is None:
            if self._current is None:
                end = self.buf.find(b"\r\n\r\n", self.pos)
                if end < 0:
                    if len(self.buf) - self.pos > self.MAX_HEAD:
                        self.error = (self.pos, "request head longer than 1 MiB")
                    break
                req = self._parse_head(self.pos, end + 4)
                if req is None:
                    break
                self.requests.append(req)
                self.pos = end + 4
                self._current = req
                if self._chunked:
                    self._chunk_state = "size"
                if self._has_token("expect", "100-continue", req):
                    actions.append(("continue", req))
                if self._is_upgrade(req):
                    req.body_end = self.pos
                    self._current = None
                    self.upgraded_at = self.pos
                    actions.append(("upgrade", req))
                    break
            if not self._consume_body():
                break
            req = self._current
            req.body_end = self.pos
            self._current = None
            closing = self._has_token("connection", "close", req)
            actions.append(("close" if closing else "respond", req))
            if closing:
                break
        return actions

    @staticmethod
    def _has_token(name: str, token: str, req: ParsedRequest) -> bool:
        for n, v in req.headers:
            if n.lower() == name and token in [t.strip().lower() for t in v.split(",")]:
                return True
        return False

    def _is_upgrade(self, req: ParsedRequest) -> bool:
        return ("/ws" in req.target and any(n.lower() == "upgrade" for n, _ in req.headers)
                and self._has_token("connection", "upgrade", req))

    def _parse_head(self, start: int, end: int) -> ParsedRequest | None:
        head = bytes(self.buf[start:end - 4])
        req = ParsedRequest(head_start=start, head_end=end, time=time.time())
        lines = head.split(b"\r\n")
        for i, line in enumerate(lines):
            if b"\n" in line or b"\r" in line:
                self.error = (start, f"bare CR or LF in line {i} of a request head")
                return None
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[0] or not set(parts[0]) <= TOKEN_CHARS or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
            self.error = (start, f"malformed request line {lines[0][:200]!r}")
            return None
        if any(c < 0x21 or c == 0x7F for c in parts[1]):
            self.error = (start, "control character or space in the request target")
            return None
        req.method, req.target = parts[0].decode("latin-1"), parts[1].decode("latin-1")
        content_lengths, encodings = [], []
        for line in lines[1:]:
            if line[:1] in (b" ", b"\t"):
                self.error = (start, "obs-fold line in a request head")
                return None
            name, colon, value = line.partition(b":")
            if not colon or not name or not set(name) <= TOKEN_CHARS:
                self.error = (start, f"malformed header line {line[:120]!r}")
                return None
            value = value.strip(b" \t")
            if any((c < 0x20 and c != 0x09) or c == 0x7F for c in value):
                self.error = (start, f"control character in the value of {name.decode('latin-1')}")
                return None
            n, v = name.decode("latin-1"), value.decode("latin-1")
            req.headers.append((n, v))
            if n.lower() == "content-length":
                content_lengths.append(v)
            elif n.lower() == "transfer-encoding":
                encodings.append(v)
            elif n.lower() == "x-fuzz-id":
                req.fuzz_id = v
        self._chunked = False
        self._body_left = 0
        self.error_head = (start, end)  # if the framing below is refused, the head itself was well-formed
        if encodings and content_lengths:
            self.error = (start, "both Transfer-Encoding and Content-Length in a forwarded request")
            return None
        if encodings:
            codings = [c.strip().lower() for e in encodings for c in e.split(",")]
            if codings[-1:] != ["chunked"] or "chunked" in codings[:-1]:
                self.error = (start, f"Transfer-Encoding {encodings!r} (chunked is not the one final coding)")
                return None
            if len(codings) > 1:
                self.anomalies.append("a forwarded request names transfer codings other than chunked")
            self._chunked = True
        elif content_lengths:
            if len(set(content_lengths)) != 1 or not content_lengths[0].isdigit() or len(content_lengths[0]) > 15:
                self.error = (start, f"Content-Length {content_lengths!r} in a forwarded request")
                return None
            if len(content_lengths) > 1:
                self.anomalies.append("repeated Content-Length in a forwarded request")
            self._body_left = int(content_lengths[0])
        self.error_head = None
        return req

    def _consume_body(self) -> bool:
        """Advances over the current request's body; True when it is complete."""
        if not self._chunked:
            take = min(self._body_left, len(self.buf) - self.pos)
            self.pos += take
            self._body_left -= take
            return self._body_left == 0
        while True:
            if self._chunk_state == "size":
                end = self.buf.find(b"\r\n", self.pos)
                if end < 0:
                    if len(self.buf) - self.pos > 4096:
                        self.error = (self.pos, "chunk-size line too long")
                    return False
                line = bytes(self.buf[self.pos:end])
                size_text = line.split(b";", 1)[0]
                if not size_text or not re.fullmatch(rb"[0-9A-Fa-f]{1,15}", size_text):
                    self.error = (self.pos, f"malformed chunk size {line[:60]!r}")
                    return False
                self._body_left = int(size_text, 16)
                self.pos = end + 2
                self._chunk_state = "data" if self._body_left else "trailers"
            elif self._chunk_state == "data":
                take = min(self._body_left, len(self.buf) - self.pos)
                self.pos += take
                self._body_left -= take
                if self._body_left:
                    return False
                if len(self.buf) - self.pos < 2:
                    return False
                if self.buf[self.pos:self.pos + 2] != b"\r\n":
                    self.error = (self.pos, "chunk data not followed by CRLF")
                    return False
                self.pos += 2
                self._chunk_state = "size"
            else:  # trailers
                end = self.buf.find(b"\r\n", self.pos)
                if end < 0:
                    return False
                line = bytes(self.buf[self.pos:end])
                self.pos = end + 2
                if not line:
                    return True
                if b":" not in line:
                    self.error = (self.pos, "malformed trailer line")
                    return False
                self.anomalies.append("trailer fields in a forwarded request")

    def locate(self, offset: int) -> tuple[str, ParsedRequest | None]:
        """Where a byte offset lies: "head", "body", "upgraded", "unparsed" (after an error), "pending"."""
        if self.upgraded_at is not None and offset >= self.upgraded_at:
            return "upgraded", None
        for req in self.requests:
            if req.head_start <= offset < req.head_end:
                return "head", req
            body_end = req.body_end if req.body_end is not None else len(self.buf)
            if req.head_end <= offset < body_end:
                return "body", req
        if self.error is not None and offset >= self.error[0]:
            return "unparsed", None
        return "pending", None


def head_problems(req: ParsedRequest, host: str, port: int) -> list[str]:
    """Why a request carrying a secret must not have gone to (host, port): empty when it is fine."""
    problems = []
    if not (req.target.startswith("/") or (req.target == "*" and req.method == "OPTIONS")):
        problems.append(f"target {req.target[:200]!r} is not in origin form")
    hosts = [v for n, v in req.headers if n.lower() == "host"]
    if len(hosts) != 1:
        problems.append(f"{len(hosts)} Host headers {hosts!r}")
    for value in hosts:
        m = re.fullmatch(r"([A-Za-z0-9.\-_]+?)\.?(?::([0-9]{1,5}))?", value)
        if not m or m.group(1).lower() != host or int(m.group(2) or (443 if port != 443 else -1)) != port:
            problems.append(f"Host {value[:200]!r} is not {host}:{port}")
    return problems


# ==================================================================================================
# Recording upstreams


class ConnRecord:
    def __init__(self, listener: "Listener", number: int):
        self.listener = listener
        self.number = number
        self.opened = time.time()
        self.last = self.opened
        self.raw = bytearray()
        self.plain = bytearray()
        self.parser = StreamParser()
        self.tls_error: str | None = None
        self.truncated = False


class Listener:
    LIMIT = 32 << 20

    def __init__(self, upstream: "Upstream", host: str, tls_context: ssl.SSLContext | None):
        self.upstream = upstream
        self.host = host
        self.tls = tls_context is not None
        self.context = tls_context
        self.label = f"{'unscoped' if host == UNSCOPED else 'scoped'}-{'tls' if self.tls else 'plain'}"
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.count = 0

    def serve(self) -> None:
        while not self.upstream.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                if self.upstream.stopping:
                    return
                time.sleep(0.01)
                continue
            self.count += 1
            threading.Thread(target=self.handle, args=(conn, self.count), daemon=True).start()

    def handle(self, conn: socket.socket, number: int) -> None:
        record = ConnRecord(self, number)
        self.upstream.opened(record)
        conn.settimeout(30)
        obj = None
        incoming = outgoing = None
        handshaken = False
        if self.tls:
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            obj = self.context.wrap_bio(incoming, outgoing, server_side=True)

        def send(data: bytes) -> None:
            if obj is not None:
                obj.write(data)
                flush()
            else:
                conn.sendall(data)

        def flush() -> None:
            pending = outgoing.read()
            if pending:
                conn.sendall(pending)

        echo = False
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                record.last = time.time()
                if len(record.raw) < self.LIMIT:
                    record.raw += data
                else:
                    record.truncated = True
                    break
                if obj is None:
                    plain = data
                elif record.tls_error is not None:
                    continue  # keep recording what comes, answer nothing
                else:
                    incoming.write(data)
                    if not handshaken:
                        try:
                            obj.do_handshake()
                            handshaken = True
                        except ssl.SSLWantReadError:
                            pass
                        except (ssl.SSLError, OSError) as error:
                            record.tls_error = str(error)
                        try:
                            flush()
                        except OSError:
                            break
                        if not handshaken:
                            continue
                    chunks = []
                    closed = False
                    while True:
                        try:
                            chunk = obj.read(65536)
                        except ssl.SSLWantReadError:
                            break
                        except ssl.SSLZeroReturnError:
                            closed = True
                            break
                        except ssl.SSLError as error:
                            record.tls_error = str(error)
                            closed = True
                            break
                        if not chunk:
                            closed = True
                            break
                        chunks.append(chunk)
                    plain = b"".join(chunks)
                    if closed and not plain:
                        break
                record.plain += plain
                if echo:
                    send(plain)
                    continue
                done = False
                for action in record.parser.feed(plain):
                    kind, req = action[0], action[1]
                    if kind == "continue":
                        send(b"HTTP/1.1 100 Continue\r\n\r\n")
                    elif kind == "upgrade":
                        # A fixed answer: the upstream never echoes what a request carried.
                        send(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
                        echo = True
                        rest = bytes(record.parser.buf[record.parser.upgraded_at:])
                        if rest:
                            send(rest)
                    else:
                        send(self.upstream.response(req, kind == "close"))
                        if kind == "close":
                            done = True
                if done or record.parser.error is not None:
                    break
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass
            self.upstream.finished(record)


class Upstream:
    def __init__(self, directory: str, oracles: "Oracles", health_secrets: tuple[str, str]):
        from upstream import make_ca, make_leaf  # the E2E suite's certificate helpers

        self.oracles = oracles
        self.health_secrets = health_secrets
        self.stopping = False
        self.lock = threading.Lock()
        self.open: set[ConnRecord] = set()
        self.stats = {"connections": 0, "requests": 0}
        self.ca_path, ca_key, ca_cert = make_ca(directory, "netfuzz-upstream")
        self.listeners: dict[str, Listener] = {}
        for host in (SCOPED, UNSCOPED):
            cert, key = make_leaf(directory, host, ca_key, ca_cert, [host])
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            context.set_alpn_protocols(["http/1.1"])
            for tls in (True, False):
                listener = Listener(self, host, context if tls else None)
                self.listeners[listener.label] = listener
        self.threads = [threading.Thread(target=l.serve, daemon=True) for l in self.listeners.values()]
        for t in self.threads:
            t.start()

    def port(self, label: str) -> int:
        return self.listeners[label].port

    def resolve_map(self) -> dict[str, str]:
        """Both names on all four ports: a request for one name on the other host's port must meet that host."""
        return {f"{host}:{l.port}": f"127.0.0.1:{l.port}" for host in (SCOPED, UNSCOPED) for l in self.listeners.values()}

    def response(self, req: ParsedRequest, close: bool) -> bytes:
        with self.lock:
            self.stats["requests"] += 1
        status, body = "200 OK", b"ok\n"
        if req.target.startswith(HEALTH_PATH):
            gen, inj = self.health_secrets
            headers = {n.lower(): v for n, v in req.headers}
            good = headers.get("authorization") == f"Bearer {gen}" and headers.get("x-key") == inj
            status, body = ("200 OK", b"healthy\n") if good else ("401 Unauthorized", b"unhealthy\n")
        head = f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        head += "Connection: close\r\n" if close else "Connection: keep-alive\r\n"
        return head.encode() + b"\r\n" + (b"" if req.method == "HEAD" else body)

    def opened(self, record: ConnRecord) -> None:
        with self.lock:
            self.open.add(record)
            self.stats["connections"] += 1

    def finished(self, record: ConnRecord) -> None:
        with self.lock:
            if record not in self.open:
                return
            self.open.discard(record)
        self.oracles.check_connection(record)

    def finish_all(self) -> None:
        with self.lock:
            records = list(self.open)
        for record in records:
            self.finished(record)

    def stop(self) -> None:
        self.stopping = True
        for l in self.listeners.values():
            try:
                l.sock.close()
            except OSError:
                pass


# ==================================================================================================
# Inputs in flight, findings, oracles


class Registry:
    """Which inputs ran when: an upstream connection or a daemon failure is traced back to the inputs that were
    in flight at the time (and to the one whose X-Fuzz-Id the offending request carried)."""

    def __init__(self, keep_seconds: float = 120):
        self.lock = threading.Lock()
        self.active: dict[str, float] = {}
        self.recent: list[tuple[str, float, float]] = []
        self.keep = keep_seconds

    def begin(self, fid: str) -> None:
        with self.lock:
            self.active[fid] = time.time()

    def end(self, fid: str) -> None:
        now = time.time()
        with self.lock:
            start = self.active.pop(fid, now)
            self.recent.append((fid, start, now))
            if len(self.recent) > 4096 and self.recent[0][2] < now - self.keep:
                self.recent = [r for r in self.recent if r[2] >= now - self.keep]

    def suspects(self, t0: float, t1: float, slack: float = 1.0) -> list[str]:
        with self.lock:
            out = [fid for fid, start in self.active.items() if start <= t1 + slack]
            out += [fid for fid, start, end in self.recent if start <= t1 + slack and end >= t0 - slack]
        return sorted(set(out), key=lambda f: tuple(int(x) for x in f.split("-")) if re.fullmatch(r"\d+-\d+", f) else (1 << 60, 0))


class Findings:
    def __init__(self, root: Path, run_id: str, always: bool):
        self.dir = root if always else root / run_id
        self.lock = threading.Lock()
        self.count = 0
        self.paths: list[Path] = []
        if always:
            self.dir.mkdir(parents=True, exist_ok=True)

    def save(self, kind: str, payload: dict) -> Path:
        with self.lock:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.count += 1
            path = self.dir / f"{self.count:03d}-{kind}.json"
            payload = {"format": FORMAT_VERSION, "kind": kind, **payload,
                       "replay": f"python3 Fuzz/net/netfuzz.py --replay {path}"}
            path.write_text(json.dumps(payload, indent=1, default=str) + "\n")
            self.paths.append(path)
        return path


class Oracles:
    MAX_SAVED_PER_KIND = 10

    def __init__(self, scanner: Scanner, registry: Registry, findings: Findings, script_for):
        self.scanner = scanner
        self.registry = registry
        self.findings = findings
        self.script_for = script_for  # fid -> script (regenerated from the seed)
        self.lock = threading.Lock()
        self.failures: dict[str, int] = {}
        self.anomalies: dict[str, int] = {}
        self.saved: dict[str, int] = {}
        self.first_paths: list[Path] = []
        self.env = None  # set by FuzzEnv: values and ports, for the evidence

    @property
    def failed(self) -> bool:
        return bool(self.failures)

    def _inputs(self, fids: list[str], primary: str | None) -> list[dict]:
        ordered = ([primary] if primary else []) + [f for f in fids if f != primary]
        out = []
        for fid in ordered[:12]:
            try:
                script = self.script_for(fid)
            except Exception as error:  # noqa: BLE001
                script = {"error": f"could not regenerate {fid}: {error}"}
            if script is not None:
                out.append(script)
        return out

    def fail(self, kind: str, detail: str, *, inputs: list[dict] | None = None, fids: list[str] = (),
             primary: str | None = None, evidence: dict | None = None, anomaly: bool = False) -> None:
        table = self.anomalies if anomaly else self.failures
        with self.lock:
            table[kind] = table.get(kind, 0) + 1
            key = ("anomaly:" if anomaly else "") + kind
            self.saved[key] = self.saved.get(key, 0) + 1
            save = self.saved[key] <= (3 if anomaly else self.MAX_SAVED_PER_KIND)
        if not save:
            return
        others = []
        if inputs is None:
            # The input a request named (X-Fuzz-Id) is the one to replay; the others in flight are only listed.
            others = [f for f in fids if f != primary]
            inputs = self._inputs([], primary) if primary else self._inputs(list(fids), None)
        payload = {"oracle": kind, "anomaly": anomaly, "detail": self._redact_text(detail),
                   "primary_input": primary, "inputs": inputs, "other_inputs_in_flight": others[:200],
                   "evidence": evidence or {},
                   "values": self.env.replay_values() if self.env else {}}
        path = self.findings.save(("anomaly-" if anomaly else "") + kind, payload)
        with self.lock:
            if not anomaly:
                self.first_paths.append(path)
        log(f"{'anomaly' if anomaly else 'ORACLE FAILED'} [{kind}] {self._redact_text(detail)[:300]} -> {path}")

    def _redact_text(self, text: str) -> str:
        return self.scanner.redact(text.encode("latin-1", "replace")).decode("latin-1")

    def excerpt(self, data: bytes | bytearray, offset: int, width: int = 400) -> str:
        start = max(0, offset - width)
        return self.scanner.redact(bytes(data[start:offset + width])).decode("latin-1")

    # ---- the upstream's recordings
    def check_connection(self, record: ConnRecord) -> None:
        listener = record.listener
        base = {"listener": listener.label, "port": listener.port, "connection": record.number,
                "opened": record.opened, "last": record.last, "tls_error": record.tls_error}
        window = self.registry.suspects(record.opened, record.last)
        if listener.tls:
            for off, length, label in self.scanner.find(record.raw)[:1]:
                self.fail("cleartext-on-tls-port", f"{label} crossed the wire in clear text to {listener.label}:"
                          f"{listener.port} (bytes the TLS listener received before/instead of TLS)", fids=window,
                          evidence={**base, "raw_excerpt": self.excerpt(record.raw, off)})
        hits = self.scanner.find(record.plain)
        if not hits:
            return
        if listener.label != "scoped-tls":
            off, length, label = hits[0]
            where, req = record.parser.locate(off)
            kind = "unscoped-host" if listener.host == UNSCOPED else "plain-listener"
            self.fail(kind, f"{label} reached {listener.label} (port {listener.port}), {len(hits)} occurrence(s)",
                      fids=window, primary=self.fuzz_id_before(record.plain, off),
                      evidence={**base, "excerpt": self.excerpt(record.plain, off),
                                "request": self._req(req)})
            return
        parser = record.parser
        reported = set()
        for off, length, label in hits:
            where, req = parser.locate(off)
            if where == "head":
                problems = head_problems(req, SCOPED, listener.port)
                if not problems:
                    continue
                kind, detail = "scoped-host-misdirected", "; ".join(problems)
            elif where == "body":
                kind, detail = "secret-in-body", "the secret sits in a request body (framing disagreement)"
            elif where == "upgraded":
                kind, detail = "secret-after-upgrade", "the secret sits in the bytes after a 101 upgrade"
            elif where == "unparsed" and parser.error_head is not None and parser.error_head[0] <= off < parser.error_head[1]:
                kind, detail = "ill-framed-request-with-secret", (f"a request carrying the secret has framing an "
                                                                  f"upstream must reject: {parser.error[1]}")
            elif where == "unparsed":
                kind, detail = "secret-in-malformed-stream", f"the stream stops parsing: {parser.error[1]}"
            else:
                self.fail("incomplete-request-with-secret", f"{label} in an unfinished request head at the end of the "
                          "connection", fids=window, evidence={**base, "excerpt": self.excerpt(record.plain, off)},
                          anomaly=True)
                continue
            if kind in reported:
                continue
            reported.add(kind)
            fids = self.registry.suspects(req.time, req.time) if req else window
            self.fail(kind, f"{label} on scoped-tls:{listener.port}: {detail}", fids=fids or window,
                      primary=self.fuzz_id_before(record.plain, off),
                      evidence={**base, "request": self._req(req), "excerpt": self.excerpt(record.plain, off),
                                "parse_error": parser.error and [parser.error[0], parser.error[1]]})
        if parser.error is not None and not {"secret-in-malformed-stream", "ill-framed-request-with-secret"} & reported:
            self.fail("malformed-forwarded-stream", f"keyhole sent scoped-tls a stream that is not well-formed "
                      f"HTTP/1.1: {parser.error[1]}", fids=window, anomaly=True,
                      evidence={**base, "excerpt": self.excerpt(record.plain, parser.error[0])})
        for note in set(parser.anomalies):
            self.fail("forwarded-request-oddity", note, fids=window, anomaly=True, evidence=base)

    @staticmethod
    def fuzz_id_before(data: bytes | bytearray, offset: int) -> str | None:
        """The X-Fuzz-Id of the request head nearest before `offset` (for a secret in a body: the request that
        framed that body)."""
        start = max(0, offset - 65536)
        found = None
        for m in re.finditer(rb"\r\nX-Fuzz-Id: ([0-9A-Za-z.\-]+)\r\n", bytes(data[start:offset + 200]), re.IGNORECASE):
            if start + m.start() <= offset:
                found = m.group(1).decode()
        return found

    @staticmethod
    def _req(req: ParsedRequest | None) -> dict | None:
        if req is None:
            return None
        return {"method": req.method, "target": req.target[:500], "headers": [[n, v[:300]] for n, v in req.headers],
                "x_fuzz_id": req.fuzz_id, "time": req.time}

    # ---- what the workload got back
    def check_client(self, script: dict, data: bytes | bytearray, what: str) -> None:
        hits = self.scanner.find(data)
        if hits:
            off, length, label = hits[0]
            self.fail("secret-returned", f"{label} came back to the workload ({what})", inputs=[script],
                      primary=script.get("id"), evidence={"excerpt": self.excerpt(data, off)})


# ==================================================================================================
# The workload side: running one input


class ResponseCounter:
    """Counts complete HTTP responses in a byte stream (leniently; enough to know when to stop waiting)."""

    def __init__(self):
        self.buf = bytearray()
        self.complete = 0
        self.statuses: list[int] = []
        self.raw_mode = False
        self.stuck = False
        self._need = None  # bytes of body still expected, or "chunked"/"close"

    def feed(self, data: bytes) -> None:
        if self.raw_mode or self.stuck:
            return
        self.buf += data
        while not self.stuck:
            if self._need is None:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
                del self.buf[:end + 4]
                m = re.match(r"HTTP/\d\.\d (\d{3})", head[0])
                if not m:
                    self.stuck = True
                    return
                status = int(m.group(1))
                headers = {}
                for line in head[1:]:
                    n, _, v = line.partition(":")
                    headers[n.strip().lower()] = v.strip()
                if 100 <= status < 200 and status != 101:
                    continue
                self.statuses.append(status)
                if status == 101:
                    self.complete += 1
                    self.raw_mode = True
                    return
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    self._need = "chunked"
                elif headers.get("content-length", "").isdigit():
                    self._need = int(headers["content-length"])
                elif status in (204, 304):
                    self._need = 0
                else:
                    self._need = "close"
            if self._need == "close":
                return
            if self._need == "chunked":
                end = self.buf.find(b"0\r\n\r\n")
                if end < 0:
                    return
                del self.buf[:end + 5]
            else:
                if len(self.buf) < self._need:
                    return
                del self.buf[:self._need]
            self._need = None
            self.complete += 1


class ClientConn:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.obj: ssl.SSLObject | None = None
        self.inb = self.outb = None
        self.held = b""
        self.eof = False
        self.received = bytearray()
        self.counter = ResponseCounter()
        self.tls_error: str | None = None
        self.leftover = b""

    def write(self, data: bytes) -> None:
        if self.obj is not None:
            if data:
                self.obj.write(data)
            data = self.outb.read()
        data, self.held = self.held + data, b""
        if data:
            self.sock.sendall(data)

    def pump(self, timeout: float) -> bool:
        if self.eof:
            return False
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            self.eof = True
            return False
        if not data:
            self.eof = True
            return False
        if self.obj is None:
            plain = data
        else:
            self.inb.write(data)
            chunks = []
            while True:
                try:
                    chunk = self.obj.read(65536)
                except ssl.SSLWantReadError:
                    break
                except (ssl.SSLError, OSError) as error:
                    self.tls_error = str(error)
                    self.eof = True
                    break
                if not chunk:
                    self.eof = True
                    break
                chunks.append(chunk)
            plain = b"".join(chunks)
        self.received += plain
        self.counter.feed(plain)
        return True

    def start_tls(self, context: ssl.SSLContext, sni: str | None, strip_head: bool, leftover: bytes) -> bool:
        self.inb, self.outb = ssl.MemoryBIO(), ssl.MemoryBIO()
        try:
            self.obj = context.wrap_bio(self.inb, self.outb, server_hostname=sni)
        except (ValueError, ssl.SSLError) as error:
            self.tls_error = f"client refused the SNI {sni!r}: {error}"
            self.obj = context.wrap_bio(self.inb, self.outb, server_hostname=None)
        if leftover:
            self.inb.write(leftover)
        deadline = time.monotonic() + 4
        head_pending = strip_head
        raw = bytearray()
        while time.monotonic() < deadline:
            try:
                self.obj.do_handshake()
                return True
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLError, OSError) as error:
                self.tls_error = str(error)
                return False
            out = self.outb.read()
            data, self.held = self.held + out, b""
            if data:
                self.sock.sendall(data)
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, OSError):
                self.tls_error = "handshake: no answer"
                return False
            if not chunk:
                self.eof = True
                self.tls_error = "handshake: connection closed"
                return False
            if head_pending:
                raw += chunk
                end = raw.find(b"\r\n\r\n")
                if end < 0:
                    continue
                head = bytes(raw[:end + 4])
                self.received += head
                self.counter.feed(head)
                head_pending = False
                if not head.startswith(b"HTTP/1.1 200"):
                    self.received += raw[end + 4:]
                    self.tls_error = "CONNECT refused"
                    return False
                chunk = bytes(raw[end + 4:])
            self.inb.write(chunk)
        self.tls_error = "handshake timed out"
        return False


class Runner:
    """Runs inputs against the environment. Shared by the workers (it holds no per-input state)."""

    def __init__(self, env: "FuzzEnv"):
        self.env = env
        self.verify = ssl.create_default_context(cafile=env.keyhole_ca)
        self.verify.set_alpn_protocols(["http/1.1"])
        self.noverify = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.noverify.check_hostname = False
        self.noverify.verify_mode = ssl.CERT_NONE
        self.noverify.set_alpn_protocols(["http/1.1"])
        self.stats_lock = threading.Lock()
        self.stats = {"control_lines_skipped": 0, "refused_connections": 0}

    def run(self, script: dict) -> tuple[bytes, str]:
        if script["kind"] == "control":
            return self.run_control(script), "control-socket reply"
        return self.run_proxy(script), "proxy response"

    def run_proxy(self, script: dict) -> bytes:
        values = self.env.values
        try:
            sock = socket.create_connection(("127.0.0.1", self.env.proxy_port), timeout=3)
        except OSError:
            with self.stats_lock:
                self.stats["refused_connections"] += 1
            self.env.poke()
            return b""
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = ClientConn(sock)
        try:
            for step in script["steps"]:
                if not self.step(conn, step, values):
                    break
            self.final_read(conn, int(script.get("expect", 1)))
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass
        return bytes(conn.received)

    def step(self, conn: ClientConn, step: dict, values) -> bool:
        op = step["op"]
        if op == "send":
            data = expand(step["data"], values)
            if step.get("hold"):
                conn.held += data
                return True
            cuts = sorted({min(len(data), int(f * len(data))) for f in step.get("split", [])})
            start = 0
            for cut in cuts + [len(data)]:
                if cut > start:
                    conn.write(data[start:cut])
                    if cut < len(data) and step.get("gap"):
                        time.sleep(step["gap"] / 1000)
                    start = cut
            return True
        if op == "sleep":
            time.sleep(step["ms"] / 1000)
            return True
        if op == "await_head":
            deadline = time.monotonic() + 4
            while b"\r\n\r\n" not in conn.received and not conn.eof and time.monotonic() < deadline:
                conn.pump(deadline - time.monotonic())
            end = conn.received.find(b"\r\n\r\n")
            if end < 0 or not conn.received.startswith(b"HTTP/1.1 200"):
                return False
            conn.leftover = bytes(conn.received[end + 4:])
            del conn.received[end + 4:]
            conn.counter = ResponseCounter()
            return True
        if op == "tls":
            sni = expand(step["sni"], values).decode("latin-1") if step.get("sni") is not None else None
            context = self.verify if step.get("verify") else self.noverify
            ok = conn.start_tls(context, sni or None, bool(step.get("strip_head")), conn.leftover)
            conn.counter = ResponseCounter()
            return ok
        if op == "read":
            target = conn.counter.complete + int(step.get("n", 1))
            deadline = time.monotonic() + float(step.get("timeout", 2.0))
            while conn.counter.complete < target and not conn.eof and time.monotonic() < deadline:
                conn.pump(deadline - time.monotonic())
            return not conn.eof
        if op == "shut":
            if conn.obj is not None:
                try:
                    conn.obj.unwrap()
                except ssl.SSLError:
                    pass
                conn.write(b"")
            conn.sock.shutdown(socket.SHUT_WR)
            return True
        if op == "rst":
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.sock.close()
            return False
        raise ValueError(f"unknown step {op}")

    @staticmethod
    def final_read(conn: ClientConn, expect: int) -> None:
        deadline = time.monotonic() + 2.0
        while not conn.eof and time.monotonic() < deadline:
            done = conn.counter.complete >= expect or conn.counter.raw_mode or conn.counter.stuck
            if not conn.pump(min(0.06 if done else 0.35, deadline - time.monotonic())):
                break

    # ---- the control socket
    BLOCKED = {"stop", "add", "rotate", "remove", "lock", "unlock", "importCredential", "selfTest", "reachTest"}

    def control_line_allowed(self, line: bytes) -> bool:
        """Keeps the fuzzer from stopping the daemon or changing its credentials and sessions: a line that would
        decode to such a command (or might, on a decoder less strict than Python's) is not sent."""
        pairs: list[tuple[str, object]] = []

        def hook(items):
            pairs.extend(items)
            return dict(items)

        try:
            json.loads(line.decode("utf-8"), object_pairs_hook=hook)
        except (ValueError, UnicodeDecodeError, RecursionError):
            text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), line.decode("latin-1"))
            text = text.replace("\\", "")
            words = self.BLOCKED | {"closeSession", "openSession"}
            return not any(w in text for w in words)
        keys = [k for k, _ in pairs]
        for key in ("command", "sessionKind", "token", "ttlSeconds"):
            if keys.count(key) > 1:
                return False
        values = dict(pairs)
        command = values.get("command")
        if not isinstance(command, (str, type(None))):
            return True  # not a command the daemon can decode
        if command in self.BLOCKED:
            return False
        if command == "openSession":
            kind, ttl = values.get("sessionKind"), values.get("ttlSeconds")
            if kind not in (None, "run") and not (isinstance(ttl, int) and not isinstance(ttl, bool) and 0 < ttl <= 5):
                return False
        if command == "closeSession" and (not isinstance(values.get("token"), str)
                                          or values.get("token") in self.env.live_tokens()):
            return False
        return True

    def run_control(self, script: dict) -> bytes:
        values = self.env.values
        received = bytearray()
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(3)
            sock.connect(self.env.control_path)
        except OSError:
            self.env.poke()
            return b""
        lines_sent = 0
        try:
            for step in script["steps"]:
                if step["op"] == "sleep":
                    time.sleep(step["ms"] / 1000)
                    continue
                data = expand(step["data"], values)
                kept = []
                for line in data.splitlines(keepends=True):
                    if self.control_line_allowed(line.rstrip(b"\r\n")):
                        kept.append(line)
                        lines_sent += line.endswith(b"\n")
                    else:
                        with self.stats_lock:
                            self.stats["control_lines_skipped"] += 1
                if kept:
                    sock.sendall(b"".join(kept))
            if script.get("shut"):
                sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + 3
            while received.count(b"\n") < lines_sent and time.monotonic() < deadline:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    chunk = sock.recv(65536)
                except (socket.timeout, OSError):
                    break
                if not chunk:
                    break
                received += chunk
        except OSError:
            pass
        finally:
            sock.close()
        return bytes(received)


# ==================================================================================================
# The input generator. Every input is a function of (seed, input id) alone, so any input can be regenerated.

DICTIONARY = ["\r\n", "\n", "\r", "\x00", " ", "\t", ":", ";", ",", "@", "#", "?", "/", "\\", "%", "%00", "%0d%0a",
              "\r\n ", "chunked", "Transfer-Encoding: chunked\r\n", "Content-Length: 0\r\n", "Content-Length: 5\r\n",
              "Host: ", "HTTP/1.1", "0\r\n\r\n", "\xff", "\x7f", "\x80", "Expect: 100-continue\r\n",
              "Connection: close\r\n", "Upgrade: websocket\r\n", "\"", "'", "khp_", "Basic ", "Bearer ", "..",
              "%2e%2e", "\r\n\r\n", "GET / HTTP/1.1\r\n", "\x0b", "\x0c", "=", "ffffffff", "-1", "+", "0x"]


def control_pieces(text: str) -> list:
    """JSON text with @@NAME@@ markers -> pieces naming the run's values."""
    parts = re.split(r"@@([A-Z_]+)@@", text)
    return [V(p) if i % 2 else p for i, p in enumerate(parts) if p or i % 2]


class Gen:
    def __init__(self, rng: random.Random, fid: str):
        self.r = rng
        self.fid = fid

    def p(self, prob: float) -> bool:
        return self.r.random() < prob

    def pick(self, options):
        total = sum(w for w, _ in options)
        x = self.r.random() * total
        for w, v in options:
            x -= w
            if x < 0:
                return v() if callable(v) else v
        v = options[-1][1]
        return v() if callable(v) else v

    # ---- values
    def ph(self):
        return self.pick([
            (40, lambda: V("PH_GEN")), (14, lambda: V("PH_INJ")), (6, lambda: V("PH_B_GEN")), (5, lambda: V("PH_STALE")),
            (5, lambda: V("PH_FAKE")), (3, lambda: {"up": [V("PH_GEN")]}), (3, lambda: {"pct": [V("PH_GEN")]}),
            (2, lambda: {"cut": [V("PH_GEN")], "a": 0, "b": 30}), (3, lambda: [V("PH_GEN"), "0"]),
            (2, lambda: ["x", V("PH_GEN")]), (3, lambda: [V("PH_GEN"), V("PH_INJ")]),
            (1, lambda: ["khp_", {"rep": ["0"], "n": 40}]), (2, lambda: [V("PH_GEN"), "\x00"]),
            (2, lambda: [V("PH_GEN"), V("PH_GEN")]),
        ])

    def cred_value(self):
        ph = self.ph
        return self.pick([
            (30, lambda: ["Bearer ", ph()]),
            (12, lambda: ["Basic ", {"b64": [self.pick([(3, "user"), (1, ""), (1, ph)]), ":", ph()]}]),
            (8, lambda: ["Basic ", {"b64": [ph(), ":"]}]),
            (4, lambda: ["Basic ", {"b64": [ph(), ":", ph()]}]),
            (3, lambda: ["basic ", {"b64u": ["u:", ph()]}]),
            (3, lambda: ["BASIC  ", {"b64": ["u:", ph()]}, "  "]),
            (2, lambda: ["Basic ", {"b64": ["u:", ph()]}, "="]),
            (2, lambda: ["Basic ", {"cut": [{"b64": ["u:", ph()]}], "a": 0, "b": 40}]),
            (2, lambda: ["Basic ", {"b64": ["u:", ph(), "\r\nX-Injected: 1"]}]),
            (2, lambda: ["Basic ", {"b64": ["u:", ph(), "\x00"]}]),
            (10, lambda: [ph()]),
            (4, lambda: ["token=", ph(), "; other=1"]),
            (3, lambda: [ph(), ",", ph()]),
            (2, lambda: ["Digest username=\"", ph(), "\""]),
            (2, lambda: ["Bearer ", ph(), " ", {"rep": ["x"], "n": 3000}]),
        ])

    def cred_header(self, weird: bool = False):
        name = self.pick([
            (30, "Authorization"), (15, "X-Key"), (10, "X-Api-Key"), (6, "Cookie"), (4, "authorization"),
            (3, "AUTHORIZATION"), (3, "x-key"), (3, "Proxy-Authorization"), (2, "X-Forwarded-Host"), (2, "Referer"),
            (2, "User-Agent"), (2, "Via"), (2, lambda: ["X-", self.ph()]),
        ] + ([(4, "Upgrade"), (4, "TE"), (3, "Content-Length"), (3, "Transfer-Encoding"), (3, "Host"),
              (3, "Connection"), (2, "Expect"), (2, "Content-Type")] if weird else []))
        if self.p(0.04):  # one placeholder split across two headers
            ph = self.ph()
            return [name, ": ", {"cut": [ph], "a": 0, "b": 22}, "\r\nX-Rest: ", {"cut": [ph], "a": 22, "b": 99}]
        return [name, ": ", self.cred_value()]

    def host_lines(self, host: str, port: str, other_host: str, other_port: str, weird: bool = True):
        good = [V(host), ":", V(port)]
        bad = [V(other_host), ":", V(other_port)]
        if not weird:
            return self.pick([(85, lambda: [["Host: ", good]]), (5, lambda: [["host: ", good]]),
                              (4, lambda: [["Host: ", {"up": [V(host)]}, ":", V(port)]]),
                              (3, lambda: [["Host: ", V(host), ".:", V(port)]]), (3, lambda: [["Host:", good, " "]])])
        return self.pick([
            (10, lambda: [["Host: ", good]]),
            (4, lambda: [["Host: ", V(host)]]),
            (3, lambda: [["Host: ", {"up": [V(host)]}, ":", V(port)]]),
            (3, lambda: [["Host: ", V(host), ".:", V(port)]]),
            (5, lambda: [["Host: ", bad]]),
            (3, lambda: [["Host: ", V(host), ":", V(other_port)]]),
            (3, lambda: [["Host: ", V(other_host), ":", V(port)]]),
            (4, lambda: [["Host: ", good], ["Host: ", bad]]),
            (4, lambda: [["Host: ", bad], ["Host: ", good]]),
            (2, lambda: [["Host: ", good], ["host: ", good]]),
            (2, lambda: [["Host: "]]),
            (3, lambda: []),
            (2, lambda: [["Host: x@", good]]),
            (2, lambda: [["Host: ", self.ph(), "@", good]]),
            (2, lambda: [["Host: ", good, ", ", V(other_host)]]),
            (2, lambda: [["Host:   ", good, "   "]]),
            (1, lambda: [["Host: ", good, ":", V(port)]]),
            (2, lambda: [["Host: 127.0.0.1:", V(port)]]),
            (1, lambda: [["Host: localhost:", V(port)]]),
            (2, lambda: [["Host: ", good, "\x00", V(other_host)]]),
            (2, lambda: [["Host: ", good, "/", V(other_host)]]),
            (2, lambda: [["Host : ", good]]),
            (2, lambda: [["Host:", good]]),
            (2, lambda: [["Host:\t", good]]),
            (1, lambda: [["X-Forwarded-Host: ", V(other_host)], ["Host: ", good]]),
            (2, lambda: [["Host: ", good, "\r\n ", V(other_host)]]),
            (2, lambda: [["Host: ", bad, "\r\n ", good]]),
            (1, lambda: [["Host: ", V(host), ":0", V(port)]]),
            (1, lambda: [["Host: ", V(host), ":+", V(port)]]),
            (1, lambda: [["Host: [", V(host), "]:", V(port)]]),
            (1, lambda: [["Host: ", {"pct": [V(host)]}, ":", V(port)]]),
            (1, lambda: [["Host: ", {"rep": ["h"], "n": 9000}]]),
        ])

    def query(self):
        ph = self.ph
        return self.pick([
            (10, lambda: ["key=", ph()]), (5, lambda: ["api_key=", ph(), "&x=1"]), (4, lambda: ["a=1&key=", ph()]),
            (3, lambda: ["key=", {"pct": [ph()]}]), (3, lambda: [ph()]), (2, lambda: ["k=", ph(), "&k=", ph()]),
            (2, "x=%zz"), (2, lambda: ["u=https://", V("UNSCOPED"), "/"]), (1, lambda: ["k=", ph(), "#frag"]),
            (2, "a=1"),
        ])

    def path(self, weird: bool = False):
        if weird:
            base = self.pick([
                (4, "/ws"), (4, "/a/../b"), (3, "/%2e%2e/%2F"), (3, "/a;b=c"), (2, "/\xe9"), (2, "/a%00b"),
                (2, "/a b"), (2, "//x"), (2, lambda: ["/", V("UNSCOPED"), "/"]), (1, "/a\tb"), (1, "/a\x00b"),
                (1, lambda: [HEALTH_PATH]), (1, "/\r\nX: y"), (2, lambda: ["/", {"rep": ["a"], "n": self.r.choice([1000, 9000, 70000])}]),
            ])
        else:
            base = self.pick([(20, "/"), (15, "/v1/items"), (3, "/a/b.json"), (2, "/v1/" + "x" * 40), (2, "/%7Euser/")])
        parts = [base]
        if self.p(0.25):
            parts += ["/", self.ph()]
        if self.p(0.3):
            parts += ["?", self.query()]
        if self.p(0.04):
            parts += ["#", self.ph()]
        return parts

    def target_tunnel(self, weird: bool):
        auth = [V("SCOPED"), ":", V("S_TLS")]
        other = [V("UNSCOPED"), ":", V("U_TLS")]
        if not weird:
            return self.pick([(85, self.path), (10, lambda: ["https://", auth, self.path()]),
                              (3, lambda: ["https://", {"up": [V("SCOPED")]}, ":", V("S_TLS"), self.path()]),
                              (2, lambda: ["https://", self.ph(), "@", auth, self.path()])])
        return self.pick([
            (10, lambda: self.path(True)),
            (4, lambda: ["https://", auth, self.path(True)]),
            (5, lambda: ["https://", other, self.path()]),
            (3, lambda: ["https://", V("SCOPED"), ":", V("U_TLS"), self.path()]),
            (3, lambda: ["https://", V("SCOPED"), self.path()]),
            (3, lambda: ["http://", auth, self.path()]),
            (2, lambda: ["HTTPS://", {"up": auth}, self.path()]),
            (3, lambda: ["https://", self.ph(), "@", auth, self.path()]),
            (2, lambda: ["https://u:", self.ph(), "@", auth, self.path()]),
            (3, lambda: ["https://", auth, "@", other, self.path()]),
            (3, lambda: ["https://", other, "@", auth, self.path()]),
            (2, lambda: ["https://", auth, "\\@", other, self.path()]),
            (2, lambda: ["https://", auth, "#@", other, "/"]),
            (2, lambda: ["https://", auth, "?@", other, "/"]),
            (3, lambda: ["//", other, self.path()]),
            (2, "*"),
            (2, lambda: auth),
            (1, ""),
            (2, lambda: ["ftp://", V("UNSCOPED"), "/"]),
            (2, lambda: ["https:", other, self.path()]),
            (2, lambda: ["https:///", other, self.path()]),
            (2, lambda: ["https://", V("SCOPED"), ".:", V("S_TLS"), self.path()]),
            (2, lambda: ["https://", auth, ":", V("S_TLS"), self.path()]),
            (1, lambda: ["https://[", V("SCOPED"), "]:", V("S_TLS"), "/"]),
        ])

    def plain_authority(self):
        return self.pick([
            (30, lambda: ([V("SCOPED"), ":", V("S_PLAIN")], "S")),
            (20, lambda: ([V("UNSCOPED"), ":", V("U_PLAIN")], "U")),
            (12, lambda: ([V("SCOPED"), ":", V("S_TLS")], "S")),
            (5, lambda: ([V("UNSCOPED"), ":", V("U_TLS")], "U")),
            (3, lambda: ([V("SCOPED")], "S")),
            (4, lambda: (["127.0.0.1:", V("S_PLAIN")], "IP")),
            (3, lambda: (["localhost:", V("U_PLAIN")], "IP")),
            (2, lambda: (["[::1]:", V("S_PLAIN")], "IP")),
            (2, lambda: ([{"up": [V("SCOPED")]}, ".:", V("S_PLAIN")], "S")),
        ])

    def target_plain(self, weird: bool):
        auth, _ = self.plain_authority()
        other = [V("UNSCOPED"), ":", V("U_PLAIN")]
        if not weird:
            return ["http://", auth, self.path()], auth
        return self.pick([
            (20, lambda: ["http://", auth, self.path(True)]),
            (5, lambda: ["https://", auth, self.path()]),
            (2, lambda: ["HTTP://", auth, self.path()]),
            (3, lambda: ["http://", self.ph(), "@", auth, self.path()]),
            (2, lambda: ["http://u:", self.ph(), "@", auth, self.path()]),
            (3, lambda: ["http://", auth, "@", other, self.path()]),
            (3, lambda: ["http://", other, "@", auth, self.path()]),
            (2, lambda: ["http://", auth, "\\@", other, "/"]),
            (2, lambda: ["http://", auth, "#@", other, "/"]),
            (3, lambda: self.path(True)),
            (1, "*"),
            (2, lambda: auth),
            (2, lambda: ["http:", auth, "/"]),
            (1, lambda: ["http://", {"rep": ["a"], "n": 5000}, "/"]),
        ]), auth

    def proxy_auth(self):
        good = ["Proxy-Authorization: Basic ", {"b64": ["keyhole:", V("TOKEN")]}]
        b64 = lambda *p: {"b64": list(p)}  # noqa: E731
        return self.pick([
            (60, lambda: [good]),
            (4, lambda: []),
            (3, lambda: [["Proxy-Authorization: Basic ", b64("keyhole:", V("TOKEN_B"))]]),
            (3, lambda: [["Proxy-Authorization: Basic ", b64("keyhole:", V("TOKEN_STALE"))]]),
            (3, lambda: [["Proxy-Authorization: Basic ", b64("other:", V("TOKEN"))]]),
            (2, lambda: [["Proxy-Authorization: Basic ", b64("KEYHOLE:", V("TOKEN"))]]),
            (2, lambda: [["Proxy-Authorization: Bearer ", V("TOKEN")]]),
            (2, lambda: [["Proxy-Authorization: Basic ", b64("keyhole:", V("TOKEN"), "x")]]),
            (2, lambda: [["Proxy-Authorization: Basic ", b64("keyhole:", V("PH_GEN"))]]),
            (2, lambda: [["Proxy-Authorization: Basic ", {"b64u": ["keyhole:", V("TOKEN")]}]]),
            (2, lambda: [["Proxy-Authorization: basic  ", b64("keyhole:", V("TOKEN")), " "]]),
            (2, lambda: [["Proxy-Authorization: Basic"]]),
            (2, lambda: [["Proxy-Authorization: Basic ", b64("keyhole:", V("TOKEN")), "===="]]),
            (3, lambda: [["Proxy-Authorization: Basic xxx"], good]),
            (3, lambda: [good, ["Proxy-Authorization: Basic xxx"]]),
            (2, lambda: [["proxy-authorization: Basic ", b64("keyhole:", V("TOKEN"))]]),
            (1, lambda: [["Proxy-Authorization: Basic ", b64("keyhole:", {"cut": [V("TOKEN")], "a": 0, "b": 10})]]),
            (1, lambda: [["Proxy-Authorization: Basic ", b64("keyhole:", V("TOKEN"), "\x00")]]),
            (1, lambda: [["Proxy-Authorization: Basic ", b64("keyhole:")]]),
            (1, lambda: [["Proxy-Authorization: Basic ", b64("keyhole")]]),
            (1, lambda: [["Proxy-Authorization: Basic ", b64("keyhole:", V("TOKEN")), "\r\n ", "x"]]),
        ])

    def body_text(self):
        return self.pick([
            (30, "hello"), (10, ""), (10, lambda: ["{\"key\":\"", self.ph(), "\"}"]),
            (6, lambda: ["GET / HTTP/1.1\r\nHost: ", V("UNSCOPED"), ":", V("U_TLS"), "\r\nAuthorization: Bearer ",
                         self.ph(), "\r\nX-Fuzz-Id: ", self.fid, "\r\n\r\n"]),
            (3, lambda: {"rep": ["x"], "n": self.r.choice([1000, 70000, 300000])}),
            (2, "\x00\r\n\r\n"),
        ])

    def framing(self, weird: bool):
        """(header lines, body pieces)"""
        body = self.body_text()
        if weird:
            kind = self.pick([(4, "cl_te"), (3, "te_cl"), (3, "double_cl"), (1, "double_cl_same"), (7, "te_obf"),
                              (5, "chunk_trick"), (4, "smuggle"), (2, "cl_short"), (1, "cl_odd")])
        else:
            kind = self.pick([(60, "none"), (25, "cl"), (15, "chunked")])
        chunk = lambda b: [{"hexlen": [b]}, "\r\n", b, "\r\n0\r\n\r\n"]  # noqa: E731
        if kind == "none":
            return [], (body if self.p(0.1) else "")
        if kind == "cl":
            return [["Content-Length: ", {"len": [body]}]], body
        if kind == "chunked":
            return [["Transfer-Encoding: chunked"]], chunk(body)
        if kind == "cl_te":
            return [["Content-Length: ", {"len": [chunk(body)]}], ["Transfer-Encoding: chunked"]], chunk(body)
        if kind == "te_cl":
            return [["Transfer-Encoding: chunked"], ["Content-Length: 4"]], ["5\r\nhello\r\n0\r\n\r\n"]
        if kind == "double_cl":
            return [["Content-Length: 5"], ["Content-Length: ", {"len": [body]}]], body
        if kind == "double_cl_same":
            return [["Content-Length: ", {"len": [body]}], ["Content-Length: ", {"len": [body]}]], body
        if kind == "te_obf":
            te = self.r.choice([["Transfer-Encoding: chunked "], ["Transfer-Encoding: Chunked"],
                                ["Transfer-Encoding: chunked, identity"], ["Transfer-Encoding: identity, chunked"],
                                ["Transfer-Encoding: xchunked"], ["Transfer-Encoding:\tchunked"],
                                ["Transfer-Encoding : chunked"], ["Transfer_Encoding: chunked"],
                                ["Transfer-Encoding: chunked\r\nTransfer-Encoding: identity"],
                                [" Transfer-Encoding: chunked"], ["Transfer-Encoding: \"chunked\""],
                                ["Transfer-Encoding: chunk"], ["Transfer-Encoding:\x0bchunked"],
                                ["X: y\nTransfer-Encoding: chunked"], ["Transfer-Encoding: chunked, chunked"],
                                ["Transfer-Encoding:\r\n chunked"], ["Transfer-Encoding: gzip, chunked"]])
            lines = [te]
            if self.p(0.5):
                lines.append(["Content-Length: ", {"len": [chunk(body)]}])
            return lines, chunk(body)
        if kind == "chunk_trick":
            body = self.r.choice([
                ["0000000", {"hexlen": [body]}, "\r\n", body, "\r\n0\r\n\r\n"],
                [{"up": [{"hexlen": ["hello world, hello"]}]}, "\r\nhello world, hello\r\n0\r\n\r\n"],
                ["5;ext=\"", self.ph(), "\"\r\nhello\r\n0\r\n\r\n"],
                ["5;a=b;c\r\nhello\r\n0\r\n\r\n"],
                ["ffffffffffffffff\r\nhello\r\n0\r\n\r\n"],
                ["-1\r\nhello\r\n0\r\n\r\n"], [" 5\r\nhello\r\n0\r\n\r\n"], ["5 \r\nhello\r\n0\r\n\r\n"],
                ["0x5\r\nhello\r\n0\r\n\r\n"], ["5\nhello\n0\n\n"], ["3\r\nhello\r\n0\r\n\r\n"],
                ["5\r\nhello\r\n0\r\nX-Trailer: ", self.ph(), "\r\n\r\n"],
                ["5\r\nhello\r\n0\r\nHost: ", V("UNSCOPED"), "\r\n\r\n"],
                ["5\r\nhello\r\n"], ["5\r\nhelloXX0\r\n\r\n"], ["0\r\n\r\nGET / HTTP/1.1\r\nHost: ", V("UNSCOPED"),
                                                               "\r\nX-Key: ", self.ph(), "\r\n\r\n"],
            ])
            return [["Transfer-Encoding: chunked"]], body
        if kind == "smuggle":
            inner = ["GET /smuggled HTTP/1.1\r\nHost: ", V("UNSCOPED"), ":", V("U_TLS"), "\r\nAuthorization: Bearer ",
                     self.ph(), "\r\nX-Fuzz-Id: ", self.fid, "\r\n\r\n"]
            if self.p(0.4):
                # A request the upstream would see inside this one's body, whose own body swallows whatever keyhole
                # sends next on the connection (with the secrets it swaps in or injects).
                capture = ["0\r\n\r\nPOST /capture HTTP/1.1\r\nHost: ", V("SCOPED"), ":", V("S_TLS"),
                           "\r\nX-Fuzz-Id: ", self.fid, "\r\nContent-Length: ", self.r.choice(["40", "150", "300"]),
                           "\r\n\r\n"]
                te = self.r.choice(["identity, chunked", "chunked", "gzip, chunked", "chunked, chunked", "Chunked",
                                    "chunked;q=1", "x, chunked"])
                return [["Transfer-Encoding: ", te]], [{"hexlen": [capture]}, "\r\n", capture, "\r\n0\r\n\r\n"]
            return self.r.choice([
                ([["Content-Length: ", {"len": [["0\r\n\r\n", inner]]}], ["Transfer-Encoding: chunked"]],
                 ["0\r\n\r\n", inner]),
                ([["Transfer-Encoding: chunked"], ["Content-Length: 3"]], ["0\r\n\r\n", inner]),
                ([["Content-Length: 0"], ["Content-Length: ", {"len": [inner]}]], inner),
                ([["Content-Length: ", {"len": [inner]}]], inner),
                ([["Transfer-Encoding: chunked"]], [{"hexlen": [inner]}, "\r\n", inner, "\r\n0\r\n\r\n"]),
            ])
        if kind == "cl_short":
            return [["Content-Length: ", {"len": [body, "xxxxx"]}]], body
        return [["Content-Length: ", self.r.choice(["-1", "1e3", "0x10", " 5", "5, 5", "+5", "99999999999999999999",
                                                    "", "5\x00"])]], "hello"

    DIMENSIONS = ("method", "target", "host", "version", "eol", "framing", "extras", "extras", "headers")

    def request(self, mode: str):
        """mode: tunnel (inside an intercepted TLS connection), plain (absolute form to the proxy port), raw
        (straight to a host through a byte tunnel). Returns (head pieces, body pieces, meta).

        About half the requests are well-formed (placeholders anywhere, legitimate variations), so that they reach
        the upstreams and the oracles there get work; the others are odd in one to three dimensions."""
        meta = {"expect100": False, "upgrade": False, "after": None}
        weird = set() if self.p(0.5) else set(self.r.sample(self.DIMENSIONS, self.pick([(55, 1), (30, 2), (15, 3)])))
        if "method" in weird:
            method = self.pick([(2, "get"), (2, "CONNECT"), (1, "TRACE"), (1, "PRI"), (2, "M" * 30), (1, "G ET"),
                                (1, ""), (1, "GET\x00"), (1, "GET /x HTTP/1.1\r\nX:")])
        else:
            method = self.pick([(50, "GET"), (18, "POST"), (6, "PUT"), (6, "HEAD"), (4, "OPTIONS"), (4, "DELETE"),
                                (3, "PATCH")])
        if mode == "tunnel":
            target = self.target_tunnel("target" in weird)
            host_lines = self.host_lines("SCOPED", "S_TLS", "UNSCOPED", "U_TLS", "host" in weird)
        elif mode == "plain":
            target, auth = self.target_plain("target" in weird)
            if "host" in weird:
                host_lines = self.host_lines("SCOPED", "S_PLAIN", "UNSCOPED", "U_PLAIN")
            else:
                host_lines = self.pick([(90, lambda: [["Host: ", auth]]), (10, lambda: [])])
        else:
            target = self.path("target" in weird)
            host_lines = [["Host: ", V("UNSCOPED")]]
        if "version" in weird:
            version = self.pick([(3, "HTTP/1.0"), (1, "HTTP/2.0"), (1, "HTTP/1.2"), (1, "http/1.1"), (2, None),
                                 (1, "HTTP/1.1 x"), (1, "HTTP/1.1\x00"), (1, "HTTP/01.1"), (1, "HTTP/1.1\t")])
        else:
            version = self.pick([(95, "HTTP/1.1"), (5, "HTTP/1.0")])
        eol = self.pick([(6, "\n"), (1, "\r"), (1, "\r\r\n"), (1, "\n\r")]) if "eol" in weird else "\r\n"
        lines = list(host_lines)
        if mode == "plain":
            lines += self.proxy_auth() if "headers" in weird else [
                ["Proxy-Authorization: Basic ", {"b64": ["keyhole:", V("TOKEN")]}]]
        lines.append(["X-Fuzz-Id: ", self.fid])
        for _ in range(self.pick([(20, 0), (45, 1), (20, 2), (10, 3), (5, 5)])):
            lines.append(self.cred_header("headers" in weird))
        if self.p(0.3):
            lines.append(["User-Agent: netfuzz/1"])
        if self.p(0.3):
            lines.append(["Connection: ", self.pick([(6, "keep-alive"), (3, "close"), (1, "close, keep-alive"),
                                                     (1, "keep-alive, Host"), (1, "X-Key"), (1, "Authorization")])])
        framing, body = self.framing("framing" in weird)
        lines += framing
        if self.p(0.06) or (mode != "plain" and self.p(0.05)):
            meta["upgrade"] = True
            if "target" not in weird or self.p(0.7):
                target = self.pick([(3, "/ws"), (1, lambda: ["/ws?key=", self.ph()])])
            lines += [["Connection: ", self.pick([(5, "Upgrade"), (1, "keep-alive, Upgrade"), (1, "upgrade")])],
                      ["Upgrade: ", self.pick([(6, "websocket"), (1, "h2c"), (1, "WebSocket"), (1, lambda: self.ph())])],
                      ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="], ["Sec-WebSocket-Version: 13"]]
            meta["after"] = self.pick([
                (3, lambda: ["GET / HTTP/1.1\r\nHost: ", V("UNSCOPED"), "\r\nAuthorization: Bearer ", self.ph(),
                             "\r\n\r\n"]),
                (2, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
                (1, lambda: ["X-Key: ", self.ph(), "\r\n"]),
                (1, "hello"),
            ])
        if self.p(0.07):
            meta["expect100"] = True
            lines.append(["Expect: ", self.pick([(8, "100-continue"), (1, "100-Continue"), (1, "200-ok"),
                                                 (1, "100-continue, x")])])
            if not body:
                lines.append(["Content-Length: 5"])
                body = "hello"
        if "extras" in weird:
            for _ in range(self.pick([(3, 1), (1, 2)])):
                extra = self.pick([
                    (3, lambda: [["X-Long: ", {"rep": ["A"], "n": self.r.choice([8000, 70000, 200000])}]]),
                    (2, lambda: [["X-N", str(i), ": v"] for i in range(self.r.choice([150, 1000]))]),
                    (5, lambda: [["X-Bad: a", self.r.choice(["\x00", "\r", "\n", "\r\n", "\x7f", "\x01", "\n\r"]), "b",
                                  self.ph() if self.p(0.5) else ""]]),
                    (4, lambda: [self.r.choice([["X-Fold: a", "\r\n ", self.ph()], ["Authorization: Bearer", "\r\n ", self.ph()],
                                                ["X-Key:", "\r\n\t", self.ph()], ["X-Fold: a\r\n Host: ", V("UNSCOPED")]])]),
                    (3, lambda: [self.r.choice(lines)] if lines else []),
                    (2, lambda: [[self.cred_header(), "\x00"]]),
                    (2, lambda: [["X-", {"rep": ["N"], "n": 9000}, ": v"]]),
                ])
                lines += extra
        if "headers" in weird:
            if len(lines) > 1 and self.p(0.5):
                self.r.shuffle(lines)
            if lines:
                i = self.r.randrange(len(lines))
                lines[i] = self.r.choice([[" ", lines[i]], ["\t", lines[i]], [{"up": [lines[i]]}], [{"low": [lines[i]]}],
                                          [lines[i], "\r\n", lines[i]]])
        head = [method, " ", target] + ([" ", version] if version is not None else []) + [eol]
        for line in lines:
            head += [line, eol]
        head.append(eol)
        return head, body, meta

    def connect_lines(self, authority, auth=None, version="HTTP/1.1"):
        lines = [["CONNECT ", authority, " ", version], ["Host: ", authority]]
        lines += self.proxy_auth() if auth is None else auth
        if self.p(0.3):
            lines.append(["User-Agent: netfuzz/1"])
        if self.p(0.2):
            lines.append(["Proxy-Connection: keep-alive"])
        if self.p(0.05):
            lines.append(self.cred_header())
        if self.p(0.03):
            lines.append(["Content-Length: 5"])
        if self.p(0.02):
            lines.append(["Transfer-Encoding: chunked"])
        out = []
        for line in lines:
            out += [line, "\r\n"]
        return out + ["\r\n"]

    # ---- mutations and fragmentation
    def mut_ops(self):
        ops = []
        for _ in range(self.pick([(50, 1), (25, 2), (15, 3), (10, 6)])):
            kind = self.pick([(25, "flip"), (15, "set"), (35, "ins"), (15, "del"), (8, "dup"), (2, "trunc")])
            frac = round(self.r.random(), 6)
            if kind == "flip":
                arg = self.r.randrange(8)
            elif kind == "set":
                arg = self.r.choice([0, 9, 10, 13, 32, 0x7F, 0x80, 0xFF, ord(":"), ord("%"), ord("@"), ord("/")])
            elif kind == "ins":
                arg = self.r.choice(DICTIONARY) if self.p(0.8) else "".join(chr(self.r.randrange(256))
                                                                          for _ in range(self.r.randrange(1, 9)))
            elif kind in ("del", "dup"):
                arg = self.r.choice([1, 1, 2, 4, 8, 64])
            else:
                arg = 0
            ops.append([frac, kind, arg])
        return ops

    def send(self, data, fragment=True):
        step = {"op": "send", "data": data}
        if fragment and self.p(0.2):
            step["split"] = sorted(round(self.r.random(), 6) for _ in range(self.pick([(5, 1), (3, 2), (2, 4)])))
            step["gap"] = self.r.choice([0, 1, 5, 20, 60])
        elif fragment and self.p(0.02):
            step["split"] = [round(i / 24, 6) for i in range(1, 24)]
            step["gap"] = 1
        return step

    def finish(self, steps: list):
        if self.p(0.08):
            steps.append({"op": "shut"})
        elif self.p(0.03):
            steps.append({"op": "rst"})
        sends = [s for s in steps if s["op"] == "send"]
        if sends and self.p(0.2):
            target = self.r.choice(sends)
            target["data"] = {"mut": target["data"], "ops": self.mut_ops()}
        return steps

    # ---- templates
    def requests_into(self, steps: list, mode: str) -> int:
        count = self.pick([(55, 1), (25, 2), (12, 3), (8, 4)])
        style = self.pick([(45, "pipelined"), (45, "sequential"), (10, "dribble")])
        blob = []
        for i in range(count):
            head, body, meta = self.request(mode)
            if meta["expect100"] or meta["upgrade"] or style != "pipelined":
                if blob:
                    steps.append(self.send(blob))
                    blob = []
                if meta["expect100"]:
                    steps.append(self.send(head, fragment=False))
                    steps.append(self.pick([(3, lambda: {"op": "read", "n": 1, "timeout": 0.5}),
                                            (1, lambda: {"op": "sleep", "ms": self.r.choice([10, 100, 400])})]))
                    steps.append(self.send(body))
                elif meta["upgrade"]:
                    steps.append(self.send([head, body]))
                    steps.append({"op": "read", "n": 1, "timeout": 1.5})
                    steps.append(self.send(meta["after"], fragment=False))
                    steps.append({"op": "sleep", "ms": 50})
                    return i + 1
                else:
                    steps.append(self.send([head, body]))
                    if style == "dribble":
                        steps.append({"op": "sleep", "ms": self.r.choice([5, 50])})
                if style == "sequential" and i < count - 1:
                    steps.append({"op": "read", "n": 1, "timeout": 1.0})
            else:
                blob += [head, body]
        if blob:
            steps.append(self.send(blob))
        return count

    def t_tunnel(self) -> dict:
        steps = []
        authority = [V("SCOPED"), ":", V("S_TLS")]
        auth = self.proxy_auth() if self.p(0.08) else [["Proxy-Authorization: Basic ", {"b64": ["keyhole:", V("TOKEN")]}]]
        connect = self.connect_lines(authority, auth)
        pipelined = self.p(0.12)
        steps.append({"op": "send", "data": connect, "hold": True} if pipelined else self.send(connect, fragment=self.p(0.2)))
        if not pipelined:
            steps.append({"op": "await_head"})
        sni = self.pick([(80, lambda: V("SCOPED")), (5, None), (5, lambda: V("UNSCOPED")),
                         (3, lambda: {"up": [V("SCOPED")]}), (2, lambda: [V("SCOPED"), "."]),
                         (2, "127.0.0.1"), (2, lambda: ["a.", V("SCOPED")]), (1, "localhost")])
        steps.append({"op": "tls", "sni": sni, "verify": sni == V("SCOPED"), "strip_head": pipelined})
        expect = self.requests_into(steps, "tunnel")
        return {"template": "tunnel", "steps": self.finish(steps), "expect": expect}

    def t_smuggle(self) -> dict:
        """Request smuggling aimed at the secrets: a first request whose framing keyhole and the upstream might read
        differently hides a second request in its body; that one's Content-Length swallows the next request keyhole
        forwards (with the secrets it swaps in or injects) as a body the upstream would store or echo."""
        steps = [self.send(self.connect_lines([V("SCOPED"), ":", V("S_TLS")],
                                              [["Proxy-Authorization: Basic ", {"b64": ["keyhole:", V("TOKEN")]}]]),
                           fragment=False), {"op": "await_head"},
                 {"op": "tls", "sni": V("SCOPED"), "verify": True, "strip_head": False}]
        host = ["Host: ", V("SCOPED"), ":", V("S_TLS"), "\r\n"]
        capture = ["POST /capture HTTP/1.1\r\n", host, "X-Fuzz-Id: ", self.fid, "\r\nContent-Length: ",
                   self.r.choice(["40", "150", "300", "600"]), "\r\n\r\n"]
        method = self.r.choice(["GET", "HEAD", "POST", "PUT", "OPTIONS", "DELETE", "PATCH", "TRACE"])
        te = self.r.choice(["identity, chunked", "chunked", "gzip, chunked", "chunked, chunked", "Chunked",
                            "chunked;q=1", "x, chunked", " chunked", "chunked\t", "CHUNKED", "deflate,chunked"])
        shape = self.pick([(5, "te"), (2, "te+cl"), (2, "cl+cl"), (1, "te+te"), (2, "cl")])
        framed = ["0\r\n\r\n", capture]
        chunked_body = [{"hexlen": [framed]}, "\r\n", framed, "\r\n0\r\n\r\n"]
        if shape == "te":
            headers, body = [["Transfer-Encoding: ", te]], chunked_body
        elif shape == "te+cl":
            headers, body = [["Transfer-Encoding: ", te], ["Content-Length: ", {"len": [chunked_body]}]], chunked_body
        elif shape == "te+te":
            headers, body = [["Transfer-Encoding: ", te], ["Transfer-Encoding: ", self.r.choice(["identity", "chunked"])]], chunked_body
        elif shape == "cl":
            headers, body = [["Content-Length: ", {"len": [capture]}]], capture
        else:
            headers, body = [["Content-Length: ", {"len": [capture]}], ["Content-Length: 0"]], capture
        head = [method, " /first HTTP/1.1\r\n", host, "X-Fuzz-Id: ", self.fid, "\r\n"]
        for line in headers:
            head += [line, "\r\n"]
        victim = ["GET /victim", self.r.choice(["", ["?key=", V("PH_GEN")]]), " HTTP/1.1\r\n", host, "X-Fuzz-Id: ",
                  self.fid, "\r\n", self.r.choice([["Authorization: Bearer ", V("PH_GEN"), "\r\n"], ""]), "\r\n"]
        if self.p(0.5):
            steps += [self.send([head, "\r\n", body], fragment=False), {"op": "read", "n": 1, "timeout": 1.0},
                      self.send(victim, fragment=False)]
        else:
            steps.append(self.send([head, "\r\n", body, victim], fragment=False))
        steps.append({"op": "read", "n": 2, "timeout": 1.0})
        return {"template": "smuggle", "steps": steps, "expect": 2}

    def t_connect_odd(self) -> dict:
        steps = []
        authority = self.pick([
            (20, lambda: [V("SCOPED"), ":", V("S_TLS")]), (12, lambda: [V("UNSCOPED"), ":", V("U_TLS")]),
            (6, lambda: [V("SCOPED"), ":", V("U_TLS")]), (5, lambda: [V("SCOPED"), ":", V("S_PLAIN")]),
            (4, lambda: [V("UNSCOPED"), ":", V("S_TLS")]), (4, lambda: [V("UNSCOPED"), ":", V("U_PLAIN")]),
            (3, lambda: ["127.0.0.1:", V("S_TLS")]), (2, lambda: ["localhost:", V("S_TLS")]),
            (2, lambda: ["[::1]:", V("S_TLS")]), (2, lambda: [V("SCOPED")]),
            (2, lambda: [{"up": [V("SCOPED")]}, ".:", V("S_TLS")]), (1, lambda: [V("SCOPED"), ":0"]),
            (1, lambda: [V("SCOPED"), ":65536"]), (1, lambda: [V("SCOPED"), ":", V("S_TLS"), "/x"]),
            (1, lambda: ["https://", V("SCOPED"), ":", V("S_TLS")]), (1, lambda: ["u@", V("SCOPED"), ":", V("S_TLS")]),
            (1, lambda: [self.ph(), ":443"]), (1, ""), (1, "*"),
            (1, lambda: [V("SCOPED"), ":", V("S_TLS"), " HTTP/1.1\r\nX: y"]),
            (1, lambda: [{"rep": ["a"], "n": 5000}, ":443"]), (1, lambda: [V("SCOPED"), ":", V("S_TLS"), "\x00"]),
            (1, lambda: [V("SCOPED"), ":0", V("S_TLS")]),
        ])
        version = self.pick([(90, "HTTP/1.1"), (5, "HTTP/1.0"), (2, "HTTP/2"), (3, "")])
        steps.append(self.send(self.connect_lines(authority, None, version)))
        steps.append({"op": "await_head"})
        intercepted = isinstance(authority, list) and authority[:1] == [V("SCOPED")]
        follow = self.pick([(50, "tls"), (25, "plain"), (15, "garbage"), (10, "nothing")])
        expect = 1
        if follow == "tls":
            host = authority[0] if intercepted else V("UNSCOPED")
            sni = self.pick([(8, lambda: host), (1, None), (1, lambda: V("SCOPED"))])
            steps.append({"op": "tls", "sni": sni, "verify": False})
            expect = self.requests_into(steps, "tunnel" if intercepted else "raw")
        elif follow == "plain":
            head, body, _ = self.request("raw")
            steps.append(self.send([head, body]))
        elif follow == "garbage":
            steps.append(self.send(self.garbage()))
        return {"template": "connect-odd", "steps": self.finish(steps), "expect": expect}

    def garbage(self):
        return self.pick([
            (15, lambda: "".join(chr(self.r.randrange(256)) for _ in range(self.r.choice([1, 5, 64, 600, 3000])))),
            (25, lambda: {"mut": [V(self.r.choice(["HELLO_SCOPED", "HELLO_SCOPED", "HELLO_NOSNI", "HELLO_UNSCOPED"]))],
                          "ops": self.mut_ops()}),
            (8, lambda: {"cut": [V("HELLO_SCOPED")], "a": 0, "b": self.r.choice([1, 5, 9, 40, 100, 200])}),
            (8, lambda: self.request("raw")[:2]),
            (4, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            (5, lambda: "\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10" + "\x00" * 37),
            (4, lambda: [V("HELLO_SCOPED"), "".join(chr(self.r.randrange(256)) for _ in range(50))]),
            (3, lambda: [V("HELLO_SCOPED"), V("HELLO_SCOPED")]),
            (3, "\x15\x03\x03\x00\x02\x02\x28"),
            (3, lambda: "\x16\x03\x01\xff\xff" + "\x01" * self.r.choice([10, 1000])),
            (2, lambda: ["\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", V("HELLO_SCOPED")]),
        ])

    def t_tls_garbage(self) -> dict:
        steps = [self.send(self.connect_lines([V("SCOPED"), ":", V("S_TLS")],
                                              [["Proxy-Authorization: Basic ", {"b64": ["keyhole:", V("TOKEN")]}]]))]
        steps.append({"op": "await_head"})
        what = self.garbage()
        step = self.send(what)
        if self.p(0.1):
            step["split"] = [round(i / 30, 6) for i in range(1, 30)]
            step["gap"] = 2
        steps.append(step)
        if self.p(0.2):
            steps.append({"op": "sleep", "ms": self.r.choice([100, 500])})
        return {"template": "tls-garbage", "steps": self.finish(steps), "expect": 1}

    def t_plain(self) -> dict:
        steps = []
        expect = self.requests_into(steps, "plain")
        return {"template": "plain", "steps": self.finish(steps), "expect": expect}

    def t_proxy_garbage(self) -> dict:
        data = self.pick([
            (15, lambda: "".join(chr(self.r.randrange(256)) for _ in range(self.r.choice([1, 10, 300, 5000])))),
            (10, lambda: self.request("raw")[:2]),
            (5, lambda: ["GET / HTTP/1.1\r\nHost: ", V("SCOPED"), "\r\nProxy-Authorization: Basic ",
                         {"b64": ["keyhole:", V("TOKEN")]}, "\r\n\r\n"]),
            (5, "GET http://"),
            (5, lambda: ["GET http://", V("SCOPED"), ":", V("S_PLAIN"), "/ HTTP/1.1\r\n", {"rep": ["X: y\r\n"], "n": 3000},
                         "\r\n"]),
            (4, "\r\n\r\n"), (4, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), (6, lambda: V("HELLO_SCOPED")),
            (3, lambda: ["GET /", {"rep": ["a"], "n": 100000}, " HTTP/1.1\r\n\r\n"]),
            (3, "CONNECT"), (3, lambda: ["CONNECT ", V("SCOPED"), ":", V("S_TLS"), "\r\n\r\n"]),
            (2, "GET / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ])
        steps = [self.send(data)]
        if self.p(0.3):
            steps.append({"op": "sleep", "ms": self.r.choice([50, 300])})
        return {"template": "proxy-garbage", "steps": self.finish(steps), "expect": 1}

    def control_object(self) -> str:
        tok = lambda name: f"@@{name}@@"  # noqa: E731
        obj = self.pick([
            (20, {"command": "status"}), (15, {"command": "list"}),
            (12, lambda: {"command": "helperSession", "token": tok("TOKEN")}),
            (4, lambda: {"command": "helperSession", "token": tok(self.r.choice(["TOKEN_B", "TOKEN_STALE", "PH_GEN"]))}),
            (3, {"command": "helperSession"}), (6, {"command": "openSession"}),
            (5, {"command": "openSession", "sessionKind": "run", "only": ["gen"]}),
            (2, {"command": "openSession", "only": ["nope", "gen", "gen"]}),
            (3, {"command": "closeSession", "token": "nope"}),
            (3, {"command": "status", "name": "gen", "secret": "x"}),
            (3, lambda: {"command": "list", "definition": {"name": "gen", "hosts": [UNSCOPED]}}),
            (3, {"command": "bogus"}), (2, {}), (1, []), (1, "x"), (1, {"command": None}),
            (1, {"command": ["status"]}), (2, {"command": "openSession", "ttlSeconds": -1}),
            (1, {"command": "openSession", "sessionKind": "env", "ttlSeconds": 1}),
            (0.5, lambda: {"command": "openSession", "ttlSeconds": self.r.choice(
                [9223372036854775807, 92233720368547758070, 1 << 53, 10 ** 15, 1 << 62, -(1 << 63)])}),
            (1, lambda: {"command": "openSession", "only": [tok("PH_GEN")]}),
            (1, lambda: {"command": "helperSession", "token": tok("TOKEN"), "only": ["gen"], "secret": None}),
        ])
        text = json.dumps(obj)
        if self.p(0.3):
            text = self.pick([
                (3, lambda: text[:-1] + ', "x": ' + "[" * (n := self.r.choice([100, 600, 5000, 100000])) + "]" * n + "}"
                 if text.startswith("{") and len(text) > 2 else text),
                (2, lambda: text[:-1] + ', "name": "' + "a" * self.r.choice([1000, 200000]) + '"}' if text.startswith("{") and len(text) > 2 else text),
                (2, lambda: text.replace("status", "st\\u0061tus")),
                (2, lambda: text.replace('"command"', '"comm\\ud800and"')),
                (2, lambda: text + " x"), (1, lambda: "\ufeff" + text),
                (2, lambda: text.replace("}", ', "ttlSeconds": 1e999}')),
                (2, lambda: text.replace("{", '{"command": "list", ', 1)),
                (1, lambda: text.replace('"', "'")), (1, lambda: text[: len(text) // 2]),
                (1, lambda: text.replace(":", ": \x00")),
            ])
        return text

    def t_control(self) -> dict:
        steps = []
        for _ in range(self.pick([(60, 1), (25, 2), (15, 3)])):
            text = self.control_object()
            end = self.pick([(85, "\n"), (5, "\r\n"), (5, ""), (5, "\n\n")])
            data = control_pieces(text.encode("utf-8", "surrogatepass").decode("latin-1") + end)
            if self.p(0.15):
                data = {"mut": data, "ops": self.mut_ops()}
            steps.append({"op": "send", "data": data})
            if self.p(0.1):
                steps.append({"op": "sleep", "ms": 20})
        if self.p(0.005):
            steps.append({"op": "send", "data": ['{"command":"status","name":"', {"rep": ["a"], "n": (1 << 20) + 10}, '"}\n']})
        return {"template": "control", "kind": "control", "steps": steps, "shut": self.p(0.2)}

    def script(self) -> dict:
        template = self.pick([(42, self.t_tunnel), (4, self.t_smuggle), (10, self.t_connect_odd),
                              (8, self.t_tls_garbage), (21, self.t_plain), (5, self.t_proxy_garbage),
                              (10, self.t_control)])
        template.setdefault("kind", "proxy")
        return template


def make_script(seed: str, fid: str) -> dict:
    rng = random.Random(f"netfuzz:{seed}:{fid}")
    script = Gen(rng, fid).script()
    return {"id": fid, "seed": seed, **script}


# ==================================================================================================
# The environment: upstreams, a daemon in a fresh HOME, sessions


def client_hello(sni: str | None) -> bytes:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context.wrap_bio(inb, outb, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outb.read()


class FuzzEnv:
    def __init__(self, args, findings: Findings):
        self.args = args
        self.findings = findings
        self.user = None
        self.upstream = None
        self.pid = None
        self.poked = threading.Event()
        self.work = Path(tempfile.mkdtemp(prefix="netfuzz-"))
        self.replayed: dict[str, dict] = {}
        self.log_offset = 0

    def start(self) -> "FuzzEnv":
        from harness import KeyholeUser, keyhole_binary

        binary = keyhole_binary()
        if not binary.exists():
            raise SystemExit(f"netfuzz: no keyhole binary at {binary} (build it: swift build; or set KEYHOLE_BIN)")
        sysrand = random.SystemRandom()
        self.secrets = {"gen": random_secret(sysrand, "sk_fzgen_"), "inj": random_secret(sysrand, "sk_fzinj_")}
        self.scanner = Scanner(self.secrets)
        self.registry = Registry()
        self.oracles = Oracles(self.scanner, self.registry, self.findings, self.script_for)
        self.oracles.env = self
        self.upstream = Upstream(str(self.work), self.oracles, (self.secrets["gen"], self.secrets["inj"]))
        up = self.upstream
        self.user = KeyholeUser(upstream=None)
        timeouts = "{ " + ", ".join(f"{k} = {v}" for k, v in TIMEOUTS.items()) + " }"
        self.user.write_config(extra_ca=[up.ca_path], extra_resolve=up.resolve_map(), timeouts=timeouts)
        self.user.add("gen", self.secrets["gen"], SCOPED, env_var="GEN_TOKEN")
        self.user.add("inj", self.secrets["inj"], f"{SCOPED}:{up.port('scoped-tls')}", inject="X-Key: {secret}",
                      env_var="INJ_TOKEN")
        self.static = {
            "PH_FAKE": "khp_" + "".join(sysrand.choice("0123456789abcdef") for _ in range(40)),
            "SCOPED": SCOPED, "UNSCOPED": UNSCOPED,
            "S_TLS": str(up.port("scoped-tls")), "S_PLAIN": str(up.port("scoped-plain")),
            "U_TLS": str(up.port("unscoped-tls")), "U_PLAIN": str(up.port("unscoped-plain")),
            "HELLO_SCOPED": client_hello(SCOPED), "HELLO_UNSCOPED": client_hello(UNSCOPED),
            "HELLO_NOSNI": client_hello(None),
        }
        self.boot()
        return self

    def boot(self) -> None:
        """Starts the daemon (a client command auto-starts it) and opens the sessions the inputs use."""
        try:
            self.log_offset = Path(self.user.daemon_log).stat().st_size
        except OSError:
            self.log_offset = 0
        status = self.user.status()
        self.pid = int(status["pid"])
        self.keyhole_ca = status["ca"]
        self.control_path = status.get("control_socket") or str(self.user.keyhole_runtime_dir / "control.sock")
        self.daemon_log = status.get("daemon_log") or str(self.user.daemon_log)
        self.audit_log = status.get("audit_log") or str(self.user.audit_log)
        self.proxy_port = int(status["proxy"].rsplit(":", 1)[1])
        a = self.env_session()
        b = self.env_session("--only", "gen")
        stale = self.stale_session()
        values = {
            "TOKEN": a["token"], "PH_GEN": a["GEN_TOKEN"], "PH_INJ": a["INJ_TOKEN"],
            "TOKEN_B": b["token"], "PH_B_GEN": b["GEN_TOKEN"],
            "TOKEN_STALE": stale["token"], "PH_STALE": stale["placeholders"]["gen"],
            "PROXY_PORT": str(self.proxy_port), **self.static,
        }
        for name, value in values.items():
            if isinstance(value, str) and self.scanner.contains(value.encode()):
                raise SystemExit(f"netfuzz: value {name} holds a secret; set-up is broken")
        self.values = values

    def restart(self) -> None:
        """After a crash: make sure the old daemon is gone, start a new one, new sessions."""
        self.user.stop_daemon(timeout=5)
        self.boot()
        log(f"daemon restarted: pid {self.pid}")

    def probe(self, timeout: float = 2.0) -> bool:
        """A cheap liveness check: an unauthenticated CONNECT must get its 407 at once."""
        try:
            with socket.create_connection(("127.0.0.1", self.proxy_port), timeout=timeout) as sock:
                sock.settimeout(timeout)
                sock.sendall(b"CONNECT probe.invalid:9 HTTP/1.1\r\nX-Fuzz-Id: probe\r\n\r\n")
                return sock.recv(64).startswith(b"HTTP/1.1 407")
        except OSError:
            return False

    def crash_report(self) -> str | None:
        """The daemon's own account of its crash (the Swift runtime's fatal error and the crashed thread)."""
        try:
            with open(self.daemon_log, "rb") as f:
                f.seek(self.log_offset)
                text = self.scanner.redact(f.read()).decode("utf-8", "replace")
        except OSError:
            return None
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if "Fatal error" in line or "*** Program crashed" in line or "*** Signal" in line:
                out = lines[i:i + 3]
                for j in range(i, len(lines)):
                    if lines[j].rstrip().endswith("crashed:"):
                        out += ["..."] + lines[j:j + 24]
                        break
                return "\n".join(out)
        return None

    def env_session(self, *extra: str) -> dict:
        from harness import PROXY_URL

        result = self.user.ok("env", "--shell", "json", *extra)
        env = json.loads(result.stdout)
        env["token"] = PROXY_URL.match(env["HTTPS_PROXY"]).group(1)
        return env

    def stale_session(self) -> dict:
        """A session opened and ended on the control socket: its token and placeholder are dead."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(self.control_path)
            sock.sendall(b'{"command":"openSession","sessionKind":"run"}\n')
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        session = json.loads(data)["session"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.control({"command": "helperSession", "token": session["token"]}).get("ok"):
            time.sleep(0.05)
        return session

    def control(self, request: dict) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(self.control_path)
            sock.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        return json.loads(data or b"{}")

    def live_tokens(self) -> set[str]:
        return {self.values["TOKEN"], self.values["TOKEN_B"]}

    def replay_values(self) -> dict:
        """What a saved input needs besides the session's own values: the ClientHellos it mutated."""
        return {k: base64.b64encode(v).decode() for k, v in self.values.items() if isinstance(v, bytes)} | {
            k: v for k, v in self.values.items() if isinstance(v, str)}

    def script_for(self, fid: str) -> dict | None:
        if fid in self.replayed:
            return self.replayed[fid]
        return make_script(self.args.seed, fid)

    # ---- the daemon's health
    def alive(self) -> bool:
        from harness import pid_alive

        return pid_alive(self.pid)

    def poke(self) -> None:
        self.poked.set()

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss_mib(self) -> float:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def busy_sockets(self) -> int:
        """The daemon's TCP sockets that are not listening (client and upstream legs still open)."""
        inodes = set()
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                link = os.readlink(f"/proc/{self.pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        busy = 0
        for table in ("tcp", "tcp6"):
            try:
                with open(f"/proc/{self.pid}/net/{table}") as f:
                    next(f)
                    for line in f:
                        fields = line.split()
                        if fields[9] in inodes and fields[3] != "0A":
                            busy += 1
            except OSError:
                pass
        return busy

    def settle(self, limit: float) -> float:
        """Waits until the daemon holds no open TCP connection (its timeouts close what the fuzzer left)."""
        start = time.monotonic()
        quiet = 0
        while time.monotonic() - start < limit:
            if not self.alive():
                break
            quiet = quiet + 1 if self.busy_sockets() == 0 else 0
            if quiet >= 3:
                break
            time.sleep(0.25)
        return time.monotonic() - start

    def health(self) -> tuple[bool, str]:
        """A normal request: CONNECT to the scoped host, TLS verified with keyhole's CA, the generic placeholder as
        a Bearer token; the scoped upstream answers 200 only when both real secrets arrived."""
        from harness import connect_tunnel, read_http_response, tls_client

        try:
            sock, status, _ = connect_tunnel(self.proxy_port, f"{SCOPED}:{self.values['S_TLS']}", self.values["TOKEN"])
            if status != 200:
                sock.close()
                return False, f"CONNECT answered {status}"
            with tls_client(sock, self.keyhole_ca, SCOPED) as tls:
                tls.settimeout(10)
                tls.sendall((f"GET {HEALTH_PATH}/{time.time_ns()} HTTP/1.1\r\nHost: {SCOPED}:{self.values['S_TLS']}\r\n"
                             f"Authorization: Bearer {self.values['PH_GEN']}\r\nX-Fuzz-Id: health\r\n"
                             "Connection: close\r\n\r\n").encode())
                code, _, body = read_http_response(tls)
            if code != 200 or body != b"healthy\n":
                return False, f"health request answered {code} {body[:100]!r}"
            return True, "ok"
        except (OSError, ssl.SSLError, ConnectionError, ValueError) as error:
            return False, f"health request failed: {error}"

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = Path(self.daemon_log).read_bytes()[-20000:]
        except OSError:
            return ""
        return "\n".join(self.scanner.redact(text).decode("utf-8", "replace").splitlines()[-lines:])

    def scan_logs(self) -> None:
        for path in Path(self.user.state_dir).rglob("*") if self.user else []:
            if path.is_file():
                data = path.read_bytes()
                hits = self.scanner.find(data)
                if hits:
                    self.oracles.fail("secret-in-logs", f"{hits[0][2]} in {path.name}", inputs=[],
                                      evidence={"file": str(path), "excerpt": self.oracles.excerpt(data, hits[0][0])})

    def keep_logs(self, directory: Path) -> None:
        if self.user is None:
            return
        target = directory / "daemon-state"
        target.mkdir(parents=True, exist_ok=True)
        for path in Path(self.user.state_dir).glob("*"):
            if path.is_file():
                (target / path.name).write_bytes(self.scanner.redact(path.read_bytes()))

    def stop(self) -> None:
        if self.upstream:
            self.upstream.stop()
        if self.user:
            self.user.cleanup()
        shutil.rmtree(self.work, ignore_errors=True)


# ==================================================================================================
# Running


class Monitor(threading.Thread):
    """Probes the daemon twice a second (an unauthenticated CONNECT must get its 407) and serves a normal swapped
    request every few seconds. When the daemon dies or stops answering it records what happened and stops the
    workers, so that the main thread can triage the inputs that were in flight."""

    def __init__(self, env: FuzzEnv, stop: threading.Event, interval: float = 5.0):
        super().__init__(daemon=True)
        self.env, self.stop, self.interval = env, stop, interval
        self.halt = threading.Event()
        self.checks = 0
        self.event: dict | None = None
        self.samples: list[tuple[int, int, float]] = []  # (seconds, fds, RSS MiB) under load
        self.started = time.monotonic()

    def run(self) -> None:
        env = self.env
        last_health = time.monotonic()
        last_ok = time.time()
        while not self.halt.is_set():
            env.poked.wait(0.5)
            env.poked.clear()
            if self.halt.is_set():
                return
            if env.alive() and env.probe():
                last_ok = time.time()
            else:
                detected = time.time()
                # A crashing Swift process stays alive while it writes its backtrace; wait for the outcome.
                deadline = time.monotonic() + 25
                while time.monotonic() < deadline and env.alive() and not env.probe(1.0):
                    time.sleep(0.5)
                if env.alive() and env.probe():
                    env.oracles.fail("daemon-stall", f"the daemon did not answer a probe for "
                                     f"{time.time() - detected:.1f} s, then recovered", inputs=[], anomaly=True)
                    last_ok = time.time()
                    continue
                kind = "daemon-hung" if env.alive() else "daemon-died"
                self.event = {"kind": kind, "detected": detected, "last_ok": last_ok,
                              "active": list(env.registry.active)}
                self.stop.set()
                return
            if time.monotonic() - last_health >= self.interval:
                last_health = time.monotonic()
                ok, why = env.health()
                if not ok and env.alive() and env.probe():
                    time.sleep(1)
                    ok, why2 = env.health()
                    if not ok:
                        now = time.time()
                        env.oracles.fail("health", f"a normal swapped request failed twice: {why}; {why2}",
                                         fids=env.registry.suspects(now - 8, now),
                                         evidence={"daemon_log_tail": env.log_tail()})
                        self.event = {"kind": "health", "detected": now, "last_ok": now - 8, "active": []}
                        self.stop.set()
                        return
                self.checks += 1
                try:
                    if env.alive():
                        self.samples.append((round(time.monotonic() - self.started), env.fds(), round(env.rss_mib(), 1)))
                except OSError:
                    pass


def triage(env: FuzzEnv, runner: Runner, seed: str, event: dict, budget: float, signatures: set[str]) -> None:
    """After the daemon died or hung: restart it and run the inputs that were in flight, one at a time, until one
    takes the new daemon down too. Saves a finding with that input (or with every candidate when none does)."""
    report = env.crash_report()
    active = event["active"]
    with env.registry.lock:
        recent = [(fid, end) for fid, start, end in env.registry.recent
                  if end >= event["last_ok"] - 1.0 and start <= event["detected"]]
    candidates = list(dict.fromkeys(sorted(active, reverse=True) + [f for f, _ in sorted(recent, key=lambda r: -r[1])]))
    detail = (report or "no crash report in the daemon log").splitlines()[0]
    if report and detail in signatures:
        env.oracles.fail(event["kind"] + "-again", f"{detail} (the same crash as before; not triaged again)",
                         fids=candidates[:12], evidence={"crash_report": report})
        env.restart()
        return
    signatures.add(detail)
    log(f"{event['kind']}: {detail}; triaging {len(candidates)} candidate input(s)")
    env.restart()
    culprit, reproduced_report = None, None
    deadline = time.monotonic() + budget
    tried = 0
    for fid in candidates:
        if time.monotonic() > deadline:
            break
        script = env.script_for(fid)
        tried += 1
        try:
            runner.run(script)
        except Exception:  # noqa: BLE001
            pass
        if env.alive() and env.probe(3.0):
            continue
        wait = time.monotonic() + 25
        while time.monotonic() < wait and env.alive() and not env.probe(1.0):
            time.sleep(0.5)
        if env.alive() and env.probe():
            continue
        culprit, reproduced_report = fid, env.crash_report()
        break
    if culprit:
        env.oracles.fail(event["kind"], f"{detail} (reproduced alone by input {culprit})",
                         inputs=[env.script_for(culprit)], primary=culprit,
                         evidence={"crash_report": reproduced_report or report, "first_crash_report": report})
        env.restart()
    else:
        env.oracles.fail(event["kind"], f"{detail} (not reproduced by any single one of {tried} candidates tried; "
                         "every candidate is listed, the first ones saved)", fids=candidates[:12],
                         evidence={"crash_report": report, "candidates": candidates, "seed": seed})


def run_inputs(env: FuzzEnv, runner: Runner, *, seed: str, workers: int, prefix: str, deadline: float | None,
               limit: int | None, stop: threading.Event, exclude: re.Pattern | None = None) -> tuple[int, dict]:
    lock = threading.Lock()
    state = {"count": 0, "templates": {}}

    def worker(w: int) -> None:
        i = 0
        while not stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return
            with lock:
                if limit is not None and state["count"] >= limit:
                    return
                state["count"] += 1
            fid = f"{prefix}{w}-{i}"
            i += 1
            script = make_script(seed, fid)
            if exclude is not None and exclude.search(json.dumps(script)):
                with lock:
                    state["count"] -= 1
                continue
            env.registry.begin(fid)
            try:
                data, what = runner.run(script)
            except Exception:  # noqa: BLE001 - a fuzzer bug must not stop the run silently
                log(f"input {fid} raised in the fuzzer itself:\n{traceback.format_exc()}")
                data, what = b"", ""
            finally:
                env.registry.end(fid)
            env.oracles.check_client(script, data, what)
            outcome = outcome_of(script, data)
            with lock:
                t = state["templates"]
                t[script["template"]] = t.get(script["template"], 0) + 1
                o = state.setdefault("outcomes", {})
                o[outcome] = o.get(outcome, 0) + 1

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, v in state.get("outcomes", {}).items():
        OUTCOMES[k] = OUTCOMES.get(k, 0) + v
    return state["count"], state["templates"]


OUTCOMES: dict[str, int] = {}
_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})")


def outcome_of(script: dict, data: bytes) -> str:
    """template:statuses (the CONNECT's 200 left out), for the summary: what the inputs got."""
    if script["kind"] == "control":
        return "control:" + ("ok" if b'"ok":true' in data else "error" if data else "no reply")
    codes = [m.group(1).decode() for m in _STATUS.finditer(data[:200000])]
    if codes[:1] == ["200"] and data.startswith(b"HTTP/1.1 200 Connection established"):
        codes = ["tunnel"] + codes[1:]
    return f"{script['template']}:{'/'.join(codes[:3]) or 'closed'}"


def self_check(env: FuzzEnv) -> list[str]:
    """Plants the secret where the oracles must see it; returns the oracle kinds expected to fire."""
    secret = env.secrets["gen"]
    up = env.upstream
    planted = []

    def send(label: str, data: bytes, tls: bool) -> None:
        sock = socket.create_connection(("127.0.0.1", up.port(label)), timeout=5)
        if tls:
            context = ssl.create_default_context(cafile=up.ca_path)
            host = UNSCOPED if label.startswith("unscoped") else SCOPED
            sock = context.wrap_socket(sock, server_hostname=host)
        sock.sendall(data)
        try:
            sock.recv(4096)
        except OSError:
            pass
        sock.close()

    send("unscoped-tls", f"GET / HTTP/1.1\r\nHost: {UNSCOPED}:{up.port('unscoped-tls')}\r\nX-Fuzz-Id: self-check\r\n"
         f"Authorization: Bearer {secret}\r\nConnection: close\r\n\r\n".encode(), True)
    planted.append("unscoped-host")
    basic = base64.b64encode(f"someone:{secret}".encode()).decode()
    send("scoped-plain", f"GET / HTTP/1.1\r\nHost: {SCOPED}\r\nAuthorization: Basic {basic}\r\n"
         "Connection: close\r\n\r\n".encode(), False)
    planted.append("plain-listener")
    send("scoped-tls", f"GET https://{UNSCOPED}/x HTTP/1.1\r\nHost: {UNSCOPED}:{up.port('unscoped-tls')}\r\n"
         f"X-Key: {secret}\r\nConnection: close\r\n\r\n".encode(), True)
    planted.append("scoped-host-misdirected")
    env.oracles.check_client({"id": "self-check", "kind": "proxy", "template": "self-check", "steps": []},
                             b"HTTP/1.1 200 OK\r\n\r\n" + percent_encode(secret.encode()), "planted response")
    planted.append("secret-returned")
    return planted


def replay(env: FuzzEnv, runner: Runner, files: list[str], repeat: int) -> int:
    scripts = []
    for name in files:
        data = json.loads(Path(name).read_text())
        inputs = data.get("inputs") or ([data["input"]] if "input" in data else [data] if "steps" in data else [])
        for key, value in (data.get("values") or {}).items():
            if key.startswith("HELLO_"):
                env.values[key] = base64.b64decode(value)
        scripts += [s for s in inputs if isinstance(s, dict) and "steps" in s]
    log(f"replaying {len(scripts)} input(s) x {repeat}")
    for n in range(repeat):
        for script in scripts:
            fid = script.get("id", "replay")
            env.replayed[fid] = script
            env.registry.begin(fid)
            data, what = runner.run(script)
            env.registry.end(fid)
            env.oracles.check_client(script, data, what)
            if repeat == 1 or n == 0:
                log(f"  {fid} ({script.get('template')}): got {len(data)} bytes back: "
                    f"{env.scanner.redact(data[:160]).decode('latin-1')!r}")
    return len(scripts) * repeat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--seconds", type=float, help="fuzz for this long (default 60 when --inputs is not given)")
    parser.add_argument("--inputs", type=int, help="stop after this many inputs")
    parser.add_argument("--seed", default=None, help="base seed (default: random; printed)")
    parser.add_argument("--workers", type=int, default=16, help="concurrent workload connections (default 16)")
    parser.add_argument("--keep", metavar="DIR", help="write findings, anomalies and the daemon's logs to DIR")
    parser.add_argument("--self-check", action="store_true",
                        help="no fuzzing: plant the secret at the unscoped host, a plain listener, a misdirected "
                             "request and a response, and check the oracles fire (exit 1 then; exit 0 means they "
                             "are broken)")
    parser.add_argument("--replay", nargs="+", metavar="FILE", help="run saved inputs (finding files) against a fresh daemon")
    parser.add_argument("--repeat", type=int, default=1, help="with --replay: run the inputs this many times")
    parser.add_argument("--warmup", type=float, default=8, metavar="SECONDS",
                        help="fuzz this long (at full concurrency) before taking the fd/RSS baseline (default 8)")
    parser.add_argument("--fd-slack", type=int, default=8, help="fds allowed above the baseline at the end")
    parser.add_argument("--rss-slack", type=float, default=48, help="MiB of RSS allowed above the baseline at the end")
    parser.add_argument("--no-netns", action="store_true", help="do not enter a private network namespace")
    parser.add_argument("--max-crashes", type=int, default=5,
                        help="after a daemon crash or hang: triage, restart and go on, at most this many times")
    parser.add_argument("--exclude", metavar="REGEX", help="skip generated inputs whose JSON matches REGEX (to "
                        "fuzz on past a known, filed finding)")
    parser.add_argument("--triage-seconds", type=float, default=120, help="time to find the input behind a crash")
    args = parser.parse_args(argv)
    if args.seconds is None and args.inputs is None:
        args.seconds = 60
    args.seed = str(args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32))

    wall_start = time.monotonic()
    exclude = re.compile(args.exclude) if args.exclude else None
    netns = "disabled (--no-netns)" if args.no_netns else enter_private_netns()
    run_id = time.strftime("%Y%m%d-%H%M%S") + ("-replay" if args.replay else f"-seed{args.seed}")
    findings = Findings(Path(args.keep) if args.keep else Path(os.environ.get("NETFUZZ_FINDINGS", HERE / "findings")),
                        run_id, always=bool(args.keep))
    env = FuzzEnv(args, findings)
    try:
        env.start()
    except SystemExit:
        raise
    except Exception as error:  # noqa: BLE001
        log(f"set-up failed: {error}")
        traceback.print_exc()
        env.stop()
        return 2
    runner = Runner(env)
    stop = threading.Event()
    log(f"daemon pid {env.pid}, proxy 127.0.0.1:{env.proxy_port}; upstream ports scoped tls {env.values['S_TLS']} "
        f"plain {env.values['S_PLAIN']}, unscoped tls {env.values['U_TLS']} plain {env.values['U_PLAIN']}; {netns}; "
        f"seed {args.seed}")
    summary = {"templates": {}}
    count, elapsed = 0, 0.0
    warm_count, warm_elapsed = 0, 0.0
    base_fds = base_rss = None
    expected: list[str] = []
    monitor = Monitor(env, stop)
    try:
        if args.replay:
            monitor.start()
            count = replay(env, runner, args.replay, args.repeat)
            time.sleep(1)
            wait = time.monotonic() + 25  # a crashing daemon writes its backtrace before it goes
            while time.monotonic() < wait and env.alive() and not env.probe(1.0):
                time.sleep(0.5)
        else:
            segment, crashes = 0, 0
            signatures: set[str] = set()
            fuzz_deadline = None
            while True:
                prefix = "" if segment == 0 else f"r{segment}."
                stop.clear()
                monitor = Monitor(env, stop)
                monitor.start()
                paused = time.monotonic()
                warm_started = time.monotonic()
                warm, warm_templates = run_inputs(env, runner, seed=args.seed, workers=args.workers,
                                                  prefix="w" + prefix, deadline=time.monotonic() + args.warmup,
                                                  limit=0 if args.self_check else None, stop=stop, exclude=exclude)
                warm_count += warm
                warm_elapsed += time.monotonic() - warm_started
                for k, v in warm_templates.items():
                    summary["templates"][k] = summary["templates"].get(k, 0) + v
                if monitor.event is None:
                    env.settle(SETTLE_SECONDS)
                if monitor.event is None and not (env.alive() and env.probe(3.0)):
                    monitor.join(timeout=40)  # it is dying: let the monitor see it through
                if monitor.event is None:
                    base_fds, base_rss = env.fds(), env.rss_mib()
                    log(f"baseline after a {args.warmup:g} s warm-up ({warm} inputs) and {SETTLE_SECONDS} s for the "
                        f"daemon's timeouts: {base_fds} fds, RSS {base_rss:.1f} MiB")
                if fuzz_deadline is not None:  # warm-up and settling do not count as fuzzing time
                    fuzz_deadline += time.monotonic() - paused
                if args.self_check:
                    expected = self_check(env)
                    time.sleep(1)
                    env.upstream.finish_all()
                    monitor.halt.set()
                    monitor.join(timeout=30)
                    break
                started = time.monotonic()
                if fuzz_deadline is None and args.seconds is not None:
                    fuzz_deadline = started + args.seconds
                limit = None if args.inputs is None else args.inputs - count
                n, templates = (0, {}) if monitor.event else run_inputs(
                    env, runner, seed=args.seed, workers=args.workers, prefix=prefix, deadline=fuzz_deadline,
                    limit=limit, stop=stop, exclude=exclude)
                count += n
                elapsed += time.monotonic() - started
                for k, v in templates.items():
                    summary["templates"][k] = summary["templates"].get(k, 0) + v
                monitor.halt.set()
                monitor.join(timeout=60)
                if monitor.event is None:
                    break
                crashes += 1
                paused = time.monotonic()
                if monitor.event["kind"] != "health":
                    triage(env, runner, args.seed, monitor.event, args.triage_seconds, signatures)
                else:
                    env.restart()
                if fuzz_deadline is not None:  # triage and restart do not count as fuzzing time
                    fuzz_deadline += time.monotonic() - paused
                out_of_time = fuzz_deadline is not None and time.monotonic() >= fuzz_deadline - 5
                out_of_inputs = args.inputs is not None and count >= args.inputs
                if crashes >= args.max_crashes or out_of_time or out_of_inputs:
                    break
                segment += 1
        monitor.halt.set()
        monitor.join(timeout=30)
        settled = env.settle(SETTLE_SECONDS) if env.alive() else 0
        time.sleep(0.5)
        env.upstream.finish_all()
        alive = env.alive()
        fds = rss = None
        if alive:
            ok, why = env.health()
            if not ok:
                env.oracles.fail("health", f"after the run: {why}", fids=[],
                                 evidence={"daemon_log_tail": env.log_tail()})
            env.settle(5)
            fds, rss = env.fds(), env.rss_mib()
            if base_fds is not None and fds > base_fds + args.fd_slack:
                env.oracles.fail("fd-leak", f"the daemon holds {fds} fds, {fds - base_fds} above the baseline of "
                                 f"{base_fds} ({settled:.1f} s after the run; {env.busy_sockets()} TCP sockets open)",
                                 inputs=[], evidence={"fds_before": base_fds, "fds_after": fds})
            if base_rss is not None and rss > base_rss + args.rss_slack:
                env.oracles.fail("rss-growth", f"the daemon's RSS is {rss:.1f} MiB, {rss - base_rss:.1f} MiB above "
                                 f"the baseline of {base_rss:.1f} MiB", inputs=[],
                                 evidence={"rss_before": base_rss, "rss_after": rss})
        elif not {"daemon-died", "daemon-hung"} & set(env.oracles.failures):
            env.oracles.fail("daemon-died", "the daemon is gone after the run", fids=[],
                             evidence={"crash_report": env.crash_report(), "daemon_log_tail": env.log_tail()})
        env.scan_logs()
        if args.keep:
            env.keep_logs(Path(args.keep))
    finally:
        stop.set()
        monitor.halt.set()
        env.stop()

    o = env.oracles
    total, total_elapsed = count + warm_count, elapsed + warm_elapsed
    rate = total / total_elapsed if total_elapsed else 0.0
    result = "clean" if not o.failures else "FAILED " + ", ".join(f"{k} x{v}" for k, v in sorted(o.failures.items()))
    anomalies = ", ".join(f"{k} x{v}" for k, v in sorted(o.anomalies.items())) or "none"
    mem = (f"daemon fds {base_fds} -> {fds}, RSS {base_rss:.1f} -> {rss:.1f} MiB" if base_fds is not None and fds is not None
           else f"daemon fds {fds}, RSS {rss and round(rss, 1)} MiB" if fds is not None else "daemon gone")
    if summary.get("templates"):
        log("inputs by template: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["templates"].items())))
        log("most frequent outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(OUTCOMES.items(), key=lambda kv: -kv[1])[:24]))
    log(f"upstream: {env.upstream.stats['connections']} connections, {env.upstream.stats['requests']} requests; "
        f"control lines skipped (unsafe commands): {runner.stats['control_lines_skipped']}; "
        f"health checks {monitor.checks}")
    if monitor.samples:
        log("daemon under load (s: fds/RSS MiB): " + ", ".join(f"{t}: {f}/{r}" for t, f, r in monitor.samples[-12:]))
    print(f"netfuzz: {total} inputs ({warm_count} of them in warm-ups) in {total_elapsed:.1f} s ({rate:.1f}/s; wall "
          f"{time.monotonic() - wall_start:.0f} s), {args.workers} workers, seed {args.seed}; "
          f"oracles: {result}; anomalies: {anomalies}; {mem}", flush=True)
    for path in o.first_paths:
        print(f"netfuzz: saved offending input(s): {path}", flush=True)
    if o.anomalies and findings.paths:
        print(f"netfuzz: findings directory: {findings.dir}", flush=True)
    if args.self_check:
        missed = [k for k in expected if k not in o.failures]
        if missed:
            print(f"netfuzz: self-check: the oracles MISSED planted leaks: {', '.join(missed)} (exit 0: broken oracles)")
            return 0
        print(f"netfuzz: self-check: {len(expected)} of {len(expected)} planted leaks caught "
              f"({', '.join(expected)}); exit 1 is the expected outcome")
    return 1 if o.failures else 0


if __name__ == "__main__":
    sys.exit(main())
