//! Bearer JWTs (`auth = "jwt"`) over Spin's stores.
//!
//! The decisions are `warden_core::layers::jwt`'s; this module finds the
//! token where `[jwt] token_sources` says, builds the keyring and applies
//! the outcome: identity headers for the app (`x-warden-auth: jwt`,
//! `x-warden-user-id`, `x-warden-user-role`, `x-warden-jwt-claims`) and
//! [`Ctx::identity`], or a 401 with RFC 6750's `WWW-Authenticate` and the
//! seed's 401 body, or a 403 with `error="insufficient_scope"` when the
//! token lacks every one of the route's `roles`. The log gets the reason
//! (`Reason::kind`), never the token.
//!
//! Keys: the variables' keys (`hmac_secret_variable`, `jwks_variable`),
//! loaded once with the configuration
//! ([`WardenConfig::jwt_keys`](warden_core::config::WardenConfig)); Better
//! Auth's `jwks` table (`jwks_table = true`), read with
//! `SELECT id, publicKey, alg FROM jwks` (never `privateKey`) through
//! `host::sql`, within the database's deadline; a `jwks_url`, fetched with
//! `host::http_client` within its deadline (2 s) and size limit (64 KiB).
//!
//! The table's public keys are kept in key-value (`warden:jwt:jwks-table`)
//! for `jwks_cache_ttl`, and in the instance (a `thread_local`, like
//! `host::kv`'s open store) for the same time, so most requests read no
//! store at all. A token whose `kid` is unknown re-reads the table at most
//! once per `jwks_refetch_interval` per instance (the time of the last
//! re-read is that instance state): a flood of random `kid`s costs one
//! read a minute, not one read a request. Instances share nothing else;
//! a key Better Auth adds is seen by each instance within one interval.
//!
//! The URL's set is kept the same two ways (key-value: the bytes fetched,
//! when, and the TTL, under a key derived from the URL's hash, see
//! [`url_kv_key`]) for `JwtSettings::jwks_ttl(max_age)`: the server's
//! `Cache-Control: max-age` when it sent one, else `jwks_cache_ttl`,
//! clamped to 60 s..1 day. An unknown `kid` refetches at most once per
//! `jwks_refetch_interval` per instance **and** across instances (the time
//! of the last refetch is kept in key-value too, [`may_refetch`]). A failed
//! fetch keeps the cached set, however old, and logs it
//! (`jwt_jwks_fetch_failed`, or `jwt_jwks_fetch_denied` when the outbound
//! grant is missing).
//!
//! Failed attempts: before any key is loaded or signature checked, the
//! client address's failed-credential counter ([`crate::failed_attempts`],
//! the one the API-key stage counts in too) is read; past `[jwt]
//! failure_limit` the request gets the same 429 as a throttled API key. A
//! presented token that is refused counts one failure; no token, a missing
//! role (403) and a key store outage (503) do not.
//!
//! Fails closed: when the table cannot be read or the URL fetched, and no
//! cached copy exists, a token that needs one of their keys is answered 503 (the outage is
//! logged as `jwt_keys_unavailable`); a token the variables' keys decide
//! is decided as usual.

use crate::body::Inbound;
use crate::ctx::Ctx;
use crate::failed_attempts;
use crate::host::http_client::{self, FetchError};
use crate::host::{kv, sql};
use crate::respond;
use serde_json::{Value, json};
use spin_sdk::wasip3::http::types::{Request, Response};
use std::cell::RefCell;
use warden_core::base::denial::Rejection;
use warden_core::base::failed_attempts::throttled_denial;
use warden_core::base::identity::{AuthMethod, Identity};
use warden_core::base::security_event::{CREDENTIAL_FP, credential_fingerprint};
use warden_core::http::url::HttpUrl;
use warden_core::layers::jwt::{
    self, CLAIMS_HEADER, JwksOrigin, JwtSettings, Key, KeyProblem, Keyring, Loaded, Reason,
    VerifiedToken,
};
use warden_core::layers::session::identity::{AUTH_HEADER, USER_ID_HEADER, USER_ROLE_HEADER};
use warden_core::policy::Route;

/// The key-value key of the `jwks` table's cached public keys.
const TABLE_KV_KEY: &str = "warden:jwt:jwks-table";
/// The one statement that reads the table: public keys only.
const TABLE_SQL: &str = "SELECT id, publicKey, alg FROM jwks";
/// Most rows read from the table.
const MAX_TABLE_ROWS: usize = 32;

