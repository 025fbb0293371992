"""The vault passphrase outside the shell's environment: `keyhole unlock` / `keyhole lock` on a daemon started
without KEYHOLE_PASSPHRASE, and no keyhole process whose environment another process of the user can read
(a workload under `keyhole run` reading /proc/$PPID/environ took the passphrase before)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time

from harness import random_secret
from test_store import request_in_session, vault_file
from upstream import API_HOST as API

NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]


def locked_user(make_user, upstream) -> tuple:
    """A user whose passphrase vault holds one credential, then a daemon started without the passphrase."""
    passphrase = random_secret("sk_passphrase_")
    user = make_user(passphrase=passphrase)
    secret = random_secret()
    user.add("locked-api", secret, API, env_var="LOCKED_TOKEN")
    upstream.expect("locked-api", secret)
    code, out = request_in_session(user, upstream, "LOCKED_TOKEN", "/bearer/locked-api")
    assert code == "200", out
    user.stop_daemon()
    del user.env["KEYHOLE_PASSPHRASE"]
    return user, passphrase, secret


def assert_never_shown(user, passphrase: str, *results) -> None:
    for result in results:
        assert passphrase not in result.stdout + result.stderr, f"the passphrase was printed:\n{result}"
    for log in (user.daemon_log, user.audit_log):
        if log.exists():
            assert passphrase not in log.read_text(), f"the passphrase is in {log.name}"


def test_a_daemon_without_the_passphrase_starts_locked_and_unlock_opens_it(make_user, upstream):
    user, passphrase, secret = locked_user(make_user, upstream)
    status = user.status()
    assert status["vault_lock"] == "locked", status
    assert "locked: run `keyhole unlock`" in status["store_state"], status
    text = user.ok("status")
    assert "locked: run `keyhole unlock`" in text.stdout, text
    doctor = json.loads(user.cmd("doctor", "--json", "--no-runtimes", timeout=60).stdout)
    store = next(check for check in doctor["checks"] if check["id"] == "store")
    assert store["status"] == "fail" and "keyhole unlock" in store["detail"] + store["fix"], store

    # Locked: requests that need the secret fail closed, and nothing can be added.
    vault = vault_file(user)
    before = vault.read_bytes()
    mark = upstream.mark()
    code, out = request_in_session(user, upstream, "LOCKED_TOKEN", "/bearer/locked-api")
    assert code == "502", f"a locked vault must answer 502:\n{out}"
    assert upstream.requests_since(mark) == [], "nothing may be forwarded while the vault is locked"
    add = user.cmd("add", "while-locked", "--host", API, input=random_secret())
    assert add.returncode != 0 and "keyhole unlock" in add.stderr, f"`add` must say to unlock first:\n{add}"

    # A wrong passphrase is refused with a hint and changes nothing.
    wrong = user.cmd("unlock", input="not the passphrase\n")
    assert wrong.returncode != 0 and "hint:" in wrong.stderr, wrong
    assert "does not open" in wrong.stderr, wrong
    assert user.status()["vault_lock"] == "locked"
    code, out = request_in_session(user, upstream, "LOCKED_TOKEN", "/bearer/locked-api")
    assert code == "502", out

    # The right one, on stdin as a script would give it (one trailing newline dropped).
    unlocked = user.ok("unlock", input=passphrase + "\n")
    assert "unlocked" in unlocked.stdout, unlocked
    assert user.status()["vault_lock"] == "unlocked"
    mark = upstream.mark()
    code, out = request_in_session(user, upstream, "LOCKED_TOKEN", "/bearer/locked-api")
    assert code == "200", out
    assert upstream.saw(secret, mark)
    again = user.ok("unlock", input="")  # already unlocked: nothing asked, nothing read
    assert "already unlocked" in again.stdout, again
    user.add("after-unlock", random_secret(), API)
    assert vault.read_bytes() != before

    # `lock` forgets the key: 502 again until the next unlock; `--json` prints the status.
    locked = user.ok("lock")
    assert "locked" in locked.stdout, locked
    code, out = request_in_session(user, upstream, "LOCKED_TOKEN", "/bearer/locked-api")
    assert code == "502", out
    reopened = user.ok("unlock", "--json", input=passphrase)
    assert json.loads(reopened.stdout)["vault_lock"] == "unlocked", reopened
    code, out = request_in_session(user, upstream, "LOCKED_TOKEN", "/bearer/locked-api")
    assert code == "200", out
    assert_never_shown(user, passphrase, wrong, unlocked, again, locked, reopened, add)


def on_a_terminal(user, *args: str, answers: list[str], timeout: float = 30) -> tuple[int, str]:
    """Runs `keyhole ARGS` on a pseudo-terminal, typing each answer once the terminal shows a prompt (output that
    ends in ": ", with no newline after it); returns (exit status, everything the terminal showed)."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen([str(user.binary), *args], stdin=secondary, stdout=secondary, stderr=secondary,
                               env=user.env, cwd=str(user.scratch), start_new_session=True)
    os.close(secondary)
    shown, pending, deadline = b"", list(answers), time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0 and select.select([primary], [], [], remaining)[0]:
        try:
            data = os.read(primary, 4096)
        except OSError:  # EIO: the program ended and closed the terminal
            break
        if not data:
            break
        shown += data
        if pending and shown.endswith(b": "):
            os.write(primary, pending.pop(0).encode() + b"\n")
    os.close(primary)
    if process.poll() is None:
        process.kill()
    return process.wait(timeout), shown.decode(errors="replace")


