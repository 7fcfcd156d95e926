//! The session lookup and revocation, as functions over a small storage
//! port: the component implements [`SessionPort`] with Spin's key-value
//! store and SQLite, the tests with an in-memory fake.
//!
//! ```text
//! authenticate (source = "sqlite"):
//!   cache get ── fresh entry ──────────────────────────────► identity  (1 kv read)
//!      │ miss / stale (deleted) / unreadable (deleted) / error (logged)
//!      ▼
//!   one SELECT … JOIN … WHERE token = ?1 ── error ──────────► store unavailable
//!      │ no row → not_found · expired · banned · unreadable → invalid_record
//!      ▼
//!   user index compare-and-swap, then cache set ───────────► identity  (2 reads, 2 writes, 1 SQL)
//!      (write errors are logged and ignored)
//!
//! authenticate (source = "secondary-storage"):
//!   kv get <prefix><token> ── {session, user} JSON ─────────► identity  (1 kv read)
//! ```
//!
//! Expiry is re-checked on every cache hit, and the database decides
//! whenever the cache cannot: a stale entry is deleted and the session is
//! looked up again, because Better Auth may have extended it.

use serde_json::Value;

use super::config::{SessionConfig, SessionSource};
use super::identity::SessionUser;
use super::record::{CacheEntry, Cell, Invalid, SessionRecord};
use super::revoke::{RevokeRequest, UserIndex};
use super::sql::{lookup_sql, record_from_row};
use super::token::{Carrier, Extracted, Refusal, fingerprint, hex, token_hash};
use crate::base::auth_mode::AuthMode;
use crate::base::denial::Rejection;

/// Key prefix of warden's session cache entries: `warden:session:<sha256 hex>`.
pub const CACHE_PREFIX: &str = "warden:session:";
/// Key prefix of the per-user index: `warden:session-user:<sha256 hex of user id>`.
pub const USER_INDEX_PREFIX: &str = "warden:session-user:";
/// Compare-and-swap attempts before giving up on an index update.
pub const CAS_ATTEMPTS: usize = 4;

/// The cache key of a token, from its [`token_hash`].
pub fn cache_key(token_hash: &str) -> String {
    format!("{CACHE_PREFIX}{token_hash}")
}

/// The index key of a user.
pub fn user_index_key(user_id: &str) -> String {
    use sha2::{Digest, Sha256};
    format!(
        "{USER_INDEX_PREFIX}{}",
        hex(&Sha256::digest(user_id.as_bytes()))
    )
}

/// The storage a session lookup needs. Errors are host messages, logged.
#[allow(async_fn_in_trait)]
pub trait SessionPort {
    /// A pending compare-and-swap on one key.
    type Cas;
    async fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    async fn kv_set(&self, key: &str, value: Vec<u8>) -> Result<(), String>;
    async fn kv_delete(&self, key: &str) -> Result<(), String>;
    /// Starts a compare-and-swap: the key's current value and a handle.
    async fn kv_cas(&self, key: &str) -> Result<(Option<Vec<u8>>, Self::Cas), String>;
    /// Writes `value` if the key still holds what [`SessionPort::kv_cas`]
    /// read; `Ok(false)` when another writer came first.
    async fn kv_swap(&self, cas: Self::Cas, value: Vec<u8>) -> Result<bool, String>;
    /// Runs `sql` with the token as `?1`; the first row, if any.
    async fn db_row(&self, sql: &str, token: &str) -> Result<Option<Vec<Cell>>, String>;
    /// A structured log line (the adapter adds request id and route).
    fn log(&self, event: &str, fields: &[(&str, Value)]);
}

/// Where an identity was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Cache,
    Database,
    SecondaryStorage,
}

impl Via {
    pub fn as_str(&self) -> &'static str {
        match self {
            Via::Cache => "cache",
            Via::Database => "database",
            Via::SecondaryStorage => "secondary_storage",
        }
    }
}

/// Why a request has no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No credential at all.
    Missing,
    /// A credential refused before any lookup.
    Refused(Refusal),
    /// No such session.
    NotFound,
    /// The session has expired.
    Expired,
    /// The user is banned.
    Banned,
    /// The stored record cannot be read.
    InvalidRecord,
    /// The session store failed.
    StoreUnavailable,
}

