//! Security events (docs/security-events.md) through the real component: a
//! refused credential is one marked line with the request id, the route,
//! the client's address prefix and a fingerprint of the credential, never
//! the credential; a flood of identical refusals writes a bounded number of
//! lines and a summary with the count of the rest; with the table on, the
//! events reach `security_events` in batches; a bad `[security_events]`
//! value is a configuration error that names its field.

use std::time::Duration;
use warden_tests::*;

/// An API-key route (failed attempts not throttled, so a flood stays a
/// flood of refusals) and a plain one.
fn policy(events: &str) -> String {
    format!(
        r#"
[api_keys]
failure_limit = 0

{events}

[[routes]]
name = "keys"
path = "/keys/*"
auth = "api_key"
rate_limit = "off"

[[routes]]
name = "open"
path = "/*"
rate_limit = "off"
"#
    )
}

/// A well-formed key that no table holds.
fn unknown_key(n: u32) -> String {
    format!("wk_{:064x}", 0xfeed_0000_u64 + u64::from(n))
}

async fn refused(host: &TestHost, key: &str) -> Reply {
    let reply = host
        .get_with("/keys/x", &[("x-api-key", key), ("user-agent", "flood/1")])
        .await;
    assert_eq!(
        reply.status,
        401,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply
}

/// The guest log's security events of `kind`, parsed.
fn events(host: &TestHost, kind: &str) -> Vec<serde_json::Value> {
    let mut events = host.log_events(kind);
    events.retain(|event| event["security"] == true);
    events
}

/// The log's `security_events_written` lines, as row counts.
fn batches_written(host: &TestHost) -> Vec<u64> {
    host.log_events("security_events_written")
        .iter()
        .filter_map(|event| event["rows"].as_u64())
        .collect()
}

/// One row of `security_events`: id, type, ip_address, user_agent, details,
/// created_at.
type TableRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
);

fn table_rows(host: &TestHost) -> Vec<TableRow> {
    let db = rusqlite::Connection::open(host.state_dir().join("sqlite_db.db")).expect("db file");
    let mut stmt = db
        .prepare(
            r#"SELECT "id", "type", "ip_address", "user_agent", "details", "created_at"
               FROM "security_events" ORDER BY "created_at", "id""#,
        )
        .expect("the table exists (migrations.sql)");
    stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    })
    .expect("rows")
    .collect::<Result<_, _>>()
    .expect("rows")
}

#[tokio::test]
async fn a_refused_key_is_one_marked_line_with_prefix_and_fingerprint() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(&policy("")).reuse(mode)).await;
        let key = unknown_key(1);
        let reply = refused(&host, &key).await;
        let found = events(&host, "api_key_auth_failed");
        assert_eq!(found.len(), 1, "{mode:?}: {}", host.log());
        let event = &found[0];
        assert_eq!(event["security"], true);
        assert_eq!(
            event["request_id"].as_str(),
            reply.header("x-request-id"),
            "{event}"
        );
        assert_eq!(event["route"], "keys");
        // The local host's peer is 127.0.0.1: its /24, never the address.
        assert_eq!(event["client"], "127.0.0.0/24");
        let fp = event["credential_fp"].as_str().unwrap_or_default();
        assert_eq!(fp.len(), 12, "{event}");
        assert!(fp.bytes().all(|b| b.is_ascii_hexdigit()));
        // The same key, the same fingerprint (and another key, another).
        refused(&host, &key).await;
        refused(&host, &unknown_key(2)).await;
        let fps: Vec<String> = events(&host, "api_key_auth_failed")
            .iter()
            .map(|e| e["credential_fp"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(fps.len(), 3, "{mode:?}");
        assert_eq!(fps[0], fps[1]);
        assert_ne!(fps[0], fps[2]);
        let log = host.log();
        assert!(!log.contains(&key), "the key itself is in the log: {log}");
        assert!(!log.contains(&key[3..]), "{log}");
        assert!(!log.contains("127.0.0.1"), "{log}");
        // Operational lines carry no marker.
        assert!(
            log.lines()
                .filter(|l| l.contains("\"config_loaded\""))
                .all(|l| !l.contains("\"security\"")),
            "{log}"
        );
    }
}