def test_unlock_asks_once_on_a_terminal_without_echo(make_user, upstream):
    user, passphrase, _secret = locked_user(make_user, upstream)
    user.status()
    status, shown = on_a_terminal(user, "unlock", answers=[passphrase])
    assert status == 0 and "unlocked" in shown, shown
    assert shown.count("Passphrase") == 1 and "Again" not in shown, f"asked more than once:\n{shown}"
    assert passphrase not in shown, "the passphrase was echoed"
    assert user.status()["vault_lock"] == "unlocked"


def test_a_new_vault_passphrase_is_asked_twice_on_a_terminal(make_user):
    user = make_user(passphrase=None, upstream=None)
    user.status()
    passphrase = random_secret("sk_passphrase_")
    status, shown = on_a_terminal(user, "unlock", answers=[passphrase, passphrase + "typo"])
    assert status != 0 and "differ" in shown and "hint:" in shown, shown
    assert user.status()["vault_lock"] == "unset", "two different entries must change nothing"
    status, shown = on_a_terminal(user, "unlock", answers=[passphrase, passphrase])
    assert status == 0 and "Again" in shown and "passphrase set" in shown, shown
    assert passphrase not in shown, "the passphrase was echoed"
    assert user.status()["vault_lock"] == "new"


def test_unlock_before_the_first_add_chooses_the_vault_passphrase(make_user, upstream):
    user = make_user(passphrase=None)
    assert user.status()["vault_lock"] == "unset"
    empty = user.cmd("unlock", input="\n")
    assert empty.returncode != 0 and "empty passphrase" in empty.stderr and "hint:" in empty.stderr, empty
    passphrase = random_secret("sk_passphrase_")
    chosen = user.ok("unlock", input=passphrase)
    assert "passphrase set" in chosen.stdout, chosen
    assert user.status()["vault_lock"] == "new"

    secret = random_secret()
    user.add("chosen-api", secret, API, env_var="CHOSEN_TOKEN")
    upstream.expect("chosen-api", secret)
    assert [p.name for p in user.vault_files()] == ["vault.json"], "a passphrase vault needs no key file"
    assert json.loads(vault_file(user).read_text())["kdf"]["name"] == "scrypt"
    assert user.status()["vault_lock"] == "unlocked"

    # The passphrase chosen this way is the vault's: KEYHOLE_PASSPHRASE opens it too (scripts, CI).
    user.stop_daemon()
    user.env["KEYHOLE_PASSPHRASE"] = passphrase
    assert user.status()["vault_lock"] == "unlocked"
    code, out = request_in_session(user, upstream, "CHOSEN_TOKEN", "/bearer/chosen-api")
    assert code == "200", out
    assert_never_shown(user, passphrase, empty, chosen)


