//! Deleting expired keys from Spin's key-value store, which has no TTL
//! (DESIGN §2): rate-limit counters and replay-cache entries name their
//! expiry in the key, so a sweep needs no index.
//!
//! Each instance considers a sweep at most once per interval; across
//! instances only the one that claims the interval (the first to
//! `increment` its claim key to 1) lists the keys and deletes. The work is
//! spawned, so it runs after the response has gone.

use crate::host::kv::{self, atomics};
use std::cell::Cell;
use std::thread::LocalKey;

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
            let Ok(bucket) = kv::open_default() else {
                return;
            };
            if !matches!(atomics::increment(&bucket, &claim, 1), Ok(1)) {
                return;
            }
            let mut cursor: Option<String> = None;
            let mut deleted = 0u64;
            loop {
                let Ok(page) = bucket.list_keys(cursor.as_deref()) else {
                    return;
                };
                for key in &page.keys {
                    if expired(key) && bucket.delete(key).is_ok() {
                        deleted += 1;
                    }
                }
                match page.cursor {
                    Some(next) if !page.keys.is_empty() => cursor = Some(next),
                    _ => break,
                }
            }
            if deleted > 0 {
                eprintln!(
                    "{}",
                    warden_core::base::log::event(event, &[("deleted", deleted.into())])
                );
            }
        });
    }
}
