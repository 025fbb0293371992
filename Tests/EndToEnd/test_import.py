"""`keyhole import`: secrets move from a shell variable, ~/.git-credentials, ~/.docker/config.json and
~/.aws/credentials into keyhole. Each importer runs on sample files with several entries, comments and keys it
does not know; `--remove` must leave every other byte of the file as it was (compared with an expected file);
the imported secret must work afterwards through `keyhole run` against the upstream; a name that is taken is
skipped; and no value is ever printed."""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import stat
import urllib.parse
from pathlib import Path
from unittest import mock

import pytest

from harness import PYTHON, random_secret

API = "api.keyhole.test"
PLACEHOLDER = re.compile(r"khp_[0-9a-f]{40}")


def listed(user) -> dict[str, dict]:
    return {entry["name"]: entry for entry in json.loads(user.ok("list", "--json").stdout)}


def assert_no_secret(results, *secrets: str) -> None:
    for result in results:
        for secret in secrets:
            assert secret not in result.stdout and secret not in result.stderr, f"a secret was printed:\n{result}"
            encoded = base64.b64encode(secret.encode()).decode()[:-4]
            assert encoded not in result.stdout + result.stderr, f"a secret was printed (base64):\n{result}"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def basic_through_keyhole(user, helper_script: str, url: str, env: dict[str, str] | None = None):
    """Under `keyhole run`: asks a credential helper for (user, placeholder) with ``helper_script`` (Python that
    sets ``username`` and ``password``), then sends them as Basic auth to ``url`` through keyhole's proxy.
    Prints "USER STATUS PLACEHOLDER?"."""
    script = (
        "import json, re, subprocess, requests\n"
        f"{helper_script}\n"
        f"r = requests.get({url!r}, auth=(username, password), timeout=30)\n"
        "print(username, r.status_code, bool(re.fullmatch(r'khp_[0-9a-f]{40}', password)))\n"
    )
    return user.run(PYTHON, "-c", script, env=env)


# ---- env


def test_env_imports_the_variable_and_hands_out_its_placeholder_under_the_same_name(user, upstream):
    secret = random_secret()
    upstream.expect("envimport", secret)
    dry = user.cmd("import", "env", "ENVTOK", "--name", "envtok", "--host", API, "--dry-run",
                   env={"ENVTOK": secret})
    assert dry.returncode == 0 and "would import 'envtok'" in dry.stdout, dry
    assert "envtok" not in listed(user)

    result = user.cmd("import", "env", "ENVTOK", "--name", "envtok", "--host", API, "--json",
                      env={"ENVTOK": secret})
    assert result.returncode == 0, result
    report = json.loads(result.stdout)
    assert [item["name"] for item in report["imported"]] == ["envtok"]
    assert report["imported"][0]["env"] == ["ENVTOK"] and report["imported"][0]["source"] == "$ENVTOK"
    entry = listed(user)["envtok"]
    assert entry["hosts"] == [API] and entry["env"] == ["ENVTOK"]

    # The calling shell still has the real value; under `keyhole run` the same variable holds the placeholder.
    run = user.run("sh", "-c", f'curl -sS -o /dev/null -w "%{{http_code}}" -H "Authorization: Bearer $ENVTOK" '
                               f'{upstream.url("/bearer/envimport")}; printf " %s" "$ENVTOK" | cut -c1-5',
                   env={"ENVTOK": secret})
    assert run.returncode == 0 and run.stdout.split() == ["200", "khp_"], run

    # A second import of the same name is skipped, never overwritten.
    other = random_secret()
    again = user.cmd("import", "env", "OTHER", "--name", "envtok", "--host", API, env={"OTHER": other})
    assert again.returncode == 0, again
    assert "already exists" in again.stderr and "keyhole rotate envtok" in again.stderr, again
    run = user.run("sh", "-c", f'curl -sS -o /dev/null -w "%{{http_code}}" -H "Authorization: Bearer $ENVTOK" '
                               f'{upstream.url("/bearer/envimport")}')
    assert run.stdout.strip() == "200", run
    assert_no_secret([dry, result, again], secret, other)


