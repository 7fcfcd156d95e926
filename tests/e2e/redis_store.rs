//! The multi-node deployment in miniature: two host processes share one
//! Redis (Spin's `type = "redis"` key-value store), and a rate limit admits
//! exactly its limit across both.
//!
//! Needs a Redis server: `scripts/test` starts one and sets
//! `WARDEN_TEST_REDIS` (e.g. `redis://127.0.0.1:6391`). Under CI a missing
//! server fails the test; elsewhere the test says it was skipped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use warden_tests::*;

fn redis_base() -> Option<String> {
    match std::env::var("WARDEN_TEST_REDIS") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("WARDEN_TEST_REDIS is not set: scripts/test starts Redis")
        }
        Err(_) => {
            eprintln!("SKIPPED: no WARDEN_TEST_REDIS (run scripts/test to start Redis)");
            None
        }
    }
}

/// A Redis database of its own for one test, emptied first.
async fn fresh_db(base: &str, db: u8) -> String {
    let url = format!("{}/{db}", base.trim_end_matches('/'));
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("FLUSHDB").query_async(&mut conn).await.unwrap();
    url
}

/// A `warden-host serve` process; killed when dropped.
struct HostProcess {
    child: Child,
    addr: String,
    _state: TempDir,
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn host_binary() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let bin = target.join("debug/warden-host");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/test (it builds the host)",
        bin.display()
    );
    bin
}

fn spawn_host(redis_url: &str, policy: &str) -> HostProcess {
    let state = TempDir::new("proc");
    let mut child = Command::new(host_binary())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--key-value-redis",
            redis_url,
        ])
        .arg("--app")
        .arg(wasm("echo_app"))
        .arg("--middleware")
        .arg(wasm("warden"))
        .arg("--state-dir")
        .arg(state.path())
        .arg("--variable")
        .arg(format!("policy={policy}"))
        .env_remove("SPIN_VARIABLE_POLICY")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("warden-host starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("host printed its address").unwrap();
        if let Some(rest) = line.strip_prefix("warden-host: serving on http://") {
            break rest.trim().to_owned();
        }
    };
    // Keep draining the host's stderr so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    HostProcess {
        child,
        addr,
        _state: state,
    }
}

#[tokio::test]
async fn two_host_processes_on_one_redis_admit_exactly_the_limit() {
    let Some(base) = redis_base() else { return };
    let limit = 40;
    let policy = format!(
        "[[routes]]\nname = \"limited\"\npath = \"/*\"\nrate_limit = {{ requests = {limit}, window = \"1h\" }}\n"
    );
    for run in 0..3u8 {
        let url = fresh_db(&base, 1 + run).await;
        let hosts = [spawn_host(&url, &policy), spawn_host(&url, &policy)];
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<bytes::Bytes>>();
        let client = Arc::new(client);
        let mut tasks = Vec::new();
        for host in &hosts {
            for c in 0..32 {
                let client = client.clone();
                let uri: http::Uri = format!("http://{}/x/{c}", host.addr).parse().unwrap();
                tasks.push(tokio::spawn(async move {
                    let mut admitted = 0;
                    for _ in 0..3 {
                        let resp = client.get(uri.clone()).await.unwrap();
                        match resp.status().as_u16() {
                            200 => admitted += 1,
                            429 => {}
                            other => panic!("unexpected {other}"),
                        }
                    }
                    admitted
                }));
            }
        }
        let mut admitted = 0;
        for t in tasks {
            admitted += t.await.unwrap();
        }
        eprintln!(
            "run {run}: 2 processes x 32 clients x 3 requests on one Redis, limit {limit}: admitted {admitted}"
        );
        assert_eq!(admitted, limit, "run {run}");
        // Redis keeps the counter as a decimal string, as Spin's Redis store does.
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("rl:w*")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(keys.len(), 1, "{keys:?}");
        let raw: String = redis::cmd("GET")
            .arg(&keys[0])
            .query_async(&mut conn)
            .await
            .unwrap();
        let count: i64 = raw
            .parse()
            .unwrap_or_else(|_| panic!("not a decimal counter: {raw:?}"));
        // Every admitted request and each instance's first refusal were
        // counted; later refusals were answered from memory, unwritten.
        assert!((limit as i64 + 1..=32 * 2 * 3).contains(&count), "{count}");
    }
}

#[tokio::test]
async fn the_redis_store_serves_warden_in_process_too() {
    let Some(base) = redis_base() else { return };
    let url = fresh_db(&base, 9).await;
    let state = TempDir::new("redis-inproc");
    let host = Host::start(HostOptions {
        app: wasm("echo_app"),
        middleware: vec![wasm("warden")],
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: state.path().to_owned(),
        migrations: Some(root().join("migrations.sql")),
        variables: [(
            "policy".to_string(),
            "[[routes]]\nname = \"r\"\npath = \"/*\"\nrate_limit = { requests = 2, window = \"1h\" }\n".to_string(),
        )]
        .into(),
        variables_from_env: false,
        cache_dir: Some(root().join("target/warden-host-cache")),
        guest_log: GuestLog::quiet(),
        key_value_redis: Some(url),
        ..HostOptions::default()
    })
    .await
    .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let resp = client
            .get(format!("http://{}/x", host.addr()).parse().unwrap())
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);
    let resp = client
        .get(
            format!("http://{}/.warden/ready", host.addr())
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "key-value reads work on Redis");
}

