#!/usr/bin/env python3
# Writes the proxy target's AWS seeds (Fuzz/corpus/proxy/tunnel-aws-*): requests signed by botocore with the
# placeholder keys ProxyFuzz.placeholderAWS, in tunnel mode (first byte "1"), each followed by an upstream answer.
# Usage: python3 Fuzz/tools/make-proxy-aws-seeds.py Fuzz/corpus/proxy
import hashlib, hmac, os, sys
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

creds = Credentials("ASIAKEYHOLEFUZZ00005", "fuzzPlaceholderSecretKey/5+aws", "fuzzPlaceholderSessionToken5")
out = sys.argv[1]
OK = "|||<HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

def head(req, body=b""):
    from urllib.parse import urlsplit
    u = urlsplit(req.url)
    target = u.path or "/"
    if u.query: target += "?" + u.query
    lines = [f"{req.method} {target} HTTP/1.1"]
    for k, v in req.headers.items():
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

def signed(method, url, service, headers=None, body=b"", region="us-east-1", query=False, expires=300):
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    (SigV4QueryAuth(creds, service, region, expires) if query else SigV4Auth(creds, service, region)).add_auth(req)
    req.prepare()
    return req

def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

# a: S3 list, header auth, declared empty payload hash
r = signed("GET", "https://api.test/?list-type=2&prefix=", "s3", {"Host": "api.test", "X-Amz-Content-SHA256": hashlib.sha256(b"").hexdigest()})
write("tunnel-aws-s3-list", b"1" + head(r) + OK.encode())
# b: STS form POST, no payload hash header: keyhole hashes the body
body = b"Action=GetCallerIdentity&Version=2011-06-15"
r = signed("POST", "https://api.test/", "sts", {"Host": "api.test", "Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Content-Length": str(len(body))}, body)
write("tunnel-aws-sts-body-hash", b"1" + head(r, body) + OK.encode())
# c: S3 PUT, unsigned payload, body in two pieces
body = b"hello world, an object"
r = signed("PUT", "https://api.test/bucket/key.txt", "s3", {"Host": "api.test", "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", "Content-Length": str(len(body))}, body)
h = head(r, b"")
write("tunnel-aws-s3-put-unsigned", b"1" + h + body[:5] + b"|||" + body[5:] + OK.encode())
# d: presigned GET
r = signed("GET", "https://api.test/bucket/key.txt?versionId=3", "s3", {"Host": "api.test"}, query=True)
write("tunnel-aws-s3-presigned", b"1" + head(r) + OK.encode())
# e: streaming aws-chunked PUT, signed chunks
def hm(k, m): return hmac.new(k, m.encode() if isinstance(m, str) else m, hashlib.sha256).digest()
data = b"0123456789abcdef" * 4
req = AWSRequest(method="PUT", url="https://api.test/bucket/stream.bin", data=b"", headers={
    "Host": "api.test", "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "Content-Encoding": "aws-chunked",
    "X-Amz-Decoded-Content-Length": str(len(data))})
SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
amzdate = req.headers["X-Amz-Date"]; date = amzdate[:8]
seed_sig = req.headers["Authorization"].split("Signature=")[1]
key = hm(("AWS4" + creds.secret_key).encode(), date); key = hm(key, "us-east-1"); key = hm(key, "s3"); key = hm(key, "aws4_request")
scope = f"{date}/us-east-1/s3/aws4_request"
prev = seed_sig; chunks = b""
for piece in [data[:40], data[40:], b""]:
    sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amzdate, scope, prev, hashlib.sha256(b"").hexdigest(), hashlib.sha256(piece).hexdigest()])
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    chunks += f"{len(piece):x};chunk-signature={sig}\r\n".encode() + piece + b"\r\n"
    prev = sig
req.headers["Content-Length"] = str(len(chunks))
req.prepare()
write("tunnel-aws-s3-put-streaming", b"1" + head(req) + chunks[:70] + b"|||" + chunks[70:] + OK.encode())
# f: a placeholder key in a malformed Authorization, and SigV4A with it
write("tunnel-aws-malformed", b"1GET / HTTP/1.1\r\nHost: api.test\r\nAuthorization: AWS4-HMAC-SHA256 Credential=ASIAKEYHOLEFUZZ00005/2024, Signature=zz\r\n\r\n")
write("tunnel-aws-sigv4a", b"1GET / HTTP/1.1\r\nHost: api.test\r\nX-Amz-Region-Set: *\r\nAuthorization: AWS4-ECDSA-P256-SHA256 Credential=ASIAKEYHOLEFUZZ00005/20240517/s3/aws4_request, SignedHeaders=host, Signature=3045\r\n\r\n")
# g: a tampered signed request (the signature must not verify)
r = signed("GET", "https://api.test/?list-type=2", "s3", {"Host": "api.test", "X-Amz-Content-SHA256": hashlib.sha256(b"").hexdigest()})
write("tunnel-aws-tampered", b"1" + head(r).replace(b"list-type=2", b"list-type=3") + OK.encode())
