"""A workload for test_clients.py, run under `keyhole run`: uploads a body with S3's signed streaming payload
(`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, aws-chunked with one signature per chunk, as the Java and Go SDKs send),
signed with the placeholder keys from botocore's credential chain. botocore itself never sends this format, so the
chunk signatures are made here, after the AWS documentation ("Signature Calculations for the Authorization Header:
Transferring Payload in Multiple Chunks").

Usage: sigv4_streaming_client.py URL TOTAL_BYTES CHUNK_BYTES [tamper]
Prints the HTTP status and the response body.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import sys
import urllib.parse

import botocore.session
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

EMPTY = hashlib.sha256(b"").hexdigest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def chunked_body(data: bytes, chunk: int, seed: str, key: bytes, stamp: str, scope: str, tamper: bool) -> bytes:
    out = bytearray()
    previous = seed
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for index, piece in enumerate(pieces):
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", stamp, scope, previous, EMPTY,
                             hashlib.sha256(piece).hexdigest()])
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        previous = signature
        if tamper and index == 1:
            signature = "0" * 64
        out += f"{len(piece):x};chunk-signature={signature}\r\n".encode() + piece + b"\r\n"
    return bytes(out)


def main() -> None:
    url, total, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    tamper = len(sys.argv) > 4 and sys.argv[4] == "tamper"
    data = (b"keyhole streaming payload " * (total // 26 + 1))[:total]
    credentials = botocore.session.Session().get_credentials().get_frozen_credentials()
    placeholder_body_length = len(chunked_body(data, chunk, "0" * 64, b"k", "s", "s", False))
    headers = {
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "Content-Length": str(placeholder_body_length),
    }
    request = AWSRequest(method="PUT", url=url, headers=headers)
    # S3SigV4Auth would replace x-amz-content-sha256 with its own payload mode; the plain signer signs the
    # header as given (the paths used here need no S3-specific canonicalisation).
    SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    authorization = request.headers["Authorization"]
    seed = authorization.rsplit("Signature=", 1)[1]
    stamp = request.headers["X-Amz-Date"]
    scope = f"{stamp[:8]}/us-east-1/s3/aws4_request"
    key = signing_key(credentials.secret_key, stamp[:8], "us-east-1", "s3")
    body = chunked_body(data, chunk, seed, key, stamp, scope, tamper)
    assert len(body) == placeholder_body_length
    sent_headers = {k: v for k, v in request.headers.items()}
    response = requests.put(url, data=body, headers=sent_headers, timeout=60)
    print(response.status_code)
    print(response.text)


if __name__ == "__main__":
    main()
