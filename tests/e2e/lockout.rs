//! Failed-login lockout (docs/hardening.md) through the real component in
//! front of the echo app, whose `x-echo-status: 401` plays a failed login:
//! an account is locked after `max_failures` failures from any addresses,
//! an address after as many failures for any accounts; a locked request is
//! refused (429 or 423, `Retry-After`, a JSON body) without calling the app
//! (`x-echo-fail: error` would make it a 502); a success resets the
//! account's count; a lock expires; other accounts and addresses go on.
//! Hostile bodies and headers get their documented answers and never trap,
//! and the raw account never reaches the log or the store's keys.

use sha2::{Digest, Sha256};
use std::time::Duration;
use warden_host::{Fault, Op};
use warden_tests::*;

pub(crate) const POLICY: &str = r#"
[rate_limit]
client_ip = "x-real-ip"

# The tests count every login_failed line; sampling would cap them at 10
# per client prefix and window.
[security_events]
sample_per_window = 1000

[lockout]
max_failures = 3
window = "1m"

[[routes]]
name = "login"
path = "/auth/login"
rate_limit = "off"
lockout = { account = "json:email" }

[[routes]]
name = "quick"
path = "/quick/login"
rate_limit = "off"
lockout = { account = "json:email", duration = "2s" }

[[routes]]
name = "many"
path = "/many/login"
rate_limit = "off"
lockout = { account = "json:email", max_failures = 100 }

[[routes]]
name = "form"
path = "/form/login"
rate_limit = "off"
lockout = { account = "form:username", status = 423 }

[[routes]]
name = "header"
path = "/header/login"
rate_limit = "off"
lockout = { account = "header:x-login-account" }

[[routes]]
name = "web"
path = "/*"
rate_limit = "off"
"#;

async fn start(mode: Reuse) -> TestHost {
    TestHost::start(Setup::default().policy(POLICY).reuse(mode)).await
}

/// A login attempt from `ip`; `fail` makes the app answer 401, and
/// `extra` adds headers.
pub(crate) async fn attempt(
    host: &TestHost,
    path: &str,
    ip: &str,
    body: &[u8],
    fail: bool,
    extra: &[(&str, &[u8])],
) -> Reply {
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("x-real-ip", ip.as_bytes()),
        ("content-type", b"application/json"),
    ];
    if fail {
        headers.push(("x-echo-status", b"401"));
    }
    headers.extend_from_slice(extra);
    host.send("POST", path, &headers, body).await
}

