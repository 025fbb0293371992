"""Real clients through keyhole with credentials only from keyhole's helpers: git (clone and push to a smart-HTTP
server that wants the real token), skopeo (into Debian's docker-registry with htpasswd Basic auth, and with token
auth through a realm), awscli (against moto with its signature checking on), and botocore's own signers whose
requests keyhole re-signs, compared with botocore's signature for the real key."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path
from unittest import mock

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from awsserver import AwsServer
from gitserver import GitServer
from harness import PYTHON, KeyholeUser, random_secret
from registry import Registry, make_oci_layout

HERE = Path(__file__).resolve().parent
PLACEHOLDER = re.compile(r"khp_[0-9a-f]{40}")


@pytest.fixture(scope="module")
def servers(upstream):
    directory = tempfile.mkdtemp(prefix="khe2e-clients-", dir="/tmp")
    started = {
        "git": GitServer(os.path.join(directory, "git")).start(),
        "registry": Registry(os.path.join(directory, "registry")).start(),
        "token_registry": Registry(os.path.join(directory, "token-registry"), auth="token").start(),
        "aws": AwsServer(os.path.join(directory, "aws")).start(),
    }
    yield started
    for server in started.values():
        server.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def client_user(servers, upstream, keyhole_bin):
    user = KeyholeUser(upstream=upstream, write_config=False)
    resolve: dict[str, str] = {}
    for server in servers.values():
        resolve.update(server.resolve_map())
    user.write_config(extra_ca=[s.ca_path for s in servers.values()], extra_resolve=resolve)
    git, registry, token_registry, aws = (servers[k] for k in ("git", "registry", "token_registry", "aws"))
    user.add("gitsrv", git.token, f"{git.host}:{git.port}", username=git.username)
    user.add("registry", registry.password, registry.authority, username=registry.username)
    user.add("token-registry", token_registry.password, token_registry.authority,
             f"{token_registry.auth_host}:{token_registry.auth_port}", username=token_registry.username)
    user.ok("add", "aws", "--type", "aws", input=json.dumps(
        {"AccessKeyId": aws.access_key_id, "SecretAccessKey": aws.secret_access_key}))
    user.ok("add", "aws-temp", "--type", "aws", input=json.dumps(aws.session))
    # The user's own AWS settings reach the workload through the generated config: path-style S3 addressing
    # (bucket names then need no DNS entry of their own).
    (user.home / ".aws").mkdir()
    (user.home / ".aws" / "config").write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    yield user
    user.cleanup()


def home_and_outputs_clean(user, secret: str, *outputs: str) -> None:
    for text in outputs:
        assert secret not in text, "the real secret reached the workload's output"
    for path in user.home.rglob("*"):
        if path.is_file() and not path.is_symlink() and "vault" not in path.name:
            assert secret.encode() not in path.read_bytes(), f"the real secret is in {path}"


# ---- git


def test_git_clone_and_push_through_keyhole(client_user, servers, tmp_path):
    git = servers["git"]
    git.create_repo("project", {"README.md": "hello\n"})
    mark = git.mark()
    work = client_user.scratch / "project"
    clone = client_user.run("git", "clone", git.url("project"), str(work),
                            env={"GIT_TERMINAL_PROMPT": "0"}, timeout=120)
    assert clone.returncode == 0, clone
    assert (work / "README.md").read_text() == "hello\n"
    script = (
        "cd \"$0\" && git -c user.name=t -c user.email=t@example.test commit -q --allow-empty -m change "
        "&& git push -q origin HEAD:main 2>&1 && git rev-parse HEAD"
    )
    push = client_user.run("sh", "-c", script, str(work), env={"GIT_TERMINAL_PROMPT": "0"}, timeout=120)
    assert push.returncode == 0, push
    assert git.head("project") == push.stdout.strip().splitlines()[-1]
    # The server saw the real token, never a placeholder; the clone, HOME and outputs never hold the token.
    assert git.saw_password(git.token, since=mark)
    assert not any(PLACEHOLDER.search(r.get("password") or "") for r in git.requests_since(mark))
    config = (work / ".git" / "config").read_text()
    assert git.token not in config and "khp_" not in config
    home_and_outputs_clean(client_user, git.token, clone.stdout, clone.stderr, push.stdout, push.stderr)


# ---- registries


def skopeo_copy(user, registry, tag: str):
    layout = user.scratch / f"image-{tag}"
    make_oci_layout(str(layout), tag)
    return user.run("skopeo", "--insecure-policy", "copy", "--quiet", f"oci:{layout}:{tag}",
                    registry.ref("e2e/app", tag), timeout=180)


def test_skopeo_copies_into_a_registry_with_basic_auth(client_user, servers):
    registry = servers["registry"]
    result = skopeo_copy(client_user, registry, "basic")
    assert result.returncode == 0, f"{result}\n{registry.log_tail()}"
    inspect = client_user.run("skopeo", "inspect", "--raw", registry.ref("e2e/app", "basic"), timeout=60)
    assert inspect.returncode == 0 and "schemaVersion" in inspect.stdout, inspect
    home_and_outputs_clean(client_user, registry.password, result.stdout, result.stderr, inspect.stdout)
    audit = [r for r in client_user.audit_records() if r.get("host") == registry.authority]
    assert any(r["decision"] == "swap" and r["credential"] == "registry" for r in audit)


def test_skopeo_with_registry_token_auth_sends_the_placeholder_to_the_realm(client_user, servers):
    registry = servers["token_registry"]
    result = skopeo_copy(client_user, registry, "token")
    assert result.returncode == 0, f"{result}\n{registry.log_tail()}"
    assert registry.token_server_saw_password(registry.password)
    assert not any(PLACEHOLDER.search(r.get("password") or "") for r in registry.token_requests)


# ---- AWS


def aws(user, *args: str, timeout: float = 180):
    return user.run("aws", *args, only=["aws"], timeout=timeout,
                    env={"AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1"})


def test_awscli_sts_and_s3_through_keyhole(client_user, servers):
    moto = servers["aws"]
    identity = aws(client_user, "sts", "get-caller-identity", "--output", "json")
    assert identity.returncode == 0, f"{identity}\n{moto.log_tail()}"
    assert json.loads(identity.stdout)["Arn"] == moto.user_arn
    assert aws(client_user, "s3", "mb", "s3://keyhole-e2e").returncode == 0
    big = client_user.scratch / "big.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024))
    mark = moto.mark()
    upload = aws(client_user, "s3", "cp", str(big), "s3://keyhole-e2e/big.bin")
    assert upload.returncode == 0, f"{upload}\n{moto.log_tail()}"
    parts = [r for r in moto.requests(mark) if "partNumber" in r.get("query", "")]
    assert len(parts) >= 2, "the upload should have been multipart"
    listing = aws(client_user, "s3", "ls", "s3://keyhole-e2e/")
    assert listing.returncode == 0 and "big.bin" in listing.stdout, listing
    back = client_user.scratch / "back.bin"
    assert aws(client_user, "s3", "cp", "s3://keyhole-e2e/big.bin", str(back)).returncode == 0
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(big.read_bytes()).digest()
    # moto saw the real key id, never a placeholder one.
    assert moto.saw(moto.access_key_id, since=mark)
    assert not any(re.search(r"Credential=ASIA", " ".join(v for _, v in r["headers"])) for r in moto.requests(mark))
    home_and_outputs_clean(client_user, moto.secret_access_key, identity.stdout, upload.stdout, listing.stdout)
    assert any(r["decision"] == "resign" for r in client_user.audit_records())


def test_awscli_with_temporary_keys_sets_the_real_session_token(client_user, servers):
    moto = servers["aws"]
    result = client_user.run("aws", "sts", "get-caller-identity", "--output", "json", only=["aws-temp"],
                             env={"AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1"}, timeout=120)
    assert result.returncode == 0, f"{result}\n{moto.log_tail()}"
    assert "assumed-role" in json.loads(result.stdout)["Arn"]
    assert moto.session["SecretAccessKey"] not in result.stdout + result.stderr


def test_a_request_forged_with_only_the_placeholder_key_id_is_refused(client_user, servers):
    moto = servers["aws"]
    mark = moto.mark()
    script = (
        "import json, subprocess, sys, requests, botocore.session\n"
        "from botocore.auth import SigV4Auth\nfrom botocore.awsrequest import AWSRequest\n"
        "from botocore.credentials import Credentials\n"
        "real = botocore.session.Session().get_credentials().get_frozen_credentials()\n"
        "forged = Credentials(real.access_key, 'guessed-secret-key', real.token)\n"
        "r = AWSRequest(method='POST', url='https://sts.amazonaws.com/', "
        "data=b'Action=GetCallerIdentity&Version=2011-06-15', "
        "headers={'Content-Type': 'application/x-www-form-urlencoded'})\n"
        "SigV4Auth(forged, 'sts', 'us-east-1').add_auth(r)\np = r.prepare()\n"
        "resp = requests.post(p.url, data=p.body, headers=dict(p.headers), timeout=30)\n"
        "print(resp.status_code); print(resp.text)\n"
    )
    result = client_user.run(PYTHON, "-c", script, only=["aws"], timeout=60)
    assert result.returncode == 0, result
    assert result.stdout.splitlines()[0] == "403", result
    assert "signature" in result.stdout.lower()
    assert moto.requests(mark) == [], "nothing may reach AWS"
    denied = [r for r in client_user.audit_records() if r["decision"] == "deny-auth" and r.get("credential") == "aws"]
    assert denied


def test_placeholder_keys_bound_for_an_unscoped_host_are_refused(client_user, upstream):
    # Over https:// an unscoped host is tunnelled untouched (keyhole never sees the request, and the placeholder
    # keys are worthless there); over http:// the proxy sees it and refuses it.
    mark = upstream.mark()
    script = (
        "import requests, botocore.session\nfrom botocore.auth import SigV4Auth\n"
        "from botocore.awsrequest import AWSRequest\n"
        "c = botocore.session.Session().get_credentials().get_frozen_credentials()\n"
        f"r = AWSRequest(method='GET', url='{upstream.url('/open/aws-scope', tls=False)}')\n"
        "SigV4Auth(c, 'execute-api', 'us-east-1').add_auth(r)\np = r.prepare()\n"
        "print(requests.get(p.url, headers=dict(p.headers), timeout=30).status_code)\n"
    )
    result = client_user.run(PYTHON, "-c", script, only=["aws"], timeout=60)
    assert result.stdout.strip() == "403", result
    assert upstream.requests_since(mark) == []


# ---- keyhole's signatures compared with botocore's


@pytest.fixture(scope="module")
def signing_user(upstream, keyhole_bin):
    """A user whose aws credentials are scoped to the recording test upstream (real keys made up here)."""
    user = KeyholeUser(upstream=upstream)
    keys = {"long": {"AccessKeyId": "AKIAKEYHOLEREALKEY01", "SecretAccessKey": random_secret("realsecret_")},
            "temp": {"AccessKeyId": "ASIAKEYHOLEREALKEY02", "SecretAccessKey": random_secret("realsecret_"),
                     "SessionToken": random_secret("realtoken_")}}
    for name, value in keys.items():
        user.ok("add", name, "--type", "aws", "--host", "api.keyhole.test", input=json.dumps(value))
    yield user, keys
    user.cleanup()


def expected_signature(record: dict, keys: dict, signer: str, service: str, base: str):
    """botocore's signature for the request keyhole sent upstream, made with the real keys at its X-Amz-Date."""
    headers = {k.lower(): v for k, v in record["headers"]}
    target = record["target"]
    credentials = Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys.get("SessionToken"))
    body = record["body_sample"].encode("latin-1")
    if signer.endswith("query"):
        split = urllib.parse.urlsplit(target)
        params = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
        stamp = dict(params)["X-Amz-Date"]
        original = [(k, v) for k, v in params if not k.startswith("X-Amz-")]
        url = base + split.path + ("?" + urllib.parse.urlencode(original) if original else "")
        request = AWSRequest(method=record["method"], url=url, headers={"host": headers["host"]})
        auth = (S3SigV4QueryAuth if signer == "s3-query" else SigV4QueryAuth)(credentials, service, "us-east-1", expires=300)
    else:
        stamp = headers["x-amz-date"]
        signed = re.search(r"SignedHeaders=([^,]+)", headers["authorization"]).group(1).split(";")
        kept = {k: v for k, v in headers.items() if k in signed and k not in ("x-amz-security-token", "x-amz-date")}
        request = AWSRequest(method=record["method"], url=base + target, headers=kept, data=body)
        auth = (S3SigV4Auth if signer == "s3" else SigV4Auth)(credentials, service, "us-east-1")
    moment = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        auth.add_auth(request)
    if signer.endswith("query"):
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url).query, keep_blank_values=True))
    return {"authorization": request.headers["Authorization"], "token": request.headers.get("X-Amz-Security-Token")}


