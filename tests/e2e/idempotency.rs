//! Idempotency keys (docs/idempotency.md) through the real component in
//! front of the echo app: the first request runs and is recorded, a repeat
//! is replayed without calling the app (the echo app's answer carries the
//! request id it saw, so a replay shows the first request's), a key reused
//! for another body is a 422, a key whose request is still running a 409,
//! a missing or invalid key a 400, and 32 identical requests at once call
//! the app exactly once, on both instance modes. The same race across two
//! host processes sharing Redis is in `redis_store.rs`.

use std::sync::Arc;
use std::time::Duration;
use warden_tests::*;

const POLICY: &str = r#"
[[routes]]
name = "orders"
path = "/api/orders"
methods = ["POST"]
idempotency = { required = true, claim_ttl = "10s", max_response_bytes = 4096 }
timeout = "5s"

[[routes]]
name = "optional"
path = "/opt/*"
idempotency = {}

[[routes]]
name = "uploads"
path = "/uploads"
methods = ["POST"]
idempotency = {}
body = { limit = "1GiB" }

[[routes]]
name = "rest"
path = "/*"
"#;

const PROBLEM: &str = "application/problem+json";

async fn start(mode: Reuse) -> TestHost {
    TestHost::start(Setup::default().policy(POLICY).reuse(mode)).await
}

/// A POST with `key` as the `Idempotency-Key` sf-string.
async fn post(
    host: &TestHost,
    path: &str,
    key: &str,
    body: &str,
    extra: &[(&str, &[u8])],
) -> Reply {
    let value = format!("\"{key}\"");
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("idempotency-key", value.as_bytes()),
        ("content-type", b"application/json"),
    ];
    headers.extend_from_slice(extra);
    host.send("POST", path, &headers, body.as_bytes()).await
}

