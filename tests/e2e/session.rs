//! Session authentication through the real component: sessions written into
//! SQLite the way Better Auth 1.7 writes them, cookies signed the way Better
//! Auth signs them (computed here independently of warden's code), and the
//! echo app reporting what reached it.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};
use warden_tests::*;

pub(crate) const SESSION_SECRET: &str = "better-auth-secret-for-the-tests-0123456789";
const WORKER_SECRET: &str = "worker-secret-for-the-session-tests-0123456789";
const DAY: i64 = 86_400_000;

const UNAUTHORIZED: &str =
    r#"{"error":{"code":"UNAUTHORIZED","message":"Authentication required"}}"#;
const FORBIDDEN: &str = r#"{"error":{"code":"FORBIDDEN","message":"Insufficient permissions"}}"#;

/// The routes every test here uses; rate limits off so that operation
/// counts are the session layer's alone.
const ROUTES: &str = r#"
[[routes]]
name = "revoke"
methods = ["POST"]
path = "/.warden/sessions/revoke"
auth = "worker"
rate_limit = "off"

[[routes]]
name = "protected"
path = "/api/protected/*"
auth = "required"
rate_limit = "off"

[[routes]]
name = "creator"
path = "/api/creator/*"
auth = "required"
roles = ["creator"]
rate_limit = "off"

[[routes]]
name = "api"
path = "/api/*"
auth = "optional"
rate_limit = "off"
"#;

fn policy(session: &str) -> String {
    format!("[session]\nrevoke = true\nlog_failures = true\n{session}\n{ROUTES}")
}

async fn start(mode: Reuse, session: &str) -> TestHost {
    TestHost::start(
        Setup::default()
            .policy(&policy(session))
            .var("session_secret", SESSION_SECRET)
            .var("worker_secret", WORKER_SECRET)
            .reuse(mode),
    )
    .await
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn iso(ms: i64) -> String {
    iso8601_ms(ms)
}

/// A 32-character Better Auth style token (letters and digits).
pub(crate) fn token(tag: &str) -> String {
    let hex: String = Sha256::digest(tag.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{tag}{hex}")[..32].to_string()
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn hmac_base64(secret: &str, data: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// `encodeURIComponent`, for the characters a signed value can hold.
fn uri_encode(s: &str) -> String {
    s.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

/// Better Auth's cookie value: URL-encoded `token.base64(HMAC-SHA256(secret, token))`.
fn signed(secret: &str, token: &str) -> String {
    uri_encode(&format!("{token}.{}", hmac_base64(secret, token)))
}

pub(crate) fn cookie(token: &str) -> String {
    format!(
        "better-auth.session_token={}",
        signed(SESSION_SECRET, token)
    )
}

/// A value for the `date` columns: ISO text (Kysely) or integer ms (Drizzle).
#[derive(Clone, Copy)]
enum Date {
    Iso(i64),
    Millis(i64),
    /// ISO without milliseconds.
    IsoSeconds(i64),
    /// SQLite's `datetime()` text: `YYYY-MM-DD HH:MM:SS`.
    Sqlite(i64),
}

impl rusqlite::ToSql for Date {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as V};
        Ok(ToSqlOutput::Owned(match *self {
            Date::Iso(ms) => V::Text(iso(ms)),
            Date::Millis(ms) => V::Integer(ms),
            Date::IsoSeconds(ms) => V::Text(format!("{}Z", &iso(ms)[..19])),
            Date::Sqlite(ms) => V::Text(iso(ms)[..19].replace('T', " ")),
        }))
    }
}

pub(crate) struct User<'a> {
    id: &'a str,
    name: &'a str,
    email: &'a str,
    verified: i64,
    role: Option<&'a str>,
    banned: Option<i64>,
    ban_expires: Option<Date>,
}

impl<'a> User<'a> {
    pub(crate) fn new(id: &'a str, name: &'a str, role: Option<&'a str>) -> Self {
        User {
            id,
            name,
            email: "",
            verified: 1,
            role,
            banned: None,
            ban_expires: None,
        }
    }
}

fn db(host: &TestHost) -> rusqlite::Connection {
    rusqlite::Connection::open(host.state_dir().join("sqlite_db.db")).expect("database file")
}

/// Inserts a user as Better Auth's admin plugin schema holds it.
fn insert_user(host: &TestHost, user: &User, created: Date) {
    let email = if user.email.is_empty() {
        format!("{}@example.com", user.id)
    } else {
        user.email.to_string()
    };
    db(host)
        .execute(
            r#"INSERT INTO "user" ("id", "name", "email", "emailVerified", "image", "createdAt",
                 "updatedAt", "role", "banned", "banReason", "banExpires")
               VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?5, ?6, ?7, NULL, ?8)"#,
            rusqlite::params![
                user.id,
                user.name,
                email,
                user.verified,
                created,
                user.role,
                user.banned,
                user.ban_expires
            ],
        )
        .expect("insert user");
}

