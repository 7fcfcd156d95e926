//! The session layer end to end over an in-memory port: cache hits and
//! misses, stale and broken entries, store faults, the user index and
//! revocation; plus the `[session]` policy section, rows, records and
//! identity headers.

use std::cell::{Cell as StdCell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::task::{Context, Poll, Waker};

use base64::Engine;
use serde_json::{Value, json};

use super::config::{SessionConfig, SessionSource};
use super::flow::*;
use super::identity::*;
use super::record::{Cell, SessionRecord};
use super::revoke::{RevokeRequest, UserIndex};
use super::sql::{COLUMNS, lookup_sql, record_from_row};
use super::token::{fingerprint, token_hash};
use super::{OPTIONAL, REQUIRED};
use crate::base::denial::Rejection;
use crate::base::problem::ConfigProblem;
use crate::policy::{Policy, parse_policy};

const TOKEN: &str = "Zx8kP2mQ9rT4vW7yA1bC3dE5fG6hJ0nL";
/// 2026-11-29T14:43:49.629Z
const NOW: u64 = 1_795_963_429_629;
const DAY: i64 = 86_400_000;

/// Runs a future whose I/O is all in memory, so it is always ready.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[derive(Default)]
struct Fake {
    kv: RefCell<HashMap<String, Vec<u8>>>,
    rows: RefCell<HashMap<String, Vec<Cell>>>,
    kv_fails: StdCell<bool>,
    kv_write_fails: StdCell<bool>,
    db_fails: StdCell<bool>,
    /// Another writer changes the key between read and swap this many times.
    cas_interference: StdCell<usize>,
    reads: StdCell<usize>,
    writes: StdCell<usize>,
    queries: StdCell<usize>,
    logs: RefCell<Vec<String>>,
}

impl Fake {
    fn counts(&self) -> (usize, usize, usize) {
        (self.reads.get(), self.writes.get(), self.queries.get())
    }
    fn reset(&self) {
        self.reads.set(0);
        self.writes.set(0);
        self.queries.set(0);
        self.logs.borrow_mut().clear();
    }
    fn read(&self) -> Result<(), String> {
        self.reads.set(self.reads.get() + 1);
        if self.kv_fails.get() {
            Err(format!("kv down (key {TOKEN})"))
        } else {
            Ok(())
        }
    }
    fn write(&self) -> Result<(), String> {
        self.writes.set(self.writes.get() + 1);
        if self.kv_fails.get() || self.kv_write_fails.get() {
            Err("kv write refused".into())
        } else {
            Ok(())
        }
    }
    fn logged(&self) -> String {
        self.logs.borrow().join("\n")
    }
    fn cached(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .kv
            .borrow()
            .keys()
            .filter(|k| k.starts_with(CACHE_PREFIX))
            .cloned()
            .collect();
        keys.sort();
        keys
    }
}

impl SessionPort for Fake {
    type Cas = (String, Option<Vec<u8>>);

    async fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.read()?;
        Ok(self.kv.borrow().get(key).cloned())
    }
    async fn kv_set(&self, key: &str, value: Vec<u8>) -> Result<(), String> {
        self.write()?;
        self.kv.borrow_mut().insert(key.into(), value);
        Ok(())
    }
    async fn kv_delete(&self, key: &str) -> Result<(), String> {
        self.write()?;
        self.kv.borrow_mut().remove(key);
        Ok(())
    }
    async fn kv_cas(&self, key: &str) -> Result<(Option<Vec<u8>>, Self::Cas), String> {
        self.read()?;
        let current = self.kv.borrow().get(key).cloned();
        Ok((current.clone(), (key.to_string(), current)))
    }
    async fn kv_swap(&self, cas: Self::Cas, value: Vec<u8>) -> Result<bool, String> {
        self.write()?;
        let (key, expected) = cas;
        if self.cas_interference.get() > 0 {
            self.cas_interference.set(self.cas_interference.get() - 1);
            // Someone else lists another session of the same user.
            let hash = format!("{:064x}", self.cas_interference.get() + 0xf00);
            let mut other = UserIndex::parse(expected.as_deref());
            other.insert(&hash, i64::MAX, 0);
            self.kv.borrow_mut().insert(key.clone(), other.to_bytes());
            self.kv
                .borrow_mut()
                .insert(cache_key(&hash), b"{}".to_vec());
        }
        let mut kv = self.kv.borrow_mut();
        if kv.get(&key) != expected.as_ref() {
            return Ok(false);
        }
        kv.insert(key, value);
        Ok(true)
    }
    async fn db_row(&self, sql: &str, token: &str) -> Result<Option<Vec<Cell>>, String> {
        self.queries.set(self.queries.get() + 1);
        assert!(sql.contains("?1") && !sql.contains(token), "{sql}");
        if self.db_fails.get() {
            return Err("database is locked".into());
        }
        Ok(self.rows.borrow().get(token).cloned())
    }
    fn log(&self, event: &str, fields: &[(&str, Value)]) {
        self.logs
            .borrow_mut()
            .push(crate::base::log::event(event, fields));
    }
}

/// A row as Better Auth writes it: ISO text dates, emailVerified 0/1.
fn row(expires: Cell, role: Option<&str>) -> Vec<Cell> {
    let text = |s: &str| Cell::Text(s.into());
    vec![
        text("sess-1"),
        text("user-1"),
        expires,
        text("2026-11-29T14:43:49.629Z"),
        text("2026-11-29T14:43:49.629Z"),
        text("203.0.113.7"),
        text("curl/8.5"),
        text("user-1"),
        text("ada@example.com"),
        text("Ada Lovelace"),
        Cell::Integer(1),
        Cell::Null,
        role.map_or(Cell::Null, text),
        text("2026-01-01T00:00:00.000Z"),
        text("2026-01-02T00:00:00.000Z"),
        Cell::Null,
        Cell::Null,
    ]
}

