//! The failed-attempt throttle, as `[api_keys]` configures it: invalid keys
//! from one client address are counted in a fixed window; past
//! `failure_limit`, the address gets 429 before any lookup, so guessing keys
//! costs the guesser, not the database.
//!
//! The counter is [`crate::base::failed_attempts`]'s, shared with the JWT
//! layer: a refused key and a refused bearer token count against the same
//! address in the same counter.
//!
//! ```
//! use warden_core::layers::api_key::config::ApiKeyConfig;
//! use warden_core::layers::api_key::throttle::{counter_key, is_throttled};
//!
//! let config = ApiKeyConfig::default(); // 20 failures per 5 minutes
//! let key = counter_key(&config, Some("203.0.113.7"), 1_795_963_429_629).unwrap();
//! assert_eq!(key, "warden:fail:203.0.113.7:300:1795963200");
//! assert!(!is_throttled(&config, 19));
//! assert!(is_throttled(&config, 20));
//! ```
//!
//! The adapter reads the counter before the lookup (throttled: refuse), and
//! increments it after a refusal that [`counts_as_failure`]. The address is
//! the one the rate limiter resolved (trusted proxies applied); without one,
//! all such clients share the `unknown` counter.
//!
//! [`counts_as_failure`]: super::refusal::Refusal::counts_as_failure

use super::config::ApiKeyConfig;
use crate::base::failed_attempts::Throttle;

/// `failure_limit` and `failure_window`, as the shared throttle takes them.
pub fn throttle(config: &ApiKeyConfig) -> Throttle {
    Throttle {
        limit: config.failure_limit,
        window_secs: config.failure_window_secs,
    }
}

/// The counter key for `address` in the window containing `now_ms`; `None`
/// when the throttle is off.
pub fn counter_key(config: &ApiKeyConfig, address: Option<&str>, now_ms: u64) -> Option<String> {
    throttle(config).counter_key(address, now_ms)
}

/// Whether `failures` counted so far in this window throttle the address.
pub fn is_throttled(config: &ApiKeyConfig, failures: i64) -> bool {
    throttle(config).is_throttled(failures)
}
