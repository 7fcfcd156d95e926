//! The inner app's timeout and the 405 for unmatched methods
//! (docs/hardening.md, "Timeouts" and "405 and `Allow`") through the real
//! component: an app slower than its route's `timeout` gets the client a
//! 504 `TIMEOUT` in about the timeout, the abandoned call leaves the
//! instance serving; an app within it, or on a route with the timeout off,
//! answers; a body that stalls after the head is not cut; with
//! `unmatched = "deny"`, a method no route on the path takes is a 405
//! with `Allow`, a path no route has a 404.

use std::time::{Duration, Instant};
use warden_tests::*;

const TIMEOUT: &str = r#"{"error":{"code":"TIMEOUT","message":"Upstream application timed out"}}"#;

const POLICY: &str = r#"
[settings]
unmatched = "deny"
timeout = "1s"

[[routes]]
name = "quick"
path = "/quick/*"
timeout = "300ms"
rate_limit = "off"

[[routes]]
name = "patient"
path = "/patient/*"
timeout = "off"
rate_limit = "off"

[[routes]]
name = "orders-write"
methods = ["POST", "DELETE"]
path = "/orders"
rate_limit = "off"

[[routes]]
name = "orders-read"
methods = ["GET"]
path = "/orders"
rate_limit = "off"

[[routes]]
name = "json"
path = "/json/*"
timeout = "300ms"
body = { json = "strict" }
rate_limit = "off"

[[routes]]
name = "default"
path = "/default/*"
rate_limit = "off"
"#;

async fn start(mode: Reuse) -> TestHost {
    TestHost::start(Setup::default().policy(POLICY).reuse(mode)).await
}

async fn get_timed(host: &TestHost, path: &str, headers: &[(&str, &str)]) -> (Reply, Duration) {
    let start = Instant::now();
    let reply = host.get_with(path, headers).await;
    (reply, start.elapsed())
}

