//! Security response headers through the real component: the
//! defaults, CSP merge and presets, HSTS only in production, insert modes,
//! removal of the app's `X-Powered-By` and `Server`, the per-request CSP
//! nonce, report-only mode, and configuration errors named by field.

use warden_tests::*;

const DEFAULT_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data: https:; font-src 'self'; connect-src 'self'; frame-src 'none'; \
    frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

/// Every default header and its exact value, outside production.
const DEFAULTS: &[(&str, &str)] = &[
    ("content-security-policy", DEFAULT_CSP),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    (
        "permissions-policy",
        "geolocation=(), camera=(), microphone=(), payment=()",
    ),
    ("x-xss-protection", "0"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("x-permitted-cross-domain-policies", "none"),
];

/// All values of a header, in order.
fn all(reply: &Reply, name: &str) -> Vec<String> {
    reply
        .headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or("<binary>").to_owned())
        .collect()
}

/// Exactly one field with this value.
fn one(reply: &Reply, name: &str, value: &str) {
    assert_eq!(all(reply, name), [value], "{name}: {:?}", reply.headers);
}

fn route(extra: &str) -> String {
    format!(
        r#"
        [[routes]]
        name = "app"
        path = "/*"
        rate_limit = "off"
        {extra}
        "#
    )
}

#[tokio::test]
async fn every_default_header_on_app_answers_and_on_wardens_own() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().reuse(mode)).await;
        let reply = host.get("/page").await;
        assert_eq!(reply.status, 200);
        for (name, value) in DEFAULTS {
            one(&reply, name, value);
        }
        assert!(reply.header("strict-transport-security").is_none());
        assert!(reply.header("cross-origin-embedder-policy").is_none());
        // Not an authenticated request: the app's caching is left alone.
        assert!(reply.header("cache-control").is_none());

        // Warden's own refusals carry them too.
        let policy = r#"
            [[routes]]
            name = "private"
            path = "/private/*"
            auth = "required"
            rate_limit = "off"
            [[routes]]
            name = "rest"
            path = "/*"
        "#;
        let host = TestHost::start(Setup::default().policy(policy).reuse(mode)).await;
        let refused = host.get("/private/x").await;
        assert_eq!(refused.status, 401);
        for (name, value) in DEFAULTS {
            one(&refused, name, value);
        }
        one(&refused, "cache-control", "no-store");
    }
}

#[tokio::test]
async fn hsts_only_in_production() {
    for mode in MODES {
        let host = TestHost::start(
            Setup::default()
                .var("environment", "production")
                .reuse(mode),
        )
        .await;
        let reply = host.get("/").await;
        one(
            &reply,
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        );
        for (name, value) in DEFAULTS {
            one(&reply, name, value);
        }
    }
    for env in ["development", "staging", "preview"] {
        let host = TestHost::start(Setup::default().var("environment", env)).await;
        let reply = host.get("/").await;
        assert_eq!(reply.status, 200);
        assert!(
            reply.header("strict-transport-security").is_none(),
            "{env}: {:?}",
            reply.headers
        );
    }
    // The preload option.
    let policy = format!(
        "[headers]\nstrict_transport_security = {{ preload = true, max_age = 63072000 }}\n{}",
        route("")
    );
    let host = TestHost::start(
        Setup::default()
            .policy(&policy)
            .var("environment", "production"),
    )
    .await;
    one(
        &host.get("/").await,
        "strict-transport-security",
        "max-age=63072000; includeSubDomains; preload",
    );
}

#[tokio::test]
async fn csp_directives_merge_per_directive() {
    let policy = format!(
        r#"
        [headers.content_security_policy.directives]
        scriptSrc = ["'self'", "https://js.stripe.com"]
        img-src = ["'self'"]
        frame-ancestors = false
        upgrade-insecure-requests = []
        {}"#,
        route("")
    );
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(&policy).reuse(mode)).await;
        one(
            &host.get("/").await,
            "content-security-policy",
            "default-src 'self'; script-src 'self' https://js.stripe.com; style-src 'self' 'unsafe-inline'; \
             img-src 'self'; font-src 'self'; connect-src 'self'; frame-src 'none'; base-uri 'self'; \
             form-action 'self'; object-src 'none'; upgrade-insecure-requests",
        );
    }
}

