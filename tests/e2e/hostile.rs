//! Hostile input (issue 12), through the real component: each request here
//! got through, or crashed the instance, before its fix.

use serde_json::Value;

use warden_core::layers::signature::{sign_request_nonce, sign_worker};
use warden_tests::*;

/// A header-keyed limit used to cut the value with `String::truncate(256)`:
/// a two-byte character across byte 256 panicked, and with `panic = abort`
/// the whole instance died (500 for this request and every one in flight).
#[tokio::test]
async fn a_multibyte_character_across_the_key_cut_is_counted_not_a_crash() {
    let policy = limited_policy(
        r#"{ requests = 3, window = "1h", key = "header:x-api-key" }"#,
        "",
    );
    // 255 ASCII bytes, then "é" (bytes 256 and 257): the cut falls inside it.
    let key = format!("{}é-and-more", "k".repeat(255));
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(&policy).reuse(mode)).await;
        let send = async || {
            host.send("GET", "/limited/x", &[("x-api-key", key.as_bytes())], b"")
                .await
        };
        for i in 1..=3 {
            let reply = send().await;
            assert_eq!(reply.status, 200, "{mode:?} request {i}: {}", text(&reply));
            assert_eq!(reply.header("x-ratelimit-limit"), Some("3"));
        }
        let reply = send().await;
        assert_eq!(reply.status, 429, "{mode:?}: {}", text(&reply));
        assert_eq!(reply.json()["error"], "Too many requests");
        // Another key is another client, and the instance still serves.
        let reply = host
            .get_with("/limited/x", &[("x-api-key", "another-client")])
            .await;
        assert_eq!(reply.status, 200, "{mode:?}");
        assert_eq!(host.get("/other").await.status, 200, "{mode:?}");
    }
}

/// A proxy that appends its own `X-Forwarded-For` line after the client's:
/// only the first line used to be read, so every request with a fresh
/// client-written line got a fresh bucket.
#[tokio::test]
async fn forwarded_for_lines_are_combined_before_counting_from_the_right() {
    let policy = limited_policy(
        r#"{ requests = 2, window = "1h" }"#,
        "[rate_limit]\nclient_ip = { x_forwarded_for = 1 }",
    );
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(&policy).reuse(mode)).await;
        let mut statuses = Vec::new();
        for i in 0..4 {
            let client_line = format!("198.51.100.{i}");
            let reply = host
                .send(
                    "GET",
                    "/limited/x",
                    &[
                        ("x-forwarded-for", client_line.as_bytes()),
                        ("x-forwarded-for", b"203.0.113.7"),
                    ],
                    b"",
                )
                .await;
            statuses.push(reply.status);
        }
        assert_eq!(statuses, [200, 200, 429, 429], "{mode:?}: one bucket");
        // The proxy's address counted: another proxy-seen client is fresh.
        let reply = host
            .send(
                "GET",
                "/limited/x",
                &[
                    ("x-forwarded-for", b"198.51.100.0"),
                    ("x-forwarded-for", b"203.0.113.8"),
                ],
                b"",
            )
            .await;
        assert_eq!(reply.status, 200, "{mode:?}");
    }
}

/// `X-Real-IP` sent twice, or not as UTF-8, is no trustworthy address: the
/// peer address counts (and the fallback is logged without the value),
/// instead of whatever line came first or one shared "unknown" bucket.
#[tokio::test]
async fn an_untrustworthy_single_value_header_falls_back_to_the_peer() {
    let policy = limited_policy(
        r#"{ requests = 2, window = "1h" }"#,
        "[rate_limit]\nclient_ip = \"x-real-ip\"",
    );
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(&policy).reuse(mode)).await;
        let mut statuses = Vec::new();
        for i in 0..3 {
            let spoofed = format!("192.0.2.{i}");
            let reply = host
                .send(
                    "GET",
                    "/limited/x",
                    &[
                        ("x-real-ip", spoofed.as_bytes()),
                        ("x-real-ip", b"203.0.113.7"),
                    ],
                    b"",
                )
                .await;
            statuses.push(reply.status);
        }
        assert_eq!(statuses, [200, 200, 429], "{mode:?}: counted by the peer");
        let fallbacks = host.log_events("client_address_fallback");
        assert_eq!(fallbacks.len(), 3, "{mode:?}: {}", host.log());
        assert_eq!(
            fallbacks[0]["reason"],
            "single-value header sent more than once"
        );
        assert_eq!(fallbacks[0]["source"], "x-real-ip");
        assert!(!host.log().contains("192.0.2."), "no values in the log");

        let reply = host
            .send("GET", "/open/x", &[("x-real-ip", b"\xff\xfe")], b"")
            .await;
        assert_eq!(reply.status, 200);
        let reply = host
            .send("GET", "/limited/x", &[("x-real-ip", b"10.0.0.\xff")], b"")
            .await;
        assert_eq!(
            reply.status, 429,
            "{mode:?}: the same peer, the same bucket"
        );
        let last = host.log_events("client_address_fallback").pop().unwrap();
        assert_eq!(last["reason"], "header not UTF-8", "{mode:?}");
    }
}

