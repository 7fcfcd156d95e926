//! CORS through the real component: preflights answered by warden (never by
//! the app, never rate limited), headers on actual requests, disallowed and
//! look-alike origins, per-route settings, and configuration errors.

use warden_tests::*;

const EXPOSED: &str = "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, \
    RateLimit-Policy, RateLimit, Retry-After";

const POLICY: &str = r#"
    [cors]
    origins = ["https://app.example.com", "https://*.workers.dev"]
    credentials = true

    [[routes]]
    name = "partner"
    path = "/partner/*"
    cors = { origins = ["https://partner.example"], methods = ["GET", "POST"], max_age = 600, credentials = false }

    [[routes]]
    name = "strict"
    path = "/strict/*"
    cors = { reject_disallowed = true }

    [[routes]]
    name = "writes"
    methods = ["POST"]
    path = "/writes/*"
    rate_limit = { requests = 1, window = "1h" }

    [[routes]]
    name = "raw"
    path = "/raw/*"
    skip = ["cors"]

    [[routes]]
    name = "api"
    path = "/*"
    rate_limit = "off"
"#;

fn all(reply: &Reply, name: &str) -> Vec<String> {
    reply
        .headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or("<binary>").to_owned())
        .collect()
}

fn no_cors_headers(reply: &Reply) {
    let names: Vec<&str> = reply
        .headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| n.starts_with("access-control-"))
        .collect();
    assert!(
        names.is_empty(),
        "CORS headers present: {:?}",
        reply.headers
    );
}

async fn preflight(host: &TestHost, path: &str, origin: &str, method: &str) -> Reply {
    host.send(
        "OPTIONS",
        path,
        &[
            ("origin", origin.as_bytes()),
            ("access-control-request-method", method.as_bytes()),
            ("access-control-request-headers", b"content-type"),
        ],
        b"",
    )
    .await
}

#[tokio::test]
async fn preflight_for_an_allowed_origin_is_answered_by_warden() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(POLICY).reuse(mode)).await;
        let reply = preflight(&host, "/api/items", "https://app.example.com", "PUT").await;
        assert_eq!(reply.status, 204, "{:?}", reply.body);
        assert!(
            reply.body.is_empty(),
            "the app never answered: {:?}",
            reply.body
        );
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert_eq!(
            reply.header("access-control-allow-credentials"),
            Some("true")
        );
        assert_eq!(
            reply.header("access-control-allow-methods"),
            Some("GET, HEAD, POST, PUT, PATCH, DELETE")
        );
        assert_eq!(
            reply.header("access-control-allow-headers"),
            Some("authorization, content-type, x-request-id")
        );
        assert_eq!(reply.header("access-control-max-age"), Some("86400"));
        assert_eq!(
            reply.header("vary"),
            Some("Origin, Access-Control-Request-Method")
        );
        assert!(reply.header("x-request-id").is_some());
        assert!(reply.header("content-type").is_none());
        // Security headers are on every answer, this one too.
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));

        // A subdomain at any depth of the wildcard.
        let reply = preflight(
            &host,
            "/api/items",
            "https://my-app.team.workers.dev",
            "GET",
        )
        .await;
        assert_eq!(reply.status, 204);
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("https://my-app.team.workers.dev")
        );

        // The route's own settings replace the global ones.
        let reply = preflight(&host, "/partner/x", "https://partner.example", "POST").await;
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("https://partner.example")
        );
        assert_eq!(
            reply.header("access-control-allow-methods"),
            Some("GET, POST")
        );
        assert_eq!(reply.header("access-control-max-age"), Some("600"));
        assert!(reply.header("access-control-allow-credentials").is_none());
        let reply = preflight(&host, "/partner/x", "https://app.example.com", "POST").await;
        assert_eq!(reply.status, 204);
        no_cors_headers(&reply);
    }
}

#[tokio::test]
async fn preflight_for_a_disallowed_origin_gets_no_cors_headers() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(POLICY).reuse(mode)).await;
        let reply = preflight(&host, "/api/items", "https://evil.example", "DELETE").await;
        assert_eq!(reply.status, 204);
        assert!(reply.body.is_empty());
        no_cors_headers(&reply);
        assert_eq!(
            reply.header("vary"),
            Some("Origin, Access-Control-Request-Method")
        );

        // With reject_disallowed, a 403 in warden's JSON format.
        let reply = preflight(&host, "/strict/x", "https://evil.example", "GET").await;
        assert_eq!(reply.status, 403);
        assert_eq!(
            reply.json(),
            serde_json::json!({"error": {"code": "ORIGIN_NOT_ALLOWED", "message": "Origin not allowed"}})
        );
        no_cors_headers(&reply);
        assert!(host.log().contains("\"event\":\"cors_origin_disallowed\""));
    }
}