/// One row of the `jwks` table, public columns only.
type Row = (String, String, Option<String>);

/// The table's keys as this instance last read them.
struct TableCache {
    keys: Keyring,
    /// When the rows were read from the database (unix ms).
    read_at_ms: u64,
    /// When an unknown `kid` last made this instance re-read the table.
    last_reread_ms: Option<u64>,
}

thread_local! {
    /// Per instance (instances serve many requests, DESIGN §1).
    static TABLE: RefCell<Option<TableCache>> = const { RefCell::new(None) };
}

/// Authenticates the request by its bearer JWT.
pub async fn check(
    ctx: &mut Ctx<'_>,
    route: &Route,
    request: Request,
) -> Result<Inbound, Response> {
    authenticate(ctx, route)
        .await
        .map(|()| Inbound::Streaming(request))
}

async fn authenticate(ctx: &mut Ctx<'_>, route: &Route) -> Result<(), Response> {
    let warden = ctx.config;
    let settings = warden.policy.sections.jwt.for_route(&route.keys.jwt);
    let cookies = cookie_pairs(&ctx.incoming);
    let token = jwt::find_token(
        &settings.token_sources,
        |name| header(&ctx.incoming, name),
        |name| cookies.iter().find(|(n, _)| *n == name).map(|(_, v)| *v),
    )
    .map(str::to_owned);
    if token.is_none() && !route.auth.refuses_anonymous() && route.roles.is_empty() {
        return Ok(());
    }
    // The failed-credential throttle (shared with the API-key stage), before
    // any key is loaded or signature checked.
    match failed_attempts::throttled(ctx, settings.throttle(), "jwt_throttled").await {
        Ok(false) => {}
        Ok(true) => return Err(respond::deny(ctx, throttled_denial())),
        Err(error) => {
            ctx.log(
                "jwt_store_unavailable",
                &[
                    ("during", "throttle".into()),
                    ("error", error.to_string().into()),
                ],
            );
            return Err(respond::deny(ctx, Rejection::ServiceUnavailable));
        }
    }
    let Some(token) = token else {
        // No token is not a failed attempt.
        return Err(refuse(ctx, &settings, Reason::Missing, None, None));
    };
    let now_ms = ctx.now_ms();
    let now = (now_ms / 1000) as i64;
    let outcome = verify(ctx, &settings, &token, now, now_ms).await;
    match outcome {
        Ok(verified) => admit(ctx, route, &settings, verified),
        Err(Failure::Refused(reason, kid)) => {
            failed_attempts::count_failure(ctx, "jwt_throttle_error").await;
            Err(refuse(ctx, &settings, reason, kid, Some(&token)))
        }
        Err(Failure::KeysUnavailable(error)) => {
            ctx.log("jwt_keys_unavailable", &[("error", error.into())]);
            Err(respond::deny(ctx, Rejection::ServiceUnavailable))
        }
    }
}

enum Failure {
    /// The token was refused (with the `kid` it named, for the log).
    Refused(Reason, Option<String>),
    /// The token needs the `jwks` table and it cannot be read.
    KeysUnavailable(String),
}

