//! Session authentication (Better Auth sessions) over Spin's stores.
//!
//! The decisions are `warden_core::layers::session`'s; this module finds the request's
//! credential, gives the core a [`SessionPort`] over Spin's key-value store
//! `default` (through `wasi:keyvalue`, with compare-and-swap for the per-user
//! index) and SQLite database `default`, and applies the outcome: identity
//! headers for the app and [`Ctx::identity`] for later layers, or warden's
//! 401/403.
//!
//! A database error on a `required` route answers 401, not 503: seed 000's
//! `requireAuth` is `optionalAuth` (which proceeds without a user when the
//! database fails) followed by "no user → 401". The outage is logged as
//! `session_store_unavailable` for the operator.
//!
//! Reads the route's `auth` and `roles`, `[session]` (cookies, schema, cache,
//! revocation) and the session secret. Host ports: `host::kv` (the cache and
//! the per-user index), `host::sql` (the session table), the clock (through
//! `Ctx`). Answers 401/403 (refusals) and the revocation endpoint's 200, 400
//! and 503.

use crate::body::Inbound;
use crate::ctx::Ctx;
use crate::host::kv;
use crate::host::sql;
use crate::respond;
use serde_json::Value;
use spin_sdk::wasip3::http::types::Scheme;
use spin_sdk::wasip3::http::types::{Request, Response};
use warden_core::base::security_event::{CREDENTIAL_FP, credential_fingerprint};
use warden_core::config::Environment;
use warden_core::layers::session::config::SessionSource;
use warden_core::layers::session::flow::{self, Attempt, Decision, Failure, Outcome, SessionPort};
use warden_core::layers::session::record::Cell;
use warden_core::layers::session::revoke::{self, RevokeRequest};
use warden_core::layers::session::token;
use warden_core::policy::Route;
use warden_core::policy::stores::StoreCalls;

/// Authenticates the request by its session, as the route's mode says.
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
    let config = &warden.policy.sections.session;
    let cookies = header_values(&ctx.incoming, "cookie");
    let authorization = header_values(&ctx.incoming, "authorization");
    // In production over https, only `__Host-`/`__Secure-` cookies count
    // unless the policy says otherwise: an unprefixed cookie can be planted
    // by an http page or a sibling subdomain.
    let only_prefixed = warden.environment == Environment::Production
        && matches!(ctx.scheme, Some(Scheme::Https))
        && !config.allow_unprefixed_on_https;
    // `source = "jwt-cookie"`: the cookie cache alone, no token is looked up.
    let cache_only = config.source == SessionSource::JwtCookie;
    let credentials = if cache_only {
        Vec::new()
    } else {
        token::credentials(
            config,
            warden.session_secret.as_ref(),
            &cookies,
            &authorization,
            only_prefixed,
        )
    };
    #[cfg(feature = "jwt")]
    let cached = if config.jwt_cookie_cache {
        jwt_cookie_cache(ctx, only_prefixed).await
    } else {
        None
    };
    #[cfg(not(feature = "jwt"))]
    let cached: Option<warden_core::layers::session::identity::SessionUser> = None;
    let Attempt {
        outcome,
        carrier,
        fingerprint,
        passed_over,
    } = if let Some(user) = cached {
        // Better Auth's signed cookie cache: no store read at all.
        Attempt {
            outcome: Outcome::Authenticated(user, flow::Via::Cache),
            carrier: None,
            fingerprint: None,
            passed_over: 0,
        }
    } else if credentials.is_empty() {
        // No credential (or a missing or refused cookie cache with the
        // cache-only source): no store is opened.
        Attempt {
            outcome: Outcome::Failed(Failure::Missing),
            carrier: None,
            fingerprint: None,
            passed_over: 0,
        }
    } else {
        let port = Port::new(ctx);
        flow::authenticate_first(config, &port, &credentials, ctx.now_ms()).await
    };

    if config.log_failures {
        let mut fields: Vec<(&str, Value)> = Vec::new();
        match &outcome {
            // No credential on a route that lets anonymous requests through
            // is not a failure.
            Outcome::Failed(Failure::Missing)
                if !route.auth.refuses_anonymous() && route.roles.is_empty() => {}
            Outcome::Failed(failure) => fields.push(("reason", failure.as_str().into())),
            Outcome::Authenticated(user, _) if !user.identity().has_any_role(&route.roles) => {
                fields.push(("reason", "missing_role".into()));
                fields.push(("user_id", user.user_id.as_str().into()));
            }
            Outcome::Authenticated(..) => {}
        }
        if matches!(outcome, Outcome::Authenticated(..)) && passed_over > 0 {
            // A stale or planted credential came before the real one.
            ctx.log(
                "session_credential_passed_over",
                &[("count", passed_over.into())],
            );
        }
        if !fields.is_empty() {
            if let Some(fp) = &fingerprint {
                fields.push(("fingerprint", fp.as_str().into()));
                // The session layer keeps only this fingerprint of a
                // refused credential; the event's is derived from it.
                fields.push((
                    CREDENTIAL_FP,
                    credential_fingerprint("session", fp.as_bytes()).into(),
                ));
            }
            if let Some(carrier) = &carrier {
                fields.push(("from", carrier.kind().into()));
            }
            fields.push(("mode", route.auth.as_str().into()));
            ctx.log("session_auth_failed", &fields);
        }
    }

    match flow::decide(route.auth, &route.roles, outcome) {
        Decision::Proceed(Some(user)) => {
            ctx.to_app.extend(user.headers());
            ctx.identity = Some(user.identity());
            Ok(())
        }
        Decision::Proceed(None) => Ok(()),
        Decision::Refuse(rejection) => Err(respond::deny(ctx, rejection)),
    }
}

