//! Service-to-service request signatures through the real component: seed
//! 000's worker HMAC (its six exact errors, rotation, tampering, replays),
//! seed 003's request-nonce profile, RFC 9421 with RFC 9530 digests, the
//! body limit, the replay cache on the store, and interop with independent
//! signers (a Python script using only its standard library, and the
//! `warden sign` CLI).

use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use warden_core::layers::signature::content_digest::{Algorithm, header_value};
use warden_core::layers::signature::{
    RequestView, SignParams, sign_request_nonce, sign_rfc9421, sign_worker,
};
use warden_tests::*;

const SECRET: &str = "signature-tests-worker-secret-0123456789";
const OLD_SECRET: &str = "signature-tests-previous-secret-9876543210";

const ROUTES: &str = r#"
[[routes]]
name = "internal"
path = "/internal/*"
auth = "worker"
rate_limit = "off"

[[routes]]
name = "nonce"
path = "/nonce/*"
auth = "worker"
worker = "request-nonce"
rate_limit = "off"

[[routes]]
name = "rfc"
path = "/rfc/*"
auth = "worker"
worker = "rfc9421"
rate_limit = "off"

[[routes]]
name = "rest"
path = "/*"
rate_limit = "off"
"#;

/// A host with `[worker]` set to `section` (TOML lines) and the routes above.
async fn start(mode: Reuse, section: &str) -> TestHost {
    start_with(mode, section, &[]).await
}

async fn start_with(mode: Reuse, section: &str, vars: &[(&str, &str)]) -> TestHost {
    let mut setup = Setup::default()
        .policy(&format!("[worker]\n{section}\n{ROUTES}"))
        .var("worker_secret", SECRET)
        .reuse(mode);
    for (name, value) in vars {
        setup = setup.var(name, value);
    }
    TestHost::start(setup).await
}

type Headers = Vec<(String, String)>;

async fn post(host: &TestHost, path: &str, headers: &Headers, body: &[u8]) -> Reply {
    send(host, "POST", path, headers, body).await
}

async fn send(host: &TestHost, method: &str, path: &str, headers: &Headers, body: &[u8]) -> Reply {
    let refs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    host.send(method, path, &refs, body).await
}