/// Verifies against the variables' keys, the table's and the URL's. On an
/// unknown `kid`, each stored source not read during this request is
/// renewed once, within its own limit ([`may_reread`], [`may_refetch`]).
async fn verify(
    ctx: &Ctx<'_>,
    settings: &JwtSettings,
    token: &str,
    now: i64,
    now_ms: u64,
) -> Result<VerifiedToken, Failure> {
    let kid = || header_kid(settings, token);
    let url = settings.jwks_url.as_deref();
    let mut table = match settings.jwks_table {
        true => Some(table_keys(ctx, settings, now_ms, false).await),
        false => None,
    };
    let mut fetched = match url {
        Some(url) => Some(url_keys(ctx, settings, url, now_ms, false).await),
        None => None,
    };
    let attempt = |table: &Option<Stored>, fetched: &Option<Stored>| {
        let mut ring = ctx.config.jwt_keys.clone();
        for (keys, _) in [table, fetched].into_iter().flatten().flatten() {
            ring.extend(keys.clone());
        }
        jwt::verify_bearer(settings, &ring, token, now)
    };
    let mut outcome = attempt(&table, &fetched);
    if outcome.as_ref().is_err_and(|r| unknown_key(*r)) {
        // Keys read just now are as new as a re-read; a source that failed
        // is not tried twice in one request.
        let mut renewed = false;
        if matches!(table, Some(Ok((_, false)))) && may_reread(settings, now_ms) {
            table = Some(table_keys(ctx, settings, now_ms, true).await);
            renewed = true;
        }
        if let Some(url) = url
            && matches!(fetched, Some(Ok((_, false))))
            && may_refetch(ctx, settings, url, now_ms).await
        {
            fetched = Some(url_keys(ctx, settings, url, now_ms, true).await);
            renewed = true;
        }
        if renewed {
            outcome = attempt(&table, &fetched);
        }
    }
    match outcome {
        Ok(verified) => Ok(verified),
        Err(reason) if unknown_key(reason) => {
            let failed = [table, fetched].into_iter().flatten().find_map(Result::err);
            match failed {
                Some(error) => Err(Failure::KeysUnavailable(error)),
                None => Err(Failure::Refused(reason, kid())),
            }
        }
        Err(reason) => Err(Failure::Refused(reason, kid())),
    }
}

/// A stored source's keys, and whether they were read from their origin
/// (the database, the URL) during this request; or why they could not be
/// had at all.
type Stored = Result<(Keyring, bool), String>;

/// A refusal that a key added since the last read could turn around.
fn unknown_key(reason: Reason) -> bool {
    matches!(reason, Reason::UnknownKid | Reason::NoKeyForAlg)
}

/// Whether this instance may re-read the table now (and, if so, notes it).
fn may_reread(settings: &JwtSettings, now_ms: u64) -> bool {
    let interval_ms = settings.jwks_refetch_interval.saturating_mul(1000);
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        let Some(cache) = t.as_mut() else {
            return true;
        };
        let allowed = cache
            .last_reread_ms
            .is_none_or(|at| now_ms.saturating_sub(at) >= interval_ms);
        if allowed {
            cache.last_reread_ms = Some(now_ms);
        }
        allowed
    })
}

/// The `jwks` table's keys: the instance's copy while fresh, else the
/// key-value copy while fresh, else the database (then both copies are
/// renewed). `reread` goes to the database at once. The flag says whether
/// the database was read.
async fn table_keys(
    ctx: &Ctx<'_>,
    settings: &JwtSettings,
    now_ms: u64,
    reread: bool,
) -> Result<(Keyring, bool), String> {
    let ttl_ms = settings.jwks_cache_ttl.saturating_mul(1000);
    let fresh = |at: u64| now_ms.saturating_sub(at) < ttl_ms;
    if !reread
        && let Some(keys) = TABLE.with(|t| {
            t.borrow()
                .as_ref()
                .filter(|c| fresh(c.read_at_ms))
                .map(|c| c.keys.clone())
        })
    {
        return Ok((keys, false));
    }
    let kv_calls = &ctx.config.policy.stores.key_value;
    if !reread
        && let Ok(Some(bytes)) = kv::get(kv_calls, TABLE_KV_KEY).await
        && let Some((read_at_ms, rows)) = decode_rows(&bytes)
        && fresh(read_at_ms)
    {
        let keys = load_rows(ctx, &rows);
        remember(keys.clone(), read_at_ms);
        return Ok((keys, false));
    }
    let rows = read_table(ctx).await?;
    let keys = load_rows(ctx, &rows);
    let stored = encode_rows(now_ms, &rows);
    if let Err(e) = kv::set(kv_calls, TABLE_KV_KEY, stored.as_bytes()).await {
        ctx.log(
            "jwt_jwks_cache_write_failed",
            &[("error", e.to_string().into())],
        );
    }
    remember(keys.clone(), now_ms);
    Ok((keys, true))
}

fn remember(keys: Keyring, read_at_ms: u64) {
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        let last_reread_ms = t.as_ref().and_then(|c| c.last_reread_ms);
        *t = Some(TableCache {
            keys,
            read_at_ms,
            last_reread_ms,
        });
    });
}

