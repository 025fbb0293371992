"""A real HTTPS (and plain HTTP) upstream for keyhole's end-to-end tests.

It has its own private CA, generated at start, and answers for made-up host names
(``api.keyhole.test``, ``other.keyhole.test``) that keyhole reaches through its ``resolve`` setting and
trusts through ``upstream_ca``. Every path demands a secret in a particular place and answers 401
without it:

    /{scheme}/{key}[/{action}]

    scheme  open       no secret needed
            bearer     Authorization: Bearer <secret>
            apikey     X-Api-Key: <secret>
            basic      Authorization: Basic, <secret> as the password
            basicuser  Authorization: Basic, <secret> as the user name
            query      ?key=<secret> (or ?api_key=<secret>)
    key     the name under which a test registered the expected secret (``Upstream.expect``)
    action  (none)     200 "ok"
            download   ?bytes=N: streams N bytes (Content-Length)
            upload     reads and discards the request body, answers its length
            ws         answers 101 to an Upgrade and echoes raw bytes until the peer closes

Answers never echo what the request carried, so a client's output can never hold a secret that the
upstream received. Every request is recorded (server, SNI, method, target, headers, the first bytes of
the body, status) in memory, and to a JSON-lines file when one is given, so a test can assert that the
upstream saw nothing, or saw the real secret and never a placeholder.

Run it on its own (``python3 upstream.py --dir DIR``) to poke it with curl: it writes DIR/upstream.json
(ports, CA path) and DIR/requests.jsonl, and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import ipaddress
import json
import os
import signal
import socket
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

API_HOST = "api.keyhole.test"
OTHER_HOST = "other.keyhole.test"
UNTRUSTED_HOST = "untrusted.keyhole.test"
BODY_SAMPLE = 64 * 1024


# --------------------------------------------------------------------------------------------------
# Certificates


def _write_pem(path: str, data: bytes, mode: int = 0o644) -> None:
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def make_ca(directory: str, name: str) -> tuple[str, ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A P-256 CA; writes ``{name}-ca.pem`` into directory and returns (path, key, cert)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"keyhole e2e {name} CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = os.path.join(directory, f"{name}-ca.pem")
    _write_pem(path, cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def make_leaf(directory: str, name: str, ca_key, ca_cert, hosts: list[str]) -> tuple[str, str]:
    """A leaf for hosts signed by the CA; returns (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, f"{name}-cert.pem")
    key_path = os.path.join(directory, f"{name}-key.pem")
    _write_pem(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    _write_pem(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        0o600,
    )
    return cert_path, key_path


# --------------------------------------------------------------------------------------------------
# HTTP handling


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "keyhole-e2e-upstream"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - keep the test output quiet
        pass

    # Every method goes through one dispatcher.
    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> tuple[int, bytes]:
        """Reads (and discards past the sample) the request body; returns (length, sample)."""
        total = 0
        sample = bytearray()
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                remaining = size
                while remaining:
                    chunk = self.rfile.read(min(remaining, 256 * 1024))
                    if not chunk:
                        raise ConnectionError("body ended early")
                    remaining -= len(chunk)
                    total += len(chunk)
                    if len(sample) < BODY_SAMPLE:
                        sample += chunk[: BODY_SAMPLE - len(sample)]
                self.rfile.readline(16)
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining:
                chunk = self.rfile.read(min(remaining, 256 * 1024))
                if not chunk:
                    raise ConnectionError("body ended early")
                remaining -= len(chunk)
                total += len(chunk)
                if len(sample) < BODY_SAMPLE:
                    sample += chunk[: BODY_SAMPLE - len(sample)]
        return total, bytes(sample)

    def _authorized(self, scheme: str, key: str, query: dict[str, list[str]]) -> bool:
        upstream: Upstream = self.server.upstream  # type: ignore[attr-defined]
        if scheme == "open":
            return True
        secret = upstream.expected(key)
        if secret is None:
            return False
        if scheme == "bearer":
            return self.headers.get_all("Authorization") == [f"Bearer {secret}"]
        if scheme == "apikey":
            return self.headers.get_all("X-Api-Key") == [secret]
        if scheme in ("basic", "basicuser"):
            values = self.headers.get_all("Authorization") or []
            if len(values) != 1 or not values[0].startswith("Basic "):
                return False
            try:
                user, _, password = base64.b64decode(values[0][6:], validate=True).decode().partition(":")
            except Exception:
                return False
            return (password if scheme == "basic" else user) == secret
        if scheme == "query":
            return query.get("key") == [secret] or query.get("api_key") == [secret]
        return False

    def _dispatch(self):
        upstream: Upstream = self.server.upstream  # type: ignore[attr-defined]
        parsed = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        parts = [p for p in parsed.path.split("/") if p]
        scheme = parts[0] if parts else ""
        key = parts[1] if len(parts) > 1 else ""
        action = parts[2] if len(parts) > 2 else ""
        record = {
            "time": time.time(),
            "server": self.server.label,  # type: ignore[attr-defined]
            "port": self.server.server_address[1],
            "sni": getattr(self.connection, "keyhole_sni", None),
            "method": self.command,
            "target": self.path,
            "version": self.request_version,
            "headers": [[k, v] for k, v in self.headers.items()],
        }
        try:
            body_len, sample = (0, b"") if action == "ws" else self._read_body()
        except Exception as error:  # noqa: BLE001
            record.update(status=0, error=str(error), body_bytes=0)
            upstream.record(record)
            self.close_connection = True
            return
        record["body_bytes"] = body_len
        record["body_sample"] = sample.decode("latin-1")

        if scheme not in ("open", "bearer", "apikey", "basic", "basicuser", "query"):
            self._respond(record, 404, b"no such scheme\n")
            return
        if not self._authorized(scheme, key, query):
            self._respond(record, 401, b"unauthorized\n", [("WWW-Authenticate", 'Bearer realm="e2e"')])
            return
        if action == "":
            self._respond(record, 200, f"ok {key}\n".encode())
        elif action == "download":
            size = int(query.get("bytes", ["0"])[0])
            record["status"] = 200
            upstream.record(record)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            if self.command != "HEAD":
                block = b"\0" * (256 * 1024)
                remaining = size
                while remaining:
                    n = min(remaining, len(block))
                    self.wfile.write(block[:n])
                    remaining -= n
        elif action == "upload":
            self._respond(record, 200, f"{body_len}\n".encode())
        elif action == "ws":
            self._websocket(record)
        else:
            self._respond(record, 404, b"no such action\n")

    def _respond(self, record, status: int, body: bytes, headers=()):
        record["status"] = status
        self.server.upstream.record(record)  # type: ignore[attr-defined]
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _websocket(self, record):
        if "upgrade" not in self.headers.get("Connection", "").lower() or not self.headers.get("Upgrade"):
            self._respond(record, 426, b"upgrade required\n")
            return
        record["status"] = 101
        self.server.upstream.record(record)  # type: ignore[attr-defined]
        self.send_response(101)
        self.send_header("Upgrade", self.headers["Upgrade"])
        self.send_header("Connection", "Upgrade")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        sock = self.connection
        sock.settimeout(30)
        # Bytes the buffered reader already pulled in belong to the upgraded stream.
        pending = self.rfile.peek(0) if hasattr(self.rfile, "peek") else b""
        if pending:
            data = self.rfile.read(len(pending))
            sock.sendall(data)
        upstream: Upstream = self.server.upstream  # type: ignore[attr-defined]
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    upstream.event({"event": "ws-closed", "server": self.server.label})  # type: ignore[attr-defined]
                    break
                upstream.event({"event": "ws-data", "bytes": len(data)})
                sock.sendall(data)
        except OSError as error:
            upstream.event({"event": "ws-error", "error": str(error)})


def serve_connection(server, request, client_address, context: ssl.SSLContext | None, timeout: float,
                     on_handshake=None) -> None:
    """Runs ``server``'s handler on one accepted socket, first wrapped in TLS when ``context`` is given. Called
    from ``finish_request``, so the handshake happens in the connection's own thread and a slow or failing one
    never blocks the accept loop; ``on_handshake(conn, error)`` hears how it went. The socket is always closed."""
    conn = request
    if context is not None:
        request.settimeout(15)
        try:
            conn = context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as error:
            if on_handshake is not None:
                on_handshake(None, error)
            try:
                request.close()
            except OSError:
                pass
            return
        conn.settimeout(timeout)
        if on_handshake is not None:
            on_handshake(conn, None)
    try:
        server.RequestHandlerClass(conn, client_address, server)
    except (OSError, ssl.SSLError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, upstream: "Upstream", label: str, context: ssl.SSLContext | None, port: int = 0):
        self.upstream = upstream
        self.label = label
        self.context = context
        super().__init__(("127.0.0.1", port), _Handler)

    def finish_request(self, request, client_address):
        def handshake(conn, error):
            if error is not None:
                self.upstream.event({"event": "handshake-failed", "server": self.label, "error": str(error)})
            else:
                self.upstream.event(
                    {"event": "handshake", "server": self.label, "sni": getattr(conn, "keyhole_sni", None)}
                )

        serve_connection(self, request, client_address, self.context, timeout=60, on_handshake=handshake)

    def shutdown_request(self, request):
        try:
            request.close()
        except OSError:
            pass


def _server_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])

    def remember_sni(sslobj, name, _ctx):
        # The SSLSocket that owns this handshake keeps the name for the request records.
        owner = getattr(sslobj, "keyhole_owner", None) or sslobj
        try:
            owner.keyhole_sni = name
        except AttributeError:
            pass
        return None

    context.sni_callback = remember_sni
    return context


