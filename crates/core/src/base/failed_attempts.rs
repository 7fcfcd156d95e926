//! The failed-credential throttle every credential layer shares: failed
//! attempts (a bad API key, a bad bearer token) from one client address are
//! counted in a fixed window, in **one** counter per address and window
//! length, whichever layer refused them; past a layer's limit, the address
//! gets 429 from that layer before any lookup or signature check. An
//! attacker therefore gets one budget of guesses, not one per layer.
//!
//! Pure: the parameters are a limit, a window and an address; the layers'
//! adapters do the store calls (read before anything else, increment after a
//! refused credential, sweep finished windows).
//!
//! ```
//! use warden_core::base::failed_attempts::{Throttle, is_expired, counter_keys};
//!
//! let throttle = Throttle { limit: 20, window_secs: 300 };
//! let key = throttle.counter_key(Some("203.0.113.7"), 1_795_963_429_629).unwrap();
//! assert_eq!(key, "warden:fail:203.0.113.7:300:1795963200");
//! assert!(!throttle.is_throttled(19));
//! assert!(throttle.is_throttled(20));
//! // A finished window's counter is swept.
//! assert!(!is_expired(&key, 1_795_963_499));
//! assert!(is_expired(&key, 1_795_963_500));
//! // A failure is counted in every window length in use, once each.
//! let other = Throttle { limit: 5, window_secs: 60 };
//! assert_eq!(counter_keys(&[throttle, throttle, other], None, 0).len(), 2);
//! ```
//!
//! Two layers with the same window (the defaults) share one counter key
//! exactly; with different windows each window has its own counter, and
//! every failure is counted in each, so each layer's limit still sees the
//! failures of both.

use crate::base::denial::Denial;

/// The prefix of every counter (and sweep claim) key.
pub const PREFIX: &str = "warden:fail:";

/// The 429 body a throttled address gets, in the shape of every other
/// warden refusal, the same from every layer.
pub const THROTTLED_BODY: &str =
    r#"{"error":{"code":"TOO_MANY_FAILED_ATTEMPTS","message":"Too many failed attempts"}}"#;

/// The answer to a throttled address.
pub fn throttled_denial() -> Denial {
    Denial {
        status: 429,
        body: THROTTLED_BODY.to_string(),
    }
}

/// One layer's limit and window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Failed attempts before the address gets 429; 0: off.
    pub limit: u32,
    /// Seconds the failures are counted over (at least 1 is used).
    pub window_secs: u64,
}

impl Throttle {
    /// Whether this throttle counts and checks at all.
    pub fn is_on(&self) -> bool {
        self.limit > 0
    }

    fn window(&self) -> u64 {
        self.window_secs.max(1)
    }

    /// The counter key for `address` in the window containing `now_ms`;
    /// `None` when the throttle is off. Without an address, all such
    /// clients share the `unknown` counter.
    pub fn counter_key(&self, address: Option<&str>, now_ms: u64) -> Option<String> {
        if !self.is_on() {
            return None;
        }
        let window = self.window();
        let start = now_ms / 1000 / window * window;
        Some(format!(
            "{PREFIX}{}:{window}:{start}",
            address.unwrap_or("unknown")
        ))
    }

    /// Whether `failures` counted so far in this window throttle the
    /// address.
    pub fn is_throttled(&self, failures: i64) -> bool {
        self.is_on() && failures >= i64::from(self.limit)
    }

    /// The key that claims the sweep of this window's finished counters
    /// (itself swept like a counter).
    pub fn sweep_claim(&self, now_ms: u64) -> String {
        let window = self.window();
        let start = now_ms / 1000 / window * window;
        format!("{PREFIX}sweep:{window}:{start}")
    }
}

/// The counter keys a failure increments: one per distinct window length
/// among the throttles that are on, in order.
pub fn counter_keys(throttles: &[Throttle], address: Option<&str>, now_ms: u64) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for key in throttles
        .iter()
        .filter_map(|t| t.counter_key(address, now_ms))
    {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// Whether `key` is a counter (or a sweep claim) whose window ended at or
/// before `now_secs`: the key names its own window length and start.
pub fn is_expired(key: &str, now_secs: u64) -> bool {
    let Some(rest) = key.strip_prefix(PREFIX) else {
        return false;
    };
    let mut parts = rest.rsplit(':');
    let (Some(start), Some(window)) = (
        parts.next().and_then(|s| s.parse::<u64>().ok()),
        parts.next().and_then(|s| s.parse::<u64>().ok()),
    ) else {
        return false;
    };
    start.saturating_add(window.max(1)) <= now_secs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_thresholds_and_expiry() {
        let t = Throttle {
            limit: 3,
            window_secs: 60,
        };
        let now = 1_000_030_000;
        assert_eq!(
            t.counter_key(Some("2001:db8::1"), now).as_deref(),
            Some("warden:fail:2001:db8::1:60:1000020")
        );
        assert_eq!(
            t.counter_key(None, now).as_deref(),
            Some("warden:fail:unknown:60:1000020")
        );
        assert!(!t.is_throttled(2) && t.is_throttled(3));
        let off = Throttle { limit: 0, ..t };
        assert_eq!(off.counter_key(Some("a"), now), None);
        assert!(!off.is_throttled(i64::MAX));
        assert!(counter_keys(&[off], Some("a"), now).is_empty());

        let claim = t.sweep_claim(now);
        assert_eq!(claim, "warden:fail:sweep:60:1000020");
        assert!(!is_expired(&claim, 1_000_079) && is_expired(&claim, 1_000_080));
        let key = t.counter_key(Some("2001:db8::1"), now).unwrap();
        assert!(!is_expired(&key, 1_000_079) && is_expired(&key, 1_000_080));
        assert!(!is_expired("warden:rl:x:1", u64::MAX));
        assert!(!is_expired("warden:fail:garbage", u64::MAX));
    }

    #[test]
    fn windows_of_different_lengths_each_count() {
        let a = Throttle {
            limit: 3,
            window_secs: 60,
        };
        let b = Throttle {
            limit: 5,
            window_secs: 300,
        };
        let keys = counter_keys(&[a, b, a], Some("1.2.3.4"), 600_000);
        assert_eq!(
            keys,
            ["warden:fail:1.2.3.4:60:600", "warden:fail:1.2.3.4:300:600"]
        );
    }
}