def test_env_errors_say_what_to_do(user):
    unset = user.cmd("import", "env", "NOT_SET_HERE", "--name", "x", "--host", API)
    assert unset.returncode != 0 and "NOT_SET_HERE is not set" in unset.stderr, unset
    assert "export NOT_SET_HERE" in unset.stderr
    empty = user.cmd("import", "env", "EMPTY", "--name", "x", "--host", API, env={"EMPTY": ""})
    assert empty.returncode != 0 and "hint:" in empty.stderr, empty
    no_host = user.cmd("import", "env", "X", "--name", "x", env={"X": "v"})
    assert no_host.returncode != 0 and "--host" in no_host.stderr, no_host
    placeholder = user.cmd("import", "env", "X", "--name", "x", "--host", API, env={"X": "khp_" + "0" * 40})
    assert placeholder.returncode != 0 and "placeholder" in placeholder.stderr, placeholder


@pytest.mark.parametrize("subcommand", ["env", "git-credentials", "docker-config", "aws-profile"])
def test_every_importer_help_has_an_example(user, subcommand):
    result = user.ok("import", subcommand, "--help")
    text = result.stdout + result.stderr
    assert "Example" in text and f"keyhole import {subcommand}" in text, result


# ---- git-credentials


def test_git_credentials_import_remove_backup_and_use(user, upstream):
    port = upstream.tls_port
    api_secret = random_secret() + "@/:%+"  # percent-encoded in the file
    clash_secret, dup_first, dup_second, xdg_secret = (random_secret() for _ in range(4))
    secrets = [api_secret, clash_secret, dup_first, dup_second, xdg_secret]
    upstream.expect("gitimport", api_secret)
    user.add("git-other.keyhole.test", random_secret(), "other.keyhole.test")

    main = user.home / ".git-credentials"
    main_kept = [
        "# tokens for the e2e upstream\n",
        "\n",
        f"https://carol:{clash_secret}@other.keyhole.test\n",
        "ssh://nobody:x@ssh.keyhole.test\n",
        "https://user-without-password@nopass.keyhole.test\n",
    ]
    main_text = (main_kept[0] + f"https://alice:{urllib.parse.quote(api_secret, safe='')}@{API}:{port}\n"
                 + "".join(main_kept[1:4]) + f"https://dave:{dup_first}@dup.keyhole.test/first/repo.git\n"
                 + main_kept[4])
    main.write_text(main_text)
    os.chmod(main, 0o640)
    xdg = user.config_home / "git" / "credentials"
    xdg.parent.mkdir(parents=True)
    xdg_kept = f"https://erin:{dup_second}@dup.keyhole.test/second\n"
    xdg_text = xdg_kept + f"https://frank:{xdg_secret}@xdg.keyhole.test:8443"  # no final newline
    xdg.write_text(xdg_text)
    os.chmod(xdg, 0o600)

    dry = user.cmd("import", "git-credentials", "--remove", "--dry-run")
    assert dry.returncode == 0, dry
    assert f"would import 'git-api.keyhole.test-{port}'" in dry.stdout and "would remove 2 entries" in dry.stdout
    assert main.read_text() == main_text and xdg.read_text() == xdg_text
    assert f"git-api.keyhole.test-{port}" not in listed(user)

    result = user.cmd("import", "git-credentials", "--remove", "--backup", "--json")
    assert result.returncode == 0, result
    report = json.loads(result.stdout)
    assert sorted(item["name"] for item in report["imported"]) == [
        f"git-api.keyhole.test-{port}", "git-dup.keyhole.test", "git-xdg.keyhole.test-8443"]
    skipped = {item["source"]: item for item in report["skipped"]}
    assert "already exists" in skipped[f"{main} line 4"]["reason"]
    assert "keyhole rotate git-other.keyhole.test" in skipped[f"{main} line 4"]["hint"]
    assert f"{main} line 6" in skipped[f"{xdg} line 1"]["reason"]  # the same name, and the first one wins
    assert {f"{main} line 5", f"{main} line 7"} <= set(skipped)

    # Exactly the imported lines are gone; every other byte (comments, CRLF-less tail, skipped lines) is kept.
    assert main.read_bytes() == "".join(main_kept).encode()
    assert xdg.read_bytes() == xdg_kept.encode()
    assert mode_of(main) == 0o640 and mode_of(xdg) == 0o600
    for path, original in ((main, main_text), (xdg, xdg_text)):
        backup = Path(str(path) + ".keyhole-backup")
        assert backup.read_text() == original and mode_of(backup) == 0o600

    entries = listed(user)
    api = entries[f"git-api.keyhole.test-{port}"]
    assert api["hosts"] == [f"{API}:{port}"] and api["username"] == "alice"
    assert entries["git-xdg.keyhole.test-8443"]["hosts"] == ["xdg.keyhole.test:8443"]

    # git asks keyhole's helper under `keyhole run`, gets alice + a placeholder, and the upstream gets the secret.
    fill = ("out = subprocess.run(['git', 'credential', 'fill'], check=True, capture_output=True, text=True,\n"
            f"    input='protocol=https\\nhost={API}:{port}\\n\\n').stdout\n"
            "kv = dict(line.split('=', 1) for line in out.splitlines())\n"
            "username, password = kv['username'], kv['password']")
    used = basic_through_keyhole(user, fill, upstream.url("/basic/gitimport"), env={"GIT_TERMINAL_PROMPT": "0"})
    assert used.returncode == 0 and used.stdout.split() == ["alice", "200", "True"], used
    assert_no_secret([dry, result, used], *secrets)


