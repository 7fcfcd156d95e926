//! The pipeline skeleton: request IDs, header hygiene, route matching, the
//! inner app's answers passed back, and warden's own JSON errors.

use warden_tests::*;

#[tokio::test]
async fn request_id_is_kept_when_valid_and_made_when_not() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().reuse(mode)).await;

        let kept = host
            .get_with("/x", &[("x-request-id", "client-id_1.2~=")])
            .await;
        assert_eq!(kept.status, 200);
        assert_eq!(kept.header("x-request-id"), Some("client-id_1.2~="));
        assert_eq!(kept.echoed_headers()["x-request-id"], "client-id_1.2~=");

        for bad in ["has space", "semi;colon", &"a".repeat(256), ""] {
            let made = host.get_with("/x", &[("x-request-id", bad)]).await;
            let id = made.header("x-request-id").expect("an id").to_owned();
            assert_ne!(id, bad, "{mode:?}: invalid id {bad:?} must be replaced");
            assert_eq!(id.len(), 36, "a UUID: {id}");
            assert_eq!(made.echoed_headers()["x-request-id"], id.as_str());
        }

        let a = host
            .get("/x")
            .await
            .header("x-request-id")
            .unwrap()
            .to_owned();
        let b = host
            .get("/x")
            .await
            .header("x-request-id")
            .unwrap()
            .to_owned();
        assert_ne!(a, b, "generated ids are fresh per request");
    }
}

#[tokio::test]
async fn warden_headers_and_hop_by_hop_headers_never_reach_the_app() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().reuse(mode)).await;
        let reply = host
            .get_with(
                "/api/x",
                &[
                    ("x-warden-user-id", "admin"),
                    ("X-Warden-Roles", "admin"),
                    ("x-warden-route", "health"),
                    ("connection", "keep-alive"),
                    ("keep-alive", "timeout=5"),
                    ("x-ordinary", "kept"),
                ],
            )
            .await;
        assert_eq!(reply.status, 200);
        let seen = reply.echoed_headers();
        for gone in [
            "x-warden-user-id",
            "x-warden-roles",
            "connection",
            "keep-alive",
            "host",
        ] {
            assert!(
                !seen.contains_key(gone),
                "{mode:?}: {gone} reached the app: {seen:?}"
            );
        }
        assert_eq!(seen["x-ordinary"], "kept");
        // The only x-warden-* header is warden's own, with the real route.
        assert_eq!(seen["x-warden-route"], "default");
        // Spin's own headers pass through.
        assert!(
            seen["spin-client-addr"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:")
        );
    }
}

#[tokio::test]
async fn responses_stream_through_with_their_framing_in_both_buffer_modes() {
    for mode in MODES {
        for policy in [None, Some(COLLECT_SMALL_RESPONSES)] {
            let mut setup = Setup::default().reuse(mode);
            if let Some(policy) = policy {
                setup = setup.policy(policy);
            }
            let host = TestHost::start(setup).await;
            let what = format!("{mode:?}, collecting: {}", policy.is_some());

            let small = host.get("/x").await;
            assert_eq!(small.status, 200, "{what}");
            assert_eq!(small.json()["path"], "/x", "{what}");
            assert_eq!(small.header("transfer-encoding"), None, "{what}");
            assert_eq!(
                small.header("content-length"),
                Some(&*small.body.len().to_string()),
                "{what}: {:?}",
                small.headers
            );

            // Known length above any buffer limit: streamed, length kept.
            let large = host.get_with("/x", &[("x-echo-size", "200000")]).await;
            assert_eq!(large.status, 200, "{what}");
            assert_eq!(large.body.len(), 200_000, "{what}");
            assert_eq!(large.header("content-length"), Some("200000"), "{what}");

            // Unknown length: streamed through in chunks.
            let unbounded = host.get_with("/x", &[("x-echo-stream", "100000")]).await;
            assert_eq!(unbounded.status, 200, "{what}");
            assert_eq!(unbounded.body.len(), 100_000, "{what}");
            assert_eq!(
                unbounded.header("transfer-encoding"),
                Some("chunked"),
                "{what}"
            );
            assert!(unbounded.header("x-request-id").is_some(), "{what}");
        }
    }
}

#[tokio::test]
async fn request_bodies_stream_through_unchanged() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().reuse(mode)).await;
        let body: Vec<u8> = (0..3 * 1024 * 1024 + 11u32)
            .map(|i| (i % 253) as u8)
            .collect();
        let reply = host
            .send(
                "POST",
                "/upload",
                &[("content-type", b"application/octet-stream")],
                &body,
            )
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["body_len"], body.len());
        assert_eq!(
            reply.json()["body_sha256"],
            warden_core::base::digest::sha256_hex(&body),
            "the app got other bytes than the client sent"
        );
        assert_eq!(reply.json()["method"], "POST");
    }
}

