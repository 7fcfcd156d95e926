//! A route that accepts several credentials (`auth = ["required", "jwt",
//! "api_key"]`) through the real component: each credential alone is
//! admitted by its own layer; none is a 401; and the first credential a
//! request presents decides — a failing one is a 401, never a fall-through
//! to a valid credential of the next kind.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::{SystemTime, UNIX_EPOCH};
use warden_tests::*;

use crate::api_keys::create_key;
use crate::session::{SESSION_SECRET, User, cookie, login};

const JWT_SECRET: &str = "credentials-tests-jwt-secret-0123456789abcdef";

const POLICY: &str = r#"
[jwt]
hmac_secret_variable = "jwt_secret"
algorithms = ["HS256"]

[[routes]]
name = "any"
path = "/any/*"
auth = ["required", "jwt", "api_key"]
rate_limit = "off"

[[routes]]
name = "tokens-first"
path = "/tokens-first/*"
auth = ["jwt", "api_key", "required"]
rate_limit = "off"

[[routes]]
name = "web"
path = "/*"
rate_limit = "off"
"#;

async fn start() -> TestHost {
    TestHost::start(
        Setup::default()
            .policy(POLICY)
            .var("session_secret", SESSION_SECRET)
            .var("jwt_secret", JWT_SECRET),
    )
    .await
}

/// An HS256 token for `sub`, valid for an hour (or signed with `secret`).
fn jwt(sub: &str, secret: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let part = |json: String| URL_SAFE_NO_PAD.encode(json);
    let input = format!(
        "{}.{}",
        part(r#"{"alg":"HS256","typ":"JWT"}"#.into()),
        part(format!(r#"{{"sub":"{sub}","exp":{}}}"#, now + 3600))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn auth_of(reply: &Reply) -> (u16, Option<String>, Option<String>) {
    let echoed = reply.echoed_headers();
    let get = |name: &str| echoed.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    (reply.status, get("x-warden-auth"), get("x-warden-user-id"))
}

#[tokio::test]
async fn the_first_credential_presented_decides() {
    let host = start().await;
    let session = cookie(&login(&host, &User::new("u-session", "Sam", None)));
    let token = format!("Bearer {}", jwt("u-jwt", JWT_SECRET));
    let forged = format!(
        "Bearer {}",
        jwt("u-jwt", "not-the-secret-0123456789abcdef0123")
    );
    let key = create_key(&host, "u-key", &[]);

    // Each credential alone, by its own layer.
    let alone = [
        (vec![("cookie", session.as_str())], "session", "u-session"),
        (vec![("authorization", token.as_str())], "jwt", "u-jwt"),
        (vec![("x-api-key", key.as_str())], "api_key", "u-key"),
    ];
    for (headers, method, user) in &alone {
        for path in ["/any/x", "/tokens-first/x"] {
            let reply = host.get_with(path, headers).await;
            assert_eq!(
                auth_of(&reply),
                (200, Some(method.to_string()), Some(user.to_string())),
                "{path} {method}"
            );
        }
    }

    // None at all: the route's first mode answers.
    assert_eq!(host.get("/any/x").await.status, 401);
    assert_eq!(host.get("/tokens-first/x").await.status, 401);

    // Several: the route's order decides which is read.
    let both = [("cookie", session.as_str()), ("x-api-key", key.as_str())];
    assert_eq!(
        auth_of(&host.get_with("/any/x", &both).await).1.as_deref(),
        Some("session")
    );
    assert_eq!(
        auth_of(&host.get_with("/tokens-first/x", &both).await)
            .1
            .as_deref(),
        Some("api_key")
    );

    // A presented credential that fails is a 401, never a fall-through to
    // the valid one of the next kind.
    let forged_then_key = [
        ("authorization", forged.as_str()),
        ("x-api-key", key.as_str()),
    ];
    let reply = host.get_with("/tokens-first/x", &forged_then_key).await;
    assert_eq!(
        reply.status, 401,
        "a forged JWT is not rescued by a valid key"
    );
    let bad_key_then_session = [("x-api-key", "wk_not-a-key"), ("cookie", session.as_str())];
    let reply = host
        .get_with("/tokens-first/x", &bad_key_then_session)
        .await;
    assert_eq!(
        reply.status, 401,
        "a bad key is not rescued by a valid session"
    );
    let stale_cookie = [
        ("cookie", "better-auth.session_token=nope.c2ln"),
        ("authorization", token.as_str()),
    ];
    let reply = host.get_with("/any/x", &stale_cookie).await;
    assert_eq!(
        reply.status, 401,
        "a bad session cookie is not rescued by a valid JWT"
    );
}
