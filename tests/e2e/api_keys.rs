//! API-key authentication through the real component: keys made by
//! `warden apikey` (the built CLI) into the host's own database, and keys
//! minted by genuine Better Auth 1.7 with `@better-auth/api-key`
//! (tests/interop/better-auth/mint.mjs) copied row for row into it, or put
//! into the key-value store in its secondary-storage form.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;
use warden_host::{Fault, Op};
use warden_tests::*;

const UNAUTHORIZED: &str =
    r#"{"error":{"code":"UNAUTHORIZED","message":"Authentication required"}}"#;
const FORBIDDEN: &str = r#"{"error":{"code":"FORBIDDEN","message":"Insufficient permissions"}}"#;
const THROTTLED: &str =
    r#"{"error":{"code":"TOO_MANY_FAILED_ATTEMPTS","message":"Too many failed attempts"}}"#;

/// The failures from one address before it is throttled, in these tests.
const FAILURE_LIMIT: usize = 4;

/// Client addresses come from `x-real-ip` (a trusted proxy sets it), so that
/// a test can speak from several. The cache keeps found keys 1 s and unknown
/// ones not at all, so a revocation shows within a test.
fn policy() -> String {
    format!(
        r#"
[rate_limit]
client_ip = "x-real-ip"

[api_keys]
secondary_storage = true
cache_ttl = "1s"
negative_cache_ttl = 0
failure_limit = {FAILURE_LIMIT}
failure_window = "5m"

[[routes]]
name = "files"
path = "/api/keys/files/*"
auth = "api_key"
roles = ["files:read"]
rate_limit = "off"

[[routes]]
name = "tiered"
path = "/api/keys/tiered/*"
auth = "api_key"
rate_limit = {{ preset = "api", key = ["user"], tiers = {{ "apikey:free" = "free", "apikey:paid" = "paid" }} }}

[[routes]]
name = "keys"
path = "/api/keys/*"
auth = "api_key"
rate_limit = "off"

[[routes]]
name = "web"
path = "/*"
rate_limit = "off"
"#
    )
}

async fn start() -> TestHost {
    TestHost::start(Setup::default().policy(&policy())).await
}

fn db_path(host: &TestHost) -> PathBuf {
    host.state_dir().join("sqlite_db.db")
}

fn kv_put(host: &TestHost, key: &str, value: &[u8]) {
    rusqlite::Connection::open(host.state_dir().join("sqlite_key_value.db"))
        .expect("kv file")
        .execute(
            "INSERT INTO spin_key_value (store, key, value) VALUES ('default', ?1, ?2)
             ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
            rusqlite::params![key, value],
        )
        .expect("kv insert");
}