#[tokio::test]
async fn a_failing_inner_app_is_a_502_json_error() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().reuse(mode)).await;
        let reply = host.get_with("/x", &[("x-echo-fail", "error")]).await;
        assert_eq!(reply.status, 502);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(
            reply.json(),
            serde_json::json!({"error": {"code": "BAD_GATEWAY", "message": "Upstream application failed"}})
        );
        assert!(reply.header("x-request-id").is_some());
        assert!(
            host.log().contains("\"event\":\"inner_app_failed\""),
            "{}",
            host.log()
        );
        // The next request is served normally.
        assert_eq!(host.get("/x").await.status, 200);
    }
}

#[tokio::test]
async fn a_trapping_inner_app_costs_one_request_not_the_host() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().reuse(mode)).await;
        // A trap aborts the whole composed instance: the host answers 500,
        // as Spin does, and no component code can turn it into JSON.
        let reply = host.get_with("/x", &[("x-echo-fail", "trap")]).await;
        assert_eq!(reply.status, 500);
        assert_eq!(host.get("/x").await.status, 200);
    }
}

#[tokio::test]
async fn a_slow_inner_app_is_waited_for() {
    let host = TestHost::start(Setup::default()).await;
    let started = std::time::Instant::now();
    let reply = host.get_with("/x", &[("x-echo-delay-ms", "300")]).await;
    assert_eq!(reply.status, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
}

const DEMO_LIKE: &str = r#"
    [[routes]]
    name = "health"
    methods = ["GET"]
    path = "/health"
    rate_limit = "off"

    [[routes]]
    name = "protected"
    path = "/api/protected/*"
    auth = "required"

    [[routes]]
    name = "api"
    path = "/api/*"
    auth = "optional"

    [[routes]]
    name = "internal"
    path = "/internal/*"
    auth = "worker"

    [[routes]]
    name = "web"
    path = "/*"
"#;

#[tokio::test]
async fn routes_match_first_wins_on_normalized_paths() {
    for mode in MODES {
        let host = TestHost::start(
            Setup::default()
                .policy(DEMO_LIKE)
                .var("worker_secret", "0123456789abcdef0123456789abcdef")
                .reuse(mode),
        )
        .await;
        let route = |reply: &Reply| {
            reply.echoed_headers()["x-warden-route"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(route(&host.get("/health").await), "health");
        assert_eq!(route(&host.get("/HEALTH/").await), "health");
        assert_eq!(route(&host.send("POST", "/health", &[], b"").await), "web");
        assert_eq!(route(&host.get("/api/things?x=1").await), "api");
        assert_eq!(route(&host.get("//api//things").await), "api");
        assert_eq!(route(&host.get("/elsewhere").await), "web");
    }
}

#[tokio::test]
async fn routes_needing_an_identity_fail_closed() {
    let host = TestHost::start(
        Setup::default()
            .policy(DEMO_LIKE)
            .var("worker_secret", "0123456789abcdef0123456789abcdef"),
    )
    .await;
    for path in [
        "/api/protected/me",
        "/API/Protected/me",
        "/api/%70rotected/me",
    ] {
        let reply = host.get(path).await;
        assert_eq!(reply.status, 401, "{path}");
        assert_eq!(
            reply.json(),
            serde_json::json!({"error": {"code": "UNAUTHORIZED", "message": "Authentication required"}}),
            "{path}"
        );
    }
    // Worker routes answer with seed 000's own body (docs/signatures.md).
    let reply = host.get("/internal/hook").await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.json(),
        serde_json::json!({"error": "Missing authentication headers", "required": ["X-Worker-Signature", "X-Worker-Timestamp"]})
    );
    // Optional auth proceeds anonymously.
    assert_eq!(host.get("/api/public").await.status, 200);
}

/// A catch-all route with optional sessions and the `web` limit: a policy
/// that uses both stores.
const SESSIONS_AND_LIMIT: &str = r#"
    [[routes]]
    name = "app"
    path = "/*"
    auth = "optional"
    "#;

#[tokio::test]
async fn readiness_reports_each_store() {
    let host = TestHost::start(Setup::default().policy(SESSIONS_AND_LIMIT)).await;
    let ok = host.get("/.warden/ready").await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.json(),
        serde_json::json!({"status": "ok", "key_value": "ok", "sqlite": "ok"})
    );
    // One read and one statement for the probe, one write for its rate
    // limit and the read that checks the store answers before it (the
    // first request also claimed the limit's sweep, which runs after its
    // response: let it finish first).
    settle(&host).await;
    let before = host.counts();
    assert_eq!(host.get("/.warden/ready").await.status, 200);
    let after = host.counts();
    assert_eq!(
        (
            after.kv_reads - before.kv_reads,
            after.kv_writes - before.kv_writes,
            after.sqlite_statements - before.sqlite_statements
        ),
        (2, 1, 1)
    );

    host.host.faults().set_kv_error(true);
    let kv_down = host.get("/.warden/ready").await;
    assert_eq!(kv_down.status, 503);
    assert_eq!(kv_down.json()["key_value"], "unavailable");
    assert_eq!(kv_down.json()["sqlite"], "ok");
    host.host.faults().set_kv_error(false);

    host.host.faults().set_sqlite_error(true);
    let db_down = host.get("/.warden/ready").await;
    assert_eq!(db_down.status, 503);
    assert_eq!(db_down.json()["sqlite"], "unavailable");
    assert!(
        !db_down.body.windows(8).any(|w| w == b"injected"),
        "no detail in the body"
    );
    assert!(
        host.log().contains("injected SQLite fault"),
        "detail goes to the log"
    );
    host.host.faults().set_sqlite_error(false);
    assert_eq!(host.get("/.warden/ready").await.status, 200);
}

#[tokio::test]
async fn readiness_notices_missing_migrations() {
    let host = TestHost::start(Setup {
        migrations: false,
        ..Setup::default().policy(SESSIONS_AND_LIMIT)
    })
    .await;
    let reply = host.get("/.warden/ready").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json()["sqlite"], "unavailable");
}

