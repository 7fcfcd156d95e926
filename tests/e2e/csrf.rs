//! CSRF on cookie-authenticated routes (docs/hardening.md, "CSRF") through
//! the real component: a cross-site unsafe request carrying a session
//! cookie is refused with 403 before authentication; same-origin requests,
//! the CORS allowlist's and a route's trusted origins, clients that send
//! neither `Sec-Fetch-Site` nor `Origin`, and safe methods pass; signed
//! and header-token routes are not checked unless a route says so;
//! repeated or malformed headers are refused; an invalid `csrf` is a
//! startup error that names the field.

use crate::session::{SESSION_SECRET, User, cookie, login};
use warden_tests::*;

const REFUSED: &str =
    r#"{"error":{"code":"CSRF_REJECTED","message":"Cross-site request refused"}}"#;
const EVIL: &str = "https://evil.example";
const APP: &str = "https://app.example.com";
const PARTNER: &str = "https://partner.example";

const POLICY: &str = r#"
[cors]
origins = ["https://app.example.com"]
credentials = true

[jwt]
hmac_secret_variable = "jwt_secret"

[[routes]]
name = "signed"
path = "/signed/*"
auth = "worker"
rate_limit = "off"

[[routes]]
name = "token"
path = "/token/*"
auth = "jwt"
rate_limit = "off"

[[routes]]
name = "keyed"
path = "/keyed/*"
auth = "api_key"
rate_limit = "off"

[[routes]]
name = "own-tokens"
path = "/own-tokens/*"
auth = "required"
csrf = false
rate_limit = "off"

[[routes]]
name = "forms"
path = "/forms/*"
csrf = { trusted_origins = ["https://partner.example"] }
rate_limit = "off"

[[routes]]
name = "app"
path = "/app/*"
auth = "required"
rate_limit = "off"

[[routes]]
name = "rest"
path = "/*"
rate_limit = "off"
"#;

/// JWTs taken from a cookie as well as the header (`token_sources` is
/// `[jwt]`'s, for every `jwt` route).
const COOKIE_TOKEN_POLICY: &str = r#"
[jwt]
hmac_secret_variable = "jwt_secret"
token_sources = ["authorization", "cookie:token"]

[[routes]]
name = "cookie-token"
path = "/cookie-token/*"
auth = "jwt"
rate_limit = "off"
"#;

async fn start(mode: Reuse) -> TestHost {
    start_with(mode, POLICY).await
}

async fn start_with(mode: Reuse, policy: &str) -> TestHost {
    TestHost::start(
        Setup::default()
            .policy(policy)
            .var("session_secret", SESSION_SECRET)
            .var(
                "worker_secret",
                "worker-secret-for-the-session-tests-0123456789",
            )
            .var("jwt_secret", "dev-only-jwt-secret-0123456789abcdef0123")
            .reuse(mode),
    )
    .await
}

/// A POST with these headers (each pair one field line, so a name may repeat).
async fn post(host: &TestHost, path: &str, headers: &[(&str, &str)]) -> Reply {
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    host.send("POST", path, &headers, b"{}").await
}

fn assert_refused(reply: &Reply, context: &str) {
    assert_eq!(reply.status, 403, "{context}: {}", text(reply));
    assert_eq!(text(reply), REFUSED, "{context}");
    assert!(reply.header("x-request-id").is_some(), "{context}");
}