/// The built CLI (`scripts/build` builds it beside the host).
fn warden_cli(args: &[&str]) -> (String, String) {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let out = Command::new(target.join("debug/warden"))
        .args(args)
        .output()
        .expect("target/debug/warden runs (scripts/build)");
    assert!(
        out.status.success(),
        "warden {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `warden apikey create` into the host's database: the key.
pub(crate) fn create_key(host: &TestHost, owner: &str, extra: &[&str]) -> String {
    let db = db_path(host);
    let mut args = vec![
        "apikey",
        "create",
        "--db",
        db.to_str().unwrap(),
        "--owner",
        owner,
        "--name",
        "e2e",
    ];
    args.extend_from_slice(extra);
    let (stdout, stderr) = warden_cli(&args);
    let key = stdout.trim().to_string();
    assert!(key.starts_with("wk_") && key.len() == 67, "{key}");
    assert!(!stderr.contains(&key));
    key
}

async fn with_key(host: &TestHost, path: &str, key: &str, ip: &str) -> Reply {
    host.get_with(path, &[("x-api-key", key), ("x-real-ip", ip)])
        .await
}

fn echoed(reply: &Reply, name: &str) -> Option<String> {
    reply
        .echoed_headers()
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn assert_unauthorized(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {}", text(reply));
    assert_eq!(reply.body, UNAUTHORIZED, "{what}");
}

#[tokio::test]
async fn cli_round_trip_create_use_revoke() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(&policy()).reuse(mode)).await;
        let key = create_key(&host, "user-7", &["--roles", "deployer", "--tier", "paid"]);

        let ok = with_key(&host, "/api/keys/things", &key, "198.51.100.1").await;
        assert_eq!(ok.status, 200, "{mode:?}: {}", text(&ok));
        assert_eq!(echoed(&ok, "x-warden-auth").as_deref(), Some("api_key"));
        assert_eq!(echoed(&ok, "x-warden-user-id").as_deref(), Some("user-7"));
        assert_eq!(
            echoed(&ok, "x-warden-user-role").as_deref(),
            Some("deployer")
        );
        assert_eq!(
            echoed(&ok, "x-warden-api-key-prefix").as_deref(),
            Some(&key[..8])
        );
        assert_eq!(
            echoed(&ok, "x-warden-api-key-source").as_deref(),
            Some("warden")
        );
        // Bearer works as well.
        let bearer = format!("Bearer {key}");
        let ok = host
            .get_with("/api/keys/things", &[("authorization", &bearer)])
            .await;
        assert_eq!(ok.status, 200, "{}", text(&ok));

        // Its role is not files:read: 403 on that route.
        let reply = with_key(&host, "/api/keys/files/a", &key, "198.51.100.1").await;
        assert_eq!(reply.status, 403);
        assert_eq!(reply.body, FORBIDDEN);

        let db = db_path(&host);
        let (out, _) = warden_cli(&[
            "apikey",
            "revoke",
            "--db",
            db.to_str().unwrap(),
            "--prefix",
            &key[..11],
        ]);
        assert!(out.starts_with("revoked"), "{out}");
        // The cache keeps the record 1 s (cache_ttl): after it, refused.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let reply = with_key(&host, "/api/keys/things", &key, "198.51.100.1").await;
        assert_unauthorized(&reply, "revoked");

        // The key never reached the log, nor its hash.
        let log = host.log();
        assert!(!log.contains(&key), "the key is in the log");
        assert!(!log.contains(&hex_sha256(&key)), "the hash is in the log");
        assert!(log.contains("\"reason\":\"revoked\""), "{log}");
        assert!(log.contains(&key[..8]));
    }
}

fn hex_sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What mint.mjs wrote, minted once per test run (about 4 s).
struct Minted {
    out: Value,
    db: PathBuf,
}

fn minted() -> Option<&'static Minted> {
    static MINTED: OnceLock<Option<Minted>> = OnceLock::new();
    MINTED
        .get_or_init(|| {
            let dir = root().join("tests/interop/better-auth");
            if !dir.join("node_modules").exists() {
                eprintln!("skipped: no tests/interop/better-auth/node_modules (scripts/setup)");
                return None;
            }
            let tmp =
                std::env::temp_dir().join(format!("warden-e2e-apikeys-{}", std::process::id()));
            std::fs::create_dir_all(&tmp).unwrap();
            let db = tmp.join("better-auth.db");
            let out_file = tmp.join("minted.json");
            let status = Command::new("node")
                .arg(dir.join("mint.mjs"))
                .arg("--db")
                .arg(&db)
                .arg("--out")
                .arg(&out_file)
                .output();
            match status {
                Ok(o) if o.status.success() => {}
                Ok(o) => panic!("mint.mjs failed: {}", String::from_utf8_lossy(&o.stderr)),
                Err(e) => {
                    eprintln!("skipped: node does not run ({e})");
                    return None;
                }
            }
            let out = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
            Some(Minted { out, db })
        })
        .as_ref()
}

