//! The approximate rate limiter, for hosts whose key-value store has no
//! atomic increment (the minimal flavour, `warden-minimal.wasm`): counts in
//! the instance and reconciles with the store at most every
//! `sync_interval` per counter, within a per-instance write budget.
//!
//! ```
//! use warden_core::layers::rate_limit::approximate::{
//!     ApproximateCounters, ApproximateSettings, InstanceId, Plan,
//! };
//!
//! let settings = ApproximateSettings::default(); // 1 s, 5 writes/s
//! let mut counters = ApproximateCounters::new(InstanceId::from_bytes(&[7; 8]), settings, 0);
//! // A counter this instance has never seen is read, and written back at
//! // once while the write budget has a token (a get and a set).
//! assert_eq!(counters.plan("rl:w60:60:k", 100, 0), Plan::Sync);
//! let tally = counters.count("rl:w60:60:k", 60, Plan::Sync, Some(b"00000000000000aa=4"), 0);
//! assert_eq!(tally.estimate, 5); // 4 counted elsewhere, 1 here
//! assert_eq!(tally.write.unwrap(), b"00000000000000aa=4,0707070707070707=1".to_vec());
//! counters.wrote("rl:w60:60:k", tally.local);
//! // Within the sync interval, counting is local.
//! assert_eq!(counters.plan("rl:w60:60:k", 100, 500), Plan::Local);
//! assert_eq!(counters.count("rl:w60:60:k", 60, Plan::Local, None, 500).estimate, 6);
//! // Then a get and a set of the record, this instance's own count in it.
//! assert_eq!(counters.plan("rl:w60:60:k", 100, 1_000), Plan::Sync);
//! let tally = counters.count("rl:w60:60:k", 60, Plan::Sync, Some(b"00000000000000aa=4"), 1_000);
//! assert_eq!(tally.write.unwrap(), b"00000000000000aa=4,0707070707070707=3".to_vec());
//! ```
//!
//! # The store record
//!
//! Each counter key (the exact limiter's [`super::counter_key`], which
//! names its window) holds one small text record: every instance that has
//! written it, with its own absolute count in the window,
//! `<instance-id>=<count>,…` (an instance id is 16 hex characters from 8
//! random bytes, drawn once per instance). Reconciling is a get, this
//! instance's entry replaced with its count, and a set. Each instance
//! writes absolute numbers, so a write lost to a concurrent writer is
//! repaired by that instance's next write. Entries are in the order they
//! were last written (the writer's own last). Records keep at most
//! [`MAX_RECORD_ENTRIES`] entries (those written longest ago, mostly of
//! recycled instances, are folded into one, [`FOLDED_ID`], so the total
//! never drops); the
//! parser never panics, skips malformed entries, reads at most
//! [`MAX_SCANNED_ENTRIES`] of them and saturates its sums.
//!
//! # What one instance does per request, per quota
//!
//! - a counter it has never seen: a get, so that a fresh instance starts
//!   from the store's total (Spin recycles instances), and a set of its own
//!   count while the write budget has a token ([`Plan::Sync`]; else the get
//!   alone, [`Plan::Read`]), so that an instance ending soon has still
//!   counted in the store;
//! - within `sync_interval` of the counter's last read, and fewer than
//!   [`early_sync`] (a sixteenth of the limit) requests counted since its
//!   last write: nothing ([`Plan::Local`]);
//! - otherwise: a get and a set ([`Plan::Sync`]) when the write budget (a
//!   token bucket of `writes_per_second`, burst the same) has a token; else
//!   a get alone ([`Plan::Read`]) once the interval is up, and the write
//!   waits.
//!
//! The estimate is this instance's count plus the others' from the last
//! read; it never exceeds the true count, so a client always gets at least
//! the limit. How far over it can get is derived in docs/rate-limiting.md
//! ("The minimal flavour: approximate limits") and checked by simulation
//! below.

use std::collections::HashMap;