#[tokio::test]
async fn a_cross_site_post_with_a_session_cookie_is_refused_before_authentication() {
    for mode in MODES {
        let host = start(mode).await;
        let session = cookie(&login(&host, &User::new("u-csrf", "Ada", None)));
        let before = host.counts();
        let reply = post(
            &host,
            "/app/transfer",
            &[
                ("cookie", &session),
                ("sec-fetch-site", "cross-site"),
                ("origin", EVIL),
            ],
        )
        .await;
        assert_refused(&reply, &format!("{mode:?}"));
        // Every answer's headers are there (security headers, CORS's Vary).
        assert!(reply.header("x-content-type-options").is_some());
        // Refused from the head alone: no store was asked.
        let after = host.counts();
        assert_eq!(
            after.sqlite_statements, before.sqlite_statements,
            "{mode:?}"
        );
        // An older browser: no Sec-Fetch-Site, a foreign Origin.
        let reply = post(
            &host,
            "/app/transfer",
            &[("cookie", &session), ("origin", EVIL)],
        )
        .await;
        assert_refused(&reply, "origin only");
        // A sibling subdomain is same-site, not same-origin.
        let reply = post(
            &host,
            "/app/transfer",
            &[
                ("cookie", &session),
                ("sec-fetch-site", "same-site"),
                ("origin", "https://www.example.com"),
            ],
        )
        .await;
        assert_refused(&reply, "same-site");
        let log = host.log();
        assert!(log.contains(r#""csrf_refused""#), "{log}");
        assert!(log.contains(r#""reason":"cross_site""#), "{log}");
        assert!(log.contains(r#""reason":"origin_mismatch""#), "{log}");
        assert!(log.contains(r#""reason":"same_site""#), "{log}");
        assert!(log.contains(r#""origin":"https://evil.example""#), "{log}");
        assert!(
            !log.contains("u-csrf"),
            "the session's user is never looked up: {log}"
        );
    }
}

#[tokio::test]
async fn same_origin_trusted_origins_plain_clients_and_safe_methods_pass() {
    for mode in MODES {
        let host = start(mode).await;
        let session = cookie(&login(&host, &User::new("u-pass", "Grace", None)));
        let own = format!("http://{}", host.host.addr());
        let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
            (
                "same-origin",
                vec![("sec-fetch-site", "same-origin"), ("origin", &own)],
            ),
            ("typed URL", vec![("sec-fetch-site", "none")]),
            (
                "allowlisted",
                vec![("sec-fetch-site", "cross-site"), ("origin", APP)],
            ),
            ("own origin, older browser", vec![("origin", &own)]),
            ("allowlisted, older browser", vec![("origin", APP)]),
            // curl, a server, a mobile app: neither header, no browser to forge with.
            ("no browser headers", vec![]),
        ];
        for (case, mut headers) in cases {
            headers.push(("cookie", &session));
            let reply = post(&host, "/app/transfer", &headers).await;
            assert_eq!(reply.status, 200, "{mode:?} {case}: {}", text(&reply));
            assert_eq!(reply.json()["method"], "POST", "{case}");
        }
        // The allowlisted origin may read the answer too (CORS).
        let reply = post(
            &host,
            "/app/transfer",
            &[
                ("cookie", &session),
                ("sec-fetch-site", "cross-site"),
                ("origin", APP),
            ],
        )
        .await;
        assert_eq!(reply.header("access-control-allow-origin"), Some(APP));
        // Safe methods are never checked.
        for method in ["GET", "HEAD", "OPTIONS"] {
            let reply = host
                .send(
                    method,
                    "/app/page",
                    &[
                        ("cookie", session.as_bytes()),
                        ("sec-fetch-site", b"cross-site"),
                        ("origin", EVIL.as_bytes()),
                    ],
                    b"",
                )
                .await;
            assert_ne!(reply.status, 403, "{mode:?} {method}: {}", text(&reply));
        }
        assert!(!host.log().contains("csrf_refused"), "{}", host.log());
    }
}

#[tokio::test]
async fn signed_and_header_token_routes_are_not_checked_but_a_cookie_token_route_is() {
    for mode in MODES {
        let host = start(mode).await;
        let cross = [("sec-fetch-site", "cross-site"), ("origin", EVIL)];
        // Each refuses for its own reason (no credential), never CSRF.
        for path in ["/signed/x", "/token/x", "/keyed/x"] {
            let reply = post(&host, path, &cross).await;
            assert_eq!(reply.status, 401, "{mode:?} {path}: {}", text(&reply));
        }
        // No auth at all: nothing a browser adds on its own to protect.
        let reply = post(&host, "/other", &cross).await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        assert!(!host.log().contains("csrf_refused"), "{}", host.log());
        // A JWT read from a cookie is attached by the browser: checked.
        let host = start_with(mode, COOKIE_TOKEN_POLICY).await;
        let reply = post(
            &host,
            "/cookie-token/x",
            &[("cookie", "token=x.y.z"), cross[0], cross[1]],
        )
        .await;
        assert_refused(&reply, "cookie token");
    }
}

#[tokio::test]
async fn a_route_turns_the_check_off_or_on_with_its_own_trusted_origins() {
    for mode in MODES {
        let host = start(mode).await;
        let session = cookie(&login(&host, &User::new("u-own", "Edsger", None)));
        // csrf = false: the app checks its own tokens.
        let reply = post(
            &host,
            "/own-tokens/x",
            &[
                ("cookie", &session),
                ("sec-fetch-site", "cross-site"),
                ("origin", EVIL),
            ],
        )
        .await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        // csrf = { trusted_origins }: on without cookie auth.
        let reply = post(
            &host,
            "/forms/x",
            &[("sec-fetch-site", "cross-site"), ("origin", EVIL)],
        )
        .await;
        assert_refused(&reply, "forms, evil");
        for origin in [PARTNER, APP] {
            let reply = post(
                &host,
                "/forms/x",
                &[("sec-fetch-site", "cross-site"), ("origin", origin)],
            )
            .await;
            assert_eq!(reply.status, 200, "{mode:?} {origin}: {}", text(&reply));
        }
    }
}

#[tokio::test]
async fn repeated_or_malformed_headers_are_refused() {
    for mode in MODES {
        let host = start(mode).await;
        let session = cookie(&login(&host, &User::new("u-bad", "Barbara", None)));
        let own = format!("http://{}", host.host.addr());
        // (case, header lines, the reason logged)
        type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
        let cases: Vec<Case> = vec![
            (
                "two origins",
                vec![("origin", &own), ("origin", EVIL)],
                "repeated_origin",
            ),
            (
                "two origins, same-origin",
                vec![
                    ("sec-fetch-site", "same-origin"),
                    ("origin", &own),
                    ("origin", &own),
                ],
                "repeated_origin",
            ),
            (
                "two sec-fetch-site",
                vec![
                    ("sec-fetch-site", "same-origin"),
                    ("sec-fetch-site", "same-origin"),
                ],
                "repeated_sec_fetch_site",
            ),
            ("null origin", vec![("origin", "null")], "null_origin"),
            (
                "a path in the origin",
                vec![("origin", "http://127.0.0.1/x")],
                "malformed_origin",
            ),
            (
                "an unknown value",
                vec![("sec-fetch-site", "Same-Origin")],
                "unknown_sec_fetch_site",
            ),
        ];
        for (case, mut headers, reason) in cases {
            headers.push(("cookie", &session));
            let reply = post(&host, "/app/x", &headers).await;
            assert_refused(&reply, &format!("{mode:?} {case}"));
            let log = host.log();
            assert!(
                log.contains(&format!(r#""reason":"{reason}""#)),
                "{case}: {log}"
            );
        }
        // Bytes that are not text in an Origin: refused, never a trap.
        let reply = host
            .send(
                "POST",
                "/app/x",
                &[
                    ("cookie", session.as_bytes()),
                    ("origin", b"http://\xff\xfe"),
                ],
                b"",
            )
            .await;
        assert_refused(&reply, "non-UTF-8 origin");
        // The instance goes on serving.
        let reply = post(&host, "/app/x", &[("cookie", &session)]).await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
    }
}

#[tokio::test]
async fn an_invalid_csrf_value_is_a_configuration_error_naming_the_field() {
    let policy = r#"
[[routes]]
name = "app"
path = "/app/*"
auth = "required"
csrf = "yes"

[[routes]]
name = "forms"
path = "/*"
csrf = { trusted_origins = ["*"], extra = 1 }
"#;
    let host = TestHost::start(
        Setup::default()
            .policy(policy)
            .var("session_secret", SESSION_SECRET),
    )
    .await;
    let reply = host.get("/").await;
    assert_eq!(reply.status, 500, "{}", text(&reply));
    assert_eq!(reply.json()["error"]["code"], "CONFIGURATION_ERROR");
    let log = host.log();
    for field in [
        "routes[0].csrf",
        "routes[1].csrf.trusted_origins[0]",
        "routes[1].csrf.extra",
    ] {
        assert!(log.contains(field), "the log names {field}: {log}");
    }
}

/// The demo (spin.toml's policy) with the README's try-it lines: curl sends
/// neither header, so every line still works with CSRF on for `/api/*`.
#[tokio::test]
async fn the_demo_keeps_curl_working_and_refuses_a_cross_site_post() {
    let host = TestHost::start(Setup::demo()).await;
    let reply = host.send("POST", "/api/x", &[], b"{}").await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    let reply = host.send("POST", "/auth/login", &[], b"{}").await;
    assert_ne!(reply.status, 403, "{}", text(&reply));
    let reply = post(
        &host,
        "/api/x",
        &[("sec-fetch-site", "cross-site"), ("origin", EVIL)],
    )
    .await;
    assert_refused(&reply, "demo");
    // The demo's CORS origin is trusted.
    let reply = post(
        &host,
        "/api/x",
        &[("sec-fetch-site", "cross-site"), ("origin", APP)],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
}