impl Failure {
    /// The `reason` logged.
    pub fn as_str(&self) -> &'static str {
        match self {
            Failure::Missing => "missing",
            Failure::Refused(r) => r.as_str(),
            Failure::NotFound => "not_found",
            Failure::Expired => "expired",
            Failure::Banned => "banned",
            Failure::InvalidRecord => "invalid_record",
            Failure::StoreUnavailable => "store_unavailable",
        }
    }
}

impl From<Invalid> for Failure {
    fn from(invalid: Invalid) -> Failure {
        match invalid {
            Invalid::Expired => Failure::Expired,
            Invalid::Banned => Failure::Banned,
        }
    }
}

/// The result of a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Authenticated(SessionUser, Via),
    Failed(Failure),
}

/// What the route does with an [`Outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on to the app, as this user or anonymously.
    Proceed(Option<SessionUser>),
    /// Answer with this rejection.
    Refuse(Rejection),
}

/// Applies the route's mode and roles (seed `optionalAuth`/`requireAuth`).
///
/// - a valid session proceeds, unless the route lists roles and the user
///   holds none of them: 403;
/// - no valid session (missing, refused, expired, store down…): `optional`
///   proceeds anonymously, `required` answers 401. A route with roles also
///   answers 401, since no anonymous request holds a role.
pub fn decide(mode: AuthMode, roles: &[String], outcome: Outcome) -> Decision {
    match outcome {
        Outcome::Authenticated(user, _) if user.identity().has_any_role(roles) => {
            Decision::Proceed(Some(user))
        }
        Outcome::Authenticated(..) => Decision::Refuse(Rejection::Forbidden),
        Outcome::Failed(_) if mode.refuses_anonymous() || !roles.is_empty() => {
            Decision::Refuse(Rejection::Unauthorized)
        }
        Outcome::Failed(_) => Decision::Proceed(None),
    }
}

/// Most session lookups one request may cause: a planted or stale cookie
/// may be passed over for the next one, but a request stuffed with tokens
/// costs at most this many store reads and SQL statements.
pub const MAX_LOOKUPS: usize = 3;

/// The credential [`authenticate_first`] settled on, and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The identity, or why there is none: the first failure when every
    /// credential failed.
    pub outcome: Outcome,
    /// Where the credential behind `outcome` came from; `None` when the
    /// request carried none.
    pub carrier: Option<Carrier>,
    /// Its fingerprint, for the log.
    pub fingerprint: Option<String>,
    /// Credentials refused or not found before the one that authenticated.
    pub passed_over: usize,
}

/// Tries the request's [`credentials`](super::token::credentials) in order
/// until one authenticates: a refused signature, or a token the lookup does
/// not accept (unknown, expired, banned, unreadable), is passed over for
/// the next, so a planted junk cookie cannot shadow a valid session. A store
/// outage stops the search (no other token would fare better), and at most
/// [`MAX_LOOKUPS`] tokens are looked up.
pub async fn authenticate_first<P: SessionPort>(
    config: &SessionConfig,
    port: &P,
    credentials: &[Extracted],
    now_ms: u64,
) -> Attempt {
    let mut first_failure: Option<Attempt> = None;
    let mut failures = 0;
    let mut lookups = 0;
    for credential in credentials {
        let attempt = match credential {
            Extracted::Missing => continue,
            Extracted::Refused {
                carrier,
                reason,
                fingerprint,
            } => Attempt {
                outcome: Outcome::Failed(Failure::Refused(*reason)),
                carrier: Some(carrier.clone()),
                fingerprint: Some(fingerprint.clone()),
                passed_over: 0,
            },
            Extracted::Token(presented) => {
                if lookups == MAX_LOOKUPS {
                    break;
                }
                lookups += 1;
                let outcome = authenticate(config, port, &presented.token, now_ms).await;
                Attempt {
                    outcome,
                    carrier: Some(presented.carrier.clone()),
                    fingerprint: Some(fingerprint(&presented.token)),
                    passed_over: failures,
                }
            }
        };
        match attempt.outcome {
            Outcome::Authenticated(..) | Outcome::Failed(Failure::StoreUnavailable) => {
                return attempt;
            }
            Outcome::Failed(_) => {
                failures += 1;
                first_failure.get_or_insert(attempt);
            }
        }
    }
    first_failure.unwrap_or(Attempt {
        outcome: Outcome::Failed(Failure::Missing),
        carrier: None,
        fingerprint: None,
        passed_over: 0,
    })
}

