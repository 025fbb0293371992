"""The file vault under the daemon: fail closed when it cannot be read, never reset, key file mode."""

from __future__ import annotations

import os
import stat
import subprocess

from harness import random_secret, redact
from upstream import API_HOST as API


def request_in_session(user, upstream, var: str, path: str, before: str = "") -> tuple[str, str]:
    """Inside one `keyhole run`: run `before` (shell), then curl with the placeholder; returns (code, out)."""
    script = (f'{before}\n'
              f'curl -sS -o "$KH_SCRATCH/body" -w "%{{http_code}}" -H "Authorization: Bearer ${var}" '
              f'{upstream.url(path)}; echo; cat "$KH_SCRATCH/body"')
    result = user.run_sh(script, env={"KH_SCRATCH": str(user.scratch)})
    lines = result.stdout.splitlines()
    return (lines[0] if lines else ""), redact(result.stdout + result.stderr)


def vault_file(user):
    files = [p for p in user.vault_files() if "key" not in p.name]
    assert len(files) == 1, f"expected one vault file in {user.data_dir}: {[p.name for p in user.vault_files()]}"
    return files[0]


def test_vault_file_is_private_and_encrypted(user, upstream):
    secret = random_secret()
    user.add("vault-mode", secret, API)
    vault = vault_file(user)
    assert stat.S_IMODE(vault.stat().st_mode) == 0o600, oct(vault.stat().st_mode)
    assert stat.S_IMODE(vault.parent.stat().st_mode) == 0o700, oct(vault.parent.stat().st_mode)
    assert secret.encode() not in vault.read_bytes(), "the vault must be encrypted"


def test_corrupt_vault_fails_closed_with_502(user, upstream):
    secret = random_secret()
    user.add("corrupt", secret, API, env_var="CORRUPT_TOKEN")
    upstream.expect("corrupt", secret)
    code, out = request_in_session(user, upstream, "CORRUPT_TOKEN", "/bearer/corrupt")
    assert code == "200", out
    vault = vault_file(user)
    garbage = b"this is not a keyhole vault\n" * 4
    mark = upstream.mark()
    # The session (and its placeholder) exists first; then the store breaks; then the request.
    code, out = request_in_session(user, upstream, "CORRUPT_TOKEN", "/bearer/corrupt",
                                   before=f"printf '%s' '{garbage.decode()}' > '{vault}'")
    assert code == "502", f"an unreadable vault must answer 502:\n{out}"
    assert upstream.requests_since(mark) == [], "nothing may be forwarded when the secret cannot be resolved"
    assert vault.read_bytes() == garbage, "a corrupt vault must never be silently reset"
    result = user.cmd("add", "after-corrupt", "--host", API, input=random_secret())
    assert result.returncode != 0, f"adding to a corrupt vault must fail, not start a new vault:\n{result}"
    assert vault.read_bytes() == garbage, "a corrupt vault must never be silently reset"


def test_missing_vault_fails_closed_with_502(user, upstream):
    secret = random_secret()
    user.add("gone", secret, API, env_var="GONE_TOKEN")
    upstream.expect("gone", secret)
    vault = vault_file(user)
    mark = upstream.mark()
    code, out = request_in_session(user, upstream, "GONE_TOKEN", "/bearer/gone", before=f"rm -f '{vault}'")
    assert code == "502", f"a vanished vault must answer 502:\n{out}"
    assert upstream.requests_since(mark) == []


def test_wrong_passphrase_fails_closed(user, upstream):
    secret = random_secret()
    user.add("passphrase", secret, API, env_var="PASS_TOKEN")
    upstream.expect("passphrase", secret)
    vault = vault_file(user)
    before = vault.read_bytes()
    user.stop_daemon()
    user.env["KEYHOLE_PASSPHRASE"] = "a different passphrase"
    mark = upstream.mark()
    result = user.run_sh(f'curl -sS -o /dev/null -w "%{{http_code}}" -H "Authorization: Bearer $PASS_TOKEN" '
                         f'{upstream.url("/bearer/passphrase")}')
    # Either `run` itself refuses (the store cannot be opened) or the proxy answers 502.
    assert result.returncode != 0 or result.stdout.strip() == "502", str(result)
    assert not upstream.saw(secret, mark)
    assert upstream.requests_since(mark) == []
    assert vault.read_bytes() == before, "a wrong passphrase must not rewrite the vault"
    add = user.cmd("add", "wrongpass", "--host", API, input=random_secret())
    assert add.returncode != 0, f"adding with the wrong passphrase must fail:\n{add}"
    assert vault.read_bytes() == before


def test_without_passphrase_a_key_file_is_used(make_user, upstream):
    user = make_user(passphrase=None)
    secret = random_secret()
    result = user.add("keyfile", secret, API, env_var="KEYFILE_TOKEN")
    upstream.expect("keyfile", secret)
    keys = [p for p in user.data_dir.iterdir() if "key" in p.name and "vault" in p.name]
    assert keys, f"expected a vault key file in {user.data_dir}: {os.listdir(user.data_dir)}"
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    code, out = request_in_session(user, upstream, "KEYFILE_TOKEN", "/bearer/keyfile")
    assert code == "200", out
    # The warning about the key file goes to stderr once (daemon log or the first command), not always.
    second = user.add("keyfile2", random_secret(), API)
    assert "warn" not in second.stderr.lower() or "warn" not in result.stderr.lower(), \
        "the key-file warning should be shown once, not on every command"


def test_passphrase_not_in_daemon_argv(user):
    pid = user.status()["pid"]
    cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
    assert user.env["KEYHOLE_PASSPHRASE"].encode() not in cmdline
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert user.env["KEYHOLE_PASSPHRASE"] not in ps