pub(crate) fn email(address: &str) -> Vec<u8> {
    format!(r#"{{"email":"{address}","password":"hunter2"}}"#).into_bytes()
}

/// Asserts `reply` is the lock's refusal with `status`, and returns its
/// `Retry-After`.
pub(crate) fn assert_locked(reply: &Reply, status: u16) -> u64 {
    assert_eq!(reply.status, status, "{}", text(reply));
    let retry: u64 = reply
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After: {:?}", reply.headers));
    assert!(retry >= 1, "{retry}");
    let body = reply.json();
    assert_eq!(body["error"]["code"], "LOGIN_LOCKED", "{body}");
    assert_eq!(body["error"]["retryAfter"], retry, "{body}");
    assert_eq!(
        body["error"]["message"],
        format!("Too many failed login attempts. Try again in {retry} seconds.")
    );
    assert!(reply.header("x-request-id").is_some());
    retry
}

/// `max_failures` (3) failed logins with `body` and `extra`, each from its
/// own address (`{net}.1`, `{net}.2`, …), so that only the account counts
/// up; each is answered by the app (401), whose answers come back.
async fn fail_three_times(
    host: &TestHost,
    path: &str,
    net: &str,
    body: &[u8],
    extra: &[(&str, &[u8])],
) -> Vec<Reply> {
    let mut replies = Vec::new();
    for i in 1..=3 {
        let reply = attempt(host, path, &format!("{net}.{i}"), body, true, extra).await;
        assert_eq!(reply.status, 401, "{path} #{i}: {}", text(&reply));
        replies.push(reply);
    }
    replies
}

/// Were the app called, it would fail: a 502 instead of the refusal.
const APP_FAILS: (&str, &[u8]) = ("x-echo-fail", b"error");

#[tokio::test]
async fn an_account_is_locked_after_max_failures_from_any_address() {
    for mode in MODES {
        let host = start(mode).await;
        let body = email("Victim@Example.com");
        for reply in fail_three_times(&host, "/auth/login", "10.0.0", &body, &[]).await {
            // The buffered body reaches the app byte for byte.
            assert_eq!(
                reply.json()["body_sha256"],
                format!("{:x}", Sha256::digest(&body)),
            );
        }
        // The same account, spelled otherwise, from a fresh address.
        let respelled = email("  victim@EXAMPLE.com ");
        let reply = attempt(
            &host,
            "/auth/login",
            "10.0.0.9",
            &respelled,
            false,
            &[APP_FAILS],
        )
        .await;
        let retry = assert_locked(&reply, 429);
        assert!(retry <= 900, "{retry}");
        // Another account from that address is not affected.
        let reply = attempt(
            &host,
            "/auth/login",
            "10.0.0.9",
            &email("other@example.com"),
            false,
            &[],
        )
        .await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));

        let log = host.log();
        for event in ["login_failed", "login_locked", "login_lock_refused"] {
            assert!(
                log.contains(&format!("\"{event}\"")),
                "{mode:?}: {event}: {log}"
            );
        }
        assert!(log.contains(r#""scope":"account""#), "{log}");
        assert!(!log.to_ascii_lowercase().contains("victim"), "{log}");
        assert!(!log.contains("hunter2"), "{log}");
        assert!(!log.contains("inner_app_failed"), "{log}");
        let keys = host.kv_keys().join("\n");
        assert!(!keys.to_ascii_lowercase().contains("victim"), "{keys}");
        assert!(keys.contains("warden:fail:login-lock:acct:"), "{keys}");
    }
}

#[tokio::test]
async fn an_address_is_locked_whatever_the_accounts() {
    for mode in MODES {
        let host = start(mode).await;
        for name in ["a", "b", "c"] {
            let reply = attempt(
                &host,
                "/auth/login",
                "10.0.1.1",
                &email(&format!("{name}@example.com")),
                true,
                &[],
            )
            .await;
            assert_eq!(reply.status, 401, "{mode:?}: {}", text(&reply));
        }
        // A fourth account from that address: refused before the app.
        let reply = attempt(
            &host,
            "/auth/login",
            "10.0.1.1",
            &email("d@example.com"),
            false,
            &[APP_FAILS],
        )
        .await;
        assert_locked(&reply, 429);
        // So is a request naming no account at all.
        let reply = attempt(&host, "/auth/login", "10.0.1.1", b"", false, &[APP_FAILS]).await;
        assert_locked(&reply, 429);
        // The same account from another address goes through.
        let reply = attempt(
            &host,
            "/auth/login",
            "10.0.1.2",
            &email("d@example.com"),
            false,
            &[],
        )
        .await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        // Routes without `lockout` are not login routes.
        let reply = host.get_with("/other", &[("x-real-ip", "10.0.1.1")]).await;
        assert_eq!(reply.status, 200);
        assert!(host.log().contains(r#""scope":"address""#));
    }
}

#[tokio::test]
async fn a_success_resets_the_account_count() {
    for mode in MODES {
        let host = start(mode).await;
        let body = email("carol@example.com");
        let mut ip = 0;
        let mut next_ip = || {
            ip += 1;
            format!("10.0.2.{ip}")
        };
        for _ in 0..2 {
            let reply = attempt(&host, "/auth/login", &next_ip(), &body, true, &[]).await;
            assert_eq!(reply.status, 401);
        }
        let reply = attempt(&host, "/auth/login", &next_ip(), &body, false, &[]).await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        // Two more failures: four in the window, but two since the success.
        for _ in 0..2 {
            let reply = attempt(&host, "/auth/login", &next_ip(), &body, true, &[]).await;
            assert_eq!(reply.status, 401, "{mode:?}: {}", text(&reply));
        }
        let reply = attempt(&host, "/auth/login", &next_ip(), &body, true, &[]).await;
        assert_eq!(
            reply.status, 401,
            "{mode:?}: the third since the success locks"
        );
        let reply = attempt(&host, "/auth/login", &next_ip(), &body, false, &[APP_FAILS]).await;
        assert_locked(&reply, 429);
    }
}

/// Attack: an attacker guessing a victim's password from many addresses
/// resets the victim's count between guesses with a login that names the
/// victim as a decoy beside the attacker's own account (the app, taking
/// the last member, logs the attacker in: a 2xx). A success clears an
/// account's count only when the request names that account alone.
#[tokio::test]
async fn a_success_naming_a_decoy_account_does_not_reset_its_count() {
    for mode in MODES {
        let host = start(mode).await;
        let victim = email("victim@example.com");
        for i in 1..=2 {
            let reply = attempt(
                &host,
                "/auth/login",
                &format!("10.0.9.{i}"),
                &victim,
                true,
                &[],
            )
            .await;
            assert_eq!(reply.status, 401, "{mode:?}: {}", text(&reply));
        }
        let decoy =
            br#"{"email":"victim@example.com","email":"mallory@example.com","password":"mine"}"#;
        let reply = attempt(&host, "/auth/login", "10.0.9.3", decoy, false, &[]).await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
        let reply = attempt(&host, "/auth/login", "10.0.9.4", &victim, true, &[]).await;
        assert_eq!(reply.status, 401, "{mode:?}: {}", text(&reply));
        // The third failure locked the victim: the decoy reset nothing.
        let reply = attempt(
            &host,
            "/auth/login",
            "10.0.9.5",
            &victim,
            false,
            &[APP_FAILS],
        )
        .await;
        assert_locked(&reply, 429);
    }
}

/// Attack: a password guess for a victim in a body the app's parser reads
/// but serde_json does not (a lone surrogate or a non-UTF-8 byte in another
/// member's name, a form on a JSON route) named no account, so it counted
/// against the address only and a run spread over many addresses never
/// locked the victim. Such a body is refused before the app.
#[tokio::test]
async fn a_login_body_warden_cannot_read_is_refused_not_counted_by_address() {
    for mode in MODES {
        let host = start(mode).await;
        let form = &b"email=victim%40example.com&password=guess"[..];
        let surrogate = &br#"{"\ud800":1,"email":"victim@example.com","password":"guess"}"#[..];
        let latin1 = &b"{\"\xe9\":1,\"email\":\"victim@example.com\",\"password\":\"guess\"}"[..];
        for (i, body) in [form, surrogate, latin1].into_iter().enumerate() {
            let reply = attempt(
                &host,
                "/auth/login",
                &format!("10.0.10.{i}"),
                body,
                true,
                &[APP_FAILS],
            )
            .await;
            assert_eq!(reply.status, 400, "{mode:?} #{i}: {}", text(&reply));
            assert_eq!(reply.json()["error"]["code"], "UNREADABLE_LOGIN");
        }
        assert!(host.log().contains(r#""reason":"unreadable_body""#));
    }
}

#[tokio::test]
async fn a_lock_expires_after_its_duration() {
    for mode in MODES {
        let host = start(mode).await;
        let body = email("dave@example.com");
        fail_three_times(&host, "/quick/login", "10.0.3", &body, &[]).await;
        let reply = attempt(
            &host,
            "/quick/login",
            "10.0.3.9",
            &body,
            false,
            &[APP_FAILS],
        )
        .await;
        assert!(assert_locked(&reply, 429) <= 2);
        tokio::time::sleep(Duration::from_millis(3_100)).await;
        let reply = attempt(&host, "/quick/login", "10.0.3.9", &body, false, &[]).await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", text(&reply));
    }
}

#[tokio::test]
async fn form_and_header_accounts_and_a_423() {
    for mode in MODES {
        let host = start(mode).await;
        let form = b"username=Bob%40example.com&password=x";
        let form_type: (&str, &[u8]) = ("content-type", b"application/x-www-form-urlencoded");
        for reply in fail_three_times(&host, "/form/login", "10.0.4", form, &[form_type]).await {
            assert_eq!(reply.json()["body_len"], form.len());
        }
        let reply = attempt(
            &host,
            "/form/login",
            "10.0.4.9",
            b"username=+bob@example.com",
            false,
            &[APP_FAILS],
        )
        .await;
        assert_locked(&reply, 423);

        let erin: (&str, &[u8]) = ("x-login-account", b"erin");
        fail_three_times(&host, "/header/login", "10.0.5", b"", &[erin]).await;
        let reply = attempt(
            &host,
            "/header/login",
            "10.0.5.9",
            b"",
            false,
            &[("x-login-account", b"ERIN"), APP_FAILS],
        )
        .await;
        assert_locked(&reply, 429);
        let reply = attempt(
            &host,
            "/header/login",
            "10.0.5.9",
            b"",
            false,
            &[("x-login-account", b"frank")],
        )
        .await;
        assert_eq!(reply.status, 200);
    }
}

#[tokio::test]
async fn hostile_login_requests_get_their_documented_answers() {
    for mode in MODES {
        let host = start(mode).await;
        // Malformed or non-UTF-8 JSON: 400 before the app, which might
        // have read an account from it that warden could not.
        for (i, body) in [
            &b"{\"email\":"[..],
            b"{\"email\":\"\xff\xfe\"}",
            b"[1,2",
            b"\x00\x01",
        ]
        .iter()
        .enumerate()
        {
            let reply = attempt(
                &host,
                "/auth/login",
                &format!("10.0.6.{i}"),
                body,
                false,
                &[APP_FAILS],
            )
            .await;
            assert_eq!(reply.status, 400, "{mode:?} {body:?}: {}", text(&reply));
            assert_eq!(reply.json()["error"]["code"], "UNREADABLE_LOGIN");
        }
        // A JSON object without the member names no account: the app
        // answers, and the failure counts by address only.
        let reply = attempt(
            &host,
            "/auth/login",
            "10.0.6.9",
            br#"{"email":7}"#,
            true,
            &[],
        )
        .await;
        assert_eq!(reply.status, 401, "{mode:?}: {}", text(&reply));
        assert!(
            !host.log().contains(r#""scope":"account""#),
            "{}",
            host.log()
        );
        // Over 64 KiB: 413 before the app, declared or not.
        let big = format!(
            r#"{{"email":"a@example.com","pad":"{}"}}"#,
            "x".repeat(70_000)
        );
        let reply = attempt(
            &host,
            "/auth/login",
            "10.0.6.20",
            big.as_bytes(),
            false,
            &[APP_FAILS],
        )
        .await;
        assert_eq!(reply.status, 413, "{}", text(&reply));
        assert_eq!(reply.json()["error"]["code"], "PAYLOAD_TOO_LARGE");
        // More than four accounts in one request: 400, the app not called.
        let many = br#"{"email":"a","email":"b","email":"c","email":"d","email":"e"}"#;
        let reply = attempt(&host, "/auth/login", "10.0.6.21", many, false, &[APP_FAILS]).await;
        assert_eq!(reply.status, 400, "{}", text(&reply));
        assert_eq!(reply.json()["error"]["code"], "AMBIGUOUS_LOGIN");
        let headers: Vec<(&str, &[u8])> = [b"h1", b"h2", b"h3", b"h4", b"h5"]
            .iter()
            .map(|v| ("x-login-account", &v[..]))
            .chain([APP_FAILS])
            .collect();
        let reply = attempt(&host, "/header/login", "10.0.6.22", b"", false, &headers).await;
        assert_eq!(reply.status, 400, "{}", text(&reply));
        // Two accounts in one request: each is charged, each is locked.
        let two = br#"{"email":"gina@example.com","email":"hank@example.com"}"#;
        fail_three_times(&host, "/auth/login", "10.0.7", two, &[]).await;
        for name in ["gina", "hank"] {
            let reply = attempt(
                &host,
                "/auth/login",
                "10.0.7.9",
                &email(&format!("{name}@example.com")),
                false,
                &[APP_FAILS],
            )
            .await;
            assert_locked(&reply, 429);
        }
        // Non-UTF-8 header value: an account like any other; no trap.
        let reply = attempt(
            &host,
            "/header/login",
            "10.0.6.30",
            b"",
            true,
            &[("x-login-account", b"\xffz\xfe")],
        )
        .await;
        assert_eq!(reply.status, 401);
        // The instance is still serving.
        let reply = attempt(
            &host,
            "/auth/login",
            "10.0.6.31",
            &email("ivy@example.com"),
            false,
            &[],
        )
        .await;
        assert_eq!(reply.status, 200, "{}", text(&reply));
        let log = host.log();
        assert!(!log.contains("inner_app_failed"), "{log}");
        for raw in ["gina", "hank", "ivy@"] {
            assert!(!log.contains(raw), "{raw}: {log}");
        }
    }
}

#[tokio::test]
async fn a_bad_lockout_setting_is_a_configuration_error_naming_the_field() {
    let policy = r#"
        [[routes]]
        name = "login"
        path = "/auth/login"
        lockout = { account = "xml:email", max_failures = 0, status = 500 }
    "#;
    let host = TestHost::start(Setup::default().policy(policy)).await;
    let reply = host.get("/auth/login").await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["error"]["code"], "CONFIGURATION_ERROR");
    let log = host.log();
    for field in [
        "routes[0].lockout.account",
        "routes[0].lockout.max_failures",
        "routes[0].lockout.status",
    ] {
        assert!(log.contains(field), "{field}: {log}");
    }
}

#[tokio::test]
async fn the_demo_locks_its_login_route_as_the_readme_says() {
    let host = TestHost::start(Setup::demo()).await;
    let body = br#"{"email":"demo@example.com","password":"x"}"#;
    let headers: [(&str, &[u8]); 2] = [
        ("x-echo-status", b"401"),
        ("content-type", b"application/json"),
    ];
    for i in 1..=3 {
        let reply = host.send("POST", "/auth/login", &headers, body).await;
        assert_eq!(reply.status, 401, "#{i}: {}", text(&reply));
        // Under the `auth` preset's 5 per 15 min, which still applies.
        assert_eq!(reply.header("x-ratelimit-limit"), Some("5"));
    }
    let reply = host.send("POST", "/auth/login", &headers, body).await;
    let retry = assert_locked(&reply, 429);
    assert!((899..=900).contains(&retry), "{retry}");
    // The README's rate-limit line uses another `/auth/*` path, so the two
    // lines do not get in each other's way.
    for i in 1..=5 {
        let reply = host.send("POST", "/auth/session", &[], b"").await;
        assert_eq!(reply.status, 200, "#{i}: {}", text(&reply));
    }
    assert_eq!(
        host.send("POST", "/auth/session", &[], b"").await.status,
        429
    );
}

#[tokio::test]
async fn concurrent_failures_are_all_counted() {
    for mode in MODES {
        let host = start(mode).await;
        let body = email("judy@example.com");
        let ips: Vec<String> = (1..=12).map(|i| format!("10.0.8.{i}")).collect();
        let replies = futures::future::join_all(
            ips.iter()
                .map(|ip| attempt(&host, "/many/login", ip, &body, true, &[])),
        )
        .await;
        assert!(replies.iter().all(|r| r.status == 401));
        // Atomic increments: the account's twelve failures are counted
        // 1, 2, …, 12, none lost and none counted twice.
        let mut counts: Vec<u64> = host
            .log()
            .lines()
            // Lines from concurrent instances may share a line of the
            // captured log: read every JSON value on it.
            .flat_map(|line| {
                serde_json::Deserializer::from_str(line)
                    .into_iter::<serde_json::Value>()
                    .map_while(Result::ok)
                    .collect::<Vec<_>>()
            })
            .filter(|event| event["event"] == "login_failed" && event["scope"] == "account")
            .filter_map(|event| event["failures"].as_u64())
            .collect();
        counts.sort();
        assert_eq!(
            counts,
            (1..=12).collect::<Vec<u64>>(),
            "{mode:?}: {}",
            host.log()
        );
    }
}

#[tokio::test]
async fn a_store_that_cannot_be_read_refuses_the_login_and_a_failed_count_keeps_the_answer() {
    let host = start(Reuse::Spin).await;
    let body = email("kim@example.com");
    // The lock cannot be read: 503, the app not called (fails closed).
    host.host.faults().set(Op::KvRead, Fault::Error);
    let reply = attempt(&host, "/auth/login", "10.0.9.1", &body, false, &[APP_FAILS]).await;
    assert_eq!(reply.status, 503, "{}", text(&reply));
    assert_eq!(reply.json()["error"]["code"], "SERVICE_UNAVAILABLE");
    host.host.faults().set(Op::KvRead, Fault::None);
    // The count cannot be written: the app's 401 stands, and it is logged.
    host.host.faults().set(Op::KvWrite, Fault::Error);
    let reply = attempt(&host, "/auth/login", "10.0.9.2", &body, true, &[]).await;
    assert_eq!(reply.status, 401, "{}", text(&reply));
    host.host.faults().set(Op::KvWrite, Fault::None);
    let log = host.log();
    assert!(log.contains("login_lock_check_failed"), "{log}");
    assert!(log.contains("login_count_failed"), "{log}");
}

#[tokio::test]
async fn a_login_body_that_does_not_arrive_in_time_is_a_408() {
    let host = start(Reuse::Spin).await;
    // 40 bytes announced, 10 sent, then nothing: refused once the 10 s
    // read timeout passes, the app never called.
    let head = "POST /auth/login HTTP/1.1\r\nhost: 127.0.0.1\r\nx-real-ip: 10.0.9.3\r\n\
                x-echo-fail: error\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n";
    let started = std::time::Instant::now();
    let reply = host
        .send_raw(vec![
            Piece::now(head.as_bytes().to_vec()),
            Piece::now(b"{\"email\":".to_vec()),
        ])
        .await;
    assert_eq!(reply.status, 408, "{}", text(&reply));
    assert_eq!(reply.json()["error"]["code"], "REQUEST_TIMEOUT");
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
}