def test_a_key_file_vault_has_nothing_to_unlock(make_user, upstream):
    user = make_user(passphrase=None)
    user.add("keyfile-api", random_secret(), API)
    assert user.status().get("vault_lock") is None
    for args in (("unlock",), ("lock",)):
        result = user.cmd(*args, input="some passphrase")
        assert result.returncode != 0, result
        assert "key file" in result.stderr and "hint:" in result.stderr, result


def run_as_nobody(user, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*AS_NOBODY, str(user.binary), *args], input=input, capture_output=True, text=True,
                          env=user.env, cwd=str(user.scratch), timeout=timeout)


def readable_by_nobody(path: str) -> bool:
    return subprocess.run([*AS_NOBODY, "cat", path], capture_output=True).returncode == 0


def test_no_keyhole_process_is_dumpable(make_user):
    """As an unprivileged user (root reads every /proc file): a workload under `keyhole run` cannot read the
    environment of its parent `keyhole run` or of the daemon, which hold KEYHOLE_PASSPHRASE; neither can any
    process of the user read a helper's (git-credential-keyhole, docker-credential-keyhole)."""
    user = make_user(upstream=None)
    passphrase = user.env["KEYHOLE_PASSPHRASE"]
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(user.root)], check=True)
    try:
        status = run_as_nobody(user, "status", "--json")
        assert status.returncode == 0, status.stderr
        daemon = json.loads(status.stdout)["pid"]
        script = ("cat /proc/$$/environ >/dev/null && echo own-readable; "
                  "cat /proc/$PPID/environ >/dev/null && echo parent-readable; "
                  f"cat /proc/{daemon}/environ >/dev/null && echo daemon-readable; "
                  "echo done")
        run = run_as_nobody(user, "run", "--", "sh", "-c", script)
        assert run.returncode == 0, run.stderr
        lines = run.stdout.split()
        # The check itself works (the workload reads its own environment, as any same-user process could)...
        assert lines[0] == "own-readable" and lines[-1] == "done", run.stdout
        # ...but not `keyhole run`'s nor the daemon's.
        assert "parent-readable" not in lines, "the workload read its parent `keyhole run`'s environment"
        assert "daemon-readable" not in lines, "the workload read the daemon's environment"
        assert passphrase not in run.stdout + run.stderr

        for helper in ("git-credential-keyhole", "docker-credential-keyhole"):
            link = user.scratch / helper  # the multi-call binary under the helper's name, as installed
            link.symlink_to(user.binary)
            # Waits for its request on stdin: alive while we look.
            process = subprocess.Popen([*AS_NOBODY, str(link), "get"], stdin=subprocess.PIPE,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=user.env)
            try:
                pid = wait_for_stdin_read(process.pid, str(user.binary))
                assert os.stat(f"/proc/{pid}").st_uid == NOBODY, "the helper should run as the unprivileged user"
                assert not readable_by_nobody(f"/proc/{pid}/environ"), f"{helper}'s environment is readable"
                assert os.stat(f"/proc/{pid}/environ").st_uid == 0, f"{helper} is dumpable"
                assert process.poll() is None, f"{helper} ended before it was looked at"
            finally:
                process.kill()
                process.wait()
        assert not readable_by_nobody(f"/proc/{daemon}/environ")
    finally:
        run_as_nobody(user, "stop")


def wait_for_stdin_read(pid: int, binary: str, timeout: float = 10) -> int:
    """`pid` once setpriv has exec'd the keyhole binary in it and that sleeps (waiting for stdin): well past its
    start-up, so a check made now is not a race with the loader."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            running = os.readlink(f"/proc/{pid}/exe") == os.path.realpath(binary)
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if running and state == "S":
                return pid
        except OSError:
            pass
        time.sleep(0.02)
    raise AssertionError(f"process {pid} never waited in {binary}")