/// `SELECT id, publicKey, alg FROM jwks`, within the database's deadline.
async fn read_table(ctx: &Ctx<'_>) -> Result<Vec<Row>, String> {
    use sql::Value as V;
    let calls = &ctx.config.policy.stores.sqlite;
    let rows = sql::query(calls, TABLE_SQL, Vec::new())
        .await
        .map_err(|e| e.to_string())?;
    let text = |v: Option<&V>| match v {
        Some(V::Text(s)) => Some(s.clone()),
        _ => None,
    };
    Ok(rows
        .iter()
        .take(MAX_TABLE_ROWS)
        .filter_map(|row| {
            let id = text(row.values.first())?;
            let public_key = text(row.values.get(1))?;
            Some((id, public_key, text(row.values.get(2))))
        })
        .collect())
}

/// The rows' keys; a row that is not a usable key is logged and left out.
fn load_rows(ctx: &Ctx<'_>, rows: &[Row]) -> Keyring {
    let mut keys = Keyring::new();
    for (id, public_key, alg) in rows {
        match Key::from_better_auth_row(id, public_key, alg.as_deref())
            .and_then(|key| keys.push(key))
        {
            Ok(()) => {}
            Err(problem) => {
                // Logged once per read, not per request.
                ctx.log(
                    "jwt_jwks_row_skipped",
                    &[
                        ("kid", id.as_str().into()),
                        ("problem", problem.message().into()),
                    ],
                );
            }
        }
    }
    keys
}

fn encode_rows(read_at_ms: u64, rows: &[Row]) -> String {
    json!({ "read_at_ms": read_at_ms, "rows": rows }).to_string()
}

fn decode_rows(bytes: &[u8]) -> Option<(u64, Vec<Row>)> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let read_at = value.get("read_at_ms")?.as_u64()?;
    let rows = serde_json::from_value(value.get("rows")?.clone()).ok()?;
    Some((read_at, rows))
}

// ---- `jwks_url`: the fetched JWK Set ----------------------------------

/// The prefix of the key-value keys of a `jwks_url`: the set is kept under
/// `warden:jwt:jwks-url:<hash>`, the time of the last unknown-`kid`
/// refetch under `warden:jwt:jwks-url:<hash>:refetch` (`<hash>`: the
/// first 16 bytes of the URL's SHA-256, in hex, so a URL never reaches
/// the store's key space as text).
const URL_KV_PREFIX: &str = "warden:jwt:jwks-url:";

/// The URL's set as this instance last had it.
struct UrlCache {
    url: String,
    keys: Keyring,
    /// Until when the set is used without asking again (unix ms): fetched
    /// at + its TTL, or, after a failed fetch, now + the refetch interval.
    fresh_until_ms: u64,
    /// When an unknown `kid` last made this instance refetch, or saw that
    /// another instance had (unix ms).
    last_refetch_ms: Option<u64>,
}

thread_local! {
    /// Per instance, like [`TABLE`].
    static URL: RefCell<Option<UrlCache>> = const { RefCell::new(None) };
}

/// The set as kept in key-value: its bytes as fetched, when, and for how
/// long.
#[derive(Debug, PartialEq)]
struct StoredSet {
    jwks: String,
    fetched_at_ms: u64,
    ttl_s: u64,
}

impl StoredSet {
    fn fresh_until_ms(&self) -> u64 {
        self.fetched_at_ms
            .saturating_add(self.ttl_s.saturating_mul(1000))
    }

    fn encode(&self) -> String {
        json!({ "fetched_at_ms": self.fetched_at_ms, "ttl_s": self.ttl_s, "jwks": self.jwks })
            .to_string()
    }

    fn decode(bytes: &[u8]) -> Option<StoredSet> {
        let value: Value = serde_json::from_slice(bytes).ok()?;
        Some(StoredSet {
            jwks: value.get("jwks")?.as_str()?.to_owned(),
            fetched_at_ms: value.get("fetched_at_ms")?.as_u64()?,
            ttl_s: value.get("ttl_s")?.as_u64()?,
        })
    }
}