/// Looks a presented (shape- and signature-checked) token up.
pub async fn authenticate<P: SessionPort>(
    config: &SessionConfig,
    port: &P,
    token: &str,
    now_ms: u64,
) -> Outcome {
    match config.source {
        SessionSource::Sqlite => from_sqlite(config, port, token, now_ms).await,
        SessionSource::SecondaryStorage => from_secondary(config, port, token, now_ms).await,
        // The cookie cache alone: tokens are never looked up (the component
        // reads no token credential with this source).
        SessionSource::JwtCookie => Outcome::Failed(Failure::Missing),
    }
}

async fn from_sqlite<P: SessionPort>(
    config: &SessionConfig,
    port: &P,
    token: &str,
    now_ms: u64,
) -> Outcome {
    let hash = token_hash(token);
    let fingerprint = &hash[..8];
    let key = cache_key(&hash);
    if config.cache {
        match port.kv_get(&key).await {
            Ok(Some(bytes)) => match CacheEntry::from_slice(&bytes) {
                Ok(entry) if entry.is_fresh(now_ms) => {
                    return Outcome::Authenticated(
                        SessionUser::from_record(&entry.record),
                        Via::Cache,
                    );
                }
                Ok(_) => delete_logged(port, &key, token).await,
                Err(e) => {
                    port.log(
                        "session_cache_entry_invalid",
                        &[("fingerprint", fingerprint.into()), ("detail", e.0.into())],
                    );
                    delete_logged(port, &key, token).await;
                }
            },
            Ok(None) => {}
            Err(e) => log_cache_error(port, "get", &e, token),
        }
    }

    let row = match port.db_row(&lookup_sql(&config.schema), token).await {
        Ok(Some(row)) => row,
        Ok(None) => return Outcome::Failed(Failure::NotFound),
        Err(e) => {
            port.log(
                "session_store_unavailable",
                &[
                    ("store", "sqlite".into()),
                    ("error", scrub(&e, token).into()),
                ],
            );
            return Outcome::Failed(Failure::StoreUnavailable);
        }
    };
    let record = match record_from_row(&row) {
        Ok(record) => record,
        Err(e) => {
            port.log(
                "session_record_invalid",
                &[
                    ("fingerprint", fingerprint.into()),
                    ("store", "sqlite".into()),
                    ("detail", e.0.into()),
                ],
            );
            return Outcome::Failed(Failure::InvalidRecord);
        }
    };
    if let Err(invalid) = record.check(now_ms) {
        return Outcome::Failed(invalid.into());
    }
    if config.cache {
        cache_write(config, port, token, &hash, &record, now_ms).await;
    }
    Outcome::Authenticated(SessionUser::from_record(&record), Via::Database)
}

/// Lists the entry in the user's index, then writes it. Any failure leaves
/// the entry unwritten (the next request looks the session up again), so a
/// cache entry never exists without its index listing.
async fn cache_write<P: SessionPort>(
    config: &SessionConfig,
    port: &P,
    token: &str,
    hash: &str,
    record: &SessionRecord,
    now_ms: u64,
) {
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    let expires = match config.cache_max_age_secs {
        Some(secs) => record
            .session
            .expires_at
            .min(now.saturating_add(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX))),
        None => record.session.expires_at,
    };
    let index_key = user_index_key(&record.user.id);
    let mut listed = false;
    for _ in 0..CAS_ATTEMPTS {
        let (current, cas) = match port.kv_cas(&index_key).await {
            Ok(read) => read,
            Err(e) => return log_cache_error(port, "index_read", &e, token),
        };
        let mut index = UserIndex::parse(current.as_deref());
        let removed = index.insert(hash, expires, now_ms);
        if !index.contains(hash) {
            return;
        }
        match port.kv_swap(cas, index.to_bytes()).await {
            Ok(true) => {
                for old in removed {
                    delete_logged(port, &cache_key(&old), token).await;
                }
                listed = true;
                break;
            }
            Ok(false) => continue,
            Err(e) => return log_cache_error(port, "index_write", &e, token),
        }
    }
    if !listed {
        port.log(
            "session_cache_skipped",
            &[("detail", "user index kept changing".into())],
        );
        return;
    }
    let entry = CacheEntry {
        expires,
        record: record.clone(),
    };
    if let Err(e) = port.kv_set(&cache_key(hash), entry.to_bytes()).await {
        log_cache_error(port, "set", &e, token);
    }
}