def test_git_credentials_without_remove_keeps_the_file_and_follows_a_symlink(user):
    secret = random_secret()
    dotfiles = user.home / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "git-credentials"
    text = f"# kept\nhttps://x:{secret}@one.keyhole.test\nhttps://y:{secret}2@two.keyhole.test\n"
    real.write_text(text)
    os.chmod(real, 0o600)
    (user.home / ".git-credentials").symlink_to(real)

    plain = user.cmd("import", "git-credentials")
    assert plain.returncode == 0 and real.read_text() == text, plain
    assert "still in" in plain.stderr and "--remove" in plain.stderr, plain
    assert not list(user.home.glob(".git-credentials.keyhole-backup*"))

    # Already imported: both are skipped now, so nothing is removed even with --remove.
    again = user.cmd("import", "git-credentials", "--remove")
    assert again.returncode == 0 and real.read_text() == text, again
    assert again.stderr.count("already exists") == 2, again

    user.ok("rm", "git-two.keyhole.test")
    removed = user.cmd("import", "git-credentials", "--remove")
    assert removed.returncode == 0, removed
    assert (user.home / ".git-credentials").is_symlink()
    assert real.read_text() == f"# kept\nhttps://x:{secret}@one.keyhole.test\n"
    assert mode_of(real) == 0o600
    assert_no_secret([plain, again, removed], secret)


def test_git_credentials_missing_file_says_where_it_looked(user):
    result = user.cmd("import", "git-credentials")
    assert result.returncode != 0 and ".git-credentials" in result.stderr and "--file" in result.stderr, result
    backup_alone = user.cmd("import", "git-credentials", "--backup")
    assert backup_alone.returncode != 0 and "--remove" in backup_alone.stderr, backup_alone


# ---- docker-config