#[tokio::test]
async fn preflights_are_not_rate_limited_and_use_the_requested_methods_route() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(POLICY).reuse(mode)).await;
        // "writes" admits one POST an hour; preflights for it are free.
        for _ in 0..5 {
            let reply = preflight(&host, "/writes/x", "https://app.example.com", "POST").await;
            assert_eq!(reply.status, 204, "{mode:?}");
            assert_eq!(
                reply.header("access-control-allow-origin"),
                Some("https://app.example.com")
            );
            assert!(reply.header("x-ratelimit-limit").is_none());
        }
        let origin: &[(&str, &[u8])] = &[("origin", b"https://app.example.com")];
        let first = host.send("POST", "/writes/x", origin, b"{}").await;
        assert_eq!(first.status, 200);
        assert_eq!(
            first.header("access-control-allow-origin"),
            Some("https://app.example.com")
        );
        let second = host.send("POST", "/writes/x", origin, b"{}").await;
        assert_eq!(second.status, 429);
        // Warden's own refusal carries the CORS headers, so the page can read it.
        assert_eq!(
            second.header("access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert_eq!(
            second.header("access-control-expose-headers"),
            Some(EXPOSED)
        );
    }
}

#[tokio::test]
async fn actual_requests_get_the_matched_origin_and_exposed_headers() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(POLICY).reuse(mode)).await;
        let reply = host
            .get_with("/api/x", &[("origin", "https://app.example.com")])
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            all(&reply, "access-control-allow-origin"),
            ["https://app.example.com"]
        );
        assert_eq!(
            reply.header("access-control-allow-credentials"),
            Some("true")
        );
        assert_eq!(reply.header("access-control-expose-headers"), Some(EXPOSED));
        assert_eq!(all(&reply, "vary"), ["Origin"]);
        // The app is reached and sees the Origin.
        assert_eq!(reply.echoed_headers()["origin"], "https://app.example.com");

        // No Origin: a same-origin or non-browser request; only Vary.
        let reply = host.get("/api/x").await;
        assert_eq!(reply.status, 200);
        no_cors_headers(&reply);
        assert_eq!(all(&reply, "vary"), ["Origin"]);
    }
}

#[tokio::test]
async fn disallowed_and_look_alike_origins_get_no_cors_headers() {
    let look_alikes = [
        "https://evil.workers.dev.attacker.com",
        "https://x.workers.dev@evil.com",
        "https://workers.dev",
        "http://a.workers.dev",
        "https://a.workers.dev:8443",
        "https://app.example.com.evil.com",
        "https://app.example.com/",
        "https://evilapp.example.com",
        "null",
        "https://app.example.com, https://evil.example",
        "",
    ];
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(POLICY).reuse(mode)).await;
        for origin in look_alikes {
            // Served: browsers enforce CORS, so without CORS headers the page
            // cannot read the answer.
            let reply = host.get_with("/api/x", &[("origin", origin)]).await;
            assert_eq!(reply.status, 200, "{origin}");
            no_cors_headers(&reply);
            assert_eq!(all(&reply, "vary"), ["Origin"]);

            let reply = preflight(&host, "/api/x", origin, "GET").await;
            assert_eq!(reply.status, 204, "{origin}");
            no_cors_headers(&reply);

            // Refused where the route says so.
            let reply = host.get_with("/strict/x", &[("origin", origin)]).await;
            assert_eq!(reply.status, 403, "{origin}");
            assert_eq!(reply.json()["error"]["code"], "ORIGIN_NOT_ALLOWED");
            no_cors_headers(&reply);
        }
        // Two Origin fields are ambiguous: refused.
        let reply = host
            .send(
                "GET",
                "/strict/x",
                &[
                    ("origin", b"https://app.example.com"),
                    ("origin", b"https://app.example.com"),
                ],
                b"",
            )
            .await;
        assert_eq!(reply.status, 403);
        // The allowed origin passes the strict route.
        let reply = host
            .get_with("/strict/x", &[("origin", "https://app.example.com")])
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("https://app.example.com")
        );
    }
}

#[tokio::test]
async fn the_apps_cors_headers_give_way_to_wardens() {
    let app_cors: Vec<(&str, &[u8])> = vec![
        ("origin", b"https://evil.example"),
        ("x-echo-header", b"Access-Control-Allow-Origin: *"),
        ("x-echo-header", b"Access-Control-Allow-Credentials: true"),
        ("x-echo-header", b"Vary: Accept-Encoding"),
    ];
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(POLICY).reuse(mode)).await;
        let reply = host.send("GET", "/api/x", &app_cors, b"").await;
        assert_eq!(reply.status, 200);
        no_cors_headers(&reply);
        assert_eq!(all(&reply, "vary"), ["Accept-Encoding", "Origin"]);

        // A route that skips CORS leaves CORS to the app entirely, preflights too.
        let reply = host.send("GET", "/raw/x", &app_cors, b"").await;
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
        let reply = preflight(&host, "/raw/x", "https://app.example.com", "GET").await;
        assert_eq!(reply.status, 200, "the app answered");
        assert_eq!(reply.json()["method"], "OPTIONS");
    }
}