/// `warden:jwt:jwks-url:<hash>`.
fn url_kv_key(url: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(url.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{URL_KV_PREFIX}{hex}")
}

/// The URL's keys: the instance's copy while fresh, else the key-value
/// copy while fresh, else a fetch (then both copies are renewed).
/// `refetch` fetches at once. The flag says whether the URL was fetched.
///
/// A failed fetch falls back on the newest copy at hand, however old (the
/// instance's, else key-value's), logged as `jwt_jwks_fetch_failed`; that
/// copy is then used for one `jwks_refetch_interval` before the next try,
/// so a dead server costs one fetch an interval, not one a request. With
/// no copy at all the fetch's error is returned (the caller answers 503).
async fn url_keys(
    ctx: &Ctx<'_>,
    settings: &JwtSettings,
    url: &str,
    now_ms: u64,
    refetch: bool,
) -> Stored {
    let instance = URL.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|c| c.url == url)
            .map(|c| (c.keys.clone(), c.fresh_until_ms))
    });
    if !refetch
        && let Some((keys, until)) = &instance
        && now_ms < *until
    {
        return Ok((keys.clone(), false));
    }
    let kv_calls = &ctx.config.policy.stores.key_value;
    let kv_key = url_kv_key(url);
    let mut stored = None;
    if !refetch
        && let Ok(Some(bytes)) = kv::get(kv_calls, &kv_key).await
        && let Some(set) = StoredSet::decode(&bytes)
        && let Ok(loaded) = load_set(settings, set.jwks.as_bytes())
    {
        if now_ms < set.fresh_until_ms() {
            remember_url(url, loaded.keyring.clone(), set.fresh_until_ms());
            return Ok((loaded.keyring, false));
        }
        stored = Some(loaded.keyring);
    }
    match fetch_set(ctx, settings, url, now_ms).await {
        Ok((set, keys)) => {
            if let Err(e) = kv::set(kv_calls, &kv_key, set.encode().as_bytes()).await {
                ctx.log(
                    "jwt_jwks_cache_write_failed",
                    &[("error", e.to_string().into())],
                );
            }
            remember_url(url, keys.clone(), set.fresh_until_ms());
            Ok((keys, true))
        }
        Err(error) => {
            let fallback = instance.map(|(keys, _)| keys).or(stored);
            log_fetch_failure(ctx, url, &error, fallback.is_some());
            let keys = fallback.ok_or_else(|| format!("jwks_url: {error}"))?;
            let retry_at =
                now_ms.saturating_add(settings.jwks_refetch_interval.saturating_mul(1000));
            remember_url(url, keys.clone(), retry_at);
            Ok((keys, false))
        }
    }
}

/// Why a fetch gave no usable set.
enum FetchFailure {
    /// The host refused the destination: the grant is missing.
    Denied,
    /// Anything else, as text for the log.
    Other(String),
}

impl std::fmt::Display for FetchFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchFailure::Denied => f.write_str("denied"),
            FetchFailure::Other(e) => f.write_str(e),
        }
    }
}

/// `GET url` within `http_client`'s deadline and size limit; a 2xx whose
/// body is a JWK Set with at least one usable key. Keys left out are
/// logged (once per fetch).
async fn fetch_set(
    ctx: &Ctx<'_>,
    settings: &JwtSettings,
    url: &str,
    now_ms: u64,
) -> Result<(StoredSet, Keyring), FetchFailure> {
    let response = http_client::get(url, None, None)
        .await
        .map_err(|e| match e {
            FetchError::Denied => FetchFailure::Denied,
            other => FetchFailure::Other(other.to_string()),
        })?;
    if !(200..300).contains(&response.status) {
        return Err(FetchFailure::Other(format!("status {}", response.status)));
    }
    let jwks = String::from_utf8(response.body)
        .map_err(|_| FetchFailure::Other("body is not UTF-8".into()))?;
    let loaded = load_set(settings, jwks.as_bytes())
        .map_err(|problem| FetchFailure::Other(format!("not a JWK Set: {}", problem.message())))?;
    for skipped in &loaded.skipped {
        let mut fields: Vec<(&str, Value)> = vec![
            ("index", skipped.index.into()),
            ("problem", skipped.problem.message().into()),
        ];
        if let Some(kid) = &skipped.kid {
            fields.push(("kid", kid.as_str().into()));
        }
        ctx.log("jwt_jwks_key_skipped", &fields);
    }
    if loaded.keyring.is_empty() {
        // Never replace a working set with an empty one.
        return Err(FetchFailure::Other("no usable key in the set".into()));
    }
    let set = StoredSet {
        jwks,
        fetched_at_ms: now_ms,
        ttl_s: settings.jwks_ttl(response.max_age),
    };
    ctx.log(
        "jwt_jwks_fetched",
        &[
            ("origin", origin(url).into()),
            ("keys", loaded.keyring.len().into()),
            ("ttl_s", set.ttl_s.into()),
        ],
    );
    Ok((set, loaded.keyring))
}

