//! The demo under **real Spin**: `spin up` of this repository's `spin.toml`
//! (warden as Spin middleware in front of the echo app, on Spin's embedded
//! key-value store and SQLite database, or on Redis), driven over HTTP.
//!
//! These tests run where Spin 4.1+ is available: `scripts/test` sets
//! `WARDEN_TEST_SPIN` when `spin` is on the PATH (CI puts `../shared/bin`
//! there). Without it each test returns at once; `scripts/test` says so in
//! one line.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use warden_tests::spin::{SpinHost, SpinSetup, binary};
use warden_tests::*;

/// The demo's public DEV ONLY secrets (spin.toml's variable defaults).
const DEMO_WORKER_SECRET: &str = "dev-only-worker-secret-0123456789abcdef";
const DEMO_SESSION_SECRET: &str = "dev-only-session-secret-0123456789abcdef";
const DEMO_STRIPE_SECRET: &str = "whsec_dev-only-stripe-secret-0123456789abcdef";

/// Starts the demo under Spin, or `None` when Spin is not available.
async fn demo(setup: SpinSetup) -> Option<SpinHost> {
    let spin = binary()?;
    Some(SpinHost::start(&spin, setup).await)
}

/// One test at a time: each starts its own `spin` processes, and the
/// latency test must not share the two cores with a 64-client race.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hmac_base64(secret: &str, data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(data);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// A Better Auth user (with `role`) and a day-long session, written into
/// Spin's own database file as Better Auth writes them; the signed session
/// cookie that carries the session's token.
fn seed_session(spin: &SpinHost, user_id: &str, role: &str, token: &str) -> String {
    let db = rusqlite::Connection::open(spin.state_dir().join("sqlite_db.db")).unwrap();
    let now_ms = now_secs() as i64 * 1000;
    db.execute(
        r#"INSERT INTO "user" ("id","name","email","emailVerified","createdAt","updatedAt","role")
           VALUES (?1, 'Ada', ?1 || '@example.com', 1, ?2, ?2, ?3)"#,
        (user_id, iso8601_ms(now_ms), role),
    )
    .unwrap();
    db.execute(
        r#"INSERT INTO "session" ("id","expiresAt","token","createdAt","updatedAt","userId")
           VALUES ('s-' || ?4, ?1, ?2, ?3, ?3, ?4)"#,
        (
            iso8601_ms(now_ms + 86_400_000),
            token,
            iso8601_ms(now_ms),
            user_id,
        ),
    )
    .unwrap();
    let signed = format!(
        "{token}.{}",
        hmac_base64(DEMO_SESSION_SECRET, token.as_bytes())
    )
    .replace('+', "%2B")
    .replace('/', "%2F")
    .replace('=', "%3D");
    format!("better-auth.session_token={signed}")
}

/// Seed 000's worker signature headers for `body`, signed now with the
/// demo's worker secret.
fn worker_signed(body: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let ts = now_secs().to_string();
    let mut signed_over = format!("{ts}:").into_bytes();
    signed_over.extend_from_slice(body);
    let signature = hmac_base64(DEMO_WORKER_SECRET, &signed_over);
    vec![
        ("x-worker-signature", signature.into_bytes()),
        ("x-worker-timestamp", ts.into_bytes()),
        ("content-type", b"application/json".to_vec()),
    ]
}

fn as_headers<'a>(list: &'a [(&'static str, Vec<u8>)]) -> Vec<(&'static str, &'a [u8])> {
    list.iter().map(|(n, v)| (*n, v.as_slice())).collect()
}

#[tokio::test]
async fn request_id_and_header_hygiene() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(spin) = demo(SpinSetup::default()).await else {
        return;
    };
    let kept = spin
        .get_with(
            "/api/x",
            &[
                ("x-request-id", "trace-abc.123"),
                ("x-warden-user-id", "spoofed"),
                ("X-Warden-Auth", "session"),
            ],
        )
        .await;
    assert_eq!(kept.status, 200, "{}", spin.output());
    assert_eq!(kept.header("x-request-id"), Some("trace-abc.123"));
    let seen = kept.echoed_headers();
    assert_eq!(seen["x-request-id"], "trace-abc.123");
    assert_eq!(seen["x-warden-route"], "api");
    assert!(seen.get("x-warden-user-id").is_none(), "{seen:?}");
    assert!(seen.get("x-warden-auth").is_none(), "{seen:?}");

    let fresh = spin
        .get_with("/api/x", &[("x-request-id", "bad id!")])
        .await;
    let id = fresh.header("x-request-id").unwrap();
    assert_eq!(id.len(), 36, "a UUID replaces an invalid id: {id}");
    assert_eq!(fresh.echoed_headers()["x-request-id"], id);
}

