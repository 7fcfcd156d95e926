//! Rate limiting on Spin's key-value store, exact across instances.
//!
//! Each quota a request is counted against costs one atomic `increment` on a
//! key that names its window (`wasi:keyvalue/atomics`; never get-then-set,
//! which loses updates under concurrency). A client this instance has seen
//! go over a limit is refused from memory until that window ends, with no
//! store operation at all (DESIGN §1: writes are the cost); that knowledge
//! can only refuse, never admit. Expired counters are swept from the store
//! (Spin's key-value has no TTL): at most once per `sweep_interval` per
//! instance, and only by the instance that claims the interval.
//!
//! The minimal flavour (`flavour-minimal`) has no atomic increment: there
//! each instance counts with the core's approximate counters
//! (`warden_core::layers::rate_limit::approximate`), which say when to get
//! and set the counter's record; the sweep's claim and deletes take tokens
//! from the same per-instance write budget. The error bound is in
//! docs/rate-limiting.md. The other flavours count exactly, as above.
//!
//! Reads the route's `rate_limit` (and `skip`) and `[rate_limit]` (client
//! address source, IPv6 prefix, header styles, sweep interval, `approximate`). Host ports:
//! the key-value store (`host::kv`), the clock (through `Ctx::now_ms`), the
//! sweep (`host::sweep`). Answers 429 (or the route's own `deny`), or 503
//! when the store is down and the route fails closed; queues the rate-limit
//! headers in `Ctx::to_client` for every answer.

use crate::ctx::Ctx;
use crate::host::kv;
use crate::host::sweep::Sweep;
use crate::respond;
use spin_sdk::wasip3::http::types::Response;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use warden_core::base::layer::Layer;
use warden_core::layers::rate_limit::approximate::ApproximateSettings;
#[cfg(feature = "flavour-minimal")]
use warden_core::layers::rate_limit::approximate::{ApproximateCounters, InstanceId, Plan};
use warden_core::layers::rate_limit::{
    Algorithm, Caller, ClientIpSource, Counted, Quota, QuotaState, Verdict, bucket, client_address,
    client_key, counter_key, fingerprint, on_store_failure, quotas_for, skipped, sweep_claim_key,
    swept, too_many_requests, window_of,
};
#[cfg(not(feature = "flavour-minimal"))]
use warden_core::layers::rate_limit::{decode_counter, sliding_estimate};
use warden_core::policy::stores::StoreCalls;

/// When in the pipeline a limit is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before authentication: limits keyed by address only, so floods are
    /// refused before any session lookup or signature check.
    BeforeAuth,
    /// After authentication: limits keyed by user, or with tiers.
    AfterAuth,
}

/// At most this many over-limit clients are remembered per instance.
const MAX_KNOWN_OVER: usize = 10_000;

thread_local! {
    /// Counter key → unix seconds when its window ends, for clients this
    /// instance saw exceed a quota. Per client, never per request.
    static KNOWN_OVER: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
    /// When this instance last considered sweeping, in unix seconds.
    static LAST_SWEEP: Cell<u64> = const { Cell::new(0) };
}

#[cfg(feature = "flavour-minimal")]
thread_local! {
    /// The minimal flavour's counters and write budget, made on first use.
    static APPROXIMATE: RefCell<Option<ApproximateCounters>> = const { RefCell::new(None) };
}