/// The probe checks only the stores the policy uses. A policy of security
/// headers and CORS only needs no store at all: its probe answers 200 with
/// no migrations and both stores failing, and runs no SQL. A rate-limited
/// policy without sessions needs the key-value store but not the database.
#[tokio::test]
async fn readiness_probes_only_the_stores_the_policy_uses() {
    let headers_and_cors = r#"
        [cors]
        origins = ["https://app.example.com"]

        [[routes]]
        name = "app"
        path = "/*"
        rate_limit = "off"
        "#;
    let limited = "[[routes]]\nname = \"app\"\npath = \"/*\"\nrate_limit = \"api\"\n";
    for mode in MODES {
        let host = TestHost::start(Setup {
            migrations: false,
            ..Setup::default().policy(headers_and_cors).reuse(mode)
        })
        .await;
        host.host.faults().set_kv_error(true);
        host.host.faults().set_sqlite_error(true);
        let before = host.counts();
        let reply = host.get("/.warden/ready").await;
        assert_eq!(reply.status, 200, "{mode:?}");
        assert_eq!(
            reply.json(),
            serde_json::json!({"status": "ok", "key_value": "unused", "sqlite": "unused"})
        );
        assert_eq!(host.counts().sqlite_statements, before.sqlite_statements);
        assert!(!host.log().contains("store_unavailable"), "{mode:?}");
        // The app is served too, with its CORS headers.
        let page = host
            .get_with("/page", &[("origin", "https://app.example.com")])
            .await;
        assert_eq!(page.status, 200);
        assert_eq!(
            page.header("access-control-allow-origin"),
            Some("https://app.example.com")
        );

        let host = TestHost::start(Setup {
            migrations: false,
            ..Setup::default().policy(limited).reuse(mode)
        })
        .await;
        let before = host.counts();
        let reply = host.get("/.warden/ready").await;
        assert_eq!(reply.status, 200, "{mode:?}");
        assert_eq!(
            reply.json(),
            serde_json::json!({"status": "ok", "key_value": "ok", "sqlite": "unused"})
        );
        assert_eq!(host.counts().sqlite_statements, before.sqlite_statements);
        host.host.faults().set_kv_error(true);
        let kv_down = host.get("/.warden/ready").await;
        assert_eq!(kv_down.status, 503);
        assert_eq!(kv_down.json()["key_value"], "unavailable");
    }
}