fn load_set(settings: &JwtSettings, jwks: &[u8]) -> Result<Loaded, KeyProblem> {
    Keyring::from_jwks_json(jwks, &settings.load_options(JwksOrigin::Url))
}

/// `jwt_jwks_fetch_denied` (the grant is missing: Spin itself says nothing
/// when the middleware does not inherit `allowed_outbound_hosts`) or
/// `jwt_jwks_fetch_failed`, naming the origin (never the path or query)
/// and whether a cached set is used instead.
fn log_fetch_failure(ctx: &Ctx<'_>, url: &str, error: &FetchFailure, cached: bool) {
    let origin = origin(url);
    let mut fields: Vec<(&str, Value)> = vec![
        ("origin", origin.as_str().into()),
        ("using_cached_set", cached.into()),
    ];
    match error {
        FetchFailure::Denied => {
            fields.push((
                "hint",
                format!(
                    "grant {origin} in the app component's allowed_outbound_hosts and add \"allowed_outbound_hosts\" to warden's inherit_configuration (docs/outbound.md)"
                )
                .into(),
            ));
            ctx.log("jwt_jwks_fetch_denied", &fields);
        }
        FetchFailure::Other(e) => {
            fields.push(("error", e.as_str().into()));
            ctx.log("jwt_jwks_fetch_failed", &fields);
        }
    }
}

/// `scheme://authority` of the URL, for logs.
fn origin(url: &str) -> String {
    match HttpUrl::parse(url) {
        Some(u) => format!(
            "{}://{}",
            if u.https { "https" } else { "http" },
            u.authority
        ),
        None => "invalid".into(),
    }
}

fn remember_url(url: &str, keys: Keyring, fresh_until_ms: u64) {
    URL.with(|c| {
        let mut c = c.borrow_mut();
        let last_refetch_ms = c
            .as_ref()
            .filter(|c| c.url == url)
            .and_then(|c| c.last_refetch_ms);
        *c = Some(UrlCache {
            url: url.to_owned(),
            keys,
            fresh_until_ms,
            last_refetch_ms,
        });
    });
}

/// Whether an unknown `kid` may make the URL be fetched now (and, if so,
/// notes it): at most once per `jwks_refetch_interval` per instance, and
/// across instances through the time of the last refetch in key-value.
/// The key-value check is a read then a write, not atomic: instances that
/// check at the same moment may each refetch once, and when the store
/// cannot be read each instance is held to its own limit only.
async fn may_refetch(ctx: &Ctx<'_>, settings: &JwtSettings, url: &str, now_ms: u64) -> bool {
    let interval_ms = settings.jwks_refetch_interval.saturating_mul(1000);
    let within = |at: u64| now_ms.saturating_sub(at) < interval_ms;
    let last_here = URL.with(|c| c.borrow().as_ref().and_then(|c| c.last_refetch_ms));
    if last_here.is_some_and(within) {
        return false;
    }
    let kv_calls = &ctx.config.policy.stores.key_value;
    let key = format!("{}:refetch", url_kv_key(url));
    let last_anywhere = match kv::get(kv_calls, &key).await {
        Ok(Some(bytes)) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| t.parse().ok()),
        _ => None,
    };
    let note = |at: u64| {
        URL.with(|c| {
            if let Some(c) = c.borrow_mut().as_mut() {
                c.last_refetch_ms = Some(at);
            }
        })
    };
    if let Some(at) = last_anywhere.filter(|at| within(*at)) {
        note(at);
        return false;
    }
    note(now_ms);
    if let Err(e) = kv::set(kv_calls, &key, now_ms.to_string().as_bytes()).await {
        ctx.log(
            "jwt_jwks_cache_write_failed",
            &[("error", e.to_string().into())],
        );
    }
    true
}

