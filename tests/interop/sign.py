#!/usr/bin/env python3
"""An independent signer for warden's three worker schemes, for interop tests.

Standard library only (hmac, hashlib, base64, secrets): nothing here shares
code with warden. The end-to-end tests run it and send what it prints through
the real component.

    WARDEN_SECRET=... sign.py --scheme worker --method POST \
        --url http://127.0.0.1:3000/internal/hook --body-file body.json

prints one JSON object: {"headers": [[name, value], ...]}.

    sign.py --self-test

checks this signer against RFC 9421 B.2.5 and the RFC 9530 example digests.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import urllib.parse


def sign_worker(secret: bytes, timestamp: str, body: bytes) -> str:
    """Seed 000: base64(HMAC-SHA256(secret, "{timestamp}:{body}"))."""
    mac = hmac.new(secret, timestamp.encode() + b":" + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def sign_request_nonce(secret: bytes, body: bytes, timestamp: str, nonce: str) -> str:
    """Seed 003: hex(HMAC-SHA256(secret, body + timestamp + nonce))."""
    mac = hmac.new(secret, body + timestamp.encode() + nonce.encode(), hashlib.sha256)
    return mac.hexdigest()


def content_digest(body: bytes, alg: str = "sha-256") -> str:
    """RFC 9530 Content-Digest with one algorithm."""
    digest = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}[alg](body).digest()
    return f"{alg}=:{base64.b64encode(digest).decode()}:"


def sf_string(value: str) -> str:
    """An RFC 8941 sf-string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def derived(name: str, method: str, url: urllib.parse.SplitResult) -> str:
    """RFC 9421 section 2.2 derived components, from the URL as sent."""
    path = url.path or "/"
    target = path + ("?" + url.query if url.query else "")
    authority = url.netloc.lower()
    default_port = {"http": ":80", "https": ":443"}.get(url.scheme.lower())
    if default_port and authority.endswith(default_port):
        authority = authority[: -len(default_port)]
    return {
        "@method": method.upper(),
        "@authority": authority,
        "@scheme": url.scheme.lower(),
        "@target-uri": f"{url.scheme.lower()}://{authority}{target}",
        "@request-target": target,
        "@path": path,
        "@query": "?" + url.query,
    }[name]


def sign_rfc9421(secret: bytes, method: str, url: str, headers: dict, components: list,
                 params: list, label: str = "sig1"):
    """RFC 9421 section 2.5 signature base and HMAC-SHA256 signature.

    `headers` maps lower-case names to values; `params` is a list of
    (name, value) with ints or strings, in order.
    """
    parts = urllib.parse.urlsplit(url)
    lines = []
    for name in components:
        value = derived(name, method, parts) if name.startswith("@") else headers[name].strip()
        lines.append(f'"{name}": {value}')
    inner = "(" + " ".join(sf_string(c) for c in components) + ")"
    for key, value in params:
        inner += f";{key}=" + (str(value) if isinstance(value, int) else sf_string(value))
    lines.append(f'"@signature-params": {inner}')
    base = "\n".join(lines)
    tag = hmac.new(secret, base.encode(), hashlib.sha256).digest()
    return f"{label}={inner}", f"{label}=:{base64.b64encode(tag).decode()}:", base


def self_test() -> None:
    """RFC 9421 B.2.5 (hmac-sha256 over date, @authority, content-type) and the
    RFC 9530 digests of {"hello": "world"}."""
    key = base64.b64decode(
        "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==")
    headers = {"date": "Tue, 20 Apr 2021 02:07:55 GMT", "content-type": "application/json"}
    signature_input, signature, _ = sign_rfc9421(
        key, "POST", "https://example.com/foo?param=Value&Pet=dog", headers,
        ["date", "@authority", "content-type"],
        [("created", 1618884473), ("keyid", "test-shared-secret")], label="sig-b25")
    expect_input = 'sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"'
    expect_sig = "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:"
    assert signature_input == expect_input, signature_input
    assert signature == expect_sig, signature
    body = b'{"hello": "world"}'
    assert content_digest(body) == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    assert content_digest(body, "sha-512") == (
        "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:")
    print("ok: RFC 9421 B.2.5 signature and RFC 9530 digests reproduced")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("--scheme", choices=["worker", "request-nonce", "rfc9421"])
    parser.add_argument("--secret-env", default="WARDEN_SECRET")
    parser.add_argument("--method", default="POST")
    parser.add_argument("--url")
    parser.add_argument("--body-file")
    parser.add_argument("--timestamp", type=int)
    parser.add_argument("--nonce")
    parser.add_argument("--keyid", default="current")
    parser.add_argument("--components")
    args = parser.parse_args()
    if args.self_test:
        self_test()
        return 0
    if not args.scheme or not args.url:
        parser.error("--scheme and --url are required")
    secret = os.environ[args.secret_env].encode()
    body = open(args.body_file, "rb").read() if args.body_file else b""
    now = args.timestamp if args.timestamp is not None else int(time.time())
    out = []
    if args.scheme == "worker":
        ts = str(now)
        out += [["X-Worker-Signature", sign_worker(secret, ts, body)], ["X-Worker-Timestamp", ts]]
        if args.nonce:
            out.append(["X-Worker-Nonce", args.nonce])
    elif args.scheme == "request-nonce":
        ts, nonce = str(now), args.nonce or secrets.token_hex(16)
        out += [["X-Request-Signature", sign_request_nonce(secret, body, ts, nonce)],
                ["X-Request-Timestamp", ts], ["X-Request-Nonce", nonce]]
    else:
        components = (args.components.split(",") if args.components
                      else ["@method", "@authority", "@path"] + (["content-digest"] if body else []))
        headers = {}
        if "content-digest" in components:
            headers["content-digest"] = content_digest(body)
            out.append(["Content-Digest", headers["content-digest"]])
        nonce = args.nonce or secrets.token_hex(16)
        params = [("created", now), ("nonce", nonce), ("keyid", args.keyid), ("alg", "hmac-sha256")]
        signature_input, signature, _ = sign_rfc9421(
            secret, args.method, args.url, headers, components, params)
        out += [["Signature-Input", signature_input], ["Signature", signature]]
    json.dump({"headers": out}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
