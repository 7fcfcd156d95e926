//! The failed-attempt throttle: invalid keys from one client address are
//! counted in a fixed window; past `failure_limit`, the address gets 429
//! before any lookup, so guessing keys costs the guesser, not the database.
//!
//! ```
//! use warden_core::layers::api_key::config::ApiKeyConfig;
//! use warden_core::layers::api_key::throttle::{counter_key, is_throttled};
//!
//! let config = ApiKeyConfig::default(); // 20 failures per 5 minutes
//! let key = counter_key(&config, Some("203.0.113.7"), 1_795_963_429_629).unwrap();
//! assert_eq!(key, "warden:apikey:fail:203.0.113.7:1795963200");
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

/// The counter key for `address` in the window containing `now_ms`; `None`
/// when the throttle is off.
pub fn counter_key(config: &ApiKeyConfig, address: Option<&str>, now_ms: u64) -> Option<String> {
    if config.failure_limit == 0 {
        return None;
    }
    let window = config.failure_window_secs.max(1);
    let start = now_ms / 1000 / window * window;
    Some(format!(
        "warden:apikey:fail:{}:{start}",
        address.unwrap_or("unknown")
    ))
}

/// The counter's time to live: the window, so a finished window's counter
/// goes away by itself.
pub fn counter_ttl_secs(config: &ApiKeyConfig) -> u64 {
    config.failure_window_secs
}

/// Whether `failures` counted so far in this window throttle the address.
pub fn is_throttled(config: &ApiKeyConfig, failures: i64) -> bool {
    config.failure_limit > 0 && failures >= i64::from(config.failure_limit)
}
