//! Replay-cache keys: what a verified request records so that the same
//! signature (or nonce) is refused if it comes again within its window.
//!
//! ```
//! use warden_core::layers::signature::replay::{replay_keys, key_expiry, ReplayId};
//!
//! let id = ReplayId::new("worker-signature", &[b"the signature bytes"]);
//! let [a, b] = replay_keys(&id, 1_000_000, 360);
//! assert!(a.starts_with("warden:replay:"));
//! assert_ne!(a, b);
//! // The key names when it may be deleted, so a sweep never reads a value.
//! assert_eq!(key_expiry(&a), Some(1_000_080));
//! assert_eq!(key_expiry(&b), Some(1_000_440));
//! ```
//!
//! The store has no TTL (DESIGN §2) and the cache must be exact across
//! instances, so each id maps to two counter keys, one per time bucket of
//! `window` seconds (the current and the next). A request increments them
//! in order, each atomically, and stops at the first count above 1 (the id
//! was seen before); it is accepted only if every increment returned 1. Two
//! sightings at most `window` seconds apart always share a key, so at most
//! one of them is accepted, whatever the interleaving across instances.
//! Each key carries its own expiry (the end of its bucket) in its name, so a
//! sweep lists keys and deletes the expired ones without reading a value.
//! Every key under [`REPLAY_PREFIX`] is a counter, never JSON (DESIGN §2).

use sha2::{Digest, Sha256};

/// The key prefix of the replay cache. Only counters live under it.
pub const REPLAY_PREFIX: &str = "warden:replay:";

/// A hashed replay identifier: a signature or a nonce, bound to its scheme.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplayId([u8; 32]);

impl std::fmt::Debug for ReplayId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReplayId({})", self.fingerprint())
    }
}

impl ReplayId {
    /// SHA-256 over the domain and the length-prefixed parts, so ids of
    /// different schemes or kinds can never collide.
    pub fn new(domain: &str, parts: &[&[u8]]) -> ReplayId {
        let mut hash = Sha256::new();
        hash.update((domain.len() as u64).to_be_bytes());
        hash.update(domain.as_bytes());
        for part in parts {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        ReplayId(hash.finalize().into())
    }

    /// The first 8 hex characters, for logs.
    pub fn fingerprint(&self) -> String {
        hex(&self.0[..4])
    }

    fn hex(&self) -> String {
        hex(&self.0)
    }
}

/// The two counter keys to increment for `id` at `now` (unix seconds), for
/// ids that may be accepted again for up to `window` seconds.
pub fn replay_keys(id: &ReplayId, now: u64, window: u64) -> [String; 2] {
    let window = window.max(1);
    let bucket = now / window;
    let key = |b: u64| {
        let expiry = b.saturating_add(1).saturating_mul(window);
        format!("{REPLAY_PREFIX}{expiry}:{}", id.hex())
    };
    [key(bucket), key(bucket.saturating_add(1))]
}

/// The key whose first increment elects the instance that sweeps expired
/// replay keys for the current bucket: one sweep per `window` fleet-wide.
pub fn sweep_claim_key(now: u64, window: u64) -> String {
    crate::base::expiring_key::sweep_claim_key(REPLAY_PREFIX, now, window)
}

/// The unix second from which a replay-cache key may be deleted; `None` for
/// keys that are not replay-cache keys.
pub fn key_expiry(key: &str) -> Option<u64> {
    crate::base::expiring_key::key_expiry(REPLAY_PREFIX, key)
}

/// Whether a replay-cache key has expired at `now`.
pub fn is_expired(key: &str, now: u64) -> bool {
    crate::base::expiring_key::is_expired(REPLAY_PREFIX, key, now)
}

pub(crate) use crate::base::digest::hex;

#[cfg(test)]
mod tests {
    use super::*;

    fn shares_a_key(a: &[String; 2], b: &[String; 2]) -> bool {
        a.iter().any(|k| b.contains(k))
    }

    #[test]
    fn sightings_within_the_window_always_share_a_key() {
        let id = ReplayId::new("d", &[b"x"]);
        let window = 7;
        for first in 1000..1030 {
            for later in first..first + 3 * window {
                let share = shares_a_key(
                    &replay_keys(&id, first, window),
                    &replay_keys(&id, later, window),
                );
                if later - first <= window {
                    assert!(share, "{first} and {later} must collide");
                }
                if later - first >= 2 * window {
                    assert!(!share, "{first} and {later} are far apart");
                }
            }
        }
    }

    #[test]
    fn keys_expire_after_their_last_use() {
        let id = ReplayId::new("d", &[b"x"]);
        let window = 10;
        for now in 100..140 {
            for key in replay_keys(&id, now, window) {
                let expiry = key_expiry(&key).unwrap();
                assert!(expiry > now, "a fresh key is not expired");
                // No later request that could share this key comes after it
                // expires: requests more than `window` later use other keys.
                assert!(expiry <= now + 2 * window);
                assert!(!is_expired(&key, now));
                assert!(is_expired(&key, expiry));
            }
        }
    }

    #[test]
    fn ids_are_domain_separated() {
        assert_ne!(ReplayId::new("a", &[b"bc"]), ReplayId::new("ab", &[b"c"]));
        assert_ne!(
            ReplayId::new("a", &[b"b", b"c"]),
            ReplayId::new("a", &[b"bc"])
        );
        assert_eq!(ReplayId::new("a", &[b"b"]), ReplayId::new("a", &[b"b"]));
        assert_eq!(ReplayId::new("a", &[b"b"]).fingerprint().len(), 8);
    }

    #[test]
    fn expiry_parsing() {
        assert_eq!(key_expiry("warden:replay:42:abc"), Some(42));
        assert_eq!(key_expiry("warden:replay:42:sweep"), Some(42));
        assert_eq!(sweep_claim_key(95, 10), "warden:replay:100:sweep");
        for other in [
            "warden:replay:",
            "warden:replay:x:abc",
            "warden:replay:42",
            "warden:replay::abc",
            "warden:rl:42:abc",
            "warden:replay:-1:abc",
            "warden:replay:99999999999999999999999:a",
        ] {
            assert_eq!(key_expiry(other), None, "{other}");
            assert!(!is_expired(other, u64::MAX));
        }
    }
}
