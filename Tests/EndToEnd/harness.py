"""Drives the built ``keyhole`` binary as one isolated user: a temporary HOME with every XDG variable
under it, its own config.toml, its own daemon. Used by conftest.py's fixtures and the tests."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable  # the real interpreter: pyenv shims need the real HOME, tests change it

# Variables from the outer environment that must not leak into keyhole or its children.
_DROPPED = re.compile(
    r"^(KEYHOLE_.*|XDG_.*|DBUS_SESSION_BUS_ADDRESS|GNOME_KEYRING_.*|SSH_AUTH_SOCK|"
    r"(HTTPS?|ALL|NO)_PROXY|(https?|all|no)_proxy|SSL_CERT_.*|CURL_CA_BUNDLE|REQUESTS_CA_BUNDLE|"
    r"GIT_SSL_CAINFO|AWS_CA_BUNDLE|PIP_CERT|CARGO_HTTP_CAINFO|DENO_CERT|NODE_EXTRA_CA_CERTS|"
    r"JAVA_TOOL_OPTIONS|JDK_JAVA_OPTIONS|NODE_OPTIONS|NODE_USE_ENV_PROXY|PYENV_VERSION|VIRTUAL_ENV)$"
)

PROXY_VARS = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
NO_PROXY_VARS = ["NO_PROXY", "no_proxy"]
BUNDLE_VARS = [
    "SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO", "AWS_CA_BUNDLE",
    "PIP_CERT", "CARGO_HTTP_CAINFO", "DENO_CERT",
]
PROXY_URL = re.compile(r"^http://keyhole:([^@/]+)@127\.0\.0\.1:(\d+)$")


def keyhole_binary() -> Path:
    configured = os.environ.get("KEYHOLE_BIN")
    return Path(configured) if configured else REPO / ".build" / "debug" / "keyhole"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SECRETS: set[str] = set()


def random_secret(prefix: str = "sk_e2e_") -> str:
    """A distinctive secret value that cannot occur by accident. It is remembered so that failure
    messages can redact it (tests never print a secret, not even a test one)."""
    value = prefix + base64.b32encode(os.urandom(20)).decode().rstrip("=").lower()
    _SECRETS.add(value)
    return value


_SECRET_SHAPE = re.compile(r"sk_[A-Za-z0-9_]+(\.\.\.[A-Za-z0-9_]*)?")


def redact(text: str) -> str:
    text = _SECRET_SHAPE.sub("<a secret, redacted>", text)
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "<a secret, redacted>")
        encoded = base64.b64encode(secret.encode()).decode()[:-4]
        if encoded in text:
            text = text.replace(encoded, "<a base64 secret, redacted>")
    return text


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class KeyholeTimeout(AssertionError):
    pass


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:  # shown in assertion messages; never holds a secret we passed on stdin
        return redact(f"keyhole {' '.join(self.args)} -> exit {self.returncode}\n--- stdout\n"
                      f"{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}")


class KeyholeUser:
    """One isolated user of keyhole (all paths under a temp HOME)."""

    def __init__(self, *, store: str = "file", passphrase: str | None = "e2e passphrase (not a secret)",
                 upstream=None, listen_port: int | None = None, extra_env: dict[str, str] | None = None,
                 write_config: bool = True):
        self.binary = keyhole_binary()
        # Short paths: the control socket lives under XDG_RUNTIME_DIR and AF_UNIX paths are limited.
        self.root = Path(tempfile.mkdtemp(prefix="khe2e-", dir="/tmp"))
        self.home = self.root / "home"
        self.scratch = self.root / "scratch"  # for test files that must not count as "under HOME"
        self.config_home = self.home / ".config"
        self.data_home = self.home / ".local" / "share"
        self.state_home = self.home / ".local" / "state"
        self.runtime_dir = self.home / "run"
        for d in (self.home, self.scratch, self.config_home, self.data_home, self.state_home):
            d.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.mkdir(mode=0o700)
        os.chmod(self.runtime_dir, 0o700)
        self.upstream = upstream
        self.listen_port = listen_port or free_port()
        self.env = {k: v for k, v in os.environ.items() if not _DROPPED.match(k)}
        self.env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.config_home),
            XDG_DATA_HOME=str(self.data_home),
            XDG_STATE_HOME=str(self.state_home),
            XDG_RUNTIME_DIR=str(self.runtime_dir),
            KEYHOLE_STORE=store,
            LANG="C.UTF-8",
            LC_ALL="C.UTF-8",
        )
        if passphrase is not None:
            self.env["KEYHOLE_PASSPHRASE"] = passphrase
        if extra_env:
            self.env.update(extra_env)
        self.known_pids: set[int] = set()
        if write_config:
            self.write_config()

    # ---- locations (as the issue defines them)
    @property
    def config_dir(self) -> Path:
        return self.config_home / "keyhole"

    @property
    def data_dir(self) -> Path:
        return self.data_home / "keyhole"

    @property
    def state_dir(self) -> Path:
        return self.state_home / "keyhole"

    @property
    def keyhole_runtime_dir(self) -> Path:
        return self.runtime_dir / "keyhole"

    @property
    def audit_log(self) -> Path:
        return self.state_dir / "audit.jsonl"

    @property
    def daemon_log(self) -> Path:
        return self.state_dir / "daemon.log"

    def vault_files(self) -> list[Path]:
        """The file vault (and its key file, if any) in the data dir: everything there but the CA."""
        if not self.data_dir.exists():
            return []
        return [p for p in self.data_dir.iterdir() if "vault" in p.name]

    def write_config(self, extra_ca: list[str] = (), extra_resolve: dict[str, str] | None = None,
                     **overrides) -> None:
        """config.toml: the upstream's CA and names, plus other servers' (``extra_ca``, ``extra_resolve``)."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        lines = [f'listen = "127.0.0.1:{self.listen_port}"']
        cas = ([self.upstream.ca_path] if self.upstream is not None else []) + list(extra_ca)
        resolve = dict(self.upstream.resolve_map()) if self.upstream is not None else {}
        resolve.update(extra_resolve or {})
        if cas:
            lines.append(f"upstream_ca = [{', '.join(json.dumps(c) for c in cas)}]")
        if resolve:
            entries = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in resolve.items())
            lines.append(f"resolve = {{ {entries} }}")
        for key, value in overrides.items():
            lines.append(f"{key} = {value}")
        (self.config_dir / "config.toml").write_text("\n".join(lines) + "\n")

    # ---- running commands
    def cmd(self, *args: str, input: str | bytes | None = None, timeout: float = 30,
            env: dict[str, str] | None = None, cwd: str | None = None) -> Result:
        """Runs ``keyhole ARGS`` and returns its result; stdin is a pipe (not a TTY), or /dev/null."""
        full_env = dict(self.env)
        if env:
            full_env.update(env)
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.Popen(
            [str(self.binary), *args],
            stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env,
            cwd=cwd or (str(self.scratch) if self.scratch.is_dir() else "/"),
        )
        try:
            out, err = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            exited = proc.poll() is not None
            proc.kill()
            try:
                out, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                out, err = b"", b""
            if exited:
                raise KeyholeTimeout(
                    f"keyhole {' '.join(args)} exited but its stdout/stderr stayed open for {timeout}s: "
                    "the auto-started daemon probably inherited the client's pipes (it must redirect its "
                    f"stdio).\nstdout so far: {out.decode(errors='replace')[-500:]}\n"
                    f"stderr so far: {err.decode(errors='replace')[-500:]}"
                ) from None
            raise KeyholeTimeout(
                f"keyhole {' '.join(args)} did not finish in {timeout}s\nstdout: "
                f"{out.decode(errors='replace')[-1000:]}\nstderr: {err.decode(errors='replace')[-1000:]}"
            ) from None
        return Result(list(args), proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))

    def ok(self, *args: str, **kwargs) -> Result:
        result = self.cmd(*args, **kwargs)
        assert result.returncode == 0, f"expected success:\n{result}"
        return result

    def status(self) -> dict:
        result = self.ok("status", "--json")
        try:
            status = json.loads(result.stdout)
        except json.JSONDecodeError as error:
            raise AssertionError(f"status --json is not JSON ({error}):\n{result}") from None
        if isinstance(status.get("pid"), int):
            self.known_pids.add(status["pid"])
        return status

    def proxy_port(self) -> int:
        return int(self.status()["proxy"].rsplit(":", 1)[1])

    def add(self, name: str, secret: str, *hosts: str, inject: str | None = None, env_var: str | None = None,
            username: str | None = None, extra: tuple[str, ...] = ()) -> Result:
        args = ["add", name]
        for host in hosts:
            args += ["--host", host]
        if username:
            args += ["--username", username]
        if inject:
            args += ["--inject", inject]
        if env_var:
            args += ["--env", env_var]
        return self.ok(*args, *extra, input=secret)

    def run(self, *command: str, only: tuple[str, ...] | list[str] = (), timeout: float = 60,
            input: str | None = None, env: dict[str, str] | None = None) -> Result:
        args = ["run"]
        for name in only:
            args += ["--only", name]
        return self.cmd(*args, "--", *command, timeout=timeout, input=input, env=env)

    def run_sh(self, script: str, only=(), **kwargs) -> Result:
        return self.run("sh", "-c", script, only=only, **kwargs)

    def run_env(self, only=()) -> dict[str, str]:
        """The environment a ``keyhole run`` child sees."""
        result = self.run(PYTHON, "-c", "import os, json; print(json.dumps(dict(os.environ)))", only=only)
        assert result.returncode == 0, f"keyhole run failed:\n{result}"
        return json.loads(result.stdout.strip().splitlines()[-1])

    def pidfile_pid(self) -> int | None:
        path = self.keyhole_runtime_dir / "keyhole.pid"
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    def own_processes(self) -> list[int]:
        """Processes that run the keyhole binary with this user's HOME (found through /proc)."""
        pids = []
        marker = f"HOME={self.home}".encode()
        binary = os.path.realpath(self.binary)
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    environ = f.read().split(b"\0")
                exe = os.readlink(f"/proc/{entry}/exe").removesuffix(" (deleted)")
            except OSError:
                continue
            is_keyhole = exe == binary or os.path.basename(exe).startswith("keyhole")
            if marker in environ and is_keyhole and pid_alive(int(entry)):
                pids.append(int(entry))
        return pids

    def daemon_pids(self) -> list[int]:
        """Live keyhole processes of this user that are daemons (not a short-lived client)."""
        out = []
        for pid in self.own_processes():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if b"daemon" in argv or pid in self.known_pids or pid == self.pidfile_pid():
                out.append(pid)
        return out

    def stop_daemon(self, timeout: float = 10) -> None:
        """``keyhole stop``, then SIGTERM/SIGKILL whatever of this user's keyhole processes remain."""
        candidates = set(self.known_pids)
        pid = self.pidfile_pid()
        if pid:
            candidates.add(pid)
        candidates.update(self.own_processes())
        try:
            self.cmd("stop", timeout=timeout)
        except (AssertionError, OSError):
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(pid_alive(p) for p in candidates):
            time.sleep(0.1)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            # Only processes that are still this user's: pids wrap quickly here (pid_max 32768), so a pid this user
            # once knew may belong to another test's daemon by now.
            alive = [p for p in self.own_processes() if pid_alive(p)]
            for p in alive:
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
            if alive:
                time.sleep(1)

    def cleanup(self) -> None:
        self.stop_daemon()
        if os.environ.get("KEYHOLE_E2E_KEEP"):
            print(f"kept {self.root}", file=sys.stderr)
            return
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- files
    def all_files(self) -> list[Path]:
        files = []
        for dirpath, _dirs, names in os.walk(self.home):
            for name in names:
                path = Path(dirpath) / name
                if path.is_file() and not path.is_symlink():
                    files.append(path)
        return files

    def audit_records(self) -> list[dict]:
        if not self.audit_log.exists():
            return []
        records = []
        for line in self.audit_log.read_text().splitlines():
            if line.strip():
                records.append(json.loads(line))
        return records


