#!/usr/bin/env python3
"""Reference requests for keyhole's SigV4 re-signing, signed by botocore.

Each case is signed twice with botocore (SigV4Auth, S3SigV4Auth, SigV4QueryAuth or S3SigV4QueryAuth at a fixed
time): with the PLACEHOLDER credentials a workload would hold, and with the REAL ones. One JSON object per line:

  {"name", "service", "method", "target", "headers": [[name, value], ...], "body_sha256",
   "placeholder": {"access_key", "secret_key", "token"}, "real": {...},
   "expected_target", "expected_headers": [[name, value], ...]}

`target`/`headers` are the placeholder-signed request as it goes on the wire (Host first, as http.client sends
it); `expected_*` the real-signed one. The Swift test (Tests/KeyholeCoreTests/SigV4BotocoreTests.swift)
re-signs the former and compares it with the latter. All credentials here are made up.

Exit status 2 when botocore cannot be imported: the Swift test must fail, not skip.
"""

import datetime
import hashlib
import json
import sys
import types
from unittest import mock
from urllib.parse import urlsplit

try:
    import botocore.auth
    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as error:  # pragma: no cover - the point is the message
    print(f"sigv4_cases.py needs botocore (pip install botocore): {error}", file=sys.stderr)
    sys.exit(2)

# botocore.auth calls botocore.compat.get_current_datetime() (imported into botocore.auth) for the timestamp.
FIXED_TIME = datetime.datetime(2024, 5, 17, 9, 30, 15)
FIXED_STAMP = "20240517T093015Z"

PLACEHOLDER = Credentials(
    "ASIAKEYHOLETEST0001",
    "Pl4ceh0lderSecretKeyAbcdefGhijklMnopqrSt",
    "Pl4ceh0lderSessionTokenAbcdefGhijklMnopqrStuvwxyz0123456789ABCDEF",
)
PLACEHOLDER_NO_TOKEN = Credentials(PLACEHOLDER.access_key, PLACEHOLDER.secret_key)
REAL = Credentials(
    "AKIAREALACCESSKEY001",
    "rEaL/sEcReT+kEy=wJalrXUtnFEMI/K7MDENG+bP",
    "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD/real+session/token==",
)
REAL_NO_TOKEN = Credentials(REAL.access_key, REAL.secret_key)

S3_UNSIGNED = {"client_config": types.SimpleNamespace(s3={"payload_signing_enabled": False})}
UNSIGNED = {"payload_signing_enabled": False}

FORM = "application/x-www-form-urlencoded; charset=utf-8"