#[tokio::test]
async fn security_headers_and_cors() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(spin) = demo(SpinSetup::default()).await else {
        return;
    };
    let page = spin.get("/page").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(
        csp.contains("'nonce-"),
        "the web route asks for a nonce: {csp}"
    );
    assert!(
        page.header("strict-transport-security").is_none(),
        "no HSTS outside production"
    );

    let preflight = spin
        .send(
            "OPTIONS",
            "/api/x",
            &[
                ("origin", b"https://app.example.com"),
                ("access-control-request-method", b"POST"),
            ],
            b"",
        )
        .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        preflight.header("access-control-allow-credentials"),
        Some("true")
    );

    let foreign = spin
        .get_with("/api/x", &[("origin", "https://evil.example")])
        .await;
    assert_eq!(foreign.status, 200);
    assert!(foreign.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn rate_limit_seed_answer() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(spin) = demo(SpinSetup::default()).await else {
        return;
    };
    for i in 0..5 {
        let r = spin.send("POST", "/auth/login", &[], b"").await;
        assert_eq!(r.status, 200, "request {i}: {}", spin.output());
        assert_eq!(r.header("x-ratelimit-limit"), Some("5"));
        assert_eq!(
            r.header("x-ratelimit-remaining"),
            Some(&*(4 - i).to_string())
        );
    }
    let refused = spin.send("POST", "/auth/login", &[], b"").await;
    assert_eq!(refused.status, 429);
    let body = refused.json();
    assert_eq!(body["error"], "Too many requests");
    let retry = body["retryAfter"].as_u64().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_eq!(
        body["message"],
        format!("Rate limit exceeded. Try again in {retry} seconds.")
    );
    assert_eq!(refused.header("retry-after"), Some(&*retry.to_string()));
    assert_eq!(refused.header("x-frame-options"), Some("DENY"));
}

#[tokio::test]
async fn sessions_from_spins_database() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(spin) = demo(SpinSetup::default()).await else {
        return;
    };
    let anonymous = spin.get("/api/protected/me").await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        std::str::from_utf8(&anonymous.body).unwrap(),
        r#"{"error":{"code":"UNAUTHORIZED","message":"Authentication required"}}"#
    );

    // A user and session as Better Auth writes them, in Spin's own file.
    let cookie = seed_session(&spin, "u-spin", "admin", "SpinSuiteToken0123456789abcdefgh");
    for _ in 0..2 {
        // The first read goes to SQLite, the second to the key-value cache.
        let me = spin
            .get_with("/api/admin/panel", &[("cookie", &cookie)])
            .await;
        assert_eq!(me.status, 200, "{}", spin.output());
        let seen = me.echoed_headers();
        assert_eq!(seen["x-warden-user-id"], "u-spin");
        assert_eq!(seen["x-warden-user-role"], "admin");
        assert_eq!(seen["x-warden-auth"], "session");
    }
}

#[tokio::test]
async fn worker_signatures() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(spin) = demo(SpinSetup::default()).await else {
        return;
    };
    let body = br#"{"event":"deploy"}"#;
    let unsigned = spin.send("POST", "/internal/hook", &[], body).await;
    assert_eq!(unsigned.status, 401);
    assert_eq!(unsigned.json()["error"], "Missing authentication headers");

    let signed = worker_signed(body);
    let headers = as_headers(&signed);
    let ok = spin.send("POST", "/internal/hook", &headers, body).await;
    assert_eq!(ok.status, 200, "{}", spin.output());
    assert_eq!(ok.json()["body_len"], body.len());
    assert_eq!(ok.echoed_headers()["x-warden-auth"], "worker");

    let tampered = spin
        .send(
            "POST",
            "/internal/hook",
            &headers,
            br#"{"event":"destroy"}"#,
        )
        .await;
    assert_eq!(tampered.status, 401);
    assert_eq!(tampered.json()["error"], "Invalid signature");
}

/// The demo's Stripe route under Spin: warden reads the secret variable the
/// route names (`stripe_webhook_secret`, which only the app component
/// declares), verifies the signature and the app gets the event id; the same
/// delivery again is a replay.
#[tokio::test]
async fn stripe_webhooks_read_their_secret_variable_under_spin() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(spin) = demo(SpinSetup::default()).await else {
        return;
    };
    let body = br#"{"id":"evt_spin_1","object":"event","type":"invoice.paid"}"#;
    let stripe_signature = |secret: &str| {
        let t = now_secs().to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("t={t},v1={hex}").into_bytes()
    };
    let path = "/hooks/stripe";
    let wrong = stripe_signature("whsec_not-the-demo-secret-0123456789abcdef");
    let refused = spin
        .send("POST", path, &[("stripe-signature", &wrong)], body)
        .await;
    assert_eq!(refused.status, 401, "{}", spin.output());
    assert_eq!(refused.json()["error"], "Invalid signature");

    let signed = stripe_signature(DEMO_STRIPE_SECRET);
    let ok = spin
        .send("POST", path, &[("stripe-signature", &signed)], body)
        .await;
    assert_eq!(ok.status, 200, "{}", spin.output());
    let seen = ok.echoed_headers();
    assert_eq!(seen["x-warden-webhook-provider"], "stripe");
    assert_eq!(seen["x-warden-webhook-id"], "evt_spin_1");
    assert_eq!(ok.json()["body_len"], body.len());

    let again = spin
        .send("POST", path, &[("stripe-signature", &signed)], body)
        .await;
    assert_eq!(again.status, 401);
    assert_eq!(again.json()["error"], "Request replayed");
}

/// 64 clients at once on the `auth` preset (5 per 15 minutes by address):
/// exactly 5 get through, on Spin's embedded key-value store, with instance
/// reuse (Spin's default) and with one instance per request.
#[tokio::test]
async fn exactly_the_limit_under_a_race_on_the_embedded_store() {
    let _serial = ONE_AT_A_TIME.lock().await;
    for per_request in [false, true] {
        let Some(spin) = demo(SpinSetup::default().instance_per_request(per_request)).await else {
            return;
        };
        let spin = Arc::new(spin);
        let (ok, refused) = race(64, |i| {
            let spin = spin.clone();
            async move {
                spin.send("POST", &format!("/auth/c{i}"), &[], b"")
                    .await
                    .status
            }
        })
        .await;
        assert_eq!(
            (ok, refused),
            (5, 59),
            "instance per request: {per_request}\n{}",
            spin.output()
        );
    }
}

