//! Bearer JWTs (`auth = "jwt"`) through the real component: tokens signed
//! now by PyJWT (`tests/interop/jwt_e2e.py`, jwt_sign.py's published test
//! keys) for every algorithm, genuine Better Auth 1.7 tokens verified with
//! its `jwks` table copied into the host's database, and every refusal with
//! its `WWW-Authenticate`.

use serde_json::Value;
use std::collections::HashMap;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};
use warden_tests::*;

const UNAUTHORIZED: &str =
    r#"{"error":{"code":"UNAUTHORIZED","message":"Authentication required"}}"#;
const FORBIDDEN: &str = r#"{"error":{"code":"FORBIDDEN","message":"Insufficient permissions"}}"#;
const INVALID: &str = r#"Bearer realm="warden", error="invalid_token""#;
const HS256_SECRET: &str = "interop-hs256-secret-0123456789abcdef";

const POLICY: &str = r#"
# Every refusal a line: these tests read each one's reason, more than the
# default 10 identical security events a window (docs/security-events.md).
[security_events]
sample_per_window = 1000

[jwt]
issuer = "http://localhost:3000"
audience = "http://localhost:3000"
hmac_secret_variable = "jwt_secret"
jwks_variable = "jwt_jwks"
jwks_table = true
# Better Auth puts the whole user in its JWT: a long image URL makes it
# larger than the default 8 KiB.
max_token_bytes = 12288

[[routes]]
name = "token"
path = "/token/*"
auth = "jwt"
rate_limit = "off"

[[routes]]
name = "staff"
path = "/staff/*"
auth = "jwt"
roles = ["staff"]
rate_limit = "off"

[[routes]]
name = "rest"
path = "/*"
rate_limit = "off"
"#;

/// PyJWT's tokens, signed now.
fn pyjwt_tokens() -> HashMap<String, String> {
    let out = Command::new("python3")
        .arg(root().join("tests/interop/jwt_e2e.py"))
        .arg(unix_now().to_string())
        .output()
        .expect("python3 runs (scripts/setup installs PyJWT)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("token JSON")
}

/// The JWK Set variable: the fixture's public keys plus HS384/HS512 as
/// `oct` keys (only a variable may carry those).
fn jwks_variable() -> String {
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("crates/core/src/layers/jwt/testdata/interop.json"))
            .unwrap(),
    )
    .unwrap();
    let mut keys = fixture["jwks"]["keys"].as_array().unwrap().clone();
    for token in fixture["tokens"].as_array().unwrap() {
        let alg = token["alg"].as_str().unwrap();
        if alg == "HS384" || alg == "HS512" {
            let secret = token["hmac"].as_str().unwrap();
            keys.push(serde_json::json!({"kty": "oct", "alg": alg, "k": b64(secret.as_bytes())}));
        }
    }
    serde_json::json!({ "keys": keys }).to_string()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn start(mode: Reuse) -> TestHost {
    TestHost::start(
        Setup::default()
            .policy(POLICY)
            .var("jwt_secret", HS256_SECRET)
            .var("jwt_jwks", &jwks_variable())
            .reuse(mode),
    )
    .await
}

async fn get(host: &TestHost, path: &str, headers: &[(&str, &str)]) -> Reply {
    let refs: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    host.send("GET", path, &refs, b"").await
}

async fn bearer(host: &TestHost, path: &str, token: &str) -> Reply {
    get(host, path, &[("authorization", &format!("Bearer {token}"))]).await
}

fn assert_admitted(reply: &Reply, user: &str, role: &str, what: &str) {
    assert_eq!(reply.status, 200, "{what}: {}", text(reply));
    let seen = reply.echoed_headers();
    let h = |n: &str| seen.get(n).and_then(Value::as_str).map(str::to_owned);
    assert_eq!(h("x-warden-auth").as_deref(), Some("jwt"), "{what}");
    assert_eq!(h("x-warden-user-id").as_deref(), Some(user), "{what}");
    assert_eq!(h("x-warden-user-role").as_deref(), Some(role), "{what}");
    assert!(
        h("authorization").is_some(),
        "{what}: the app still gets the token"
    );
    // Omitted when over max_claims_header_bytes (4 KiB by default).
    let Some(claims) = h("x-warden-jwt-claims") else {
        return;
    };
    use base64::Engine;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims)
        .unwrap();
    let claims: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(claims["sub"], user, "{what}");
}

fn assert_refused(reply: &Reply, www: &str, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {}", text(reply));
    assert_eq!(text(reply), UNAUTHORIZED, "{what}");
    assert_eq!(reply.header("www-authenticate"), Some(www), "{what}");
    assert!(reply.header("x-request-id").is_some(), "{what}");
}

#[tokio::test]
async fn pyjwt_tokens_of_every_algorithm_are_admitted() {
    let tokens = pyjwt_tokens();
    for mode in MODES {
        let host = start(mode).await;
        for name in [
            "hs256", "hs384", "hs512", "eddsa", "es256", "rs256", "ps256",
        ] {
            let reply = bearer(&host, "/token/me", &tokens[name]).await;
            assert_admitted(&reply, "user-1", "admin,user", &format!("{name} {mode:?}"));
        }
        // Within the 60 s leeway.
        for name in ["expired_within_leeway", "nbf_within_leeway"] {
            let reply = bearer(&host, "/token/me", &tokens[name]).await;
            assert_admitted(&reply, "user-1", "admin,user", name);
        }
        let log = host.log();
        for token in tokens.values() {
            assert!(!log.contains(token.as_str()), "a token reached the log");
        }
    }
}

