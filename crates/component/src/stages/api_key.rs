//! API-key authentication (`auth = "api_key"`) over Spin's stores.
//!
//! The decisions are `warden_core::layers::api_key`'s; this adapter makes
//! the host calls they name, in order:
//! 1. the failed-attempt throttle ([`crate::failed_attempts`], one counter
//!    per client address shared with the JWT stage: refused keys and
//!    refused tokens count together): the counter is read first; past
//!    `failure_limit` the request gets 429 before any lookup;
//! 2. the key, from the key header or `Authorization: Bearer`
//!    ([`extract`]); none, a malformed one, or two that disagree: 401;
//! 3. the key-value cache, keyed by the key's SHA-256 (never the key);
//! 4. on a miss, the lookups of [`lookup_plan`] in order (warden's
//!    `api_keys`, Better Auth's `apikey`, Better Auth's secondary storage
//!    `api-key:<hash>`), the first record found wins, and the outcome
//!    (record or unknown) is cached;
//! 5. the decision ([`decide`]): hash compared in constant time, enabled,
//!    not revoked, not expired, not used up; then the route's `roles` (403).
//!
//! A refused key is counted (one atomic increment of the address's
//! counter) and logged by its display prefix and fingerprint, never the key
//! or its hash; the client gets the seed's 401, the same for every reason.
//! A store that fails on the way to a decision answers 503: authentication
//! never fails open. A cache write that fails is only logged.
//!
//! On success: `ctx.identity` (owner, roles, `AuthMethod::ApiKey`, tier, so
//! that a rate limit after authentication can select `apikey:<tier>`), and
//! `x-warden-auth: api_key`, `x-warden-user-id`, `x-warden-user-role` (the
//! roles, comma-separated), `x-warden-api-key-prefix` (the display prefix)
//! and `x-warden-api-key-source` for the app. `last_used_at` (warden's
//! table, with `last_used_interval` only) is written after the response,
//! at most once per key per interval ([`touch_due`]).
//!
//! Reads the route's `auth` and `roles`, `[api_keys]` and `[rate_limit]`'s
//! client address settings. Host ports: `host::kv`, `host::sql`, the clock
//! (through `Ctx`), `failed_attempts` (the throttle). Answers 401,
//! 403, 429 and 503.

use crate::body::Inbound;
use crate::ctx::Ctx;
use crate::failed_attempts;
use crate::host::kv;
use crate::host::sql;
use crate::respond;
use serde_json::Value;
use spin_sdk::wasip3::http::types::{Request, Response};
use warden_core::base::denial::{Denial, Rejection};
use warden_core::base::security_event::CREDENTIAL_FP;
use warden_core::base::time::format_iso8601_ms;
use warden_core::layers::api_key::cache::{CacheEntry, cache_key, touch_due};
use warden_core::layers::api_key::config::ApiKeyConfig;
use warden_core::layers::api_key::extract::{Carrier, Presented, extract};
use warden_core::layers::api_key::record::{Cell, KeyRecord, Source};
use warden_core::layers::api_key::refusal::Refusal;
use warden_core::layers::api_key::sql::{Lookup, WARDEN_TOUCH, lookup_plan};
use warden_core::layers::api_key::throttle::throttle;
use warden_core::layers::api_key::{Granted, decide};
use warden_core::layers::session::identity::{AUTH_HEADER, USER_ID_HEADER, USER_ROLE_HEADER};
use warden_core::policy::Route;

/// The display prefix of the key, for the app.
pub const PREFIX_HEADER: &str = "x-warden-api-key-prefix";
/// Which store the key came from (`warden` or `better_auth`), for the app.
pub const SOURCE_HEADER: &str = "x-warden-api-key-source";

/// Authenticates the request by its API key.
pub async fn check(
    ctx: &mut Ctx<'_>,
    route: &Route,
    request: Request,
) -> Result<Inbound, Response> {
    authenticate(ctx, route)
        .await
        .map(|()| Inbound::Streaming(request))
}

/// Why the stage could not decide: a store failed.
struct Outage {
    during: &'static str,
    error: String,
}

