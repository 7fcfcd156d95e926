//! Deleting expired keys from Spin's key-value store, which has no TTL
//! (DESIGN §2): rate-limit counters and replay-cache entries name their
//! expiry in the key, so a sweep needs no index.
//!
//! Each instance considers a sweep at most once per interval; across
//! instances only the one that claims the interval (the first to
//! `increment` its claim key to 1) lists the keys and deletes. The work is
//! spawned, so it runs after the response has gone.

use crate::host::kv;
use std::cell::Cell;
use std::thread::LocalKey;
use warden_core::policy::stores::StoreCalls;

/// One kind of expiring key.
pub struct Sweep {
    /// When this instance last considered this sweep (unix seconds).
    pub last: &'static LocalKey<Cell<u64>>,
    /// The log event that reports how many keys went.
    pub event: &'static str,
}

impl Sweep {
    /// Sweeps if this instance is due and wins `claim`; `expired` says which
    /// keys go (it must also match stale claim keys).
    pub fn maybe(
        &self,
        calls: StoreCalls,
        now_secs: u64,
        interval_secs: u64,
        claim: String,
        expired: impl Fn(&str) -> bool + 'static,
    ) {
        let due = self.last.with(|last| {
            let due = now_secs.saturating_sub(last.get()) >= interval_secs.max(1);
            if due {
                last.set(now_secs);
            }
            due
        });
        if !due {
            return;
        }
        let event = self.event;
        spin_sdk::wasip3::spawn(async move {
            // Only the instance whose increment makes the claim 1 sweeps;
            // a store that is down or slow ends the sweep (the breaker
            // hears of it like any other call).
            if !matches!(kv::increment(&calls, &claim, 1).await, Ok(1)) {
                return;
            }
            let deleted = kv::delete_where(&calls, expired).await.unwrap_or(0);
            if deleted > 0 {
                eprintln!(
                    "{}",
                    warden_core::base::log::event(event, &[("deleted", deleted.into())])
                );
            }
        });
    }
}
