"""A fake AWS for keyhole's end-to-end tests: moto's server (STS, S3, IAM, ...) over HTTPS with a leaf from the
shared fixture CA, valid for the real AWS host names keyhole reaches through ``resolve``, WITH SigV4
signature checking on (moto's IAM auth mode), in a subprocess so its settings never leak into the tests.

At start the subprocess serves moto with auth off, creates (over HTTP, like a client) an IAM user ``e2e``
with an admin inline policy and an access key, and a role ``e2e-admin`` the user may assume; then it turns
auth on for good (``INITIAL_NO_AUTH_ACTION_COUNT`` budget spent), assumes the role with the real key (for
temporary credentials with a session token), checks that a request signed with a wrong secret is refused,
and writes ``aws.json`` (0600). From then on every request must carry a valid SigV4 signature.

Every request is recorded in ``requests.jsonl`` (method, Host, path, query, headers, status) by a WSGI
wrapper; note that SigV4 never sends the secret key itself, only the access key id and a signature.

    aws = AwsServer(directory, ca).start()
    aws.access_key_id, aws.secret_access_key           # the IAM user's real key (AKIA...)
    aws.session                                        # {"AccessKeyId": "ASIA...", "SecretAccessKey", "SessionToken"}
    aws.resolve_map()                                  # {"sts.amazonaws.com:PORT": "127.0.0.1:PORT", ...}
    aws.requests()                                     # the records
    aws.stop()

Run as ``python3 awsserver.py --serve DIR --port N --cert C --key K`` (the subprocess; not for people).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

from fixturetls import ensure_ca, make_leaf
from harness import free_port
from upstream import serve_connection

AWS_HOSTS = [
    "sts.amazonaws.com",
    "sts.us-east-1.amazonaws.com",
    "iam.amazonaws.com",
    "s3.amazonaws.com",
    "s3.us-east-1.amazonaws.com",
    "*.s3.amazonaws.com",
    "*.s3.us-east-1.amazonaws.com",
]
USER_NAME = "e2e"
ROLE_NAME = "e2e-admin"
ACCOUNT_ID = "123456789012"  # moto's default
ADMIN_POLICY = json.dumps({"Version": "2012-10-17",
                           "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


class AwsServer:
    """moto over HTTPS on 127.0.0.1:``port`` with signature checking.

    Attributes (after start()): ``port``, ``ca_path``, ``cert_path``, ``hosts`` (the names in the leaf; also
    ``127.0.0.1`` and ``localhost``), ``access_key_id``, ``secret_access_key``, ``session`` (AssumeRole
    credentials incl. ``SessionToken``), ``user_arn``, ``role_arn``, ``log_path`` (moto/werkzeug output),
    ``requests_path``."""

    def __init__(self, directory: str, ca=None, hosts: list[str] | None = None):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.hosts = list(hosts or AWS_HOSTS)
        self.ca_path, ca_key, ca_cert = ensure_ca(directory, ca, "aws")
        self.cert_path, self.key_path = make_leaf(directory, "aws", ca_key, ca_cert,
                                                  [*self.hosts, "localhost", "127.0.0.1"])
        self.port = free_port()
        self.log_path = os.path.join(directory, "moto.log")
        self.requests_path = os.path.join(directory, "requests.jsonl")
        self.info_path = os.path.join(directory, "aws.json")
        self._proc: subprocess.Popen | None = None
        self.access_key_id: str | None = None
        self.secret_access_key: str | None = None
        self.session: dict | None = None
        self.user_arn: str | None = None
        self.role_arn: str | None = None

    # ---- lifecycle
    def start(self, timeout: float = 90) -> "AwsServer":
        try:
            import moto  # noqa: F401 - only to fail early with a clear message
        except ImportError as error:
            raise RuntimeError("moto is not installed: pip install -r Tests/EndToEnd/requirements.txt "
                               "(moto[server])") from error
        for path in (self.info_path, self.requests_path):
            if os.path.exists(path):
                os.unlink(path)
        # A clean environment: nothing AWS-ish from outside, nothing of moto's leaks back.
        keep = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "PYENV_ROOT", "SYSTEMROOT")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update(HOME=self.directory, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                   AWS_EC2_METADATA_DISABLED="true", PYTHONUNBUFFERED="1",
                   # Auth is off for the provisioning calls; the subprocess turns it on before aws.json.
                   INITIAL_NO_AUTH_ACTION_COUNT="1000000")
        log = open(self.log_path, "ab")
        self._proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", self.directory, "--port", str(self.port),
             "--cert", self.cert_path, "--key", self.key_path, "--ca", self.ca_path],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.info_path):
            if self._proc.poll() is not None:
                raise RuntimeError(f"the moto server exited with {self._proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the moto server did not come up on port {self.port}:\n{self.log_tail()}")
            time.sleep(0.1)
        with open(self.info_path) as f:
            info = json.load(f)
        self.access_key_id = info["AccessKeyId"]
        self.secret_access_key = info["SecretAccessKey"]
        self.session = info["Session"]
        self.user_arn = info["UserArn"]
        self.role_arn = info["RoleArn"]
        try:  # failure reports redact these like random_secret() values
            from harness import _SECRETS
            _SECRETS.update({self.secret_access_key, self.session["SecretAccessKey"], self.session["SessionToken"]})
        except ImportError:
            pass
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)

    def __enter__(self) -> "AwsServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_tail(self, size: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-size:].decode("utf-8", "replace")
        except OSError:
            return ""

    # ---- addresses
    def resolve_map(self, ports: tuple[int, ...] | None = None, buckets: tuple[str, ...] = ()) -> dict[str, str]:
        """``"host:port" -> "127.0.0.1:PORT"`` for every concrete host name of the leaf, on the server's own
        port (explicit ``--endpoint-url https://HOST:PORT``) and on 443 (the SDKs' default endpoints, e.g.
        ``sts.us-east-1.amazonaws.com``, ``s3.amazonaws.com``), plus ``BUCKET.s3[.us-east-1].amazonaws.com``
        for virtual-hosted S3 buckets."""
        names = [h for h in self.hosts if not h.startswith("*.")]
        names += [f"{b}.s3.amazonaws.com" for b in buckets] + [f"{b}.s3.us-east-1.amazonaws.com" for b in buckets]
        return {f"{h}:{p}": f"127.0.0.1:{self.port}" for h in names for p in (ports or (self.port, 443))}

    def endpoint(self, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}"

    # ---- records
    def requests(self, since: int = 0) -> list[dict]:
        try:
            with open(self.requests_path) as f:
                lines = f.readlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines[since:] if line.strip()]

    requests_since = requests

    def mark(self) -> int:
        return len(self.requests())

    def saw(self, text: str, since: int = 0) -> bool:
        """Whether text occurs in any recorded request's target or headers since the mark."""
        for r in self.requests(since):
            blob = "\n".join([r.get("path", ""), r.get("query", ""), *(f"{k}: {v}" for k, v in r["headers"])])
            if text in blob:
                return True
        return False