/// Inserts a session as Better Auth's `createSession` writes it.
fn insert_session(host: &TestHost, id: &str, token: &str, user_id: &str, expires: Date) {
    let now = Date::Iso(now_ms());
    db(host)
        .execute(
            r#"INSERT INTO "session" ("id", "expiresAt", "token", "createdAt", "updatedAt",
                 "ipAddress", "userAgent", "userId", "impersonatedBy")
               VALUES (?1, ?2, ?3, ?4, ?4, '203.0.113.7', 'Mozilla/5.0', ?5, NULL)"#,
            rusqlite::params![id, expires, token, now, user_id],
        )
        .expect("insert session");
}

/// A user with one valid session (7 days, Better Auth's default); its token.
pub(crate) fn login(host: &TestHost, user: &User) -> String {
    insert_user(host, user, Date::Iso(now_ms() - 30 * DAY));
    let t = token(user.id);
    insert_session(
        host,
        &format!("sess-{}", user.id),
        &t,
        user.id,
        Date::Iso(now_ms() + 7 * DAY),
    );
    t
}

pub(crate) fn kv_put(host: &TestHost, key: &str, value: &[u8]) {
    rusqlite::Connection::open(host.state_dir().join("sqlite_key_value.db"))
        .expect("kv file")
        .execute(
            "INSERT INTO spin_key_value (store, key, value) VALUES ('default', ?1, ?2)
             ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
            rusqlite::params![key, value],
        )
        .expect("kv insert");
}

pub(crate) fn kv_get(host: &TestHost, key: &str) -> Option<Vec<u8>> {
    rusqlite::Connection::open(host.state_dir().join("sqlite_key_value.db"))
        .expect("kv file")
        .query_row(
            "SELECT value FROM spin_key_value WHERE store = 'default' AND key = ?1",
            [key],
            |r| r.get(0),
        )
        .ok()
}

fn cache_key(token: &str) -> String {
    format!("warden:session:{}", sha256_hex(token))
}

pub(crate) async fn get_as(host: &TestHost, path: &str, cookie: &str) -> Reply {
    host.get_with(path, &[("cookie", cookie)]).await
}

fn user_header(reply: &Reply) -> Value {
    let seen = reply.echoed_headers();
    let encoded = seen
        .get("x-warden-user")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no x-warden-user: {seen:?}"));
    let bytes = URL_SAFE_NO_PAD.decode(encoded).expect("base64url");
    serde_json::from_slice(&bytes).expect("UserData JSON")
}