# name, method, url, headers, body, service, region, signer, placeholder, real, request context
CASES = [
    ("sts-get-query", "GET", "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
     {}, None, "sts", "us-east-1", SigV4Auth, PLACEHOLDER, REAL, {}),
    ("iam-post-form-body", "POST", "https://iam.amazonaws.com/",
     {"Content-Type": FORM}, b"Action=ListUsers&Version=2010-05-08", "iam", "us-east-1", SigV4Auth,
     PLACEHOLDER, REAL_NO_TOKEN, {}),
    ("s3-put-space-in-key", "PUT", "https://bucket.s3.us-east-1.amazonaws.com/my%20file.txt",
     {"Content-Type": "text/plain", "X-Amz-Meta-Note": "hello    world"}, b"hello world", "s3", "us-east-1",
     S3SigV4Auth, PLACEHOLDER, REAL, {}),
    ("s3-get-unicode-key", "GET", "https://bucket.s3.eu-west-1.amazonaws.com/%C3%A9t%C3%A9/%E2%9C%93.txt",
     {}, None, "s3", "eu-west-1", S3SigV4Auth, PLACEHOLDER_NO_TOKEN, REAL, {}),
    ("s3-get-plus-equals-encoded", "GET", "https://bucket.s3.amazonaws.com/a%2Bb%3Dc.txt",
     {}, None, "s3", "us-east-1", S3SigV4Auth, PLACEHOLDER, REAL, {}),
    ("s3-get-plus-equals-raw", "GET", "https://bucket.s3.amazonaws.com/a+b=c.txt",
     {}, None, "s3", "us-east-1", S3SigV4Auth, PLACEHOLDER, REAL_NO_TOKEN, {}),
    ("s3-get-encoded-slash", "GET", "https://bucket.s3.amazonaws.com/dir%2Ffile.txt?versionId=abc%2Fdef",
     {}, None, "s3", "us-east-1", S3SigV4Auth, PLACEHOLDER, REAL, {}),
    ("api-dot-segments-and-double-slash", "GET", "https://abc.execute-api.us-east-1.amazonaws.com/prod//items/./x/../y",
     {}, None, "execute-api", "us-east-1", SigV4Auth, PLACEHOLDER, REAL, {}),
    ("api-encoded-path", "GET", "https://abc.execute-api.us-east-1.amazonaws.com/prod/items/a%2Fb%20c=d+e",
     {}, None, "execute-api", "us-east-1", SigV4Auth, PLACEHOLDER_NO_TOKEN, REAL_NO_TOKEN, {}),
    ("api-repeated-query-keys", "GET", "https://abc.execute-api.us-east-1.amazonaws.com/?b=2&a=1&a=0&c=x%20y&c=x+y",
     {}, None, "execute-api", "us-east-1", SigV4Auth, PLACEHOLDER, REAL, {}),
    ("s3-keys-without-values", "GET", "https://bucket.s3.amazonaws.com/photo.jpg?uploads&prefix=&tagging",
     {}, None, "s3", "us-east-1", S3SigV4Auth, PLACEHOLDER, REAL, {}),
    ("s3-delete-empty-body", "DELETE", "https://bucket.s3.amazonaws.com/old.txt",
     {}, None, "s3", "us-east-1", S3SigV4Auth, PLACEHOLDER, REAL, {}),
    ("s3-head", "HEAD", "https://bucket.s3.amazonaws.com/photo.jpg",
     {}, None, "s3", "us-east-1", S3SigV4Auth, PLACEHOLDER, REAL_NO_TOKEN, {}),
    ("s3-put-unsigned-payload", "PUT", "https://bucket.s3.amazonaws.com/big.bin",
     {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}, b"", "s3", "us-east-1", S3SigV4Auth, PLACEHOLDER, REAL,
     S3_UNSIGNED),
    ("api-unsigned-payload", "POST", "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/f/invocations",
     {"Content-Type": "application/json"}, b'{"a": 1}', "lambda", "us-east-1", SigV4Auth, PLACEHOLDER, REAL,
     UNSIGNED),
    ("api-declared-hex-payload", "POST", "https://dynamodb.us-east-1.amazonaws.com/",
     {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables",
      "X-Amz-Content-SHA256": hashlib.sha256(b"{}").hexdigest()},
     b"{}", "dynamodb", "us-east-1", SigV4Auth, PLACEHOLDER, REAL, {}),
    ("api-date-header", "GET", "https://monitoring.us-east-1.amazonaws.com/?Action=ListMetrics&Version=2010-08-01",
     {"Date": "placeholder, replaced by botocore"}, None, "monitoring", "us-east-1", SigV4Auth, PLACEHOLDER,
     REAL, {}),
    ("s3-presigned-get", "GET",
     "https://bucket.s3.amazonaws.com/report%20final.pdf?response-content-type=text%2Fplain",
     {}, None, "s3", "us-east-1", S3SigV4QueryAuth, PLACEHOLDER, REAL, {}),
    ("s3-presigned-put-no-tokens", "PUT", "https://bucket.s3.eu-west-1.amazonaws.com/upload.bin",
     {}, None, "s3", "eu-west-1", S3SigV4QueryAuth, PLACEHOLDER_NO_TOKEN, REAL_NO_TOKEN, {}),
    ("s3-presigned-token-removed", "GET", "https://bucket.s3.amazonaws.com/a%2Bb.txt?versionId=1",
     {}, None, "s3", "us-east-1", S3SigV4QueryAuth, PLACEHOLDER, REAL_NO_TOKEN, {}),
    ("sqs-presigned-token-added", "GET", "https://sqs.us-east-1.amazonaws.com/?Action=ListQueues&Version=2012-11-05",
     {}, None, "sqs", "us-east-1", SigV4QueryAuth, PLACEHOLDER_NO_TOKEN, REAL, {}),
]


def sign(method, url, headers, body, service, region, signer, credentials, context):
    """The request as sent after signing: (target, [[name, value], ...])."""
    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    request.context.update(context)
    if signer in (SigV4QueryAuth, S3SigV4QueryAuth):
        auth = signer(credentials, service, region, expires=900)
    else:
        auth = signer(credentials, service, region)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=FIXED_TIME):
        auth.add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = [["Host", parts.netloc]] + [[name, str(value)] for name, value in prepared.headers.items()]
    stamps = [value for name, value in sent if name.lower() == "x-amz-date"]
    if stamps and stamps != [FIXED_STAMP] or (not stamps and FIXED_STAMP not in target and
                                              not any(n.lower() == "date" for n, _ in sent)):
        raise SystemExit(f"sigv4_cases.py: the fixed time did not take effect in {url}")
    return target, sent


def describe(credentials):
    return {"access_key": credentials.access_key, "secret_key": credentials.secret_key, "token": credentials.token}


def main():
    for name, method, url, headers, body, service, region, signer, placeholder, real, context in CASES:
        target, sent = sign(method, url, headers, body, service, region, signer, placeholder, context)
        expected_target, expected = sign(method, url, headers, body, service, region, signer, real, context)
        print(json.dumps({
            "name": name,
            "service": service,
            "signer": signer.__name__,
            "method": method,
            "target": target,
            "headers": sent,
            "body_sha256": hashlib.sha256(body or b"").hexdigest(),
            "placeholder": describe(placeholder),
            "real": describe(real),
            "expected_target": expected_target,
            "expected_headers": expected,
        }))


if __name__ == "__main__":
    main()
