//! Stores that hang, answer late or fail (issue 19): every request is
//! answered within the store's deadline plus a margin, with the layer's
//! fail mode; the breaker stops calling a store that keeps failing and
//! lets it back once it answers again; an abandoned call never lands.
//!
//! The local host's faults make a store operation hang (never answer while
//! the fault is on), answer late, or fail (`warden_host::Fault`).

use std::time::{Duration, Instant};
use warden_host::{Fault, Op};
use warden_tests::*;

/// The key-value deadline and breaker these tests use: 50 ms, open after
/// 3 failures, for 1 s, closed again by 1 success.
const STORES: &str = r#"
[stores.key_value]
deadline_ms = 50
breaker = { failures = 3, successes = 1, open = "1s" }
[stores.sqlite]
deadline_ms = 100
breaker = { failures = 3, successes = 1, open = "1s" }
"#;

/// What a request may take past its store deadlines on a loaded CI
/// machine: the rest of the pipeline and the test client.
const MARGIN: Duration = Duration::from_millis(400);

fn policy(routes: &str) -> String {
    format!("{STORES}\n{routes}")
}

const LIMITED: &str = r#"
[[routes]]
name = "open"
path = "/open/*"
rate_limit = { requests = 3, window = "1h" }

[[routes]]
name = "closed"
path = "/closed/*"
rate_limit = { requests = 3, window = "1h", fail = "closed" }
"#;

async fn timed(host: &TestHost, path: &str) -> (Reply, Duration) {
    let started = Instant::now();
    let reply = host.get(path).await;
    (reply, started.elapsed())
}

fn events(host: &TestHost, event: &str) -> usize {
    host.log().matches(&format!(r#""event":"{event}""#)).count()
}

#[tokio::test]
async fn a_hanging_store_costs_a_rate_limited_request_its_deadline_then_nothing() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(&policy(LIMITED)).reuse(mode)).await;
        assert_eq!(host.get("/open/x").await.status, 200, "{mode:?}: healthy");
        settle(&host).await;
        host.host.faults().set_kv(Fault::Hang);

        // Fails open: served, each within one deadline (the check before
        // the increment) plus the margin.
        for i in 0..3 {
            let (reply, took) = timed(&host, "/open/x").await;
            assert_eq!(reply.status, 200, "{mode:?} #{i}: fail open serves");
            assert!(
                took < Duration::from_millis(50) + MARGIN,
                "{mode:?} #{i}: {took:?}"
            );
        }
        let log = host.log();
        assert!(log.contains(r#""error":"increment: deadline""#), "{log}");
        if mode == Reuse::PerRequest {
            // A breaker lives in an instance; one per request never opens.
            host.host.faults().set_kv(Fault::None);
            continue;
        }
        assert_eq!(
            events(&host, "store_breaker"),
            1,
            "{mode:?}: opened once: {log}"
        );
        assert!(log.contains(r#""state":"open""#), "{log}");

        // Open: no call reaches the store, the fail mode applies at once.
        let before = host.counts();
        for _ in 0..5 {
            assert_eq!(host.get("/open/x").await.status, 200);
            let (closed, took) = timed(&host, "/closed/x").await;
            assert_eq!(closed.status, 503, "{mode:?}: fails closed");
            assert_eq!(closed.json()["error"]["code"], "SERVICE_UNAVAILABLE");
            assert!(took < MARGIN, "{took:?}");
        }
        assert_eq!(
            host.counts(),
            before,
            "{mode:?}: the open breaker calls nothing"
        );
        assert!(host.log().contains(r#""error":"increment: breaker_open""#));

        // The store answers again; after the open period one success
        // closes the breaker and the counts are exact again.
        // (Requests without a store keep the instance from going idle.)
        host.host.faults().set_kv(Fault::None);
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(host.get("/health").await.status, 200);
        }
        let statuses: Vec<u16> = futures_in_order(&host, "/closed/y", 4).await;
        assert_eq!(statuses, [200, 200, 200, 429], "{mode:?}: exact again");
        assert!(host.log().contains(r#""state":"closed""#), "{}", host.log());
    }
}

async fn futures_in_order(host: &TestHost, path: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(host.get(path).await.status);
    }
    out
}

#[tokio::test]
async fn an_abandoned_increment_never_lands() {
    let host = TestHost::start(Setup::default().policy(&policy(LIMITED))).await;
    assert_eq!(host.get("/health").await.status, 200);
    settle(&host).await;
    // Reads answer after 300 ms, past the 50 ms deadline: the check before
    // the increment is abandoned, the route fails closed, and the increment
    // is never made. The late read, when its time comes, goes nowhere (the
    // host counts it abandoned).
    host.host
        .faults()
        .set(Op::KvRead, Fault::Delay(Duration::from_millis(300)));
    let (reply, took) = timed(&host, "/closed/a").await;
    assert_eq!(reply.status, 503);
    assert!(
        took < Duration::from_millis(300),
        "abandoned before the answer: {took:?}"
    );
    host.host.faults().set(Op::KvRead, Fault::None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(host.host.faults().abandoned() >= 1);
    // The abandoned check incremented nothing: the client has its 3.
    let statuses = futures_in_order(&host, "/closed/a", 4).await;
    assert_eq!(statuses, [200, 200, 200, 429]);
}

#[tokio::test]
async fn the_readiness_probe_reports_a_hanging_store_within_its_deadline() {
    let routes = "[[routes]]\nname = \"app\"\npath = \"/*\"\nrate_limit = \"off\"\n";
    let ready_unlimited = "[settings]\nready = { rate_limit = \"off\" }\n";
    let host = TestHost::start(Setup::default().policy(&format!(
        "{ready_unlimited}{}",
        policy(&format!(
            "[[routes]]\nname = \"s\"\npath = \"/s/*\"\nauth = \"optional\"\n{routes}"
        ))
    )))
    .await;
    assert_eq!(host.get("/.warden/ready").await.status, 200);
    host.host.faults().set(Op::Sqlite, Fault::Hang);
    let (reply, took) = timed(&host, "/.warden/ready").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json()["sqlite"], "unavailable");
    assert_eq!(reply.json()["key_value"], "ok");
    assert!(took < Duration::from_millis(100) + MARGIN, "{took:?}");
    host.host.faults().set(Op::Sqlite, Fault::None);
}

#[tokio::test]
async fn a_signed_route_fails_closed_on_a_hanging_replay_cache() {
    const SECRET: &str = "signature-tests-worker-secret-0123456789";
    let routes =
        "[[routes]]\nname = \"hook\"\npath = \"/hook\"\nauth = \"worker\"\nrate_limit = \"off\"\n";
    let host = TestHost::start(
        Setup::default()
            .policy(&policy(routes))
            .var("worker_secret", SECRET),
    )
    .await;
    host.host.faults().set_kv(Fault::Hang);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let body = b"{\"event\":\"x\"}";
    let signature = warden_core::layers::signature::sign_worker(SECRET.as_bytes(), &now, body);
    let started = Instant::now();
    let reply = host
        .send(
            "POST",
            "/hook",
            &[
                ("x-worker-signature", signature.as_bytes()),
                ("x-worker-timestamp", now.as_bytes()),
            ],
            body,
        )
        .await;
    let took = started.elapsed();
    assert_eq!(reply.status, 503, "{}", host.log());
    assert!(took < Duration::from_millis(50) + MARGIN, "{took:?}");
    assert!(host.log().contains("worker_replay_cache_failed"));
    host.host.faults().set_kv(Fault::None);
}
