//! Body limits and JSON shape (docs/hardening.md) through the real
//! component: a declared length over the route's limit is a 413 before the
//! app is called; a chunked body that crosses it mid-stream is a 413 and
//! the app's body read fails (the echo app reports the error, which warden
//! logs); each JSON limit passes at N and refuses N+1 with a 400 naming the
//! limit; malformed JSON is a 400; an unlisted media type a 415; a route
//! without `body` settings keeps the 10 MiB default.

use std::time::Duration;
use warden_tests::*;

const POLICY: &str = r#"
[[routes]]
name = "small"
path = "/small/*"
body = { limit = "1KiB" }

[[routes]]
name = "api"
path = "/api/*"
body = { limit = "64KiB", content_types = ["application/json"], json = { max_depth = 3, max_array_items = 4, max_string_chars = 8, max_object_keys = 3, max_total_keys = 5 } }

[[routes]]
name = "rest"
path = "/*"
"#;

const TOO_LARGE: &str =
    r#"{"error":{"code":"PAYLOAD_TOO_LARGE","message":"Request body too large"}}"#;
const UNSUPPORTED: &str =
    r#"{"error":{"code":"UNSUPPORTED_MEDIA_TYPE","message":"Unsupported content type"}}"#;

async fn start(mode: Reuse) -> TestHost {
    TestHost::start(Setup::default().policy(POLICY).reuse(mode)).await
}

/// A request head only: the body it announces is never sent.
fn head_only(method: &str, path: &str, headers: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n{headers}\r\n").into_bytes()
}

/// One chunk of a chunked body.
fn chunk(bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
    out
}

fn chunked_head(path: &str, extra: &str) -> Vec<u8> {
    head_only(
        "POST",
        path,
        &format!("transfer-encoding: chunked\r\n{extra}"),
    )
}