async fn authenticate(ctx: &mut Ctx<'_>, route: &Route) -> Result<(), Response> {
    let warden = ctx.config;
    let config = &warden.policy.sections.api_keys;
    let now_ms = ctx.now_ms();

    // 1. The throttle (shared with the JWT stage), before anything else is
    // looked at.
    match failed_attempts::throttled(ctx, throttle(config), "api_key_throttled").await {
        Ok(false) => {}
        Ok(true) => return Err(respond::deny(ctx, Refusal::Throttled.denial())),
        Err(error) => {
            return Err(unavailable(
                ctx,
                Outage {
                    during: "throttle",
                    error: error.to_string(),
                },
            ));
        }
    }

    // 2. The key.
    let presented = match extract(config, &ctx.incoming) {
        Ok(Some(presented)) => presented,
        Ok(None) => return Err(refuse(ctx, route, None, Refusal::Missing, None).await),
        Err(refusal) => return Err(refuse(ctx, route, None, refusal, None).await),
    };

    // 3 and 4. The record: cache, then the stores.
    let record = match find(ctx, config, &presented, now_ms).await {
        Ok(Some(record)) => record,
        Ok(None) => {
            return Err(refuse(ctx, route, Some(&presented), Refusal::Unknown, None).await);
        }
        Err(Found::Invalid(source)) => {
            return Err(refuse(
                ctx,
                route,
                Some(&presented),
                Refusal::InvalidRecord,
                Some(source),
            )
            .await);
        }
        Err(Found::Outage(outage)) => return Err(unavailable(ctx, outage)),
    };

    // 5. The decision.
    let Granted {
        identity,
        key_id,
        source,
    } = match decide(config, &presented, &record, now_ms) {
        Ok(granted) => granted,
        Err(refusal) => {
            return Err(refuse(ctx, route, Some(&presented), refusal, Some(record.source)).await);
        }
    };
    if !identity.has_any_role(&route.roles) {
        ctx.log(
            "api_key_auth_failed",
            &[
                ("reason", "missing_role".into()),
                ("prefix", presented.display_prefix().into()),
                ("fingerprint", presented.fingerprint().into()),
                (CREDENTIAL_FP, presented.credential_fp().into()),
                ("source", source.as_str().into()),
            ],
        );
        return Err(respond::deny(ctx, Rejection::Forbidden));
    }

    if touch_due(config, &record, now_ms) {
        touch_later(ctx, &presented, record, key_id.clone(), now_ms);
    }

    let mut add = |name: &str, value: &str| {
        if !value.chars().any(char::is_control) {
            ctx.to_app
                .push((name.to_string(), value.as_bytes().to_vec()));
        }
    };
    add(AUTH_HEADER, "api_key");
    add(USER_ID_HEADER, &identity.user_id);
    if !identity.roles.is_empty() {
        add(USER_ROLE_HEADER, &identity.roles.join(","));
    }
    add(PREFIX_HEADER, &presented.display_prefix());
    add(SOURCE_HEADER, source.as_str());
    ctx.identity = Some(identity);
    Ok(())
}

/// What a lookup found besides a record.
enum Found {
    /// A store returned something that is not a readable record.
    Invalid(Source),
    /// A store failed.
    Outage(Outage),
}

/// The key's record from the cache, or from the stores (then cached);
/// `Ok(None)` when no store has it.
async fn find(
    ctx: &Ctx<'_>,
    config: &ApiKeyConfig,
    presented: &Presented,
    now_ms: u64,
) -> Result<Option<KeyRecord>, Found> {
    let kv_calls = ctx.config.policy.stores.key_value;
    let cached_under = cache_key(presented);
    if config.cache {
        match kv::get(&kv_calls, &cached_under).await {
            Ok(Some(bytes)) => match CacheEntry::from_slice(&bytes) {
                Ok(entry) if entry.is_fresh(config, now_ms) => {
                    return Ok(match entry {
                        CacheEntry::Found { record, .. } => Some(*record),
                        CacheEntry::Unknown { .. } => None,
                    });
                }
                Ok(_) => {}
                Err(_) => ctx.log("api_key_cache_unreadable", &[]),
            },
            Ok(None) => {}
            // The stores below decide; the cache only saves them work.
            Err(error) => ctx.log(
                "api_key_cache_error",
                &[("error", error.to_string().into())],
            ),
        }
    }

    let mut found = None;
    for lookup in lookup_plan(config, presented) {
        let outcome = match &lookup {
            Lookup::Sql {
                sql: statement,
                param,
            } => lookup_row(ctx, statement, param)
                .await
                .map(|row| row.map(|row| lookup.read_row(&row))),
            Lookup::KeyValue { key } => kv::get(&kv_calls, key)
                .await
                .map_err(|e| e.to_string())
                .map(|bytes| {
                    bytes.map(|b| {
                        warden_core::layers::api_key::record::record_from_better_auth_json(&b)
                    })
                }),
        };
        match outcome {
            Ok(None) => continue,
            Ok(Some(Ok(record))) => {
                found = Some(record);
                break;
            }
            Ok(Some(Err(problem))) => {
                // Names the field, never a value.
                ctx.log(
                    "api_key_record_invalid",
                    &[
                        ("source", lookup.source().as_str().into()),
                        ("problem", problem.0.into()),
                    ],
                );
                return Err(Found::Invalid(lookup.source()));
            }
            Err(error) => {
                return Err(Found::Outage(Outage {
                    during: match lookup {
                        Lookup::Sql { .. } => "sqlite",
                        Lookup::KeyValue { .. } => "secondary_storage",
                    },
                    error,
                }));
            }
        }
    }

    if config.cache {
        let entry = match &found {
            Some(record) => Some(CacheEntry::Found {
                cached_at: now_ms as i64,
                record: Box::new(record.clone()),
            }),
            None if CacheEntry::caches_unknown(config) => Some(CacheEntry::Unknown {
                cached_at: now_ms as i64,
            }),
            None => None,
        };
        if let Some(entry) = entry
            && let Err(error) = kv::set(&kv_calls, &cached_under, &entry.to_bytes()).await
        {
            ctx.log(
                "api_key_cache_error",
                &[("error", error.to_string().into())],
            );
        }
    }
    Ok(found)
}