fn h(pairs: &[(&str, &str)]) -> Headers {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Seed 000 headers, signed with `secret` at `ts`.
fn worker_signed(secret: &str, ts: u64, body: &[u8]) -> Headers {
    let ts = ts.to_string();
    h(&[
        ("content-type", "application/json"),
        (
            "X-Worker-Signature",
            &sign_worker(secret.as_bytes(), &ts, body),
        ),
        ("X-Worker-Timestamp", &ts),
    ])
}

/// A refusal by warden: exact status and body, JSON, with a request id, and
/// never the echo app's answer.
fn assert_refused(reply: &Reply, status: u16, body: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", text(reply));
    assert_eq!(text(reply), body, "{what}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{what}"
    );
    assert!(reply.header("x-request-id").is_some(), "{what}");
}

fn assert_reached_app(
    reply: &Reply,
    scheme: &str,
    key: &str,
    what: &str,
) -> serde_json::Map<String, Value> {
    assert_eq!(reply.status, 200, "{what}: {}", text(reply));
    let seen = reply.echoed_headers();
    assert_eq!(seen["x-warden-auth"], "worker", "{what}: {seen:?}");
    assert_eq!(seen["x-warden-worker-scheme"], scheme, "{what}");
    assert_eq!(seen["x-warden-worker-key"], key, "{what}");
    seen
}

#[tokio::test]
async fn the_six_seed_errors_are_exact() {
    for mode in MODES {
        let host = start(mode, r#"allowed_origins = ["https://auth.example.com"]"#).await;
        let body = br#"{"userId":"123","action":"login"}"#;
        let origin = ("Origin".to_string(), "https://auth.example.com".to_string());
        let with_origin = |mut headers: Headers| {
            headers.push(origin.clone());
            headers
        };

        let reply = post(
            &host,
            "/internal/webhook",
            &h(&[("Origin", "https://auth.example.com")]),
            body,
        )
        .await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Missing authentication headers","required":["X-Worker-Signature","X-Worker-Timestamp"]}"#,
            "missing",
        );

        let reply = post(
            &host,
            "/internal/webhook",
            &with_origin(h(&[
                ("X-Worker-Signature", "abc"),
                ("X-Worker-Timestamp", "yesterday"),
            ])),
            body,
        )
        .await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Invalid timestamp format"}"#,
            "format",
        );

        let old = unix_now() - 450;
        let reply = post(
            &host,
            "/internal/webhook",
            &with_origin(worker_signed(SECRET, old, body)),
            body,
        )
        .await;
        assert_eq!(reply.status, 401, "{}", text(&reply));
        let json = reply.json();
        assert_eq!(json["error"], "Request timestamp expired");
        assert_eq!(json["maxAge"], 300);
        let age = json["age"].as_u64().expect("age is a number");
        assert!((450..=452).contains(&age), "age {age}");
        assert!(
            text(&reply).starts_with(r#"{"error":"Request timestamp expired","maxAge":300,"age":"#)
        );

        let reply = post(
            &host,
            "/internal/webhook",
            &with_origin(worker_signed(SECRET, unix_now() + 120, body)),
            body,
        )
        .await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Request timestamp in future"}"#,
            "future",
        );

        let ts = unix_now().to_string();
        let reply = post(
            &host,
            "/internal/webhook",
            &with_origin(h(&[
                ("X-Worker-Signature", "invalid-signature"),
                ("X-Worker-Timestamp", &ts),
            ])),
            body,
        )
        .await;
        assert_refused(&reply, 401, r#"{"error":"Invalid signature"}"#, "signature");

        // A correct signature from an origin not on the list, or from none.
        for origin in [Some("https://evil.example.com"), None] {
            let mut headers = worker_signed(SECRET, unix_now(), body);
            headers.extend(origin.map(|o| ("Origin".to_string(), o.to_string())));
            let reply = post(&host, "/internal/webhook", &headers, body).await;
            assert_refused(&reply, 403, r#"{"error":"Unauthorized origin"}"#, "origin");
        }

        // And the same request from the listed origin passes.
        let reply = post(
            &host,
            "/internal/webhook",
            &with_origin(worker_signed(SECRET, unix_now(), body)),
            body,
        )
        .await;
        assert_reached_app(&reply, "worker", "current", "allowed origin");

        // Refusals are logged with a fingerprint, never the signature.
        let log = host.log();
        assert!(log.contains(r#""event":"worker_auth_failed""#), "{log}");
        assert!(log.contains(r#""reason":"unauthorized_origin""#), "{log}");
        let signature = sign_worker(SECRET.as_bytes(), &ts, body);
        assert!(
            !log.contains(&signature) && !log.contains("invalid-signature"),
            "{log}"
        );
    }
}

#[tokio::test]
async fn configured_header_names_are_used_and_listed() {
    let host = start(
        Reuse::Spin,
        "signature_header = \"X-Codex-Signature\"\ntimestamp_header = \"X-Codex-Timestamp\"",
    )
    .await;
    let reply = post(
        &host,
        "/internal/hook",
        &worker_signed(SECRET, unix_now(), b""),
        b"",
    )
    .await;
    assert_refused(
        &reply,
        401,
        r#"{"error":"Missing authentication headers","required":["X-Codex-Signature","X-Codex-Timestamp"]}"#,
        "default names",
    );
    let ts = unix_now().to_string();
    let headers = h(&[
        (
            "x-codex-signature",
            &sign_worker(SECRET.as_bytes(), &ts, b"{}"),
        ),
        ("x-codex-timestamp", &ts),
    ]);
    assert_reached_app(
        &post(&host, "/internal/hook", &headers, b"{}").await,
        "worker",
        "current",
        "configured",
    );
}

#[tokio::test]
async fn a_signed_request_reaches_the_app_with_its_body() {
    for mode in MODES {
        let host = start(mode, "").await;
        // A JSON POST, as the session-revocation caller sends it.
        let body = br#"{"token_hash":"0123456789abcdef","reason":"logout"}"#;
        let reply = post(
            &host,
            "/internal/sessions/revoke",
            &worker_signed(SECRET, unix_now(), body),
            body,
        )
        .await;
        let seen = assert_reached_app(&reply, "worker", "current", "json post");
        assert_eq!(seen["x-warden-route"], "internal");
        assert!(!seen.contains_key("x-warden-worker-keyid"));
        assert_eq!(reply.json()["body_len"], body.len());
        assert_eq!(
            reply.json()["body_sha256"],
            warden_core::base::digest::sha256_hex(body)
        );
        assert_eq!(reply.json()["method"], "POST");
        assert_eq!(reply.json()["path"], "/internal/sessions/revoke");

        // A body of many chunks, well past the response buffer, byte for byte.
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let reply = post(
            &host,
            "/internal/upload",
            &worker_signed(SECRET, unix_now(), &big),
            &big,
        )
        .await;
        assert_reached_app(&reply, "worker", "current", "big body");
        assert_eq!(reply.json()["body_len"], big.len());
        assert_eq!(
            reply.json()["body_sha256"],
            warden_core::base::digest::sha256_hex(&big),
            "the app got other bytes than were signed"
        );

        // No body at all: the signature is over "{timestamp}:".
        let reply = send(
            &host,
            "GET",
            "/internal/status",
            &worker_signed(SECRET, unix_now(), b""),
            b"",
        )
        .await;
        assert_reached_app(&reply, "worker", "current", "get");
        assert_eq!(reply.json()["body_len"], 0);

        // Identity headers are warden's: a client cannot bring its own.
        let mut spoof = worker_signed(SECRET, unix_now(), b"x");
        spoof.push(("x-warden-worker-key".into(), "previous".into()));
        let reply = post(&host, "/internal/a", &spoof, b"x").await;
        assert_reached_app(&reply, "worker", "current", "spoofed key header");
        let reply = host
            .get_with("/public", &[("x-warden-auth", "worker")])
            .await;
        assert_eq!(reply.status, 200);
        assert!(!reply.echoed_headers().contains_key("x-warden-auth"));
    }
}

#[tokio::test]
async fn tampered_body_or_timestamp_is_refused() {
    for mode in MODES {
        let host = start(mode, "").await;
        let body = br#"{"amount":100}"#;
        let headers = worker_signed(SECRET, unix_now(), body);
        let reply = post(&host, "/internal/pay", &headers, br#"{"amount":900}"#).await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Invalid signature"}"#,
            "tampered body",
        );

        let mut moved = headers.clone();
        let later = (unix_now() + 1).to_string();
        moved
            .iter_mut()
            .find(|(n, _)| n == "X-Worker-Timestamp")
            .unwrap()
            .1 = later;
        let reply = post(&host, "/internal/pay", &moved, body).await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Invalid signature"}"#,
            "tampered timestamp",
        );

        // Signed with another secret.
        let other = worker_signed(
            "some-other-secret-that-is-long-enough-0000",
            unix_now(),
            body,
        );
        let reply = post(&host, "/internal/pay", &other, body).await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Invalid signature"}"#,
            "wrong secret",
        );

        // The untampered original still passes.
        assert_reached_app(
            &post(&host, "/internal/pay", &headers, body).await,
            "worker",
            "current",
            "original",
        );
    }
}

#[tokio::test]
async fn the_previous_secret_is_accepted_during_rotation() {
    for mode in MODES {
        let host = start_with(mode, "", &[("worker_secret_previous", OLD_SECRET)]).await;
        let body = b"rotating";
        let reply = post(
            &host,
            "/internal/hook",
            &worker_signed(OLD_SECRET, unix_now(), body),
            body,
        )
        .await;
        assert_reached_app(&reply, "worker", "previous", "old secret");
        let reply = post(
            &host,
            "/internal/hook",
            &worker_signed(SECRET, unix_now(), body),
            body,
        )
        .await;
        assert_reached_app(&reply, "worker", "current", "new secret");
        assert!(
            host.log()
                .contains(r#""event":"worker_previous_secret_used""#)
        );

        // Once the rotation is over, the old secret is refused.
        let done = start(mode, "").await;
        let reply = post(
            &done,
            "/internal/hook",
            &worker_signed(OLD_SECRET, unix_now(), body),
            body,
        )
        .await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Invalid signature"}"#,
            "after rotation",
        );
    }
}

#[tokio::test]
async fn a_replay_is_refused_even_across_instances() {
    for mode in MODES {
        let host = start(mode, "").await;
        let body = br#"{"event":"paid"}"#;
        let headers = worker_signed(SECRET, unix_now(), body);
        assert_reached_app(
            &post(&host, "/internal/hook", &headers, body).await,
            "worker",
            "current",
            "first",
        );
        let reply = post(&host, "/internal/hook", &headers, body).await;
        assert_refused(&reply, 401, r#"{"error":"Request replayed"}"#, "replay");
        assert!(host.log().contains(r#""event":"worker_replay""#));

        // Another body is another signature.
        let other = br#"{"event":"refunded"}"#;
        assert_reached_app(
            &post(
                &host,
                "/internal/hook",
                &worker_signed(SECRET, unix_now(), other),
                other,
            )
            .await,
            "worker",
            "current",
            "other",
        );

        // A nonce is recorded too, and a fresh nonce does not make a
        // captured signature new again (the nonce is not signed in seed 000).
        let body = b"with nonce";
        let mut first = worker_signed(SECRET, unix_now(), body);
        first.push(("X-Worker-Nonce".into(), "nonce-aaa".into()));
        assert_reached_app(
            &post(&host, "/internal/hook", &first, body).await,
            "worker",
            "current",
            "nonce",
        );
        let mut again = first.clone();
        again.last_mut().unwrap().1 = "nonce-bbb".into();
        let reply = post(&host, "/internal/hook", &again, body).await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Request replayed"}"#,
            "new nonce, old signature",
        );
        let body2 = b"with nonce, new body";
        let mut reused = worker_signed(SECRET, unix_now(), body2);
        reused.push(("X-Worker-Nonce".into(), "nonce-aaa".into()));
        let reply = post(&host, "/internal/hook", &reused, body2).await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Request replayed"}"#,
            "reused nonce",
        );
    }
}

#[tokio::test]
async fn concurrent_replays_admit_exactly_one() {
    for mode in MODES {
        let host = start(mode, "").await;
        let body = br#"{"once":true}"#;
        let headers = worker_signed(SECRET, unix_now(), body);
        let replies = futures::future::join_all(
            (0..12).map(|_| post(&host, "/internal/hook", &headers, body)),
        )
        .await;
        let ok = replies.iter().filter(|r| r.status == 200).count();
        let replayed = replies
            .iter()
            .filter(|r| r.status == 401 && text(r) == r#"{"error":"Request replayed"}"#)
            .count();
        assert_eq!((ok, replayed), (1, 11), "{mode:?}");
    }
}

#[tokio::test]
async fn the_replay_cache_costs_two_increments_and_can_be_off() {
    let host = start(Reuse::Spin, "").await;
    let before = host.counts();
    let body = b"count me";
    assert_eq!(
        post(
            &host,
            "/internal/hook",
            &worker_signed(SECRET, unix_now(), body),
            body
        )
        .await
        .status,
        200
    );
    let after = host.counts();
    assert!(
        after.kv_writes - before.kv_writes >= 2,
        "{before:?} {after:?}"
    );

    let off = start(Reuse::Spin, "replay = false").await;
    let headers = worker_signed(SECRET, unix_now(), body);
    let before = off.counts();
    assert_eq!(
        post(&off, "/internal/hook", &headers, body).await.status,
        200
    );
    assert_eq!(
        post(&off, "/internal/hook", &headers, body).await.status,
        200,
        "no cache, no replay check"
    );
    let after = off.counts();
    assert_eq!(
        after.kv_writes, before.kv_writes,
        "no store writes without the cache"
    );
}

#[tokio::test]
async fn a_store_failure_fails_closed() {
    for mode in MODES {
        let host = start(mode, "").await;
        host.host.faults().set_kv_error(true);
        let body = b"store down";
        let reply = post(
            &host,
            "/internal/hook",
            &worker_signed(SECRET, unix_now(), body),
            body,
        )
        .await;
        assert_refused(
            &reply,
            503,
            r#"{"error":{"code":"SERVICE_UNAVAILABLE","message":"Service temporarily unavailable"}}"#,
            "kv down",
        );
        assert!(
            host.log()
                .contains(r#""event":"worker_replay_cache_failed""#)
        );
        // A bad signature is still a 401: the store is not consulted for it.
        let reply = post(
            &host,
            "/internal/hook",
            &worker_signed(OLD_SECRET, unix_now(), body),
            body,
        )
        .await;
        assert_eq!(reply.status, 401);
        host.host.faults().set_kv_error(false);
        let reply = post(
            &host,
            "/internal/hook",
            &worker_signed(SECRET, unix_now(), body),
            body,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", text(&reply));

        let off = start(mode, "replay = false").await;
        off.host.faults().set_kv_error(true);
        let reply = post(
            &off,
            "/internal/hook",
            &worker_signed(SECRET, unix_now(), body),
            body,
        )
        .await;
        assert_eq!(
            reply.status, 200,
            "without the cache the store is not needed"
        );
    }
}

#[tokio::test]
async fn expired_replay_keys_are_swept() {
    for mode in MODES {
        // A one-second window, so keys expire quickly.
        let host = start(mode, "max_age = 1\nfuture_skew = 0").await;
        let body = b"first";
        assert_eq!(
            post(
                &host,
                "/internal/hook",
                &worker_signed(SECRET, unix_now(), body),
                body
            )
            .await
            .status,
            200
        );
        let first: Vec<String> = host
            .kv_keys()
            .into_iter()
            .filter(|k| k.starts_with("warden:replay:") && !k.ends_with(":sweep"))
            .collect();
        assert_eq!(first.len(), 2, "{mode:?}: {:?}", host.kv_keys());

        tokio::time::sleep(Duration::from_millis(2_500)).await;
        let body = b"second";
        assert_eq!(
            post(
                &host,
                "/internal/hook",
                &worker_signed(SECRET, unix_now(), body),
                body
            )
            .await
            .status,
            200
        );
        let mut swept = false;
        for _ in 0..50 {
            let keys = host.kv_keys();
            if first.iter().all(|k| !keys.contains(k)) {
                swept = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(swept, "{mode:?}: {:?}\n{}", host.kv_keys(), host.log());
        assert!(host.log().contains(r#""event":"worker_replay_swept""#));
        // The second request's own keys are still there.
        assert!(
            host.kv_keys()
                .iter()
                .any(|k| k.starts_with("warden:replay:") && !k.ends_with(":sweep"))
        );
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_unread() {
    for mode in MODES {
        let host = start(mode, "body_limit = 1024").await;
        let big = vec![b'x'; 4096];
        let reply = post(
            &host,
            "/internal/upload",
            &worker_signed(SECRET, unix_now(), &big),
            &big,
        )
        .await;
        assert_refused(
            &reply,
            413,
            r#"{"error":{"code":"PAYLOAD_TOO_LARGE","message":"Request body too large"}}"#,
            "over the limit",
        );
        let exact = vec![b'y'; 1024];
        let reply = post(
            &host,
            "/internal/upload",
            &worker_signed(SECRET, unix_now(), &exact),
            &exact,
        )
        .await;
        assert_reached_app(&reply, "worker", "current", "at the limit");
        assert_eq!(reply.json()["body_len"], 1024);
        // Header checks come first: an unsigned big body is a 401, not a 413.
        let reply = post(&host, "/internal/upload", &Vec::new(), &big).await;
        assert_eq!(reply.status, 401);
        // Routes that are not signed never buffer: big bodies pass.
        let reply = host.send("POST", "/public", &[], &big).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["body_len"], 4096);
    }
}

/// Seed 003 headers.
fn nonce_signed(secret: &str, ts: u64, nonce: &str, body: &[u8]) -> Headers {
    let ts = ts.to_string();
    h(&[
        (
            "X-Request-Signature",
            &sign_request_nonce(secret.as_bytes(), body, &ts, nonce),
        ),
        ("X-Request-Timestamp", &ts),
        ("X-Request-Nonce", nonce),
    ])
}

#[tokio::test]
async fn the_request_nonce_profile() {
    for mode in MODES {
        let host = start_with(mode, "", &[("worker_secret_previous", OLD_SECRET)]).await;
        let body = br#"{"clip_ids":["clip123"],"background":false}"#;
        let reply = post(
            &host,
            "/nonce/process-clips",
            &nonce_signed(SECRET, unix_now(), "n-0001", body),
            body,
        )
        .await;
        assert_reached_app(&reply, "request-nonce", "current", "valid");
        assert_eq!(reply.json()["body_len"], body.len());

        // The nonce goes through the replay cache: reused with a fresh
        // timestamp and a correct signature, it is still a replay.
        let reply = post(
            &host,
            "/nonce/process-clips",
            &nonce_signed(SECRET, unix_now() - 5, "n-0001", body),
            body,
        )
        .await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Request replayed"}"#,
            "reused nonce",
        );

        let headers = nonce_signed(SECRET, unix_now(), "n-0002", body);
        let reply = post(&host, "/nonce/process-clips", &headers, b"{}").await;
        assert_refused(&reply, 401, r#"{"error":"Invalid signature"}"#, "tampered");

        let reply = post(&host, "/nonce/x", &h(&[("X-Request-Signature", "ab")]), b"").await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Missing authentication headers","required":["X-Request-Signature","X-Request-Timestamp","X-Request-Nonce"]}"#,
            "missing",
        );
        let reply = post(
            &host,
            "/nonce/x",
            &nonce_signed(SECRET, unix_now() - 400, "n-0003", b""),
            b"",
        )
        .await;
        assert_eq!(reply.json()["error"], "Request timestamp expired");
        let reply = post(
            &host,
            "/nonce/x",
            &nonce_signed(SECRET, unix_now() + 400, "n-0004", b""),
            b"",
        )
        .await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Request timestamp in future"}"#,
            "future",
        );

        // Rotation applies here too.
        let reply = post(
            &host,
            "/nonce/x",
            &nonce_signed(OLD_SECRET, unix_now(), "n-0005", b""),
            b"",
        )
        .await;
        assert_reached_app(&reply, "request-nonce", "previous", "old secret");

        // The seed-000 headers mean nothing on this route.
        let reply = post(
            &host,
            "/nonce/x",
            &worker_signed(SECRET, unix_now(), b""),
            b"",
        )
        .await;
        assert_eq!(reply.status, 401);
    }
}

/// RFC 9421 headers for a request to `path` on `host`.
fn rfc_signed(
    host: &TestHost,
    method: &str,
    path: &str,
    body: &[u8],
    components: &[&str],
    params: SignParams,
) -> Headers {
    let authority = host.host.addr().to_string();
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    if components.contains(&"content-digest") {
        headers.push((
            "content-digest".into(),
            header_value(body, Algorithm::Sha256).into_bytes(),
        ));
    }
    let request = RequestView {
        method,
        scheme: "http",
        authority: &authority,
        path_and_query: path,
        headers: &headers,
    };
    let signed = sign_rfc9421(&request, components, &params, SECRET.as_bytes()).expect("signs");
    let mut out: Headers = headers
        .into_iter()
        .map(|(n, v)| (n, String::from_utf8(v).unwrap()))
        .collect();
    out.push(("Signature-Input".into(), signed.signature_input));
    out.push(("Signature".into(), signed.signature));
    out
}

fn params(nonce: &str) -> SignParams {
    SignParams {
        label: "sig1".into(),
        keyid: "current".into(),
        created: unix_now(),
        expires: None,
        nonce: Some(nonce.into()),
        alg: true,
    }
}

const DEFAULT_COMPONENTS: [&str; 4] = ["@method", "@authority", "@path", "content-digest"];

#[tokio::test]
async fn rfc9421_valid_missing_component_expired_and_wrong_digest() {
    for mode in MODES {
        let host = start(mode, "").await;
        let body = br#"{"hello": "world"}"#;
        let path = "/rfc/hook?param=Value&Pet=dog";

        let headers = rfc_signed(
            &host,
            "POST",
            path,
            body,
            &DEFAULT_COMPONENTS,
            params("r-1"),
        );
        let reply = post(&host, path, &headers, body).await;
        let seen = assert_reached_app(&reply, "rfc9421", "current", "valid");
        assert_eq!(seen["x-warden-worker-keyid"], "current");
        assert_eq!(reply.json()["body_len"], body.len());

        // Replayed: same nonce.
        let reply = post(&host, path, &headers, body).await;
        assert_refused(&reply, 401, r#"{"error":"Request replayed"}"#, "replay");

        // Missing component: the body is not covered.
        let headers = rfc_signed(
            &host,
            "POST",
            path,
            body,
            &["@method", "@authority", "@path"],
            params("r-2"),
        );
        let reply = post(&host, path, &headers, body).await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Invalid signature input","reason":"required component not covered: content-digest"}"#,
            "missing content-digest",
        );
        let headers = rfc_signed(
            &host,
            "POST",
            path,
            body,
            &["@method", "@authority", "content-digest"],
            params("r-3"),
        );
        let reply = post(&host, path, &headers, body).await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Invalid signature input","reason":"required component not covered: @path"}"#,
            "missing @path",
        );

        // Expired.
        let old = SignParams {
            created: unix_now() - 400,
            ..params("r-4")
        };
        let headers = rfc_signed(&host, "POST", path, body, &DEFAULT_COMPONENTS, old);
        let reply = post(&host, path, &headers, body).await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json()["error"], "Request timestamp expired");
        let ended = SignParams {
            expires: Some(unix_now() - 1),
            ..params("r-5")
        };
        let headers = rfc_signed(&host, "POST", path, body, &DEFAULT_COMPONENTS, ended);
        let reply = post(&host, path, &headers, body).await;
        assert_refused(&reply, 401, r#"{"error":"Signature expired"}"#, "expires");

        // Wrong digest: a correct signature over a digest of other bytes.
        let headers = rfc_signed(
            &host,
            "POST",
            path,
            br#"{"hello": "mallory"}"#,
            &DEFAULT_COMPONENTS,
            params("r-6"),
        );
        let reply = post(&host, path, &headers, body).await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Content digest mismatch"}"#,
            "wrong digest",
        );

        // Another path than the one signed.
        let headers = rfc_signed(
            &host,
            "POST",
            path,
            body,
            &DEFAULT_COMPONENTS,
            params("r-7"),
        );
        let reply = post(&host, "/rfc/other", &headers, body).await;
        assert_refused(
            &reply,
            401,
            r#"{"error":"Invalid signature"}"#,
            "other path",
        );

        // No body, no digest needed.
        let headers = rfc_signed(
            &host,
            "GET",
            "/rfc/status",
            b"",
            &["@method", "@authority", "@path"],
            params("r-8"),
        );
        assert_reached_app(
            &send(&host, "GET", "/rfc/status", &headers, b"").await,
            "rfc9421",
            "current",
            "get",
        );
    }
}

#[tokio::test]
async fn malformed_signature_headers_are_401_json_never_a_trap() {
    let host = start(Reuse::Spin, "").await;
    let ts = unix_now();
    let inputs = [
        "sig1=(\"@method\"".to_string(),
        "sig1=(\"@method\");created=abc".to_string(),
        format!("sig1=(\"@method\" \"@authority\" \"@path\");created={ts};keyid=\"nobody\""),
        format!(
            "sig1=(\"@method\" \"@authority\" \"@path\");created={ts};keyid=\"current\";alg=\"rsa-pss-sha512\""
        ),
        format!("sig1=(\"@query-param\";name=\"x\");created={ts};keyid=\"current\""),
        format!("sig1=(\"@method\" \"@method\");created={ts};keyid=\"current\""),
        "\u{e9}((((".to_string(),
        "a".repeat(8000),
        "sig1=".to_string() + &"(".repeat(500),
    ];
    for input in &inputs {
        for signature in ["sig1=:AAAA:", "sig1=notbytes", "", ":::"] {
            let headers = vec![
                ("Signature-Input".to_string(), input.clone()),
                ("Signature".to_string(), signature.to_string()),
            ];
            let reply = post(&host, "/rfc/x", &headers, b"{}").await;
            assert_eq!(
                reply.status,
                401,
                "{input:?} {signature:?}: {}",
                text(&reply)
            );
            let json = reply.json();
            assert!(json["error"].is_string(), "{json}");
        }
    }
    let reply = post(
        &host,
        "/rfc/x",
        &h(&[("Signature-Input", "sig1=(\"@method\")")]),
        b"",
    )
    .await;
    assert_refused(
        &reply,
        401,
        r#"{"error":"Missing authentication headers","required":["Signature-Input","Signature"]}"#,
        "missing",
    );
    // Still serving.
    let headers = rfc_signed(
        &host,
        "POST",
        "/rfc/x",
        b"{}",
        &DEFAULT_COMPONENTS,
        params("after-garbage"),
    );
    assert_eq!(post(&host, "/rfc/x", &headers, b"{}").await.status, 200);
}

#[tokio::test]
async fn rfc9421_route_components_and_keyids_from_the_policy() {
    let policy = r#"
[worker]
keyids = { "billing-2026" = "worker_secret" }

[[routes]]
name = "hooks"
path = "/hooks/*"
auth = "worker"
worker = { scheme = "rfc9421", components = ["@method", "@target-uri", "x-event"] }
rate_limit = "off"
"#;
    let host = TestHost::start(Setup::default().policy(policy).var("worker_secret", SECRET)).await;
    let path = "/hooks/stripe?attempt=2";
    let authority = host.host.addr().to_string();
    let headers = vec![("x-event".to_string(), b"invoice.paid".to_vec())];
    let request = RequestView {
        method: "POST",
        scheme: "http",
        authority: &authority,
        path_and_query: path,
        headers: &headers,
    };
    let sign_as = |keyid: &str, components: &[&str]| {
        let p = SignParams {
            keyid: keyid.into(),
            ..params(&format!("{keyid}-{}", components.len()))
        };
        let signed = sign_rfc9421(&request, components, &p, SECRET.as_bytes()).unwrap();
        h(&[
            ("x-event", "invoice.paid"),
            ("Signature-Input", &signed.signature_input),
            ("Signature", &signed.signature),
        ])
    };
    let reply = post(
        &host,
        path,
        &sign_as("billing-2026", &["@method", "@target-uri", "x-event"]),
        b"{}",
    )
    .await;
    let seen = assert_reached_app(&reply, "rfc9421", "current", "route components");
    assert_eq!(seen["x-warden-worker-keyid"], "billing-2026");
    let reply = post(
        &host,
        path,
        &sign_as("current", &["@method", "@target-uri", "x-event"]),
        b"{}",
    )
    .await;
    assert_refused(
        &reply,
        401,
        r#"{"error":"Invalid signature input","reason":"no signature with a known keyid"}"#,
        "default keyid replaced",
    );
    let reply = post(
        &host,
        path,
        &sign_as("billing-2026", &["@method", "@target-uri"]),
        b"{}",
    )
    .await;
    assert_refused(
        &reply,
        401,
        r#"{"error":"Invalid signature input","reason":"required component not covered: x-event"}"#,
        "route's own component",
    );
}

#[tokio::test]
async fn invalid_worker_configuration_is_reported_not_guessed() {
    let policy = r#"
[worker]
max_age = 0
keyids = { current = "session_secret" }

[[routes]]
name = "hooks"
path = "/hooks/*"
auth = "worker"
worker = "hmac"
"#;
    let host = TestHost::start(Setup::default().policy(policy).var("worker_secret", SECRET)).await;
    let reply = host.get("/hooks/x").await;
    assert_eq!(reply.status, 500);
    let log = host.log();
    for field in [
        "worker.max_age",
        "worker.keyids.current",
        "routes[0].worker",
    ] {
        assert!(log.contains(field), "{field}: {log}");
    }
    // A short secret is a configuration error too (seed: at least 32 characters).
    let short = TestHost::start(
        Setup::default()
            .policy(ROUTES)
            .var("worker_secret", "too-short-secret"),
    )
    .await;
    assert_eq!(short.get("/internal/x").await.status, 500);
    assert!(
        short
            .log()
            .contains("worker_secret: must be at least 32 characters")
    );
}

// ---------------------------------------------------------------------------
// Interop: requests signed by implementations that share no code with warden.

fn interop_script() -> PathBuf {
    root().join("tests/interop/sign.py")
}

/// Runs the Python signer and returns the headers it prints.
fn python_sign(args: &[&str], secret: &str) -> Headers {
    let out = Command::new("python3")
        .arg(interop_script())
        .args(args)
        .env("WARDEN_SECRET", secret)
        .output()
        .expect("python3 runs (the interop tests need it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON from sign.py");
    json["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_string(),
                pair[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_python_signer_reproduces_the_rfc_vectors() {
    // RFC 9421 B.2.5 and RFC 9530's digests, computed by the Python signer:
    // the same signer then signs the interop requests below.
    let out = Command::new("python3")
        .arg(interop_script())
        .arg("--self-test")
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn python_signed_requests_verify() {
    for mode in MODES {
        let host = start(mode, "").await;
        let dir = TempDir::new("interop");
        let body = br#"{"userId":"123","action":"login"}"#;
        let file = dir.path().join("body.json");
        std::fs::write(&file, body).unwrap();
        let file = file.to_str().unwrap();
        for (scheme, path, expect) in [
            ("worker", "/internal/hook", "worker"),
            ("request-nonce", "/nonce/hook", "request-nonce"),
            ("rfc9421", "/rfc/hook?x=1", "rfc9421"),
        ] {
            let url = host.url(path);
            let headers = python_sign(
                &[
                    "--scheme",
                    scheme,
                    "--method",
                    "POST",
                    "--url",
                    &url,
                    "--body-file",
                    file,
                ],
                SECRET,
            );
            let reply = post(&host, path, &headers, body).await;
            assert_reached_app(
                &reply,
                expect,
                "current",
                &format!("{mode:?} python {scheme}"),
            );
            assert_eq!(reply.json()["body_len"], body.len());
            // Python-signed, then tampered.
            let reply = post(&host, path, &headers, b"{}").await;
            assert_eq!(reply.status, 401, "{scheme} tampered: {}", text(&reply));
        }
        // Python's RFC 9421 request without a body, and with the seed-000 nonce.
        let url = host.url("/rfc/ping");
        let headers = python_sign(
            &["--scheme", "rfc9421", "--method", "GET", "--url", &url],
            SECRET,
        );
        assert_reached_app(
            &send(&host, "GET", "/rfc/ping", &headers, b"").await,
            "rfc9421",
            "current",
            "python get",
        );
        let url = host.url("/internal/ping");
        let headers = python_sign(
            &[
                "--scheme", "worker", "--method", "GET", "--url", &url, "--nonce", "py-1",
            ],
            SECRET,
        );
        assert_reached_app(
            &send(&host, "GET", "/internal/ping", &headers, b"").await,
            "worker",
            "current",
            "python nonce",
        );
    }
}

/// The `warden` CLI binary, built by `scripts/build` (`cargo build -p warden-cli`).
fn cli() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let path = target.join("debug/warden");
    assert!(
        path.exists(),
        "{} is missing: run `scripts/test` (or `cargo build -p warden-cli`) first",
        path.display()
    );
    path
}

fn cli_run(args: &[&str], envs: &[(&str, &str)]) -> String {
    let out = Command::new(cli())
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("warden runs");
    assert!(
        out.status.success(),
        "warden {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[tokio::test]
async fn cli_keygen_and_sign_output_verify() {
    // A secret from `warden keygen`, configured as worker_secret...
    let secret = cli_run(&["keygen"], &[]).trim().to_string();
    assert!(secret.len() >= 32, "{secret}");
    assert_ne!(secret, cli_run(&["keygen"], &[]).trim());
    let host = TestHost::start(
        Setup::default()
            .policy(&format!("[worker]\n{ROUTES}"))
            .var("worker_secret", &secret),
    )
    .await;
    let dir = TempDir::new("cli");
    let body = br#"{"hook":"from the cli"}"#;
    let file = dir.path().join("body.json");
    std::fs::write(&file, body).unwrap();
    // ...and `warden sign` output sent as curl would send it (`-H` lines).
    for (scheme, path) in [
        ("worker", "/internal/hook"),
        ("request-nonce", "/nonce/hook"),
        ("rfc9421", "/rfc/hook"),
    ] {
        let url = host.url(path);
        let out = cli_run(
            &[
                "sign",
                "--scheme",
                scheme,
                "--secret-env",
                "HOOK_SECRET",
                "--method",
                "POST",
                "--url",
                &url,
                "--body-file",
                file.to_str().unwrap(),
            ],
            &[("HOOK_SECRET", &secret)],
        );
        assert!(!out.contains(&secret), "the secret is never printed");
        let headers: Headers = out
            .lines()
            .map(|line| {
                let (name, value) = line.split_once(": ").expect("Name: value");
                (name.to_string(), value.to_string())
            })
            .collect();
        let reply = post(&host, path, &headers, body).await;
        assert_reached_app(&reply, scheme, "current", &format!("cli {scheme}"));
        assert_eq!(reply.json()["body_len"], json!(body.len()));
    }
}

/// A signed POST to `/internal/hook` as raw bytes: the head and the first
/// half of the body at once, the rest after `pause_ms`.
fn trickled(headers: &Headers, body: &[u8], pause_ms: u64) -> Vec<Piece> {
    let mut head = format!(
        "POST /internal/hook HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let (first, rest) = body.split_at(body.len() / 2);
    let mut start = head.into_bytes();
    start.extend_from_slice(first);
    vec![Piece::now(start), Piece::after(pause_ms, rest.to_vec())]
}

#[tokio::test]
async fn a_body_slower_than_body_timeout_is_408() {
    for mode in MODES {
        let host = start(mode, "body_timeout = 1").await;
        let body = br#"{"event":"paid","amount":100}"#;
        let headers = worker_signed(SECRET, unix_now(), body);
        // Control: the same request sent at once reaches the app.
        let fast = host.send_raw(trickled(&headers, body, 0)).await;
        assert_reached_app(&fast, "worker", "current", "fast body");

        let headers = worker_signed(SECRET, unix_now(), br#"{"event":"paid","amount":200}"#);
        let started = std::time::Instant::now();
        let slow = host
            .send_raw(trickled(
                &headers,
                br#"{"event":"paid","amount":200}"#,
                2500,
            ))
            .await;
        assert_refused(
            &slow,
            408,
            r#"{"error":{"code":"REQUEST_TIMEOUT","message":"Request body timed out"}}"#,
            "trickled body",
        );
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_millis(2400),
            "{mode:?}: answered after the timeout, before the body: {waited:?}"
        );
        assert!(host.log().contains("body_timeout"), "the refusal is logged");
    }
}

#[tokio::test]
async fn a_body_completed_after_max_age_is_expired() {
    for mode in MODES {
        // The default body_timeout (10 s) is longer than the trickle.
        let host = start(mode, "max_age = 2\nfuture_skew = 0").await;
        let body = br#"{"event":"refund","amount":300}"#;
        // Signed now: the headers arrive well inside the window, the body
        // is complete only after it closed.
        let headers = worker_signed(SECRET, unix_now(), body);
        let reply = host.send_raw(trickled(&headers, body, 3200)).await;
        assert_eq!(reply.status, 401, "{mode:?}: {}", text(&reply));
        let refusal = reply.json();
        assert_eq!(refusal["error"], "Request timestamp expired", "{refusal}");
        assert_eq!(refusal["maxAge"], 2);
        assert!(refusal["age"].as_u64().unwrap() >= 3, "{refusal}");

        // Control: a body trickled within the window is accepted.
        let body = br#"{"event":"refund","amount":301}"#;
        let headers = worker_signed(SECRET, unix_now(), body);
        let reply = host.send_raw(trickled(&headers, body, 300)).await;
        assert_reached_app(&reply, "worker", "current", "body within the window");
    }
}