/// Issue 14's exactly-once test across machines: 32 identical keyed
/// requests spread over two host processes sharing one Redis; the app runs
/// once and every client ends with the same response. Under Spin's Redis
/// store every compare-and-swap reports failure after writing
/// (`host/kv.rs`), so this also checks warden's read-back of the swap.
#[tokio::test]
async fn thirty_two_keyed_requests_over_two_processes_on_one_redis_run_the_app_once() {
    let Some(base) = redis_base() else { return };
    let policy = "[[routes]]\nname = \"orders\"\npath = \"/api/orders\"\nidempotency = { required = true, claim_ttl = \"10s\" }\ntimeout = \"5s\"\n";
    for run in 0..2u8 {
        let url = fresh_db(&base, 12 + run).await;
        let hosts = [spawn_host(&url, policy), spawn_host(&url, policy)];
        let urls = hosts
            .iter()
            .map(|h| format!("http://{}/api/orders", h.addr))
            .collect();
        crate::idempotency::race(urls, &format!("redis-race-{run}")).await;
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("warden:idem:*")
            .query_async(&mut conn)
            .await
            .unwrap();
        // The operation's two slots (and at most one sweep election key).
        let slots = keys.iter().filter(|k| !k.ends_with(":sweep")).count();
        assert_eq!(slots, 2, "{keys:?}");
    }
}

/// The minimal flavour's approximate limiter (docs/rate-limiting.md, "The
/// minimal flavour: approximate limits") across K instances sharing one store: a client
/// spread over them gets at least the limit and at most the documented bound,
/// and the instances' key-value writes stay within their write budget.
#[tokio::test]
async fn the_minimal_flavours_approximate_limit_stays_within_its_bound_over_three_instances() {
    let Some(base) = redis_base() else { return };
    const K: usize = 3;
    let limit = 30u64;
    let writes_per_second = 5u64;
    let policy_for = |sync_ms: u64| {
        format!(
            "[rate_limit]\napproximate = {{ sync_interval = \"{sync_ms}ms\", writes_per_second = {writes_per_second} }}\n\
             [[routes]]\nname = \"limited\"\npath = \"/*\"\nrate_limit = {{ requests = {limit}, window = \"1h\" }}\n"
        )
    };
    // The defaults' interval, and a shorter one with a tighter bound.
    for (db, sync_ms) in [(10u8, 1000u64), (11, 200)] {
        let policy = policy_for(sync_ms);
        let url = fresh_db(&base, db).await;
        let mut hosts = Vec::new();
        let mut states = Vec::new();
        for _ in 0..K {
            let state = TempDir::new("approx");
            hosts.push(
                Host::start(HostOptions {
                    app: wasm("echo_app"),
                    middleware: vec![wasm("warden-minimal")],
                    listen: "127.0.0.1:0".parse().unwrap(),
                    state_dir: state.path().to_owned(),
                    variables: [("policy".to_string(), policy.clone())].into(),
                    variables_from_env: false,
                    cache_dir: Some(root().join("target/warden-host-cache")),
                    guest_log: GuestLog::quiet(),
                    key_value_redis: Some(url.clone()),
                    profile: warden_host::Profile::Minimal,
                    ..HostOptions::default()
                })
                .await
                .unwrap(),
            );
            states.push(state);
        }
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<bytes::Bytes>>();
        let redis = redis::Client::open(url.as_str()).unwrap();
        let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
        let writes = async |conn: &mut redis::aio::MultiplexedConnection| -> u64 {
            let info: String = redis::cmd("INFO")
                .arg("commandstats")
                .query_async(conn)
                .await
                .unwrap();
            info.lines()
                .filter(|l| l.starts_with("cmdstat_set:") || l.starts_with("cmdstat_del:"))
                .filter_map(|l| {
                    l.split("calls=")
                        .nth(1)?
                        .split(',')
                        .next()?
                        .parse::<u64>()
                        .ok()
                })
                .sum()
        };
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async(&mut conn)
            .await
            .unwrap();

        // One client, round robin over the instances, one request every 10 ms.
        let started = std::time::Instant::now();
        let total = 6 * limit as usize;
        let mut admitted = 0u64;
        for n in 0..total {
            let uri: http::Uri = format!("http://{}/x", hosts[n % K].addr()).parse().unwrap();
            match client.get(uri).await.unwrap().status().as_u16() {
                200 => admitted += 1,
                429 => {}
                other => panic!("unexpected {other}"),
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let written = writes(&mut conn).await;

        // The bound (docs/rate-limiting.md, "The error bound"): the limit, plus
        // what the other K-1 instances count in one sync interval before they
        // hear of each other (r) and what they had not yet written (min(c, r)).
        let r = ((total as f64 / K as f64) / elapsed * (sync_ms as f64 / 1000.0)).ceil();
        let c = (limit / 16).max(1) as f64;
        let bound =
            (limit as f64 + (K as f64 - 1.0) * (r + c.min(r))).min((K as u64 * limit) as f64);
        let budget = (K as u64) * (writes_per_second * elapsed.ceil() as u64 + writes_per_second);
        eprintln!(
            "approximate limit {limit}, {K} instances, sync {sync_ms} ms: {total} requests in {elapsed:.2} s, \
             admitted {admitted} (bound {bound:.1}); {written} store writes (budget {budget})"
        );
        assert!(admitted >= limit, "admitted {admitted} < limit {limit}");
        assert!(
            (admitted as f64) <= bound,
            "admitted {admitted} > bound {bound:.1}"
        );
        assert!(written <= budget, "{written} writes > budget {budget}");
    }
}
