"""Shared pieces of the end-to-end fixtures (git server, registry, AWS): one private CA for all of them,
and a threaded HTTPS server that does its TLS handshakes off the accept loop.

Every fixture takes ``ca``: the ``(path, key, cert)`` triple that ``upstream.make_ca`` returns, so that all
fixtures' leaf certificates chain to one CA file (keyhole trusts it through ``upstream_ca``). ``None`` makes a
CA of the fixture's own in its directory.
"""

from __future__ import annotations

import os
import shutil
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from upstream import _server_context, make_ca, make_leaf, serve_connection

__all__ = ["ConnectProxy", "FixtureCA", "TLSServer", "die_with_parent", "ensure_ca", "make_ca", "make_leaf",
           "read_request_body", "require_binary", "server_context"]

FixtureCA = tuple  # (ca_path, ca_key, ca_cert) as upstream.make_ca returns it


def ensure_ca(directory: str, ca: FixtureCA | None, name: str) -> FixtureCA:
    """The CA triple to sign with: the given one, or a new one written into directory."""
    if ca is not None:
        return ca
    os.makedirs(directory, exist_ok=True)
    return make_ca(directory, name)


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """A server context (ALPN http/1.1) for the leaf, as the upstream uses."""
    return _server_context(cert, key)


def require_binary(name: str, package: str) -> str:
    """The path of a binary, or a RuntimeError naming the Debian package that has it."""
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"`{name}` not found on PATH: install the Debian package `{package}` "
                           f"(scripts/install-deps.sh --test)")
    return path


def die_with_parent() -> None:
    """A ``preexec_fn``: the child gets SIGTERM when the thread that started it ends (Linux
    PR_SET_PDEATHSIG), so a crashed test run leaves no server behind. Start fixtures from the main thread."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class TLSServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer on 127.0.0.1 that wraps each accepted socket in TLS in its own thread (so a
    slow or failing handshake never blocks the accept loop). ``owner`` is there for the handler."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, owner, handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext | None,
                 port: int = 0):
        self.owner = owner
        self.context = context
        super().__init__(("127.0.0.1", port), handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(5)
            self._thread = None
        self.server_close()

    def finish_request(self, request, client_address):
        serve_connection(self, request, client_address, self.context, timeout=120)

    def shutdown_request(self, request):
        try:
            request.close()
        except OSError:
            pass


def read_request_body(handler: BaseHTTPRequestHandler, limit: int = 512 * 1024 * 1024) -> bytes:
    """The whole request body (Content-Length or chunked), de-chunked."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            line = handler.rfile.readline(1024)
            if not line:
                raise ConnectionError("body ended early")
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += handler.rfile.read(size)
            handler.rfile.readline(16)
            if len(out) > limit:
                raise ConnectionError("body too large")
    length = int(handler.headers.get("Content-Length") or 0)
    data = handler.rfile.read(length) if length else b""
    if len(data) != length:
        raise ConnectionError("body ended early")
    return data


class ConnectProxy:
    """A minimal HTTP CONNECT proxy on 127.0.0.1 for smoke tests without keyhole: it maps the CONNECT
    authority through ``route`` (a dict ``"host:port" -> "127.0.0.1:port"``, or a callable returning such a
    target or None) and tunnels bytes; anything unmapped gets 403, so a test can never reach the real host.
    ``connects`` lists the authorities asked for."""

    def __init__(self, route):
        import socket

        self._route = route
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connects: list[str] = []
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> "ConnectProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped = True
        try:
            self._sock.close()
        except OSError:
            pass

    def target(self, authority: str) -> str | None:
        return self._route(authority) if callable(self._route) else self._route.get(authority)

    def _accept(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        import socket

        try:
            conn.settimeout(30)
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(4096)
                if not data:
                    return
                head += data
            line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            if len(line) < 2 or line[0] != "CONNECT":
                conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            self.connects.append(line[1])
            target = self.target(line[1])
            if target is None:
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            host, _, port = target.rpartition(":")
            upstream = socket.create_connection((host, int(port)), timeout=30)
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = head.split(b"\r\n\r\n", 1)[1]
            if rest:
                upstream.sendall(rest)
            conn.settimeout(None)
            upstream.settimeout(None)

            def pump(src, dst):
                try:
                    while True:
                        data = src.recv(65536)
                        if not data:
                            break
                        dst.sendall(data)
                except OSError:
                    pass
                finally:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass

            other = threading.Thread(target=pump, args=(upstream, conn), daemon=True)
            other.start()
            pump(conn, upstream)
            other.join()
            upstream.close()
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass
