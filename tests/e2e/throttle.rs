//! The failed-credential throttle shared by the API-key and JWT stages: one
//! counter per client address, so refused keys and refused tokens add up;
//! past the limit the address gets 429 from either stage, before any key
//! lookup or signature check, even with a good credential. Another address
//! is not affected, and no credential at all is not a failed attempt.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::{SystemTime, UNIX_EPOCH};
use warden_tests::*;

const THROTTLED: &str =
    r#"{"error":{"code":"TOO_MANY_FAILED_ATTEMPTS","message":"Too many failed attempts"}}"#;
const SECRET: &str = "throttle-hs256-secret-0123456789abcdef";
/// The failures from one address before it is throttled, in both layers.
const LIMIT: usize = 4;

/// The address source and the API-key throttle every test here shares.
fn api_key_settings() -> String {
    format!(
        r#"
[rate_limit]
client_ip = "x-real-ip"

[api_keys]
cache_ttl = "1s"
negative_cache_ttl = 0
failure_limit = {LIMIT}
failure_window = "5m"
"#
    )
}

fn policy() -> String {
    format!(
        r#"
{settings}
[jwt]
hmac_secret_variable = "jwt_secret"
failure_limit = {LIMIT}
failure_window = "5m"

[[routes]]
name = "token"
path = "/token/*"
auth = "jwt"
rate_limit = "off"

[[routes]]
name = "keys"
path = "/api/keys/*"
auth = "api_key"
rate_limit = "off"

[[routes]]
name = "web"
path = "/*"
rate_limit = "off"
"#,
        settings = api_key_settings()
    )
}

async fn start() -> TestHost {
    TestHost::start(Setup::default().policy(&policy()).var("jwt_secret", SECRET)).await
}

/// An HS256 token for `sub`, valid for an hour, signed with `secret`.
fn token(sub: &str, secret: &str) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"sub":"{sub}","exp":{exp}}}"#));
    let input = format!("{header}.{payload}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{input}.{signature}")
}

/// A token signed with the wrong secret: a bad signature.
fn bad_token(i: usize) -> String {
    token(&format!("guess-{i}"), "not-the-secret-0123456789abcdef-xx")
}

async fn with_token(host: &TestHost, token: &str, ip: &str) -> Reply {
    host.get_with(
        "/token/x",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("x-real-ip", ip),
        ],
    )
    .await
}

async fn with_key(host: &TestHost, key: &str, ip: &str) -> Reply {
    host.get_with("/api/keys/x", &[("x-api-key", key), ("x-real-ip", ip)])
        .await
}

fn assert_status(reply: &Reply, status: u16, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", text(reply));
}

fn assert_throttled(reply: &Reply, what: &str) {
    assert_status(reply, 429, what);
    assert_eq!(reply.body, THROTTLED, "{what}");
}

#[tokio::test]
async fn bad_tokens_throttle_the_address_for_tokens_and_keys() {
    let host = start().await;
    let key = crate::api_keys::create_key(&host, "user-1", &[]);
    let good = token("user-1", SECRET);
    let guesser = "203.0.113.80";
    assert_status(
        &with_token(&host, &good, guesser).await,
        200,
        "a good token",
    );
    for i in 0..LIMIT {
        assert_status(
            &with_token(&host, &bad_token(i), guesser).await,
            401,
            "a bad token",
        );
    }
    // Past the limit: 429 for a good token, before its signature is checked.
    assert_throttled(&with_token(&host, &good, guesser).await, "a good token");
    // And for a good API key, before any lookup: no database read.
    let before = host.counts();
    assert_throttled(&with_key(&host, &key, guesser).await, "a good key");
    assert_eq!(host.counts().sqlite_statements, before.sqlite_statements);
    // Another address is not affected.
    let other = "203.0.113.81";
    assert_status(
        &with_token(&host, &good, other).await,
        200,
        "another address's token",
    );
    assert_status(
        &with_key(&host, &key, other).await,
        200,
        "another address's key",
    );
    let log = host.log();
    assert!(log.contains("jwt_throttled"), "{log}");
    assert!(log.contains("api_key_throttled"), "{log}");
}

#[tokio::test]
async fn bad_keys_and_bad_tokens_share_one_count() {
    let host = start().await;
    let key = crate::api_keys::create_key(&host, "user-2", &[]);
    let good = token("user-2", SECRET);
    let guesser = "203.0.113.90";
    // Half the limit in keys, half in tokens: neither layer alone is at
    // its limit, together they are.
    for i in 0..LIMIT {
        let reply = if i % 2 == 0 {
            with_key(&host, &format!("wk_{:064x}", i + 1), guesser).await
        } else {
            with_token(&host, &bad_token(i), guesser).await
        };
        assert_status(&reply, 401, "a guess");
    }
    assert_throttled(&with_token(&host, &good, guesser).await, "a good token");
    assert_throttled(&with_key(&host, &key, guesser).await, "a good key");
    // One below the limit is not throttled.
    let near = "203.0.113.91";
    for i in 0..LIMIT - 1 {
        let reply = if i % 2 == 0 {
            with_token(&host, &bad_token(i), near).await
        } else {
            with_key(&host, &format!("wk_{:064x}", i + 1), near).await
        };
        assert_status(&reply, 401, "a guess");
    }
    assert_status(&with_token(&host, &good, near).await, 200, "a good token");
    assert_status(&with_key(&host, &key, near).await, 200, "a good key");
}

#[tokio::test]
async fn no_token_is_not_a_failed_attempt() {
    let host = start().await;
    let good = token("user-3", SECRET);
    let ip = "203.0.113.100";
    for _ in 0..LIMIT + 2 {
        let reply = host.get_with("/token/x", &[("x-real-ip", ip)]).await;
        assert_status(&reply, 401, "no token");
        let reply = host
            .get_with(
                "/token/x",
                &[("authorization", "Basic Zm9vOmJhcg=="), ("x-real-ip", ip)],
            )
            .await;
        assert_status(&reply, 401, "no bearer token");
    }
    assert_status(&with_token(&host, &good, ip).await, 200, "a good token");
}

/// A route that takes an API key as its second credential
/// (`auth = ["required", "api_key"]`) counts refused keys like an
/// `api_key` route: guessing there is throttled too.
#[tokio::test]
async fn bad_keys_on_a_route_with_several_credentials_are_counted() {
    // The only route that takes API keys takes sessions first.
    let policy = format!(
        r#"
{settings}
[[routes]]
name = "either"
path = "/either/*"
auth = ["required", "api_key"]
rate_limit = "off"

[[routes]]
name = "web"
path = "/*"
rate_limit = "off"
"#,
        settings = api_key_settings()
    );
    let host = TestHost::start(Setup::default().policy(&policy)).await;
    let key = crate::api_keys::create_key(&host, "user-4", &[]);
    let guesser = "203.0.113.95";
    let on_either = |key: String| {
        let host = &host;
        async move {
            host.get_with("/either/x", &[("x-api-key", &key), ("x-real-ip", guesser)])
                .await
        }
    };
    assert_status(&on_either(key.clone()).await, 200, "a good key");
    for i in 0..LIMIT {
        let reply = on_either(format!("wk_{:064x}", i + 1)).await;
        assert_status(&reply, 401, "a bad key");
    }
    assert_throttled(&on_either(key).await, "a good key past the limit");
}
