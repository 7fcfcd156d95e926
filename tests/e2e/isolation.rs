//! Requests must not leak into each other. Instances are reused for many
//! requests, some at once (DESIGN §1), so one request's identity headers,
//! request ID or body must never show up in another's.

use std::collections::HashSet;
use warden_tests::*;

/// What one request carried and what the app saw.
async fn one(host: &TestHost, n: usize) -> (usize, serde_json::Value) {
    one_slow(host, n, 0).await
}

/// As [`one`], with the app taking `delay_ms` to answer.
async fn one_slow(host: &TestHost, n: usize, delay_ms: u64) -> (usize, serde_json::Value) {
    let delay = delay_ms.to_string();
    // Odd requests carry an identity-like payload; even ones carry nothing.
    let reply = if n % 2 == 1 {
        let id = format!("req-{n}");
        let spoof = format!("user-{n}");
        let body = vec![b'a'; n];
        host.send(
            "POST",
            &format!("/api/item/{n}"),
            &[
                ("x-request-id", id.as_bytes()),
                ("x-warden-user-id", spoof.as_bytes()),
                ("x-tenant", spoof.as_bytes()),
                ("x-echo-delay-ms", delay.as_bytes()),
            ],
            &body,
        )
        .await
    } else {
        host.send(
            "GET",
            &format!("/api/item/{n}"),
            &[("x-echo-delay-ms", delay.as_bytes())],
            b"",
        )
        .await
    };
    assert_eq!(reply.status, 200);
    let echo = reply.json();
    assert_eq!(
        echo["headers"]["x-request-id"].as_str(),
        reply.header("x-request-id"),
        "the app and the client see the same id"
    );
    (n, echo)
}

fn check(n: usize, echo: &serde_json::Value, generated: &mut HashSet<String>) {
    let headers = echo["headers"].as_object().unwrap();
    assert_eq!(echo["path"], format!("/api/item/{n}"));
    assert!(
        !headers.contains_key("x-warden-user-id"),
        "request {n}: spoofed identity reached the app"
    );
    if n % 2 == 1 {
        assert_eq!(headers["x-request-id"], format!("req-{n}"));
        assert_eq!(headers["x-tenant"], format!("user-{n}"));
        assert_eq!(echo["body_len"], n);
    } else {
        let id = headers["x-request-id"].as_str().unwrap();
        assert!(
            !id.starts_with("req-"),
            "request {n} got another request's id {id}"
        );
        assert!(
            generated.insert(id.to_owned()),
            "request {n} reused id {id}"
        );
        assert!(
            !headers.contains_key("x-tenant"),
            "request {n} saw another request's header"
        );
        assert_eq!(
            echo["body_len"], 0,
            "request {n} saw another request's body"
        );
    }
}

#[tokio::test]
async fn sequential_requests_in_one_instance_do_not_leak() {
    let host = TestHost::start(Setup::default()).await;
    let mut generated = HashSet::new();
    for n in 0..60 {
        let (n, echo) = one(&host, n).await;
        check(n, &echo, &mut generated);
    }
    assert_eq!(
        host.host.instances_created(),
        1,
        "all served by one reused instance"
    );
}

/// Starts `count` requests 15 ms apart, each taking 250 ms in the app, so
/// they overlap. An instance takes a new request whenever its current ones
/// are blocked on I/O (wasmtime-wasi-http's `ProxyHandler`, as in Spin), so a
/// warm instance serves them all at once.
async fn overlapping(
    host: &std::sync::Arc<TestHost>,
    first: usize,
    count: usize,
) -> Vec<(usize, serde_json::Value)> {
    let mut tasks = Vec::new();
    for n in first..first + count {
        let host = host.clone();
        tasks.push(tokio::spawn(async move { one_slow(&host, n, 250).await }));
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn concurrent_requests_in_one_instance_do_not_leak() {
    let host = std::sync::Arc::new(TestHost::start(Setup::default()).await);
    assert_eq!(host.get("/warm-up").await.status, 200);
    // The warm-up claimed the rate limit's sweep, which runs after its
    // response and, with async store calls, takes one of the instance's 16
    // slots for a moment: let it finish first.
    settle(&host).await;
    let started = std::time::Instant::now();
    let mut generated = HashSet::new();
    for (n, echo) in overlapping(&host, 0, 16).await {
        check(n, &echo, &mut generated);
    }
    assert_eq!(
        host.host.instances_created(),
        1,
        "one warm instance served all 16"
    );
    // 16 requests of 250 ms each finished in far less than 16 x 250 ms:
    // they were in the one instance at the same time.
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_burst_across_many_instances_does_not_leak() {
    for mode in MODES {
        let host = std::sync::Arc::new(TestHost::start(Setup::default().reuse(mode)).await);
        let tasks: Vec<_> = (0..96)
            .map(|n| {
                let host = host.clone();
                tokio::spawn(async move { one(&host, n).await })
            })
            .collect();
        let mut generated = HashSet::new();
        for t in tasks {
            let (n, echo) = t.await.unwrap();
            check(n, &echo, &mut generated);
        }
        if mode == Reuse::PerRequest {
            assert_eq!(host.host.instances_created(), 96);
        }
    }
}