# --------------------------------------------------------------------------------------------------
# The subprocess


def _serve(directory: str, port: int, cert: str, key: str, ca: str) -> None:
    import ssl

    import botocore.session
    from botocore.config import Config
    from moto import settings
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import ThreadedWSGIServer

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])

    # moto checks signatures over the URL flask rebuilds, in which werkzeug has decoded some escapes of the
    # query (``delimiter=%2F`` becomes ``delimiter=/``), so e.g. ``aws s3 ls s3://bucket`` would fail with
    # SignatureDoesNotMatch. The check gets the request target exactly as it arrived instead.
    from moto.iam import access_control

    local = threading.local()
    original_init = access_control.IAMRequestBase.__init__

    def init_with_raw_target(self, *args, **kwargs):
        raw = getattr(local, "target", None)
        if raw and "path" in kwargs:
            kwargs["path"] = raw
        original_init(self, *args, **kwargs)

    access_control.IAMRequestBase.__init__ = init_with_raw_target

    lock = threading.Lock()
    requests_path = os.path.join(directory, "requests.jsonl")
    moto_app = DomainDispatcherApplication(create_backend_app)

    def app(environ, start_response):
        headers = [[k[5:].replace("_", "-").title(), v] for k, v in environ.items() if k.startswith("HTTP_")]
        for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(name):
                headers.append([name.replace("_", "-").title(), environ[name]])
        record = {"time": time.time(), "method": environ.get("REQUEST_METHOD"), "host": environ.get("HTTP_HOST"),
                  "path": environ.get("PATH_INFO", ""), "query": environ.get("QUERY_STRING", ""),
                  "target": environ.get("RAW_URI", ""),
                  "headers": headers}

        def recording_start_response(status, response_headers, exc_info=None):
            record["status"] = int(status.split()[0])
            with lock, open(requests_path, "a") as f:
                f.write(json.dumps(record) + "\n")
            return start_response(status, response_headers, exc_info)

        target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
        if "://" in target:  # absolute-form: keep the origin-form part
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        local.target = target.encode("latin-1").decode("utf-8", "replace")
        try:
            return moto_app(environ, recording_start_response)
        finally:
            local.target = None

    class Server(ThreadedWSGIServer):
        daemon_threads = True

        def __init__(self):
            super().__init__("127.0.0.1", port, app)
            self.ssl_context = context  # https URLs in the WSGI environ; TLS per connection below

        def finish_request(self, request, client_address):
            serve_connection(self, request, client_address, context, timeout=300)

    parent = os.getppid()

    def orphan_watch():  # never outlive the test process, even if it dies without stop()
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=orphan_watch, daemon=True).start()
    server = Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    signal.signal(signal.SIGTERM, lambda *_: (server.shutdown(), None))

    session = botocore.session.Session()
    config = Config(retries={"max_attempts": 1})

    def client(service: str, access_key: str, secret_key: str, token: str | None = None):
        return session.create_client(service, region_name="us-east-1", endpoint_url=f"https://127.0.0.1:{port}",
                                     verify=ca, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                     aws_session_token=token, config=config)

    iam = client("iam", "AKIAIOSFODNN7BOOTSTR", "bootstrap-not-checked")
    user = iam.create_user(UserName=USER_NAME)["User"]
    iam.put_user_policy(UserName=USER_NAME, PolicyName="admin", PolicyDocument=ADMIN_POLICY)
    access_key = iam.create_access_key(UserName=USER_NAME)["AccessKey"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}]})
    role = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=trust)["Role"]
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="admin", PolicyDocument=ADMIN_POLICY)

    # Auth on, for good: every request from now on needs a valid signature by a known key.
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0

    real = client("sts", access_key["AccessKeyId"], access_key["SecretAccessKey"])
    assert real.get_caller_identity()["Arn"] == user["Arn"]
    assumed = real.assume_role(RoleArn=role["Arn"], RoleSessionName="e2e")["Credentials"]
    wrong = client("sts", access_key["AccessKeyId"], access_key["SecretAccessKey"][:-4] + "XXXX")
    try:
        wrong.get_caller_identity()
    except Exception as error:  # noqa: BLE001 - botocore's ClientError
        if "SignatureDoesNotMatch" not in str(error):
            raise
    else:
        raise SystemExit("moto accepted a request signed with a wrong secret: signature checking is off")

    info = {
        "Port": port,
        "AccessKeyId": access_key["AccessKeyId"],
        "SecretAccessKey": access_key["SecretAccessKey"],
        "UserArn": user["Arn"],
        "RoleArn": role["Arn"],
        "Session": {k: assumed[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")},
    }
    info_path = os.path.join(directory, "aws.json")
    fd = os.open(info_path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(info, f)
    os.rename(info_path + ".tmp", info_path)
    print(f"moto serving https://127.0.0.1:{port} with signature checking", flush=True)
    thread.join()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="the moto subprocess of AwsServer")
    parser.add_argument("--serve", required=True, metavar="DIR")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--ca", required=True)
    args = parser.parse_args()
    _serve(args.serve, args.port, args.cert, args.key, args.ca)


if __name__ == "__main__":
    main()
