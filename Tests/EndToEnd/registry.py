"""A real container registry for keyhole's end-to-end tests: Debian's ``docker-registry`` (distribution
2.8) over HTTPS for ``registry.keyhole.test`` with a leaf from the shared fixture CA and filesystem storage.

Two ways to authenticate:

- ``auth="htpasswd"`` (default): the registry itself demands Basic auth (bcrypt htpasswd).
- ``auth="token"``: the registry answers ``401`` + ``WWW-Authenticate: Bearer realm="https://auth.keyhole.test:
  PORT/token",service=...,scope=...``; a small Python token server on ``auth.keyhole.test`` demands Basic auth
  with the same user/password and issues ES256 JWTs (``x5c`` header: a signing leaf from the shared CA, which
  is the registry's ``rootcertbundle``). So the client's Basic credentials go to the auth host, and only
  short-lived bearer tokens go to the registry. Token requests are recorded (``token_requests``).

    registry = Registry(directory, ca, username="e2e", password="sk_registry_...").start()
    make_oci_layout(path, "v1")   # then: skopeo copy oci:PATH:v1 docker://registry.keyhole.test:PORT/demo:v1
    registry.stop()
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import secrets
import signal
import ssl
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from fixturetls import (TLSServer, die_with_parent, ensure_ca, make_leaf, read_request_body, require_binary,
                        server_context)
from harness import free_port

REGISTRY_HOST = "registry.keyhole.test"
AUTH_HOST = "auth.keyhole.test"
TOKEN_ISSUER = "keyhole-e2e-token-issuer"


# --------------------------------------------------------------------------------------------------
# An OCI image layout in pure Python


def _blob(layout: str, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def make_oci_layout(path: str, tag: str = "latest", layer_bytes: int = 0, content: bytes | None = None) -> dict:
    """Writes a tiny valid OCI image layout at path (one gzip tar layer holding ``/hello.txt``, a config,
    a manifest, index.json naming it ``tag``, oci-layout), usable as ``skopeo copy oci:PATH:TAG ...``.
    ``layer_bytes`` adds ``/random.bin`` with that many random (incompressible) bytes, for big uploads.
    Returns {"manifest": digest, "config": digest, "layer": digest, "layer_size": n}."""
    os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        files = {"hello.txt": content if content is not None else f"hello from keyhole e2e ({tag})\n".encode()}
        if layer_bytes:
            files["random.bin"] = os.urandom(layer_bytes)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    layer = _blob(path, gzip.compress(tar_bytes, mtime=0))
    config = _blob(path, json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(tar_bytes).hexdigest()}"]},
        "history": [{"created_by": "keyhole e2e make_oci_layout"}],
    }, sort_keys=True).encode())
    manifest = _blob(path, json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
    }, sort_keys=True).encode())
    index_path = os.path.join(path, "index.json")
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
    index["manifests"] = [m for m in index.get("manifests", [])
                          if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag]
    index["manifests"].append({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        **manifest,
        "annotations": {"org.opencontainers.image.ref.name": tag},
    })
    with open(index_path, "w") as f:
        json.dump(index, f)
    return {"manifest": manifest["digest"], "config": config["digest"], "layer": layer["digest"],
            "layer_size": layer["size"]}


# --------------------------------------------------------------------------------------------------
# The token server (auth="token")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _TokenHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "keyhole-e2e-token"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def do_GET(self):
        self._dispatch()

    do_POST = do_GET

    def _dispatch(self):
        registry: Registry = self.server.owner  # type: ignore[attr-defined]
        parsed = urllib.parse.urlsplit(self.path)
        values = self.headers.get_all("Authorization") or []
        user = password = None
        if len(values) == 1 and values[0][:6].lower() == "basic ":
            try:
                user, _, password = base64.b64decode(values[0][6:].strip(), validate=True).decode().partition(":")
            except Exception:  # noqa: BLE001
                user = password = None
        record = {"time": time.time(), "method": self.command, "path": self.path, "host": self.headers.get("Host"),
                  "user": user, "password": password, "authorization": values,
                  "headers": [[k, v] for k, v in self.headers.items()]}
        try:
            body = read_request_body(self)
        except (ConnectionError, ValueError):
            self.close_connection = True
            return
        query = urllib.parse.parse_qs(parsed.query)
        if self.command == "POST":  # OAuth2 form (refresh/password grants): we only take Basic + form scope
            query.update(urllib.parse.parse_qs(body.decode("utf-8", "replace")))
        if parsed.path != "/token":
            self._send(record, 404, {"errors": [{"code": "NOT_FOUND"}]})
            return
        if user != registry.username or password != registry.password:
            self._send(record, 401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                       [("WWW-Authenticate", 'Basic realm="registry token"')])
            return
        access = []
        for scope in query.get("scope", []):
            for item in scope.split(" "):
                parts = item.split(":")
                if len(parts) >= 3:
                    access.append({"type": parts[0], "name": ":".join(parts[1:-1]),
                                   "actions": [a for a in parts[-1].split(",") if a]})
        token = registry._issue_token(user, query.get("service", [registry.service])[0], access)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._send(record, 200, {"token": token, "access_token": token, "expires_in": 300, "issued_at": now})

    def _send(self, record: dict, status: int, payload: dict, headers=()):
        registry: Registry = self.server.owner  # type: ignore[attr-defined]
        record["status"] = status
        with registry._lock:
            registry._token_records.append(record)
        body = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# --------------------------------------------------------------------------------------------------
# The registry


class Registry:
    """``docker-registry`` on 127.0.0.1:``port`` for ``registry.keyhole.test``.

    Attributes: ``port``, ``host``, ``ca_path``, ``cert_dir`` (a directory with ``ca.crt``: skopeo's
    ``--dest-cert-dir``/``--src-cert-dir``/``--cert-dir``), ``username``, ``password``, ``auth``
    (``htpasswd``/``token``), ``log_path``; in token mode also ``auth_port``, ``auth_host``, ``realm``."""

    def __init__(self, directory: str, ca=None, username: str = "e2e", password: str | None = None,
                 auth: str = "htpasswd", auth_host: str = AUTH_HOST):
        if auth not in ("htpasswd", "token"):
            raise ValueError(f"auth must be htpasswd or token, not {auth!r}")
        self.binary = require_binary("docker-registry", "docker-registry")
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.host = REGISTRY_HOST
        self.auth = auth
        self.username = username
        if password is None:
            from harness import random_secret
            password = random_secret("sk_registry_")
        self.password = password
        self.ca_path, self._ca_key, self._ca_cert = ensure_ca(directory, ca, "registry")
        self.cert_path, self.key_path = make_leaf(directory, "registry", self._ca_key, self._ca_cert,
                                                  [REGISTRY_HOST, "localhost", "127.0.0.1"])
        self.cert_dir = os.path.join(directory, "certs.d")
        os.makedirs(self.cert_dir, exist_ok=True)
        with open(self.ca_path, "rb") as src, open(os.path.join(self.cert_dir, "ca.crt"), "wb") as dst:
            dst.write(src.read())
        self.storage = os.path.join(directory, "storage")
        os.makedirs(self.storage, exist_ok=True)
        self.config_path = os.path.join(directory, "config.yml")
        self.log_path = os.path.join(directory, "registry.log")
        self.port = free_port()
        self.service = REGISTRY_HOST
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._token_records: list[dict] = []
        self._token_server: TLSServer | None = None
        self.auth_host = auth_host  # the realm's host name (a smoke test without keyhole may use localhost)
        self.auth_port: int | None = None
        self.realm: str | None = None
        if auth == "token":
            self._signer_cert_path, signer_key_path = make_leaf(directory, "token-signer", self._ca_key,
                                                                self._ca_cert, [TOKEN_ISSUER])
            with open(signer_key_path, "rb") as f:
                self._signer_key = serialization.load_pem_private_key(f.read(), None)
            with open(self._signer_cert_path, "rb") as f:
                self._signer_der = x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)
            auth_cert, auth_key = make_leaf(directory, "auth", self._ca_key, self._ca_cert,
                                            [AUTH_HOST, auth_host, "localhost", "127.0.0.1"])
            self._token_server = TLSServer(self, _TokenHandler, server_context(auth_cert, auth_key))
            self.auth_port = self._token_server.port
            self.realm = f"https://{auth_host}:{self.auth_port}/token"
        self._write_config()

    # ---- configuration
    def _htpasswd_line(self) -> str:
        htpasswd = require_binary("htpasswd", "apache2-utils")
        # -i: the password on stdin, never in an argv.
        proc = subprocess.run([htpasswd, "-niB", self.username], input=self.password + "\n", capture_output=True,
                              text=True, check=True)
        return proc.stdout.strip() + "\n"

    def _write_config(self) -> None:
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {json.dumps(self.storage)}",
            "  delete:",
            "    enabled: true",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            f"  secret: {secrets.token_hex(16)}",
            "  tls:",
            f"    certificate: {json.dumps(self.cert_path)}",
            f"    key: {json.dumps(self.key_path)}",
            "auth:",
        ]
        if self.auth == "htpasswd":
            htpasswd_path = os.path.join(self.directory, "htpasswd")
            with open(htpasswd_path, "w") as f:
                f.write(self._htpasswd_line())
            os.chmod(htpasswd_path, 0o600)
            lines += ["  htpasswd:", '    realm: "registry"', f"    path: {json.dumps(htpasswd_path)}"]
        else:
            lines += [
                "  token:",
                f"    realm: {json.dumps(self.realm)}",
                f"    service: {json.dumps(self.service)}",
                f"    issuer: {json.dumps(TOKEN_ISSUER)}",
                f"    rootcertbundle: {json.dumps(self.ca_path)}",
            ]
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _issue_token(self, subject: str, audience: str, access: list[dict]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self._signer_der).decode()]}
        claims = {"iss": TOKEN_ISSUER, "sub": subject, "aud": audience, "exp": now + 300, "nbf": now - 60,
                  "iat": now, "jti": secrets.token_hex(12), "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        der = self._signer_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    # ---- lifecycle
    def start(self, timeout: float = 30) -> "Registry":
        if self._token_server is not None:
            self._token_server.start()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.directory}
        log = open(self.log_path, "ab")
        self._proc = subprocess.Popen([self.binary, "serve", self.config_path], stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                      preexec_fn=die_with_parent)
        log.close()
        context = ssl.create_default_context(cafile=self.ca_path)
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"docker-registry exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(f"https://127.0.0.1:{self.port}/v2/", context=context, timeout=2)
                break
            except urllib.error.HTTPError:
                break  # 401: it answers
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"docker-registry did not answer on port {self.port}:\n{self.log_tail()}")
                time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        if self._token_server is not None:
            self._token_server.stop()
            self._token_server = None

    def __enter__(self) -> "Registry":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_tail(self, size: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-size:].decode("utf-8", "replace")
        except OSError:
            return ""

    # ---- addresses
    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"

    def ref(self, repository: str, tag: str = "latest", host: str | None = None) -> str:
        """``docker://registry.keyhole.test:PORT/REPO:TAG`` for skopeo."""
        return f"docker://{host or self.host}:{self.port}/{repository}:{tag}"

    def resolve_map(self) -> dict[str, str]:
        out = {f"{self.host}:{self.port}": f"127.0.0.1:{self.port}"}
        if self.auth_port is not None:
            out[f"{self.auth_host}:{self.auth_port}"] = f"127.0.0.1:{self.auth_port}"
        return out

    # ---- token server records (auth="token")
    @property
    def token_requests(self) -> list[dict]:
        with self._lock:
            return list(self._token_records)

    def token_server_saw_password(self, text: str) -> bool:
        return any(text in (r.get("password") or "") for r in self.token_requests)
