#!/usr/bin/env python3
"""Reference signer/verifier for GitHub and Slack webhook signatures, for interop tests.

Standard library only (hmac, hashlib), written the way GitHub's "Validating
webhook deliveries" and Slack's "Verifying requests from Slack" pages show it,
so nothing here shares code with warden.

    SECRET=... webhooks.py --provider github|slack --secret-env SECRET --body-file FILE \
        [--timestamp UNIX_SECONDS] [--id DELIVERY_ID] [--event EVENT]

prints {"headers": [[name, value], ...]}.

    ... --verify --header 'Name: value' [--header ...] [--timestamp-free]

checks the headers as the docs do (GitHub: hmac.compare_digest; Slack: the
5-minute window, skipped with --timestamp-free, then compare_digest) and prints
{"ok": true} (exit 0) or {"ok": false, "error": "..."} (exit 1).

    webhooks.py --self-test

reproduces GitHub's and Slack's documented example signatures.
"""

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import uuid


def github_signature(secret: bytes, body: bytes) -> str:
    """X-Hub-Signature-256: "sha256=" + hex(HMAC-SHA256(secret, body))."""
    return "sha256=" + hmac.new(secret, msg=body, digestmod=hashlib.sha256).hexdigest()


def slack_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """X-Slack-Signature: "v0=" + hex(HMAC-SHA256(secret, "v0:{timestamp}:{body}"))."""
    sig_basestring = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret, sig_basestring, hashlib.sha256).hexdigest()


def verify(provider: str, secret: bytes, body: bytes, headers: dict, timestamp_free: bool) -> None:
    """Raises ValueError unless the headers (lower-case names) verify."""
    if provider == "github":
        signature_header = headers.get("x-hub-signature-256")
        if not signature_header:
            raise ValueError("x-hub-signature-256 header is missing")
        if not hmac.compare_digest(github_signature(secret, body), signature_header):
            raise ValueError("request signatures didn't match")
        return
    timestamp = headers.get("x-slack-request-timestamp")
    slack_sig = headers.get("x-slack-signature")
    if not timestamp or not slack_sig:
        raise ValueError("x-slack-request-timestamp or x-slack-signature header is missing")
    if not timestamp_free and abs(time.time() - int(timestamp)) > 60 * 5:
        raise ValueError("request timestamp is more than five minutes from local time")
    if not hmac.compare_digest(slack_signature(secret, timestamp, body), slack_sig):
        raise ValueError("request signatures didn't match")


def self_test() -> None:
    expect = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    got = github_signature(b"It's a Secret to Everybody", b"Hello, World!")
    assert got == expect, got
    print("ok: GitHub's documented example (It's a Secret to Everybody / Hello, World!)")
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
            b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
            b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com"
            b"%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
            b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    secret = b"8f742231b10e8888abcd99yyyzzz85a5"
    expect = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    got = slack_signature(secret, "1531420618", body)
    assert got == expect, got
    print("ok: Slack's documented example (slash command, timestamp 1531420618)")
    doc = {"x-slack-request-timestamp": "1531420618", "x-slack-signature": expect}
    verify("slack", secret, body, doc, timestamp_free=True)
    for label, check in [("slack rejects the example as stale", lambda: verify("slack", secret, body, doc, False)),
                         ("slack rejects a changed body", lambda: verify("slack", secret, body + b"x", doc, True)),
                         ("github rejects a changed body", lambda: verify(
                             "github", b"It's a Secret to Everybody", b"Hello, World?",
                             {"x-hub-signature-256": github_signature(b"It's a Secret to Everybody", b"Hello, World!")},
                             False))]:
        try:
            check()
        except ValueError:
            print(f"ok: {label}")
        else:
            raise AssertionError(f"{label}: was accepted")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("--provider", choices=["github", "slack"])
    parser.add_argument("--secret-env")
    parser.add_argument("--body-file")
    parser.add_argument("--timestamp", type=int)
    parser.add_argument("--id", help="GitHub delivery id (default: a uuid4)")
    parser.add_argument("--event", default="push", help="GitHub event name")
    parser.add_argument("--verify", action="store_true")
    parser.add_argument("--header", action="append", default=[], help="'Name: value', with --verify")
    parser.add_argument("--timestamp-free", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        try:
            self_test()
        except AssertionError as e:
            print(f"FAIL: {e}", file=sys.stderr)
            return 1
        return 0
    if not args.provider or not args.secret_env or not args.body_file:
        parser.error("--provider, --secret-env and --body-file are required")
    if args.secret_env not in os.environ:
        parser.error(f"${args.secret_env} is not set")
    secret = os.environ[args.secret_env].encode()
    body = open(args.body_file, "rb").read()
    if args.verify:
        if any(":" not in h for h in args.header):
            parser.error("--header takes 'Name: value'")
        headers = {n.strip().lower(): v.strip() for n, v in (h.split(":", 1) for h in args.header)}
        try:
            verify(args.provider, secret, body, headers, args.timestamp_free)
        except ValueError as e:
            print(json.dumps({"ok": False, "error": str(e)}))
            return 1
        print(json.dumps({"ok": True}))
        return 0
    if args.provider == "github":
        out = [["X-Hub-Signature-256", github_signature(secret, body)],
               ["X-GitHub-Delivery", args.id or str(uuid.uuid4())],
               ["X-GitHub-Event", args.event]]
    else:
        ts = str(args.timestamp if args.timestamp is not None else int(time.time()))
        out = [["X-Slack-Request-Timestamp", ts], ["X-Slack-Signature", slack_signature(secret, ts, body)]]
    print(json.dumps({"headers": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
