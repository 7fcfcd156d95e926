//! Known answers (RFC 7515 A.1, A.3, RFC 8037 A.4), tokens signed by PyJWT
//! (`testdata/interop.json`, written by `tests/interop/jwt_sign.py`), and
//! every refusal of a bearer token and of Better Auth's cookie cache.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::algorithms::Material;
use super::cookie_cache::{self, COOKIE_NAME};
use super::jwk::{JwksOrigin, Key, Keyring, LoadOptions};
use super::*;

const INTEROP: &str = include_str!("testdata/interop.json");
const SECRET: &[u8] = b"a-test-secret-of-at-least-32-bytes!!";
/// RFC 8037 A.1's Ed25519 private key.
const ED_SEED: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const NOW: i64 = 1_700_000_000;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hs256(header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

fn ed_signer() -> ed25519_dalek::SigningKey {
    let seed: [u8; 32] = URL_SAFE_NO_PAD.decode(ED_SEED).unwrap().try_into().unwrap();
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

fn eddsa(header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let signature = ed_signer().sign(input.as_bytes());
    format!("{input}.{}", b64(&signature.to_bytes()))
}

fn interop() -> Value {
    serde_json::from_str(INTEROP).unwrap()
}

/// The interop set's public keys, plus the HS256 secret.
fn keyring() -> Keyring {
    let jwks = interop()["jwks"].to_string();
    let loaded =
        Keyring::from_jwks_json(jwks.as_bytes(), &LoadOptions::new(JwksOrigin::Url)).unwrap();
    let expected_skips = if cfg!(feature = "jwt-rsa") { 0 } else { 2 };
    assert_eq!(loaded.skipped.len(), expected_skips, "{:?}", loaded.skipped);
    let mut ring = loaded.keyring;
    ring.push(Key::hmac(SECRET, Algorithm::Hs256, None).unwrap())
        .unwrap();
    ring
}

fn settings() -> JwtSettings {
    JwtSettings {
        issuer: Some("http://localhost:3000".into()),
        audience: vec!["http://localhost:3000".into()],
        ..JwtSettings::default()
    }
}

fn good_claims() -> Value {
    json!({"sub":"user-1","iss":"http://localhost:3000","aud":"http://localhost:3000","exp": NOW + 60})
}

#[test]
fn rfc7515_a1_hs256() {
    let jws = parse(testing::RFC7515_A1_TOKEN, 8192).unwrap();
    let key = Material::Hmac(testing::rfc7515_a1_secret());
    assert_eq!(
        algorithms::verify(
            Algorithm::Hs256,
            &key,
            jws.signing_input.as_bytes(),
            &jws.signature
        ),
        Ok(())
    );
    assert_eq!(jws.claims["iss"], "joe");
    let mut tampered = jws.signature.clone();
    tampered[0] ^= 1;
    assert_eq!(
        algorithms::verify(
            Algorithm::Hs256,
            &key,
            jws.signing_input.as_bytes(),
            &tampered
        ),
        Err(Reason::BadSignature)
    );
}

#[test]
fn rfc7515_a3_es256() {
    const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    let jwk = jose::object(
        br#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#,
    )
    .unwrap();
    let key = Key::from_jwk(&jwk, &LoadOptions::new(JwksOrigin::Url))
        .unwrap()
        .unwrap();
    let jws = parse(TOKEN, 8192).unwrap();
    assert_eq!(jws.header.alg, Algorithm::Es256);
    assert_eq!(
        algorithms::verify(
            Algorithm::Es256,
            &key.material,
            jws.signing_input.as_bytes(),
            &jws.signature
        ),
        Ok(())
    );
    // DER, or any length but 64, is refused.
    assert_eq!(
        algorithms::verify(
            Algorithm::Es256,
            &key.material,
            jws.signing_input.as_bytes(),
            &jws.signature[..63]
        ),
        Err(Reason::BadSignature)
    );
}

#[test]
fn rfc8037_a4_ed25519() {
    const JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    let jwk = jose::object(
        br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
    )
    .unwrap();
    let key = Key::from_jwk(&jwk, &LoadOptions::new(JwksOrigin::Url))
        .unwrap()
        .unwrap();
    // Its payload is text, not claims: checked below the claims layer.
    let (input, signature) = JWS.rsplit_once('.').unwrap();
    let signature = jose::decode_segment(signature).unwrap();
    assert_eq!(
        algorithms::verify(
            Algorithm::EdDsa,
            &key.material,
            input.as_bytes(),
            &signature
        ),
        Ok(())
    );
    assert_eq!(
        algorithms::verify(Algorithm::EdDsa, &key.material, b"other", &signature),
        Err(Reason::BadSignature)
    );
    // And our own signer with RFC 8037's private key reproduces it (Ed25519 is deterministic).
    assert_eq!(
        b64(&ed_signer().sign(input.as_bytes()).to_bytes()),
        JWS.rsplit_once('.').unwrap().1
    );
    assert_eq!(parse(JWS, 8192).unwrap_err(), Reason::NotJsonObject);
}

#[test]
fn pyjwt_tokens_verify_for_every_algorithm() {
    let fixture = interop();
    let now = fixture["now"].as_i64().unwrap();
    let jwks = fixture["jwks"].to_string();
    let mut checked = 0;
    for case in fixture["tokens"].as_array().unwrap() {
        let alg = Algorithm::from_name(case["alg"].as_str().unwrap()).unwrap();
        if !alg.is_built() || case["name"] == "cookie_cache" {
            continue;
        }
        let mut keys = Keyring::from_jwks_json(jwks.as_bytes(), &LoadOptions::new(JwksOrigin::Url))
            .unwrap()
            .keyring;
        if let Some(secret) = case["hmac"].as_str() {
            keys = Keyring::new();
            keys.push(Key::hmac(secret.as_bytes(), alg, None).unwrap())
                .unwrap();
        }
        let token = case["token"].as_str().unwrap();
        let verified = verify_bearer(&settings(), &keys, token, now)
            .unwrap_or_else(|r| panic!("{}: {r}", case["name"]));
        assert_eq!(verified.alg, alg);
        assert_eq!(verified.claims.user_id, "user-1");
        assert_eq!(verified.claims.roles, ["admin", "user"]);
        assert_eq!(verified.kid.as_deref(), case["kid"].as_str());
        // One flipped signature bit is refused.
        let (input, sig) = token.rsplit_once('.').unwrap();
        let mut bytes = jose::decode_segment(sig).unwrap();
        bytes[5] ^= 0x10;
        let bad = format!("{input}.{}", b64(&bytes));
        assert_eq!(
            verify_bearer(&settings(), &keys, &bad, now).unwrap_err(),
            Reason::BadSignature
        );
        checked += 1;
    }
    assert_eq!(checked, if cfg!(feature = "jwt-rsa") { 7 } else { 5 });
}

#[test]
fn every_bearer_refusal_has_its_reason() {
    let ring = keyring();
    let claims = good_claims().to_string();
    let ok = hs256(r#"{"alg":"HS256","typ":"JWT"}"#, &claims);
    assert_eq!(
        verify_bearer(&settings(), &ring, &ok, NOW)
            .unwrap()
            .claims
            .user_id,
        "user-1"
    );
    let with = |k: &str, v: Value| {
        let mut c = good_claims();
        c[k] = v;
        c.to_string()
    };
    let without = |k: &str| {
        let mut c = good_claims();
        c.as_object_mut().unwrap().remove(k);
        c.to_string()
    };
    let big = "x".repeat(9000);
    let cases = [
        (
            format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(claims.as_bytes())),
            Reason::AlgNone,
        ),
        (
            hs256(r#"{"alg":"HS256","crit":["x"],"x":1}"#, &claims),
            Reason::CritUnsupported,
        ),
        (
            hs256(r#"{"alg":"HS256","alg":"HS256"}"#, &claims),
            Reason::DuplicateMember,
        ),
        (
            hs256(r#"{"alg":"HS256"}"#, r#"{"sub":"user-1","sub":"admin"}"#),
            Reason::DuplicateMember,
        ),
        (format!("{ok}="), Reason::BadBase64),
        (ok.replacen('.', "=.", 1), Reason::BadBase64),
        (
            hs256(r#"{"alg":"HS256"}"#, &with("pad", json!(big))),
            Reason::TooLarge,
        ),
        (
            hs256(r#"{"alg":"HS256"}"#, &with("exp", json!(NOW - 61))),
            Reason::Expired,
        ),
        (
            hs256(r#"{"alg":"HS256"}"#, &with("nbf", json!(NOW + 61))),
            Reason::NotYetValid,
        ),
        (
            hs256(r#"{"alg":"HS256"}"#, &with("iss", json!("http://evil"))),
            Reason::IssuerMismatch,
        ),
        (
            hs256(r#"{"alg":"HS256"}"#, &with("aud", json!(["http://evil"]))),
            Reason::AudienceMismatch,
        ),
        (
            hs256(r#"{"alg":"HS256"}"#, &without("sub")),
            Reason::MissingSubject,
        ),
        (
            hs256(r#"{"alg":"HS256"}"#, &without("exp")),
            Reason::MissingExp,
        ),
        // The key "ed" is pinned to EdDSA: an HS256 token naming it is refused
        // before any HMAC is computed with the public key's bytes.
        (
            hs256(r#"{"alg":"HS256","kid":"ed"}"#, &claims),
            Reason::AlgMismatch,
        ),
        (
            eddsa(r#"{"alg":"EdDSA","kid":"ec"}"#, &claims),
            Reason::AlgMismatch,
        ),
        (
            eddsa(r#"{"alg":"EdDSA","kid":"nope"}"#, &claims),
            Reason::UnknownKid,
        ),
        (hs256(r#"{"alg":"HS384"}"#, &claims), Reason::NoKeyForAlg),
    ];
    for (token, reason) in cases {
        assert_eq!(
            verify_bearer(&settings(), &ring, &token, NOW).err(),
            Some(reason),
            "{reason}"
        );
    }
    // An HMAC token against a ring of public keys only: no key fits.
    let public_only = Keyring::from_jwks_json(
        interop()["jwks"].to_string().as_bytes(),
        &LoadOptions::new(JwksOrigin::Url),
    )
    .unwrap()
    .keyring;
    assert_eq!(
        verify_bearer(&settings(), &public_only, &ok, NOW).err(),
        Some(Reason::NoKeyForAlg)
    );
    // The allowlist and typ.
    let strict = JwtSettings {
        algorithms: vec![Algorithm::EdDsa],
        ..settings()
    };
    assert_eq!(
        verify_bearer(&strict, &ring, &ok, NOW).err(),
        Some(Reason::AlgNotAllowed)
    );
    let typed = JwtSettings {
        typ: Some("at+jwt".into()),
        ..settings()
    };
    assert_eq!(
        verify_bearer(&typed, &ring, &ok, NOW).err(),
        Some(Reason::WrongType)
    );
    let at = hs256(r#"{"alg":"HS256","typ":"application/AT+JWT"}"#, &claims);
    assert!(verify_bearer(&typed, &ring, &at, NOW).is_ok());
    // EdDSA without kid: the one EdDSA key fits.
    let ed = eddsa(r#"{"alg":"EdDSA"}"#, &claims);
    assert_eq!(
        verify_bearer(&settings(), &ring, &ed, NOW)
            .unwrap()
            .kid
            .as_deref(),
        Some("ed")
    );
}

#[test]
fn tokens_are_found_where_configured() {
    let headers = [("authorization", "Bearer abc"), ("x-token", " t2 ")];
    let header = |n: &str| headers.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
    let cookie = |n: &str| (n == "tok").then_some("t3");
    let sources = [
        TokenSource::Cookie("tok".into()),
        TokenSource::Authorization,
    ];
    assert_eq!(find_token(&sources, header, cookie), Some("t3"));
    assert_eq!(
        find_token(&[TokenSource::Authorization], header, cookie),
        Some("abc")
    );
    assert_eq!(
        find_token(&[TokenSource::Header("x-token".into())], header, cookie),
        Some("t2")
    );
    assert_eq!(bearer_token("bearer  abc"), Some("abc"));
    assert_eq!(bearer_token("Basic abc"), None);
    assert_eq!(bearer_token("Bearer a b"), None);
    assert_eq!(bearer_token("Bearer"), None);
}

#[test]
fn www_authenticate_follows_rfc6750() {
    assert_eq!(
        www_authenticate("api", Some(Reason::Missing)),
        r#"Bearer realm="api""#
    );
    assert_eq!(
        www_authenticate("api", Some(Reason::BadSignature)),
        r#"Bearer realm="api", error="invalid_token""#
    );
    assert_eq!(
        www_authenticate_insufficient_scope("api"),
        r#"Bearer realm="api", error="insufficient_scope""#
    );
}

#[test]
fn better_auth_cookie_cache_from_pyjwt() {
    let fixture = interop();
    let token = fixture["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "cookie_cache")
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let ring = keyring();
    let issuer = "http://localhost:3000";
    let session = cookie_cache::verify_session_cookie(
        &[(COOKIE_NAME, &token)],
        COOKIE_NAME,
        issuer,
        &ring,
        NOW,
    )
    .unwrap();
    assert_eq!(session.user_id, "user-1");
    assert_eq!(session.roles, ["admin", "editor"]);
    assert_eq!(session.session_token, "session-token-1");
    assert_eq!(session.session_expires_at, (NOW + 7 * 86_400) * 1000);
    assert!(!format!("{session:?}").contains("session-token-1"));
    // Split in three chunks, sent out of order.
    let (a, rest) = token.split_at(100);
    let (b, c) = rest.split_at(100);
    let names: Vec<String> = (0..3).map(|i| format!("{COOKIE_NAME}.{i}")).collect();
    let chunked = [
        (names[2].as_str(), c),
        (names[0].as_str(), a),
        (names[1].as_str(), b),
    ];
    assert!(cookie_cache::verify_session_cookie(&chunked, COOKIE_NAME, issuer, &ring, NOW).is_ok());
    // Refusals: wrong issuer, expired past the 15 s tolerance, missing cookie.
    let verify = |cookies: &[(&str, &str)], iss: &str, now: i64| {
        cookie_cache::verify_session_cookie(cookies, COOKIE_NAME, iss, &ring, now).err()
    };
    assert_eq!(
        verify(&[(COOKIE_NAME, &token)], "http://evil", NOW),
        Some(Reason::IssuerMismatch)
    );
    assert_eq!(
        verify(&[(COOKIE_NAME, &token)], issuer, NOW + 300 + 14),
        None
    );
    assert_eq!(
        verify(&[(COOKIE_NAME, &token)], issuer, NOW + 300 + 15),
        Some(Reason::Expired)
    );
    assert_eq!(
        verify(&[("other", "x")], issuer, NOW),
        Some(Reason::Missing)
    );
}

#[test]
fn cookie_cache_refusals() {
    let ring = keyring();
    let issuer = "http://localhost:3000";
    let payload = |sub: &str, sid: &str| {
        json!({"session":{"token":"t1","expiresAt":"2030-01-01T00:00:00.000Z"},"user":{"id":"u1","role":"admin"},
            "updatedAt": NOW * 1000, "sid": sid, "sub": sub, "iss": issuer, "aud": cookie_cache::AUDIENCE,
            "iat": NOW, "exp": NOW + 300})
        .to_string()
    };
    let typ = r#"{"alg":"EdDSA","kid":"ed","typ":"better-auth.session-cache+jwt"}"#;
    let check = |token: String| {
        cookie_cache::verify_session_cookie(
            &[(COOKIE_NAME, &token)],
            COOKIE_NAME,
            issuer,
            &ring,
            NOW,
        )
        .err()
    };
    assert_eq!(check(eddsa(typ, &payload("u1", "t1"))), None);
    assert_eq!(
        check(eddsa(typ, &payload("u2", "t1"))),
        Some(Reason::BadSessionPayload)
    );
    assert_eq!(
        check(eddsa(typ, &payload("u1", "t2"))),
        Some(Reason::BadSessionPayload)
    );
    assert_eq!(
        check(eddsa(
            r#"{"alg":"EdDSA","kid":"ed","typ":"JWT"}"#,
            &payload("u1", "t1")
        )),
        Some(Reason::WrongType)
    );
    assert_eq!(
        check(eddsa(
            r#"{"alg":"EdDSA","typ":"better-auth.session-cache+jwt"}"#,
            &payload("u1", "t1")
        )),
        Some(Reason::UnknownKid)
    );
    // An HMAC-signed cache is never accepted, even with a configured secret.
    let hs = hs256(
        r#"{"alg":"HS256","kid":"x","typ":"better-auth.session-cache+jwt"}"#,
        &payload("u1", "t1"),
    );
    assert_eq!(check(hs), Some(Reason::UnknownKid));
    let ended = payload("u1", "t1").replace("2030-01-01T00:00:00.000Z", "2023-11-14T22:13:19.000Z");
    assert_eq!(check(eddsa(typ, &ended)), Some(Reason::Expired));
    let undated = payload("u1", "t1").replace("2030-01-01T00:00:00.000Z", "soon");
    assert_eq!(check(eddsa(typ, &undated)), Some(Reason::BadSessionPayload));
    let wrong_aud = payload("u1", "t1").replace(cookie_cache::AUDIENCE, "http://localhost:3000");
    assert_eq!(
        check(eddsa(typ, &wrong_aud)),
        Some(Reason::AudienceMismatch)
    );
}

#[test]
fn a_jwt_policy_parses_and_overrides_per_route() {
    let policy = crate::policy::parse_policy(
        r#"
        [jwt]
        issuer = "https://auth.example.com"
        audience = ["api", "web"]
        algorithms = ["EdDSA", "ES256"]
        leeway = "30s"
        claims = { tenant = "acme" }
        jwks_url = "https://auth.example.com/.well-known/jwks.json"
        jwks_cache_ttl = "1h"

        [[routes]]
        name = "admin"
        path = "/admin/*"
        auth = "jwt"
        roles = ["admin"]
        jwt = { audience = "admin", roles_claim = "roles", leeway = 0 }
    "#,
    )
    .unwrap();
    let jwt = &policy.sections.jwt;
    assert_eq!(jwt.leeway, 30);
    assert_eq!(jwt.jwks_cache_ttl, 3600);
    assert_eq!(jwt.algorithms, [Algorithm::EdDsa, Algorithm::Es256]);
    assert_eq!(jwt.load_options(JwksOrigin::Url).rsa_without_alg, None);
    assert_eq!(jwt.claims, [("tenant".to_string(), json!("acme"))]);
    let route = jwt.for_route(&policy.routes[0].keys.jwt);
    assert_eq!(
        (
            route.audience.as_slice(),
            route.roles_claim.as_str(),
            route.leeway
        ),
        (&["admin".to_string()][..], "roles", 0)
    );
    assert!(policy.stores_used().key_value);
}

#[cfg(feature = "jwt-rsa")]
#[test]
fn an_rsa_key_without_alg_needs_the_policy_to_pin_it() {
    let mut rsa = interop()["jwks"]["keys"][2].clone();
    rsa.as_object_mut().unwrap().remove("alg");
    let jwk = rsa.as_object().unwrap();
    assert_eq!(
        Key::from_jwk(jwk, &LoadOptions::new(JwksOrigin::Url)).unwrap_err(),
        jwk::KeyProblem::RsaNeedsAlg
    );
    // Listing exactly one RSA algorithm pins such keys to it.
    let policy = crate::policy::parse_policy(
        "[jwt]\nalgorithms = [\"EdDSA\", \"RS256\"]\n[[routes]]\nname = \"a\"\npath = \"/*\"",
    )
    .unwrap();
    let pinned = policy.sections.jwt;
    assert_eq!(pinned.rsa_without_alg, Some(Algorithm::Rs256));
    assert_eq!(JwtSettings::default().rsa_without_alg, None);
    let key = Key::from_jwk(jwk, &pinned.load_options(JwksOrigin::Url))
        .unwrap()
        .unwrap();
    assert_eq!(key.alg, Algorithm::Rs256);
    // A modulus under 2048 bits is refused.
    let mut weak = jwk.clone();
    weak.insert("n".into(), json!(b64(&[0xc5; 128])));
    weak.insert("alg".into(), json!("RS256"));
    assert_eq!(
        Key::from_jwk(&weak, &LoadOptions::new(JwksOrigin::Url)).unwrap_err(),
        jwk::KeyProblem::WeakRsa
    );
}