# --------------------------------------------------------------------------------------------------
# Session helpers


@dataclass
class Session:
    """What a ``keyhole run`` child learns: proxy URL (with token), CA bundle, placeholders."""
    env: dict[str, str]

    @property
    def proxy_url(self) -> str:
        return self.env["HTTPS_PROXY"]

    @property
    def token(self) -> str:
        match = PROXY_URL.match(self.proxy_url)
        assert match, f"HTTPS_PROXY has an unexpected shape: {self.proxy_url!r}"
        return match.group(1)

    @property
    def port(self) -> int:
        match = PROXY_URL.match(self.proxy_url)
        assert match, f"HTTPS_PROXY has an unexpected shape: {self.proxy_url!r}"
        return int(match.group(2))

    @property
    def bundle(self) -> str:
        return self.env["SSL_CERT_FILE"]


def env_session(user: KeyholeUser) -> Session:
    """Opens a TTL session with ``keyhole env --shell json`` (it outlives the command)."""
    result = user.cmd("env", "--shell", "json")
    assert result.returncode == 0, f"keyhole env failed:\n{result}"
    return Session(json.loads(result.stdout))


def proxy_auth_header(token: str, user: str = "keyhole") -> str:
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def read_http_head(sock) -> tuple[int, dict[str, str], bytes]:
    """Reads a response head from a socket; returns (status, headers lower-cased, bytes after the head)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines or not lines[0].startswith("HTTP/"):
        raise ConnectionError(f"no HTTP response (got {data[:200]!r})")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


def read_http_response(sock) -> tuple[int, dict[str, str], bytes]:
    """A whole response with a Content-Length body (or none)."""
    status, headers, body = read_http_head(sock)
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def connect_tunnel(proxy_port: int, authority: str, token: str | None, user: str = "keyhole",
                   timeout: float = 10) -> tuple[socket.socket, int, dict[str, str]]:
    """Sends CONNECT to keyhole's proxy; returns (socket, status, headers)."""
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=timeout)
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if token is not None:
        lines.append(f"Proxy-Authorization: {proxy_auth_header(token, user)}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    status, headers, _rest = read_http_head(sock)
    return sock, status, headers


def tls_client(sock: socket.socket, cafile: str | None, server_hostname: str | None,
               check_hostname: bool = True) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
    if not check_hostname:
        context.check_hostname = False
    context.set_alpn_protocols(["http/1.1"])
    return context.wrap_socket(sock, server_hostname=server_hostname)


# --------------------------------------------------------------------------------------------------
# A real gnome-keyring on a private session bus


class Keyring:
    """dbus-daemon + gnome-keyring-daemon (secrets component), headless, for one KeyholeUser.

    Both run with the user's HOME/XDG dirs, so the login keyring lives under that HOME and whatever the
    bus activates uses it too. The login keyring is created unlocked with `password`."""

    COLLECTION = "/org/freedesktop/secrets/collection/login"

    def __init__(self, user: KeyholeUser, password: str = "keyring password (test)"):
        self.user = user
        self.password = password
        self.address = f"unix:path={user.runtime_dir}/bus"
        self.env = dict(user.env)
        self.env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        self.bus: subprocess.Popen | None = None
        self.keyring: subprocess.Popen | None = None

    @staticmethod
    def available() -> str | None:
        for tool in ("dbus-daemon", "gnome-keyring-daemon", "secret-tool", "gdbus"):
            if shutil.which(tool) is None:
                return f"{tool} not installed (Debian: dbus gnome-keyring libsecret-tools libglib2.0-bin)"
        return None

    def start(self) -> "Keyring":
        self.bus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address={self.address}"],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + 10
        while not (self.user.runtime_dir / "bus").exists():
            if time.monotonic() > deadline or self.bus.poll() is not None:
                raise RuntimeError("dbus-daemon did not start")
            time.sleep(0.05)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = self.address
        self.user.env["DBUS_SESSION_BUS_ADDRESS"] = self.address
        self.start_keyring()
        return self

    def start_keyring(self) -> None:
        self.keyring = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            env=self.env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.keyring.stdin.write(self.password.encode())
        self.keyring.stdin.close()
        deadline = time.monotonic() + 15
        while self.locked() is not False:
            if time.monotonic() > deadline:
                raise RuntimeError("gnome-keyring did not come up with an unlocked login collection")
            time.sleep(0.1)

    def gdbus(self, *args: str, timeout: float = 10) -> subprocess.CompletedProcess:
        return subprocess.run(["gdbus", "call", "--session", "--dest", "org.freedesktop.secrets", *args],
                              env=self.env, capture_output=True, text=True, timeout=timeout)

    def locked(self) -> bool | None:
        result = self.gdbus("--object-path", self.COLLECTION, "--method", "org.freedesktop.DBus.Properties.Get",
                            "org.freedesktop.Secret.Collection", "Locked", timeout=5)
        if "true" in result.stdout:
            return True
        if "false" in result.stdout:
            return False
        return None

    def lock(self) -> None:
        self.gdbus("--object-path", "/org/freedesktop/secrets", "--method", "org.freedesktop.Secret.Service.Lock",
                   f"['{self.COLLECTION}']")
        assert self.locked() is True, "could not lock the login collection"

    def kill_keyring(self) -> None:
        """Ends gnome-keyring-daemon (the bus may activate a new one: its login keyring is then locked)."""
        if self.keyring and self.keyring.poll() is None:
            self.keyring.kill()
            self.keyring.wait(timeout=10)

    def secret_tool(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["secret-tool", *args], env=self.env, input=input, capture_output=True, text=True,
                              timeout=20)

    def stop(self) -> None:
        self.kill_keyring()
        # Keyring daemons the bus activated on demand: find them by this user's HOME.
        marker = f"HOME={self.user.home}".encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    environ = f.read().split(b"\0")
                exe = os.path.basename(os.readlink(f"/proc/{entry}/exe"))
            except OSError:
                continue
            if marker in environ and exe.startswith(("gnome-keyring", "gcr-prompter")):
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.bus and self.bus.poll() is None:
            self.bus.terminate()
            try:
                self.bus.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.bus.kill()
                self.bus.wait()