/// Two `spin up` processes sharing one Redis (Spin's runtime configuration)
/// admit exactly the limit between them.
#[tokio::test]
async fn two_spins_on_one_redis_admit_exactly_the_limit() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(spin) = binary() else {
        return;
    };
    let Ok(redis) = std::env::var("WARDEN_TEST_REDIS") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "scripts/test starts Redis"
        );
        eprintln!("SKIPPED: no WARDEN_TEST_REDIS (run scripts/test to start Redis)");
        return;
    };
    let url = format!("{}/7", redis.trim_end_matches('/'));
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("FLUSHDB").query_async(&mut conn).await.unwrap();
    let config = format!("[key_value_store.default]\ntype = \"redis\"\nurl = \"{url}\"\n");
    let a = Arc::new(SpinHost::start(&spin, SpinSetup::default().runtime_config(&config)).await);
    let b = Arc::new(SpinHost::start(&spin, SpinSetup::default().runtime_config(&config)).await);
    let (ok, refused) = race(64, |i| {
        let host = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move {
            host.send("POST", &format!("/auth/n{i}"), &[], b"")
                .await
                .status
        }
    })
    .await;
    assert_eq!((ok, refused), (5, 59), "{}\n{}", a.output(), b.output());
}

/// The demo's `POST /api/orders` under real Spin: 16 identical keyed
/// requests at once call the app once (one answer not marked as a
/// replay; the others 409 while it runs, or the replay after), and a later
/// repeat replays the first answer. On Spin's embedded store and on two
/// Spins sharing Redis (whose compare-and-swap reports failure after
/// writing: `host/kv.rs` reads the key back).
#[tokio::test]
async fn an_idempotency_key_runs_the_app_once_under_spin() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(spin) = binary() else {
        return;
    };
    let mut setups: Vec<(&str, Vec<Arc<SpinHost>>)> = vec![(
        "embedded",
        vec![Arc::new(SpinHost::start(&spin, SpinSetup::default()).await)],
    )];
    match std::env::var("WARDEN_TEST_REDIS") {
        Ok(redis) => {
            let url = format!("{}/8", redis.trim_end_matches('/'));
            let client = redis::Client::open(url.as_str()).unwrap();
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            let _: () = redis::cmd("FLUSHDB").query_async(&mut conn).await.unwrap();
            let config = format!("[key_value_store.default]\ntype = \"redis\"\nurl = \"{url}\"\n");
            let a = SpinHost::start(&spin, SpinSetup::default().runtime_config(&config)).await;
            let b = SpinHost::start(&spin, SpinSetup::default().runtime_config(&config)).await;
            setups.push(("two Spins on Redis", vec![Arc::new(a), Arc::new(b)]));
        }
        Err(_) => assert!(
            std::env::var_os("CI").is_none(),
            "scripts/test starts Redis"
        ),
    }
    for (name, hosts) in setups {
        let key = format!("\"spin-{name}-{}\"", now_secs());
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let host = hosts[i % hosts.len()].clone();
                let key = key.clone();
                tokio::spawn(async move {
                    host.send(
                        "POST",
                        "/api/orders",
                        &[
                            ("idempotency-key", key.as_bytes()),
                            ("content-type", b"application/json"),
                            ("x-echo-delay-ms", b"300"),
                        ],
                        br#"{"item":42}"#,
                    )
                    .await
                })
            })
            .collect();
        let mut originals = Vec::new();
        let mut replays = Vec::new();
        for task in tasks {
            let reply = task.await.unwrap();
            match (reply.status, reply.header("idempotent-replayed")) {
                (200, None) => originals.push(reply),
                (200, Some("true")) => replays.push(reply),
                (409, _) => assert!(reply.header("retry-after").is_some()),
                _ => panic!("{name}: unexpected {reply:?}\n{}", hosts[0].output()),
            }
        }
        assert_eq!(
            originals.len(),
            1,
            "{name}: the app ran {} times",
            originals.len()
        );
        let again = hosts[hosts.len() - 1]
            .send(
                "POST",
                "/api/orders",
                &[
                    ("idempotency-key", key.as_bytes()),
                    ("content-type", b"application/json"),
                ],
                br#"{"item":42}"#,
            )
            .await;
        assert_eq!(
            again.header("idempotent-replayed"),
            Some("true"),
            "{name}: {again:?}"
        );
        assert_eq!(again.body, originals[0].body, "{name}");
        for replay in replays {
            assert_eq!(replay.body, originals[0].body, "{name}");
        }
    }
}

/// Runs `n` requests at once; counts 200s and 429s (anything else fails).
async fn race<F, Fut>(n: usize, request: F) -> (usize, usize)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = u16> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(request(i))).collect();
    let (mut ok, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            200 => ok += 1,
            429 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    (ok, refused)
}

/// Latencies of `n` sequential requests on one keep-alive connection
/// (after one to open it), sorted.
async fn latencies(spin: &SpinHost, path: &str, expect: u16, n: usize) -> Vec<Duration> {
    spin.get(path).await;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let reply = spin.get(path).await;
        times.push(start.elapsed());
        assert_eq!(reply.status, expect, "{path}");
    }
    times.sort();
    times
}