#[tokio::test]
async fn an_app_past_its_timeout_is_a_504_and_the_instance_serves_on() {
    for mode in MODES {
        let host = start(mode).await;
        let (reply, took) = get_timed(&host, "/quick/x", &[("x-echo-delay-ms", "2000")]).await;
        assert_eq!(reply.status, 504, "{mode:?}: {}", text(&reply));
        assert_eq!(text(&reply), TIMEOUT);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert!(reply.header("x-request-id").is_some());
        assert!(
            reply.header("x-content-type-options").is_some(),
            "every answer's headers"
        );
        // The timeout, not the app's 2 s (generous: other builds share the CPU).
        assert!(
            took < Duration::from_millis(1500),
            "{mode:?}: took {took:?}"
        );
        let log = host.log();
        assert!(log.contains(r#""inner_app_timeout""#), "{log}");
        assert!(log.contains(r#""timeout_ms":300"#), "{log}");
        // The same host (and, reused, the same instance) answers the next ones.
        for _ in 0..3 {
            let reply = host.get("/quick/x").await;
            assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
            assert_eq!(reply.json()["path"], "/quick/x");
        }
        assert!(!host.log().contains("trap"), "{}", host.log());
    }
}

#[tokio::test]
async fn concurrent_timeouts_leave_the_instance_serving() {
    let host = start(Reuse::Spin).await;
    let slow: Vec<_> = (0..6)
        .map(|_| host.get_with("/quick/x", &[("x-echo-delay-ms", "3000")]))
        .collect();
    for reply in futures::future::join_all(slow).await {
        assert_eq!(reply.status, 504, "{}", text(&reply));
    }
    let quick: Vec<_> = (0..6).map(|_| host.get("/quick/y")).collect();
    for reply in futures::future::join_all(quick).await {
        assert_eq!(reply.status, 200, "{}", text(&reply));
    }
    // A body sent to an app that timed out is not left half-read either.
    let reply = host
        .send(
            "POST",
            "/quick/z",
            &[("x-echo-delay-ms", b"2000")],
            &[b'a'; 100_000],
        )
        .await;
    assert_eq!(reply.status, 504, "{}", text(&reply));
    let reply = host.send("POST", "/quick/z", &[], &[b'a'; 100_000]).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert_eq!(reply.json()["body_len"], 100_000);
}

#[tokio::test]
async fn a_timeout_while_the_body_guard_watches_the_app_is_a_504_too() {
    for mode in MODES {
        let host = start(mode).await;
        let json = br#"{"items":[1,2,3]}"#;
        let headers: &[(&str, &[u8])] = &[
            ("content-type", b"application/json"),
            ("x-echo-delay-ms", b"2000"),
        ];
        let reply = host.send("POST", "/json/x", headers, json).await;
        assert_eq!(reply.status, 504, "{mode:?}: {}", text(&reply));
        assert_eq!(text(&reply), TIMEOUT);
        let reply = host
            .send(
                "POST",
                "/json/x",
                &[("content-type", b"application/json")],
                json,
            )
            .await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        assert_eq!(reply.json()["body_len"], json.len());
    }
}

#[tokio::test]
async fn an_app_within_its_timeout_or_with_none_answers() {
    for mode in MODES {
        let host = start(mode).await;
        let reply = host
            .get_with("/quick/x", &[("x-echo-delay-ms", "20")])
            .await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        // `timeout = "off"` beats `[settings] timeout = "1s"`.
        let reply = host
            .get_with("/patient/x", &[("x-echo-delay-ms", "1500")])
            .await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        // A route without `timeout` has `[settings]`'s.
        let (reply, took) = get_timed(&host, "/default/x", &[("x-echo-delay-ms", "3000")]).await;
        assert_eq!(reply.status, 504, "{mode:?}: {}", text(&reply));
        assert!(
            took < Duration::from_millis(2500),
            "{mode:?}: took {took:?}"
        );
        assert!(
            host.log().contains(r#""timeout_ms":1000"#),
            "{}",
            host.log()
        );
    }
}

#[tokio::test]
async fn a_body_that_stalls_after_the_head_is_not_cut_by_the_timeout() {
    for mode in MODES {
        let host = start(mode).await;
        let (reply, took) = get_timed(
            &host,
            "/quick/x",
            &[("x-echo-stream", "8192"), ("x-echo-stream-pause-ms", "800")],
        )
        .await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        assert_eq!(reply.body.len(), 8192, "{mode:?}: the whole body");
        assert!(
            took >= Duration::from_millis(800),
            "{mode:?}: the pause happened: {took:?}"
        );
        assert!(!host.log().contains("inner_app_timeout"), "{}", host.log());
    }
}

#[tokio::test]
async fn an_unmatched_method_is_a_405_with_allow_and_an_unknown_path_a_404() {
    for mode in MODES {
        let host = start(mode).await;
        let reply = host.send("PUT", "/orders", &[], b"{}").await;
        assert_eq!(reply.status, 405, "{mode:?}: {}", text(&reply));
        assert_eq!(reply.header("allow"), Some("DELETE, GET, HEAD, POST"));
        assert_eq!(
            text(&reply),
            r#"{"error":{"code":"METHOD_NOT_ALLOWED","message":"Method not allowed"}}"#
        );
        assert!(reply.header("x-request-id").is_some());
        // Methods compare as routes match them: a lower-case spelling too.
        let reply = host.send("patch", "/orders", &[], b"").await;
        assert_eq!(reply.status, 405, "{mode:?}: {}", text(&reply));
        // The listed methods go through.
        let reply = host.send("DELETE", "/orders", &[], b"").await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        let reply = host.send("HEAD", "/orders", &[], b"").await;
        assert_eq!(reply.status, 200, "{mode:?}");
        // No route has the path: still a 404.
        let reply = host.send("PUT", "/nowhere", &[], b"").await;
        assert_eq!(reply.status, 404, "{mode:?}: {}", text(&reply));
        assert_eq!(reply.header("allow"), None);
        assert_eq!(
            text(&reply),
            r#"{"error":{"code":"NOT_FOUND","message":"Not found"}}"#
        );
        let log = host.log();
        assert!(
            log.contains(r#""allow":"DELETE, GET, HEAD, POST""#),
            "{log}"
        );
    }
}

#[tokio::test]
async fn an_invalid_timeout_is_a_configuration_error_naming_the_field() {
    let policy = r#"
[settings]
timeout = "5ms"

[[routes]]
name = "a"
path = "/*"
timeout = 30
"#;
    let host = TestHost::start(Setup::default().policy(policy)).await;
    let reply = host.get("/").await;
    assert_eq!(reply.status, 500, "{}", text(&reply));
    let log = host.log();
    assert!(
        log.contains("settings.timeout: must be between 10ms and 1h"),
        "{log}"
    );
    assert!(
        log.contains("routes[0].timeout: must be a duration"),
        "{log}"
    );
}
