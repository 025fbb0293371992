"""The core flow on a real gnome-keyring (Secret Service), started headless on a private D-Bus session."""

from __future__ import annotations

import json
import re

import pytest

from harness import PYTHON, Keyring, KeyholeUser, random_secret, redact
from upstream import API_HOST as API

pytestmark = pytest.mark.keyring


def _start(upstream, store="secret-service"):
    reason = Keyring.available()
    if reason:
        pytest.skip(reason)
    user = KeyholeUser(upstream=upstream, store=store, passphrase=None)
    keyring = Keyring(user).start()
    return user, keyring


def _finish(user, keyring):
    try:
        user.stop_daemon()
    finally:
        try:
            keyring.stop()
        finally:
            user.cleanup()


@pytest.fixture(scope="module")
def kr(keyhole_bin, upstream):
    user, keyring = _start(upstream)
    yield user, keyring
    _finish(user, keyring)


@pytest.fixture
def fresh_kr(keyhole_bin, upstream):
    made = []

    def factory(store="secret-service"):
        pair = _start(upstream, store)
        made.append(pair)
        return pair

    yield factory
    for user, keyring in made:
        _finish(user, keyring)


def items(keyring: Keyring) -> list[dict[str, str]]:
    """`secret-tool search --all service keyhole`, parsed (the secret lines are dropped at once)."""
    result = keyring.secret_tool("search", "--all", "service", "keyhole")
    out, current = [], None
    for line in (result.stdout + "\n" + result.stderr).splitlines():
        if line.startswith("[/"):
            current = {}
            out.append(current)
        elif current is not None and " = " in line and not line.startswith("secret"):
            key, _, value = line.partition(" = ")
            current[key.strip()] = value.strip()
    return out


def curl_status(user, var, path, upstream) -> tuple[str, str]:
    result = user.run_sh(f'curl -sS -o /dev/null -w "%{{http_code}}" -H "Authorization: Bearer ${var}" '
                         f'{upstream.url(path)}')
    return result.stdout.strip(), str(result)


def test_status_reports_secret_service(kr):
    user, _ = kr
    assert user.status()["store"] == "secret-service"


def test_auto_picks_secret_service_when_bus_offers_it(fresh_kr):
    user, _ = fresh_kr(store="auto")
    assert user.status()["store"] == "secret-service"


def test_add_stores_item_in_keyring(kr, upstream):
    user, keyring = kr
    secret = random_secret()
    user.add("kr-add", secret, API, env_var="KR_ADD")
    found = [i for i in items(keyring) if i.get("attribute.name") == "kr-add"]
    assert len(found) == 1, f"secret-tool search service keyhole should list kr-add: {items(keyring)}"
    assert found[0].get("label") == "keyhole: kr-add"
    assert found[0].get("attribute.service") == "keyhole"
    lookup = keyring.secret_tool("lookup", "service", "keyhole", "name", "kr-add")
    assert lookup.stdout.rstrip("\n") == secret, "the keyring holds the real secret (that is its job)"
    # ... but no file of keyhole's has it: the vault is not used.
    assert not user.vault_files() or all(secret.encode() not in p.read_bytes() for p in user.vault_files())


def test_run_curl_and_python_on_keyring(kr, upstream):
    user, keyring = kr
    secret = random_secret()
    user.add("kr-flow", secret, API, env_var="KR_FLOW")
    upstream.expect("kr-flow", secret)
    mark = upstream.mark()
    code, out = curl_status(user, "KR_FLOW", "/bearer/kr-flow", upstream)
    assert code == "200", out
    py = user.run(PYTHON, "-c", "import os, requests; print(requests.get(os.environ['URL'], headers="
                  "{'Authorization': 'Bearer ' + os.environ['KR_FLOW']}, timeout=20).status_code)",
                  env={"URL": upstream.url("/bearer/kr-flow")})
    assert py.stdout.strip() == "200", str(py)
    assert upstream.saw(secret, mark)
    env = user.run("env", only=["kr-flow"])
    assert env.returncode == 0
    assert secret not in env.stdout, "the run environment must not hold the secret"
    assert re.search(r"^KR_FLOW=\S+$", env.stdout, re.M)


def test_rotate_and_rm_on_keyring(kr, upstream):
    user, keyring = kr
    first, second = random_secret(), random_secret()
    user.add("kr-rot", first, API, env_var="KR_ROT")
    upstream.expect("kr-rot", first)
    assert curl_status(user, "KR_ROT", "/bearer/kr-rot", upstream)[0] == "200"
    user.ok("rotate", "kr-rot", input=second)
    upstream.expect("kr-rot", second)
    code, out = curl_status(user, "KR_ROT", "/bearer/kr-rot", upstream)
    assert code == "200", out
    user.ok("rm", "kr-rot")
    assert not [i for i in items(keyring) if i.get("attribute.name") == "kr-rot"], "rm must delete the keyring item"


def test_locked_keyring_fails_closed_with_502(fresh_kr, upstream):
    user, keyring = fresh_kr()
    secret = random_secret()
    user.add("kr-locked", secret, API, env_var="KR_LOCKED")
    upstream.expect("kr-locked", secret)
    assert curl_status(user, "KR_LOCKED", "/bearer/kr-locked", upstream)[0] == "200"
    mark = upstream.mark()
    # Lock inside the session, after the placeholder was handed out.
    result = user.run_sh(
        f"gdbus call --session --dest org.freedesktop.secrets --object-path /org/freedesktop/secrets "
        f"--method org.freedesktop.Secret.Service.Lock \"['{Keyring.COLLECTION}']\" >/dev/null; "
        f'curl -sS -o /dev/null -w "%{{http_code}}" -H "Authorization: Bearer $KR_LOCKED" '
        f'{upstream.url("/bearer/kr-locked")}')
    assert keyring.locked() is True
    assert result.stdout.strip() == "502", f"a locked keyring must answer 502, never forward:\n{result}"
    assert upstream.requests_since(mark) == [], "no placeholder (or anything) may reach the upstream"


def test_keyring_gone_fails_closed_with_502(fresh_kr, upstream):
    user, keyring = fresh_kr()
    secret = random_secret()
    user.add("kr-gone", secret, API, env_var="KR_GONE")
    upstream.expect("kr-gone", secret)
    assert curl_status(user, "KR_GONE", "/bearer/kr-gone", upstream)[0] == "200"
    env = json.loads(user.ok("env", "--shell", "json").stdout)
    keyring.kill_keyring()
    mark = upstream.mark()
    import subprocess, os
    proc = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--proxy", env["HTTPS_PROXY"], "--cacert",
         env["SSL_CERT_FILE"], "-H", f"Authorization: Bearer {env['KR_GONE']}", upstream.url("/bearer/kr-gone")],
        capture_output=True, text=True, timeout=60, env={"PATH": os.environ["PATH"]})
    assert proc.stdout.strip() == "502", f"keyring gone: {redact(proc.stdout + proc.stderr)}"
    assert upstream.requests_since(mark) == []