#[tokio::test]
async fn head_answers_keep_their_length_and_broken_framing_never_passes() {
    for mode in MODES {
        for policy in [None, Some(COLLECT_SMALL_RESPONSES)] {
            let mut setup = Setup::default().reuse(mode);
            if let Some(policy) = policy {
                setup = setup.policy(policy);
            }
            let host = TestHost::start(setup).await;
            let what = format!("{mode:?}, collecting: {}", policy.is_some());
            // The app announces its JSON's length and sends nothing, as
            // frameworks answer HEAD (RFC 9110 §9.3.2): that is not an error.
            let omit: &[(&str, &[u8])] = &[("x-echo-omit-body", b"1")];
            let head = host.send("HEAD", "/x", omit, b"").await;
            assert_eq!(head.status, 200, "{what}");
            assert!(head.body.is_empty());
            let announced: usize = head.header("content-length").unwrap().parse().unwrap();
            assert!(
                announced > 50,
                "the app's content-length is kept: {announced}"
            );
            assert!(head.header("x-request-id").is_some());

            // The same answer to a GET breaks the app's own framing.
            let req = hyper::Request::get(host.url("/x"))
                .header("x-echo-omit-body", "1")
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap();
            let outcome = match host.client.request(req).await {
                Err(e) => Err(e.to_string()),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    match http_body_util::BodyExt::collect(resp.into_body()).await {
                        Ok(body) => Ok((status, body.to_bytes())),
                        Err(e) => Err(e.to_string()),
                    }
                }
            };
            if policy.is_some() {
                // Collected: warden sees the lie before answering: 502.
                let (status, body) = outcome.expect("a 502 answer");
                assert_eq!(status, 502, "{what}");
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(body["error"]["code"], "BAD_GATEWAY");
            } else {
                // Streamed: the head has left; the host cuts the response
                // off, so the client never takes a short body for whole.
                assert!(outcome.is_err(), "{what}: {outcome:?}");
            }
            assert_eq!(host.get("/x").await.status, 200, "{what}: still serving");
        }
    }
}

/// Warden's 502 for an app that broke its own framing carries the same
/// security, CORS and rate-limit headers as every other answer: it used to
/// be built where the app's response is read, without them.
#[tokio::test]
async fn a_502_for_broken_framing_carries_the_layers_headers() {
    let policy = r#"
        [settings]
        response_buffer_limit = 65536
        [cors]
        origins = ["https://app.example.com"]
        [[routes]]
        name = "all"
        path = "/*"
    "#;
    for mode in MODES {
        let host = TestHost::start(Setup::default().reuse(mode).policy(policy)).await;
        let headers: &[(&str, &[u8])] = &[
            ("x-echo-omit-body", b"1"),
            ("origin", b"https://app.example.com"),
        ];
        let answer = host.send("GET", "/x", headers, b"").await;
        assert_eq!(answer.status, 502, "{mode:?}");
        assert_eq!(answer.json()["error"]["code"], "BAD_GATEWAY");
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(answer.header("x-frame-options"), Some("DENY"));
        assert!(answer.header("content-security-policy").is_some());
        assert_eq!(
            answer.header("access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert_eq!(answer.header("x-ratelimit-limit"), Some("300"));
        assert_eq!(
            answer.header("ratelimit-policy"),
            Some("\"web\";q=300;w=60")
        );
        assert!(answer.header("x-request-id").is_some());
    }
}

const APP_ROUTE: &str = "[[routes]]\nname = \"app\"\npath = \"/*\"\nrate_limit = \"off\"\n";

#[tokio::test]
async fn readiness_answers_get_and_head_only() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().reuse(mode)).await;
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            let before = host.counts();
            let reply = host.send(method, "/.warden/ready", &[], b"{}").await;
            assert_eq!(reply.status, 405, "{mode:?} {method}");
            assert_eq!(
                reply.body,
                r#"{"error":{"code":"METHOD_NOT_ALLOWED","message":"Method not allowed"}}"#
            );
            assert_eq!(reply.header("allow"), Some("GET, HEAD"));
            assert!(reply.header("x-request-id").is_some());
            let after = host.counts();
            assert_eq!(
                (after.kv_reads, after.sqlite_statements),
                (before.kv_reads, before.sqlite_statements),
                "{method}: no store is touched"
            );
        }
        let head = host.send("HEAD", "/.warden/ready", &[], b"").await;
        assert_eq!(head.status, 200, "{mode:?}");
        assert!(head.body.is_empty());
        assert_eq!(host.get("/.warden/ready").await.status, 200);
    }
}

#[tokio::test]
async fn readiness_is_rate_limited_per_address() {
    for mode in MODES {
        let policy = format!(
            "[settings]\nready = {{ rate_limit = {{ requests = 2, window = \"1m\" }} }}\n{APP_ROUTE}"
        );
        let host = TestHost::start(Setup::default().policy(&policy).reuse(mode)).await;
        for _ in 0..2 {
            let ok = host.get("/.warden/ready").await;
            assert_eq!(ok.status, 200, "{mode:?}");
            assert_eq!(ok.header("x-ratelimit-limit"), Some("2"));
        }
        let statements = host.counts().sqlite_statements;
        let over = host.get("/.warden/ready").await;
        assert_eq!(over.status, 429, "{mode:?}");
        let body = over.json();
        let retry = body["retryAfter"].as_u64().expect("retryAfter");
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(
            body,
            serde_json::json!({
                "error": "Too many requests",
                "message": format!("Rate limit exceeded. Try again in {retry} seconds."),
                "retryAfter": retry,
            })
        );
        assert_eq!(over.header("retry-after"), Some(retry.to_string().as_str()));
        assert_eq!(
            host.counts().sqlite_statements,
            statements,
            "a refused probe runs no SQL"
        );
        // The app's routes have their own limits (here none).
        assert_eq!(host.get("/x").await.status, 200);
    }
}