/// One row of `statement` with the hash as `?1`.
async fn lookup_row(
    ctx: &Ctx<'_>,
    statement: &str,
    param: &str,
) -> Result<Option<Vec<Cell>>, String> {
    use sql::Value as V;
    sql::first_row(
        &ctx.config.policy.stores.sqlite,
        statement,
        vec![V::Text(param.to_string())],
    )
    .await
    .map_err(|e| e.to_string())
}

/// Counts a failed key against the address, logs why (by the key's display
/// prefix and fingerprint only), and answers the refusal's 401.
async fn refuse(
    ctx: &Ctx<'_>,
    route: &Route,
    presented: Option<&Presented>,
    refusal: Refusal,
    source: Option<Source>,
) -> Response {
    let mut fields: Vec<(&str, Value)> = vec![("reason", refusal.as_str().into())];
    if let Some(presented) = presented {
        fields.push(("prefix", presented.display_prefix().into()));
        fields.push(("fingerprint", presented.fingerprint().into()));
        fields.push((CREDENTIAL_FP, presented.credential_fp().into()));
        fields.push((
            "from",
            match presented.from {
                Carrier::Header => "header",
                Carrier::Bearer => "bearer",
            }
            .into(),
        ));
    }
    if let Some(source) = source {
        fields.push(("source", source.as_str().into()));
    }
    fields.push(("mode", route.auth.as_str().into()));
    ctx.log("api_key_auth_failed", &fields);
    if refusal.counts_as_failure() {
        failed_attempts::count_failure(ctx, "api_key_throttle_error").await;
    }
    respond::deny(ctx, refusal.denial())
}

/// A store failed before a decision: 503, never a pass.
fn unavailable(ctx: &Ctx<'_>, outage: Outage) -> Response {
    ctx.log(
        "api_key_store_unavailable",
        &[
            ("during", outage.during.into()),
            ("error", outage.error.into()),
        ],
    );
    respond::deny(ctx, Denial::from(Rejection::ServiceUnavailable))
}

/// Writes `last_used_at` after the response has gone, and re-caches the
/// record with it, so the next requests see the use and do not write.
fn touch_later(
    ctx: &Ctx<'_>,
    presented: &Presented,
    mut record: KeyRecord,
    key_id: String,
    now_ms: u64,
) {
    let sqlite = ctx.config.policy.stores.sqlite;
    let kv_calls = ctx.config.policy.stores.key_value;
    let cache = ctx.config.policy.sections.api_keys.cache;
    let cached_under = cache_key(presented);
    let prefix = presented.display_prefix();
    spin_sdk::wasip3::spawn(async move {
        use sql::Value as V;
        let at = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let written = sql::query(
            &sqlite,
            WARDEN_TOUCH,
            vec![V::Text(format_iso8601_ms(at)), V::Text(key_id)],
        )
        .await;
        if let Err(error) = written {
            eprintln!(
                "{}",
                warden_core::base::log::event(
                    "api_key_touch_failed",
                    &[
                        ("prefix", prefix.into()),
                        ("error", error.to_string().into())
                    ],
                )
            );
            return;
        }
        if cache {
            record.last_used_at = Some(at);
            let entry = CacheEntry::Found {
                cached_at: at,
                record: Box::new(record),
            };
            let _ = kv::set(&kv_calls, &cached_under, &entry.to_bytes()).await;
        }
    });
}
