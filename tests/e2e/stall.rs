//! No response waits on the network. The local host, like Spin, does not set
//! `TCP_NODELAY`, so a response whose head and body leave as two small
//! writes waits for the client's delayed ACK (about 40 ms) on a keep-alive
//! connection. Each case is timed over many requests on one connection and
//! compared with the do-nothing middleware measured in the same test: a
//! stall is 40 ms, the budget is a few milliseconds over the floor.

use std::time::{Duration, Instant};
use warden_tests::*;

const REQUESTS: usize = 60;

/// Latencies of `REQUESTS` sequential requests on one keep-alive connection
/// (after one to open it), sorted.
async fn latencies(host: &TestHost, path: &str, expect: u16) -> Vec<Duration> {
    host.get(path).await;
    let mut times = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let start = Instant::now();
        let reply = host.get(path).await;
        times.push(start.elapsed());
        assert_eq!(reply.status, expect, "{path}");
    }
    times.sort();
    times
}

fn median(times: &[Duration]) -> Duration {
    times[times.len() / 2]
}

/// Requests slower than any plausible cost of the work itself.
fn stalled(times: &[Duration]) -> usize {
    times
        .iter()
        .filter(|t| **t >= Duration::from_millis(35))
        .count()
}

#[tokio::test]
async fn no_response_waits_for_a_delayed_ack() {
    /// Collects small responses (the opt-in buffered mode).
    const COLLECTING: &str = r#"
        [settings]
        response_buffer_limit = 65536
        [[routes]]
        name = "all"
        path = "/*"
    "#;
    for mode in MODES {
        let floor_host = TestHost::start(Setup {
            middleware: "noop_middleware",
            ..Setup::default().reuse(mode)
        })
        .await;
        let floor = latencies(&floor_host, "/x", 200).await;
        let budget = median(&floor) * 2 + Duration::from_millis(5);

        let streaming = TestHost::start(Setup::default().reuse(mode)).await;
        let collecting = TestHost::start(Setup::default().reuse(mode).policy(COLLECTING)).await;
        let cases: [(&str, &TestHost, &str, u16); 4] = [
            (
                "the app's response, streamed (default)",
                &streaming,
                "/x",
                200,
            ),
            ("the app's response, collected", &collecting, "/x", 200),
            ("warden's own 400", &streaming, "/a/%2e%2e/x", 400),
            (
                "warden's own 400, collecting",
                &collecting,
                "/a/%2e%2e/x",
                400,
            ),
        ];
        for (what, host, path, status) in cases {
            let times = latencies(host, path, status).await;
            // One request in each instance's life may be slow (the first,
            // which loads the configuration); none other.
            assert!(
                stalled(&times) <= 1 && median(&times) <= budget,
                "{mode:?}, {what}: median {:?} (no-op {:?}), {} of {REQUESTS} over 35 ms",
                median(&times),
                median(&floor),
                stalled(&times)
            );
        }
    }
}
