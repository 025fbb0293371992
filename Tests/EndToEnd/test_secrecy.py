"""Secrets are write-only: after a full workout, the real secret is in no output, log or file (other
than inside the encrypted vault), and no placeholder is in the daemon log or the audit log."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import urllib.parse

from harness import PYTHON, random_secret
from upstream import API_HOST as API, OTHER_HOST as OTHER


def forms(secret: str) -> dict[str, bytes]:
    """Ways a secret could appear in a file or output."""
    return {
        "plain": secret.encode(),
        "basic-base64": base64.b64encode(f"alice:{secret}".encode()),
        "base64": base64.b64encode(secret.encode()).rstrip(b"="),
        "url-encoded": urllib.parse.quote(secret).encode(),
    }


def find_leaks(secret: str, text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [name for name, needle in forms(secret).items() if needle in data]


def test_secret_appears_nowhere(make_user, upstream):
    user = make_user()
    secret = random_secret("sk_leakcheck_")
    injected = random_secret("sk_leakinject_")
    user.add("leak", secret, API, env_var="LEAK_TOKEN")
    user.add("leakinject", injected, API, inject="X-Api-Key: {secret}", env_var="LEAKINJECT_TOKEN")
    user.add("leakother", random_secret(), OTHER, env_var="LEAKOTHER_TOKEN")
    upstream.expect("leak", secret)
    upstream.expect("leakinject", injected)
    mark = upstream.mark()

    outputs: dict[str, str] = {}
    placeholders: set[str] = set()

    def keep(label, result):
        outputs[label] = result.stdout + "\n" + result.stderr

    env_result = user.run("env")
    keep("run -- env", env_result)
    for line in env_result.stdout.splitlines():
        if line.startswith(("LEAK_TOKEN=", "LEAKINJECT_TOKEN=", "LEAKOTHER_TOKEN=")):
            placeholders.add(line.split("=", 1)[1])
    assert len(placeholders) == 3, "placeholders missing from the run environment"

    # Exercise every rewrite path, a deny and a plain-http request; each session's placeholders collected.
    script = r'''
set -u
echo "PH $LEAK_TOKEN"; echo "PH $LEAKINJECT_TOKEN"; echo "PH $LEAKOTHER_TOKEN"
c() { curl -sS -o /dev/null -w "%{http_code}\n" "$@"; }
c -H "Authorization: Bearer $LEAK_TOKEN" "$BASE/bearer/leak"
c -u "alice:$LEAK_TOKEN" "$BASE/basic/leak"
c "$BASE/query/leak?key=$LEAK_TOKEN"
c "$BASE/apikey/leakinject"
c -H "Authorization: Bearer $LEAK_TOKEN" "$OTHERBASE/bearer/leak"
c -H "Authorization: Bearer $LEAK_TOKEN" "$PLAIN/bearer/leak"
c -H "Authorization: Bearer $LEAK_TOKEN" "$PLAINOTHER/bearer/leak"
'''
    result = user.run_sh(script, env={
        "BASE": upstream.url("").rstrip("/"),
        "OTHERBASE": upstream.url("", host=OTHER).rstrip("/"),
        "PLAIN": upstream.url("", tls=False).rstrip("/"),
        "PLAINOTHER": upstream.url("", host=OTHER, tls=False).rstrip("/"),
    })
    keep("run -- curl", result)
    placeholders |= set(re.findall(r"^PH (\S+)$", result.stdout, re.M))
    codes = re.findall(r"^(\d{3})$", result.stdout, re.M)
    # Plain http:// to the scoped host is refused too: secrets only travel over verified TLS.
    assert codes == ["200", "200", "200", "200", "403", "403", "403"], f"unexpected codes {codes}"

    py = user.run(PYTHON, "-c", "import os, requests; print(requests.get(os.environ['URL'], headers="
                  "{'Authorization': 'Bearer ' + os.environ['LEAK_TOKEN']}, timeout=20).status_code)",
                  env={"URL": upstream.url("/bearer/leak")})
    keep("run -- python3", py)
    assert py.stdout.strip() == "200", "python requests through keyhole"

    for args in (["list"], ["list", "--json"], ["status"], ["status", "--json"], ["log"], ["log", "--json"],
                 ["env", "--shell", "json"], ["env", "--shell", "sh"], ["env", "--shell", "fish"]):
        r = user.cmd(*args)
        keep("keyhole " + " ".join(args), r)
        assert r.returncode == 0, f"keyhole {' '.join(args)} failed (exit {r.returncode})"
        if args[0] == "env" and args[-1] == "json":
            data = json.loads(r.stdout)
            placeholders |= {data[k] for k in ("LEAK_TOKEN", "LEAKINJECT_TOKEN", "LEAKOTHER_TOKEN") if k in data}

    for label, text in outputs.items():
        for s, name in ((secret, "leak"), (injected, "leakinject")):
            leaks = find_leaks(s, text)
            assert not leaks, f"the secret of {name} appears ({', '.join(leaks)}) in the output of `{label}`"

    # The upstream got the real secrets and never a placeholder.
    assert upstream.saw(secret, mark) and upstream.saw(injected, mark)
    for placeholder in placeholders:
        assert not upstream.saw(placeholder, mark), "a placeholder reached the upstream"

    # The daemon's own process listing.
    pid = user.status()["pid"]
    for name in ("cmdline", "environ"):
        data = open(f"/proc/{pid}/{name}", "rb").read()
        assert not find_leaks(secret, data), f"the secret is in the daemon's /proc/{name}"

    user.stop_daemon()  # logs flushed, files final

    assert user.daemon_log.exists(), f"the daemon log {user.daemon_log} should exist"
    assert user.audit_log.exists(), f"the audit log {user.audit_log} should exist"
    for log in (user.daemon_log, user.audit_log):
        data = log.read_bytes()
        for placeholder in placeholders:
            assert placeholder.encode() not in data, f"a placeholder appears in {log.name}"

    files = user.all_files()
    assert files
    for path in files:
        data = path.read_bytes()
        for s, name in ((secret, "leak"), (injected, "leakinject")):
            leaks = find_leaks(s, data)
            assert not leaks, f"the secret of {name} appears ({', '.join(leaks)}) in {path.relative_to(user.home)}"


def test_secret_not_in_process_arguments_during_add(user):
    """`add` reads stdin; while it waits for input nothing in any argv holds the secret."""
    secret = random_secret()
    proc = subprocess.Popen([str(user.binary), "add", "argvcheck", "--host", API], env=user.env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(secret.encode())
        proc.stdin.flush()
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        assert secret not in ps
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not any(secret in line for line in os.popen("ps -eo args").read().splitlines())