/// No response waits on the network: a response that leaves Spin as two
/// small writes waits about 40 ms for the client's delayed ACK (Spin does
/// not set `TCP_NODELAY`). On keep-alive connections, with instance reuse
/// (Spin's default) and with one instance per request:
/// - where no store is touched, warden's median stays within twice the bare
///   app's plus 15 ms, and at most one request (an instance's first) takes
///   35 ms or more;
/// - where the route writes to the embedded store (about 10 ms a write
///   here, with a long tail), the median stays under 35 ms: a stall on
///   every response would put it over 40.
#[tokio::test]
async fn no_response_stalls_on_keep_alive_connections() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(spin) = binary() else {
        return;
    };
    let bare_manifest = bare_app_manifest();
    let bare = SpinHost::start(
        &spin,
        SpinSetup {
            manifest: bare_manifest.path().join("spin.toml"),
            ..SpinSetup::default()
        },
    )
    .await;
    let n = 60;
    let floor = latencies(&bare, "/health", 200, n).await;
    // A stall costs 40 ms or more; instance creation and configuration
    // load (one instance per request) cost a few.
    let budget = floor[n / 2] * 2 + Duration::from_millis(15);
    for per_request in [false, true] {
        let warden = SpinHost::start(
            &spin,
            SpinSetup::default().instance_per_request(per_request),
        )
        .await;
        // Use up the `auth` preset (5 per 15 minutes) for this client.
        for _ in 0..5 {
            warden.get("/auth/x").await;
        }
        for (what, path, status, store) in [
            ("the app's answer", "/health", 200, false),
            ("warden's own 400", "/a/%2e%2e/x", 400, false),
            // A fresh instance does not know the client is over its limit
            // and asks the store; a reused one answers from memory.
            (
                "warden's own 429 (a client over its limit)",
                "/auth/x",
                429,
                per_request,
            ),
            (
                "warden's own 401 after a rate-limit write",
                "/api/protected/me",
                401,
                true,
            ),
            (
                "the app's answer after a rate-limit write",
                "/api/x",
                200,
                true,
            ),
        ] {
            let times = latencies(&warden, path, status, n).await;
            let slow = times
                .iter()
                .filter(|t| **t >= Duration::from_millis(35))
                .count();
            let ok = if store {
                times[n / 2] < Duration::from_millis(35)
            } else {
                slow <= 1 && times[n / 2] <= budget
            };
            assert!(
                ok,
                "{what}, instance per request {per_request}: median {:?} (bare app {:?}), \
                 {slow} of {n} over 35 ms",
                times[n / 2],
                floor[n / 2]
            );
        }
    }
}

/// A manifest serving the echo app alone, in a directory of its own.
fn bare_app_manifest() -> TempDir {
    let dir = TempDir::new("bare-manifest");
    let manifest = format!(
        "spin_manifest_version = 2\n[application]\nname = \"bare\"\n\
         [[trigger.http]]\nroute = \"/...\"\ncomponent = \"echo\"\n\
         [component.echo]\nsource = \"{}\"\n",
        wasm("echo_app").display()
    );
    std::fs::write(dir.path().join("spin.toml"), manifest).unwrap();
    dir
}

/// Revocation by user under Spin, on its embedded store and on Redis: a
/// cached session of a banned user must stop working at once. (Warden's
/// per-user index of cached sessions lives in the key-value store.)
#[tokio::test]
async fn revoking_a_user_ends_their_cached_sessions() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(spin) = binary() else {
        return;
    };
    let mut setups = vec![("embedded store", SpinSetup::default())];
    if let Ok(redis) = std::env::var("WARDEN_TEST_REDIS") {
        let url = format!("{}/6", redis.trim_end_matches('/'));
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("FLUSHDB").query_async(&mut conn).await.unwrap();
        let config = format!("[key_value_store.default]\ntype = \"redis\"\nurl = \"{url}\"\n");
        setups.push(("Redis", SpinSetup::default().runtime_config(&config)));
    }
    for (store, setup) in setups {
        let host = SpinHost::start(&spin, setup).await;
        let cookie = seed_session(&host, "u-ban", "user", "SpinRevokeToken0123456789abcdefg");
        for _ in 0..2 {
            let me = host
                .get_with("/api/protected/me", &[("cookie", &cookie)])
                .await;
            assert_eq!(me.status, 200, "{store}: {}", host.output());
        }
        let body = br#"{"user_id":"u-ban"}"#;
        let signed = worker_signed(body);
        let headers = as_headers(&signed);
        let revoked = host
            .send("POST", "/internal/sessions/revoke", &headers, body)
            .await;
        assert_eq!(revoked.status, 200, "{store}: {}", host.output());
        assert_eq!(revoked.json()["revoked"], 1, "{store}: {}", host.output());
        // Better Auth deletes the session row on a ban; the cache must not
        // keep the user in.
        rusqlite::Connection::open(host.state_dir().join("sqlite_db.db"))
            .unwrap()
            .execute(r#"DELETE FROM "session" WHERE "id" = 's-u-ban'"#, [])
            .unwrap();
        let after = host
            .get_with("/api/protected/me", &[("cookie", &cookie)])
            .await;
        assert_eq!(after.status, 401, "{store}: {}", host.output());
    }
}

/// A manifest in a directory of its own: the echo app as "my-app" with
/// warden in front of it as `{ path = "warden.wasm" }`, the app component
/// granted `grants` and inheriting `inherit`, and `policy` as the policy.
fn my_app_manifest(policy: &str, grants: &str, inherit: &str) -> TempDir {
    flavour_manifest("warden", policy, grants, inherit)
}