#[tokio::test]
async fn readiness_can_be_turned_off_or_moved() {
    for mode in MODES {
        let off = TestHost::start(
            Setup::default()
                .policy(&format!("[settings]\nready = false\n{APP_ROUTE}"))
                .reuse(mode),
        )
        .await;
        let reply = off.send("POST", "/.warden/ready", &[], b"").await;
        assert_eq!(reply.status, 200, "{mode:?}: forwarded to the app");
        assert_eq!(reply.json()["path"], "/.warden/ready");
        assert_eq!(reply.echoed_headers()["x-warden-route"], "app");

        let moved = TestHost::start(
            Setup::default()
                .policy(&format!(
                    "[settings]\nready = {{ path = \"/ops/ready\" }}\n{APP_ROUTE}"
                ))
                .reuse(mode),
        )
        .await;
        let probe = moved.get("/ops/ready").await;
        assert_eq!(probe.status, 200);
        assert_eq!(probe.json()["status"], "ok");
        assert_eq!(moved.send("POST", "/ops/ready", &[], b"").await.status, 405);
        let old = moved.get("/.warden/ready").await;
        assert_eq!(
            old.json()["path"],
            "/.warden/ready",
            "the old path is the app's"
        );
    }
}

#[tokio::test]
async fn identity_header_spellings_never_reach_the_app() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().reuse(mode)).await;
        let reply = host
            .get_with(
                "/api/x",
                &[
                    ("x_warden_user_id", "spoof"),
                    ("X-Warden_User-Role", "admin"),
                    ("x_warden-auth", "session"),
                    ("x_request_id", "forged"),
                    ("x_wardens", "kept"),
                    ("spin_client_addr", "203.0.113.9:1"),
                ],
            )
            .await;
        assert_eq!(reply.status, 200);
        let seen = reply.echoed_headers();
        for name in [
            "x_warden_user_id",
            "x-warden_user-role",
            "x_warden-auth",
            "x_request_id",
            "spin_client_addr",
        ] {
            assert!(
                !seen.contains_key(name),
                "{mode:?}: {name} reached the app: {seen:?}"
            );
        }
        assert_eq!(seen["x_wardens"], "kept", "only warden's own names go");
    }
}

/// A chunked request with trailers, as raw bytes.
fn chunked_with_trailers(path: &str, trailers: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\n\
         trailer: x_warden_user_id, x-warden-role, x-checksum\r\n\r\n\
         5\r\nhello\r\n0\r\n{trailers}\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn identity_trailers_never_reach_the_app() {
    let trailers = "x_warden_user_id: spoof\r\nx-warden-role: admin\r\n\
                    x-request-id: forged\r\nx-checksum: abc\r\n\
                    spin-client-addr: 203.0.113.9:1\r\n";
    // Control: without warden the app sees every trailer, so the checks
    // below can fail.
    let bare = TestHost::start(Setup {
        warden: false,
        ..Setup::default()
    })
    .await;
    let reply = bare
        .send_raw(vec![Piece::now(chunked_with_trailers("/api/x", trailers))])
        .await;
    assert_eq!(reply.json()["trailers"]["x_warden_user_id"], "spoof");
    assert_eq!(
        reply.json()["trailers"]["spin-client-addr"],
        "203.0.113.9:1"
    );

    for mode in MODES {
        let host = TestHost::start(Setup::default().reuse(mode)).await;
        let reply = host
            .send_raw(vec![Piece::now(chunked_with_trailers("/api/x", trailers))])
            .await;
        assert_eq!(reply.status, 200, "{mode:?}");
        let echo = reply.json();
        assert_eq!(echo["body_len"], 5);
        assert_eq!(
            echo["trailers"],
            serde_json::json!({"x-checksum": "abc"}),
            "{mode:?}"
        );
        // No trailers at all: none arrive.
        let plain = host.send("POST", "/api/x", &[], b"hello").await;
        assert_eq!(plain.json()["trailers"], serde_json::json!({}));
    }
}