/// Better Auth's `apikey` rows, copied as they are into the host's database.
fn copy_better_auth_rows(host: &TestHost, minted: &Minted) {
    let conn = rusqlite::Connection::open(db_path(host)).unwrap();
    conn.execute("ATTACH DATABASE ?1 AS ba", [minted.db.to_str().unwrap()])
        .unwrap();
    let columns: Vec<String> = {
        let mut st = conn.prepare("PRAGMA ba.table_info(\"apikey\")").unwrap();
        st.query_map([], |r| r.get::<_, String>(1))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let list = columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    conn.execute(
        &format!("INSERT INTO main.\"apikey\" ({list}) SELECT {list} FROM ba.\"apikey\""),
        [],
    )
    .expect("the host's apikey table takes Better Auth's rows");
}

fn minted_key<'m>(minted: &'m Minted, label: &str) -> &'m Value {
    minted.out["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == label)
        .unwrap_or_else(|| panic!("no {label} key"))
}

fn key_of<'m>(minted: &'m Minted, label: &str) -> &'m str {
    minted_key(minted, label)["key"].as_str().unwrap()
}

#[tokio::test]
async fn genuine_better_auth_keys() {
    let Some(minted) = minted() else {
        return;
    };
    let host = start().await;
    copy_better_auth_rows(&host, minted);
    let ip = "198.51.100.20";

    // The plain key: its owner (referenceId) is the user.
    let plain = key_of(minted, "plain");
    let owner: String = rusqlite::Connection::open(&minted.db)
        .unwrap()
        .query_row(
            "SELECT \"referenceId\" FROM \"apikey\" WHERE \"name\" = 'plain'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let reply = with_key(&host, "/api/keys/x", plain, ip).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert_eq!(echoed(&reply, "x-warden-user-id"), Some(owner));
    assert_eq!(
        echoed(&reply, "x-warden-api-key-source").as_deref(),
        Some("better_auth")
    );
    // Without files:read, the files route is 403.
    assert_eq!(
        with_key(&host, "/api/keys/files/a", plain, ip).await.status,
        403
    );

    // Permissions become roles.
    let permitted = key_of(minted, "permissions");
    let reply = with_key(&host, "/api/keys/files/a", permitted, ip).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert_eq!(
        echoed(&reply, "x-warden-user-role").as_deref(),
        Some("files:read")
    );

    // A prefixed key, and one expiring tomorrow, work.
    for label in ["prefixed", "expiring", "metadata-remaining"] {
        let reply = with_key(&host, "/api/keys/x", key_of(minted, label), ip).await;
        assert_eq!(reply.status, 200, "{label}: {}", text(&reply));
    }

    // Expired, disabled, deleted: 401.
    for label in ["expired", "disabled", "revoked"] {
        let reply = with_key(&host, "/api/keys/x", key_of(minted, label), "198.51.100.21").await;
        assert_unauthorized(&reply, label);
    }

    // `remaining` used up: 401 (the cache holds the record 1 s).
    let limited = key_of(minted, "metadata-remaining");
    rusqlite::Connection::open(db_path(&host))
        .unwrap()
        .execute(
            "UPDATE \"apikey\" SET \"remaining\" = 0 WHERE \"name\" = 'limited'",
            [],
        )
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_unauthorized(
        &with_key(&host, "/api/keys/x", limited, "198.51.100.22").await,
        "remaining 0",
    );

    // The secondary-storage key: not in the table, found in key-value.
    let kv_key = key_of(minted, "secondary-storage");
    assert_unauthorized(
        &with_key(&host, "/api/keys/x", kv_key, "198.51.100.23").await,
        "before its secondary-storage entry exists",
    );
    let hashed = URL_SAFE_NO_PAD.encode(Sha256::digest(kv_key.as_bytes()));
    let store_key = format!("api-key:{hashed}");
    let json = minted.out["secondaryStorage"][&store_key]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| minted.out["secondaryStorage"][&store_key].to_string());
    kv_put(&host, &store_key, json.as_bytes());
    let reply = with_key(&host, "/api/keys/x", kv_key, "198.51.100.23").await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert_eq!(echoed(&reply, "x-warden-auth").as_deref(), Some("api_key"));

    let log = host.log();
    for label in [
        "plain",
        "permissions",
        "expired",
        "disabled",
        "secondary-storage",
    ] {
        assert!(
            !log.contains(key_of(minted, label)),
            "{label} key in the log"
        );
    }
}