/// `object-src 'none'` is in the default CSP; a route that sets `object-src`
/// (to allow plug-ins, or to leave the directive out) gets its own value.
#[tokio::test]
async fn default_csp_denies_plugins_unless_a_route_sets_object_src() {
    let policy = r#"
        [[routes]]
        name = "embeds"
        path = "/embeds/*"
        rate_limit = "off"
        headers.content_security_policy.directives.object-src = ["'self'"]

        [[routes]]
        name = "legacy"
        path = "/legacy/*"
        rate_limit = "off"
        headers.content_security_policy.directives.object-src = false

        [[routes]]
        name = "app"
        path = "/*"
        rate_limit = "off"
        "#;
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(policy).reuse(mode)).await;
        let csp = |reply: &Reply| reply.header("content-security-policy").unwrap().to_owned();
        assert!(csp(&host.get("/page").await).ends_with("; object-src 'none'"));
        let embeds = csp(&host.get("/embeds/video").await);
        assert!(embeds.ends_with("; object-src 'self'"), "{embeds}");
        assert!(!embeds.contains("object-src 'none'"), "{embeds}");
        let legacy = csp(&host.get("/legacy/x").await);
        assert!(!legacy.contains("object-src"), "{legacy}");
        assert!(legacy.ends_with("form-action 'self'"), "{legacy}");
    }
}

#[tokio::test]
async fn csp_presets_stripe_and_api() {
    let cases = [
        (
            "stripe",
            "default-src 'self'; script-src 'self' https://js.stripe.com; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data: https:; font-src 'self'; connect-src 'self' https://api.stripe.com; \
             frame-src https://js.stripe.com https://hooks.stripe.com; frame-ancestors 'none'; \
             base-uri 'self'; form-action 'self'; object-src 'none'",
        ),
        (
            "api",
            "default-src 'none'; script-src 'none'; style-src 'none'; img-src 'none'; font-src 'none'; \
             connect-src 'self'; frame-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; \
             object-src 'none'",
        ),
    ];
    for (preset, expected) in cases {
        let policy = format!(
            "[headers]\ncontent_security_policy = {{ preset = \"{preset}\" }}\n{}",
            route("")
        );
        let host = TestHost::start(Setup::default().policy(&policy)).await;
        one(&host.get("/").await, "content-security-policy", expected);
    }
    // A preset on one route only; the others keep the global policy.
    let policy = r#"
        [[routes]]
        name = "api"
        path = "/api/*"
        headers.content_security_policy.preset = "api"
        [[routes]]
        name = "web"
        path = "/*"
    "#;
    let host = TestHost::start(Setup::default().policy(policy)).await;
    assert!(
        host.get("/api/x")
            .await
            .header("content-security-policy")
            .unwrap()
            .starts_with("default-src 'none';")
    );
    one(
        &host.get("/x").await,
        "content-security-policy",
        DEFAULT_CSP,
    );
}