/// [`my_app_manifest`] with the flavour `file` (`warden`, `warden-minimal`)
/// as its `warden.wasm`.
fn flavour_manifest(file: &str, policy: &str, grants: &str, inherit: &str) -> TempDir {
    let dir = TempDir::new("my-app-manifest");
    std::fs::copy(wasm("echo_app"), dir.path().join("my_app.wasm")).unwrap();
    std::fs::copy(wasm(file), dir.path().join("warden.wasm")).unwrap();
    let manifest = format!(
        "spin_manifest_version = 2\n[application]\nname = \"my-app\"\n\
         [variables]\npolicy = {{ default = '''\n{policy}''' }}\n\
         [[trigger.http]]\nroute = \"/...\"\ncomponent = \"my-app\"\n\
         dependencies.middleware = [\n  {{ path = \"warden.wasm\", inherit_configuration = [{inherit}] }},\n]\n\
         [component.my-app]\nsource = \"my_app.wasm\"\n{grants}\
         variables = {{ policy = \"{{{{ policy }}}}\" }}\n"
    );
    std::fs::write(dir.path().join("spin.toml"), manifest).unwrap();
    dir
}

/// The README's quick start under Spin: its manifest additions (warden as
/// `{ path = "warden.wasm" }`, the grants on the app component) and its
/// five-line policy give a ready probe that finds both stores, and warden
/// in front of the app. A policy of headers and CORS only needs no store
/// grant and no migrations: the probe answers 200 and reports both stores
/// unused. (Warden must still inherit `key_value_stores`: without it Spin
/// 4.1.0-pre refuses to compose, "type mismatch for import
/// `wasi:keyvalue/atomics@0.2.0-draft2`", as atomics are not gated.)
#[tokio::test]
async fn the_quick_start_and_a_policy_without_stores_work_under_spin() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(spin) = binary() else {
        return;
    };
    let quick_start = my_app_manifest(
        "[[routes]]\nname = \"app\"\npath = \"/*\"\nauth = \"optional\"\nrate_limit = \"api\"\n",
        "key_value_stores = [\"default\"]\nsqlite_databases = [\"default\"]\n",
        "\"key_value_stores\", \"sqlite_databases\", \"variables\"",
    );
    let host = SpinHost::start(
        &spin,
        SpinSetup {
            manifest: quick_start.path().join("spin.toml"),
            ..SpinSetup::default()
        },
    )
    .await;
    let ready = host.get("/.warden/ready").await;
    assert_eq!(ready.status, 200, "{}", host.output());
    assert_eq!(
        ready.json(),
        serde_json::json!({"status": "ok", "key_value": "ok", "sqlite": "ok"})
    );
    let page = host
        .get_with("/hello", &[("x-warden-user-id", "spoofed")])
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("x-ratelimit-limit"), Some("100"));
    assert!(!String::from_utf8_lossy(&page.body).contains("spoofed"));
    drop(host);

    let headers_only = my_app_manifest(
        "[cors]\norigins = [\"https://app.example.com\"]\n\
         [settings]\nready = { rate_limit = \"off\" }\n\
         [[routes]]\nname = \"app\"\npath = \"/*\"\nrate_limit = \"off\"\n",
        "",
        "\"key_value_stores\", \"sqlite_databases\", \"variables\"",
    );
    let host = SpinHost::start(
        &spin,
        SpinSetup {
            manifest: headers_only.path().join("spin.toml"),
            migrations: false,
            ..SpinSetup::default()
        },
    )
    .await;
    let ready = host.get("/.warden/ready").await;
    assert_eq!(ready.status, 200, "{}", host.output());
    assert_eq!(
        ready.json(),
        serde_json::json!({"status": "ok", "key_value": "unused", "sqlite": "unused"})
    );
    let page = host
        .get_with("/hello", &[("origin", "https://app.example.com")])
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .ends_with("object-src 'none'")
    );
}

/// The minimal flavour (for Fermyon and Akamai Functions, which run Spin)
/// under real Spin: Spin offers the `wasi:keyvalue` store and `wasi:config`
/// versions it imports, so it composes and serves; its configuration comes
/// through `wasi:config` (Spin's variables), and a limit reaches 429 with
/// the approximate limiter on Spin's store.
#[tokio::test]
async fn the_minimal_flavour_runs_under_spin() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(spin) = binary() else {
        return;
    };
    let manifest = flavour_manifest(
        "warden-minimal",
        "[[routes]]\nname = \"limited\"\npath = \"/limited\"\nrate_limit = { requests = 3, window = \"1h\" }\n\
         [[routes]]\nname = \"app\"\npath = \"/*\"\nrate_limit = \"off\"\n",
        "key_value_stores = [\"default\"]\n",
        "\"key_value_stores\", \"variables\"",
    );
    let host = SpinHost::start(
        &spin,
        SpinSetup {
            manifest: manifest.path().join("spin.toml"),
            migrations: false,
            ..SpinSetup::default()
        },
    )
    .await;
    let page = host
        .get_with("/hello", &[("x-warden-user-id", "spoofed")])
        .await;
    assert_eq!(page.status, 200, "{}", host.output());
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert!(!String::from_utf8_lossy(&page.body).contains("spoofed"));
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(host.get("/limited").await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 429], "{}", host.output());
    let ready = host.get("/.warden/ready").await;
    assert_eq!(
        ready.json(),
        serde_json::json!({"status": "ok", "key_value": "ok", "sqlite": "unused"}),
        "{}",
        host.output()
    );
}