@pytest.mark.parametrize("credential", ["long", "temp"])
def test_resigned_requests_match_botocore_for_the_real_key(signing_user, upstream, credential):
    import sigv4_client
    user, all_keys = signing_user
    keys = all_keys[credential]
    base = upstream.url("").rstrip("/")
    mark = upstream.mark()
    result = user.run(PYTHON, str(HERE / "sigv4_client.py"), base, only=[credential], timeout=120,
                      env={"PYTHONPATH": str(HERE)})
    assert result.returncode == 0, result
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == len(sigv4_client.CASES), result
    records = {dict((k.lower(), v) for k, v in r["headers"]).get("x-case"): r for r in upstream.requests_since(mark)}
    mismatches = []
    for case_id, signer, service, *_ in sigv4_client.CASES:
        record = records.get(case_id)
        assert record is not None, f"{case_id}: nothing reached the upstream ({lines})"
        headers = {k.lower(): v for k, v in record["headers"]}
        expected = expected_signature(record, keys, signer, service, base)
        if signer.endswith("query"):
            sent = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(record["target"]).query, keep_blank_values=True))
            for name in ("X-Amz-Credential", "X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-SignedHeaders"):
                if sent.get(name) != expected.get(name):
                    mismatches.append(f"{case_id}: {name} {sent.get(name)!r} != botocore {expected.get(name)!r}")
        else:
            if headers.get("authorization") != expected["authorization"]:
                mismatches.append(f"{case_id}: {headers.get('authorization')!r}\n   botocore: {expected['authorization']!r}")
            if headers.get("x-amz-security-token") != expected["token"]:
                mismatches.append(f"{case_id}: security token does not match the real credential's")
    assert not mismatches, "\n".join(mismatches)
    # The comparison is not vacuous: botocore with any other secret key disagrees with what keyhole sent.
    wrong = dict(keys, SecretAccessKey="not-the-real-secret")
    record = records["get-plain"]
    sent = {k.lower(): v for k, v in record["headers"]}["authorization"]
    assert expected_signature(record, wrong, "v4", "execute-api", base)["authorization"] != sent
    for record in upstream.requests_since(mark):
        text = json.dumps(record)
        assert keys["SecretAccessKey"] not in text
        assert "Credential=ASIA" not in text or keys["AccessKeyId"].startswith("ASIA")