/// `POST <revoke_path>`, after the route's worker signature was verified:
/// removes cached sessions by token hash or by user id.
///
/// The body is the one the signature layer read and verified ([`Ctx::body`]);
/// the request it rebuilt cannot be read again inside warden.
pub async fn revoke(ctx: &Ctx<'_>) -> Response {
    use warden_core::base::denial::Rejection;
    let request = match ctx.body.as_deref() {
        Some(body) => revoke::parse_revoke(body),
        None => Err("no verified body"),
    };
    let request = match request {
        Ok(request) => request,
        Err(reason) => {
            ctx.log("session_revoke_refused", &[("reason", reason.into())]);
            return respond::deny(ctx, Rejection::BadRequest);
        }
    };
    let subject: (&str, Value) = match &request {
        RevokeRequest::TokenHash(hash) => ("fingerprint", hash[..8].into()),
        RevokeRequest::UserId(id) => ("user_id", id.as_str().into()),
    };
    let port = Port::new(ctx);
    match flow::revoke(&port, &request).await {
        Ok(count) => {
            ctx.log(
                "session_revoked",
                &[
                    ("by", request.kind().into()),
                    subject,
                    ("count", count.into()),
                ],
            );
            respond::json(ctx, 200, revoke::revoked_body(count))
        }
        Err(error) => {
            ctx.log(
                "session_revoke_failed",
                &[
                    ("by", request.kind().into()),
                    subject,
                    ("error", error.into()),
                ],
            );
            respond::json(ctx, 503, revoke::UNAVAILABLE_BODY.to_string())
        }
    }
}

/// Better Auth's JWT session cookie cache (`[session] cookie_cache =
/// "jwt"`), verified with `[jwt]`'s issuer and Better Auth's public keys
/// (its `jwks` table, through the jwt stage's per-instance and key-value
/// cache). The session layer does not import the jwt layer: this stage
/// calls both (`layers::jwt::cookie_cache` for the verification, the
/// session layer for what follows). `None` (so the database lookup runs as
/// usual) when there is no cache cookie, when it is refused (logged as
/// `session_cookie_cache_refused`), when the keys cannot be read, or when
/// the cached user is banned. The trade-off (docs/sessions.md): a revoked
/// session stays valid until the cookie cache expires.
#[cfg(feature = "jwt")]
async fn jwt_cookie_cache(
    ctx: &Ctx<'_>,
    only_prefixed: bool,
) -> Option<warden_core::layers::session::identity::SessionUser> {
    use warden_core::base::time::parse_iso8601_ms;
    use warden_core::layers::jwt::cookie_cache::verify_session_cookie;
    use warden_core::layers::session::identity::SessionUser;
    use warden_core::layers::session::record::UserData;
    let cookies = crate::stages::jwt::cookie_pairs(&ctx.incoming);
    let name = cookie_cache_name(&cookies, only_prefixed)?;
    let issuer = ctx.config.policy.sections.jwt.issuer.as_deref()?;
    let keys = match crate::stages::jwt::better_auth_keys(ctx).await {
        Ok(keys) => keys,
        Err(error) => {
            ctx.log("jwt_keys_unavailable", &[("error", error.into())]);
            return None;
        }
    };
    let now_ms = ctx.now_ms();
    let cached = match verify_session_cookie(&cookies, name, issuer, &keys, (now_ms / 1000) as i64)
    {
        Ok(cached) => cached,
        Err(reason) => {
            ctx.log(
                "session_cookie_cache_refused",
                &[("reason", reason.kind().into())],
            );
            return None;
        }
    };
    let user = &cached.user;
    let text = |k: &str| user.get(k).and_then(Value::as_str).map(str::to_owned);
    let ms = |k: &str| match user.get(k) {
        Some(Value::String(t)) => parse_iso8601_ms(t),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    };
    // Better Auth's admin plugin: a banned user's cache is not trusted.
    let banned = user.get("banned").and_then(Value::as_bool) == Some(true)
        && ms("banExpires").is_none_or(|until| until > now_ms as i64);
    if banned {
        ctx.log(
            "session_cookie_cache_refused",
            &[("reason", "banned".into())],
        );
        return None;
    }
    Some(SessionUser {
        user_id: cached.user_id.clone(),
        session_id: cached.session_id.clone(),
        user: UserData {
            id: cached.user_id.clone(),
            email: text("email").unwrap_or_default(),
            name: text("name").unwrap_or_default(),
            email_verified: user.get("emailVerified").and_then(Value::as_bool) == Some(true),
            image: text("image"),
            role: text("role"),
            created_at: ms("createdAt").unwrap_or(0),
            updated_at: ms("updatedAt").unwrap_or(0),
        },
    })
}