#[tokio::test]
async fn without_cors_configuration_warden_stays_out_of_it() {
    let host = TestHost::start(Setup::default()).await;
    let reply = host
        .get_with("/x", &[("origin", "https://app.example.com")])
        .await;
    no_cors_headers(&reply);
    assert!(reply.header("vary").is_none());
    let reply = preflight(&host, "/x", "https://app.example.com", "GET").await;
    assert_eq!(reply.status, 200, "the app's to answer");
    assert_eq!(reply.json()["method"], "OPTIONS");
}

#[tokio::test]
async fn wildcard_outside_production() {
    let policy = r#"
        [cors]
        origins = ["*"]
        [[routes]]
        name = "all"
        path = "/*"
    "#;
    let host = TestHost::start(
        Setup::default()
            .policy(policy)
            .var("environment", "staging"),
    )
    .await;
    let reply = host
        .get_with("/x", &[("origin", "https://anyone.example")])
        .await;
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert!(reply.header("access-control-allow-credentials").is_none());
    let reply = preflight(&host, "/x", "https://anyone.example", "GET").await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));

    let host = TestHost::start(
        Setup::default()
            .policy(policy)
            .var("environment", "production"),
    )
    .await;
    let reply = host
        .get_with("/x", &[("origin", "https://anyone.example")])
        .await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["error"]["code"], "CONFIGURATION_ERROR");
    assert_eq!(
        host.config_problems(),
        [
            "cors.origins[0]: \"*\" is allowed only outside production (environment = production); list the origins"
        ]
    );
}

#[tokio::test]
async fn configuration_errors_name_the_field() {
    let policy = r#"
        [cors]
        origins = ["*"]
        credentials = true
        max_age = 100000

        [[routes]]
        name = "a"
        path = "/a/*"
        cors = { origins = ["https://ok.example", "https://*.dev", "https://x.example/", "null", "http://localhost:3000"] }

        [[routes]]
        name = "b"
        path = "/*"
    "#;
    let common = [
        "cors.credentials: cannot be true while origins is [\"*\"]: browsers refuse credentials with a wildcard origin; list the origins",
        "cors.max_age: must be between 0 and 86400",
        "routes[0].cors.origins[1]: *.dev would match every site under a top-level domain; name a domain with at least two labels",
        "routes[0].cors.origins[2]: has no path: remove the trailing \"/\"",
        "routes[0].cors.origins[3]: the \"null\" origin is sent by sandboxed frames and local files; allowing it lets any of them in",
    ];
    let production = [
        "cors.origins[0]: \"*\" is allowed only outside production (environment = production); list the origins",
    ];
    for mode in MODES {
        for env in ["development", "production"] {
            let host = TestHost::start(
                Setup::default()
                    .policy(policy)
                    .var("environment", env)
                    .reuse(mode),
            )
            .await;
            let reply = host.get("/b").await;
            assert_eq!(reply.status, 500);
            assert_eq!(reply.json()["error"]["code"], "CONFIGURATION_ERROR");
            let mut problems = host.config_problems();
            problems.sort();
            let mut expected: Vec<&str> = common.to_vec();
            if env == "production" {
                expected.extend(production);
            }
            expected.sort();
            assert_eq!(problems, expected, "{mode:?} {env}");
        }
    }
}

#[tokio::test]
async fn the_demo_policy() {
    let declared = warden_host::manifest::declared_variables(&root().join("spin.toml")).unwrap();
    let mut setup = Setup::default();
    for (name, value) in declared {
        if let Some(value) = value {
            setup = setup.var(&name, &value);
        }
    }
    let host = TestHost::start(setup).await;
    let reply = preflight(&host, "/api/x", "https://app.example.com", "POST").await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    let reply = host
        .get_with("/api/x", &[("origin", "https://app.example.com")])
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-expose-headers"), Some(EXPOSED));
    assert!(
        reply
            .header("content-security-policy")
            .unwrap()
            .starts_with("default-src 'none';"),
        "the api preset on /api"
    );
    let page = host.get("/").await;
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("'nonce-")
    );
    assert!(page.echoed_headers().contains_key("x-warden-csp-nonce"));
}