#[tokio::test]
async fn bad_credentials_are_one_401() {
    let host = start().await;
    let key = create_key(&host, "user-1", &[]);
    let other = create_key(&host, "user-2", &[]);
    // Each attempt from its own address, so the throttle stays out of it.
    let next = std::cell::Cell::new(0);
    let get = async |headers: &[(&str, &str)]| {
        next.set(next.get() + 1);
        let ip = format!("198.51.100.{}", 100 + next.get());
        let mut all = vec![("x-real-ip", ip.as_str())];
        all.extend_from_slice(headers);
        host.get_with("/api/keys/x", &all).await
    };
    assert_unauthorized(&get(&[]).await, "missing");
    let wrong = format!("wk_{}", "0".repeat(64));
    assert_unauthorized(&get(&[("x-api-key", &wrong)]).await, "unknown");
    assert_unauthorized(&get(&[("x-api-key", "short")]).await, "too short");
    let long = format!("wk_{}", "a".repeat(300));
    assert_unauthorized(&get(&[("x-api-key", &long)]).await, "too long");
    let bearer_other = format!("Bearer {other}");
    assert_unauthorized(
        &get(&[("x-api-key", &key), ("authorization", &bearer_other)]).await,
        "two keys that disagree",
    );
    assert_unauthorized(
        &get(&[("x-api-key", &key), ("x-api-key", &other)]).await,
        "the header twice",
    );
    // The same key twice is one key.
    let bearer = format!("Bearer {key}");
    assert_eq!(
        get(&[("x-api-key", &key), ("authorization", &bearer)])
            .await
            .status,
        200
    );
    // A spoofed identity is removed; the key's identity replaces it.
    let reply = get(&[
        ("x-api-key", &key),
        ("x-warden-user-id", "admin"),
        ("x-warden-user-role", "admin"),
        ("x-warden-auth", "session"),
    ])
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        echoed(&reply, "x-warden-user-id").as_deref(),
        Some("user-1")
    );
    assert_eq!(echoed(&reply, "x-warden-user-role"), None);
    assert_eq!(echoed(&reply, "x-warden-auth").as_deref(), Some("api_key"));
    let spoofed = host
        .get_with(
            "/api/keys/x",
            &[("x-warden-user-id", "admin"), ("x-warden-auth", "api_key")],
        )
        .await;
    assert_unauthorized(&spoofed, "spoofed headers, no key");

    let log = host.log();
    for secret in [&key, &other, &wrong, &hex_sha256(&key)] {
        assert!(
            !log.contains(secret.as_str()),
            "a key or hash is in the log"
        );
    }
    assert!(log.contains("\"reason\":\"conflicting\""), "{log}");
    assert!(log.contains("\"reason\":\"unknown\""), "{log}");
}