/// Counts the request against the route's limit at `stage`; refuses it with
/// the seed's 429 (or the route's own answer) when over, or 503 when the
/// store is down and the route fails closed.
pub async fn check(ctx: &mut Ctx<'_>, stage: Stage) -> Result<(), Response> {
    let Some(route) = ctx.route else {
        return Ok(());
    };
    let Some(limit) = route.keys.rate_limit.limit() else {
        return Ok(());
    };
    let wanted = if limit.needs_identity() {
        Stage::AfterAuth
    } else {
        Stage::BeforeAuth
    };
    if route.skips(Layer::RateLimit) || stage != wanted {
        return Ok(());
    }
    let header = |name: &str| ctx.header(name).map(str::to_owned);
    if skipped(limit, &ctx.method, header) {
        return Ok(());
    }
    let settings = &ctx.config.policy.sections.rate_limit;
    let resolved = client_address(&settings.client_ip, settings.ipv6_prefix, &ctx.incoming);
    if let Some(fallback) = resolved.fallback {
        // Which header and why, never its value.
        ctx.log(
            "client_address_fallback",
            &[
                ("source", client_ip_source_name(&settings.client_ip).into()),
                ("reason", fallback.reason().into()),
                ("peer", resolved.address.is_some().into()),
            ],
        );
    }
    let address = resolved.address;
    let roles = ctx
        .identity
        .as_ref()
        .map(|i| i.roles.clone())
        .unwrap_or_default();
    let caller = Caller {
        user_id: ctx.identity.as_ref().map(|i| i.user_id.as_str()),
        roles: &roles,
        tier: ctx.identity.as_ref().and_then(|i| i.tier.as_deref()),
    };
    let client = client_key(limit, address.as_deref(), caller, &ctx.incoming);
    let now_ms = ctx.now_ms();

    let mut states = Vec::new();
    let mut store_error = None;
    for quota in quotas_for(limit, caller) {
        let window = window_of(quota, now_ms);
        let key = counter_key(
            quota,
            &window,
            &bucket(&route.name, quota, limit.scope, ctx.path.as_str(), &client),
        );
        if known_over(&key, now_ms / 1000) {
            states.push(QuotaState::known_over(quota, &window, now_ms));
            break;
        }
        match count(
            &ctx.config.policy.stores.key_value,
            &key,
            quota,
            limit.algorithm,
            now_ms,
            settings.approximate,
        )
        .await
        {
            Ok(counted) => {
                let state = QuotaState::from_count(quota, &window, counted, now_ms);
                let refused = !state.admitted;
                if refused {
                    remember_over(key, window.end_secs, now_ms / 1000);
                }
                states.push(state);
                if refused {
                    // Later quotas are not counted for a refused request.
                    break;
                }
            }
            Err(e) => {
                store_error = Some(e);
                break;
            }
        }
    }

    if let Some(error) = store_error {
        let refusal = on_store_failure(limit);
        let fail = if refusal.is_some() { "closed" } else { "open" };
        ctx.log(
            "rate_limit_store_error",
            &[("error", error.into()), ("fail", fail.into())],
        );
        return match refusal {
            None => Ok(()),
            Some(denial) => Err(respond::deny(ctx, denial)),
        };
    }

    let verdict = Verdict { quotas: states };
    for (name, value) in verdict.headers(settings.legacy_headers, settings.ietf_headers) {
        ctx.to_client.push((name, value.into_bytes()));
    }
    let now_secs = now_ms / 1000;
    let interval = settings.sweep_interval_secs.max(1);
    let sweep = Sweep {
        last: &LAST_SWEEP,
        event: "rate_limit_swept",
    };
    #[cfg(not(feature = "flavour-minimal"))]
    sweep.maybe(
        ctx.config.policy.stores.key_value,
        now_secs,
        interval,
        sweep_claim_key(now_secs, interval),
        move |key| swept(key, now_secs, interval),
    );
    #[cfg(feature = "flavour-minimal")]
    {
        let approximate = settings.approximate;
        sweep.maybe_budgeted(
            ctx.config.policy.stores.key_value,
            now_secs,
            interval,
            sweep_claim_key(now_secs, interval),
            move |key| swept(key, now_secs, interval),
            move || with_counters(approximate, now_ms, |c| c.take_write(now_ms)),
        );
    }
    if verdict.admitted() {
        return Ok(());
    }
    let retry_after = verdict.retry_after();
    ctx.log(
        "rate_limited",
        &[
            // The limit's own key (address, user or header parts), as a
            // fingerprint; `client` is the security event's address prefix.
            ("limit_key_fp", fingerprint(&client).into()),
            ("retry_after", retry_after.into()),
        ],
    );
    let denial = match &limit.deny {
        Some(deny) => deny.clone(),
        None => too_many_requests(retry_after),
    };
    Err(respond::deny(ctx, denial))
}