class Upstream:
    """The test upstream: one TLS server (api + other hosts), one plain HTTP server, and one TLS
    server whose certificate comes from a CA keyhole is not told about ("untrusted")."""

    def __init__(self, directory: str, log_path: str | None = None):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.log_path = log_path
        self._lock = threading.Lock()
        self._records: list[dict] = []
        self._events: list[dict] = []
        self._expected: dict[str, str] = {}
        self.ca_path, ca_key, ca_cert = make_ca(directory, "upstream")
        cert, key = make_leaf(directory, "upstream", ca_key, ca_cert, [API_HOST, OTHER_HOST, "localhost", "127.0.0.1"])
        self.rogue_ca_path, rogue_key, rogue_cert = make_ca(directory, "rogue")
        rogue_leaf, rogue_leaf_key = make_leaf(directory, "rogue", rogue_key, rogue_cert, [UNTRUSTED_HOST])
        self._servers = [
            _Server(self, "tls", _server_context(cert, key)),
            _Server(self, "plain", None),
            _Server(self, "untrusted", _server_context(rogue_leaf, rogue_leaf_key)),
        ]
        self.tls_port = self._servers[0].server_address[1]
        self.plain_port = self._servers[1].server_address[1]
        self.untrusted_port = self._servers[2].server_address[1]
        self._threads: list[threading.Thread] = []

    # ---- lifecycle
    def start(self) -> "Upstream":
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    # ---- what keyhole's config needs
    def resolve_map(self) -> dict[str, str]:
        out = {}
        for host in (API_HOST, OTHER_HOST):
            for port in (self.tls_port, self.plain_port):
                out[f"{host}:{port}"] = f"127.0.0.1:{port}"
        out[f"{UNTRUSTED_HOST}:{self.untrusted_port}"] = f"127.0.0.1:{self.untrusted_port}"
        return out

    def url(self, path: str, host: str = API_HOST, tls: bool = True) -> str:
        if tls:
            port = self.untrusted_port if host == UNTRUSTED_HOST else self.tls_port
            return f"https://{host}:{port}{path}"
        return f"http://{host}:{self.plain_port}{path}"

    # ---- expectations
    def expect(self, key: str, secret: str | None) -> None:
        """Registers the secret that paths under ``/{scheme}/{key}`` demand (None: nothing passes)."""
        with self._lock:
            if secret is None:
                self._expected.pop(key, None)
            else:
                self._expected[key] = secret

    def expected(self, key: str) -> str | None:
        with self._lock:
            return self._expected.get(key)

    # ---- records
    def record(self, record: dict) -> None:
        with self._lock:
            self._records.append(record)
            if self.log_path:
                with open(self.log_path, "a") as f:
                    f.write(json.dumps(record) + "\n")

    def event(self, event: dict) -> None:
        with self._lock:
            event["time"] = time.time()
            self._events.append(event)

    def mark(self) -> tuple[int, int]:
        """A position to compare later requests and connection events against."""
        with self._lock:
            return len(self._records), len(self._events)

    def requests_since(self, mark: tuple[int, int]) -> list[dict]:
        with self._lock:
            return list(self._records[mark[0]:])

    def events_since(self, mark: tuple[int, int]) -> list[dict]:
        with self._lock:
            return list(self._events[mark[1]:])

    def all_requests(self) -> list[dict]:
        with self._lock:
            return list(self._records)

    @staticmethod
    def request_text(record: dict) -> str:
        """Everything a request carried that could hold a credential: target, headers, body sample."""
        parts = [record.get("target", "")]
        for name, value in record.get("headers", []):
            parts.append(f"{name}: {value}")
            if name.lower() in ("authorization", "proxy-authorization") and value.lower().startswith("basic "):
                try:
                    parts.append(base64.b64decode(value[6:]).decode("latin-1"))
                except Exception:  # noqa: BLE001
                    pass
        parts.append(record.get("body_sample", ""))
        return "\n".join(parts)

    def saw(self, text: str, since: tuple[int, int] = (0, 0)) -> bool:
        """Whether any request since the mark carried text (Basic credentials decoded; query decoded)."""
        for record in self.requests_since(since):
            blob = self.request_text(record)
            if text in blob or text in urllib.parse.unquote_plus(blob):
                return True
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", required=True, help="where the CA, certificates and logs go")
    parser.add_argument("--expect", action="append", default=[], metavar="KEY=SECRET",
                        help="a secret the upstream demands under /SCHEME/KEY (repeatable)")
    args = parser.parse_args()
    upstream = Upstream(args.dir, log_path=os.path.join(args.dir, "requests.jsonl"))
    for item in args.expect:
        key, _, secret = item.partition("=")
        upstream.expect(key, secret)
    upstream.start()
    info = {
        "tls_port": upstream.tls_port,
        "plain_port": upstream.plain_port,
        "untrusted_port": upstream.untrusted_port,
        "ca": upstream.ca_path,
        "resolve": upstream.resolve_map(),
    }
    with open(os.path.join(args.dir, "upstream.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(json.dumps(info), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    upstream.stop()


if __name__ == "__main__":
    main()
