//! The failed-credential throttle over the key-value store, for every
//! credential stage (`api_key`, `jwt`; the `lockout` stage shares its
//! address and its sweep): one counter per client address,
//! whichever layer refused the credential, so that an address gets one
//! budget of guesses, not one per layer.
//!
//! The decisions are `warden_core::base::failed_attempts`'s; this module
//! makes the store calls: [`throttled`] reads the address's counter (first,
//! before the stage looks at anything else) and considers a sweep of
//! finished windows; [`count_failure`] increments it after a refused
//! credential, in the window of every credential layer a route uses (one
//! key when their windows agree, as by default). The address is the one the
//! rate limiter resolves (`[rate_limit]`'s `client_ip`, trusted proxies
//! applied); without one, all such clients share the `unknown` counter.
//!
//! Host ports: `host::kv`, `host::sweep`, the clock (through `Ctx`).

use crate::ctx::Ctx;
#[cfg(any(feature = "api-key", feature = "jwt"))]
use crate::host::kv::{self, StoreError};
use crate::host::sweep::Sweep;
use std::cell::Cell;
#[cfg(any(feature = "api-key", feature = "jwt"))]
use warden_core::base::failed_attempts::counter_keys;
use warden_core::base::failed_attempts::{Throttle, is_expired};
use warden_core::layers::rate_limit::client_address;
#[cfg(any(feature = "api-key", feature = "jwt"))]
use warden_core::layers::rate_limit::decode_counter;

thread_local! {
    /// When this instance last considered sweeping failure counters.
    static LAST_SWEEP: Cell<u64> = const { Cell::new(0) };
}

/// The client's address, as the rate limiter resolves it (also the
/// lockout stage's address).
pub fn address(ctx: &Ctx<'_>) -> Option<String> {
    let rate = &ctx.config.policy.sections.rate_limit;
    client_address(&rate.client_ip, rate.ipv6_prefix, &ctx.incoming).address
}

#[cfg(any(feature = "api-key", feature = "jwt"))]
/// Whether the client's address has used up `throttle`'s failures in the
/// current window (logged as `event`, with the count). `Ok(false)` when the
/// throttle is off. A store that cannot be read is the caller's to answer
/// (authentication never fails open).
pub async fn throttled(ctx: &Ctx<'_>, throttle: Throttle, event: &str) -> Result<bool, StoreError> {
    let now_ms = ctx.now_ms();
    let Some(counter) = throttle.counter_key(address(ctx).as_deref(), now_ms) else {
        return Ok(false);
    };
    sweep(ctx, throttle, now_ms);
    let calls = ctx.config.policy.stores.key_value;
    let failures = kv::get(&calls, &counter)
        .await?
        .as_deref()
        .and_then(decode_counter)
        .unwrap_or(0);
    let throttled = throttle.is_throttled(failures);
    if throttled {
        ctx.log(event, &[("failures", failures.into())]);
    }
    Ok(throttled)
}

#[cfg(any(feature = "api-key", feature = "jwt"))]
/// Counts one refused credential against the client's address, in every
/// window a credential layer that some route uses counts in. A failed
/// increment is logged as `event`; the refusal stands, only the count is
/// lost.
pub async fn count_failure(ctx: &Ctx<'_>, event: &str) {
    let keys = counter_keys(&throttles(ctx), address(ctx).as_deref(), ctx.now_ms());
    let calls = ctx.config.policy.stores.key_value;
    for key in keys {
        if let Err(error) = kv::increment(&calls, &key, 1).await {
            ctx.log(event, &[("error", error.to_string().into())]);
        }
    }
}

/// The throttles of the credential layers some route uses.
#[cfg(any(feature = "api-key", feature = "jwt"))]
fn throttles(ctx: &Ctx<'_>) -> Vec<Throttle> {
    let policy = &ctx.config.policy;
    // A route's every credential counts (`auth = ["required", "api_key"]`),
    // as the layers' `host_needs` see them, or guesses there go uncounted.
    let used = |mode| {
        policy
            .routes
            .iter()
            .any(|r| r.accepts(mode) && !r.skips(warden_core::base::layer::Layer::Auth))
    };
    let mut out = Vec::new();
    if used(warden_core::layers::api_key::config::API_KEY) {
        out.push(warden_core::layers::api_key::throttle::throttle(
            &policy.sections.api_keys,
        ));
    }
    if used(warden_core::layers::jwt::JWT) {
        out.push(policy.sections.jwt.throttle());
    }
    out
}

/// Deletes failure counters of finished windows (the lockout stage's
/// counters and locks too: they share the key shape), once per window per
/// instance and by one instance only, after the response.
pub fn sweep(ctx: &Ctx<'_>, throttle: Throttle, now_ms: u64) {
    let now_secs = now_ms / 1000;
    Sweep {
        last: &LAST_SWEEP,
        event: "failed_attempt_counters_swept",
    }
    .maybe(
        ctx.config.policy.stores.key_value,
        now_secs,
        throttle.window_secs.max(1),
        throttle.sweep_claim(now_ms),
        move |key| is_expired(key, now_secs),
    );
}