/// A `redis-server` of the outage test's own, on a fixed loopback port so
/// that it can be killed (SIGKILL) and started again where Spin looks for
/// it. Killed when dropped.
struct OwnRedis {
    port: u16,
    dir: TempDir,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    /// Starts it on a free port, or `None` when `redis-server` is missing.
    fn start() -> Option<OwnRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .ok()?
            .port();
        let mut redis = OwnRedis {
            port,
            dir: TempDir::new("outage-redis"),
            child: None,
        };
        redis.up().ok()?;
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts `redis-server` and waits until its port accepts.
    fn up(&mut self) -> std::io::Result<()> {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// SIGKILL: no goodbye to its clients.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The outage test's policy: an open route with a limit the load never
/// reaches, a closed route with a small exact limit (one bucket per path,
/// so each check starts fresh), and a short breaker.
const OUTAGE_POLICY: &str = r#"
[stores.key_value]
deadline_ms = 50
breaker = { failures = 3, successes = 1, open = "2s" }

[[routes]]
name = "health"
path = "/health"
rate_limit = "off"

[[routes]]
name = "closed"
path = "/closed/*"
rate_limit = { requests = 3, window = "1h", fail = "closed", scope = "path" }

[[routes]]
name = "api"
path = "/api/*"
rate_limit = { requests = 100000, window = "1h" }
"#;

/// One request of the load: when it was sent (since the start), how long
/// its answer took, and its status, or what went wrong instead.
struct Sent {
    at: Duration,
    took: Duration,
    outcome: Result<u16, String>,
}

/// Sends `GET path` with a client timeout; never panics.
async fn try_get(spin: &SpinHost, path: &str, timeout: Duration) -> Result<u16, String> {
    use http_body_util::BodyExt;
    let req = hyper::Request::get(spin.url(path))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let call = async {
        let resp = spin
            .client
            .request(req)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let status = resp.status().as_u16();
        resp.into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e:?}"))?;
        Ok(status)
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

/// Everything Spin and the components wrote: its output and the
/// component logs under the state directory.
fn spin_logs(spin: &SpinHost) -> String {
    let mut all = spin.output();
    for dir in [
        spin.state_dir().join("logs"),
        spin.state_dir().join(".spin/logs"),
    ] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                all.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
    }
    all
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Issue 19 under real Spin: Redis, the key-value store, is killed (SIGKILL)
/// under a load of 8 clients and started again 3 s later on the same port.
/// Every request gets an answer, none waits past the 50 ms store deadline
/// by more than a margin, and the fail-open route serves 200 throughout.
/// Once Redis is back, the fail-closed route never admits more than its
/// limit; it should count exactly again within a breaker period (plus
/// slack), but Spin 4.1's Redis client stays wedged after the calls warden
/// abandoned during the outage (no connection to the restarted Redis, every
/// probe past its deadline), so where it does not, the test checks that a
/// fresh `spin up` on the same Redis counts exactly: the fault is in the
/// running Spin, not in Redis or warden's counts.
///
/// Here Redis dies and comes back between requests: the load clients are
/// held at a gate while in-flight requests finish, so no store call is under
/// way at the kill. That is the case warden can promise (docs/stores.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_killed_and_restarted_under_load_never_hangs_a_request() {
    redis_outage_under_load(Kill::BetweenRequests).await;
}

/// The same, with Redis killed while requests are in flight. Seen on a
/// 2-core box (Spin 4.1.0-pre0): in about 3 runs out of 10, a request in
/// flight when Redis dies never gets an answer, and then neither does any
/// later request, `/health` included: Spin stops serving, all its threads
/// idle. Warden's deadline cannot end the call that does it: the atomic
/// increment exists only in the sync `wasi:keyvalue` interface, which blocks
/// until the host answers (docs/stores.md, "The calls that cannot be
/// abandoned"). Kept out of the default run until the host offers an async
/// increment; `cargo test --test spin -- --ignored` runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "Spin 4.1 can stop serving when Redis dies during a sync wasi:keyvalue increment (docs/stores.md)"]
async fn a_redis_killed_mid_request_under_load() {
    redis_outage_under_load(Kill::MidRequest).await;
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kill {
    BetweenRequests,
    MidRequest,
}

async fn redis_outage_under_load(kill: Kill) {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(spin_bin) = binary() else {
        return;
    };
    let Some(mut redis) = OwnRedis::start() else {
        assert!(std::env::var_os("CI").is_none(), "CI has redis-server");
        eprintln!("SKIPPED: no redis-server on the PATH");
        return;
    };
    let config = format!(
        "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n",
        redis.url()
    );
    let spin = Arc::new(
        SpinHost::start(
            &spin_bin,
            SpinSetup::default()
                .var("policy", OUTAGE_POLICY)
                .runtime_config(&config),
        )
        .await,
    );
    // Healthy first: the closed route counts exactly on Redis.
    for (i, want) in [200, 200, 200, 429].into_iter().enumerate() {
        let got = try_get(&spin, "/closed/before", Duration::from_secs(5)).await;
        assert_eq!(got, Ok(want), "healthy #{i}: {}", spin_logs(&spin));
    }

    const CLIENTS: usize = 8;
    const LOAD: Duration = Duration::from_secs(8);
    const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
    let start = Instant::now();

    // Breaker changes as they appear in the log, stamped on arrival.
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (spin, watching) = (spin.clone(), watching.clone());
        tokio::spawn(async move {
            let mut seen = 0;
            let mut changes: Vec<(Duration, String)> = Vec::new();
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                let logs = spin.output();
                let lines: Vec<&str> = logs
                    .lines()
                    .filter(|l| l.contains(r#""event":"store_breaker""#))
                    .collect();
                for line in &lines[seen.min(lines.len())..] {
                    let state = serde_json::from_str::<serde_json::Value>(
                        &line[line.find('{').unwrap_or(0)..],
                    )
                    .ok()
                    .and_then(|v| v["state"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| line.to_string());
                    changes.push((start.elapsed(), state));
                }
                seen = lines.len();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            changes
        })
    };

    // Each request holds the gate's read side; the kill and the restart
    // take the write side when they must wait for requests in flight.
    let gate = Arc::new(tokio::sync::RwLock::new(()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (spin, gate) = (spin.clone(), gate.clone());
            tokio::spawn(async move {
                let mut sent = Vec::new();
                let mut n = 0;
                while start.elapsed() < LOAD {
                    let _in_flight = gate.read().await;
                    let at = start.elapsed();
                    let outcome = try_get(&spin, &format!("/api/c{c}/{n}"), CLIENT_TIMEOUT).await;
                    sent.push(Sent {
                        at,
                        took: start.elapsed() - at,
                        outcome,
                    });
                    n += 1;
                }
                sent
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(3)).await;
    let quiet = match kill {
        Kill::BetweenRequests => Some(gate.write().await),
        Kill::MidRequest => None,
    };
    redis.kill();
    let killed_at = start.elapsed();
    drop(quiet);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let quiet = match kill {
        Kill::BetweenRequests => Some(gate.write().await),
        Kill::MidRequest => None,
    };
    redis.up().expect("redis-server starts again");
    let back_at = start.elapsed();
    drop(quiet);

    let mut sent: Vec<Sent> = Vec::new();
    for client in clients {
        sent.extend(client.await.unwrap());
    }
    let load_ended = start.elapsed();

    // Recovery: a fresh bucket on the closed route counts 3 then refuses,
    // tried every 250 ms until one breaker period (2 s) plus slack after
    // the load.
    let recovery_deadline = load_ended + Duration::from_secs(2) + Duration::from_secs(6);
    let mut attempts = Vec::new();
    let mut recovered_at = None;
    for attempt in 0.. {
        let path = format!("/closed/after{attempt}");
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(try_get(&spin, &path, CLIENT_TIMEOUT).await);
        }
        let exact = statuses == [Ok(200), Ok(200), Ok(200), Ok(429)];
        attempts.push((start.elapsed(), statuses));
        if exact {
            recovered_at = Some(start.elapsed());
            break;
        }
        if start.elapsed() > recovery_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    let changes = watcher.await.unwrap();
    // What the restarted Redis saw: Spin's connections, and the counters
    // written since it came back (it starts empty).
    let redis_seen = async {
        let client = redis::Client::open(redis.url().as_str()).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        let clients: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut conn)
            .await
            .ok()?;
        let keys: i64 = redis::cmd("DBSIZE").query_async(&mut conn).await.ok()?;
        Some((clients.lines().count().saturating_sub(1), keys))
    }
    .await;

    let answered: Vec<&Sent> = sent.iter().filter(|s| s.outcome.is_ok()).collect();
    let errors: Vec<&Sent> = sent.iter().filter(|s| s.outcome.is_err()).collect();
    let mut times: Vec<Duration> = sent.iter().map(|s| s.took).collect();
    times.sort();
    let slowest = *times.last().unwrap();
    let p99 = times[times.len() * 99 / 100];
    let p50 = times[times.len() / 2];
    let mut statuses = std::collections::BTreeMap::new();
    for s in &answered {
        *statuses.entry(*s.outcome.as_ref().unwrap()).or_insert(0) += 1;
    }
    let during = sent
        .iter()
        .filter(|s| s.at >= killed_at && s.at < back_at)
        .count();
    let stamp = |d: Duration| format!("{:.2}s", d.as_secs_f64());
    eprintln!(
        "outage ({kill:?}): {} sent ({during} while Redis was down), {} answered, {} errors; \
         p50 {p50:?}, p99 {p99:?}, slowest {slowest:?}; statuses {statuses:?}; \
         Redis killed at {}, back at {}, load ended {}; breaker changes: [{}]; \
         recovery {}: {} attempts; the restarted Redis: (Spin's connections, keys) {redis_seen:?}",
        sent.len(),
        answered.len(),
        errors.len(),
        stamp(killed_at),
        stamp(back_at),
        stamp(load_ended),
        ["open", "half-open", "closed"]
            .iter()
            .map(|state| {
                let at: Vec<Duration> = changes
                    .iter()
                    .filter(|(_, s)| s == state)
                    .map(|(t, _)| *t)
                    .collect();
                match (at.first(), at.last()) {
                    (Some(first), Some(last)) => {
                        format!("{state} ×{} {}–{}", at.len(), stamp(*first), stamp(*last))
                    }
                    _ => format!("{state} ×0"),
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        recovered_at.map_or("never".to_owned(), stamp),
        attempts.len(),
    );
    for s in errors.iter().take(5) {
        eprintln!(
            "  error: sent at {}, after {:?}: {}",
            stamp(s.at),
            s.took,
            s.outcome.as_ref().unwrap_err()
        );
    }
    if recovered_at.is_none() {
        for (t, statuses) in attempts.iter().rev().take(3) {
            eprintln!("  recovery attempt at {}: {statuses:?}", stamp(*t));
        }
    }

    if !errors.is_empty() {
        // Is all of Spin stuck, or only what calls the store?
        let health = try_get(&spin, "/health", Duration::from_secs(2)).await;
        let logs = spin.output();
        let mut events = std::collections::BTreeMap::new();
        for line in logs.lines() {
            if let Some(i) = line.find(r#"{"event":""#)
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&line[i..])
            {
                let key = format!("{} {}", v["event"], v["error"]).replace("\"", "");
                *events.entry(key).or_insert(0) += 1;
            }
        }
        eprintln!("  /health now (no store call): {health:?}; events: {events:?}");
        // Spin's processes and threads (state, CPU) while it is stuck.
        let state = spin.state_dir().display().to_string();
        let ps = std::process::Command::new("ps")
            .args(["-eo", "pid,args"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for pid in ps
            .lines()
            .filter(|l| l.contains(&state))
            .filter_map(|l| l.split_whitespace().next())
        {
            let threads = std::process::Command::new("ps")
                .args(["-L", "-o", "lwp,stat,pcpu,wchan:24,comm", "-p", pid])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            eprintln!("  spin process {pid}:\n{threads}");
        }
        eprintln!("  log tail:\n{}", tail(&logs, 12));
    }
    assert!(during > 0, "the load went on while Redis was down");
    assert!(
        errors.is_empty(),
        "every request gets an answer: {} of {} did not",
        errors.len(),
        sent.len()
    );
    // The deadline (50 ms) plus what a loaded 2-core box adds: Spin, the
    // client and the load share the cores.
    let margin = Duration::from_secs(1);
    assert!(
        slowest < Duration::from_millis(50) + margin,
        "slowest answer {slowest:?}"
    );
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        [200],
        "the fail-open route serves throughout: {statuses:?}"
    );
    assert!(
        changes.iter().any(|(_, s)| s == "open"),
        "a breaker opened: {changes:?}"
    );
    // Once Redis is back, the fail-closed route either counts exactly again
    // or goes on refusing (503): it never lets more than the limit through
    // and never hangs.
    for (t, statuses) in &attempts {
        let admitted = statuses.iter().filter(|s| **s == Ok(200)).count();
        assert!(
            admitted <= 3 && statuses.iter().all(|s| matches!(s, Ok(200 | 429 | 503))),
            "recovery attempt at {}: {statuses:?}",
            stamp(*t)
        );
    }
    if recovered_at.is_some() {
        return;
    }
    // Not recovered: Spin 4.1's Redis client stays wedged after calls were
    // abandoned during the outage (docs/store-outage-findings.md, b9/b10):
    // every call still times out, and Spin opens no connection to the
    // restarted Redis. Redis itself is fine: a fresh `spin up` on it
    // counts exactly at once.
    drop(spin);
    let fresh = SpinHost::start(
        &spin_bin,
        SpinSetup::default()
            .var("policy", OUTAGE_POLICY)
            .runtime_config(&config),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(try_get(&fresh, "/closed/fresh", CLIENT_TIMEOUT).await);
    }
    eprintln!(
        "  not recovered {} after Redis came back; a fresh spin up on it: {statuses:?}",
        stamp(start.elapsed() - back_at)
    );
    assert_eq!(
        statuses,
        [Ok(200), Ok(200), Ok(200), Ok(429)],
        "a fresh Spin on the restarted Redis counts exactly\n{}",
        tail(&spin_logs(&fresh), 30)
    );
}

/// The outbound grant docs/outbound.md tells users to add for a
/// `jwks_url` (the app component's `allowed_outbound_hosts`, inherited by
/// warden with `"allowed_outbound_hosts"`) is accepted by Spin 4.1 next to
/// the store grants: the app starts, the probe finds the store, and
/// requests go through. (That a middleware's `wasi:http/client` `send` then
/// reaches exactly the granted origin, and is refused elsewhere, was
/// measured with a throwaway middleware: docs/outbound.md.)
#[tokio::test]
async fn an_inherited_outbound_grant_is_accepted_under_spin() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(spin) = binary() else {
        return;
    };
    let jwks = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://127.0.0.1:{}", jwks.local_addr().unwrap().port());
    let manifest = my_app_manifest(
        "[[routes]]\nname = \"app\"\npath = \"/*\"\nrate_limit = \"api\"\n",
        &format!(
            "key_value_stores = [\"default\"]\nsqlite_databases = [\"default\"]\n\
             allowed_outbound_hosts = [\"{origin}\"]\n"
        ),
        "\"key_value_stores\", \"sqlite_databases\", \"variables\", \"allowed_outbound_hosts\"",
    );
    let host = SpinHost::start(
        &spin,
        SpinSetup {
            manifest: manifest.path().join("spin.toml"),
            ..SpinSetup::default()
        },
    )
    .await;
    let ready = host.get("/.warden/ready").await;
    assert_eq!(ready.status, 200, "{}", host.output());
    assert_eq!(ready.json()["key_value"], "ok", "{}", host.output());
    let page = host.get("/hello").await;
    assert_eq!(page.status, 200, "{}", host.output());
    assert_eq!(page.header("x-ratelimit-limit"), Some("100"));
}