const SECRET: &str = "hostile-input-tests-worker-secret-0123456789";

/// Seed 003 signs `body ‖ timestamp ‖ nonce` with no separators: with a
/// zero-padded timestamp a body's last digit could move into the timestamp
/// under the same signature. A padded timestamp is refused, correctly
/// signed or not, with each scheme's invalid-timestamp error.
#[tokio::test]
async fn zero_padded_timestamps_are_refused_in_every_text_scheme() {
    let policy = r#"
        [[routes]]
        name = "nonce"
        path = "/nonce/*"
        auth = "worker"
        worker = "request-nonce"
        rate_limit = "off"

        [[routes]]
        name = "internal"
        path = "/internal/*"
        auth = "worker"
        rate_limit = "off"
    "#;
    for mode in MODES {
        let host = TestHost::start(
            Setup::default()
                .policy(policy)
                .var("worker_secret", SECRET)
                .reuse(mode),
        )
        .await;
        let ts = unix_now().to_string();
        let padded = format!("0{ts}");

        // The same signed bytes: `amount=10` + ts, or `amount=1` + `0` + ts.
        let signature = sign_request_nonce(SECRET.as_bytes(), b"amount=10", &ts, "n-1");
        assert_eq!(
            sign_request_nonce(SECRET.as_bytes(), b"amount=1", &padded, "n-1"),
            signature
        );
        let nonce_post = async |timestamp: &str, nonce: &str, body: &[u8]| {
            host.send(
                "POST",
                "/nonce/pay",
                &[
                    ("x-request-signature", signature.as_bytes()),
                    ("x-request-timestamp", timestamp.as_bytes()),
                    ("x-request-nonce", nonce.as_bytes()),
                ],
                body,
            )
            .await
        };
        let reply = nonce_post(&padded, "n-1", b"amount=1").await;
        assert_eq!(reply.status, 401, "{mode:?}: {}", text(&reply));
        assert_eq!(text(&reply), r#"{"error":"Invalid timestamp format"}"#);
        // The honest request still passes (its nonce was never recorded).
        let reply = nonce_post(&ts, "n-1", b"amount=10").await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        assert_eq!(reply.json()["body_len"], 9);

        // Seed 000's worker scheme, signed over the padded text.
        let body = b"{}";
        let reply = host
            .send(
                "POST",
                "/internal/hook",
                &[
                    (
                        "x-worker-signature",
                        sign_worker(SECRET.as_bytes(), &padded, body).as_bytes(),
                    ),
                    ("x-worker-timestamp", padded.as_bytes()),
                ],
                body,
            )
            .await;
        assert_eq!(reply.status, 401, "{mode:?}: {}", text(&reply));
        assert_eq!(text(&reply), r#"{"error":"Invalid timestamp format"}"#);
    }
}

fn is_bad_request(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 400, "{what}: {}", text(reply));
    assert_eq!(
        text(reply),
        r#"{"error":{"code":"BAD_REQUEST","message":"Malformed request"}}"#,
        "{what}"
    );
    assert!(reply.header("x-request-id").is_some());
}

/// Matrix parameters and double encoding reached the demo's weaker
/// `/api/*` route, while apps that strip `;…` or decode twice route them to
/// `/api/admin/*`.
#[tokio::test]
async fn matrix_parameters_and_double_encoding_are_refused_on_the_demo() {
    for mode in MODES {
        let host = TestHost::start(Setup::demo().reuse(mode)).await;
        for path in [
            "/api/admin;x/panel",
            "/api/admin;/panel",
            "/api/admin%3bx/panel",
            "/api/%2561dmin/panel",
            "/api/admin%252fpanel",
        ] {
            is_bad_request(&host.get(path).await, &format!("{mode:?} {path}"));
        }
        let reasons: Vec<Value> = host
            .log_events("path_rejected")
            .iter()
            .map(|e| e["reason"].clone())
            .collect();
        assert!(
            reasons.contains(&"semicolon in a segment".into()),
            "{reasons:?}"
        );
        assert!(
            reasons.contains(&"percent-encoded percent sign".into()),
            "{reasons:?}"
        );
        // The ordinary spellings still work.
        assert_eq!(host.get("/api/admin/panel").await.status, 401);
        assert_eq!(host.get("/api/things?a=1;b=%25").await.status, 200);
    }
}

/// Each spelling can be allowed for apps known to treat it as a plain
/// character; a value other than "refuse" or "allow" is a configuration
/// error naming the field.
#[tokio::test]
async fn path_spellings_are_configurable_and_validated() {
    let routes = r#"
        [[routes]]
        name = "admin"
        path = "/api/admin/*"
        auth = "required"

        [[routes]]
        name = "api"
        path = "/api/*"
    "#;
    for mode in MODES {
        let host = TestHost::start(
            Setup::default()
                .policy(&format!(
                    "[settings]\npath_semicolons = \"allow\"\n{routes}"
                ))
                .reuse(mode),
        )
        .await;
        let reply = host.get("/api/admin;x/panel").await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        assert_eq!(reply.echoed_headers()["x-warden-route"], "api");
        is_bad_request(&host.get("/api/%2561dmin/panel").await, "still refused");

        let host = TestHost::start(
            Setup::default()
                .policy(&format!(
                    "[settings]\npath_semicolons = \"strip\"\npath_double_encoding = 1\n{routes}"
                ))
                .reuse(mode),
        )
        .await;
        let reply = host.get("/api/x").await;
        assert_eq!(reply.status, 500);
        assert_eq!(reply.json()["error"]["code"], "CONFIGURATION_ERROR");
        assert_eq!(
            host.config_problems(),
            [
                "settings.path_semicolons: must be \"refuse\" or \"allow\"",
                "settings.path_double_encoding: must be a string, found an integer",
            ]
        );
    }
}

/// `[settings] unmatched = "deny"`: a request no route matches gets warden's
/// own 404, with the security headers, and never reaches the app. The
/// default still forwards it.
#[tokio::test]
async fn unmatched_requests_are_denied_when_configured() {
    let routes = r#"
        [[routes]]
        name = "api"
        path = "/api/*"
    "#;
    for mode in MODES {
        let host = TestHost::start(
            Setup::default()
                .policy(&format!("[settings]\nunmatched = \"deny\"\n{routes}"))
                .reuse(mode),
        )
        .await;
        for (method, path) in [("GET", "/admin"), ("POST", "/"), ("DELETE", "/other/x")] {
            let reply = host.send(method, path, &[], b"{}").await;
            assert_eq!(reply.status, 404, "{mode:?} {method} {path}");
            assert_eq!(
                text(&reply),
                r#"{"error":{"code":"NOT_FOUND","message":"Not found"}}"#
            );
            assert_eq!(reply.header("content-type"), Some("application/json"));
            assert!(reply.header("x-request-id").is_some());
            assert!(
                reply
                    .header("content-security-policy")
                    .is_some_and(|csp| csp.starts_with("default-src 'self'")),
                "{:?}",
                reply.headers
            );
            assert_eq!(reply.header("x-frame-options"), Some("DENY"));
            assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        }
        assert_eq!(host.log_events("unmatched_denied").len(), 3);
        let reply = host.get("/api/x").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.echoed_headers()["x-warden-route"], "api");

        let forwarding = TestHost::start(Setup::default().policy(routes).reuse(mode)).await;
        let reply = forwarding.get("/admin").await;
        assert_eq!(reply.status, 200, "the default forwards");
        assert_eq!(reply.echoed_headers()["x-warden-route"], "unmatched");
    }
}