/// `sync_interval`'s default: 1 s.
pub const DEFAULT_SYNC_INTERVAL_MS: u64 = 1_000;
/// `sync_interval`'s bounds: 100 ms to 1 minute.
pub const SYNC_INTERVAL_RANGE_MS: (u64, u64) = (100, 60_000);
/// `writes_per_second`'s default, per instance: 10 instances stay under
/// the 50 writes a second the minimal hosts allow an app.
pub const DEFAULT_WRITES_PER_SECOND: u32 = 5;
/// `writes_per_second`'s bounds.
pub const WRITES_PER_SECOND_RANGE: (u32, u32) = (1, 50);
/// Entries a record keeps.
pub const MAX_RECORD_ENTRIES: usize = 64;
/// Entries the parser looks at before it stops (malformed ones included).
pub const MAX_SCANNED_ENTRIES: usize = 256;
/// Counters one instance remembers; beyond that, expired windows go first,
/// then the counter read longest ago.
pub const MAX_COUNTERS: usize = 10_000;

/// `[rate_limit] approximate = { sync_interval, writes_per_second }`.
/// Only the minimal flavour reads it; the others count exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApproximateSettings {
    /// At most one reconciliation per counter per this many milliseconds.
    pub sync_interval_ms: u64,
    /// Writes one instance makes per second at most (burst the same),
    /// reconciliations and sweep deletes together.
    pub writes_per_second: u32,
}

impl Default for ApproximateSettings {
    fn default() -> Self {
        ApproximateSettings {
            sync_interval_ms: DEFAULT_SYNC_INTERVAL_MS,
            writes_per_second: DEFAULT_WRITES_PER_SECOND,
        }
    }
}

/// An instance's id in the records: 16 lower-case hex characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceId(String);

impl InstanceId {
    /// From random bytes (the first 8; fewer are padded with zeros).
    pub fn from_bytes(bytes: &[u8]) -> InstanceId {
        let eight: Vec<u8> = bytes
            .iter()
            .copied()
            .chain(std::iter::repeat(0))
            .take(8)
            .collect();
        let id = crate::base::digest::hex(&eight);
        if id == FOLDED_ID {
            return InstanceId("0000000000000001".to_owned());
        }
        InstanceId(id)
    }

    /// The id as written in records.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Unwritten requests after which a counter of a quota of `limit` syncs
/// before its interval is up: a sixteenth of the limit, at least 1.
pub fn early_sync(limit: u64) -> u64 {
    (limit / 16).max(1)
}

/// The entry that keeps the counts of the entries a full record drops
/// (no instance draws this id: [`InstanceId::from_bytes`] avoids it).
pub const FOLDED_ID: &str = "0000000000000000";

/// Whether `id` is an instance id: 16 lower-case hex characters.
fn is_instance_id(id: &[u8]) -> bool {
    id.len() == 16
        && id
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// Reads a record: `(instance id, count)` pairs in the record's order, at
/// most [`MAX_RECORD_ENTRIES`] (the last ones), one per id (its largest).
/// Anything malformed is skipped; nothing panics, whatever the bytes.
pub fn parse_record(bytes: &[u8]) -> Vec<(String, u64)> {
    let mut entries: Vec<(String, u64)> = Vec::new();
    for entry in bytes.split(|b| *b == b',').take(MAX_SCANNED_ENTRIES) {
        let mut parts = entry.splitn(2, |b| *b == b'=');
        let (Some(id), Some(count)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !is_instance_id(id)
            || count.is_empty()
            || count.len() > 20
            || !count.iter().all(u8::is_ascii_digit)
        {
            continue;
        }
        // ASCII digits, so UTF-8; u64::from_str refuses what overflows.
        let Some(count) = std::str::from_utf8(count)
            .ok()
            .and_then(|c| c.parse::<u64>().ok())
        else {
            continue;
        };
        let id = String::from_utf8_lossy(id).into_owned();
        match entries.iter_mut().find(|(known, _)| *known == id) {
            Some((_, seen)) => *seen = (*seen).max(count),
            None => entries.push((id, count)),
        }
    }
    cap_entries(&mut entries);
    entries
}

/// Keeps at most [`MAX_RECORD_ENTRIES`] entries: the most recently
/// written, and the sum of the others under [`FOLDED_ID`] (first), so that
/// the record's total never drops. Entries are in the order they were last
/// written (each writer moves its own to the end), so the folded ones are
/// those of instances that stopped writing, mostly recycled ones; a live
/// instance folded away (more than 63 others wrote since it did) is
/// counted again when it next writes: stricter, never looser. Folding by
/// size instead would fold the young live instances' small entries again
/// at every write of theirs, counting them many times over.
fn cap_entries(entries: &mut Vec<(String, u64)>) {
    if entries.len() <= MAX_RECORD_ENTRIES {
        return;
    }
    let mut folded: u64 = 0;
    entries.retain(|(id, count)| {
        let keep = id != FOLDED_ID;
        if !keep {
            folded = folded.saturating_add(*count);
        }
        keep
    });
    let excess = entries
        .len()
        .saturating_sub(MAX_RECORD_ENTRIES.saturating_sub(1));
    for (_, count) in entries.drain(..excess) {
        folded = folded.saturating_add(count);
    }
    entries.insert(0, (FOLDED_ID.to_owned(), folded));
}

/// Writes a record, entries in the order given (least recently written
/// first).
pub fn encode_record(entries: &[(String, u64)]) -> Vec<u8> {
    entries
        .iter()
        .map(|(id, count)| format!("{id}={count}"))
        .collect::<Vec<_>>()
        .join(",")
        .into_bytes()
}

/// The sum of the counts of a record's entries other than `own`, and
/// `own`'s count.
fn split_record(entries: &[(String, u64)], own: &str) -> (u64, u64) {
    let mut others: u64 = 0;
    let mut mine = 0;
    for (id, count) in entries {
        if id == own {
            mine = *count;
        } else {
            others = others.saturating_add(*count);
        }
    }
    (others, mine)
}

/// What the store must do before a request is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Nothing: count in the instance.
    Local,
    /// Get the record (a counter never seen, or the write budget is spent).
    Read,
    /// Get the record, then set it with this instance's count (a token was
    /// taken from the write budget).
    Sync,
}

/// The count of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// This instance's count plus the others' from the last read, this
    /// request included: compare it with the limit.
    pub estimate: u64,
    /// For [`Plan::Sync`]: the record to set; after the set succeeds, call
    /// [`ApproximateCounters::wrote`] with `local`.
    pub write: Option<Vec<u8>>,
    /// This instance's count written in `write`.
    pub local: u64,
}

/// One counter as this instance knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Counter {
    /// Unix seconds when the counter's window ends.
    window_end_secs: u64,
    /// This instance's count in the window.
    local: u64,
    /// What this instance last wrote to the store.
    synced: u64,
    /// The other instances' counts from the last read (never lowered: in a
    /// window, counts only grow).
    others: u64,
    /// When the record was last read (or written), unix milliseconds.
    last_sync_ms: u64,
}