#[tokio::test]
async fn a_flood_of_identical_refusals_writes_a_few_lines_and_a_summary() {
    // Reuse on only: sampling is per instance (docs/security-events.md),
    // and with one instance per request nothing is ever a repeat.
    let events_policy = "[security_events]\nsample_per_window = 5\nwindow = \"1s\"\n";
    let host = TestHost::start(Setup::default().policy(&policy(events_policy))).await;
    let key = unknown_key(7);
    const FLOOD: u64 = 500;
    for _ in 0..FLOOD {
        refused(&host, &key).await;
    }
    // Keep the last instance busy (an idle one is dropped after 1 s) until
    // its window is over: a request on another route writes the summary.
    let mut summaries = Vec::new();
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(host.get("/open").await.status, 200);
        summaries = events(&host, "api_key_auth_failed")
            .into_iter()
            .filter(|e| e.get("suppressed").is_some())
            .collect();
        if !summaries.is_empty() && summaries.iter().any(|s| s["since"].is_string()) {
            break;
        }
    }
    let all = events(&host, "api_key_auth_failed");
    let written = all.iter().filter(|e| e.get("suppressed").is_none()).count() as u64;
    let suppressed: u64 = summaries
        .iter()
        .filter_map(|s| s["suppressed"].as_u64())
        .sum();
    // 500 requests take a few instances (128 requests each) and windows of
    // 1 s: each writes at most 5 lines; far fewer than 500 in all.
    assert!(written >= 5, "{written}");
    assert!(
        written <= 60,
        "{written} lines for {FLOOD} identical events"
    );
    assert!(!summaries.is_empty(), "no summary: {}", host.log());
    for summary in &summaries {
        assert_eq!(summary["security"], true);
        assert_eq!(summary["route"], "keys");
        assert_eq!(summary["client"], "127.0.0.0/24");
        assert_eq!(summary["window_secs"], 1);
        assert!(summary["suppressed"].as_u64().unwrap_or(0) > 0, "{summary}");
        assert!(summary.get("request_id").is_none(), "{summary}");
    }
    // Never more than happened; an instance retired with a window still
    // open loses that window's count (per-instance sampling), never more.
    assert!(written + suppressed <= FLOOD, "{written} + {suppressed}");
    // At least the last instance's count (about 500 - 3 x 128 requests,
    // less its 5 lines) comes out; retired instances' counts may not.
    assert!(suppressed >= 50, "{suppressed} suppressed: {}", host.log());
}

#[tokio::test]
async fn with_the_table_on_events_are_written_in_batches() {
    let events_policy = "[security_events]\nsample_per_window = 1000\ntable = true\nbatch_size = 5\nflush_interval = \"1h\"\n";
    let host = TestHost::start(Setup::default().policy(&policy(events_policy))).await;
    for n in 0..12 {
        refused(&host, &unknown_key(n)).await;
    }
    settle(&host).await;
    // Two full batches of five; two rows wait in the instance's buffer.
    assert_eq!(batches_written(&host), vec![5, 5], "{}", host.log());
    let rows = table_rows(&host);
    assert_eq!(rows.len(), 10);
    let mut ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 10);
    for (id, kind, ip, agent, details, created_at) in &rows {
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(kind, "api_key_auth_failed");
        assert_eq!(ip.as_deref(), Some("127.0.0.0/24"));
        assert_eq!(agent.as_deref(), Some("flood/1"));
        assert!(
            created_at.ends_with('Z') && created_at.len() == 24,
            "{created_at}"
        );
        let line: serde_json::Value = serde_json::from_str(details).expect("details is the line");
        assert_eq!(line["security"], true);
        assert_eq!(line["event"], "api_key_auth_failed");
    }
    let all_details: String = rows.iter().map(|r| r.4.as_str()).collect();
    for n in 0..12 {
        assert!(!all_details.contains(&unknown_key(n)[3..]));
    }
}