/// The name of the Better Auth cookie cache the request carries, whole or
/// chunked (`name.0`, `name.1`, …): `__Secure-better-auth.session_data`
/// first, the unprefixed name unless only prefixed cookies count.
#[cfg(feature = "jwt")]
fn cookie_cache_name(cookies: &[(&str, &str)], only_prefixed: bool) -> Option<&'static str> {
    use warden_core::layers::jwt::cookie_cache::{COOKIE_NAME, SECURE_COOKIE_NAME};
    let names: &[&'static str] = if only_prefixed {
        &[SECURE_COOKIE_NAME]
    } else {
        &[SECURE_COOKIE_NAME, COOKIE_NAME]
    };
    let present = |name: &str| {
        cookies
            .iter()
            .any(|(n, _)| *n == name || n.strip_prefix(name).is_some_and(|r| r.starts_with('.')))
    };
    names.iter().copied().find(|n| present(n))
}

/// Whether the request presents a session credential (a session cookie or,
/// when the policy reads them, a bearer token), valid or not: on a route
/// that accepts several credentials, the first one presented decides.
pub fn presents(ctx: &Ctx<'_>) -> bool {
    let warden = ctx.config;
    let config = &warden.policy.sections.session;
    let only_prefixed = warden.environment == Environment::Production
        && matches!(ctx.scheme, Some(Scheme::Https))
        && !config.allow_unprefixed_on_https;
    if config.source == SessionSource::JwtCookie {
        // The cookie cache is the only session credential.
        #[cfg(feature = "jwt")]
        return cookie_cache_name(
            &crate::stages::jwt::cookie_pairs(&ctx.incoming),
            only_prefixed,
        )
        .is_some();
        #[cfg(not(feature = "jwt"))]
        return false;
    }
    !token::credentials(
        config,
        warden.session_secret.as_ref(),
        &header_values(&ctx.incoming, "cookie"),
        &header_values(&ctx.incoming, "authorization"),
        only_prefixed,
    )
    .is_empty()
}

/// Every value of one request header (names compare case-insensitively).
fn header_values<'h>(headers: &'h [(String, Vec<u8>)], name: &str) -> Vec<&'h [u8]> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
        .collect()
}

/// Spin's stores, each call within its deadline and through its breaker
/// (`host::kv`, `host::sql`); a cache hit never touches SQLite.
struct Port<'c, 'a> {
    ctx: &'c Ctx<'a>,
}

impl<'c, 'a> Port<'c, 'a> {
    fn new(ctx: &'c Ctx<'a>) -> Self {
        Port { ctx }
    }

    fn kv(&self) -> &StoreCalls {
        &self.ctx.config.policy.stores.key_value
    }
}

impl SessionPort for Port<'_, '_> {
    type Cas = kv::PendingSwap;

    async fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        kv::get(self.kv(), key).await.map_err(|e| e.to_string())
    }

    async fn kv_set(&self, key: &str, value: Vec<u8>) -> Result<(), String> {
        kv::set(self.kv(), key, &value)
            .await
            .map_err(|e| e.to_string())
    }

    async fn kv_delete(&self, key: &str) -> Result<(), String> {
        kv::delete(self.kv(), key).await.map_err(|e| e.to_string())
    }

    async fn kv_cas(&self, key: &str) -> Result<(Option<Vec<u8>>, kv::PendingSwap), String> {
        kv::compare_and_swap(self.kv(), key)
            .await
            .map_err(|e| e.to_string())
    }

    async fn kv_swap(&self, pending: kv::PendingSwap, value: Vec<u8>) -> Result<bool, String> {
        kv::swap(self.kv(), pending, &value)
            .await
            .map_err(|e| e.to_string())
    }

    async fn db_row(&self, sql: &str, token: &str) -> Result<Option<Vec<Cell>>, String> {
        use sql::Value as V;
        let calls = &self.ctx.config.policy.stores.sqlite;
        sql::first_row(calls, sql, vec![V::Text(token.to_string())])
            .await
            .map_err(|e| e.to_string())
    }

    fn log(&self, event: &str, fields: &[(&str, Value)]) {
        self.ctx.log(event, fields);
    }
}