# ---- streaming signed payloads (aws-chunked with per-chunk signatures)


def streaming_upload(user, url: str, total: int, chunk: int, credential: str, tamper: bool = False):
    args = [PYTHON, str(HERE / "sigv4_streaming_client.py"), url, str(total), str(chunk)] + (["tamper"] if tamper else [])
    return user.run(*args, only=[credential], timeout=120, env={"PYTHONPATH": str(HERE)})


def test_streaming_signed_upload_to_moto(client_user, servers):
    # moto checks the seed signature (the head's), which keyhole re-signed with the real key; it does not check
    # chunk signatures, and in server mode it keeps the aws-chunked framing, so the content is not compared here:
    # the next test compares every re-signed chunk byte for byte.
    moto = servers["aws"]
    assert aws(client_user, "s3", "mb", "s3://keyhole-stream").returncode in (0, 1)
    mark = moto.mark()
    result = streaming_upload(client_user, "https://s3.amazonaws.com/keyhole-stream/streamed.txt",
                              200_000, 64 * 1024, "aws")
    assert result.returncode == 0 and result.stdout.splitlines()[0] == "200", f"{result}\n{moto.log_tail()}"
    (put,) = [r for r in moto.requests(mark) if r.get("method") == "PUT"]
    assert any(k.lower() == "x-amz-content-sha256" and v == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" for k, v in put["headers"])
    assert [r["decision"] for r in client_user.audit_records() if r.get("path") == "/keyhole-stream/streamed.txt"] == ["resign"]


def test_streaming_chunk_signatures_are_resigned_with_the_real_key(signing_user, upstream):
    import sigv4_streaming_client as client
    user, all_keys = signing_user
    keys = all_keys["long"]
    mark = upstream.mark()
    total, chunk = 3000, 1024
    result = streaming_upload(user, upstream.url("/open/stream/upload"), total, chunk, "long")
    assert result.returncode == 0 and result.stdout.splitlines()[0] == "200", result
    (record,) = upstream.requests_since(mark)
    headers = {k.lower(): v for k, v in record["headers"]}
    stamp = headers["x-amz-date"]
    seed = headers["authorization"].rsplit("Signature=", 1)[1]
    key = client.signing_key(keys["SecretAccessKey"], stamp[:8], "us-east-1", "s3")
    data = (b"keyhole streaming payload " * (total // 26 + 1))[:total]
    expected = client.chunked_body(data, chunk, seed, key, stamp, f"{stamp[:8]}/us-east-1/s3/aws4_request", False)
    assert record["body_sample"].encode("latin-1") == expected
    assert int(headers["content-length"]) == len(expected)


def test_a_tampered_chunk_signature_stops_the_upload(signing_user, upstream):
    user, _ = signing_user
    result = streaming_upload(user, upstream.url("/open/tampered/upload"), 3000, 1024, "long", tamper=True)
    assert "200" not in result.stdout.splitlines()[:1], result
    denied = [r for r in user.audit_records() if r.get("path") == "/open/tampered/upload"]
    assert denied and denied[-1]["decision"] in ("deny-auth", "error"), denied


# ---- requests keyhole refuses to re-sign


TUNNEL = (
    "import base64, http.client, os, ssl, sys, urllib.parse, botocore.session\n"
    "from botocore.auth import SigV4Auth\nfrom botocore.awsrequest import AWSRequest\n"
    "c = botocore.session.Session().get_credentials().get_frozen_credentials()\n"
    "def connect(url):\n"
    "    proxy, target = urllib.parse.urlsplit(os.environ['HTTPS_PROXY']), urllib.parse.urlsplit(url)\n"
    "    conn = http.client.HTTPSConnection(proxy.hostname, proxy.port, timeout=30,\n"
    "        context=ssl.create_default_context(cafile=os.environ['SSL_CERT_FILE']))\n"
    "    auth = base64.b64encode(f'{proxy.username}:{proxy.password}'.encode()).decode()\n"
    "    conn.set_tunnel(target.hostname, target.port, headers={'Proxy-Authorization': 'Basic ' + auth})\n"
    "    return conn, target\n"
)


def test_sigv4a_is_refused_and_oversized_bodies_get_413(signing_user, upstream):
    user, _ = signing_user
    mark = upstream.mark()
    script = TUNNEL + (
        "import requests\nbase = sys.argv[1]\n"
        "h = {'Authorization': f'AWS4-ECDSA-P256-SHA256 Credential={c.access_key}/20261123/s3/aws4_request, '\n"
        "     'SignedHeaders=host;x-amz-date;x-amz-region-set, Signature=3045', 'X-Amz-Date': '20261123T000000Z',\n"
        "     'X-Amz-Region-Set': '*'}\n"
        "r = requests.get(base + '/open/sigv4a', headers=h, timeout=30)\nprint(r.status_code, r.text.strip())\n"
        "size = 17 * 1024 * 1024\n"
        "req = AWSRequest(method='POST', url=base + '/open/big/upload', data=b'x' * size)\n"
        "SigV4Auth(c, 'execute-api', 'us-east-1').add_auth(req)\n"
        "conn, target = connect(base)\nconn.putrequest('POST', '/open/big/upload', skip_accept_encoding=True)\n"
        "for k, v in req.headers.items(): conn.putheader(k, v)\n"
        "conn.putheader('Content-Length', str(size)); conn.endheaders()\n"
        "r = conn.getresponse(); print(r.status, r.read().decode().strip())\n"
    )
    result = user.run(PYTHON, "-c", script, upstream.url("").rstrip("/"), only=["long"], timeout=120)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("400") and "SigV4A" in lines[0], result
    assert lines[1].startswith("413") and "16 MiB" in lines[1], result
    assert not [r for r in upstream.requests_since(mark) if r["target"] in ("/open/sigv4a", "/open/big/upload")]


def test_a_body_hashed_request_with_expect_continue(signing_user, upstream):
    user, _ = signing_user
    mark = upstream.mark()
    script = TUNNEL + (
        "url = sys.argv[1]; body = b'kv' * 5000\n"
        "req = AWSRequest(method='POST', url=url, data=body, headers={'Expect': '100-continue'})\n"
        "SigV4Auth(c, 'execute-api', 'us-east-1').add_auth(req)\n"
        "conn, target = connect(url)\nconn.putrequest('POST', target.path, skip_accept_encoding=True)\n"
        "for k, v in req.headers.items(): conn.putheader(k, v)\n"
        "conn.putheader('Content-Length', str(len(body))); conn.endheaders()\n"
        "conn.sock.settimeout(5)\n"
        "interim = conn.sock.recv(100)\nprint(interim.split(b'\\r\\n')[0].decode())\n"
        "conn.sock.settimeout(30); conn.send(body)\n"
        "print(conn.getresponse().status)\n"
    )
    result = user.run(PYTHON, "-c", script, upstream.url("/open/expect/upload"), only=["long"], timeout=60)
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == ["HTTP/1.1 100 Continue", "200"], result
    (record,) = [r for r in upstream.requests_since(mark) if r["target"] == "/open/expect/upload"]
    assert not any(k.lower() == "expect" for k, _ in record["headers"])
    assert record["body_bytes"] == 10000
