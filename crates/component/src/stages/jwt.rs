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
//! loaded once with the configuration ([`WardenConfig::jwt_keys`]); Better
//! Auth's `jwks` table (`jwks_table = true`), read with
//! `SELECT id, publicKey, alg FROM jwks` (never `privateKey`) through
//! `host::sql`, within the database's deadline; a `jwks_url` (see
//! [`JWKS_URL_HOOK`]: not wired yet, refused at startup).
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
//! Fails closed: when the table cannot be read and no cached copy exists,
//! a token that needs one of its keys is answered 503 (the outage is
//! logged as `jwt_keys_unavailable`); a token the variables' keys decide
//! is decided as usual.

use crate::body::Inbound;
use crate::ctx::Ctx;
use crate::host::{kv, sql};
use crate::respond;
use serde_json::{Value, json};
use spin_sdk::wasip3::http::types::{Request, Response};
use std::cell::RefCell;
use warden_core::base::denial::Rejection;
use warden_core::base::identity::{AuthMethod, Identity};
use warden_core::config::{ConfigProblem, WardenConfig};
use warden_core::layers::jwt::{
    self, CLAIMS_HEADER, JwtSettings, Key, Keyring, Reason, VerifiedToken,
};
use warden_core::layers::session::identity::{AUTH_HEADER, USER_ID_HEADER, USER_ROLE_HEADER};
use warden_core::policy::Route;

/// Whether `jwt.jwks_url` is served by this build.
///
/// HOOK(jwks_url): the fetch is being built as `crate::host::http_client`;
/// until it is wired here a policy with `jwt.jwks_url` is refused at
/// startup ([`unsupported`]). To wire it: in [`verify`], beside
/// [`table_keys`], fetch through `host::http_client` within its deadline,
/// keep the set in key-value for `JwtSettings::jwks_ttl(max_age)` under
/// `warden:jwt:jwks-url`, load it with `JwksOrigin::Url`, and re-fetch on
/// an unknown `kid` under the same per-instance limit ([`may_reread`]).
pub const JWKS_URL_SUPPORTED: bool = false;

/// The key-value key of the `jwks` table's cached public keys.
const TABLE_KV_KEY: &str = "warden:jwt:jwks-table";
/// The one statement that reads the table: public keys only.
const TABLE_SQL: &str = "SELECT id, publicKey, alg FROM jwks";
/// Most rows read from the table.
const MAX_TABLE_ROWS: usize = 32;

/// A configuration this build parses but cannot serve: the startup refusal.
pub fn unsupported(config: &WardenConfig) -> Option<ConfigProblem> {
    (config.policy.sections.jwt.jwks_url.is_some() && !JWKS_URL_SUPPORTED).then(|| {
        ConfigProblem::new(
            "jwt.jwks_url",
            "fetching a JWK Set is not available in this build yet; use jwks_variable or jwks_table",
        )
    })
}

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
    let Some(token) = token else {
        if !route.auth.refuses_anonymous() && route.roles.is_empty() {
            return Ok(());
        }
        return Err(refuse(ctx, &settings, Reason::Missing, None));
    };
    let now_ms = ctx.now_ms();
    let now = (now_ms / 1000) as i64;
    let outcome = verify(ctx, &settings, &token, now, now_ms).await;
    match outcome {
        Ok(verified) => admit(ctx, route, &settings, verified),
        Err(Failure::Refused(reason, kid)) => Err(refuse(ctx, &settings, reason, kid)),
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

/// Verifies against the variables' keys and the table's, re-reading the
/// table once (per interval, per instance) for an unknown `kid`.
async fn verify(
    ctx: &Ctx<'_>,
    settings: &JwtSettings,
    token: &str,
    now: i64,
    now_ms: u64,
) -> Result<VerifiedToken, Failure> {
    let kid = || header_kid(settings, token);
    if !settings.jwks_table {
        return jwt::verify_bearer(settings, &ctx.config.jwt_keys, token, now)
            .map_err(|r| Failure::Refused(r, kid()));
    }
    let table = table_keys(ctx, settings, now_ms, false).await;
    let attempt = |table: Option<&Keyring>| {
        let mut ring = ctx.config.jwt_keys.clone();
        if let Some(keys) = table {
            ring.extend(keys.clone());
        }
        jwt::verify_bearer(settings, &ring, token, now)
    };
    match (attempt(table.as_ref().ok().map(|(k, _)| k)), table) {
        (Ok(v), _) => Ok(v),
        (Err(reason), Err(error)) if unknown_key(reason) => Err(Failure::KeysUnavailable(error)),
        // Keys read from the database just now are as new as a re-read.
        (Err(reason), Ok((_, false))) if unknown_key(reason) && may_reread(settings, now_ms) => {
            match table_keys(ctx, settings, now_ms, true).await {
                Ok((keys, _)) => attempt(Some(&keys)).map_err(|r| Failure::Refused(r, kid())),
                Err(error) => Err(Failure::KeysUnavailable(error)),
            }
        }
        (Err(reason), _) => Err(Failure::Refused(reason, kid())),
    }
}

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
) -> Response {
    let mut fields: Vec<(&str, Value)> = vec![("reason", reason.kind().into())];
    if let Some(kid) = kid {
        fields.push(("kid", kid.into()));
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
