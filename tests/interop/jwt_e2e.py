#!/usr/bin/env python3
"""Tokens for warden's jwt end-to-end tests, signed now by PyJWT (with
`cryptography`) from jwt_sign.py's published test keys.

  python3 tests/interop/jwt_e2e.py NOW     # JSON {name: token} on stdout

Every algorithm, and every refusal the e2e tests check: time edges
(leeway 60 s), wrong iss/aud, alg none, an HS256 token signed with the
Ed25519 public key's bytes (algorithm confusion), an unknown kid, a
duplicate JSON member, bad base64url and an oversize token.
"""

import base64
import json
import pathlib
import sys

import jwt

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import jwt_sign  # noqa: E402

ISSUER = jwt_sign.ISSUER


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    now = int(sys.argv[1])
    ed, p256, rsa_key = jwt_sign.keys()

    def claims(**extra):
        base = {"sub": "user-1", "iss": ISSUER, "aud": ISSUER, "iat": now,
                "exp": now + 3600, "role": "admin,user"}
        base.update(extra)
        return {k: v for k, v in base.items() if v is not None}

    hs = jwt_sign.HMAC["HS256"].encode()
    out = {}
    for alg, secret in jwt_sign.HMAC.items():
        out[alg.lower()] = jwt.encode(claims(), secret.encode(), algorithm=alg)
    for name, alg, key, kid in [("eddsa", "EdDSA", ed, "ed"), ("es256", "ES256", p256, "ec"),
                                ("rs256", "RS256", rsa_key, "rs"), ("ps256", "PS256", rsa_key, "ps")]:
        out[name] = jwt.encode(claims(), key, algorithm=alg, headers={"kid": kid})
    ed_sign = lambda c, **h: jwt.encode(c, ed, algorithm="EdDSA", headers={"kid": "ed", **h})
    out["role_user"] = ed_sign(claims(role="user"))
    out["expired_within_leeway"] = ed_sign(claims(exp=now - 30))
    out["expired_beyond_leeway"] = ed_sign(claims(exp=now - 90))
    out["nbf_within_leeway"] = ed_sign(claims(nbf=now + 30))
    out["nbf_beyond_leeway"] = ed_sign(claims(nbf=now + 600))
    out["wrong_iss"] = ed_sign(claims(iss="https://evil.example"))
    out["wrong_aud"] = ed_sign(claims(aud="https://other.example"))
    out["no_exp"] = ed_sign(claims(exp=None))
    out["alg_none"] = jwt.encode(claims(), None, algorithm="none")
    out["unknown_kid"] = ed_sign(claims(), kid="nope")
    # Algorithm confusion: HS256 "signed" with the Ed25519 public key's bytes,
    # claiming the Ed25519 key's kid.
    ed_x = ed.public_key().public_bytes(jwt_sign.serialization.Encoding.Raw,
                                        jwt_sign.serialization.PublicFormat.Raw)
    out["hs256_with_public_key"] = jwt.encode(claims(), ed_x * 2, algorithm="HS256",
                                              headers={"kid": "ed"})
    # alg mismatch: the ES256 key's kid on an EdDSA signature.
    out["alg_mismatch"] = ed_sign(claims(), kid="ec")
    # A duplicate member in the payload, signed properly.
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = json.dumps(claims())[:-1] + ', "sub": "admin-1"}'
    signing = head + "." + b64(body.encode())
    import hmac, hashlib
    sig = b64(hmac.new(hs, signing.encode(), hashlib.sha256).digest())
    out["duplicate_member"] = signing + "." + sig
    good = out["hs256"].split(".")
    out["bad_base64"] = good[0] + "." + good[1] + "=." + good[2]
    out["oversize"] = jwt.encode(claims(pad="x" * 10000), hs, algorithm="HS256")
    out["bad_signature"] = good[0] + "." + good[1] + "." + good[2][:-4] + "AAAA"
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