#[tokio::test]
async fn a_buffer_older_than_the_flush_interval_goes_with_the_next_request() {
    let events_policy =
        "[security_events]\ntable = true\nbatch_size = 100\nflush_interval = \"1s\"\n";
    let host = TestHost::start(Setup::default().policy(&policy(events_policy))).await;
    for n in 0..3 {
        refused(&host, &unknown_key(n)).await;
    }
    settle(&host).await;
    assert!(batches_written(&host).is_empty(), "{}", host.log());
    // Requests on another route keep the instance and, past the interval,
    // take the buffer with them.
    for _ in 0..16 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        host.get("/open").await;
        if !batches_written(&host).is_empty() {
            break;
        }
    }
    settle(&host).await;
    assert_eq!(batches_written(&host), vec![3], "{}", host.log());
    assert_eq!(table_rows(&host).len(), 3);
}

#[tokio::test]
async fn one_instance_per_request_writes_with_a_batch_of_one() {
    let events_policy = "[security_events]\ntable = true\nbatch_size = 1\n";
    let host = TestHost::start(
        Setup::default()
            .policy(&policy(events_policy))
            .reuse(Reuse::PerRequest),
    )
    .await;
    for n in 0..3 {
        refused(&host, &unknown_key(n)).await;
    }
    settle(&host).await;
    assert_eq!(batches_written(&host), vec![1, 1, 1], "{}", host.log());
    assert_eq!(table_rows(&host).len(), 3);
}

#[tokio::test]
async fn a_bad_security_events_value_names_its_field() {
    for (section, field) in [
        (
            "[security_events]\nsample_per_window = 0",
            "security_events.sample_per_window",
        ),
        (
            "[security_events]\nwindow = \"forever\"",
            "security_events.window",
        ),
        (
            "[security_events]\ntable = true\nbatch_size = 1000",
            "security_events.batch_size",
        ),
        (
            "[security_events]\nflush_interval = \"5s\"",
            "security_events.flush_interval",
        ),
    ] {
        let host = TestHost::start(Setup::default().policy(&policy(section))).await;
        let reply = host.get("/open").await;
        assert_eq!(reply.status, 500, "{section}");
        let problems = host.config_problems();
        assert!(
            problems.iter().any(|p| p.starts_with(&format!("{field}:"))),
            "{section}: {problems:?}"
        );
        // The body says nothing about the configuration.
        assert!(!String::from_utf8_lossy(&reply.body).contains("security_events"));
    }
}

/// The benchmark's security-event cases (`auth-refused*` in bench/bench.py):
/// the demo policy with every event written and the table on, and a Better
/// Auth session cookie signed with the wrong secret, refused on its
/// signature before any store call: a 401, a `session_auth_failed` event
/// with the cookie's fingerprint, and its row.
#[tokio::test]
async fn the_benchmark_case_is_a_refused_forged_cookie_with_its_row() {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let demo = Setup::demo();
    let policy = format!(
        "{}\n[security_events]\nsample_per_window = 10000\nwindow = \"1s\"\ntable = true\nbatch_size = 1\n",
        demo.variables["policy"]
    );
    let host = TestHost::start(demo.policy(&policy)).await;
    let token = "BenchSessionToken0123456789abcd";
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"not the session secret").unwrap();
    mac.update(token.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let value = format!("{token}.{signature}")
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let cookie = format!("better-auth.session_token={value}");
    for _ in 0..2 {
        let reply = host
            .get_with("/api/protected/me", &[("cookie", &cookie)])
            .await;
        assert_eq!(reply.status, 401);
    }
    settle(&host).await;
    let found = events(&host, "session_auth_failed");
    assert_eq!(found.len(), 2, "{}", host.log());
    assert_eq!(found[0]["credential_fp"], found[1]["credential_fp"]);
    assert_eq!(found[0]["credential_fp"].as_str().map(str::len), Some(12));
    assert!(!host.log().contains(token));
    assert_eq!(batches_written(&host), vec![1, 1]);
    assert_eq!(table_rows(&host).len(), 2);
}
