"""The credential helpers' protocols (git, docker-credential-helpers, AWS credential_process) and the client
configuration `keyhole run` writes for them. Real git drives the git helper; the other protocols are spoken by
the test the way registry clients and AWS SDKs speak them."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from harness import PYTHON, random_secret

API = "api.keyhole.test"
REPO = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"khp_[0-9a-f]{40}")


def listed(user) -> dict[str, dict]:
    return {entry["name"]: entry for entry in json.loads(user.ok("list", "--json").stdout)}


def git_fill(user, host: str, protocol: str = "https", extra: str = ""):
    """`git credential fill` under `keyhole run`: git itself runs the helper `keyhole run` configured."""
    script = f"printf 'protocol={protocol}\\nhost={host}\\n{extra}\\n' | git credential fill"
    return user.run("sh", "-c", script, env={"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false"})


def parse_kv(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


@pytest.fixture(scope="module")
def helper_user(module_user):
    module_user.add("helper-api", random_secret(), API, username="bot")
    module_user.add("helper-port", random_secret(), "git.keyhole.test:8443")
    return module_user


# ---- git


def test_git_fill_hands_out_a_placeholder_for_a_scoped_host(helper_user):
    result = git_fill(helper_user, API)
    assert result.returncode == 0, result
    answer = parse_kv(result.stdout)
    assert PLACEHOLDER.fullmatch(answer["password"]), result
    assert answer["username"] == "bot"


def test_git_host_with_port_is_matched_with_its_port(helper_user):
    result = git_fill(helper_user, "git.keyhole.test:8443")
    assert result.returncode == 0, result
    assert PLACEHOLDER.fullmatch(parse_kv(result.stdout)["password"])
    assert parse_kv(result.stdout)["username"] == "x-access-token"
    # The same host on another port is not covered: git gets nothing and, with prompts off, fails.
    other = git_fill(helper_user, "git.keyhole.test:9443")
    assert other.returncode != 0 and "password=" not in other.stdout, other


def test_git_helper_outside_a_session_prints_nothing(helper_user):
    result = helper_user.cmd("git-credential", "get", input="protocol=https\nhost=api.keyhole.test\n\n")
    assert result.returncode == 0 and result.stdout == "", result


def test_git_helper_with_an_ended_session_says_so_and_lets_git_go_on(helper_user):
    result = helper_user.cmd("git-credential", "get", input="protocol=https\nhost=api.keyhole.test\n\n",
                             env={"KEYHOLE_SESSION": "0" * 48})
    assert result.returncode == 0 and result.stdout == "", result
    assert "session" in result.stderr


def test_git_helper_malformed_input_and_unknown_operation(helper_user):
    bad = helper_user.cmd("git-credential", "get", input="protocol=https\nthis line has no equals sign\n\n")
    assert bad.returncode != 0 and "line 2" in bad.stderr and "key=value" in bad.stderr, bad
    unknown = helper_user.cmd("git-credential", "frobnicate", input="protocol=https\n\n")
    assert unknown.returncode == 0 and unknown.stdout == "" and unknown.stderr == "", unknown


def test_git_store_and_erase_of_a_placeholder_keep_the_secret(helper_user):
    script = (
        "ph=$(printf 'protocol=https\\nhost=api.keyhole.test\\n\\n' | git credential fill | sed -n 's/^password=//p');"
        "printf 'protocol=https\\nhost=api.keyhole.test\\nusername=bot\\npassword=%s\\n\\n' \"$ph\" | git credential approve;"
        "printf 'protocol=https\\nhost=api.keyhole.test\\nusername=bot\\npassword=%s\\n\\n' \"$ph\" | git credential reject"
    )
    before = listed(helper_user)
    result = helper_user.run("sh", "-c", script)
    assert result.returncode == 0, result
    assert "helper-api" in result.stderr and "keyhole rotate helper-api" in result.stderr, result
    assert listed(helper_user) == before
    # The credential still works: a fill hands out a placeholder again.
    assert PLACEHOLDER.fullmatch(parse_kv(git_fill(helper_user, API).stdout)["password"])


def test_git_store_of_a_typed_password_imports_it_for_that_host_only(helper_user):
    secret = random_secret("typed_")
    script = (
        f"printf 'protocol=https\\nhost=new.keyhole.test\\nusername=me\\npassword={secret}\\n\\n' | git credential approve;"
        "printf 'protocol=https\\nhost=new.keyhole.test\\n\\n' | git credential fill"
    )
    result = helper_user.run("sh", "-c", script, env={"GIT_TERMINAL_PROMPT": "0"})
    assert result.returncode == 0, result
    assert secret not in result.stdout + result.stderr
    answer = parse_kv(result.stdout)
    assert PLACEHOLDER.fullmatch(answer["password"]) and answer["username"] == "me", result
    credential = listed(helper_user)["git-new.keyhole.test"]
    assert credential["hosts"] == ["new.keyhole.test"] and credential["username"] == "me"
    # A host some credential already covers is never re-scoped or overwritten by a store.
    again = helper_user.cmd("git-credential", "store",
                            input=f"protocol=https\nhost=api.keyhole.test\nusername=x\npassword={secret}\n\n")
    assert again.returncode == 0 and "helper-api" in again.stderr, again
    assert "git-api.keyhole.test" not in listed(helper_user)
    # Without a port the import would cover every port, including one another credential already covers.
    overlap = helper_user.cmd("git-credential", "store",
                              input=f"protocol=https\nhost=git.keyhole.test\nusername=x\npassword={secret}\n\n")
    assert overlap.returncode == 0 and "helper-port" in overlap.stderr, overlap
    assert "git-git.keyhole.test" not in listed(helper_user)


# ---- docker-credential-helpers protocol


def docker(user, *args: str, input: str, in_session: bool = True):
    """docker-credential-keyhole as a registry client runs it: by name on PATH, in a `keyhole run` session."""
    if in_session:
        return user.run("sh", "-c", 'printf %s "$IN" | docker-credential-keyhole "$@"', "sh", *args,
                        env={"IN": input})
    return user.cmd("docker-credential", *args, input=input)


def test_docker_get_returns_the_placeholder_as_secret(helper_user):
    result = docker(helper_user, "get", input=f"https://{API}/v2/")
    assert result.returncode == 0, result
    answer = json.loads(result.stdout)
    assert answer["ServerURL"] == f"https://{API}/v2/" and answer["Username"] == "bot"
    assert PLACEHOLDER.fullmatch(answer["Secret"])


def test_docker_get_not_found_outside_a_session_and_for_other_hosts(helper_user):
    outside = docker(helper_user, "get", input=API, in_session=False)
    assert outside.returncode == 1 and outside.stdout.strip() == "credentials not found in native keychain", outside
    other = docker(helper_user, "get", input="elsewhere.example:5000")
    assert other.returncode == 1 and "credentials not found" in other.stdout, other


def test_docker_list_store_erase_and_malformed_input(helper_user):
    listing = docker(helper_user, "list", input="")
    assert listing.returncode == 0, listing
    assert json.loads(listing.stdout).get(API) == "bot"
    assert json.loads(listing.stdout).get("git.keyhole.test:8443") == "keyhole"

    bad = docker(helper_user, "store", input="not json")
    assert bad.returncode != 0 and "ServerURL" in bad.stderr, bad

    secret = random_secret("reg_")
    stored = docker(helper_user, "store",
                    input=json.dumps({"ServerURL": "registry.new.test:5000", "Username": "u", "Secret": secret}))
    assert stored.returncode == 0 and secret not in stored.stdout + stored.stderr, stored
    assert listed(helper_user)["registry-registry.new.test-5000"]["hosts"] == ["registry.new.test:5000"]

    erased = docker(helper_user, "erase", input="registry.new.test:5000")
    assert erased.returncode == 0, erased
    assert "registry-registry.new.test-5000" in listed(helper_user)


# ---- AWS


def aws_keys() -> dict[str, str]:
    return {"AccessKeyId": "AKIA" + "EXAMPLEREALKEY00", "SecretAccessKey": random_secret("awssecret_")}


def test_add_aws_validates_the_json_and_defaults_to_amazonaws(user):
    bad = user.cmd("add", "aws-bad", "--type", "aws", input="AKIAEXAMPLE:notjson")
    assert bad.returncode != 0 and "AccessKeyId" in bad.stderr, bad
    keys = aws_keys()
    result = user.cmd("add", "aws-good", "--type", "aws", input=json.dumps(keys))
    assert result.returncode == 0, result
    assert keys["SecretAccessKey"] not in result.stdout + result.stderr
    entry = listed(user)["aws-good"]
    assert entry["type"] == "aws" and entry["hosts"] == ["*.amazonaws.com"]
    refused = user.cmd("add", "aws-env", "--type", "aws", "--env", "AWS_SECRET_ACCESS_KEY", input=json.dumps(keys))
    assert refused.returncode != 0 and "credential_process" in refused.stderr, refused


def test_aws_credential_process_prints_placeholder_keys(user):
    keys = aws_keys()
    user.ok("add", "work", "--type", "aws", input=json.dumps(keys))
    outside = user.cmd("aws-credential-process", "work")
    assert outside.returncode != 0 and "keyhole run" in outside.stderr, outside
    result = user.run("sh", "-c", 'keyhole_bin="$0"; "$keyhole_bin" aws-credential-process work; echo; '
                      '"$keyhole_bin" aws-credential-process nosuch', str(user.binary))
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    answer = json.loads(lines[0])
    assert answer["Version"] == 1
    assert re.fullmatch(r"(AKIA|ASIA)[A-Z0-9]{16}", answer["AccessKeyId"]), answer
    assert answer["AccessKeyId"] != keys["AccessKeyId"]
    assert answer["SecretAccessKey"] != keys["SecretAccessKey"] and answer["SessionToken"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", answer["Expiration"]), answer
    assert keys["SecretAccessKey"] not in result.stdout + result.stderr
    assert "'nosuch' is not an aws credential" in result.stderr and "work" in result.stderr


def test_run_writes_client_configs_for_git_registries_and_aws(user):
    keys = aws_keys()
    user.ok("add", "work", "--type", "aws", input=json.dumps(keys))
    user.add("registry", random_secret(), "registry.keyhole.test:5000", username="ci")
    (user.home / ".aws").mkdir()
    (user.home / ".aws" / "config").write_text(
        "[default]\nregion = eu-west-1\noutput = json\n\n"
        "[profile work]\nregion = us-east-2\nendpoint_url = https://example.test\n"
        "aws_secret_access_key = plaintext-in-config\ns3 =\n    addressing_style = path\n"
        "credential_process = /usr/bin/old-helper\n\n[profile other]\nregion = ap-south-1\nrole_arn = arn:x\n")
    (user.home / ".aws" / "credentials").write_text("[default]\naws_secret_access_key = plaintext\n")
    script = (
        f"{PYTHON} -c 'import os, json; print(json.dumps(dict(os.environ)))'; echo '----';"
        'cat "$AWS_CONFIG_FILE"; echo "----"; cat "$DOCKER_CONFIG/config.json"; echo "----";'
        'cat "$REGISTRY_AUTH_FILE"; echo "----"; wc -c < "$AWS_SHARED_CREDENTIALS_FILE"; echo "----"; '
        'git config --get-all credential.helper; echo "----"; command -v docker-credential-keyhole'
    )
    result = user.run("sh", "-c", script,
                      env={"AWS_ACCESS_KEY_ID": "AKIAOLD", "AWS_SECRET_ACCESS_KEY": "old", "AWS_SESSION_TOKEN": "t",
                           "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "credential.helper",
                           "GIT_CONFIG_VALUE_0": "store"})
    assert result.returncode == 0, result
    env_text, aws_config, docker_config, auth_file, creds_size, helpers, helper_path = result.stdout.split("----\n")
    env = json.loads(env_text)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert name not in env
    assert env["AWS_PROFILE"] == "work"
    assert env["GIT_CONFIG_COUNT"] == "3"
    assert (env["GIT_CONFIG_KEY_1"], env["GIT_CONFIG_VALUE_1"]) == ("credential.helper", "")
    assert (env["GIT_CONFIG_KEY_2"], env["GIT_CONFIG_VALUE_2"]) == ("credential.helper", "keyhole")
    assert helpers.splitlines() == ["store", "", "keyhole"], "the user's helpers, the reset, then keyhole"
    assert helper_path.strip().endswith("/docker-credential-keyhole")
    # AWS: settings carried over, credentials gone, one credential_process per keyhole aws credential.
    assert "region = eu-west-1" in aws_config and "output = json" in aws_config
    assert "[profile work]" in aws_config and "region = us-east-2" in aws_config
    assert "endpoint_url = https://example.test" in aws_config and "    addressing_style = path" in aws_config
    assert "[profile other]" in aws_config and "ap-south-1" in aws_config
    for gone in ("plaintext-in-config", "old-helper", "role_arn"):
        assert gone not in aws_config
    assert re.search(r"credential_process = '?/\S*keyhole'? aws-credential-process work", aws_config), aws_config
    assert creds_size.strip() == "0"
    # Registries: credsStore plus credHelpers by exact host:port (skopeo and podman read only credHelpers).
    docker_json = json.loads(docker_config)
    assert docker_json["credsStore"] == "keyhole"
    assert docker_json["credHelpers"]["registry.keyhole.test:5000"] == "keyhole"
    assert json.loads(auth_file) == docker_json
    # The session's files go with the session.
    sessions = user.keyhole_runtime_dir / "sessions"
    assert not sessions.exists() or list(sessions.iterdir()) == []
    assert keys["SecretAccessKey"] not in result.stdout


def test_the_users_own_git_helpers_are_not_asked_in_a_session(user):
    (user.home / ".git-credentials").write_text("https://me:plaintext-token@plain.example\n")
    (user.home / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    user.ok("add", "unrelated", "--host", "unrelated.example", input=random_secret())
    outside = subprocess.run(["git", "credential", "fill"], capture_output=True,
                             text=True, input="protocol=https\nhost=plain.example\n\n", env=user.env)
    assert "plaintext-token" in outside.stdout, "precondition: git's store helper answers outside keyhole"
    inside = user.run("sh", "-c", "printf 'protocol=https\\nhost=plain.example\\n\\n' | git credential fill",
                      env={"GIT_TERMINAL_PROMPT": "0"})
    assert "plaintext-token" not in inside.stdout, inside


def test_helper_names_dispatch_on_argv0(helper_user, tmp_path):
    link = tmp_path / "docker-credential-keyhole"
    link.symlink_to(helper_user.binary)
    result = subprocess.run([str(link), "get"], input=API, capture_output=True, text=True, env=helper_user.env)
    assert result.returncode == 1 and "credentials not found" in result.stdout, result
    shim = REPO / "helpers" / "git-credential-keyhole"
    env = dict(helper_user.env, PATH=f"{helper_user.binary.parent}:{os.environ['PATH']}")
    result = subprocess.run([str(shim), "get"], input="protocol=https\nhost=x.test\n\n", capture_output=True,
                            text=True, env=env)
    assert result.returncode == 0 and result.stdout == "", result