/// Waits up to 5 s for the guest log to contain `needle` (the app's
/// handler runs on after warden answered).
async fn log_shows(host: &TestHost, needle: &str) -> bool {
    for _ in 0..50 {
        if host.log().contains(needle) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn post_json(host: &TestHost, path: &str, body: &str) -> Reply {
    host.send(
        "POST",
        path,
        &[("content-type", b"application/json")],
        body.as_bytes(),
    )
    .await
}

#[tokio::test]
async fn a_declared_length_over_the_limit_never_reaches_the_app() {
    for mode in MODES {
        let host = start(mode).await;
        // Were the app called, it would fail (502, `inner_app_failed`).
        let reply = host
            .send_raw(vec![Piece::now(head_only(
                "POST",
                "/small/x",
                "content-length: 1025\r\nx-echo-fail: error\r\n",
            ))])
            .await;
        assert_eq!(reply.status, 413, "{mode:?}: {}", text(&reply));
        assert_eq!(text(&reply), TOO_LARGE);
        assert!(reply.header("x-request-id").is_some());
        // At the limit: through, byte for byte.
        let reply = host.send("POST", "/small/x", &[], &[b'a'; 1024]).await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        assert_eq!(reply.json()["body_len"], 1024);
        let log = host.log();
        assert!(log.contains("body_refused"), "{log}");
        assert!(log.contains("too_large"), "{log}");
        assert!(!log.contains("inner_app_failed"), "{log}");
    }
}

#[tokio::test]
async fn a_chunked_body_crossing_the_limit_midstream_is_refused_and_the_app_sees_an_error() {
    for mode in MODES {
        let host = start(mode).await;
        // Within the limit, chunked: relayed whole.
        let reply = host
            .send_raw(vec![
                Piece::now(chunked_head("/small/x", "")),
                Piece::now(chunk(&[b'a'; 500])),
                Piece::after(50, chunk(&[b'b'; 524])),
                Piece::now(b"0\r\n\r\n".to_vec()),
            ])
            .await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        assert_eq!(reply.json()["body_len"], 1024);

        // The second chunk crosses 1 KiB: the app has the first already.
        let reply = host
            .send_raw(vec![
                Piece::now(chunked_head("/small/x", "")),
                Piece::now(chunk(&[b'a'; 600])),
                Piece::after(200, chunk(&[b'b'; 600])),
                Piece::now(b"0\r\n\r\n".to_vec()),
            ])
            .await;
        assert_eq!(reply.status, 413, "{mode:?}: {}", text(&reply));
        assert_eq!(text(&reply), TOO_LARGE);
        // The echo app's body read failed (it never saw a clean end).
        assert!(
            log_shows(&host, "echo: body").await,
            "{mode:?}: {}",
            host.log()
        );
        assert!(host.log().contains("HttpRequestBodySize"), "{}", host.log());

        // JSON broken mid-stream: a 400, the app's read fails too.
        let reply = host
            .send_raw(vec![
                Piece::now(chunked_head("/api/x", "content-type: application/json\r\n")),
                Piece::now(chunk(b"[[[")),
                Piece::after(100, chunk(b"[1]]]]")),
                Piece::now(b"0\r\n\r\n".to_vec()),
            ])
            .await;
        assert_eq!(reply.status, 400, "{mode:?}: {}", text(&reply));
        assert_eq!(
            reply.json()["error"]["message"],
            "JSON nesting deeper than 3"
        );
        assert!(log_shows(&host, "json_depth").await, "{}", host.log());
    }
}

#[tokio::test]
async fn json_limits_at_their_edges() {
    // (at the limit, one past it, the message naming the limit)
    let cases = [
        ("[[[1]]]", "[[[[1]]]]", "JSON nesting deeper than 3"),
        (
            "[1,2,3,4]",
            "[1,2,3,4,5]",
            "JSON array with more than 4 items",
        ),
        (
            r#"["abcdefgh"]"#,
            r#"["abcdefghi"]"#,
            "JSON string longer than 8 characters",
        ),
        (
            r#"{"a":1,"b":2,"c":3}"#,
            r#"{"a":1,"b":2,"c":3,"d":4}"#,
            "JSON object with more than 3 keys",
        ),
        (
            r#"{"a":{"b":1,"c":2},"d":{"e":1}}"#,
            r#"{"a":{"b":1,"c":2},"d":{"e":1,"f":2}}"#,
            "JSON document with more than 5 keys",
        ),
        (
            r#"["a\u0001"]"#,
            r#"["a\u0000"]"#,
            "JSON string with a NUL character",
        ),
    ];
    for mode in MODES {
        let host = start(mode).await;
        for (ok, over, message) in cases {
            let reply = post_json(&host, "/api/x", ok).await;
            assert_eq!(reply.status, 200, "{mode:?} {ok}: {}", text(&reply));
            assert_eq!(reply.json()["body_len"], ok.len());
            let reply = post_json(&host, "/api/x", over).await;
            assert_eq!(reply.status, 400, "{mode:?} {over}: {}", text(&reply));
            assert_eq!(
                reply.json(),
                serde_json::json!({"error": {"code": "JSON_LIMIT_EXCEEDED", "message": message}}),
                "{mode:?} {over}"
            );
        }
        for malformed in ["[1,", r#"{"a":1}x"#, "{'a':1}", "[1,]"] {
            let reply = post_json(&host, "/api/x", malformed).await;
            assert_eq!(reply.status, 400, "{mode:?} {malformed}: {}", text(&reply));
            assert_eq!(
                text(&reply),
                r#"{"error":{"code":"INVALID_JSON","message":"Malformed JSON"}}"#
            );
        }
        // No body: nothing to scan.
        let reply = host.get("/api/x").await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
    }
}

#[tokio::test]
async fn an_unlisted_media_type_is_a_415() {
    for mode in MODES {
        let host = start(mode).await;
        for headers in [
            vec![("content-type", &b"text/plain"[..])],
            vec![],
            vec![
                ("content-type", &b"application/json"[..]),
                ("content-type", &b"application/json"[..]),
            ],
        ] {
            let reply = host.send("POST", "/api/x", &headers, b"[1]").await;
            assert_eq!(reply.status, 415, "{mode:?} {headers:?}: {}", text(&reply));
            assert_eq!(text(&reply), UNSUPPORTED);
        }
        let reply = host
            .send(
                "POST",
                "/api/x",
                &[("content-type", b"Application/JSON; charset=utf-8")],
                b"[1]",
            )
            .await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        assert!(host.log().contains("unsupported_media_type"));
        // A body of unknown length (chunked) is a body: no way around the
        // list by leaving the length out.
        let reply = host
            .send_raw(vec![
                Piece::now(chunked_head("/api/x", "content-type: text/plain\r\n")),
                Piece::now(chunk(b"[1]")),
                Piece::now(b"0\r\n\r\n".to_vec()),
            ])
            .await;
        assert_eq!(reply.status, 415, "{mode:?}: {}", text(&reply));
    }
}

#[tokio::test]
async fn a_route_without_body_settings_keeps_the_10_mib_default() {
    const LIMIT: usize = 10 * 1024 * 1024;
    for mode in MODES {
        let host = start(mode).await;
        let reply = host
            .send_raw(vec![Piece::now(head_only(
                "POST",
                "/other",
                &format!("content-length: {}\r\n", LIMIT + 1),
            ))])
            .await;
        assert_eq!(reply.status, 413, "{mode:?}: {}", text(&reply));
        assert_eq!(text(&reply), TOO_LARGE);
        let reply = host.send("POST", "/other", &[], &vec![b'z'; LIMIT]).await;
        assert_eq!(reply.status, 200, "{mode:?}");
        assert_eq!(reply.json()["body_len"], LIMIT);
    }
}

/// A signed route's body is read whole by the signature stage first; the
/// body rules then judge those bytes before the app is called, so a
/// refusal there never reaches the app (which, called, would fail: 502).
#[tokio::test]
async fn a_signed_routes_buffered_body_is_judged_before_the_app() {
    use warden_core::layers::signature::sign_worker;
    const SECRET: &str = "hardening-tests-worker-secret-0123456789";
    let policy = r#"
[worker]

[[routes]]
name = "internal"
path = "/internal/*"
auth = "worker"
rate_limit = "off"
body = { limit = "64B", json = { max_depth = 2 } }
"#;
    for mode in MODES {
        let host = TestHost::start(
            Setup::default()
                .policy(policy)
                .var("worker_secret", SECRET)
                .reuse(mode),
        )
        .await;
        let signed = |body: &[u8], fail: bool| {
            let ts = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                .to_string();
            let mut headers = vec![
                ("content-type".to_string(), "application/json".to_string()),
                (
                    "x-worker-signature".to_string(),
                    sign_worker(SECRET.as_bytes(), &ts, body),
                ),
                ("x-worker-timestamp".to_string(), ts),
            ];
            if fail {
                headers.push(("x-echo-fail".into(), "error".into()));
            }
            headers
        };
        let post = |headers: Vec<(String, String)>, body: Vec<u8>| {
            let host = &host;
            async move {
                let refs: Vec<(&str, &[u8])> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_bytes()))
                    .collect();
                host.send("POST", "/internal/x", &refs, &body).await
            }
        };
        let reply = post(signed(b"[[1]]", false), b"[[1]]".to_vec()).await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        assert_eq!(reply.json()["body_len"], 5);

        let reply = post(signed(b"[[[1]]]", true), b"[[[1]]]".to_vec()).await;
        assert_eq!(reply.status, 400, "{mode:?}: {}", text(&reply));
        assert_eq!(
            reply.json()["error"]["message"],
            "JSON nesting deeper than 2"
        );

        let big = format!("[\"{}\"]", "a".repeat(61)).into_bytes();
        assert_eq!(big.len(), 65);
        let reply = post(signed(&big, true), big.clone()).await;
        assert_eq!(reply.status, 413, "{mode:?}: {}", text(&reply));
        assert_eq!(text(&reply), TOO_LARGE);
        assert!(!host.log().contains("inner_app_failed"), "{}", host.log());
    }
}

/// A declared length over the limit is refused before authentication: the
/// client's own header says the request cannot pass, so it gets the 413,
/// not a 401 that would send it to fetch a credential and try again.
#[tokio::test]
async fn a_declared_length_over_the_limit_is_413_before_authentication() {
    let host = TestHost::start(Setup::default().policy(
        r#"
[[routes]]
name = "private"
path = "/private/*"
auth = "required"
body = { limit = "1KiB" }
"#,
    ))
    .await;
    let reply = host
        .send_raw(vec![Piece::now(head_only(
            "POST",
            "/private/upload",
            "content-length: 5000\r\n",
        ))])
        .await;
    assert_eq!(reply.status, 413, "{reply:?}");
    assert_eq!(text(&reply), TOO_LARGE);
    // Within the limit, authentication decides.
    let small = host.send("POST", "/private/upload", &[], b"tiny").await;
    assert_eq!(small.status, 401);
}
