#!/usr/bin/env python3
"""Tokens for warden's jwt layer, signed by an independent implementation
(PyJWT 2.10 with `cryptography`), from fixed test keys.

  python3 tests/interop/jwt_sign.py            # rewrite the fixtures
  python3 tests/interop/jwt_sign.py --check    # recompute and compare

Writes crates/core/src/layers/jwt/testdata/interop.json, which the core's
tests verify. HS*, EdDSA and RS256 signatures are deterministic and must
match byte for byte; ES256 and PS256 are randomized, so --check verifies
those with PyJWT instead. The keys are test keys, published here on purpose:
Ed25519 is RFC 8037 A.1's, P-256 is RFC 7515 A.3's, RSA is testdata's
rsa_test_key.pem (generated once for these tests).
"""

import base64
import json
import pathlib
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

ROOT = pathlib.Path(__file__).resolve().parents[2]
TESTDATA = ROOT / "crates/core/src/layers/jwt/testdata"
FIXTURE = TESTDATA / "interop.json"
RSA_PEM = TESTDATA / "rsa_test_key.pem"

NOW = 1_700_000_000
ISSUER = "http://localhost:3000"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def keys():
    ed = ed25519.Ed25519PrivateKey.from_private_bytes(
        unb64("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))
    p256 = ec.derive_private_key(
        int.from_bytes(unb64("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"), "big"),
        ec.SECP256R1())
    if not RSA_PEM.exists():
        from cryptography.hazmat.primitives.asymmetric import rsa
        pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        RSA_PEM.write_bytes(pem)
    rsa_key = serialization.load_pem_private_key(RSA_PEM.read_bytes(), password=None)
    return ed, p256, rsa_key


def public_jwks(ed, p256, rsa_key):
    ed_x = ed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    nums = p256.public_key().public_numbers()
    rnums = rsa_key.public_key().public_numbers()
    n_len = (rnums.n.bit_length() + 7) // 8
    return {"keys": [
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64(ed_x)},
        {"kty": "EC", "crv": "P-256", "kid": "ec", "alg": "ES256",
         "x": b64(nums.x.to_bytes(32, "big")), "y": b64(nums.y.to_bytes(32, "big"))},
        {"kty": "RSA", "kid": "rs", "alg": "RS256",
         "n": b64(rnums.n.to_bytes(n_len, "big")), "e": b64(rnums.e.to_bytes(3, "big"))},
        {"kty": "RSA", "kid": "ps", "alg": "PS256",
         "n": b64(rnums.n.to_bytes(n_len, "big")), "e": b64(rnums.e.to_bytes(3, "big"))},
    ]}


HMAC = {
    "HS256": "interop-hs256-secret-0123456789abcdef",
    "HS384": "interop-hs384-secret-0123456789abcdef0123456789abcdef",
    "HS512": "interop-hs512-secret-0123456789abcdef0123456789abcdef0123456789abcdef",
}


def claims(**extra):
    base = {"sub": "user-1", "iss": ISSUER, "aud": ISSUER, "iat": NOW, "exp": NOW + 3600,
            "role": "admin,user"}
    base.update(extra)
    return base


def tokens(ed, p256, rsa_key):
    out = []
    for alg, secret in HMAC.items():
        out.append({"name": alg.lower(), "alg": alg, "hmac": secret,
                    "token": jwt.encode(claims(), secret.encode(), algorithm=alg)})
    for name, alg, key, kid in [("eddsa", "EdDSA", ed, "ed"), ("es256", "ES256", p256, "ec"),
                                ("rs256", "RS256", rsa_key, "rs"), ("ps256", "PS256", rsa_key, "ps")]:
        out.append({"name": name, "alg": alg, "kid": kid,
                    "token": jwt.encode(claims(), key, algorithm=alg, headers={"kid": kid})})
    # Better Auth's session cookie cache, shaped as 1.7 writes it.
    session = {"id": "s1", "token": "session-token-1", "userId": "user-1",
               "expiresAt": "2023-11-21T22:13:20.000Z", "createdAt": "2023-11-14T22:13:20.000Z"}
    user = {"id": "user-1", "email": "a@example.com", "name": "A", "role": "admin,editor"}
    cache = {"session": session, "user": user, "updatedAt": NOW * 1000, "version": "1",
             "sid": "session-token-1", "iat": NOW, "exp": NOW + 300, "iss": ISSUER,
             "aud": "better-auth:session-cache", "sub": "user-1"}
    out.append({"name": "cookie_cache", "alg": "EdDSA", "kid": "ed",
                "token": jwt.encode(cache, ed, algorithm="EdDSA",
                                    headers={"kid": "ed", "typ": "better-auth.session-cache+jwt"})})
    return out


DETERMINISTIC = {"HS256", "HS384", "HS512", "EdDSA", "RS256"}


def main():
    ed, p256, rsa_key = keys()
    fixture = {"source": "tests/interop/jwt_sign.py (PyJWT %s)" % jwt.__version__,
               "now": NOW, "issuer": ISSUER, "jwks": public_jwks(ed, p256, rsa_key),
               "tokens": tokens(ed, p256, rsa_key)}
    if "--check" not in sys.argv:
        FIXTURE.write_text(json.dumps(fixture, indent=1) + "\n")
        return 0
    stored = json.loads(FIXTURE.read_text())
    assert stored["jwks"] == fixture["jwks"], "the public keys changed"
    pub = {"ed": ed.public_key(), "ec": p256.public_key(), "rs": rsa_key.public_key(),
           "ps": rsa_key.public_key()}
    for old, new in zip(stored["tokens"], fixture["tokens"], strict=True):
        assert old["name"] == new["name"]
        if old["alg"] in DETERMINISTIC:
            assert old["token"] == new["token"], old["name"]
        key = old["hmac"].encode() if "hmac" in old else pub[old["kid"]]
        aud = "better-auth:session-cache" if old["name"] == "cookie_cache" else ISSUER
        jwt.decode(old["token"], key, algorithms=[old["alg"]], audience=aud,
                   options={"verify_exp": False})
    print("jwt interop fixtures: %d tokens match" % len(stored["tokens"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