#[tokio::test]
async fn insert_modes_override_or_fill() {
    let app_headers: &[(&str, &[u8])] = &[
        ("x-echo-header", b"Content-Security-Policy: default-src *"),
        ("x-echo-header", b"X-Frame-Options: SAMEORIGIN"),
        (
            "x-echo-header",
            b"Cross-Origin-Resource-Policy: cross-origin",
        ),
        ("x-echo-header", b"X-Powered-By: Express"),
        ("x-echo-header", b"Server: nginx/1.0"),
        ("x-echo-header", b"Cache-Control: max-age=60"),
    ];
    for mode in MODES {
        // Defaults: the seed's headers override, CORP fills.
        let host = TestHost::start(Setup::default().reuse(mode)).await;
        let reply = host.send("GET", "/page", app_headers, b"").await;
        assert_eq!(reply.status, 200);
        one(&reply, "content-security-policy", DEFAULT_CSP);
        one(&reply, "x-frame-options", "DENY");
        one(&reply, "cross-origin-resource-policy", "cross-origin");
        assert!(
            reply.header("x-powered-by").is_none(),
            "{:?}",
            reply.headers
        );
        assert!(reply.header("server").is_none(), "{:?}", reply.headers);
        one(&reply, "cache-control", "max-age=60");

        // Flipped by the policy.
        let policy = format!(
            r#"
            [headers]
            modes = {{ content_security_policy = "fill", x_frame_options = "fill", cross_origin_resource_policy = "override" }}
            remove = ["server"]
            {}"#,
            route("")
        );
        let host = TestHost::start(Setup::default().policy(&policy).reuse(mode)).await;
        let reply = host.send("GET", "/page", app_headers, b"").await;
        one(&reply, "content-security-policy", "default-src *");
        one(&reply, "x-frame-options", "SAMEORIGIN");
        one(&reply, "cross-origin-resource-policy", "same-origin");
        one(&reply, "x-powered-by", "Express");
        assert!(reply.header("server").is_none());
        // Absent from the app: filled in.
        one(
            &host.get("/page").await,
            "content-security-policy",
            DEFAULT_CSP,
        );
    }
}

#[tokio::test]
async fn headers_can_be_switched_off_and_skipped() {
    let policy = r#"
        [headers]
        x_frame_options = false
        x_xss_protection = false
        permissions_policy = { camera = ["self"], payment = false }
        cross_origin_embedder_policy = "require-corp"

        [[routes]]
        name = "raw"
        path = "/raw/*"
        skip = ["headers"]

        [[routes]]
        name = "rest"
        path = "/*"
    "#;
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(policy).reuse(mode)).await;
        let reply = host.get("/x").await;
        assert!(reply.header("x-frame-options").is_none());
        assert!(reply.header("x-xss-protection").is_none());
        one(
            &reply,
            "permissions-policy",
            "geolocation=(), camera=(self), microphone=()",
        );
        one(&reply, "cross-origin-embedder-policy", "require-corp");
        one(&reply, "x-content-type-options", "nosniff");

        let raw = host
            .send(
                "GET",
                "/raw/x",
                &[("x-echo-header", b"X-Powered-By: PHP")],
                b"",
            )
            .await;
        assert_eq!(raw.status, 200);
        for (name, _) in DEFAULTS {
            assert!(raw.header(name).is_none(), "{name} on a skipping route");
        }
        one(&raw, "x-powered-by", "PHP");
    }
}

#[tokio::test]
async fn unmatched_requests_get_no_security_headers() {
    let policy = "[[routes]]\nname = \"only\"\npath = \"/only\"";
    let host = TestHost::start(Setup::default().policy(policy)).await;
    assert!(host.get("/only").await.header("x-frame-options").is_some());
    let reply = host.get("/elsewhere").await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("x-frame-options").is_none());
    assert!(reply.header("content-security-policy").is_none());
}

/// The nonce in `'nonce-…'` of a directive.
fn nonce_in(csp: &str, directive: &str) -> Option<String> {
    csp.split(';')
        .map(str::trim)
        .find(|d| d.starts_with(&format!("{directive} ")))?
        .split(' ')
        .find_map(|s| {
            s.strip_prefix("'nonce-")?
                .strip_suffix('\'')
                .map(str::to_owned)
        })
}

