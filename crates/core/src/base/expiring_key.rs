//! Store keys that carry their own expiry: `<prefix><expiry>:<rest>`.
//!
//! The key-value store has no TTL (DESIGN §2), so the layers that keep
//! short-lived state (the replay cache, idempotency slots) put the unix
//! second from which a key may go into its name. A sweep then lists a
//! prefix and deletes by name, without reading a value, and the first
//! increment of `<prefix><expiry>:sweep` elects the one instance that
//! sweeps in a period.
//!
//! ```
//! use warden_core::base::expiring_key::{is_expired, key_expiry, sweep_claim_key};
//!
//! assert_eq!(sweep_claim_key("x:", 1_000, 60), "x:1020:sweep");
//! assert_eq!(key_expiry("x:", "x:1020:abc"), Some(1020));
//! assert_eq!(key_expiry("x:", "y:1020:abc"), None);
//! assert!(is_expired("x:", "x:1020:abc", 1020) && !is_expired("x:", "x:1020:abc", 1019));
//! ```

/// The counter whose first increment elects the instance that sweeps
/// `prefix`'s expired keys: one per `period` seconds fleet-wide. It
/// expires at the end of its period, so the sweep deletes it too.
pub fn sweep_claim_key(prefix: &str, now: u64, period: u64) -> String {
    let period = period.max(1);
    let expiry = (now / period).saturating_add(1).saturating_mul(period);
    format!("{prefix}{expiry}:sweep")
}

/// The unix second from which `key` may be deleted; `None` for a key
/// that does not start with `prefix` and a decimal expiry.
pub fn key_expiry(prefix: &str, key: &str) -> Option<u64> {
    let rest = key.strip_prefix(prefix)?;
    let (expiry, _) = rest.split_once(':')?;
    if expiry.is_empty() || expiry.len() > 20 || !expiry.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    expiry.parse().ok()
}

/// Whether `key` (under `prefix`) has expired at `now`.
pub fn is_expired(prefix: &str, key: &str, now: u64) -> bool {
    key_expiry(prefix, key).is_some_and(|expiry| expiry <= now)
}