/// One atomic increment of this window's counter (and, for the sliding
/// window, a read of the previous window's).
#[cfg(not(feature = "flavour-minimal"))]
async fn count(
    calls: &StoreCalls,
    key: &str,
    quota: &Quota,
    algorithm: Algorithm,
    now_ms: u64,
    _approximate: ApproximateSettings,
) -> Result<Counted, String> {
    let current = kv::increment(calls, key, 1)
        .await
        .map_err(|e| format!("increment: {e}"))?;
    match algorithm {
        Algorithm::FixedWindow => Ok(Counted::Exact(current)),
        Algorithm::SlidingWindow => {
            let window = window_of(quota, now_ms);
            let previous_window = window_of(quota, (window.start_secs * 1000).saturating_sub(1));
            let previous_key = key.replacen(
                &format!("w{}:", window.end_secs),
                &format!("w{}:", previous_window.end_secs),
                1,
            );
            let previous = kv::get(calls, &previous_key)
                .await
                .map_err(|e| format!("get: {e}"))?
                .and_then(|bytes| decode_counter(&bytes))
                .unwrap_or(0);
            Ok(Counted::Estimate(sliding_estimate(
                previous, current, &window, now_ms,
            )))
        }
    }
}

/// The minimal flavour's count: in the instance, with a get of the
/// counter's record when the counters ask for one and a set when they
/// reconcile (`Plan`). Only fixed windows get here: the sliding window
/// needs increment, and the minimal flavour's configuration refuses it.
/// A failed set is logged and the request still counted: the instance's
/// next write carries its whole count.
#[cfg(feature = "flavour-minimal")]
async fn count(
    calls: &StoreCalls,
    key: &str,
    quota: &Quota,
    _algorithm: Algorithm,
    now_ms: u64,
    approximate: ApproximateSettings,
) -> Result<Counted, String> {
    let window = window_of(quota, now_ms);
    let limit = u64::from(quota.requests);
    let plan = with_counters(approximate, now_ms, |c| c.plan(key, limit, now_ms));
    let stored = match plan {
        Plan::Local => None,
        Plan::Read | Plan::Sync => kv::get(calls, key).await.map_err(|e| format!("get: {e}"))?,
    };
    let tally = with_counters(approximate, now_ms, |c| {
        c.count(key, window.end_secs, plan, stored.as_deref(), now_ms)
    });
    if let Some(record) = &tally.write {
        match kv::set(calls, key, record).await {
            Ok(()) => with_counters(approximate, now_ms, |c| c.wrote(key, tally.local)),
            Err(e) => eprintln!(
                "{}",
                warden_core::base::log::event(
                    "rate_limit_sync_error",
                    &[("error", format!("set: {e}").into())],
                )
            ),
        }
    }
    Ok(Counted::Exact(
        i64::try_from(tally.estimate).unwrap_or(i64::MAX),
    ))
}

/// Runs `f` on this instance's approximate counters, made on first use
/// with a random instance id.
#[cfg(feature = "flavour-minimal")]
fn with_counters<T>(
    settings: ApproximateSettings,
    now_ms: u64,
    f: impl FnOnce(&mut ApproximateCounters) -> T,
) -> T {
    APPROXIMATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let counters = slot.get_or_insert_with(|| {
            let id = InstanceId::from_bytes(&crate::host::random::bytes(8));
            ApproximateCounters::new(id, settings, now_ms)
        });
        f(counters)
    })
}

/// The configured address header's name, for logs.
fn client_ip_source_name(source: &ClientIpSource) -> &str {
    match source {
        ClientIpSource::Peer => "peer",
        ClientIpSource::Header(name) => name,
        ClientIpSource::ForwardedFor(_) => "x-forwarded-for",
    }
}

fn known_over(key: &str, now_secs: u64) -> bool {
    KNOWN_OVER.with(|m| m.borrow().get(key).is_some_and(|end| now_secs < *end))
}

fn remember_over(key: String, end_secs: u64, now_secs: u64) {
    KNOWN_OVER.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_KNOWN_OVER {
            m.retain(|_, end| now_secs < *end);
        }
        if m.len() < MAX_KNOWN_OVER {
            m.insert(key, end_secs);
        }
    });
}