/// One instance's approximate counters and write budget.
#[derive(Debug, Clone)]
pub struct ApproximateCounters {
    instance: InstanceId,
    settings: ApproximateSettings,
    counters: HashMap<String, Counter>,
    /// Write tokens, in thousandths.
    tokens_milli: u64,
    /// When the bucket was last filled, unix milliseconds.
    refilled_ms: u64,
    /// Writes granted so far (reconciliations and sweep deletes).
    writes: u64,
}

impl ApproximateCounters {
    /// A fresh instance: no counters, a full write budget.
    pub fn new(
        instance: InstanceId,
        settings: ApproximateSettings,
        now_ms: u64,
    ) -> ApproximateCounters {
        ApproximateCounters {
            instance,
            settings,
            counters: HashMap::new(),
            tokens_milli: Self::capacity(settings),
            refilled_ms: now_ms,
            writes: 0,
        }
    }

    fn capacity(settings: ApproximateSettings) -> u64 {
        u64::from(settings.writes_per_second.max(1)).saturating_mul(1000)
    }

    /// The instance's id.
    pub fn instance(&self) -> &InstanceId {
        &self.instance
    }

    /// Writes granted so far.
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// How many counters are remembered.
    pub fn len(&self) -> usize {
        self.counters.len()
    }

    /// Whether no counter is remembered.
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }

    /// Counts this instance has not written yet, over every counter (what
    /// is lost if the instance ends now).
    pub fn unsynced(&self) -> u64 {
        self.counters.values().fold(0u64, |sum, c| {
            sum.saturating_add(c.local.saturating_sub(c.synced))
        })
    }

    /// Takes one write from the budget, if it has one: every write to the
    /// store (a reconciliation, a sweep's delete) asks first.
    pub fn take_write(&mut self, now_ms: u64) -> bool {
        let capacity = Self::capacity(self.settings);
        let elapsed = now_ms.saturating_sub(self.refilled_ms);
        let refill = elapsed.saturating_mul(u64::from(self.settings.writes_per_second.max(1)));
        self.tokens_milli = self.tokens_milli.saturating_add(refill).min(capacity);
        self.refilled_ms = self.refilled_ms.max(now_ms);
        if self.tokens_milli >= 1000 {
            self.tokens_milli -= 1000;
            self.writes = self.writes.saturating_add(1);
            true
        } else {
            false
        }
    }

    /// What the store must do before the request on `key`, a counter of
    /// a quota of `limit` requests, is counted. A [`Plan::Sync`] has taken
    /// its write token.
    ///
    /// A key this instance has not seen is synced (read, then written) if
    /// the budget has a token, else only read. A known counter is due for a
    /// sync when its last read is `sync_interval`
    /// old, or when this instance has counted [`early_sync`]`(limit)`
    /// requests on it since its last write (so that an instance recycled
    /// within one interval has written most of what it counted). Due and
    /// without a token, it is only read, and only on the interval.
    pub fn plan(&mut self, key: &str, limit: u64, now_ms: u64) -> Plan {
        let Some(counter) = self.counters.get(key) else {
            // A key new to this instance is read first, and written at once
            // while the budget allows: an instance that ends after a few
            // requests (one instance per request, at the extreme) would
            // otherwise never write, and its clients would never be limited.
            return if self.take_write(now_ms) {
                Plan::Sync
            } else {
                Plan::Read
            };
        };
        let on_time = now_ms.saturating_sub(counter.last_sync_ms) >= self.settings.sync_interval_ms;
        let by_count = counter.local.saturating_sub(counter.synced) >= early_sync(limit);
        if !on_time && !by_count {
            Plan::Local
        } else if self.take_write(now_ms) {
            Plan::Sync
        } else if on_time {
            Plan::Read
        } else {
            Plan::Local
        }
    }

    /// Counts one request on `key` (whose window ends at
    /// `window_end_secs`), after `plan`'s store work: `stored` is the
    /// record read (`None`: no record) for [`Plan::Read`] and
    /// [`Plan::Sync`], ignored for [`Plan::Local`].
    pub fn count(
        &mut self,
        key: &str,
        window_end_secs: u64,
        plan: Plan,
        stored: Option<&[u8]>,
        now_ms: u64,
    ) -> Tally {
        if !self.counters.contains_key(key) {
            self.make_room(now_ms / 1000);
        }
        let own = self.instance.as_str().to_owned();
        let counter = self.counters.entry(key.to_owned()).or_insert(Counter {
            window_end_secs,
            local: 0,
            synced: 0,
            others: 0,
            last_sync_ms: now_ms,
        });
        let entries = match plan {
            Plan::Local => None,
            Plan::Read | Plan::Sync => Some(stored.map(parse_record).unwrap_or_default()),
        };
        if let Some(entries) = &entries {
            let (others, mine) = split_record(entries, &own);
            counter.others = counter.others.max(others);
            // A count of ours in the store that we do not know (an id
            // drawn twice) is taken as ours: never count less than stored.
            counter.local = counter.local.max(mine);
            counter.synced = counter.synced.max(mine);
            counter.last_sync_ms = now_ms;
        }
        counter.local = counter.local.saturating_add(1);
        let local = counter.local;
        let estimate = local.saturating_add(counter.others);
        let write = match (plan, entries) {
            (Plan::Sync, Some(mut entries)) => {
                entries.retain(|(id, _)| *id != own);
                entries.push((own, local));
                cap_entries(&mut entries);
                Some(encode_record(&entries))
            }
            _ => None,
        };
        Tally {
            estimate,
            write,
            local,
        }
    }

    /// The set of a [`Tally::write`] succeeded: `local` is in the store.
    pub fn wrote(&mut self, key: &str, local: u64) {
        if let Some(counter) = self.counters.get_mut(key) {
            counter.synced = counter.synced.max(local);
        }
    }

    /// Makes room for one more counter: expired windows go first, then the
    /// counter read longest ago.
    fn make_room(&mut self, now_secs: u64) {
        if self.counters.len() < MAX_COUNTERS {
            return;
        }
        self.counters.retain(|_, c| now_secs < c.window_end_secs);
        if self.counters.len() < MAX_COUNTERS {
            return;
        }
        let oldest = self
            .counters
            .iter()
            .min_by_key(|(_, c)| c.last_sync_ms)
            .map(|(k, _)| k.clone());
        if let Some(key) = oldest {
            self.counters.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests;
