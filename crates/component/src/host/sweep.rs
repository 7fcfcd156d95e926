//! Deleting expired keys from Spin's key-value store, which has no TTL
//! (DESIGN §2): rate-limit counters and replay-cache entries name their
//! expiry in the key, so a sweep needs no index.
//!
//! Each instance considers a sweep at most once per interval; across
//! instances only the one that claims the interval (the first to
//! `increment` its claim key to 1) lists the keys and deletes. The work is
//! spawned, so it runs after the response has gone.
//!
//! The minimal flavour has no increment and a write budget
//! ([`Sweep::maybe_budgeted`]): the claim is a get and a set (two instances
//! may both win it; each still spends only its own budget), and every
//! write, the claim's and each delete, takes a token from the instance's
//! write budget first, the one its approximate rate-limit counters spend.
//! Deletes the budget cannot pay for wait for a later sweep.

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
        if !self.due(now_secs, interval_secs) {
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
            log_deleted(event, deleted);
        });
    }
}

impl Sweep {
    /// Whether this instance considers a sweep now (once per interval).
    fn due(&self, now_secs: u64, interval_secs: u64) -> bool {
        self.last.with(|last| {
            let due = now_secs.saturating_sub(last.get()) >= interval_secs.max(1);
            if due {
                last.set(now_secs);
            }
            due
        })
    }

    /// [`Sweep::maybe`] for a store without atomics and with a write
    /// budget: the claim is a get (the claim key absent) and a set, and
    /// each write asks `take_write` for a token first.
    #[cfg(feature = "flavour-minimal")]
    pub fn maybe_budgeted(
        &self,
        calls: StoreCalls,
        now_secs: u64,
        interval_secs: u64,
        claim: String,
        expired: impl Fn(&str) -> bool + 'static,
        take_write: impl Fn() -> bool + 'static,
    ) {
        if !self.due(now_secs, interval_secs) {
            return;
        }
        let event = self.event;
        spin_sdk::wasip3::spawn(async move {
            // Someone claimed this interval already, or the store is down.
            if !matches!(kv::get(&calls, &claim).await, Ok(None)) {
                return;
            }
            if !take_write() || kv::set(&calls, &claim, b"1").await.is_err() {
                return;
            }
            let deleted = kv::delete_where(&calls, |key| expired(key) && take_write())
                .await
                .unwrap_or(0);
            log_deleted(event, deleted);
        });
    }
}

/// Reports a sweep that deleted keys (one that found none says nothing).
fn log_deleted(event: &str, deleted: u64) {
    if deleted > 0 {
        eprintln!(
            "{}",
            warden_core::base::log::event(event, &[("deleted", deleted.into())])
        );
    }
}
