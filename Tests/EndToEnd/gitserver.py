"""An HTTPS smart-HTTP git server for keyhole's end-to-end tests: ``git http-backend`` run as a CGI from a
threaded Python HTTPS server, answering for ``git.keyhole.test`` with a leaf from the shared fixture CA.

Every request needs ``Authorization: Basic`` with the configured user name and token; anything else gets
``401`` + ``WWW-Authenticate: Basic realm="git"`` so that git asks its credential helper. Every request is
recorded (method, path, host, the decoded Basic user and password, status), so a test can assert that the
real token reached the server and a placeholder never did.

    server = GitServer(directory, ca, username="git", token="sk_git_...").start()
    server.create_repo("demo")            # bare repo with one commit on main, push enabled
    server.url("demo")                    # https://git.keyhole.test:PORT/demo.git
    server.resolve_map()                  # {"git.keyhole.test:PORT": "127.0.0.1:PORT"} for keyhole's config
    server.saw_password(token)            # any request carried it as the Basic password
    server.stop()
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from fixturetls import TLSServer, ensure_ca, make_leaf, read_request_body, require_binary, server_context

GIT_HOST = "git.keyhole.test"


def _git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """An environment for git plumbing that ignores the caller's and the system's git config."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "keyhole e2e",
        "GIT_AUTHOR_EMAIL": "e2e@keyhole.test",
        "GIT_COMMITTER_NAME": "keyhole e2e",
        "GIT_COMMITTER_EMAIL": "e2e@keyhole.test",
        "LANG": "C",
        "LC_ALL": "C",
    }
    if extra:
        env.update(extra)
    return env