#[tokio::test]
async fn nonce_is_fresh_per_request_and_reaches_the_app() {
    let policy = r#"
        [[routes]]
        name = "pages"
        path = "/pages/*"
        headers.content_security_policy = { nonce = ["script-src", "style-src"] }
        [[routes]]
        name = "rest"
        path = "/*"
    "#;
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(policy).reuse(mode)).await;
        let mut seen = Vec::new();
        for _ in 0..3 {
            // A client cannot choose the nonce.
            let reply = host
                .get_with(
                    "/pages/home",
                    &[("x-warden-csp-nonce", "chosen-by-attacker")],
                )
                .await;
            assert_eq!(reply.status, 200);
            let csp = reply.header("content-security-policy").unwrap().to_owned();
            let nonce = nonce_in(&csp, "script-src").expect("script-src has a nonce");
            assert_eq!(nonce_in(&csp, "style-src").as_deref(), Some(nonce.as_str()));
            assert!(
                csp.contains(&format!("script-src 'self' 'nonce-{nonce}';")),
                "{csp}"
            );
            assert_eq!(nonce.len(), 24, "16 random bytes in base64: {nonce}");
            assert_eq!(reply.echoed_headers()["x-warden-csp-nonce"], nonce.as_str());
            assert!(!seen.contains(&nonce), "{mode:?}: nonce reused");
            seen.push(nonce);
        }
        // Routes without a nonce: no nonce anywhere, and a client's is dropped.
        let reply = host
            .get_with("/other", &[("x-warden-csp-nonce", "x")])
            .await;
        assert!(
            !reply
                .header("content-security-policy")
                .unwrap()
                .contains("nonce")
        );
        assert!(!reply.echoed_headers().contains_key("x-warden-csp-nonce"));
    }
}

#[tokio::test]
async fn nonces_differ_between_concurrent_requests() {
    let policy = route("headers.content_security_policy.nonce = true");
    let host = std::sync::Arc::new(TestHost::start(Setup::default().policy(&policy)).await);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let host = host.clone();
            tokio::spawn(async move {
                let reply = host.get("/p").await;
                let csp = reply.header("content-security-policy").unwrap().to_owned();
                let nonce = nonce_in(&csp, "script-src").unwrap();
                assert_eq!(reply.echoed_headers()["x-warden-csp-nonce"], nonce.as_str());
                nonce
            })
        })
        .collect();
    let mut nonces = Vec::new();
    for t in tasks {
        nonces.push(t.await.unwrap());
    }
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 16);
}

#[tokio::test]
async fn report_only_mode_with_reporting() {
    let policy = format!(
        r#"
        [headers]
        reporting_endpoints = {{ csp = "https://reports.example.com/csp" }}
        [headers.content_security_policy]
        report_only = true
        directives = {{ report-uri = ["https://reports.example.com/legacy"], report-to = ["csp"] }}
        {}"#,
        route("")
    );
    let host = TestHost::start(Setup::default().policy(&policy)).await;
    let reply = host.get("/").await;
    assert!(reply.header("content-security-policy").is_none());
    one(
        &reply,
        "content-security-policy-report-only",
        &format!("{DEFAULT_CSP}; report-to csp; report-uri https://reports.example.com/legacy"),
    );
    one(
        &reply,
        "reporting-endpoints",
        "csp=\"https://reports.example.com/csp\"",
    );
}

#[tokio::test]
async fn configuration_errors_name_the_field() {
    let policy = r#"
        [headers]
        x_frame_options = "ALLOW-FROM https://a.example"
        strict_transport_security = { preload = true, max_age = 600 }
        [headers.content_security_policy.directives]
        script-src = ["'self'; object-src *"]
        img-src = ["https://a.example,https://b.example"]
        style-src = ["https://a.example\nscript-src *"]
        font-src = ["\"self\""]
        connect-src = ["self"]
        object-src = ["'nonce-fixed'"]
        script_src = ["'self'"]

        [[routes]]
        name = "app"
        path = "/*"
        headers.content_security_policy.nonce = ["img-src"]
    "#;
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(policy).reuse(mode)).await;
        let reply = host.get("/").await;
        assert_eq!(reply.status, 500);
        assert_eq!(
            reply.json(),
            serde_json::json!({"error": {"code": "CONFIGURATION_ERROR", "message": "Service is misconfigured"}})
        );
        let problems = host.config_problems();
        let expected = [
            "headers.content_security_policy.directives.connect-src[0]: keywords need single quotes: write \"'self'\" (without them, self means a host named self)",
            "headers.content_security_policy.directives.font-src[0]: \"\\\"self\\\"\" must not contain a double quote",
            "headers.content_security_policy.directives.img-src[0]: \"https://a.example,https://b.example\" must not contain ';' or ',': give one source per list element",
            "headers.content_security_policy.directives.object-src[0]: a fixed nonce defeats its purpose; set nonce = true for a fresh nonce per request",
            "headers.content_security_policy.directives.script-src[0]: \"'self'; object-src *\" must not contain ';' or ',': give one source per list element",
            "headers.content_security_policy.directives.script_src: unknown CSP directive \"script_src\"; expected a directive such as script-src or scriptSrc",
            "headers.content_security_policy.directives.style-src[0]: \"https://a.example\\nscript-src *\" must not contain spaces, newlines or control characters: give one source per list element",
            "headers.x_frame_options: ALLOW-FROM is obsolete and ignored by browsers; use the CSP directive frame-ancestors",
            "headers.strict_transport_security.preload: preload needs include_subdomains = true and max_age of at least 31536000 (the preload list's requirements)",
            "routes[0].headers.content_security_policy.nonce[0]: \"img-src\" cannot carry a nonce; use \"script-src\" or \"style-src\"",
        ];
        for line in expected {
            assert!(
                problems.iter().any(|p| p == line),
                "{mode:?}: missing {line}\n{problems:#?}"
            );
        }
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    }
}