/// The demo's DEV ONLY secrets are public: in production warden refuses to
/// start with them, naming the variables and never their values.
#[tokio::test]
async fn production_refuses_the_demo_secrets() {
    let published = [
        "dev-only-worker-secret-0123456789abcdef",
        "dev-only-session-secret-0123456789abcdef",
        "dev-only-jwt-secret-0123456789abcdef0123",
        "whsec_dev-only-stripe-secret-0123456789abcdef",
    ];
    for mode in MODES {
        let host =
            TestHost::start(Setup::demo().var("environment", "production").reuse(mode)).await;
        for path in ["/", "/api/x", "/health", "/internal/hook"] {
            let reply = host.get(path).await;
            assert_eq!(reply.status, 500, "{mode:?} {path}");
            assert_eq!(
                text(&reply),
                r#"{"error":{"code":"CONFIGURATION_ERROR","message":"Service is misconfigured"}}"#
            );
        }
        // Logged once per instance (each request may have its own).
        let mut problems = host.config_problems();
        problems.sort();
        problems.dedup();
        let fields: Vec<&str> = problems
            .iter()
            .map(|p| p.split(':').next().unwrap_or(""))
            .collect();
        assert_eq!(
            fields,
            [
                "jwt_secret",
                "session_secret",
                "stripe_webhook_secret",
                "worker_secret"
            ],
            "{problems:?}"
        );
        let log = host.log();
        for secret in published {
            assert!(!log.contains(secret), "the log shows no secret value");
        }

        // Development keeps serving the demo with them.
        let dev = TestHost::start(Setup::demo().reuse(mode)).await;
        assert_eq!(dev.get("/").await.status, 200);
    }
}

/// The worker origin allowlist parses like CORS: `https://*.com` would let
/// in every site under a top-level domain.
#[tokio::test]
async fn a_top_level_wildcard_in_the_worker_allowlist_is_refused() {
    let policy = r#"
        [worker]
        allowed_origins = ["https://*.com"]

        [[routes]]
        name = "internal"
        path = "/internal/*"
        auth = "worker"
    "#;
    for mode in MODES {
        let host = TestHost::start(
            Setup::default()
                .policy(policy)
                .var("worker_secret", SECRET)
                .reuse(mode),
        )
        .await;
        let reply = host.get("/internal/x").await;
        assert_eq!(reply.status, 500, "{mode:?}");
        assert_eq!(reply.json()["error"]["code"], "CONFIGURATION_ERROR");
        assert_eq!(
            host.config_problems(),
            [
                "worker.allowed_origins[0]: *.com would match every site under a top-level domain; name a domain with at least two labels"
            ]
        );
    }
}
