"""The per-user daemon: auto-start by client commands, one instance, status, stop, files it makes."""

from __future__ import annotations

import os
import re
import resource
import signal
import stat
import subprocess
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from harness import pid_alive


def test_client_command_autostarts_daemon(user):
    assert not user.own_processes(), "no daemon should run before the first command"
    result = user.ok("list")
    assert "Traceback" not in result.stderr
    status = user.status()
    pid = status["pid"]
    assert isinstance(pid, int) and pid_alive(pid), f"status pid {pid} is not a live process"
    assert pid != os.getpid()
    assert user.daemon_pids() == [pid], f"expected exactly the status pid to be a daemon: {user.daemon_pids()}"


def test_status_json_fields(user):
    status = user.status()
    assert status["proxy"] == f"127.0.0.1:{user.listen_port}", "proxy must be the config.toml listen address"
    assert status["store"] == "file"
    ca = status["ca"]
    assert os.path.isabs(ca) and os.path.isfile(ca), f"ca is not an absolute path to a file: {ca!r}"
    assert ca.startswith(str(user.data_dir)), f"CA should be in the data dir {user.data_dir}, is {ca}"
    cert = x509.load_pem_x509_certificate(open(ca, "rb").read())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1", "CA must be P-256"


def test_status_plain_text(user):
    result = user.ok("status")
    assert str(user.listen_port) in result.stdout, f"status should name the proxy address:\n{result}"


def test_runtime_and_data_permissions(user):
    user.status()
    runtime = user.keyhole_runtime_dir
    assert runtime.is_dir(), f"runtime dir {runtime} missing"
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700, oct(runtime.stat().st_mode)
    sockets = [p for p in runtime.iterdir() if stat.S_ISSOCK(p.lstat().st_mode)]
    assert sockets, f"no control socket in {runtime}: {list(runtime.iterdir())}"
    for sock in sockets:
        assert stat.S_IMODE(sock.lstat().st_mode) == 0o600, f"{sock} mode {oct(sock.lstat().st_mode)}"
    assert user.data_dir.is_dir()
    assert stat.S_IMODE(user.data_dir.stat().st_mode) & 0o077 == 0, f"data dir mode {oct(user.data_dir.stat().st_mode)}"
    keys = [p for p in user.data_dir.iterdir() if p.is_file() and b"PRIVATE KEY" in p.read_bytes()]
    assert keys, "the CA private key should be in the data dir"
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, f"{key} mode {oct(key.stat().st_mode)}"


def test_runtime_fallback_without_xdg_runtime_dir(make_user):
    """Without XDG_RUNTIME_DIR the runtime dir is /tmp/keyhole-$UID (only checked when nothing else uses it)."""
    fallback = f"/tmp/keyhole-{os.getuid()}"
    if os.path.exists(fallback):
        import pytest
        pytest.skip(f"{fallback} exists already (another keyhole user on this machine)")
    user = make_user()
    del user.env["XDG_RUNTIME_DIR"]
    try:
        user.status()
        assert os.path.isdir(fallback)
        assert stat.S_IMODE(os.stat(fallback).st_mode) == 0o700
    finally:
        user.stop_daemon()
        subprocess.run(["rm", "-rf", fallback], check=False)


def test_concurrent_clients_start_one_daemon(user):
    results = []

    def client():
        results.append(user.cmd("list", timeout=60))

    threads = [threading.Thread(target=client) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [r for r in results if r.returncode != 0]
    assert not failed, "\n".join(str(r) for r in failed)
    time.sleep(0.5)
    daemons = user.own_processes()
    assert len(daemons) == 1, f"expected exactly one keyhole process (the daemon), found {daemons}"
    assert user.status()["pid"] == daemons[0]


def test_second_daemon_refuses_and_exits_1(user):
    first = user.status()["pid"]
    result = user.cmd("daemon", timeout=20)
    assert result.returncode == 1, f"a second daemon must exit 1:\n{result}"
    assert re.search(r"already|running", result.stdout + result.stderr, re.I), f"it should say one runs:\n{result}"
    assert pid_alive(first) and user.status()["pid"] == first, "the first daemon must keep running"


def test_foreground_daemon_with_listen_flag(make_user):
    """`keyhole daemon --listen` runs in the foreground; client commands use it; SIGTERM ends it cleanly."""
    from harness import free_port
    user = make_user(write_config=False)
    port = free_port()
    errors = open(user.scratch / "daemon.stderr", "w+b")
    proc = subprocess.Popen([str(user.binary), "daemon", "--listen", f"127.0.0.1:{port}", "--store", "file"],
                            env=user.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=errors, cwd=str(user.scratch))
    user.known_pids.add(proc.pid)
    try:
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                errors.seek(0)
                raise AssertionError(f"daemon exited {proc.returncode}: {errors.read().decode()[-2000:]}")
            if (user.keyhole_runtime_dir).exists() and any(
                    p.is_socket() for p in user.keyhole_runtime_dir.iterdir()):
                status = user.status()
                break
            time.sleep(0.1)
        assert status is not None, "daemon did not come up"
        assert status["pid"] == proc.pid, "the client must talk to the foreground daemon, not start another"
        assert status["proxy"] == f"127.0.0.1:{port}"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, "graceful shutdown on SIGTERM should exit 0"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_stop_and_restart(user):
    first = user.status()["pid"]
    user.ok("stop")
    deadline = time.monotonic() + 10
    while pid_alive(first) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(first), "keyhole stop must end the daemon"
    second = user.status()["pid"]
    assert second != first and pid_alive(second), "a client command after stop starts a new daemon"


def test_sigterm_is_graceful_and_restart_works(user):
    first = user.status()["pid"]
    os.kill(first, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while pid_alive(first) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(first), "SIGTERM must end the daemon within 10 s"
    # Stale socket/pid files must not stop the next start.
    second = user.status()["pid"]
    assert second != first


def test_daemon_has_no_core_dumps(user):
    pid = user.status()["pid"]
    limits = open(f"/proc/{pid}/limits").read()
    line = next(l for l in limits.splitlines() if l.startswith("Max core file size"))
    soft, hard = line.split()[4:6]
    assert soft == "0", f"core dumps must be off (RLIMIT_CORE soft 0): {line!r}"


def test_daemon_raises_its_open_files_limit_to_the_hard_limit(user):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"the hard open-files limit {hard} leaves no room to lower the soft one")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))  # the auto-started daemon inherits a low soft limit
    try:
        pid = user.status()["pid"]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    limits = open(f"/proc/{pid}/limits").read()
    line = next(l for l in limits.splitlines() if l.startswith("Max open files"))
    daemon_soft, daemon_hard = line.split()[3:5]
    assert daemon_soft == daemon_hard, f"the daemon must raise its soft fd limit to the hard one: {line!r}"


def test_stop_without_daemon_does_not_start_one(user):
    result = user.cmd("stop")
    assert result.returncode in (0, 1), str(result)
    time.sleep(0.5)
    assert not user.own_processes(), "`stop` is not a client command that auto-starts the daemon"


def test_store_auto_without_bus_is_file(make_user):
    user = make_user(store="auto")
    start = time.monotonic()
    status = user.status()
    assert status["store"] == "file", "auto without a session bus must fall back to the vault"
    assert time.monotonic() - start < 15
