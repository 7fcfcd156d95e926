//! No response waits on the network. The local host, like Spin, does not set
//! `TCP_NODELAY`, so a response whose head and body leave as two small
//! writes waits for the client's delayed ACK (40 ms or more) on a keep-alive
//! connection. Each case is timed over many requests on one connection,
//! interleaved with the same requests through the do-nothing middleware so
//! that both see the same load: a stall costs 40 ms, the budget is a few
//! milliseconds over the floor.
//!
//! (The local host's scheduling differs from Spin's: some write patterns
//! that stall under Spin do not stall here. `tests/spin` is the authority;
//! see docs/performance.md.)

use std::time::{Duration, Instant};
use warden_tests::*;

const REQUESTS: usize = 60;
const STALL: Duration = Duration::from_millis(35);

async fn timed(host: &TestHost, path: &str, expect: u16) -> Duration {
    let start = Instant::now();
    let reply = host.get(path).await;
    let took = start.elapsed();
    assert_eq!(reply.status, expect, "{path}");
    took
}

/// Sorted latencies of `REQUESTS` requests to each of `a` and `b`, taken
/// in turns, each on its own keep-alive connection.
async fn interleaved(
    a: (&TestHost, &str, u16),
    b: (&TestHost, &str, u16),
) -> (Vec<Duration>, Vec<Duration>) {
    timed(a.0, a.1, a.2).await;
    timed(b.0, b.1, b.2).await;
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..REQUESTS {
        ta.push(timed(a.0, a.1, a.2).await);
        tb.push(timed(b.0, b.1, b.2).await);
    }
    ta.sort();
    tb.sort();
    (ta, tb)
}

fn median(times: &[Duration]) -> Duration {
    times[times.len() / 2]
}

fn stalled(times: &[Duration]) -> usize {
    times.iter().filter(|t| **t >= STALL).count()
}

#[tokio::test]
async fn no_response_waits_for_a_delayed_ack() {
    for mode in MODES {
        let floor = TestHost::start(Setup {
            middleware: "noop_middleware",
            ..Setup::default().reuse(mode)
        })
        .await;
        let streaming = TestHost::start(Setup::default().reuse(mode)).await;
        let collecting =
            TestHost::start(Setup::default().reuse(mode).policy(COLLECT_SMALL_RESPONSES)).await;
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
            let (base, times) = interleaved((&floor, "/x", 200), (host, path, status)).await;
            // One request in an instance's life may be slow (its first,
            // which loads the configuration); no more than the floor else.
            assert!(
                stalled(&times) <= stalled(&base) + 1
                    && median(&times) <= median(&base) * 2 + Duration::from_millis(5),
                "{mode:?}, {what}: median {:?} (no-op {:?}), {} of {REQUESTS} over 35 ms (no-op {})",
                median(&times),
                median(&base),
                stalled(&times),
                stalled(&base)
            );
        }
    }
}
