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

use std::cell::OnceCell;

use crate::body::Inbound;
use crate::ctx::Ctx;
use crate::host::kv::{self, atomics};
use crate::host::sql;
use crate::respond;
use serde_json::Value;
use spin_sdk::wasip3::http::types::Scheme;
use spin_sdk::wasip3::http::types::{Request, Response};
use warden_core::config::Environment;
use warden_core::layers::session::flow::{self, Attempt, Decision, Failure, Outcome, SessionPort};
use warden_core::layers::session::record::Cell;
use warden_core::layers::session::revoke::{self, RevokeRequest};
use warden_core::layers::session::token;
use warden_core::policy::Route;

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
    let credentials = token::credentials(
        config,
        warden.session_secret.as_ref(),
        &cookies,
        &authorization,
        only_prefixed,
    );
    let Attempt {
        outcome,
        carrier,
        fingerprint,
        passed_over,
    } = if credentials.is_empty() {
        // No credential: no store is opened.
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

/// Every value of one request header (names compare case-insensitively).
fn header_values<'h>(headers: &'h [(String, Vec<u8>)], name: &str) -> Vec<&'h [u8]> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
        .collect()
}

/// Spin's stores, opened on first use (a cache hit never opens SQLite).
///
/// Key-value access goes through `wasi:keyvalue` (the same store `default`
/// as `spin:key-value`): its calls are synchronous, which keeps the
/// component smaller, and the compare-and-swap needs it anyway.
struct Port<'c, 'a> {
    ctx: &'c Ctx<'a>,
    bucket: OnceCell<kv::Bucket>,
    db: OnceCell<sql::Connection>,
}

impl<'c, 'a> Port<'c, 'a> {
    fn new(ctx: &'c Ctx<'a>) -> Self {
        Port {
            ctx,
            bucket: OnceCell::new(),
            db: OnceCell::new(),
        }
    }

    fn bucket(&self) -> Result<&kv::Bucket, String> {
        if let Some(bucket) = self.bucket.get() {
            return Ok(bucket);
        }
        let bucket = kv::open_default().map_err(|e| format!("{e:?}"))?;
        Ok(self.bucket.get_or_init(|| bucket))
    }

    async fn db(&self) -> Result<&sql::Connection, String> {
        if let Some(db) = self.db.get() {
            return Ok(db);
        }
        let db = sql::open_default().await?;
        Ok(self.db.get_or_init(|| db))
    }
}

/// A pending compare-and-swap and the key it is on (to check a reported
/// failure; see [`SessionPort::kv_swap`] below).
pub struct PendingSwap {
    cas: atomics::Cas,
    key: String,
}

impl SessionPort for Port<'_, '_> {
    type Cas = PendingSwap;

    async fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.bucket()?.get(key).map_err(|e| format!("{e:?}"))
    }

    async fn kv_set(&self, key: &str, value: Vec<u8>) -> Result<(), String> {
        self.bucket()?
            .set(key, &value)
            .map_err(|e| format!("{e:?}"))
    }

    async fn kv_delete(&self, key: &str) -> Result<(), String> {
        self.bucket()?.delete(key).map_err(|e| format!("{e:?}"))
    }

    async fn kv_cas(&self, key: &str) -> Result<(Option<Vec<u8>>, PendingSwap), String> {
        let cas = atomics::Cas::new(self.bucket()?, key).map_err(|e| format!("{e:?}"))?;
        let current = cas.current().map_err(|e| format!("{e:?}"))?;
        let key = key.to_owned();
        Ok((current, PendingSwap { cas, key }))
    }

    /// A swap the store reports as failed counts as done when the key now
    /// holds exactly the value swapped in.
    ///
    /// Why: Spin 4.1.0-pre's Redis store ends every swap with `UNWATCH key`,
    /// which Redis refuses (UNWATCH takes no argument), and reports the
    /// refusal as a failed swap after the transaction has written the value.
    /// Taken at its word, no swap ever succeeds there: the session cache
    /// never fills and revocation answers 503. Reading the key back tells a
    /// lost race (another value there: retry) from that false failure. Where
    /// another writer stored the same bytes, the index already says what this
    /// swap wanted, so success is the truth either way.
    async fn kv_swap(&self, pending: PendingSwap, value: Vec<u8>) -> Result<bool, String> {
        let PendingSwap { cas, key } = pending;
        match atomics::swap(cas, &value) {
            Ok(()) => Ok(true),
            Err(atomics::CasError::CasFailed(_)) => {
                let now = self.bucket()?.get(&key).map_err(|e| format!("{e:?}"))?;
                Ok(now.as_deref() == Some(value.as_slice()))
            }
            Err(atomics::CasError::StoreError(e)) => Err(format!("{e:?}")),
        }
    }

    async fn db_row(&self, sql: &str, token: &str) -> Result<Option<Vec<Cell>>, String> {
        use sql::Value as V;
        let rows = self
            .db()
            .await?
            .execute(sql, [V::Text(token.to_string())])
            .await
            .map_err(|e| format!("{e:?}"))?
            .collect()
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(rows.into_iter().next().map(|row| {
            row.values
                .into_iter()
                .map(|v| match v {
                    V::Integer(n) => Cell::Integer(n),
                    V::Real(f) => Cell::Real(f),
                    V::Text(s) => Cell::Text(s),
                    V::Blob(b) => Cell::Blob(b),
                    V::Null => Cell::Null,
                })
                .collect()
        }))
    }

    fn log(&self, event: &str, fields: &[(&str, Value)]) {
        self.ctx.log(event, fields);
    }
}