pub(crate) fn identity_of(reply: &Reply) -> Option<String> {
    reply
        .echoed_headers()
        .get("x-warden-user-id")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn assert_unauthorized(reply: &Reply, context: &str) {
    assert_eq!(
        reply.status,
        401,
        "{context}: {}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.body, UNAUTHORIZED, "{context}");
    assert!(reply.header("x-request-id").is_some());
}

fn delta(before: OpCounts, after: OpCounts) -> (u64, u64, u64) {
    (
        after.kv_reads - before.kv_reads,
        after.kv_writes - before.kv_writes,
        after.sqlite_statements - before.sqlite_statements,
    )
}

/// A worker-signed POST (seed 000: base64(HMAC-SHA256(secret, "{ts}:{body}"))).
async fn signed_post(host: &TestHost, path: &str, body: &str) -> Reply {
    let ts = (now_ms() / 1000).to_string();
    let signature = hmac_base64(WORKER_SECRET, &format!("{ts}:{body}"));
    host.send(
        "POST",
        path,
        &[
            ("content-type", b"application/json"),
            ("x-worker-timestamp", ts.as_bytes()),
            ("x-worker-signature", signature.as_bytes()),
        ],
        body.as_bytes(),
    )
    .await
}

#[tokio::test]
async fn valid_session_reaches_the_app_as_identity_headers() {
    for mode in MODES {
        let host = start(mode, "").await;
        let mut ada = User::new("user-ada", "Ada Lovelace", Some("admin,creator"));
        ada.email = "ada@example.com";
        let t = login(&host, &ada);

        let reply = get_as(&host, "/api/protected/me", &cookie(&t)).await;
        assert_eq!(
            reply.status,
            200,
            "{mode:?}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let seen = reply.echoed_headers();
        assert_eq!(seen["x-warden-user-id"], "user-ada");
        assert_eq!(seen["x-warden-user-email"], "ada@example.com");
        assert_eq!(seen["x-warden-user-name"], "Ada Lovelace");
        assert_eq!(seen["x-warden-user-role"], "admin,creator");
        assert_eq!(seen["x-warden-session-id"], "sess-user-ada");
        assert_eq!(seen["x-warden-auth"], "session");
        assert_eq!(seen["x-warden-route"], "protected");
        let user = user_header(&reply);
        assert_eq!(user["id"], "user-ada");
        assert_eq!(user["email"], "ada@example.com");
        assert_eq!(user["name"], "Ada Lovelace");
        assert_eq!(user["emailVerified"], true);
        assert_eq!(user["image"], Value::Null);
        assert_eq!(user["role"], "admin,creator");
        assert!(
            user["createdAt"]
                .as_str()
                .is_some_and(|d| d.ends_with('Z') && d.len() == 24)
        );
        // The token is in no warden header (the app still gets its own cookie).
        for (name, value) in &seen {
            if name.starts_with("x-warden-") {
                assert!(!value.to_string().contains(&t), "{name} carries the token");
            }
        }

        // The same session on an optional route; and without it, nobody.
        let reply = get_as(&host, "/api/feed", &cookie(&t)).await;
        assert_eq!(identity_of(&reply).as_deref(), Some("user-ada"));
        let anonymous = host.get("/api/feed").await;
        assert_eq!(anonymous.status, 200);
        assert!(
            !anonymous
                .echoed_headers()
                .keys()
                .any(|k| k.starts_with("x-warden-user")),
            "{mode:?}: {:?}",
            anonymous.echoed_headers()
        );
        assert_unauthorized(&host.get("/api/protected/me").await, "no cookie");
    }
}

#[tokio::test]
async fn spoofed_identity_headers_are_replaced_by_the_real_identity() {
    for mode in MODES {
        let host = start(mode, "").await;
        let t = login(&host, &User::new("user-bob", "Bob", Some("user")));
        let forged_user = URL_SAFE_NO_PAD.encode(r#"{"id":"admin","role":"admin"}"#);
        let spoofs = [
            ("x-warden-user-id", "admin"),
            ("X-Warden-User-Role", "admin"),
            ("x-warden-user", forged_user.as_str()),
            ("x-warden-auth", "worker"),
            ("x-warden-session-id", "sess-admin"),
        ];
        let c = cookie(&t);
        let mut headers: Vec<(&str, &str)> = spoofs.to_vec();
        headers.push(("cookie", &c));
        let reply = host.get_with("/api/protected/me", &headers).await;
        assert_eq!(reply.status, 200);
        let seen = reply.echoed_headers();
        // Exactly warden's values: a joined list would show ", admin".
        assert_eq!(seen["x-warden-user-id"], "user-bob", "{mode:?}");
        assert_eq!(seen["x-warden-user-role"], "user");
        assert_eq!(seen["x-warden-auth"], "session");
        assert_eq!(seen["x-warden-session-id"], "sess-user-bob");
        assert_eq!(user_header(&reply)["id"], "user-bob");

        // Without a session the spoofed headers are simply gone.
        let reply = host.get_with("/api/feed", &spoofs).await;
        assert_eq!(reply.status, 200);
        assert!(
            !reply
                .echoed_headers()
                .keys()
                .any(|k| k.starts_with("x-warden-") && k != "x-warden-route"),
            "{:?}",
            reply.echoed_headers()
        );
        // And on a required route they do not get anyone in.
        assert_unauthorized(
            &host.get_with("/api/protected/me", &spoofs).await,
            "spoofed only",
        );
    }
}

#[tokio::test]
async fn expired_missing_and_unknown_sessions() {
    for mode in MODES {
        let host = start(mode, "").await;
        let carol = User::new("user-carol", "Carol", None);
        insert_user(&host, &carol, Date::Iso(now_ms() - DAY));
        let expired = token("expired");
        insert_session(
            &host,
            "sess-old",
            &expired,
            "user-carol",
            Date::Iso(now_ms() - 1000),
        );

        assert_unauthorized(
            &get_as(&host, "/api/protected/me", &cookie(&expired)).await,
            "expired",
        );
        let reply = get_as(&host, "/api/feed", &cookie(&expired)).await;
        assert_eq!(reply.status, 200, "optional proceeds");
        assert_eq!(identity_of(&reply), None);

        let unknown = token("never-issued");
        assert_unauthorized(
            &get_as(&host, "/api/protected/me", &cookie(&unknown)).await,
            "unknown",
        );
        assert_unauthorized(
            &get_as(&host, "/api/protected/me", "theme=dark").await,
            "other cookies",
        );

        let log = host.log();
        assert!(log.contains(r#""reason":"expired""#), "{log}");
        assert!(log.contains(r#""reason":"not_found""#), "{log}");
        assert!(
            log.contains(&format!(
                r#""fingerprint":"{}""#,
                &sha256_hex(&expired)[..8]
            )),
            "{log}"
        );
        assert!(
            !log.contains(&expired) && !log.contains(&unknown),
            "tokens never logged"
        );
    }
}

#[tokio::test]
async fn tampered_and_unsigned_cookies_are_refused_without_any_lookup() {
    let host = start(Reuse::Spin, "").await;
    let t = login(&host, &User::new("user-dan", "Dan", None));
    // Warm up the instance so that loading configuration is not counted.
    host.get("/api/feed").await;

    let good = signed(SESSION_SECRET, &t);
    // One character of the signature changed (still valid base64).
    let mut signature = hmac_base64(SESSION_SECRET, &t);
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    signature.replace_range(0..1, flipped);
    let tampered = uri_encode(&format!("{t}.{signature}"));
    let cases = [
        (
            "tampered signature",
            format!("better-auth.session_token={tampered}"),
            "bad_signature",
        ),
        (
            "unsigned",
            format!("better-auth.session_token={t}"),
            "unsigned",
        ),
        (
            "unsigned codex-session",
            format!("codex-session={t}"),
            "unsigned",
        ),
        (
            "signed with another secret",
            format!(
                "better-auth.session_token={}",
                signed("someone-elses-secret", &t)
            ),
            "bad_signature",
        ),
        (
            "another token under this token's signature",
            format!(
                "better-auth.session_token={}",
                good.replacen(&t[..4], "ZZZZ", 1)
            ),
            "bad_signature",
        ),
        ("garbage", "codex-session=%zz%".to_string(), "malformed"),
    ];
    for (what, cookie, reason) in &cases {
        let before = host.counts();
        assert_unauthorized(&get_as(&host, "/api/protected/me", cookie).await, what);
        assert_eq!(
            delta(before, host.counts()),
            (0, 0, 0),
            "{what}: no store work at all"
        );
        let reply = get_as(&host, "/api/feed", cookie).await;
        assert_eq!((reply.status, identity_of(&reply)), (200, None), "{what}");
        assert!(
            host.log().contains(&format!(r#""reason":"{reason}""#)),
            "{what}"
        );
    }
    // The real cookie still works, and nothing secret was logged.
    assert_eq!(
        get_as(
            &host,
            "/api/protected/me",
            &format!("better-auth.session_token={good}")
        )
        .await
        .status,
        200
    );
    let log = host.log();
    for secret in [t.as_str(), SESSION_SECRET, &good, &tampered] {
        assert!(!log.contains(secret), "log leaks {secret}: {log}");
    }
    assert!(
        log.contains(&format!(r#""fingerprint":"{}""#, &sha256_hex(&t)[..8])),
        "{log}"
    );
}

#[tokio::test]
async fn cache_miss_then_hit_with_operation_counts() {
    for mode in MODES {
        let host = start(mode, "").await;
        let t = login(&host, &User::new("user-eve", "Eve", None));
        host.get("/api/feed").await;

        let before = host.counts();
        let miss = get_as(&host, "/api/protected/me", &cookie(&t)).await;
        assert_eq!(miss.status, 200);
        // Miss: cache get + index read, and the read that checks the store
        // answers before the index's compare-and-swap (docs/stores.md);
        // index swap + cache set; one SELECT.
        assert_eq!(delta(before, host.counts()), (3, 2, 1), "{mode:?} miss");

        let before = host.counts();
        let hit = get_as(&host, "/api/protected/me", &cookie(&t)).await;
        assert_eq!(identity_of(&hit).as_deref(), Some("user-eve"));
        assert_eq!(delta(before, host.counts()), (1, 0, 0), "{mode:?} hit");

        // The entry: under the token's hash, the token itself stored nowhere,
        // expiring with the session.
        let keys = host.kv_keys();
        assert!(keys.contains(&cache_key(&t)), "{keys:?}");
        assert!(keys.iter().all(|k| !k.contains(&t)));
        let entry: Value =
            serde_json::from_slice(&kv_get(&host, &cache_key(&t)).expect("entry")).expect("json");
        assert!(!entry.to_string().contains(&t));
        assert_eq!(entry["user"]["id"], "user-eve");
        let expires_at: String = db(&host)
            .query_row(
                r#"SELECT "expiresAt" FROM "session" WHERE "token" = ?1"#,
                [&t],
                |r| r.get(0),
            )
            .expect("session row");
        assert_eq!(entry["session"]["expiresAt"], expires_at);
        assert_eq!(iso(entry["expires"].as_i64().expect("expires")), expires_at);

        // A hit needs no database: the row can go and the session still works
        // (until revoked or expired).
        db(&host)
            .execute(r#"DELETE FROM "session""#, [])
            .expect("delete");
        assert_eq!(
            get_as(&host, "/api/protected/me", &cookie(&t)).await.status,
            200
        );
    }
}

#[tokio::test]
async fn stale_cache_entries_are_deleted_and_the_database_decides() {
    let host = start(Reuse::Spin, "").await;
    let frank = User::new("user-frank", "Frank", None);
    insert_user(&host, &frank, Date::Iso(now_ms() - DAY));
    let t = token("frank");
    insert_session(
        &host,
        "sess-frank",
        &t,
        "user-frank",
        Date::Iso(now_ms() - 60_000),
    );

    // A cache entry that says "valid until a minute ago", and a forged one
    // claiming more: both are stale on arrival.
    for expires in [now_ms() - 60_000, now_ms() + DAY] {
        let stale = json!({
            "expires": expires,
            "session": {"id": "sess-frank", "userId": "user-frank", "expiresAt": iso(now_ms() - 60_000),
                        "createdAt": iso(now_ms() - DAY), "updatedAt": iso(now_ms() - DAY)},
            "user": {"id": "user-frank", "email": "f@example.com", "name": "Frank", "emailVerified": true,
                     "image": null, "role": "admin", "createdAt": iso(now_ms() - DAY), "updatedAt": iso(now_ms() - DAY)}
        });
        kv_put(&host, &cache_key(&t), stale.to_string().as_bytes());
        let before = host.counts();
        assert_unauthorized(
            &get_as(&host, "/api/protected/me", &cookie(&t)).await,
            "stale entry",
        );
        assert_eq!(kv_get(&host, &cache_key(&t)), None, "stale entry deleted");
        // Cache get, its delete, then the database (which says expired).
        assert_eq!(delta(before, host.counts()), (1, 1, 1));
    }

    // Better Auth extended the session: the stale entry gives way to a fresh one.
    db(&host)
        .execute(
            r#"UPDATE "session" SET "expiresAt" = ?1"#,
            [iso(now_ms() + DAY)],
        )
        .expect("extend");
    let stale = json!({"expires": now_ms() - 1, "session": {}, "user": {}});
    kv_put(&host, &cache_key(&t), stale.to_string().as_bytes());
    assert_eq!(
        get_as(&host, "/api/protected/me", &cookie(&t)).await.status,
        200
    );
    let fresh: Value =
        serde_json::from_slice(&kv_get(&host, &cache_key(&t)).expect("rewritten")).expect("json");
    assert!(fresh["expires"].as_i64().expect("expires") > now_ms());
    assert!(host.log().contains("session_cache_entry_invalid"));
}

#[tokio::test]
async fn cache_fault_falls_back_to_the_database() {
    for mode in MODES {
        let host = start(mode, "").await;
        let t = login(&host, &User::new("user-gil", "Gil", None));
        host.get("/api/feed").await;
        host.host.faults().set_kv_error(true);
        let before = host.counts();
        let reply = get_as(&host, "/api/protected/me", &cookie(&t)).await;
        assert_eq!(identity_of(&reply).as_deref(), Some("user-gil"), "{mode:?}");
        assert_eq!(delta(before, host.counts()).2, 1, "answered from SQLite");
        host.host.faults().set_kv_error(false);
        assert!(host.log().contains("session_cache_error"), "{}", host.log());
        // Nothing was cached while the store failed; the next request caches.
        assert_eq!(kv_get(&host, &cache_key(&t)), None);
        assert_eq!(
            get_as(&host, "/api/protected/me", &cookie(&t)).await.status,
            200
        );
        assert!(kv_get(&host, &cache_key(&t)).is_some());
    }
}

#[tokio::test]
async fn database_fault_optional_proceeds_and_required_refuses() {
    for mode in MODES {
        let host = start(mode, "").await;
        let t = login(&host, &User::new("user-hal", "Hal", None));
        host.get("/api/feed").await;
        host.host.faults().set_sqlite_error(true);

        let optional = get_as(&host, "/api/feed", &cookie(&t)).await;
        assert_eq!(optional.status, 200, "{mode:?}");
        assert_eq!(
            identity_of(&optional),
            None,
            "anonymous while the database is down"
        );
        // 401, as seed 000's requireAuth answers when optionalAuth found no user.
        assert_unauthorized(
            &get_as(&host, "/api/protected/me", &cookie(&t)).await,
            "db down",
        );
        host.host.faults().set_sqlite_error(false);

        let log = host.log();
        assert!(
            log.contains(r#""event":"session_store_unavailable""#),
            "{log}"
        );
        assert!(log.contains(r#""reason":"store_unavailable""#), "{log}");
        assert_eq!(
            get_as(&host, "/api/protected/me", &cookie(&t)).await.status,
            200
        );
    }
}

#[tokio::test]
async fn roles_allow_and_deny() {
    for mode in MODES {
        let host = start(mode, "").await;
        let creator = login(&host, &User::new("user-ivy", "Ivy", Some("creator")));
        let several = login(&host, &User::new("user-jo", "Jo", Some("user,creator")));
        let plain = login(&host, &User::new("user-kim", "Kim", Some("user")));
        let none = login(&host, &User::new("user-lee", "Lee", None));

        for (t, who) in [(&creator, "user-ivy"), (&several, "user-jo")] {
            let reply = get_as(&host, "/api/creator/posts", &cookie(t)).await;
            assert_eq!(reply.status, 200, "{mode:?} {who}");
            assert_eq!(identity_of(&reply).as_deref(), Some(who));
        }
        for t in [&plain, &none] {
            let reply = get_as(&host, "/api/creator/posts", &cookie(t)).await;
            assert_eq!(reply.status, 403, "{mode:?}");
            assert_eq!(reply.body, FORBIDDEN);
            assert!(reply.header("x-request-id").is_some());
            // The same user passes where no role is asked for.
            assert_eq!(
                get_as(&host, "/api/protected/me", &cookie(t)).await.status,
                200
            );
        }
        assert_unauthorized(
            &host.get("/api/creator/posts").await,
            "anonymous on a role route",
        );
        assert!(host.log().contains(r#""reason":"missing_role""#));
    }
}

#[tokio::test]
async fn each_date_encoding() {
    let host = start(Reuse::Spin, "").await;
    let now = now_ms();
    let cases = [
        ("iso", Date::Iso(now + DAY), 200),
        ("iso-seconds", Date::IsoSeconds(now + DAY), 200),
        ("millis", Date::Millis(now + DAY), 200),
        ("sqlite-text", Date::Sqlite(now + DAY), 200),
        ("iso-expired", Date::Iso(now - 5_000), 401),
        ("millis-expired", Date::Millis(now - 5_000), 401),
        ("sqlite-expired", Date::Sqlite(now - 5_000), 401),
    ];
    for (i, (name, expires, status)) in cases.iter().enumerate() {
        let id = format!("user-date-{i}");
        let mut user = User::new(&id, name, None);
        user.verified = (i % 2) as i64;
        // The user's own dates in the other encoding, to mix them.
        insert_user(
            &host,
            &user,
            if i % 2 == 0 {
                Date::Millis(now - DAY)
            } else {
                Date::Iso(now - DAY)
            },
        );
        let t = token(name);
        insert_session(&host, &format!("sess-{i}"), &t, &id, *expires);
        let reply = get_as(&host, "/api/protected/me", &cookie(&t)).await;
        assert_eq!(
            reply.status,
            *status,
            "{name}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        if *status == 200 {
            let user = user_header(&reply);
            assert_eq!(
                user["emailVerified"],
                i % 2 == 1,
                "{name}: 0/1 read as a boolean"
            );
            // Dates reach the app as ISO text, whatever the storage.
            assert_eq!(user["createdAt"], iso(now - DAY), "{name}");
        }
    }
    // A date column holding something else is no session, and is logged.
    let mut odd = User::new("user-odd", "Odd", None);
    odd.verified = 1;
    insert_user(&host, &odd, Date::Iso(now));
    let t = token("odd");
    db(&host)
        .execute(
            r#"INSERT INTO "session" ("id","expiresAt","token","createdAt","updatedAt","userId") VALUES ('s-odd','next week',?1,?2,?2,'user-odd')"#,
            rusqlite::params![t, iso(now)],
        )
        .expect("insert");
    assert_unauthorized(
        &get_as(&host, "/api/protected/me", &cookie(&t)).await,
        "bad date",
    );
    assert!(
        host.log().contains("session.expiresAt is not a date"),
        "{}",
        host.log()
    );
}

#[tokio::test]
async fn banned_users_are_not_authenticated() {
    let host = start(Reuse::Spin, "").await;
    let now = now_ms();
    for (id, banned, until, status) in [
        ("user-ban-forever", Some(1), None, 401),
        ("user-ban-until", Some(1), Some(Date::Iso(now + DAY)), 401),
        (
            "user-ban-over",
            Some(1),
            Some(Date::Millis(now - 1000)),
            200,
        ),
        ("user-unbanned", Some(0), None, 200),
    ] {
        let mut user = User::new(id, id, Some("user"));
        user.banned = banned;
        user.ban_expires = until;
        let t = login(&host, &user);
        assert_eq!(
            get_as(&host, "/api/protected/me", &cookie(&t)).await.status,
            status,
            "{id}"
        );
    }
    assert!(host.log().contains(r#""reason":"banned""#));
}

#[tokio::test]
async fn concurrent_users_never_see_each_other() {
    let host = start(Reuse::Spin, "").await;
    let users: Vec<(String, String)> = (0..6)
        .map(|i| {
            let id = format!("user-c{i}");
            let t = login(&host, &User::new(&id, "C", None));
            (id, t)
        })
        .collect();
    let mut tasks = Vec::new();
    for round in 0..4 {
        for (id, t) in &users {
            let url = host.url("/api/feed");
            let client = host.client.clone();
            let (id, c) = (id.clone(), cookie(t));
            let anonymous = round % 2 == 1 && id.ends_with('0');
            tasks.push(tokio::spawn(async move {
                let mut req = hyper::Request::builder().uri(url);
                if !anonymous {
                    req = req.header("cookie", c);
                }
                let resp = client
                    .request(
                        req.body(http_body_util::Full::new(bytes::Bytes::new()))
                            .expect("req"),
                    )
                    .await
                    .expect("response");
                let body = http_body_util::BodyExt::collect(resp.into_body())
                    .await
                    .expect("body")
                    .to_bytes();
                let json: Value = serde_json::from_slice(&body).expect("json");
                let seen = json["headers"]["x-warden-user-id"]
                    .as_str()
                    .map(str::to_owned);
                (if anonymous { None } else { Some(id) }, seen)
            }));
        }
    }
    for task in tasks {
        let (expected, seen) = task.await.expect("task");
        assert_eq!(seen, expected);
    }
}

#[tokio::test]
async fn secondary_storage_source_reads_better_auth_json() {
    let host = start(Reuse::Spin, "source = \"secondary-storage\"").await;
    let t = token("secondary");
    let now = now_ms();
    // What Better Auth's createSession stores with secondaryStorage.
    let stored = json!({
        "session": {"id": "sess-ss", "token": t, "userId": "user-ss", "expiresAt": iso(now + DAY),
                    "createdAt": iso(now), "updatedAt": iso(now), "ipAddress": "", "userAgent": ""},
        "user": {"id": "user-ss", "name": "Sam", "email": "sam@example.com", "emailVerified": false,
                 "image": null, "createdAt": iso(now - DAY), "updatedAt": iso(now - DAY),
                 "role": "creator", "banned": false, "banReason": null, "banExpires": null}
    });
    kv_put(&host, &t, stored.to_string().as_bytes());
    host.get("/api/feed").await;

    let before = host.counts();
    let reply = get_as(&host, "/api/creator/x", &cookie(&t)).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(identity_of(&reply).as_deref(), Some("user-ss"));
    assert_eq!(user_header(&reply)["emailVerified"], false);
    assert_eq!(
        delta(before, host.counts()),
        (1, 0, 0),
        "one key-value read, no SQLite"
    );

    // Logged out in Better Auth (key deleted) or expired: no session.
    let expired = token("secondary-old");
    let mut old = stored.clone();
    old["session"]["expiresAt"] = json!(iso(now - 1000));
    kv_put(&host, &expired, old.to_string().as_bytes());
    assert_unauthorized(
        &get_as(&host, "/api/protected/me", &cookie(&expired)).await,
        "expired",
    );
    assert_unauthorized(
        &get_as(&host, "/api/protected/me", &cookie(&token("nobody"))).await,
        "absent",
    );
    assert!(
        kv_get(&host, &expired).is_some(),
        "Better Auth's data is left alone"
    );

    host.host.faults().set_kv_error(true);
    assert_unauthorized(
        &get_as(&host, "/api/protected/me", &cookie(&t)).await,
        "store down",
    );
    let optional = get_as(&host, "/api/feed", &cookie(&t)).await;
    assert_eq!((optional.status, identity_of(&optional)), (200, None));
    host.host.faults().set_kv_error(false);
    assert!(!host.log().contains(&t));
}

#[tokio::test]
async fn bearer_tokens_when_enabled() {
    let host = start(Reuse::Spin, "bearer = true").await;
    let t = login(&host, &User::new("user-api", "Api Client", None));
    let signed_token = signed(SESSION_SECRET, &t);
    for value in [format!("Bearer {signed_token}"), format!("Bearer {t}")] {
        let reply = host
            .get_with("/api/protected/me", &[("authorization", &value)])
            .await;
        assert_eq!(identity_of(&reply).as_deref(), Some("user-api"), "{value}");
    }
    let forged = format!("Bearer {t}.{}", hmac_base64("wrong", &t));
    assert_unauthorized(
        &host
            .get_with("/api/protected/me", &[("authorization", &forged)])
            .await,
        "forged",
    );

    // Off by default: the Authorization header is the app's business.
    let host = start(Reuse::Spin, "").await;
    let t = login(&host, &User::new("user-api", "Api Client", None));
    let value = format!("Bearer {}", signed(SESSION_SECRET, &t));
    assert_unauthorized(
        &host
            .get_with("/api/protected/me", &[("authorization", &value)])
            .await,
        "bearer off",
    );
}

#[tokio::test]
async fn revocation_takes_effect_at_once() {
    for mode in MODES {
        let host = start(mode, "").await;
        let mo = User::new("user-mo", "Mo", None);
        let t1 = login(&host, &mo);
        let t2 = token("mo-phone");
        insert_session(
            &host,
            "sess-mo-2",
            &t2,
            "user-mo",
            Date::Iso(now_ms() + DAY),
        );
        let other = login(&host, &User::new("user-ned", "Ned", None));
        for t in [&t1, &t2, &other] {
            assert_eq!(
                get_as(&host, "/api/protected/me", &cookie(t)).await.status,
                200
            );
        }
        // Better Auth logs the sessions out: the rows go, the cache still says yes.
        db(&host)
            .execute(r#"DELETE FROM "session""#, [])
            .expect("logout");
        assert_eq!(
            get_as(&host, "/api/protected/me", &cookie(&t1))
                .await
                .status,
            200
        );

        // Unsigned, the endpoint is a worker route like any other: refused.
        let body = json!({"token_hash": sha256_hex(&t1)}).to_string();
        let unsigned = host
            .send(
                "POST",
                "/.warden/sessions/revoke",
                &[("content-type", b"application/json")],
                body.as_bytes(),
            )
            .await;
        assert_eq!(unsigned.status, 401, "{mode:?}");
        assert_eq!(
            get_as(&host, "/api/protected/me", &cookie(&t1))
                .await
                .status,
            200
        );

        // One session, by its token hash.
        let reply = signed_post(&host, "/.warden/sessions/revoke", &body).await;
        assert_eq!(
            reply.status,
            200,
            "{mode:?}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.json(), json!({"revoked": 1}));
        assert_unauthorized(
            &get_as(&host, "/api/protected/me", &cookie(&t1)).await,
            "revoked",
        );
        assert_eq!(
            get_as(&host, "/api/protected/me", &cookie(&t2))
                .await
                .status,
            200
        );

        // Every session of a user, by user id (a ban).
        let reply = signed_post(
            &host,
            "/.warden/sessions/revoke",
            r#"{"user_id":"user-mo"}"#,
        )
        .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["revoked"], 1);
        assert_unauthorized(
            &get_as(&host, "/api/protected/me", &cookie(&t2)).await,
            "banned",
        );
        // Another user's cached session is untouched.
        assert_eq!(
            get_as(&host, "/api/protected/me", &cookie(&other))
                .await
                .status,
            200
        );

        // A bad body is a 400, and nothing is revoked.
        let reply = signed_post(&host, "/.warden/sessions/revoke", r#"{"token":"raw"}"#).await;
        assert_eq!(reply.status, 400);
        assert_eq!(
            get_as(&host, "/api/protected/me", &cookie(&other))
                .await
                .status,
            200
        );
        let log = host.log();
        assert!(log.contains(r#""event":"session_revoked""#), "{log}");
        assert!(!log.contains(&t1) && !log.contains(&t2));
    }
}

#[tokio::test]
async fn revocation_without_a_worker_route_is_a_configuration_error() {
    let host = TestHost::start(
        Setup::default()
            .policy("[session]\nrevoke = true\n[[routes]]\nname = \"all\"\npath = \"/*\"\nauth = \"optional\"")
            .var("session_secret", SESSION_SECRET),
    )
    .await;
    let reply = host.get("/anything").await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["error"]["code"], "CONFIGURATION_ERROR");
    assert!(host.log().contains("session.revoke_path"), "{}", host.log());
}

/// The demo (`spin.toml`): its policy and its DEV ONLY secrets.
async fn start_demo(mode: Reuse) -> (TestHost, String) {
    let declared = warden_host::manifest::declared_variables(&root().join("spin.toml")).unwrap();
    let mut setup = Setup::default().reuse(mode);
    let mut secret = String::new();
    for (name, value) in declared {
        if let Some(value) = value {
            if name == "session_secret" {
                secret = value.clone();
            }
            setup = setup.var(&name, &value);
        }
    }
    assert!(!secret.is_empty(), "the demo declares a session secret");
    (TestHost::start(setup).await, secret)
}

#[tokio::test]
async fn a_planted_cookie_does_not_shadow_the_real_session() {
    for mode in MODES {
        let (host, secret) = start_demo(mode).await;
        let admin = User::new("user-grace", "Grace Hopper", Some("admin"));
        let real = login(&host, &admin);
        let real_cookie = format!(
            "__Secure-better-auth.session_token={}",
            signed(&secret, &real)
        );
        // Control: the real cookie alone is the admin.
        let alone = get_as(&host, "/api/admin/panel", &real_cookie).await;
        assert_eq!(
            identity_of(&alone).as_deref(),
            Some("user-grace"),
            "{mode:?}"
        );

        // Planted cookies that used to be read first and win though refused:
        // unsigned junk, and a correctly signed token of no session.
        let unknown = token("planted");
        for planted in [
            "codex-session=junk".to_string(),
            format!("codex-session={}", signed(&secret, &unknown)),
            format!("better-auth.session_token={}", signed(&secret, &unknown)),
        ] {
            for header in [
                format!("{planted}; {real_cookie}"),
                format!("{real_cookie}; {planted}"),
            ] {
                let reply = get_as(&host, "/api/admin/panel", &header).await;
                assert_eq!(
                    reply.status,
                    200,
                    "{mode:?} {header}: {}",
                    String::from_utf8_lossy(&reply.body)
                );
                assert_eq!(
                    identity_of(&reply).as_deref(),
                    Some("user-grace"),
                    "{header}"
                );
            }
        }
        // A `__Secure-` cookie can be planted too (a sibling subdomain may
        // set one with `Domain`), and the browser sends it first: a lookup
        // that finds no session passes it over for the next one.
        let header = format!(
            "__Secure-better-auth.session_token={}; {real_cookie}",
            signed(&secret, &unknown)
        );
        let reply = get_as(&host, "/api/admin/panel", &header).await;
        assert_eq!(
            identity_of(&reply).as_deref(),
            Some("user-grace"),
            "{mode:?}"
        );
        assert!(host.log().contains("session_credential_passed_over"));
        // Junk alone is still no session.
        assert_unauthorized(
            &get_as(&host, "/api/admin/panel", "codex-session=junk").await,
            "junk alone",
        );
    }
}

/// Issue 19: a hanging store costs a session lookup its deadline, not the
/// request. The cache hanging falls back to the database; the database
/// hanging is a store failure (optional: anonymous; required: 401).
#[tokio::test]
async fn hanging_stores_cost_a_lookup_its_deadline() {
    const STORES: &str =
        "[stores.key_value]\ndeadline_ms = 50\n[stores.sqlite]\ndeadline_ms = 100\n";
    for mode in MODES {
        let host = start(mode, STORES).await;
        let t = login(&host, &User::new("user-uma", "Uma", None));
        host.get("/api/feed").await;

        host.host.faults().set_kv(warden_host::Fault::Hang);
        let started = std::time::Instant::now();
        let reply = get_as(&host, "/api/protected/me", &cookie(&t)).await;
        let took = started.elapsed();
        assert_eq!(identity_of(&reply).as_deref(), Some("user-uma"), "{mode:?}");
        assert!(
            took < std::time::Duration::from_millis(600),
            "{mode:?}: {took:?}"
        );
        host.host.faults().set_kv(warden_host::Fault::None);

        host.host
            .faults()
            .set(warden_host::Op::Sqlite, warden_host::Fault::Hang);
        let other = login(&host, &User::new("user-val", "Val", None));
        let started = std::time::Instant::now();
        let optional = get_as(&host, "/api/feed", &cookie(&other)).await;
        assert_eq!(optional.status, 200, "{mode:?}");
        assert_eq!(
            identity_of(&optional),
            None,
            "anonymous while the database hangs"
        );
        assert_unauthorized(
            &get_as(&host, "/api/protected/me", &cookie(&other)).await,
            "db hangs",
        );
        assert!(
            started.elapsed() < std::time::Duration::from_millis(1200),
            "{mode:?}"
        );
        host.host
            .faults()
            .set(warden_host::Op::Sqlite, warden_host::Fault::None);
        assert!(host.log().contains(r#""reason":"store_unavailable""#));
    }
}