mod authenticated {
    //! `Cache-Control: no-store` on answers to authenticated requests, with a
    //! session written the way Better Auth writes it.

    use super::*;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;
    use std::time::{SystemTime, UNIX_EPOCH};

    const SESSION_SECRET: &str = "better-auth-secret-for-the-header-tests-0123";
    const TOKEN: &str = "hdrTestToken0123456789abcdefABCD";

    fn iso(ms: i64) -> String {
        iso8601_ms(ms)
    }

    fn login(host: &TestHost) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let db = rusqlite::Connection::open(host.state_dir().join("sqlite_db.db")).unwrap();
        db.execute(
            r#"INSERT INTO "user" ("id", "name", "email", "emailVerified", "createdAt", "updatedAt")
               VALUES ('u1', 'Grace', 'grace@example.com', 1, ?1, ?1)"#,
            [iso(now - 86_400_000)],
        )
        .unwrap();
        db.execute(
            r#"INSERT INTO "session" ("id", "expiresAt", "token", "createdAt", "updatedAt", "userId")
               VALUES ('s1', ?1, ?2, ?3, ?3, 'u1')"#,
            rusqlite::params![iso(now + 7 * 86_400_000), TOKEN, iso(now)],
        )
        .unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(SESSION_SECRET.as_bytes()).unwrap();
        mac.update(TOKEN.as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let value = format!("{TOKEN}.{signature}")
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        format!("better-auth.session_token={value}")
    }

    #[tokio::test]
    async fn no_store_on_authenticated_answers_unless_the_app_chose() {
        let policy = r#"
            [[routes]]
            name = "private"
            path = "/private/*"
            auth = "required"
            rate_limit = "off"
            [[routes]]
            name = "feed"
            path = "/*"
            auth = "optional"
            rate_limit = "off"
        "#;
        for mode in MODES {
            let host = TestHost::start(
                Setup::default()
                    .policy(policy)
                    .var("session_secret", SESSION_SECRET)
                    .reuse(mode),
            )
            .await;
            let cookie = login(&host);
            let private = host.get_with("/private/me", &[("cookie", &cookie)]).await;
            assert_eq!(private.status, 200, "{mode:?}: {:?}", private.body);
            assert_eq!(private.echoed_headers()["x-warden-user-id"], "u1");
            one(&private, "cache-control", "no-store");

            // An optional route: no-store only when someone was identified.
            let known = host.get_with("/feed", &[("cookie", &cookie)]).await;
            assert_eq!(known.echoed_headers()["x-warden-user-id"], "u1");
            one(&known, "cache-control", "no-store");
            let anonymous = host.get("/feed").await;
            assert_eq!(anonymous.status, 200);
            assert!(anonymous.header("cache-control").is_none());

            // The app's own choice stands (fill mode).
            let own = host
                .send(
                    "GET",
                    "/private/me",
                    &[
                        ("cookie", cookie.as_bytes()),
                        ("x-echo-header", b"Cache-Control: private, max-age=30"),
                    ],
                    b"",
                )
                .await;
            one(&own, "cache-control", "private, max-age=30");
        }
    }
}