async fn from_secondary<P: SessionPort>(
    config: &SessionConfig,
    port: &P,
    token: &str,
    now_ms: u64,
) -> Outcome {
    let key = format!("{}{token}", config.secondary_storage_prefix);
    let bytes = match port.kv_get(&key).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Outcome::Failed(Failure::NotFound),
        Err(e) => {
            port.log(
                "session_store_unavailable",
                &[
                    ("store", "key_value".into()),
                    ("error", scrub(&e, token).into()),
                ],
            );
            return Outcome::Failed(Failure::StoreUnavailable);
        }
    };
    let parsed = serde_json::from_slice::<Value>(&bytes)
        .map(|v| match v {
            // An adapter that JSON-encodes the already encoded string.
            Value::String(inner) => serde_json::from_slice(inner.as_bytes()).unwrap_or(Value::Null),
            other => other,
        })
        .unwrap_or(Value::Null);
    let record = match SessionRecord::from_json(&parsed) {
        Ok(record) => record,
        Err(e) => {
            port.log(
                "session_record_invalid",
                &[
                    ("fingerprint", token_hash(token)[..8].into()),
                    ("store", "key_value".into()),
                    ("detail", e.0.into()),
                ],
            );
            return Outcome::Failed(Failure::InvalidRecord);
        }
    };
    match record.check(now_ms) {
        Ok(()) => Outcome::Authenticated(SessionUser::from_record(&record), Via::SecondaryStorage),
        Err(invalid) => Outcome::Failed(invalid.into()),
    }
}

/// Removes warden's cache entries: one session's, or every one of a user.
/// Returns how many were removed. Secondary storage is Better Auth's own
/// data and is never touched (Better Auth deletes it on logout and ban).
pub async fn revoke<P: SessionPort>(port: &P, request: &RevokeRequest) -> Result<usize, String> {
    match request {
        RevokeRequest::TokenHash(hash) => {
            let key = cache_key(hash);
            match port.kv_get(&key).await? {
                Some(_) => port.kv_delete(&key).await.map(|()| 1),
                None => Ok(0),
            }
        }
        RevokeRequest::UserId(user_id) => {
            let index_key = user_index_key(user_id);
            let mut removed = 0;
            for _ in 0..CAS_ATTEMPTS {
                let (current, cas) = port.kv_cas(&index_key).await?;
                let index = UserIndex::parse(current.as_deref());
                for hash in index.hashes() {
                    let key = cache_key(hash);
                    // Listed entries may be gone already (stale, or revoked
                    // one by one); only those still there are counted.
                    if port.kv_get(&key).await?.is_some() {
                        port.kv_delete(&key).await?;
                        removed += 1;
                    }
                }
                // Swap to an empty list: an entry listed meanwhile makes the
                // swap fail, and the next round deletes it too.
                if port.kv_swap(cas, UserIndex::default().to_bytes()).await? {
                    return Ok(removed);
                }
            }
            Err("user index kept changing".into())
        }
    }
}

async fn delete_logged<P: SessionPort>(port: &P, key: &str, token: &str) {
    if let Err(e) = port.kv_delete(key).await {
        log_cache_error(port, "delete", &e, token);
    }
}

fn log_cache_error<P: SessionPort>(port: &P, operation: &str, error: &str, token: &str) {
    port.log(
        "session_cache_error",
        &[
            ("operation", operation.into()),
            ("error", scrub(error, token).into()),
        ],
    );
}

/// A host message with the token cut out, in case a store echoes its key.
fn scrub(message: &str, token: &str) -> String {
    message.replace(token, "[token]")
}