#[tokio::test]
async fn every_refusal_is_a_401_with_www_authenticate() {
    let tokens = pyjwt_tokens();
    let host = start(Reuse::Spin).await;
    for (name, reason) in [
        ("expired_beyond_leeway", "expired"),
        ("nbf_beyond_leeway", "not_yet_valid"),
        ("wrong_iss", "issuer_mismatch"),
        ("wrong_aud", "audience_mismatch"),
        ("no_exp", "missing_exp"),
        ("alg_none", "alg_none"),
        ("hs256_with_public_key", "alg_mismatch"),
        ("alg_mismatch", "alg_mismatch"),
        ("unknown_kid", "unknown_kid"),
        ("duplicate_member", "duplicate_member"),
        ("bad_base64", "bad_base64url"),
        ("oversize", "too_large"),
        ("bad_signature", "bad_signature"),
    ] {
        let reply = bearer(&host, "/token/me", &tokens[name]).await;
        assert_refused(&reply, INVALID, name);
        let log = host.log();
        assert!(
            log.contains(&format!(r#""reason":"{reason}""#)),
            "{name}: no {reason} in the log"
        );
        assert!(
            !log.contains(tokens[name].as_str()),
            "{name}: the token was logged"
        );
    }
    // No token at all: no error attribute (RFC 6750 §3.1).
    let reply = get(&host, "/token/me", &[]).await;
    assert_refused(&reply, r#"Bearer realm="warden""#, "missing");
    // Another scheme is not a bearer token.
    let basic = get(
        &host,
        "/token/me",
        &[("authorization", "Basic dXNlcjpwYXNz")],
    )
    .await;
    assert_refused(&basic, r#"Bearer realm="warden""#, "basic");
}

#[tokio::test]
async fn a_token_without_the_route_role_is_403_insufficient_scope() {
    let tokens = pyjwt_tokens();
    let host = start(Reuse::Spin).await;
    let reply = bearer(&host, "/staff/x", &tokens["eddsa"]).await;
    assert_eq!(reply.status, 403, "{}", text(&reply));
    assert_eq!(text(&reply), FORBIDDEN);
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Bearer realm="warden", error="insufficient_scope""#)
    );
}

#[tokio::test]
async fn spoofed_identity_headers_are_stripped() {
    let tokens = pyjwt_tokens();
    let host = start(Reuse::Spin).await;
    let token = format!("Bearer {}", tokens["role_user"]);
    let reply = get(
        &host,
        "/token/me",
        &[
            ("authorization", &token),
            ("x-warden-user-id", "admin-1"),
            ("x-warden-user-role", "admin"),
            ("x-warden-jwt-claims", "e30"),
            ("x-warden-auth", "session"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    let seen = reply.echoed_headers();
    assert_eq!(seen["x-warden-user-id"], "user-1");
    assert_eq!(seen["x-warden-user-role"], "user");
    assert_eq!(seen["x-warden-auth"], "jwt");
    assert_ne!(seen["x-warden-jwt-claims"], "e30");
    // On a route without auth, nothing x-warden-* passes.
    let open = get(&host, "/open", &[("x-warden-user-id", "admin-1")]).await;
    assert!(!open.echoed_headers().contains_key("x-warden-user-id"));
}

#[tokio::test]
async fn a_jwt_variable_unset_or_unparsable_refuses_the_configuration() {
    for (vars, field) in [
        (
            vec![("jwt_jwks", jwks_variable())],
            "jwt.hmac_secret_variable",
        ),
        (
            vec![
                ("jwt_secret", HS256_SECRET.to_string()),
                ("jwt_jwks", "{\"keys\": [".to_string()),
            ],
            "jwt.jwks_variable",
        ),
    ] {
        let mut setup = Setup::default().policy(POLICY);
        for (n, v) in &vars {
            setup = setup.var(n, v);
        }
        let host = TestHost::start(setup).await;
        let reply = get(&host, "/open", &[]).await;
        assert_eq!(reply.status, 500, "{field}");
        let log = host.log();
        assert!(log.contains(field), "{field} not in {log}");
        assert!(!log.contains(HS256_SECRET));
    }
}

/// Genuine Better Auth 1.7 (tests/interop/better-auth/mint.mjs): its
/// database's `jwks` rows, and what it minted.
struct BetterAuth {
    out: Value,
    _dir: TempDir,
    db: std::path::PathBuf,
}

fn better_auth() -> BetterAuth {
    let dir = TempDir::new("better-auth");
    let db = dir.path().join("ba.db");
    let out_file = dir.path().join("out.json");
    let status = Command::new("node")
        .arg(root().join("tests/interop/better-auth/mint.mjs"))
        .arg("--db")
        .arg(&db)
        .arg("--out")
        .arg(&out_file)
        .status()
        .expect("node runs (scripts/setup installs the harness)");
    assert!(status.success());
    let out = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    BetterAuth { out, _dir: dir, db }
}

/// Copies Better Auth's `jwks` rows into the host's database.
fn copy_jwks(ba: &BetterAuth, host: &TestHost) -> usize {
    let from = rusqlite::Connection::open(&ba.db).unwrap();
    let to = rusqlite::Connection::open(host.state_dir().join("sqlite_db.db")).unwrap();
    let mut stmt = from
        .prepare(r#"SELECT id, publicKey, privateKey, createdAt, expiresAt, alg, crv FROM jwks"#)
        .unwrap();
    let rows: Vec<[rusqlite::types::Value; 7]> = stmt
        .query_map([], |r| {
            Ok([
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ])
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for row in &rows {
        to.execute(
            r#"INSERT INTO jwks (id, publicKey, privateKey, createdAt, expiresAt, alg, crv) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"#,
            rusqlite::params_from_iter(row.iter()),
        )
        .unwrap();
    }
    rows.len()
}

#[tokio::test]
async fn genuine_better_auth_tokens_verify_with_its_jwks_table() {
    let ba = better_auth();
    for mode in MODES {
        let host = start(mode).await;
        assert!(copy_jwks(&ba, &host) >= 1);
        for user in ba.out["jwt"]["perUser"].as_array().unwrap() {
            let id = user["userId"].as_str().unwrap();
            let role = ba.out["users"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["id"] == id)
                .and_then(|u| u["role"].as_str())
                .unwrap()
                .to_owned();
            let token = user["fromToken"].as_str().unwrap();
            let reply = bearer(&host, "/token/me", token).await;
            assert_admitted(&reply, id, &role, &format!("/token {mode:?}"));
            // Carol's 6 KB image makes her claims too large for the header.
            let claims = reply.echoed_headers().contains_key("x-warden-jwt-claims");
            assert_eq!(
                claims,
                token.len() < 4000,
                "claims header of a {} byte token",
                token.len()
            );
        }
        let header_jwt = ba.out["jwt"]["fromHeader"].as_str().unwrap();
        let alice = ba.out["jwt"]["payload"]["sub"].as_str().unwrap();
        let reply = bearer(&host, "/token/me", header_jwt).await;
        assert_admitted(&reply, alice, "admin", "set-auth-jwt");
        assert!(!host.log().contains(header_jwt));
    }
}

#[tokio::test]
async fn a_store_failure_reading_the_jwks_table_fails_closed() {
    let ba = better_auth();
    let tokens = pyjwt_tokens();
    let host = start(Reuse::Spin).await;
    copy_jwks(&ba, &host);
    host.host.faults().set_sqlite_error(true);
    let token = ba.out["jwt"]["fromToken"].as_str().unwrap();
    let reply = bearer(&host, "/token/me", token).await;
    assert_eq!(reply.status, 503, "{}", text(&reply));
    assert!(host.log().contains("jwt_keys_unavailable"));
    // A token the variables' keys decide is decided as usual.
    let reply = bearer(&host, "/token/me", &tokens["hs256"]).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    host.host.faults().set_sqlite_error(false);
    let reply = bearer(&host, "/token/me", token).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
}

const COOKIE_CACHE_POLICY: &str = r#"
[session]
cookie_cache = "jwt"
log_failures = true

[jwt]
issuer = "http://localhost:3000"
jwks_table = true

[[routes]]
name = "private"
path = "/private/*"
auth = "required"
rate_limit = "off"

[[routes]]
name = "admin"
path = "/admin/*"
auth = "required"
roles = ["admin"]
rate_limit = "off"
"#;

fn cookie_header(pairs: &Value) -> String {
    pairs
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{}={}", p[0].as_str().unwrap(), p[1].as_str().unwrap()))
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn better_auth_cookie_cache_authenticates_without_a_session_row() {
    let ba = better_auth();
    let alice = ba.out["users"][0]["id"].as_str().unwrap().to_owned();
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(COOKIE_CACHE_POLICY).reuse(mode)).await;
        copy_jwks(&ba, &host);
        let rows: i64 = rusqlite::Connection::open(host.state_dir().join("sqlite_db.db"))
            .unwrap()
            .query_row(r#"SELECT count(*) FROM "session""#, [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0);
        // One cookie.
        let cookie = cookie_header(&ba.out["cookies"]["sessionData"]);
        let reply = get(&host, "/admin/x", &[("cookie", &cookie)]).await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        let seen = reply.echoed_headers();
        assert_eq!(seen["x-warden-user-id"], alice.as_str());
        assert_eq!(seen["x-warden-auth"], "session");
        assert_eq!(seen["x-warden-user-role"], "admin");
        // Chunked (carol's 9 KB cache in three cookies), in any order.
        let mut chunks = ba.out["cookies"]["chunked"].as_array().unwrap().clone();
        chunks.reverse();
        let cookie = cookie_header(&Value::Array(chunks));
        let reply = get(&host, "/private/x", &[("cookie", &cookie)]).await;
        assert_eq!(reply.status, 200, "chunked {mode:?}: {}", text(&reply));
        assert_eq!(
            reply.echoed_headers()["x-warden-user-id"],
            ba.out["cookies"]["chunkedUserId"]
        );
        // Carol is no admin.
        let reply = get(&host, "/admin/x", &[("cookie", &cookie)]).await;
        assert_eq!(reply.status, 403);
        // A tampered cache is refused, and with no session row that is a 401.
        let jwt = ba.out["cookies"]["sessionData"][0][1].as_str().unwrap();
        let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
        parts[2] = format!("{}AAAA", &parts[2][..parts[2].len() - 4]);
        let cookie = format!("better-auth.session_data={}", parts.join("."));
        let reply = get(&host, "/private/x", &[("cookie", &cookie)]).await;
        assert_eq!(reply.status, 401, "tampered");
        let log = host.log();
        assert!(log.contains("session_cookie_cache_refused"));
        assert!(!log.contains(jwt), "the cookie cache reached the log");
    }
}

#[tokio::test]
async fn the_cookie_cache_needs_the_jwt_issuer_and_keys() {
    let policy = COOKIE_CACHE_POLICY.replace("issuer = \"http://localhost:3000\"\n", "");
    let host = TestHost::start(Setup::default().policy(&policy)).await;
    let reply = get(&host, "/private/x", &[]).await;
    assert_eq!(reply.status, 500);
    assert!(host.log().contains("session.cookie_cache"));
}

/// A key Better Auth adds is found on its first token (one re-read), and a
/// flood of unknown kids re-reads the table at most once per interval.
#[tokio::test]
async fn an_unknown_kid_rereads_the_table_at_most_once_per_interval() {
    let ba = better_auth();
    let tokens = pyjwt_tokens();
    let host = start(Reuse::Spin).await;
    // The instance reads the (still empty) table once and caches it.
    let reply = bearer(&host, "/token/me", &tokens["unknown_kid"]).await;
    assert_eq!(reply.status, 401);
    // Better Auth creates its key; its first token makes one re-read.
    copy_jwks(&ba, &host);
    let token = ba.out["jwt"]["fromToken"].as_str().unwrap();
    let before = host.counts().sqlite_statements;
    let reply = bearer(&host, "/token/me", token).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert_eq!(host.counts().sqlite_statements - before, 1);
    // Random kids within the interval: no further reads.
    let before = host.counts().sqlite_statements;
    for _ in 0..5 {
        let reply = bearer(&host, "/token/me", &tokens["unknown_kid"]).await;
        assert_eq!(reply.status, 401);
    }
    assert_eq!(host.counts().sqlite_statements - before, 0);
    // The known key still verifies without a read.
    let reply = bearer(&host, "/token/me", token).await;
    assert_eq!(reply.status, 200);
    assert_eq!(host.counts().sqlite_statements - before, 0);
}

// ---- jwks_url: a JWK Set fetched from a server inside the test ----------

/// A JWKS server on 127.0.0.1 serving the fixture's public keys (the keys
/// PyJWT signs with), counting its hits. `status` and `cache_control` can
/// be changed while it runs.
struct JwksServer {
    port: u16,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    status: std::sync::Arc<std::sync::atomic::AtomicU16>,
}

impl JwksServer {
    async fn start(cache_control: &'static str) -> JwksServer {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let fixture: Value = serde_json::from_str(
            &std::fs::read_to_string(
                root().join("crates/core/src/layers/jwt/testdata/interop.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let jwks = Arc::new(fixture["jwks"].to_string());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let status = Arc::new(AtomicU16::new(200));
        let (counter, answer) = (hits.clone(), status.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (counter, answer, jwks) = (counter.clone(), answer.clone(), jwks.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    let status = answer.load(Ordering::SeqCst);
                    let body = if status == 200 { jwks.as_str() } else { "oops" };
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncache-control: {cache_control}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        JwksServer { port, hits, status }
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn answer(&self, status: u16) {
        self.status
            .store(status, std::sync::atomic::Ordering::SeqCst);
    }
}

fn url_policy(port: u16) -> String {
    format!(
        r#"
[jwt]
issuer = "http://localhost:3000"
audience = "http://localhost:3000"
jwks_url = "http://127.0.0.1:{port}/.well-known/jwks.json"
# Many refused tokens from one address here test the refetch limit; the
# failed-attempt throttle has its own tests (throttle.rs).
failure_limit = 0

[[routes]]
name = "token"
path = "/token/*"
auth = "jwt"
rate_limit = "off"

[[routes]]
name = "rest"
path = "/*"
rate_limit = "off"
"#
    )
}

async fn start_url(port: u16, grant: Option<&str>, mode: Reuse) -> TestHost {
    let mut setup = Setup::default().policy(&url_policy(port)).reuse(mode);
    if let Some(origin) = grant {
        setup = setup.allow_outbound(origin);
    }
    TestHost::start(setup).await
}

/// `token` with its header's `kid` replaced (the signature no longer
/// matters: an unknown `kid` is refused before it is checked).
fn with_kid(token: &str, kid: &str) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}).to_string();
    format!("{}.{rest}", b64(header.as_bytes()))
}

#[tokio::test]
async fn a_jwks_url_is_fetched_once_and_cached_for_its_ttl() {
    let tokens = pyjwt_tokens();
    for mode in MODES {
        let server = JwksServer::start("public, max-age=300").await;
        let host = start_url(server.port, Some(&server.origin()), mode).await;
        for name in ["eddsa", "es256", "rs256", "ps256", "eddsa"] {
            let reply = bearer(&host, "/token/me", &tokens[name]).await;
            assert_admitted(&reply, "user-1", "admin,user", &format!("{name} {mode:?}"));
        }
        // One fetch: the instance's copy (Spin), else key-value's (one
        // instance per request) served the rest.
        assert_eq!(server.hits(), 1, "{mode:?}");
        let log = host.log();
        assert!(log.contains(r#""ttl_s":300"#), "{mode:?}: {log}");
        assert!(
            host.kv_keys()
                .iter()
                .any(|k| k.starts_with("warden:jwt:jwks-url:") && !k.contains("127.0.0.1")),
            "{mode:?}: {:?}",
            host.kv_keys()
        );
        for token in tokens.values() {
            assert!(!log.contains(token.as_str()), "a token reached the log");
        }
    }
}

#[tokio::test]
async fn a_short_max_age_is_clamped_to_the_minimum() {
    let tokens = pyjwt_tokens();
    let server = JwksServer::start("max-age=5").await;
    let host = start_url(server.port, Some(&server.origin()), Reuse::Spin).await;
    for _ in 0..3 {
        let reply = bearer(&host, "/token/me", &tokens["eddsa"]).await;
        assert_eq!(reply.status, 200, "{}", text(&reply));
    }
    assert_eq!(server.hits(), 1);
    assert!(host.log().contains(r#""ttl_s":60"#), "{}", host.log());
}

#[tokio::test]
async fn fifty_unknown_kids_make_at_most_one_refetch() {
    let tokens = pyjwt_tokens();
    for mode in MODES {
        let server = JwksServer::start("max-age=300").await;
        let host = start_url(server.port, Some(&server.origin()), mode).await;
        let reply = bearer(&host, "/token/me", &tokens["eddsa"]).await;
        assert_eq!(reply.status, 200, "{}", text(&reply));
        assert_eq!(server.hits(), 1);
        let salt = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        for i in 0..50 {
            let token = with_kid(&tokens["eddsa"], &format!("random-{salt:x}-{i}"));
            let reply = bearer(&host, "/token/me", &token).await;
            assert_refused(&reply, INVALID, "unknown kid");
        }
        assert!(
            server.hits() <= 2,
            "{mode:?}: {} fetches for 50 unknown kids",
            server.hits() - 1
        );
        // The known key still verifies, without a fetch.
        let before = server.hits();
        let reply = bearer(&host, "/token/me", &tokens["es256"]).await;
        assert_eq!(reply.status, 200);
        assert_eq!(server.hits(), before);
    }
}

#[tokio::test]
async fn a_failed_refetch_keeps_the_cached_set() {
    let tokens = pyjwt_tokens();
    let server = JwksServer::start("max-age=300").await;
    let host = start_url(server.port, Some(&server.origin()), Reuse::Spin).await;
    assert_eq!(
        bearer(&host, "/token/me", &tokens["eddsa"]).await.status,
        200
    );
    server.answer(500);
    // An unknown kid refetches; the server fails; the cached set stays.
    let reply = bearer(&host, "/token/me", &tokens["unknown_kid"]).await;
    assert_refused(&reply, INVALID, "unknown kid");
    assert_eq!(server.hits(), 2);
    let log = host.log();
    assert!(log.contains("jwt_jwks_fetch_failed"), "{log}");
    assert!(log.contains(r#""using_cached_set":true"#), "{log}");
    let reply = bearer(&host, "/token/me", &tokens["eddsa"]).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
}

#[tokio::test]
async fn the_jwks_server_down_with_nothing_cached_fails_closed() {
    let tokens = pyjwt_tokens();
    // A port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    for mode in MODES {
        let host = start_url(port, Some(&format!("http://127.0.0.1:{port}")), mode).await;
        let reply = bearer(&host, "/token/me", &tokens["eddsa"]).await;
        assert_eq!(reply.status, 503, "{mode:?}: {}", text(&reply));
        let log = host.log();
        assert!(log.contains("jwt_keys_unavailable"), "{log}");
        assert!(log.contains("jwt_jwks_fetch_failed"), "{log}");
        assert!(log.contains(r#""using_cached_set":false"#), "{log}");
        // A token without a token is still a 401, not a 503.
        let reply = get(&host, "/token/me", &[]).await;
        assert_eq!(reply.status, 401);
    }
}

#[tokio::test]
async fn a_missing_outbound_grant_denies_the_fetch() {
    let tokens = pyjwt_tokens();
    let server = JwksServer::start("max-age=300").await;
    // No allow_outbound: warden does not inherit a grant for the origin.
    let host = start_url(server.port, None, Reuse::Spin).await;
    let reply = bearer(&host, "/token/me", &tokens["eddsa"]).await;
    assert_eq!(reply.status, 503, "{}", text(&reply));
    assert_eq!(server.hits(), 0, "the request never left the host");
    let log = host.log();
    assert!(log.contains("jwt_jwks_fetch_denied"), "{log}");
    assert!(log.contains("allowed_outbound_hosts"), "{log}");
    assert!(log.contains(&server.origin()), "{log}");
}

/// `[session] source = "jwt-cookie"`: Better Auth's cookie cache alone,
/// verified with its public JWK Set in a variable. No session store at all.
const COOKIE_CACHE_ONLY_POLICY: &str = r#"
[session]
source = "jwt-cookie"
log_failures = true

[jwt]
issuer = "http://localhost:3000"
jwks_variable = "better_auth_jwks"

[[routes]]
name = "private"
path = "/private/*"
auth = "required"
rate_limit = "off"

[[routes]]
name = "open"
path = "/*"
auth = "optional"
rate_limit = "off"
"#;

/// The genuine cookie cache admits (whole and chunked) with no database
/// tables, both stores failing and not one store operation; the probe says
/// ready without SQLite; a tampered cache, a session token or no cookie is no
/// session: 401 on the required route, anonymous on the optional one.
#[tokio::test]
async fn the_cookie_cache_alone_needs_no_session_store() {
    let ba = better_auth();
    let jwks = ba.out["jwt"]["jwks"].to_string();
    let alice = ba.out["users"][0]["id"].as_str().unwrap().to_owned();
    for mode in MODES {
        let host = TestHost::start(Setup {
            // No migrations: no session, user or jwks table exists.
            migrations: false,
            ..Setup::default()
                .policy(COOKIE_CACHE_ONLY_POLICY)
                .var("better_auth_jwks", &jwks)
                .reuse(mode)
        })
        .await;
        host.host.faults().set_sqlite_error(true);
        host.host.faults().set_kv_error(true);
        let ready = host.get("/.warden/ready").await;
        assert_eq!(ready.status, 200, "{mode:?}: {}", text(&ready));
        assert_eq!(
            ready.json(),
            serde_json::json!({"status": "ok", "key_value": "unused", "sqlite": "unused"})
        );
        settle(&host).await;
        let before = host.counts();

        let cookie = cookie_header(&ba.out["cookies"]["sessionData"]);
        let reply = get(&host, "/private/x", &[("cookie", &cookie)]).await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        let seen = reply.echoed_headers();
        assert_eq!(seen["x-warden-user-id"], alice.as_str());
        assert_eq!(seen["x-warden-auth"], "session");
        assert_eq!(seen["x-warden-user-role"], "admin");
        let mut chunks = ba.out["cookies"]["chunked"].as_array().unwrap().clone();
        chunks.reverse();
        let chunked = cookie_header(&Value::Array(chunks));
        let reply = get(&host, "/private/x", &[("cookie", &chunked)]).await;
        assert_eq!(reply.status, 200, "chunked {mode:?}: {}", text(&reply));
        assert_eq!(
            reply.echoed_headers()["x-warden-user-id"],
            ba.out["cookies"]["chunkedUserId"]
        );

        let jwt = ba.out["cookies"]["sessionData"][0][1].as_str().unwrap();
        let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
        parts[2] = format!("{}AAAA", &parts[2][..parts[2].len() - 4]);
        let tampered = format!("better-auth.session_data={}", parts.join("."));
        let token = format!(
            "{}={}",
            ba.out["cookies"]["sessionTokenName"].as_str().unwrap(),
            ba.out["cookies"]["sessionToken"].as_str().unwrap()
        );
        for (what, cookie) in [("tampered", tampered.as_str()), ("session token", &token)] {
            let reply = get(&host, "/private/x", &[("cookie", cookie)]).await;
            assert_eq!(reply.status, 401, "{what} {mode:?}: {}", text(&reply));
            let reply = get(&host, "/x", &[("cookie", cookie)]).await;
            assert_eq!(reply.status, 200, "{what} {mode:?}: {}", text(&reply));
            assert!(!reply.echoed_headers().contains_key("x-warden-user-id"));
        }
        assert_eq!(get(&host, "/private/x", &[]).await.status, 401);
        let reply = get(&host, "/x", &[]).await;
        assert_eq!(reply.status, 200);
        assert!(!reply.echoed_headers().contains_key("x-warden-user-id"));

        assert_eq!(host.counts(), before, "{mode:?}: a store was read");
        let log = host.log();
        assert!(log.contains("session_cookie_cache_refused"));
        assert!(!log.contains(jwt), "the cookie cache reached the log");
    }
}

/// Revocation needs a session store: with the cookie cache alone,
/// `revoke = true` is a configuration error naming the field; so is a
/// missing issuer, naming `session.source`.
#[tokio::test]
async fn the_cookie_cache_alone_refuses_revoke_and_needs_the_issuer() {
    let revoke = COOKIE_CACHE_ONLY_POLICY.replace("log_failures = true", "revoke = true");
    let no_issuer = COOKIE_CACHE_ONLY_POLICY.replace("issuer = \"http://localhost:3000\"\n", "");
    for (policy, field) in [(revoke, "session.revoke"), (no_issuer, "session.source")] {
        let host = TestHost::start(
            Setup::default()
                .policy(&policy)
                .var("better_auth_jwks", r#"{"keys":[]}"#),
        )
        .await;
        let reply = get(&host, "/x", &[]).await;
        assert_eq!(reply.status, 500, "{field}");
        assert!(host.log().contains(field), "{field}: {}", host.log());
    }
}