class _GitHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "keyhole-e2e-git"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def do_GET(self):
        self._dispatch()

    do_POST = do_HEAD = do_GET

    def _credentials(self) -> tuple[str | None, str | None, str | None]:
        """(scheme, user, password) from Authorization (user/password None unless Basic)."""
        values = self.headers.get_all("Authorization") or []
        if not values:
            return None, None, None
        value = values[0]
        scheme, _, rest = value.partition(" ")
        if scheme.lower() != "basic" or len(values) != 1:
            return scheme, None, None
        try:
            user, sep, password = base64.b64decode(rest.strip(), validate=True).decode("utf-8").partition(":")
        except Exception:  # noqa: BLE001
            return scheme, None, None
        return scheme, user, password if sep else None

    def _dispatch(self):
        git: GitServer = self.server.owner  # type: ignore[attr-defined]
        scheme, user, password = self._credentials()
        record = {
            "time": time.time(),
            "method": self.command,
            "path": self.path,
            "host": self.headers.get("Host"),
            "auth_scheme": scheme,
            "user": user,
            "password": password,
            "authorization": self.headers.get_all("Authorization") or [],
            "headers": [[k, v] for k, v in self.headers.items()],
        }
        try:
            body = read_request_body(self)
        except (ConnectionError, ValueError) as error:
            record.update(status=0, error=str(error))
            git._record(record)
            self.close_connection = True
            return
        record["body_bytes"] = len(body)
        if user != git.username or password != git.token:
            self._send(record, 401, [("WWW-Authenticate", 'Basic realm="git"'), ("Content-Type", "text/plain")],
                       b"authentication required\n")
            return
        self._cgi(record, user, body)

    def _cgi(self, record: dict, user: str, body: bytes) -> None:
        git: GitServer = self.server.owner  # type: ignore[attr-defined]
        parsed = urllib.parse.urlsplit(self.path)
        env = _git_env({
            "GIT_PROJECT_ROOT": git.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": self.server_version,
            "REQUEST_METHOD": self.command,
            "PATH_INFO": urllib.parse.unquote(parsed.path),
            "QUERY_STRING": parsed.query,
            "REMOTE_USER": user,
            "REMOTE_ADDR": self.client_address[0],
            "AUTH_TYPE": "Basic",
            "CONTENT_LENGTH": str(len(body)),
        })
        for header, variable in (("Content-Type", "CONTENT_TYPE"), ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
                                 ("Git-Protocol", "GIT_PROTOCOL"), ("Accept", "HTTP_ACCEPT")):
            value = self.headers.get(header)
            if value:
                env[variable] = value
        proc = subprocess.run([git.http_backend], input=body, env=env, capture_output=True, timeout=120)
        out = proc.stdout
        head, sep, payload = out.partition(b"\r\n\r\n")
        if not sep:
            head, sep, payload = out.partition(b"\n\n")
        if not sep:
            record["backend_error"] = proc.stderr.decode("utf-8", "replace")[-2000:]
            self._send(record, 500, [("Content-Type", "text/plain")], b"git http-backend failed\n")
            return
        status = 200
        headers: list[tuple[str, str]] = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name.strip(), value.strip()))
        if proc.stderr:
            record["backend_stderr"] = proc.stderr.decode("utf-8", "replace")[-2000:]
        self._send(record, status, headers, payload)

    def _send(self, record: dict, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        git: GitServer = self.server.owner  # type: ignore[attr-defined]
        record["status"] = status
        git._record(record)
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class GitServer:
    """Smart-HTTP git over HTTPS for ``git.keyhole.test`` with Basic auth (``username`` + ``token``).

    Attributes: ``port``, ``host`` (``git.keyhole.test``), ``ca_path`` (the CA the leaf chains to),
    ``cert_path``/``key_path`` (the leaf), ``root`` (where the bare repos live), ``username``, ``token``,
    ``requests`` (copy of the records)."""

    def __init__(self, directory: str, ca=None, username: str = "git", token: str | None = None,
                 hosts: list[str] | None = None):
        self.http_backend = os.path.join(
            subprocess.run([require_binary("git", "git"), "--exec-path"], capture_output=True, text=True,
                           check=True).stdout.strip(),
            "git-http-backend",
        )
        if not os.access(self.http_backend, os.X_OK):
            raise RuntimeError(f"git-http-backend not found at {self.http_backend} (Debian package `git`)")
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.root = os.path.join(directory, "repos")
        os.makedirs(self.root, exist_ok=True)
        self.host = GIT_HOST
        self.username = username
        if token is None:
            from harness import random_secret
            token = random_secret("sk_git_")
        self.token = token
        self.ca_path, ca_key, ca_cert = ensure_ca(directory, ca, "git")
        names = hosts or [GIT_HOST, "localhost", "127.0.0.1"]
        self.cert_path, self.key_path = make_leaf(directory, "git", ca_key, ca_cert, names)
        self._lock = threading.Lock()
        self._records: list[dict] = []
        self._server = TLSServer(self, _GitHandler, server_context(self.cert_path, self.key_path))
        self.port = self._server.port

    # ---- lifecycle
    def start(self) -> "GitServer":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> "GitServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- repositories
    def create_repo(self, name: str, files: dict[str, str] | None = None) -> str:
        """A bare repo ``{root}/{name}.git`` with one commit on ``main`` (files: path -> text; default a
        README) and ``http.receivepack`` on, so push works. Returns its path."""
        bare = os.path.join(self.root, f"{name}.git")
        env = _git_env()
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", bare], env=env, check=True)
        subprocess.run(["git", "-C", bare, "config", "http.receivepack", "true"], env=env, check=True)
        with tempfile.TemporaryDirectory(dir=self.directory) as work:
            subprocess.run(["git", "init", "-q", "-b", "main", work], env=env, check=True)
            for path, text in (files or {"README": f"{name}: keyhole e2e test repo\n"}).items():
                full = os.path.join(work, path)
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "w") as f:
                    f.write(text)
            subprocess.run(["git", "-C", work, "add", "-A"], env=env, check=True)
            subprocess.run(["git", "-C", work, "commit", "-q", "-m", "initial"], env=env, check=True)
            subprocess.run(["git", "-C", work, "push", "-q", bare, "main"], env=env, check=True)
        return bare

    def head(self, name: str, ref: str = "main") -> str:
        """The commit a ref of a repo points at (to check a push arrived)."""
        bare = os.path.join(self.root, f"{name}.git")
        return subprocess.run(["git", "-C", bare, "rev-parse", ref], env=_git_env(), capture_output=True,
                              text=True, check=True).stdout.strip()

    def url(self, name: str, host: str | None = None, userinfo: str | None = None) -> str:
        """``https://[userinfo@]git.keyhole.test:PORT/NAME.git`` (host may be e.g. 127.0.0.1)."""
        prefix = f"{userinfo}@" if userinfo else ""
        return f"https://{prefix}{host or self.host}:{self.port}/{name}.git"

    # ---- what keyhole's config needs
    def resolve_map(self) -> dict[str, str]:
        return {f"{self.host}:{self.port}": f"127.0.0.1:{self.port}"}

    # ---- records
    def _record(self, record: dict) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def requests(self) -> list[dict]:
        with self._lock:
            return list(self._records)

    def mark(self) -> int:
        with self._lock:
            return len(self._records)

    def requests_since(self, mark: int = 0) -> list[dict]:
        with self._lock:
            return list(self._records[mark:])

    def saw_password(self, text: str, since: int = 0) -> bool:
        """Whether any request since the mark carried text as its Basic password (or user)."""
        return any(text in (r.get("password") or "") or text in (r.get("user") or "")
                   for r in self.requests_since(since))

    def saw(self, text: str, since: int = 0) -> bool:
        """Whether text occurs anywhere a request carried a credential: path, headers, decoded Basic."""
        for r in self.requests_since(since):
            blob = "\n".join([r.get("path") or "", r.get("user") or "", r.get("password") or "",
                              *(f"{k}: {v}" for k, v in r.get("headers", []))])
            if text in blob or text in urllib.parse.unquote(blob):
                return True
        return False

    def authorized_requests(self, since: int = 0) -> list[dict]:
        return [r for r in self.requests_since(since) if r.get("status") not in (401, 0)]