def docker_auth(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def test_docker_config_import_remove_and_use(user, upstream):
    port = upstream.tls_port
    registry_secret, hub_secret, clash_secret, token = (random_secret() for _ in range(4))
    upstream.expect("dockerimport", registry_secret)
    user.add("registry-clash.keyhole.test", random_secret(), "clash.keyhole.test")
    registry = f"{API}:{port}"
    config = user.home / ".docker" / "config.json"
    config.parent.mkdir()
    entry_registry = f'\t\t"{registry}": {{\n\t\t\t"auth": "{docker_auth("bob", registry_secret)}"\n\t\t}},\n'
    entry_hub = (f'\t\t"https://index.docker.io/v1/": {{\n\t\t\t"auth": "{docker_auth("hubber", hub_secret)}",\n'
                 f'\t\t\t"email": "hubber@example.com"\n\t\t}},\n')
    head = '{\n\t"auths": {\n'
    kept_entries = (
        f'\t\t"clash.keyhole.test": {{\n\t\t\t"username": "carol",\n\t\t\t"password": "{clash_secret}"\n\t\t}},\n'
        f'\t\t"idtoken.keyhole.test": {{\n\t\t\t"auth": "",\n\t\t\t"identitytoken": "{token}"\n\t\t}}\n'
    )
    tail = ('\t},\n\t"credHelpers": {\n\t\t"gcr.io": "gcloud"\n\t},\n'
            '\t"HttpHeaders": {\n\t\t"User-Agent": "e2e"\n\t},\n'
            '\t"psFormat": "table {{.ID}}\\t{{.Names}}"\n}')
    original = head + entry_registry + entry_hub + kept_entries + tail
    config.write_text(original)
    os.chmod(config, 0o600)

    result = user.cmd("import", "docker-config", "--remove", "--json")
    assert result.returncode == 0, result
    report = json.loads(result.stdout)
    assert sorted(item["name"] for item in report["imported"]) == [
        f"registry-api.keyhole.test-{port}", "registry-docker.io"]
    skipped = {item["name"]: item["reason"] for item in report["skipped"]}
    assert "already exists" in skipped["registry-clash.keyhole.test"]
    assert "identity token" in skipped["registry-idtoken.keyhole.test"]
    assert report["files"][0]["path"] == str(config) and "backup" not in report["files"][0]

    assert config.read_bytes() == (head + kept_entries + tail).encode()
    assert json.loads(config.read_text())["credHelpers"] == {"gcr.io": "gcloud"}
    assert mode_of(config) == 0o600
    assert not list(config.parent.glob("*keyhole-backup*"))

    entries = listed(user)
    assert entries["registry-docker.io"]["hosts"] == ["registry-1.docker.io", "auth.docker.io", "index.docker.io"]
    assert entries["registry-docker.io"]["username"] == "hubber"
    assert entries[f"registry-api.keyhole.test-{port}"]["hosts"] == [registry]

    # A registry client's helper lookup under `keyhole run` gets bob + a placeholder; the upstream gets the secret.
    get = ("out = subprocess.run(['docker-credential-keyhole', 'get'], check=True, capture_output=True, text=True,\n"
           f"    input={registry!r}).stdout\n"
           "answer = json.loads(out)\n"
           "username, password = answer['Username'], answer['Secret']")
    used = basic_through_keyhole(user, get, upstream.url("/basic/dockerimport"))
    assert used.returncode == 0 and used.stdout.split() == ["bob", "200", "True"], used
    assert_no_secret([result, used], registry_secret, hub_secret, clash_secret, token)


def test_docker_config_errors_and_dry_run(user):
    config = user.home / ".docker" / "config.json"
    missing = user.cmd("import", "docker-config")
    assert missing.returncode != 0 and str(config) in missing.stderr and "DOCKER_CONFIG" in missing.stderr, missing
    config.parent.mkdir()
    config.write_text('{"auths": {"a.keyhole.test": {"auth": "x"}\n')
    broken = user.cmd("import", "docker-config")
    assert broken.returncode != 0 and "not valid JSON" in broken.stderr and "line 2" in broken.stderr, broken
    # DOCKER_CONFIG moves the file; a dry run changes nothing.
    elsewhere = user.home / "dockercfg"
    elsewhere.mkdir()
    secret = random_secret()
    text = json.dumps({"auths": {"r.keyhole.test": {"auth": docker_auth("u", secret)}}}, indent=2)
    (elsewhere / "config.json").write_text(text)
    dry = user.cmd("import", "docker-config", "--remove", "--dry-run", env={"DOCKER_CONFIG": str(elsewhere)})
    assert dry.returncode == 0 and "would import 'registry-r.keyhole.test'" in dry.stdout, dry
    assert (elsewhere / "config.json").read_text() == text and "registry-r.keyhole.test" not in listed(user)
    assert_no_secret([dry], secret)


# ---- aws-profile


def expected_sigv4(record: dict, keys: dict, base: str) -> dict:
    """botocore's SigV4 (execute-api, us-east-1) of the request keyhole sent upstream, made with the real keys at
    its X-Amz-Date."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {k.lower(): v for k, v in record["headers"]}
    signed = re.search(r"SignedHeaders=([^,]+)", headers["authorization"]).group(1).split(";")
    kept = {k: v for k, v in headers.items() if k in signed and k not in ("x-amz-security-token", "x-amz-date")}
    request = AWSRequest(method=record["method"], url=base + record["target"], headers=kept, data=b"")
    auth = SigV4Auth(Credentials(keys["id"], keys["secret"], keys.get("token")), "execute-api", "us-east-1")
    moment = datetime.datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        auth.add_auth(request)
    return {"authorization": request.headers["Authorization"], "token": request.headers.get("X-Amz-Security-Token")}


SIGNED_GET = """
import sys, botocore.session, requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
credentials = botocore.session.Session().get_credentials()
request = AWSRequest(method="GET", url=sys.argv[1])
SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
r = requests.get(sys.argv[1], headers=dict(request.headers.items()), timeout=30)
print(r.status_code, credentials.access_key.startswith("ASIA"))
"""


def test_aws_profile_import_remove_and_resign(user, upstream):
    keys = {"id": "AKIAIMPORTREALKEY001", "secret": random_secret("realsecret_"), "token": random_secret("realtoken_")}
    default_secret = random_secret("realsecret_")
    credentials = user.home / ".aws" / "credentials"
    credentials.parent.mkdir()
    before = ("# managed by hand\n"
              "[default]\n"
              "aws_access_key_id = AKIADEFAULTKEY000001\n"
              f"aws_secret_access_key = {default_secret}\n"
              "region = eu-west-1\n"
              "\n")
    imported = ("[ci]\n"
                f"aws_access_key_id = {keys['id']}\n"
                f"aws_secret_access_key={keys['secret']}\n"
                f"aws_session_token = {keys['token']}\n")
    comment = "; the next profile assumes a role\n"
    after = ("\n"
             "[role]\n"
             "role_arn = arn:aws:iam::123456789012:role/x\n"
             "source_profile = default\n")
    credentials.write_text(before + imported + comment + after)
    os.chmod(credentials, 0o600)

    unknown = user.cmd("import", "aws-profile", "nope")
    assert unknown.returncode != 0 and "no profile [nope]" in unknown.stderr and "default, ci, role" in unknown.stderr
    no_keys = user.cmd("import", "aws-profile", "role")
    assert no_keys.returncode != 0 and "aws_access_key_id" in no_keys.stderr and "hint:" in no_keys.stderr, no_keys

    result = user.cmd("import", "aws-profile", "ci", "--host", API, "--remove", "--backup")
    assert result.returncode == 0, result
    assert "imported 'ci'" in result.stdout and "removed 1 entry" in result.stdout, result
    # The profile's key lines and its then empty header are gone; the comment and everything else stay.
    assert credentials.read_text() == before + comment + after
    backup = credentials.with_name("credentials.keyhole-backup")
    assert backup.read_text() == before + imported + comment + after and mode_of(backup) == 0o600
    entry = listed(user)["ci"]
    assert entry["type"] == "aws" and entry["hosts"] == [API]

    # Default hosts are *.amazonaws.com; --name renames; the name clash is skipped.
    default = user.cmd("import", "aws-profile", "default", "--name", "aws-default", "--json")
    assert default.returncode == 0, default
    assert json.loads(default.stdout)["imported"][0]["hosts"] == ["*.amazonaws.com"]
    clash = user.cmd("import", "aws-profile", "default", "--name", "aws-default")
    assert clash.returncode == 0 and "already exists" in clash.stderr, clash

    # The SDK under `keyhole run` signs with placeholder keys; keyhole re-signs with the imported real ones.
    mark = upstream.mark()
    url = upstream.url("/open/awsimport")
    signed = user.run(PYTHON, "-c", SIGNED_GET, url, only=["ci"])
    assert signed.returncode == 0 and signed.stdout.split() == ["200", "True"], signed
    record = upstream.requests_since(mark)[-1]
    headers = {k.lower(): v for k, v in record["headers"]}
    assert f"Credential={keys['id']}/" in headers["authorization"]
    expected = expected_sigv4(record, keys, url.removesuffix("/open/awsimport"))
    assert headers["authorization"] == expected["authorization"]
    assert headers["x-amz-security-token"] == keys["token"]
    assert_no_secret([unknown, no_keys, result, default, clash, signed], keys["secret"], keys["token"], default_secret)
