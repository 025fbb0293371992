"""A workload for test_clients.py, run under `keyhole run`: gets its AWS keys the way every SDK does
(botocore's credential chain: AWS_PROFILE -> credential_process -> placeholder keys), signs a table of
requests with botocore's own signers and sends them with `requests` through keyhole (HTTPS_PROXY,
REQUESTS_CA_BUNDLE). Prints one JSON line per case: {"case", "status"}.

Usage: sigv4_client.py BASE_URL   (e.g. https://api.keyhole.test:PORT)
"""

from __future__ import annotations

import hashlib
import json
import sys

import botocore.session
import requests
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest

# id, signer, service, method, path+query, body, extra headers
CASES = [
    ("get-plain", "v4", "execute-api", "GET", "/open/sig/get", b"", {}),
    ("get-repeated-query", "v4", "execute-api", "GET", "/open/sig/q?b=2&a=1&a=0&empty=&flag", b"", {}),
    ("get-special-path", "v4", "execute-api", "GET", "/open/sig/a%20b/c+d/%C3%A9/x=y", b"", {}),
    ("get-dot-segments", "v4", "execute-api", "GET", "/open/sig/./a/../b//c", b"", {}),
    ("post-form-body", "v4", "sts", "POST", "/open/sig/form", b"Action=GetCallerIdentity&Version=2011-06-15",
     {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}),
    ("put-json-body", "v4", "execute-api", "PUT", "/open/sig/json", b'{"a": "b c", "n": 1}',
     {"Content-Type": "application/json"}),
    ("delete", "v4", "execute-api", "DELETE", "/open/sig/item?id=a%2Fb", b"", {}),
    ("s3-unsigned-payload", "s3", "s3", "PUT", "/open/sig/bucket/key%20with%20space.txt", b"hello world",
     {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}),
    ("s3-signed-payload", "s3", "s3", "PUT", "/open/sig/bucket/k~e_y-1.txt", b"payload bytes",
     {"X-Amz-Content-SHA256": hashlib.sha256(b"payload bytes").hexdigest()}),
    ("s3-get-query", "s3", "s3", "GET", "/open/sig/bucket?list-type=2&prefix=a%2Fb&delimiter=%2F", b"",
     {"X-Amz-Content-SHA256": hashlib.sha256(b"").hexdigest()}),
    ("presigned-s3", "s3-query", "s3", "GET", "/open/sig/bucket/presigned.txt?versionId=3", b"", {}),
    ("presigned-v4", "v4-query", "execute-api", "GET", "/open/sig/presigned?x=1", b"", {}),
]


def main() -> None:
    base = sys.argv[1]
    credentials = botocore.session.Session().get_credentials().get_frozen_credentials()
    for case_id, signer, service, method, target, body, headers in CASES:
        request = AWSRequest(method=method, url=base + target, data=body, headers=dict(headers))
        if signer == "v4":
            SigV4Auth(credentials, service, "us-east-1").add_auth(request)
        elif signer == "s3":
            S3SigV4Auth(credentials, service, "us-east-1").add_auth(request)
        elif signer == "v4-query":
            SigV4QueryAuth(credentials, service, "us-east-1", expires=300).add_auth(request)
        else:
            S3SigV4QueryAuth(credentials, service, "us-east-1", expires=300).add_auth(request)
        prepared = request.prepare()
        headers_out = dict(prepared.headers)
        headers_out["X-Case"] = case_id
        response = requests.request(method, prepared.url, data=body or None, headers=headers_out, timeout=30)
        print(json.dumps({"case": case_id, "status": response.status_code, "access_key": credentials.access_key}),
              flush=True)


if __name__ == "__main__":
    main()
