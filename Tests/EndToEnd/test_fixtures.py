"""Smoke tests of the end-to-end fixtures WITHOUT keyhole: the git server, the registry (htpasswd and token
auth) and the moto AWS server, driven by the real clients (git, skopeo, aws) with the real credentials, and
refused with wrong ones. Host names are mapped to 127.0.0.1 with the clients' own options, or through a
tiny CONNECT proxy (fixturetls.ConnectProxy) that plays keyhole's ``resolve`` part."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest

from awsserver import AwsServer
from fixturetls import ConnectProxy, make_ca
from gitserver import GitServer
from registry import Registry, make_oci_layout

_OUTSIDE = ("AWS_", "GIT_", "SSL_CERT_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "REGISTRY_AUTH_FILE", "XDG_")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_OUTSIDE) and not k.lower().endswith("_proxy")}
    env.update(LANG="C.UTF-8", LC_ALL="C.UTF-8")
    env.update(extra)
    return env


def _run(args, env, cwd=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _need(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"`{binary}` not found: install `{package}` (scripts/install-deps.sh --test)", pytrace=False)
    return path


@pytest.fixture(scope="module")
def workdir():
    directory = tempfile.mkdtemp(prefix="khe2e-fixtures-", dir="/tmp")
    yield directory
    if not os.environ.get("KEYHOLE_E2E_KEEP"):
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def ca(workdir):
    """One CA for every fixture (keyhole would get its path as upstream_ca)."""
    return make_ca(workdir, "fixtures")


# --------------------------------------------------------------------------------------------------
# git


@pytest.fixture(scope="module")
def git(workdir, ca):
    _need("git", "git")
    server = GitServer(os.path.join(workdir, "git"), ca).start()
    yield server
    server.stop()


def _git_env(git: GitServer, home: str, **extra: str) -> dict[str, str]:
    os.makedirs(home, exist_ok=True)
    return _clean_env(HOME=home, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", GIT_TERMINAL_PROMPT="0",
                      GIT_SSL_CAINFO=git.ca_path, GIT_AUTHOR_NAME="e2e", GIT_AUTHOR_EMAIL="e2e@keyhole.test",
                      GIT_COMMITTER_NAME="e2e", GIT_COMMITTER_EMAIL="e2e@keyhole.test", **extra)


def _resolve_opt(git: GitServer) -> list[str]:
    return ["-c", f"http.curloptResolve={git.host}:{git.port}:127.0.0.1"]


def test_git_clone_commit_push_with_the_real_token(git, ca, workdir):
    assert git.ca_path == ca[0]
    git.create_repo("demo")
    before = git.head("demo")
    home = os.path.join(workdir, "git-home")
    work = os.path.join(workdir, "git-work")
    mark = git.mark()
    # Clone with user:token in the URL.
    clone = _run(["git", *_resolve_opt(git), "clone", git.url("demo", userinfo=f"{git.username}:{git.token}"), work],
                 _git_env(git, home))
    assert clone.returncode == 0, clone.stderr
    with open(os.path.join(work, "README")) as f:
        assert "keyhole e2e test repo" in f.read()
    # Commit and push through GIT_ASKPASS (the remote URL has no credentials).
    askpass = os.path.join(workdir, "askpass.sh")
    with open(askpass, "w") as f:
        f.write('#!/bin/sh\ncase "$1" in Username*) echo "$E2E_GIT_USER";; *) echo "$E2E_GIT_TOKEN";; esac\n')
    os.chmod(askpass, stat.S_IRWXU)
    env = _git_env(git, home, GIT_ASKPASS=askpass, E2E_GIT_USER=git.username, E2E_GIT_TOKEN=git.token)
    assert _run(["git", "-C", work, "remote", "set-url", "origin", git.url("demo")], env).returncode == 0
    with open(os.path.join(work, "new.txt"), "w") as f:
        f.write("pushed through the e2e git server\n")
    assert _run(["git", "-C", work, "add", "new.txt"], env).returncode == 0
    assert _run(["git", "-C", work, "commit", "-q", "-m", "second"], env).returncode == 0
    push = _run(["git", *_resolve_opt(git), "-C", work, "push", "origin", "main"], env)
    assert push.returncode == 0, push.stderr
    local_head = _run(["git", "-C", work, "rev-parse", "HEAD"], env).stdout.strip()
    assert git.head("demo") == local_head != before
    # What the server saw: 401 challenges first, then the real token, and the right Host.
    seen = git.requests_since(mark)
    assert seen[0]["status"] == 401 and seen[0]["auth_scheme"] is None
    assert any(r["path"].endswith("/git-receive-pack") and r["status"] == 200 for r in seen)
    assert all(r["password"] == git.token for r in seen if r["status"] == 200)
    assert git.saw_password(git.token, mark)
    assert {r["host"] for r in seen} == {f"{git.host}:{git.port}"}


def test_git_wrong_token_is_refused(git, workdir):
    git.create_repo("private")
    mark = git.mark()
    clone = _run(["git", *_resolve_opt(git), "clone", git.url("private", userinfo=f"{git.username}:sk_wrong_token"),
                  os.path.join(workdir, "git-wrong")], _git_env(git, os.path.join(workdir, "git-home2")))
    assert clone.returncode != 0
    assert "Authentication failed" in clone.stderr or "401" in clone.stderr
    seen = git.requests_since(mark)
    assert seen and all(r["status"] == 401 for r in seen)
    assert git.saw_password("sk_wrong_token", mark) and not git.saw_password(git.token, mark)


# --------------------------------------------------------------------------------------------------
# registry


@pytest.fixture(scope="module")
def registry(workdir, ca):
    _need("skopeo", "skopeo")
    server = Registry(os.path.join(workdir, "registry"), ca).start()
    yield server
    server.stop()


def _skopeo_env(workdir: str, **extra: str) -> dict[str, str]:
    home = os.path.join(workdir, "skopeo-home")
    os.makedirs(home, exist_ok=True)
    return _clean_env(HOME=home, REGISTRY_AUTH_FILE=os.path.join(home, "auth.json"), **extra)


def test_registry_push_and_inspect_with_htpasswd(registry, ca, workdir):
    assert registry.ca_path == ca[0]
    layout = os.path.join(workdir, "oci-image")
    digests = make_oci_layout(layout, "v1")
    env = _skopeo_env(workdir)
    dest = registry.ref("demo", "v1", host="127.0.0.1")
    copy = _run(["skopeo", "--insecure-policy", "copy", "--dest-creds", f"{registry.username}:{registry.password}",
                 "--dest-cert-dir", registry.cert_dir, f"oci:{layout}:v1", dest], env)
    assert copy.returncode == 0, copy.stderr
    inspect = _run(["skopeo", "inspect", "--creds", f"{registry.username}:{registry.password}",
                    "--cert-dir", registry.cert_dir, dest], env)
    assert inspect.returncode == 0, inspect.stderr
    info = json.loads(inspect.stdout)
    assert info["Digest"] == digests["manifest"] and info["Layers"] == [digests["layer"]]
    # Wrong password: refused both ways.
    bad = _run(["skopeo", "inspect", "--creds", f"{registry.username}:sk_wrong", "--cert-dir", registry.cert_dir,
                dest], env)
    assert bad.returncode != 0 and ("unauthorized" in bad.stderr.lower() or "authentication" in bad.stderr.lower())
    bad_push = _run(["skopeo", "--insecure-policy", "copy", "--dest-creds", f"{registry.username}:sk_wrong",
                     "--dest-cert-dir", registry.cert_dir, f"oci:{layout}:v1",
                     registry.ref("other", "v1", host="127.0.0.1")], env)
    assert bad_push.returncode != 0


def test_registry_token_auth_through_a_resolving_proxy(workdir, ca):
    """auth="token": Basic goes to auth.keyhole.test, a bearer JWT to registry.keyhole.test; both names
    reached through a CONNECT proxy mapping them to 127.0.0.1 (keyhole's resolve plays that part later)."""
    _need("skopeo", "skopeo")
    registry = Registry(os.path.join(workdir, "registry-token"), ca, auth="token").start()
    proxy = ConnectProxy(registry.resolve_map()).start()
    try:
        layout = os.path.join(workdir, "oci-image-token")
        digests = make_oci_layout(layout, "v2", layer_bytes=256 * 1024)
        env = _skopeo_env(workdir, HTTPS_PROXY=proxy.url)
        dest = registry.ref("team/app", "v2")
        assert dest.startswith("docker://registry.keyhole.test:")
        copy = _run(["skopeo", "--insecure-policy", "copy", "--dest-creds",
                     f"{registry.username}:{registry.password}", "--dest-cert-dir", registry.cert_dir,
                     f"oci:{layout}:v2", dest], env)
        assert copy.returncode == 0, copy.stderr
        inspect = _run(["skopeo", "inspect", "--creds", f"{registry.username}:{registry.password}",
                        "--cert-dir", registry.cert_dir, dest], env)
        assert inspect.returncode == 0, inspect.stderr
        assert json.loads(inspect.stdout)["Digest"] == digests["manifest"]
        tokens = registry.token_requests
        assert tokens and all(r["status"] == 200 and r["password"] == registry.password for r in tokens)
        assert {r["host"] for r in tokens} == {f"{registry.auth_host}:{registry.auth_port}"}
        assert any("scope=repository%3Ateam%2Fapp%3Apull%2Cpush" in r["path"] for r in tokens)
        assert set(proxy.connects) == set(registry.resolve_map())
        bad = _run(["skopeo", "inspect", "--creds", f"{registry.username}:sk_wrong", "--cert-dir",
                    registry.cert_dir, dest], env)
        assert bad.returncode != 0
        assert registry.token_requests[-1]["status"] == 401
    finally:
        proxy.stop()
        registry.stop()


# --------------------------------------------------------------------------------------------------
# AWS (moto)


@pytest.fixture(scope="module")
def aws_server(workdir, ca):
    server = AwsServer(os.path.join(workdir, "aws"), ca).start()
    yield server
    server.stop()


def _aws_binary() -> str:
    beside = os.path.join(os.path.dirname(sys.executable), "aws")  # not a pyenv shim
    return beside if os.access(beside, os.X_OK) else _need("aws", "awscli (pip)")


def _aws_env(aws_server: AwsServer, workdir: str, path_style: bool = True, **extra: str) -> dict[str, str]:
    config = os.path.join(workdir, "aws-config-path" if path_style else "aws-config-auto")
    with open(config, "w") as f:
        f.write("[default]\nregion = us-east-1\n")
        if path_style:
            f.write("s3 =\n    addressing_style = path\n")
    env = _clean_env(AWS_CA_BUNDLE=aws_server.ca_path, AWS_CONFIG_FILE=config,
                     AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true",
                     AWS_ACCESS_KEY_ID=aws_server.access_key_id, AWS_SECRET_ACCESS_KEY=aws_server.secret_access_key)
    env.update(extra)
    return env


def _aws(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return _run([_aws_binary(), *args], env, timeout=180)


def test_aws_cli_with_the_real_key(aws_server, ca, workdir):
    assert aws_server.ca_path == ca[0]
    env = _aws_env(aws_server, workdir)
    endpoint = ["--endpoint-url", aws_server.endpoint("127.0.0.1")]
    who = _aws("sts", "get-caller-identity", *endpoint, env=env)
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["Arn"] == aws_server.user_arn
    assert _aws("s3", "mb", "s3://e2e-bucket", *endpoint, env=env).returncode == 0
    big = os.path.join(workdir, "big.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(20 * 1024 * 1024))
    mark = aws_server.mark()
    upload = _aws("s3", "cp", big, "s3://e2e-bucket/dir/big.bin", *endpoint, env=env)
    assert upload.returncode == 0, upload.stderr
    parts = [r for r in aws_server.requests(mark) if r["method"] == "PUT" and "partNumber=" in r["query"]]
    assert len(parts) >= 2  # multipart
    modes = {dict(r["headers"]).get("X-Amz-Content-Sha256") for r in parts}
    print(f"awscli UploadPart x-amz-content-sha256: {sorted(modes)}; headers of one part: "
          f"{ {k: v for k, v in parts[0]['headers'] if k != 'Authorization'} }")
    assert modes <= {"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"} \
        or all(len(m or "") == 64 for m in modes)
    listing = _aws("s3", "ls", "s3://e2e-bucket/dir/", *endpoint, env=env)
    assert listing.returncode == 0, listing.stderr
    assert "big.bin" in listing.stdout and str(20 * 1024 * 1024) in listing.stdout
    back = os.path.join(workdir, "big.back")
    assert _aws("s3", "cp", "s3://e2e-bucket/dir/big.bin", back, *endpoint, env=env).returncode == 0
    with open(big, "rb") as a, open(back, "rb") as b:
        assert a.read() == b.read()


def test_aws_refuses_bad_signatures(aws_server, workdir):
    """moto really checks SigV4: a wrong secret, an unknown key, a tampered body, a tampered session token are
    all refused; the same request with the right key passes."""
    endpoint = ["--endpoint-url", aws_server.endpoint("127.0.0.1")]
    wrong = _aws_env(aws_server, workdir, AWS_SECRET_ACCESS_KEY=aws_server.secret_access_key[:-4] + "AAAA")
    result = _aws("sts", "get-caller-identity", *endpoint, env=wrong)
    assert result.returncode != 0 and "SignatureDoesNotMatch" in result.stderr
    result = _aws("s3", "ls", *endpoint, env=wrong)
    assert result.returncode != 0 and "SignatureDoesNotMatch" in result.stderr
    unknown = _aws_env(aws_server, workdir, AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE")
    result = _aws("sts", "get-caller-identity", *endpoint, env=unknown)
    assert result.returncode != 0 and "InvalidClientTokenId" in result.stderr

    # A correctly signed request whose body is changed afterwards (the signature covers the body hash).
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import requests

    def signed(body: str) -> botocore.awsrequest.AWSRequest:
        request = botocore.awsrequest.AWSRequest(
            method="POST", url=f"{aws_server.endpoint('127.0.0.1')}/", data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        credentials = botocore.credentials.Credentials(aws_server.access_key_id, aws_server.secret_access_key)
        botocore.auth.SigV4Auth(credentials, "sts", "us-east-1").add_auth(request)
        return request

    good = signed("Action=GetCallerIdentity&Version=2011-06-15")
    response = requests.post(good.url, data=good.body, headers=dict(good.headers), verify=aws_server.ca_path)
    assert response.status_code == 200 and aws_server.user_arn in response.text
    tampered = signed("Action=GetCallerIdentity&Version=2011-06-15")
    response = requests.post(tampered.url, data="Action=GetCallerIdentity&Version=2011-06-15&X=1",
                             headers={k: v for k, v in tampered.headers.items() if k != "Content-Length"},
                             verify=aws_server.ca_path)
    assert response.status_code == 403 and "SignatureDoesNotMatch" in response.text

    # Temporary credentials (AssumeRole): accepted with the right session token, refused with a wrong one.
    session = aws_server.session
    temp = _aws_env(aws_server, workdir, AWS_ACCESS_KEY_ID=session["AccessKeyId"],
                    AWS_SECRET_ACCESS_KEY=session["SecretAccessKey"], AWS_SESSION_TOKEN=session["SessionToken"])
    result = _aws("sts", "get-caller-identity", *endpoint, env=temp)
    assert result.returncode == 0, result.stderr
    assert ":assumed-role/" in json.loads(result.stdout)["Arn"]
    assert _aws("s3", "ls", *endpoint, env=temp).returncode == 0
    bad_token = dict(temp, AWS_SESSION_TOKEN=session["SessionToken"][:-4] + "AAAA")
    result = _aws("s3", "ls", *endpoint, env=bad_token)
    assert result.returncode != 0 and "InvalidToken" in result.stderr


def test_aws_real_host_names_through_a_resolving_proxy(aws_server, workdir):
    """Requests arrive as they will through keyhole: Host sts.us-east-1.amazonaws.com / s3.amazonaws.com
    (default endpoints, port 443 mapped to the server), Host sts.amazonaws.com:PORT and
    s3.us-east-1.amazonaws.com:PORT (explicit endpoints), path-style and virtual-hosted S3."""
    def route(authority: str) -> str | None:
        host = authority.rpartition(":")[0]
        return f"127.0.0.1:{aws_server.port}" if host.endswith(".amazonaws.com") else None

    proxy = ConnectProxy(route).start()
    try:
        env = _aws_env(aws_server, workdir, HTTPS_PROXY=proxy.url)
        mark = aws_server.mark()
        assert _aws("sts", "get-caller-identity", env=env).returncode == 0
        result = _aws("sts", "get-caller-identity", "--endpoint-url", f"https://sts.amazonaws.com:{aws_server.port}",
                      env=env)
        assert result.returncode == 0, result.stderr
        assert _aws("s3", "mb", "s3://hostnames", env=env).returncode == 0
        assert _aws("s3", "cp", "/etc/hostname", "s3://hostnames/a b/c.txt", env=env).returncode == 0
        regional = ["--endpoint-url", f"https://s3.us-east-1.amazonaws.com:{aws_server.port}"]
        result = _aws("s3", "ls", "s3://hostnames/a b/", *regional, env=env)
        assert result.returncode == 0 and "c.txt" in result.stdout, result.stderr
        virtual = _aws_env(aws_server, workdir, path_style=False, HTTPS_PROXY=proxy.url)
        result = _aws("s3", "ls", "s3://hostnames/a b/", env=virtual)
        assert result.returncode == 0 and "c.txt" in result.stdout, result.stderr
        hosts = [(r["host"], r["method"], r["path"], r["status"]) for r in aws_server.requests(mark)]
        got = {h for h, _, _, status in hosts if status == 200}
        port = aws_server.port
        assert {"sts.us-east-1.amazonaws.com", f"sts.amazonaws.com:{port}", "s3.amazonaws.com",
                f"s3.us-east-1.amazonaws.com:{port}", "hostnames.s3.amazonaws.com"} <= got, hosts
        assert all(status == 200 for *_, status in hosts), hosts
        assert ("s3.amazonaws.com", "PUT", "/hostnames/a b/c.txt", 200) in hosts  # path-style
        put = [r for r in aws_server.requests(mark) if r["method"] == "PUT" and r["path"].endswith("c.txt")][0]
        print(f"awscli PutObject (small) target {put['target']!r} x-amz-content-sha256: "
              f"{dict(put['headers']).get('X-Amz-Content-Sha256')}")
        assert not [c for c in proxy.connects if route(c) is None]
    finally:
        proxy.stop()