/// A verified token: roles against the route's, then the identity.
fn admit(
    ctx: &mut Ctx<'_>,
    route: &Route,
    settings: &JwtSettings,
    verified: VerifiedToken,
) -> Result<(), Response> {
    let claims = verified.claims;
    let identity = Identity {
        user_id: claims.user_id.clone(),
        roles: claims.roles.clone(),
        method: AuthMethod::Jwt,
        tier: None,
    };
    if !identity.has_any_role(&route.roles) {
        ctx.log(
            "jwt_auth_failed",
            &[
                ("reason", "missing_role".into()),
                ("user_id", identity.user_id.as_str().into()),
            ],
        );
        ctx.to_client.push((
            "www-authenticate".into(),
            jwt::www_authenticate_insufficient_scope(&settings.realm).into_bytes(),
        ));
        return Err(respond::deny(ctx, Rejection::Forbidden));
    }
    if claims.claims_header_omitted {
        ctx.log(
            "jwt_claims_header_omitted",
            &[("limit", settings.max_claims_header_bytes.into())],
        );
    }
    let mut add = |name: &str, value: String| ctx.to_app.push((name.into(), value.into_bytes()));
    add(AUTH_HEADER, AuthMethod::Jwt.as_str().into());
    add(USER_ID_HEADER, claims.user_id);
    if !claims.roles.is_empty() {
        add(USER_ROLE_HEADER, claims.roles.join(","));
    }
    if let Some(header) = claims.claims_header {
        add(CLAIMS_HEADER, header);
    }
    ctx.identity = Some(identity);
    Ok(())
}

/// 401 with `WWW-Authenticate` (RFC 6750 §3) and the seed's body; the
/// reason to the log.
fn refuse(
    ctx: &mut Ctx<'_>,
    settings: &JwtSettings,
    reason: Reason,
    kid: Option<String>,
    token: Option<&str>,
) -> Response {
    let mut fields: Vec<(&str, Value)> = vec![("reason", reason.kind().into())];
    if let Some(kid) = kid {
        fields.push(("kid", kid.into()));
    }
    if let Some(token) = token {
        fields.push((
            CREDENTIAL_FP,
            credential_fingerprint("jwt", token.as_bytes()).into(),
        ));
    }
    ctx.log("jwt_auth_failed", &fields);
    ctx.to_client.push((
        "www-authenticate".into(),
        jwt::www_authenticate(&settings.realm, Some(reason)).into_bytes(),
    ));
    respond::deny(ctx, Rejection::Unauthorized)
}

/// The token header's `kid`, for the log: only when it is short, plain
/// text (never any part of the payload or signature).
fn header_kid(settings: &JwtSettings, token: &str) -> Option<String> {
    let kid = jwt::parse(token, settings.max_token_bytes)
        .ok()?
        .header
        .kid?;
    (kid.len() <= 64
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
    .then_some(kid)
}

/// The first header `name` (lower-case), as text.
fn header<'h>(headers: &'h [(String, Vec<u8>)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// Every cookie of every `Cookie` header, as (name, value), in order.
pub(crate) fn cookie_pairs(headers: &[(String, Vec<u8>)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .filter_map(|(_, v)| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some((name.trim(), value))
        })
        .collect()
}

/// The `jwks` table's keys, for the session stage's cookie-cache source.
#[cfg(feature = "session")]
pub(crate) async fn better_auth_keys(ctx: &Ctx<'_>) -> Result<Keyring, String> {
    let settings = &ctx.config.policy.sections.jwt;
    let now_ms = ctx.now_ms();
    let mut ring = Keyring::new();
    if settings.jwks_table {
        ring.extend(table_keys(ctx, settings, now_ms, false).await?.0);
    }
    // Variable JWK Sets may carry Better Auth's public keys too; the HMAC
    // secret never verifies a cookie cache (refused in the core).
    ring.extend(ctx.config.jwt_keys.clone());
    Ok(ring)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_the_cache_value() {
        let rows = vec![(
            "k1".to_string(),
            "{}".to_string(),
            Some("EdDSA".to_string()),
        )];
        let text = encode_rows(42, &rows);
        assert!(!text.contains("privateKey"));
        assert_eq!(decode_rows(text.as_bytes()), Some((42, rows)));
    }

    #[test]
    fn cookies_are_split() {
        let headers = vec![("Cookie".to_string(), b"a=1; b=\"2\"; c".to_vec())];
        assert_eq!(cookie_pairs(&headers), [("a", "1"), ("b", "2")]);
    }
}
