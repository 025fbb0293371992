"""Client commands: add/list/rm/rotate/env/run, without the proxy path (see test_proxy.py for that)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import pytest
from cryptography import x509

from harness import (BUNDLE_VARS, NO_PROXY_VARS, PROXY_URL, PROXY_VARS, PYTHON, random_secret, redact)

API = "api.keyhole.test"


def listed(user) -> list[dict]:
    result = user.ok("list", "--json")
    data = json.loads(result.stdout)
    if isinstance(data, dict):  # {"credentials": [...]} or {"NAME": {...}}
        data = data.get("credentials", [dict(v, name=k) if isinstance(v, dict) else {"name": k}
                                         for k, v in data.items()])
    assert isinstance(data, list), f"list --json should be a list of credentials:\n{result}"
    return data


def names(user) -> set[str]:
    return {entry["name"] for entry in listed(user)}


# ---- add


def test_add_from_stdin_and_list(module_user):
    secret = random_secret()
    result = module_user.add("cmd-add", secret, API, "*.keyhole.test:8443", env_var="CMD_ADD_TOKEN")
    assert secret not in result.stdout + result.stderr
    entries = {e["name"]: e for e in listed(module_user)}
    assert "cmd-add" in entries
    text = json.dumps(entries["cmd-add"])
    assert API in text and "*.keyhole.test:8443" in text, f"hosts missing from list --json: {text}"
    assert "CMD_ADD_TOKEN" in text, f"env var missing from list --json: {text}"
    plain = module_user.ok("list")
    assert "cmd-add" in plain.stdout


def test_add_empty_secret_refused(module_user):
    result = module_user.cmd("add", "cmd-empty", "--host", API, input="")
    assert result.returncode != 0, f"an empty secret must be refused:\n{result}"
    assert "cmd-empty" not in names(module_user)


def test_add_newline_only_secret_refused(module_user):
    result = module_user.cmd("add", "cmd-newline", "--host", API, input="\n")
    assert result.returncode != 0, f"a secret that is only a newline is empty:\n{result}"
    assert "cmd-newline" not in names(module_user)


@pytest.mark.parametrize("argv", [
    ["--secret", "argv-secret-value"],
    ["--value", "argv-secret-value"],
    ["argv-secret-value"],
])
def test_add_secret_not_accepted_from_argv(module_user, argv):
    result = module_user.cmd("add", "cmd-argv", "--host", API, *argv, input="")
    assert result.returncode != 0, f"no way to pass a secret in argv:\n{result}"
    assert "cmd-argv" not in names(module_user)


def test_add_without_host_refused(module_user):
    result = module_user.cmd("add", "cmd-nohost", input=random_secret())
    assert result.returncode != 0, f"a credential needs at least one --host:\n{result}"


def test_add_inject_without_placeholder_token_refused(module_user):
    result = module_user.cmd("add", "cmd-badinject", "--host", API, "--inject", "Authorization: Bearer",
                             input=random_secret())
    assert result.returncode != 0, f"--inject without {{secret}} cannot work:\n{result}"


# ---- list / rm


def test_list_json_has_no_secret(module_user):
    secret = random_secret()
    module_user.add("cmd-listjson", secret, API, env_var="CMD_LISTJSON")
    out = module_user.ok("list", "--json").stdout + module_user.ok("list").stdout
    assert secret not in out, "list must never show a secret"


def test_rm(module_user):
    module_user.add("cmd-rm", random_secret(), API, env_var="CMD_RM_TOKEN")
    assert "CMD_RM_TOKEN" in module_user.run_env()
    module_user.ok("rm", "cmd-rm")
    assert "cmd-rm" not in names(module_user)
    assert "CMD_RM_TOKEN" not in module_user.run_env(), "a removed credential has no placeholder"
    result = module_user.cmd("rm", "cmd-rm")
    assert result.returncode != 0, f"removing an unknown name must fail:\n{result}"


def test_rotate_unknown_refused(module_user):
    result = module_user.cmd("rotate", "cmd-nosuch", input=random_secret())
    assert result.returncode != 0, str(result)


def test_rotate_empty_refused(module_user):
    module_user.add("cmd-rotempty", random_secret(), API)
    result = module_user.cmd("rotate", "cmd-rotempty", input="")
    assert result.returncode != 0, f"rotate to an empty secret must be refused:\n{result}"


# ---- run


def test_run_environment_is_exact(module_user):
    secret = random_secret()
    module_user.add("cmd-env", secret, API, env_var="CMD_ENV_TOKEN")
    env = module_user.run_env(only=["cmd-env"])
    status = module_user.status()
    for var in PROXY_VARS:
        assert var in env, f"{var} missing from the run environment"
    values = {env[v] for v in PROXY_VARS}
    assert len(values) == 1, f"all proxy variables must hold the same URL: {sorted(values)}"
    match = PROXY_URL.match(env["HTTPS_PROXY"])
    assert match, f"proxy URL shape: {env['HTTPS_PROXY']!r}"
    token, port = match.groups()
    assert f"127.0.0.1:{port}" == status["proxy"]
    assert len(token) >= 22, "a session token carries at least 128 bits"
    for var in NO_PROXY_VARS:
        assert env.get(var) == "localhost,127.0.0.1,::1", f"{var}={env.get(var)!r}"
    bundles = {env.get(v) for v in BUNDLE_VARS}
    assert None not in bundles, f"missing bundle variables: {[v for v in BUNDLE_VARS if v not in env]}"
    assert len(bundles) == 1, f"all bundle variables must name the same file: {bundles}"
    bundle = bundles.pop()
    ca_pem = open(status["ca"], "rb").read()
    ca = x509.load_pem_x509_certificate(ca_pem)
    bundle_certs = x509.load_pem_x509_certificates(open(bundle, "rb").read())
    assert ca in bundle_certs, "the bundle must contain the keyhole CA"
    assert len(bundle_certs) > 10, "the bundle must also contain the system roots"
    node = x509.load_pem_x509_certificates(open(env["NODE_EXTRA_CA_CERTS"], "rb").read())
    assert node == [ca], "NODE_EXTRA_CA_CERTS is the keyhole CA alone"
    assert env.get("KEYHOLE_SESSION"), "KEYHOLE_SESSION must be set"
    placeholder = env["CMD_ENV_TOKEN"]
    assert placeholder != secret and secret not in json.dumps(env)
    assert len(placeholder) >= 22, "a placeholder carries at least 128 bits"
    assert "KEYHOLE_PASSPHRASE" not in env, "the vault passphrase must never reach the child"


def test_run_only_limits_credentials(module_user):
    module_user.add("cmd-only-a", random_secret(), API, env_var="CMD_ONLY_A")
    module_user.add("cmd-only-b", random_secret(), API, env_var="CMD_ONLY_B")
    both = module_user.run_env()
    assert "CMD_ONLY_A" in both and "CMD_ONLY_B" in both
    one = module_user.run_env(only=["cmd-only-a"])
    assert "CMD_ONLY_A" in one and "CMD_ONLY_B" not in one


def test_run_only_unknown_name_fails(module_user):
    result = module_user.run("true", only=["cmd-no-such-credential"])
    assert result.returncode != 0, f"--only with an unknown name should fail:\n{result}"


def test_placeholders_and_tokens_differ_per_session(module_user):
    module_user.add("cmd-persession", random_secret(), API, env_var="CMD_PERSESSION")
    a = module_user.run_env(only=["cmd-persession"])
    b = module_user.run_env(only=["cmd-persession"])
    assert a["CMD_PERSESSION"] != b["CMD_PERSESSION"]
    assert a["HTTPS_PROXY"] != b["HTTPS_PROXY"]


def test_placeholders_differ_per_credential(module_user):
    same = random_secret()
    module_user.add("cmd-same-1", same, API, env_var="CMD_SAME_1")
    module_user.add("cmd-same-2", same, API, env_var="CMD_SAME_2")
    env = module_user.run_env(only=["cmd-same-1", "cmd-same-2"])
    assert env["CMD_SAME_1"] != env["CMD_SAME_2"], "placeholders are random, unrelated to the secret"


@pytest.mark.parametrize("code", [0, 1, 7, 255])
def test_run_passes_exit_status(module_user, code):
    result = module_user.run("sh", "-c", f"exit {code}")
    assert result.returncode == code, str(result)


def test_run_child_killed_by_signal(module_user):
    result = module_user.run("sh", "-c", "kill -TERM $$")
    assert result.returncode in (128 + signal.SIGTERM, -signal.SIGTERM), str(result)


def test_run_missing_command(module_user):
    result = module_user.run("/nonexistent/command")
    assert result.returncode != 0, str(result)


def test_run_passes_stdin_and_stdout(module_user):
    result = module_user.run("cat", input="hello through keyhole\n")
    assert result.returncode == 0 and result.stdout == "hello through keyhole\n", str(result)


def test_run_keeps_other_environment(module_user):
    result = module_user.run("sh", "-c", 'printf %s "$E2E_MARKER"', env={"E2E_MARKER": "kept"})
    assert result.stdout == "kept", str(result)


def test_run_forwards_sigterm(module_user):
    marker = module_user.scratch / "sigterm-received"
    ready = module_user.scratch / "sigterm-ready"
    script = (
        "import signal, sys, time, pathlib\n"
        f"def handler(*_):\n    pathlib.Path({str(marker)!r}).write_text('yes'); sys.exit(3)\n"
        "signal.signal(signal.SIGTERM, handler)\n"
        f"pathlib.Path({str(ready)!r}).write_text('ready')\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen([str(module_user.binary), "run", "--", PYTHON, "-c", script], env=module_user.env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "child did not start"
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        assert marker.exists(), "SIGTERM sent to `keyhole run` must reach the child"
        assert code == 3, f"exit status of the child after the signal: {code}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_run_session_ends_with_child(module_user, upstream):
    """After the child exits, its proxy token is refused (407)."""
    import base64
    import socket
    module_user.add("cmd-end", random_secret(), API, env_var="CMD_END")
    env = module_user.run_env(only=["cmd-end"])
    token, port = PROXY_URL.match(env["HTTPS_PROXY"]).groups()
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as s:
        auth = base64.b64encode(f"keyhole:{token}".encode()).decode()
        authority = f"{API}:{upstream.tls_port}"
        s.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: Basic {auth}\r\n\r\n".encode())
        head = s.recv(4096).decode("latin-1")
    assert head.startswith("HTTP/1.1 407") or head.startswith("HTTP/1.0 407"), f"ended session: {head[:200]!r}"


# ---- env


def test_env_json_is_flat_and_has_placeholders_only(module_user):
    secret = random_secret()
    module_user.add("cmd-envjson", secret, API, env_var="CMD_ENVJSON")
    result = module_user.ok("env", "--shell", "json")
    assert secret not in result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict) and all(isinstance(v, str) for v in data.values()), "one flat object of strings"
    for var in PROXY_VARS + NO_PROXY_VARS + BUNDLE_VARS + ["NODE_EXTRA_CA_CERTS", "KEYHOLE_SESSION", "CMD_ENVJSON"]:
        assert var in data, f"{var} missing from env --shell json"
    assert PROXY_URL.match(data["HTTPS_PROXY"])
    assert "KEYHOLE_PASSPHRASE" not in data


def test_env_sh_evaluates(module_user):
    secret = random_secret()
    module_user.add("cmd-envsh", secret, API, env_var="CMD_ENVSH")
    result = module_user.ok("env", "--shell", "sh")
    assert secret not in result.stdout
    script = module_user.scratch / "env.sh"
    script.write_text(result.stdout)
    evaluated = subprocess.run(
        ["sh", "-c", f'. "{script}" && exec {PYTHON} -c "import os, json; print(json.dumps(dict(os.environ)))"'],
        env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=30)
    assert evaluated.returncode == 0, evaluated.stderr
    env = json.loads(evaluated.stdout)
    for var in PROXY_VARS + NO_PROXY_VARS + BUNDLE_VARS + ["NODE_EXTRA_CA_CERTS", "KEYHOLE_SESSION", "CMD_ENVSH"]:
        assert var in env, f"{var} not exported by env --shell sh"
    assert PROXY_URL.match(env["HTTPS_PROXY"])
    assert secret not in json.dumps(env)


def test_env_default_shell_is_sh(module_user):
    result = module_user.ok("env")
    assert re.search(r"^(export )?HTTPS_PROXY=", result.stdout, re.M), redact(result.stdout[:500])


def test_env_fish(module_user):
    result = module_user.ok("env", "--shell", "fish")
    assert re.search(r"^set -(g)?x HTTPS_PROXY ", result.stdout, re.M), redact(result.stdout[:500])


def test_env_session_survives_the_command(module_user, upstream):
    """An env session lives on (TTL) after `keyhole env` exits: its token is accepted."""
    from harness import connect_tunnel, env_session
    session = env_session(module_user)
    sock, status, _ = connect_tunnel(session.port, f"other.keyhole.test:{upstream.tls_port}", session.token)
    sock.close()
    assert status == 200, f"an env session's token must work after the command ended (got {status})"