fn iso(ms: i64) -> Cell {
    Cell::Text(super::time::format_iso8601_ms(ms))
}

fn valid_row() -> Vec<Cell> {
    row(iso(NOW as i64 + 7 * DAY), Some("creator"))
}

fn fake_with(row: Vec<Cell>) -> Fake {
    let fake = Fake::default();
    fake.rows.borrow_mut().insert(TOKEN.into(), row);
    fake
}

fn run(config: &SessionConfig, fake: &Fake, now: u64) -> Outcome {
    block_on(authenticate(config, fake, TOKEN, now))
}

fn user_id(outcome: &Outcome) -> Option<(&str, Via)> {
    match outcome {
        Outcome::Authenticated(identity, via) => Some((identity.user_id.as_str(), *via)),
        Outcome::Failed(_) => None,
    }
}

#[test]
fn miss_then_hit_with_operation_counts() {
    let config = SessionConfig::default();
    let fake = fake_with(valid_row());
    let first = run(&config, &fake, NOW);
    assert_eq!(user_id(&first), Some(("user-1", Via::Database)));
    // Miss: cache get + index CAS read; index swap + cache set; one SELECT.
    assert_eq!(fake.counts(), (2, 2, 1));
    let key = cache_key(&token_hash(TOKEN));
    assert_eq!(fake.cached(), std::slice::from_ref(&key));
    // The key is the token's hash; the token is stored nowhere.
    for (k, v) in fake.kv.borrow().iter() {
        assert!(!k.contains(TOKEN) && !String::from_utf8_lossy(v).contains(TOKEN));
    }

    fake.reset();
    fake.rows.borrow_mut().clear(); // a hit never asks the database
    let second = run(&config, &fake, NOW + 1000);
    assert_eq!(user_id(&second), Some(("user-1", Via::Cache)));
    assert_eq!(fake.counts(), (1, 0, 0));
    match second {
        Outcome::Authenticated(identity, _) => {
            assert_eq!(identity.user.email, "ada@example.com");
            assert!(identity.user.email_verified);
            assert_eq!(identity.session_id, "sess-1");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cache_entry_expires_with_the_session_and_is_deleted() {
    let config = SessionConfig::default();
    let expires = NOW as i64 + 60_000;
    let fake = fake_with(row(Cell::Integer(expires), None));
    assert!(user_id(&run(&config, &fake, NOW)).is_some());
    let entry = fake.kv.borrow()[&cache_key(&token_hash(TOKEN))].clone();
    let entry: Value = serde_json::from_slice(&entry).unwrap_or_default();
    assert_eq!(entry["expires"], json!(expires));
    assert_eq!(entry["session"]["expiresAt"], "2026-11-29T14:44:49.629Z");

    // At expiry the entry is stale: deleted, then the database decides.
    fake.reset();
    let later = run(&config, &fake, expires as u64);
    assert_eq!(later, Outcome::Failed(Failure::Expired));
    assert!(fake.cached().is_empty());
    assert_eq!(fake.counts(), (1, 1, 1));
}

#[test]
fn stale_entry_for_an_extended_session_is_replaced() {
    let config = SessionConfig::default();
    let fake = fake_with(row(Cell::Integer(NOW as i64 + 1000), None));
    assert!(user_id(&run(&config, &fake, NOW)).is_some());
    // Better Auth extends the session in the database.
    fake.rows
        .borrow_mut()
        .insert(TOKEN.into(), row(Cell::Integer(NOW as i64 + DAY), None));
    let later = run(&config, &fake, NOW + 2000);
    assert_eq!(user_id(&later), Some(("user-1", Via::Database)));
    let hit = run(&config, &fake, NOW + 3000);
    assert_eq!(user_id(&hit), Some(("user-1", Via::Cache)));
}

#[test]
fn cache_max_age_caps_the_entry() {
    let config = SessionConfig {
        cache_max_age_secs: Some(60),
        ..SessionConfig::default()
    };
    let fake = fake_with(valid_row());
    assert!(user_id(&run(&config, &fake, NOW)).is_some());
    assert_eq!(
        user_id(&run(&config, &fake, NOW + 59_000)).map(|u| u.1),
        Some(Via::Cache)
    );
    assert_eq!(
        user_id(&run(&config, &fake, NOW + 60_000)).map(|u| u.1),
        Some(Via::Database)
    );
}

#[test]
fn unreadable_cache_entry_is_deleted_and_the_database_asked() {
    let config = SessionConfig::default();
    let fake = fake_with(valid_row());
    let key = cache_key(&token_hash(TOKEN));
    fake.kv
        .borrow_mut()
        .insert(key.clone(), b"{\"expires\":\"soon\"}".to_vec());
    assert_eq!(
        user_id(&run(&config, &fake, NOW)).map(|u| u.1),
        Some(Via::Database)
    );
    assert!(fake.logged().contains("session_cache_entry_invalid"));
    assert!(fake.logged().contains(&fingerprint(TOKEN)));
    assert!(CacheEntryCheck::fresh(&fake.kv.borrow()[&key]));
}

struct CacheEntryCheck;
impl CacheEntryCheck {
    fn fresh(bytes: &[u8]) -> bool {
        super::record::CacheEntry::from_slice(bytes).is_ok_and(|e| e.is_fresh(NOW))
    }
}

#[test]
fn cache_faults_fall_back_to_the_database() {
    let config = SessionConfig::default();
    let fake = fake_with(valid_row());
    fake.kv_fails.set(true);
    let outcome = run(&config, &fake, NOW);
    assert_eq!(user_id(&outcome), Some(("user-1", Via::Database)));
    assert_eq!(fake.counts().2, 1);
    let log = fake.logged();
    assert!(log.contains("session_cache_error"), "{log}");
    assert!(
        !log.contains(TOKEN),
        "the token is scrubbed from host errors: {log}"
    );

    // Writes failing alone: authenticated, nothing cached, logged.
    let fake = fake_with(valid_row());
    fake.kv_write_fails.set(true);
    assert!(user_id(&run(&config, &fake, NOW)).is_some());
    assert!(fake.cached().is_empty());
    assert!(fake.logged().contains("index_write"));
}

#[test]
fn database_fault_is_store_unavailable() {
    let config = SessionConfig::default();
    let fake = fake_with(valid_row());
    fake.db_fails.set(true);
    assert_eq!(
        run(&config, &fake, NOW),
        Outcome::Failed(Failure::StoreUnavailable)
    );
    assert!(fake.logged().contains("session_store_unavailable"));
    assert!(fake.cached().is_empty());
}

#[test]
fn missing_expired_banned_and_broken_rows() {
    let config = SessionConfig::default();
    let fake = Fake::default();
    assert_eq!(run(&config, &fake, NOW), Outcome::Failed(Failure::NotFound));

    let fake = fake_with(row(iso(NOW as i64 - 1), None));
    assert_eq!(run(&config, &fake, NOW), Outcome::Failed(Failure::Expired));
    assert!(
        fake.cached().is_empty(),
        "invalid sessions are never cached"
    );

    let mut banned = valid_row();
    banned[15] = Cell::Integer(1);
    let fake = fake_with(banned.clone());
    assert_eq!(run(&config, &fake, NOW), Outcome::Failed(Failure::Banned));
    banned[16] = iso(NOW as i64 + DAY);
    let fake = fake_with(banned.clone());
    assert_eq!(run(&config, &fake, NOW), Outcome::Failed(Failure::Banned));
    // A ban that has ended no longer counts.
    banned[16] = Cell::Integer(NOW as i64 - 1);
    let fake = fake_with(banned);
    assert!(user_id(&run(&config, &fake, NOW)).is_some());

    let mut broken = valid_row();
    broken[2] = Cell::Text("next tuesday".into());
    let fake = fake_with(broken);
    assert_eq!(
        run(&config, &fake, NOW),
        Outcome::Failed(Failure::InvalidRecord)
    );
    let log = fake.logged();
    assert!(
        log.contains("session.expiresAt is not an ISO-8601 date")
            || log.contains("session.expiresAt is not a date"),
        "{log}"
    );
    assert!(!log.contains("next tuesday"));
}

#[test]
fn date_and_boolean_encodings() {
    let config = SessionConfig::default();
    let expires = NOW as i64 + DAY;
    for (cell, verified) in [
        (iso(expires), Cell::Integer(1)),
        (Cell::Integer(expires), Cell::Integer(0)),
        (
            Cell::Text("2026-11-30 14:43:49".into()),
            Cell::Text("true".into()),
        ),
        (Cell::Real(expires as f64), Cell::Integer(1)),
    ] {
        let mut r = row(cell.clone(), None);
        r[10] = verified.clone();
        r[3] = Cell::Integer(0);
        let fake = fake_with(r);
        assert!(
            user_id(&run(&config, &fake, NOW)).is_some(),
            "{cell:?} {verified:?}"
        );
    }
    for bad in [
        Cell::Real(1.5),
        Cell::Blob(vec![1]),
        Cell::Null,
        Cell::Text("1795963429629".into()),
    ] {
        let fake = fake_with(row(bad.clone(), None));
        assert_eq!(
            run(&config, &fake, NOW),
            Outcome::Failed(Failure::InvalidRecord),
            "{bad:?}"
        );
    }
    let mut r = valid_row();
    r[10] = Cell::Integer(2);
    assert_eq!(
        run(&config, &fake_with(r), NOW),
        Outcome::Failed(Failure::InvalidRecord)
    );
}

#[test]
fn rows_are_checked_field_by_field() {
    assert!(record_from_row(&valid_row()).is_ok());
    assert!(record_from_row(&valid_row()[..COLUMNS - 1]).is_err());
    let mut r = valid_row();
    r[7] = Cell::Text("someone-else".into());
    assert_eq!(
        record_from_row(&r).map_err(|e| e.0),
        Err("session.userId does not match user.id".into())
    );
    let mut r = valid_row();
    r[1] = Cell::Integer(42);
    r[7] = Cell::Integer(42);
    assert_eq!(
        record_from_row(&r).map(|rec| rec.user.id),
        Ok("42".to_string())
    );
    let mut r = valid_row();
    r[0] = Cell::Text("bad\nid".into());
    assert!(record_from_row(&r).is_err());
    let mut r = valid_row();
    r[8] = Cell::Null;
    assert_eq!(
        record_from_row(&r).map_err(|e| e.0),
        Err("user.email is missing".into())
    );
}

#[test]
fn cache_off_reads_the_database_every_time() {
    let config = SessionConfig {
        cache: false,
        ..SessionConfig::default()
    };
    let fake = fake_with(valid_row());
    for _ in 0..2 {
        assert_eq!(
            user_id(&run(&config, &fake, NOW)).map(|u| u.1),
            Some(Via::Database)
        );
    }
    assert_eq!(fake.counts(), (0, 0, 2));
}

fn better_auth_json(expires: &str) -> Value {
    json!({
        "session": {
            "id": "sess-9", "token": TOKEN, "userId": "user-9", "expiresAt": expires,
            "createdAt": "2026-11-29T14:43:49.629Z", "updatedAt": "2026-11-29T14:43:49.629Z",
            "ipAddress": "", "userAgent": ""
        },
        "user": {
            "id": "user-9", "name": "Grace", "email": "grace@example.com", "emailVerified": false,
            "image": "https://example.com/g.png", "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:00:00.000Z", "role": "admin", "banned": false,
            "banReason": null, "banExpires": null
        }
    })
}

#[test]
fn secondary_storage_source() {
    let mut config = SessionConfig {
        source: SessionSource::SecondaryStorage,
        cache: false,
        ..SessionConfig::default()
    };
    let fake = Fake::default();
    assert_eq!(run(&config, &fake, NOW), Outcome::Failed(Failure::NotFound));

    let stored = better_auth_json("2026-12-06T14:43:49.629Z").to_string();
    fake.kv
        .borrow_mut()
        .insert(TOKEN.into(), stored.clone().into_bytes());
    fake.reset();
    let outcome = run(&config, &fake, NOW);
    assert_eq!(user_id(&outcome), Some(("user-9", Via::SecondaryStorage)));
    assert_eq!(fake.counts(), (1, 0, 0));
    // Nothing is written, and Better Auth's entry is left alone.
    assert_eq!(fake.kv.borrow().len(), 1);

    // A double-encoded value (an adapter that stringifies twice) reads too.
    let twice = Value::String(stored).to_string();
    fake.kv
        .borrow_mut()
        .insert(TOKEN.into(), twice.into_bytes());
    assert!(user_id(&run(&config, &fake, NOW)).is_some());

    // Expired: not authenticated, not deleted (Better Auth's data).
    let old = better_auth_json("2026-11-29T14:43:49.000Z").to_string();
    fake.kv.borrow_mut().insert(TOKEN.into(), old.into_bytes());
    assert_eq!(run(&config, &fake, NOW), Outcome::Failed(Failure::Expired));
    assert_eq!(fake.kv.borrow().len(), 1);

    // A prefix.
    config.secondary_storage_prefix = "ba:".into();
    assert_eq!(run(&config, &fake, NOW), Outcome::Failed(Failure::NotFound));

    // Store down.
    fake.kv_fails.set(true);
    assert_eq!(
        run(&config, &fake, NOW),
        Outcome::Failed(Failure::StoreUnavailable)
    );
    assert!(!fake.logged().contains(TOKEN));

    fake.kv_fails.set(false);
    fake.kv
        .borrow_mut()
        .insert(format!("ba:{TOKEN}"), b"[1,2,3]".to_vec());
    assert_eq!(
        run(&config, &fake, NOW),
        Outcome::Failed(Failure::InvalidRecord)
    );
}

#[test]
fn decisions() {
    let record = record_from_row(&valid_row()).unwrap_or_else(|e| panic!("{e:?}"));
    let identity = SessionUser::from_record(&record);
    let ok = Outcome::Authenticated(identity.clone(), Via::Cache);
    let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for mode in [OPTIONAL, REQUIRED] {
        assert_eq!(
            decide(mode, &[], ok.clone()),
            Decision::Proceed(Some(identity.clone()))
        );
        assert_eq!(
            decide(mode, &roles(&["admin", "creator"]), ok.clone()),
            Decision::Proceed(Some(identity.clone()))
        );
        assert_eq!(
            decide(mode, &roles(&["admin"]), ok.clone()),
            Decision::Refuse(Rejection::Forbidden)
        );
        assert_eq!(
            decide(mode, &roles(&["admin"]), Outcome::Failed(Failure::Missing)),
            Decision::Refuse(Rejection::Unauthorized)
        );
    }
    for failure in [
        Failure::Missing,
        Failure::NotFound,
        Failure::Expired,
        Failure::StoreUnavailable,
    ] {
        assert_eq!(
            decide(OPTIONAL, &[], Outcome::Failed(failure)),
            Decision::Proceed(None)
        );
        assert_eq!(
            decide(REQUIRED, &[], Outcome::Failed(failure)),
            Decision::Refuse(Rejection::Unauthorized)
        );
    }
}

#[test]
fn roles_split_on_commas() {
    let mut record = record_from_row(&valid_row()).unwrap_or_else(|e| panic!("{e:?}"));
    record.user.role = Some(" admin ,creator,,".into());
    let identity = SessionUser::from_record(&record);
    assert_eq!(identity.roles().collect::<Vec<_>>(), ["admin", "creator"]);
    assert!(identity.identity().has_any_role(&["creator".into()]));
    assert!(!identity.identity().has_any_role(&["Admin".into()]));
    record.user.role = None;
    assert!(
        !SessionUser::from_record(&record)
            .identity()
            .has_any_role(&["admin".into()])
    );
}

#[test]
fn identity_headers() {
    let mut record = record_from_row(&valid_row()).unwrap_or_else(|e| panic!("{e:?}"));
    record.user.name = "José \u{1F600}".into();
    record.user.image = Some(format!("data:image/png;base64,{}", "A".repeat(5000)));
    let headers = SessionUser::from_record(&record).headers();
    let get = |n: &str| {
        headers
            .iter()
            .find(|(name, _)| name == n)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    assert!(headers.iter().all(|(n, _)| n.starts_with("x-warden-")));
    assert_eq!(get(USER_ID_HEADER).as_deref(), Some("user-1"));
    assert_eq!(get(USER_EMAIL_HEADER).as_deref(), Some("ada@example.com"));
    assert_eq!(get(USER_NAME_HEADER).as_deref(), Some("José \u{1F600}"));
    assert_eq!(get(USER_ROLE_HEADER).as_deref(), Some("creator"));
    assert_eq!(get(SESSION_ID_HEADER).as_deref(), Some("sess-1"));
    assert_eq!(get(AUTH_HEADER).as_deref(), Some("session"));
    let encoded = get(USER_HEADER).unwrap_or_default();
    let json: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&encoded)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    assert_eq!(
        json,
        json!({
            "id": "user-1", "email": "ada@example.com", "name": "José \u{1F600}",
            "emailVerified": true, "image": null, "role": "creator",
            "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-02T00:00:00.000Z"
        })
    );

    // A control character keeps a field out of the plain headers only.
    record.user.name = "Eve\r\nx-warden-user-id: admin".into();
    record.user.role = None;
    let headers = SessionUser::from_record(&record).headers();
    assert!(
        !headers
            .iter()
            .any(|(n, _)| n == USER_NAME_HEADER || n == USER_ROLE_HEADER)
    );
    assert_eq!(
        headers.iter().filter(|(n, _)| n == USER_ID_HEADER).count(),
        1
    );
    assert!(headers.iter().any(|(n, _)| n == USER_HEADER));
}

#[test]
fn records_round_trip_through_the_cache_format() {
    let record = record_from_row(&valid_row()).unwrap_or_else(|e| panic!("{e:?}"));
    let back = SessionRecord::from_json(&record.to_json());
    assert_eq!(back, Ok(record.clone()));
    assert!(!record.to_json().to_string().contains("token"));
}

#[test]
fn index_conflicts_are_retried() {
    let config = SessionConfig::default();
    let fake = fake_with(valid_row());
    fake.cas_interference.set(1);
    assert!(user_id(&run(&config, &fake, NOW)).is_some());
    let index = UserIndex::parse(
        fake.kv
            .borrow()
            .get(&user_index_key("user-1"))
            .map(|v| v.as_slice()),
    );
    assert_eq!(index.len(), 2, "both sessions listed");
    assert!(index.contains(&token_hash(TOKEN)));

    // A conflict on every attempt: nothing cached, still authenticated.
    let fake = fake_with(valid_row());
    fake.cas_interference.set(CAS_ATTEMPTS);
    assert!(user_id(&run(&config, &fake, NOW)).is_some());
    assert!(
        !fake
            .kv
            .borrow()
            .contains_key(&cache_key(&token_hash(TOKEN)))
    );
    assert!(fake.logged().contains("session_cache_skipped"));
}

#[test]
fn index_evicts_and_deletes_old_entries() {
    let config = SessionConfig::default();
    let fake = Fake::default();
    let tokens: Vec<String> = (0..super::revoke::MAX_INDEX_ENTRIES + 2)
        .map(|i| format!("token{i:03}AAAAAAAAAAAAAAAAAAAAAAAAA"))
        .collect();
    for (i, t) in tokens.iter().enumerate() {
        let mut r = valid_row();
        r[2] = Cell::Integer(NOW as i64 + DAY + i as i64);
        fake.rows.borrow_mut().insert(t.clone(), r);
        assert!(user_id(&block_on(authenticate(&config, &fake, t, NOW))).is_some());
    }
    assert_eq!(fake.cached().len(), super::revoke::MAX_INDEX_ENTRIES);
    assert!(!fake.cached().contains(&cache_key(&token_hash(&tokens[0]))));
    assert!(!fake.cached().contains(&cache_key(&token_hash(&tokens[1]))));
}

#[test]
fn revocation() {
    let config = SessionConfig::default();
    let fake = fake_with(valid_row());
    let other = "OtherTokenOtherTokenOtherToken00";
    fake.rows.borrow_mut().insert(other.into(), valid_row());
    assert!(user_id(&run(&config, &fake, NOW)).is_some());
    assert!(user_id(&block_on(authenticate(&config, &fake, other, NOW))).is_some());
    assert_eq!(fake.cached().len(), 2);

    // One session by its token hash.
    let by_hash = RevokeRequest::TokenHash(token_hash(TOKEN));
    assert_eq!(block_on(revoke(&fake, &by_hash)), Ok(1));
    assert_eq!(block_on(revoke(&fake, &by_hash)), Ok(0));
    assert_eq!(fake.cached(), [cache_key(&token_hash(other))]);

    // Every session of a user.
    assert!(user_id(&run(&config, &fake, NOW)).is_some());
    let by_user = RevokeRequest::UserId("user-1".into());
    assert_eq!(block_on(revoke(&fake, &by_user)), Ok(2));
    assert!(fake.cached().is_empty());
    assert_eq!(block_on(revoke(&fake, &by_user)), Ok(0));

    // After revocation the database decides again (here: the session is gone).
    fake.rows.borrow_mut().clear();
    fake.reset();
    assert_eq!(run(&config, &fake, NOW), Outcome::Failed(Failure::NotFound));

    // A session listed while revoking is removed too.
    fake.rows.borrow_mut().insert(TOKEN.into(), valid_row());
    assert!(user_id(&run(&config, &fake, NOW)).is_some());
    fake.cas_interference.set(1);
    assert_eq!(block_on(revoke(&fake, &by_user)), Ok(2));
    assert!(fake.cached().is_empty());

    fake.kv_fails.set(true);
    assert!(block_on(revoke(&fake, &by_user)).is_err());
    assert!(block_on(revoke(&fake, &by_hash)).is_err());
}

// ---------------------------------------------------------------- policy

fn policy(doc: &str) -> Result<Policy, Vec<ConfigProblem>> {
    parse_policy(doc)
}

fn session_fields(section: &str) -> Vec<String> {
    let doc = format!("[session]\n{section}\n[[routes]]\nname = \"a\"\npath = \"/*\"\n");
    match policy(&doc) {
        Ok(_) => Vec::new(),
        Err(problems) => problems.into_iter().map(|p| p.field).collect(),
    }
}

#[test]
fn section_defaults() {
    let p = policy("[[routes]]\nname = \"a\"\npath = \"/*\"").unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(p.sections.session, SessionConfig::default());
    assert_eq!(
        p.sections.session.cookie_names,
        [
            "codex-session",
            "__Secure-better-auth.session_token",
            "better-auth.session_token"
        ]
    );
    assert!(
        !p.sections.session.bearer && p.sections.session.cache && !p.sections.session.log_failures
    );
    assert_eq!(p.sections.session.revoke_path, None);
    assert_eq!(
        lookup_sql(&p.sections.session.schema),
        "SELECT s.\"id\", s.\"userId\", s.\"expiresAt\", s.\"createdAt\", s.\"updatedAt\", \
         s.\"ipAddress\", s.\"userAgent\", u.\"id\", u.\"email\", u.\"name\", u.\"emailVerified\", \
         u.\"image\", u.\"role\", u.\"createdAt\", u.\"updatedAt\", u.\"banned\", u.\"banExpires\" \
         FROM \"session\" AS s JOIN \"user\" AS u ON u.\"id\" = s.\"userId\" WHERE s.\"token\" = ?1 LIMIT 1"
    );
    assert_eq!(
        Policy::built_in().sections.session,
        SessionConfig::default()
    );
}

#[test]
fn section_overrides() {
    let p = policy(
        r#"
        [session]
        source = "sqlite"
        cookie_names = ["sid"]
        bearer = true
        bearer_require_signature = true
        cache = true
        cache_max_age = "5m"
        log_failures = true
        session_table = "sessions"
        user_table = "users"
        [session.session_fields]
        token = "session_token"
        userId = "user_id"
        expiresAt = "expires_at"
        ipAddress = false
        [session.user_fields]
        emailVerified = "email_verified"
        role = false
        banned = false
        banExpires = false
        [[routes]]
        name = "a"
        path = "/*"
        "#,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let s = &p.sections.session;
    assert_eq!(s.cookie_names, ["sid"]);
    assert!(s.bearer && s.bearer_require_signature && s.log_failures);
    assert_eq!(s.cache_max_age_secs, Some(300));
    let sql = lookup_sql(&s.schema);
    assert!(
        sql.contains("FROM \"sessions\" AS s JOIN \"users\" AS u ON u.\"id\" = s.\"user_id\""),
        "{sql}"
    );
    assert!(sql.contains("WHERE s.\"session_token\" = ?1"), "{sql}");
    assert!(
        sql.contains("s.\"expires_at\", s.\"createdAt\", s.\"updatedAt\", NULL, s.\"userAgent\""),
        "{sql}"
    );
    assert!(
        sql.contains("u.\"email_verified\", u.\"image\", NULL,"),
        "{sql}"
    );
    assert!(sql.ends_with("u.\"updatedAt\", NULL, NULL FROM \"sessions\" AS s JOIN \"users\" AS u ON u.\"id\" = s.\"user_id\" WHERE s.\"session_token\" = ?1 LIMIT 1"), "{sql}");
}

#[test]
fn section_problems() {
    let cases: &[(&str, &[&str])] = &[
        ("source = \"postgres\"", &["session.source"]),
        ("source = 1", &["session.source"]),
        ("cookie_names = []", &["session.cookie_names"]),
        ("cookie_names = \"sid\"", &["session.cookie_names"]),
        (
            "cookie_names = [\"a b\", \"ok\", \"ok\", 3]",
            &[
                "session.cookie_names[0]",
                "session.cookie_names[2]",
                "session.cookie_names[3]",
            ],
        ),
        (
            "cookie_names = [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]",
            &["session.cookie_names"],
        ),
        ("bearer = \"yes\"", &["session.bearer"]),
        (
            "bearer_require_signature = true",
            &["session.bearer_require_signature"],
        ),
        ("cache = 1", &["session.cache"]),
        ("cache_max_age = \"5 minutes\"", &["session.cache_max_age"]),
        ("cache_max_age = 0", &["session.cache_max_age"]),
        (
            "cache = false\ncache_max_age = \"5m\"",
            &["session.cache_max_age"],
        ),
        ("log_failures = \"on\"", &["session.log_failures"]),
        ("revoke_path = \"/x\"", &["session.revoke_path"]),
        ("revoke = \"yes\"", &["session.revoke"]),
        (
            "session_table = \"session; DROP TABLE user\"",
            &["session.session_table"],
        ),
        ("user_table = \"\"", &["session.user_table"]),
        ("user_table = \"1user\"", &["session.user_table"]),
        (
            "session_table = \"sess\\\"ion\"",
            &["session.session_table"],
        ),
        ("session_fields = 1", &["session.session_fields"]),
        (
            "[session.session_fields]\ntoken = false",
            &["session.session_fields.token"],
        ),
        (
            "[session.session_fields]\nuserId = \"user id\"",
            &["session.session_fields.userId"],
        ),
        (
            "[session.session_fields]\nuser_id = \"uid\"",
            &["session.session_fields.user_id"],
        ),
        (
            "[session.user_fields]\nrole = true",
            &["session.user_fields.role"],
        ),
        (
            "[session.user_fields]\nemail = 3",
            &["session.user_fields.email"],
        ),
        (
            "secondary_storage_prefix = \"ba:\"",
            &["session.secondary_storage_prefix"],
        ),
        (
            "source = \"secondary-storage\"\ncache = true",
            &["session.cache"],
        ),
        (
            "source = \"secondary-storage\"\nuser_table = \"users\"",
            &["session.user_table"],
        ),
        ("cookies = [\"sid\"]", &["session.cookies"]),
    ];
    for (section, expected) in cases {
        assert_eq!(session_fields(section), *expected, "{section}");
    }
    assert!(
        session_fields("source = \"secondary-storage\"\nsecondary_storage_prefix = \"ba:\"")
            .is_empty()
    );
    let doc = "session = 1\n[[routes]]\nname = \"a\"\npath = \"/*\"";
    assert_eq!(
        policy(doc)
            .map_err(|p| p.into_iter().map(|p| p.field).collect::<Vec<_>>())
            .err(),
        Some(vec!["session".to_string()])
    );
}

#[test]
fn secondary_storage_turns_the_cache_off() {
    let p = policy(
        "[session]\nsource = \"secondary-storage\"\n[[routes]]\nname = \"a\"\npath = \"/*\"",
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(p.sections.session.source, SessionSource::SecondaryStorage);
    assert!(!p.sections.session.cache);
}

#[test]
fn the_cookie_cache_alone_reads_no_session_store() {
    let routes =
        "[[routes]]\nname = \"a\"\npath = \"/*\"\nauth = \"required\"\nrate_limit = \"off\"";
    let p = policy(&format!("[session]\nsource = \"jwt-cookie\"\n{routes}"))
        .unwrap_or_else(|e| panic!("{e:?}"));
    let session = &p.sections.session;
    assert_eq!(session.source, SessionSource::JwtCookie);
    assert!(session.jwt_cookie_cache && !session.cache && !session.bearer);
    assert_eq!(
        p.stores_used(),
        crate::base::layer::StoresUsed {
            key_value: false,
            sqlite: false
        }
    );
    // Keys from the jwks table: the database (and its key-value cache) again.
    let p = policy(&format!(
        "[session]\nsource = \"jwt-cookie\"\n[jwt]\nissuer = \"https://a.example\"\njwks_table = true\n{routes}"
    ))
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(p.stores_used().sqlite && p.stores_used().key_value);
    // Each session-token or store setting is refused, naming its field;
    // switches left off and an explicit cookie_cache = "jwt" are fine.
    for (field, value) in [
        ("revoke", "true"),
        ("cookie_names", "[\"sid\"]"),
        ("bearer", "true"),
        ("cache", "true"),
        ("user_table", "\"users\""),
        ("cookie_cache", "\"off\""),
        ("secondary_storage_prefix", "\"ba:\""),
    ] {
        let section = format!("source = \"jwt-cookie\"\n{field} = {value}");
        assert_eq!(
            session_fields(&section),
            [format!("session.{field}")],
            "{section}"
        );
    }
    for ok in ["revoke = false", "bearer = false", "cookie_cache = \"jwt\""] {
        let section = format!("source = \"jwt-cookie\"\n{ok}");
        assert!(session_fields(&section).is_empty(), "{section}");
    }
}

#[test]
fn revocation_needs_a_worker_route_first() {
    let routes_ok = r#"
        [[routes]]
        name = "revoke"
        methods = ["POST"]
        path = "/.warden/sessions/revoke"
        auth = "worker"
        [[routes]]
        name = "rest"
        path = "/*"
    "#;
    let p = policy(&format!("[session]\nrevoke = true\n{routes_ok}"))
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        p.sections.session.revoke_path.as_ref().map(|p| p.as_str()),
        Some("/.warden/sessions/revoke")
    );

    // A custom path, matched after normalization, under a worker wildcard.
    let p = policy(
        "[session]\nrevoke = true\nrevoke_path = \"/Internal//Sessions/Revoke/\"\n\
         [[routes]]\nname = \"internal\"\npath = \"/internal/*\"\nauth = \"worker\"\n\
         [[routes]]\nname = \"rest\"\npath = \"/*\"",
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        p.sections.session.revoke_path.as_ref().map(|p| p.as_str()),
        Some("/internal/sessions/revoke")
    );

    let problems = |doc: &str| match policy(doc) {
        Ok(_) => Vec::new(),
        Err(found) => found.into_iter().map(|p| p.to_string()).collect::<Vec<_>>(),
    };
    let found = problems("[session]\nrevoke = true\n[[routes]]\nname = \"rest\"\npath = \"/*\"");
    assert_eq!(
        found,
        [
            "session.revoke_path: POST /.warden/sessions/revoke matches route \"rest\" with auth = \"none\"; revocation needs a route with auth = \"worker\" before it"
        ]
    );
    let found = problems("[session]\nrevoke = true\n[[routes]]\nname = \"api\"\npath = \"/api/*\"");
    assert_eq!(
        found,
        [
            "session.revoke_path: no route matches POST /.warden/sessions/revoke; revocation needs a route with auth = \"worker\" for it"
        ]
    );
    // A worker route for GET only does not cover the POST.
    let found = problems(
        "[session]\nrevoke = true\n[[routes]]\nname = \"w\"\nmethods = [\"GET\"]\npath = \"/.warden/*\"\nauth = \"worker\"",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    for bad in [
        "\"relative\"",
        "\"/a/*\"",
        "\"/a?x=1\"",
        "\"/a/../b\"",
        "\"/\"",
        "1",
    ] {
        let doc = format!("[session]\nrevoke = true\nrevoke_path = {bad}\n{routes_ok}");
        let fields: Vec<String> = policy(&doc)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, ["session.revoke_path"], "{bad}");
    }
}

#[test]
fn bearer_signatures_need_the_secret() {
    use crate::config::{RawSettings, WardenConfig};
    let doc = "[session]\nbearer = true\nbearer_require_signature = true\n[[routes]]\nname = \"a\"\npath = \"/*\"";
    let found = WardenConfig::build(RawSettings {
        policy: Some(doc.into()),
        ..RawSettings::default()
    })
    .err()
    .map(|e| e.0.into_iter().map(|p| p.field).collect::<Vec<_>>());
    assert_eq!(found, Some(vec!["session_secret".to_string()]));
    assert!(
        WardenConfig::build(RawSettings {
            policy: Some(doc.into()),
            session_secret: Some("s3cret".into()),
            ..RawSettings::default()
        })
        .is_ok()
    );
}

/// Cookies of a request, as `credentials` sees them, signed with `secret`.
fn cookie_credentials(header: &str, only_prefixed: bool) -> Vec<super::token::Extracted> {
    let secret = crate::base::environment::Secret::new("better-auth-secret".into());
    super::token::credentials(
        &SessionConfig::default(),
        Some(&secret),
        &[header.as_bytes()],
        &[],
        only_prefixed,
    )
}

fn signed_cookie(name: &str, token: &str) -> String {
    let secret = crate::base::environment::Secret::new("better-auth-secret".into());
    format!(
        "{name}={}",
        super::token::sign(&secret, token).replace('=', "%3D")
    )
}

#[test]
fn a_planted_cookie_does_not_shadow_the_real_session() {
    let fake = fake_with(valid_row());
    let config = SessionConfig::default();
    let real = signed_cookie("__Secure-better-auth.session_token", TOKEN);
    // Junk (refused by its signature) and a validly signed but unknown
    // token (refused by the lookup), both under the unprefixed name that
    // used to be read first.
    let unknown = signed_cookie("codex-session", "UnknownTokenPlantedByASibling0");
    for header in [
        format!("codex-session=junk; {real}"),
        format!("{unknown}; {real}"),
        format!("{real}; {unknown}"),
    ] {
        let attempt = block_on(authenticate_first(
            &config,
            &fake,
            &cookie_credentials(&header, false),
            NOW,
        ));
        assert_eq!(
            user_id(&attempt.outcome).map(|u| u.0),
            Some("user-1"),
            "{header}"
        );
        assert_eq!(
            attempt.carrier,
            Some(super::token::Carrier::Cookie(
                "__Secure-better-auth.session_token".into()
            ))
        );
        // The prefixed cookie is tried first: nothing was passed over.
        assert_eq!(attempt.passed_over, 0, "{header}");
    }

    // An unprefixed valid session after a refused one is found too.
    let plain = signed_cookie("better-auth.session_token", TOKEN);
    let attempt = block_on(authenticate_first(
        &config,
        &fake,
        &cookie_credentials(&format!("{unknown}; {plain}"), false),
        NOW,
    ));
    assert_eq!(user_id(&attempt.outcome).map(|u| u.0), Some("user-1"));
    assert_eq!(attempt.passed_over, 1);
    // ... but not in production over https, where only prefixed names count.
    let attempt = block_on(authenticate_first(
        &config,
        &fake,
        &cookie_credentials(&format!("{unknown}; {plain}"), true),
        NOW,
    ));
    assert_eq!(attempt.outcome, Outcome::Failed(Failure::Missing));
}

#[test]
fn every_credential_failing_reports_the_first_and_lookups_are_bounded() {
    let fake = Fake::default();
    let config = SessionConfig::default();
    let header: Vec<String> = (0..6)
        .map(|i| signed_cookie("codex-session", &format!("UnknownToken{i}")))
        .collect();
    fake.reset();
    let attempt = block_on(authenticate_first(
        &config,
        &fake,
        &cookie_credentials(&format!("codex-session=junk; {}", header.join("; ")), false),
        NOW,
    ));
    // The first failure is the refused (unsigned) junk.
    assert_eq!(
        attempt.outcome,
        Outcome::Failed(Failure::Refused(super::token::Refusal::Unsigned))
    );
    assert_eq!(fake.counts().2, MAX_LOOKUPS, "SQL statements are bounded");
    // No credential at all.
    let attempt = block_on(authenticate_first(&config, &fake, &[], NOW));
    assert_eq!(attempt.outcome, Outcome::Failed(Failure::Missing));
    assert_eq!(attempt.carrier, None);
    // A store outage stops the search.
    fake.db_fails.set(true);
    fake.reset();
    let attempt = block_on(authenticate_first(
        &config,
        &fake,
        &cookie_credentials(&header.join("; "), false),
        NOW,
    ));
    assert_eq!(attempt.outcome, Outcome::Failed(Failure::StoreUnavailable));
    assert_eq!(fake.counts().2, 1);
}

#[test]
fn allow_unprefixed_on_https_is_a_session_setting() {
    let route = "[[routes]]\nname = \"app\"\npath = \"/*\"\nauth = \"optional\"\n";
    assert!(
        !parse_policy(route)
            .unwrap()
            .sections
            .session
            .allow_unprefixed_on_https
    );
    let p = parse_policy(&format!(
        "[session]\nallow_unprefixed_on_https = true\n{route}"
    ))
    .unwrap();
    assert!(p.sections.session.allow_unprefixed_on_https);
    let problems = parse_policy(&format!(
        "[session]\nallow_unprefixed_on_https = 1\n{route}"
    ))
    .unwrap_err()
    .iter()
    .map(ToString::to_string)
    .collect::<Vec<_>>();
    assert_eq!(
        problems,
        ["session.allow_unprefixed_on_https: must be a boolean, found an integer"]
    );
}