/// The request id the echo app saw: whose request the app answered.
fn answered_for(reply: &Reply) -> String {
    reply.echoed_headers()["x-request-id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn problem_title(reply: &Reply) -> String {
    assert_eq!(reply.header("content-type"), Some(PROBLEM), "{reply:?}");
    let doc = reply.json();
    assert_eq!(doc["status"], reply.status, "{doc}");
    doc["title"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_repeat_is_replayed_without_calling_the_app() {
    for mode in MODES {
        let host = start(mode).await;
        let first = post(&host, "/api/orders", "order-1", r#"{"item":42}"#, &[]).await;
        assert_eq!(first.status, 200, "{mode:?}");
        assert_eq!(first.header("idempotent-replayed"), None);
        let ran_for = answered_for(&first);
        assert_eq!(Some(ran_for.as_str()), first.header("x-request-id"));

        let again = post(&host, "/api/orders", "order-1", r#"{"item":42}"#, &[]).await;
        assert_eq!(again.status, 200, "{mode:?}");
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        // The stored body: the app's answer to the first request.
        assert_eq!(again.body, first.body);
        assert_eq!(answered_for(&again), ran_for);
        // Warden's own headers are this request's, not the stored ones.
        assert_ne!(again.header("x-request-id"), first.header("x-request-id"));
        assert_eq!(again.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(again.header("content-type"), first.header("content-type"));

        // The seed's X-Idempotency-Key is the same key.
        let alias = host
            .send(
                "POST",
                "/api/orders",
                &[
                    ("x-idempotency-key", b"\"order-1\""),
                    ("content-type", b"application/json"),
                ],
                br#"{"item":42}"#,
            )
            .await;
        assert_eq!(alias.header("idempotent-replayed"), Some("true"));
        assert_eq!(answered_for(&alias), ran_for);

        // Another key is another operation.
        let other = post(&host, "/api/orders", "order-2", r#"{"item":42}"#, &[]).await;
        assert_eq!(other.header("idempotent-replayed"), None);
        assert_ne!(answered_for(&other), ran_for);

        // Neither the key nor the body is in a store key or the log.
        let keys = host.kv_keys();
        assert!(
            keys.iter().any(|k| k.starts_with("warden:idem:")),
            "{keys:?}"
        );
        assert!(keys.iter().all(|k| !k.contains("order-1")), "{keys:?}");
        assert!(!host.log().contains("order-1"));
    }
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_422() {
    let host = start(Reuse::Spin).await;
    let first = post(&host, "/api/orders", "reused", r#"{"item":1}"#, &[]).await;
    assert_eq!(first.status, 200);
    let other_body = post(&host, "/api/orders", "reused", r#"{"item":2}"#, &[]).await;
    assert_eq!(other_body.status, 422, "{other_body:?}");
    assert_eq!(
        problem_title(&other_body),
        "Idempotency-Key is already used"
    );
    assert_eq!(
        other_body.json()["type"],
        "https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/"
    );
    // The query is part of the request too.
    let other_query = post(&host, "/api/orders?x=1", "reused", r#"{"item":1}"#, &[]).await;
    assert_eq!(other_query.status, 422);
    assert!(host.log().contains("\"idempotency_mismatch\""));
}

#[tokio::test]
async fn missing_and_invalid_keys_are_400_before_the_app() {
    let host = start(Reuse::Spin).await;
    let missing = host
        .send(
            "POST",
            "/api/orders",
            &[("content-type", b"application/json")],
            b"{}",
        )
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(problem_title(&missing), "Idempotency-Key is missing");
    for (lines, why) in [
        (
            vec![("idempotency-key", b"bare-token".as_slice())],
            "not an sf-string",
        ),
        (vec![("idempotency-key", b"\"\"".as_slice())], "empty"),
        (
            vec![
                ("idempotency-key", b"\"a\"".as_slice()),
                ("idempotency-key", b"\"a\"".as_slice()),
            ],
            "repeated",
        ),
        (
            vec![
                ("idempotency-key", b"\"a\"".as_slice()),
                ("x-idempotency-key", b"\"b\"".as_slice()),
            ],
            "conflicting alias",
        ),
        (
            vec![("idempotency-key", b"\"\xff\"".as_slice())],
            "not ASCII",
        ),
    ] {
        let reply = host.send("POST", "/api/orders", &lines, b"{}").await;
        assert_eq!(reply.status, 400, "{why}: {reply:?}");
        assert_eq!(problem_title(&reply), "Idempotency-Key is invalid", "{why}");
        assert!(reply.json()["detail"].is_string());
    }
    let long = format!("\"{}\"", "k".repeat(256));
    let reply = host
        .send(
            "POST",
            "/api/orders",
            &[("idempotency-key", long.as_bytes())],
            b"{}",
        )
        .await;
    assert_eq!(reply.status, 400);
    // The key's value is never logged.
    assert!(!host.log().contains("bare-token"));

    // Where a key is optional, a request without one passes untouched, and
    // a safe method is never keyed.
    let plain = host.send("POST", "/opt/x", &[], b"{}").await;
    assert_eq!(plain.status, 200);
    let get = host
        .send(
            "GET",
            "/opt/x",
            &[("idempotency-key", b"not even valid")],
            b"",
        )
        .await;
    assert_eq!(get.status, 200);
}

#[tokio::test]
async fn a_key_still_running_is_409_then_replayed() {
    let host = Arc::new(start(Reuse::Spin).await);
    let slow = {
        let host = host.clone();
        tokio::spawn(async move {
            post(
                &host,
                "/api/orders",
                "slow",
                "{}",
                &[("x-echo-delay-ms", b"1500")],
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = post(&host, "/api/orders", "slow", "{}", &[]).await;
    assert_eq!(during.status, 409, "{during:?}");
    assert_eq!(
        problem_title(&during),
        "A request is outstanding for this Idempotency-Key"
    );
    let retry_after: u64 = during.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    let first = slow.await.unwrap();
    assert_eq!(first.status, 200);
    let after = post(&host, "/api/orders", "slow", "{}", &[]).await;
    assert_eq!(after.header("idempotent-replayed"), Some("true"));
    assert_eq!(answered_for(&after), answered_for(&first));
}

#[tokio::test]
async fn an_app_that_failed_releases_the_key_and_every_status_it_answered_is_kept() {
    let host = start(Reuse::Spin).await;
    // The app fails without answering: 502, and the retry runs at once.
    let failed = post(
        &host,
        "/api/orders",
        "flaky",
        "{}",
        &[("x-echo-fail", b"error")],
    )
    .await;
    assert_eq!(failed.status, 502);
    let retry = post(&host, "/api/orders", "flaky", "{}", &[]).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.header("idempotent-replayed"), None);

    // An answer the app gave, 4xx/5xx included, is the operation's answer.
    let teapot = post(
        &host,
        "/api/orders",
        "answered",
        "{}",
        &[
            ("x-echo-header", b"x-app-said: kept"),
            ("x-echo-status", b"418"),
        ],
    )
    .await;
    assert_eq!(teapot.status, 418);
    assert_eq!(teapot.header("x-app-said"), Some("kept"));
    let replay = post(&host, "/api/orders", "answered", "{}", &[]).await;
    assert_eq!(replay.status, 418);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.header("x-app-said"), Some("kept"));
    assert_eq!(replay.body, teapot.body);
}

#[tokio::test]
async fn a_response_too_large_to_store_streams_once_and_is_not_replayed() {
    let host = start(Reuse::Spin).await;
    let big = post(
        &host,
        "/api/orders",
        "big",
        "{}",
        &[("x-echo-size", b"20000")],
    )
    .await;
    assert_eq!(big.status, 200);
    assert_eq!(big.body.len(), 20_000);
    let again = post(
        &host,
        "/api/orders",
        "big",
        "{}",
        &[("x-echo-size", b"20000")],
    )
    .await;
    assert_eq!(again.status, 409, "{again:?}");
    assert_eq!(
        problem_title(&again),
        "The response for this Idempotency-Key cannot be replayed"
    );
    assert_eq!(again.json()["original_status"], 200);
}

/// 32 identical requests at once: one runs, the others get 409 (or, once
/// it completed, the replay); every client that retries after a 409 gets
/// the same response, and exactly one response was not a replay.
pub(crate) async fn race(urls: Vec<String>, key: &str) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let client = Arc::new(client);
    let key = format!("\"{key}\"");
    let mut tasks = Vec::new();
    for (i, url) in (0..32).zip(urls.iter().cycle()) {
        let (client, url, key) = (client.clone(), url.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            loop {
                let reply = send(
                    &client,
                    &url,
                    "POST",
                    &[
                        ("idempotency-key", key.as_bytes()),
                        ("x-echo-delay-ms", b"300"),
                        ("content-type", b"application/json"),
                    ],
                    br#"{"race":true}"#,
                )
                .await;
                match reply.status {
                    409 => {
                        assert!(reply.header("retry-after").is_some());
                        conflicts += 1;
                        assert!(conflicts < 100, "client {i}: still 409 after 100 tries");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    200 => return reply,
                    other => panic!("client {i}: unexpected {other}: {reply:?}"),
                }
            }
        }));
    }
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    let originals = replies
        .iter()
        .filter(|r| r.header("idempotent-replayed").is_none())
        .count();
    assert_eq!(originals, 1, "the app ran {originals} times");
    let first = &replies[0];
    for reply in &replies {
        assert_eq!(
            reply.body, first.body,
            "every client gets the same response"
        );
    }
}

#[tokio::test]
async fn thirty_two_identical_requests_at_once_run_the_app_once() {
    for mode in MODES {
        let host = start(mode).await;
        let url = host.url("/api/orders");
        race(vec![url], &format!("race-{mode:?}")).await;
    }
}

#[tokio::test]
async fn an_invalid_idempotency_table_stops_the_configuration_by_field() {
    let host = TestHost::start(Setup::default().policy(
        r#"
[[routes]]
name = "orders"
path = "/api/orders"
idempotency = { scope = "user", ttl = "1s", methods = ["GET"], header = "bad header" }
"#,
    ))
    .await;
    let reply = host.send("POST", "/api/orders", &[], b"").await;
    assert_eq!(reply.status, 500);
    let log = host.log();
    for field in [
        "routes[0].idempotency.ttl",
        "routes[0].idempotency.methods",
        "routes[0].idempotency.header",
    ] {
        assert!(log.contains(field), "{field} not named in: {log}");
    }
}

/// Attack: keyed requests that declare a body near the route's limit
/// (`content-length: 1000000000` under `body.limit = "1GiB"`) and send
/// one byte. Warden reserved the declared length before a byte arrived,
/// so a handful of such heads, costing the client nothing, ran the shared
/// instance out of its 4 GiB of memory: an allocation failure is a trap,
/// which fails every request in flight on the instance. The reservation
/// is now bounded; the memory grows only with bytes actually received.
#[tokio::test]
async fn declared_lengths_do_not_reserve_memory_before_the_bytes_arrive() {
    let host = Arc::new(start(Reuse::Spin).await);
    let mut pending = Vec::new();
    for i in 0..6 {
        let head = format!(
            "POST /uploads HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 1000000000\r\n\
             idempotency-key: \"upload-{i}\"\r\ncontent-type: application/octet-stream\r\n\r\nx"
        );
        let host = Arc::clone(&host);
        pending.push(tokio::spawn(async move {
            host.send_raw(vec![Piece::now(head.into_bytes())]).await
        }));
        // Each lands on the instance already waiting on the earlier ones.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Still waiting for their bodies: none was failed by a trap.
    for task in &pending {
        assert!(!task.is_finished(), "{}", host.log());
    }
    let reply = host.get("/health").await;
    assert!(reply.status < 500, "{}", host.log());
    for task in pending {
        task.abort();
    }
}