#[tokio::test]
async fn failed_keys_throttle_the_address_before_any_lookup() {
    let host = start().await;
    let key = create_key(&host, "user-1", &[]);
    let guesser = "203.0.113.66";
    for i in 0..FAILURE_LIMIT {
        let guess = format!("wk_{:064x}", i + 1);
        assert_unauthorized(
            &with_key(&host, "/api/keys/x", &guess, guesser).await,
            "a guess",
        );
    }
    // Past the limit: 429 even with a good key, and no database read.
    let before = host.counts();
    let reply = with_key(&host, "/api/keys/x", &key, guesser).await;
    assert_eq!(reply.status, 429, "{}", text(&reply));
    assert_eq!(reply.body, THROTTLED);
    assert_eq!(host.counts().sqlite_statements, before.sqlite_statements);
    // Another address is not affected.
    let reply = with_key(&host, "/api/keys/x", &key, "203.0.113.67").await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    // A missing key is not a failed attempt.
    for _ in 0..FAILURE_LIMIT + 1 {
        let reply = host
            .get_with("/api/keys/x", &[("x-real-ip", "203.0.113.68")])
            .await;
        assert_eq!(reply.status, 401);
    }
    assert_eq!(
        with_key(&host, "/api/keys/x", &key, "203.0.113.68")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_failing_store_is_503_never_a_pass() {
    let host = start().await;
    let key = create_key(&host, "user-1", &[]);
    host.host.faults().set(Op::Sqlite, Fault::Error);
    let reply = with_key(&host, "/api/keys/x", &key, "198.51.100.40").await;
    assert_eq!(reply.status, 503, "{}", text(&reply));
    host.host.faults().set(Op::Sqlite, Fault::None);

    let host = start().await;
    let key = create_key(&host, "user-1", &[]);
    host.host.faults().set(Op::KvRead, Fault::Error);
    let reply = with_key(&host, "/api/keys/x", &key, "198.51.100.41").await;
    assert_eq!(reply.status, 503, "{}", text(&reply));
    host.host.faults().set(Op::KvRead, Fault::None);
    assert!(host.log().contains("api_key_store_unavailable"));
    assert!(!host.log().contains(&key));
}

#[tokio::test]
async fn the_key_tier_selects_the_rate_limit_quota() {
    let host = start().await;
    let paid = create_key(&host, "user-paid", &["--tier", "paid"]);
    let free = create_key(&host, "user-free", &["--tier", "free"]);
    let untiered = create_key(&host, "user-none", &[]);
    let limit = async |key: &str| {
        let reply = with_key(&host, "/api/keys/tiered/x", key, "198.51.100.50").await;
        assert_eq!(reply.status, 200, "{}", text(&reply));
        reply.header("x-ratelimit-limit").map(str::to_owned)
    };
    assert_eq!(limit(&paid).await.as_deref(), Some("100000"));
    assert_eq!(limit(&free).await.as_deref(), Some("1000"));
    let api = limit(&untiered).await.expect("the api preset's limit");
    assert!(api != "1000" && api != "100000", "{api}");
}

#[tokio::test]
async fn the_demo_serves_api_keys_from_both_tables() {
    let host = TestHost::start(Setup::demo()).await;
    let key = create_key(&host, "demo-user", &["--tier", "paid"]);
    let reply = host.get_with("/api/keys/me", &[("x-api-key", &key)]).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert_eq!(
        echoed(&reply, "x-warden-user-id").as_deref(),
        Some("demo-user")
    );
    assert_eq!(reply.header("x-ratelimit-limit"), Some("100000"));
    assert_unauthorized(&host.get("/api/keys/me").await, "the demo without a key");
    // Better Auth's table is there too (migrations.sql), empty: unknown key.
    let ba_like = "a".repeat(64);
    assert_unauthorized(
        &host
            .get_with("/api/keys/me", &[("x-api-key", &ba_like)])
            .await,
        "a key in neither table",
    );
}

#[tokio::test]
async fn last_used_at_is_written_once_per_interval_after_the_response() {
    let policy = policy().replace(
        "failure_window = \"5m\"",
        "failure_window = \"5m\"\nlast_used_interval = \"1m\"\ncache_ttl = \"1m\"",
    );
    let policy = policy.replacen("cache_ttl = \"1s\"\n", "", 1);
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(&policy).reuse(mode)).await;
        let key = create_key(&host, "user-1", &[]);
        let last_used = || -> Option<String> {
            rusqlite::Connection::open(db_path(&host))
                .unwrap()
                .query_row("SELECT \"last_used_at\" FROM \"api_keys\"", [], |r| {
                    r.get(0)
                })
                .unwrap()
        };
        assert_eq!(last_used(), None);
        let reply = with_key(&host, "/api/keys/x", &key, "198.51.100.60").await;
        assert_eq!(reply.status, 200, "{}", text(&reply));
        settle(&host).await;
        let first = last_used().expect("last_used_at written after the first use");
        assert!(first.ends_with('Z') && first.contains('T'), "{first}");
        // Within the interval: served from the re-cached record, no write.
        let before = host.counts();
        for _ in 0..3 {
            let reply = with_key(&host, "/api/keys/x", &key, "198.51.100.60").await;
            assert_eq!(reply.status, 200);
        }
        settle(&host).await;
        assert_eq!(host.counts().sqlite_statements, before.sqlite_statements);
        assert_eq!(last_used(), Some(first));
    }
}
