//! Sampling of repeated identical security events, so that a flood of
//! failures cannot flood the log: per key (event, route, client prefix),
//! the first `per_window` events of a window are written, the rest
//! counted, and one summary with the count is due when the window ends.
//!
//! ```
//! use warden_core::base::event_sampling::{EventKey, Sampler, SamplingSettings, Verdict};
//!
//! let mut sampler = Sampler::new(SamplingSettings { per_window: 2, window_ms: 60_000 }, 256);
//! let key = EventKey::new("rate_limited", "api", "192.0.2.0/24");
//! let mut written = 0;
//! for i in 0..100 {
//!     let (verdict, summaries) = sampler.observe(key.clone(), 1_000 + i);
//!     assert!(summaries.is_empty());
//!     written += usize::from(verdict == Verdict::Write);
//! }
//! assert_eq!(written, 2);
//! // The window ends: one summary of the 98 not written.
//! let due = sampler.due(61_000);
//! assert_eq!(due.len(), 1);
//! assert_eq!(due[0].suppressed, 98);
//! ```
//!
//! Pure: the caller passes the time. The table has a fixed number of keys;
//! a new key when it is full evicts the one seen longest ago, whose count
//! (if any) is due at once, so a flood of distinct addresses costs a
//! bounded amount of memory and loses no count.

/// Default of `[security_events] sample_per_window`.
pub const DEFAULT_PER_WINDOW: u32 = 10;
/// Default of `[security_events] window`, in seconds.
pub const DEFAULT_WINDOW_SECS: u64 = 60;
/// How many keys an instance tracks at once.
pub const TABLE_KEYS: usize = 256;

/// How many identical events a window writes, and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamplingSettings {
    /// Events of one key written per window (at least 1).
    pub per_window: u32,
    /// The window's length, from a key's first event.
    pub window_ms: u64,
}

impl Default for SamplingSettings {
    fn default() -> SamplingSettings {
        SamplingSettings {
            per_window: DEFAULT_PER_WINDOW,
            window_ms: DEFAULT_WINDOW_SECS * 1000,
        }
    }
}

/// What makes two events identical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventKey {
    pub kind: String,
    pub route: String,
    /// The client's address prefix, or `unknown`.
    pub client: String,
}

impl EventKey {
    pub fn new(kind: &str, route: &str, client: &str) -> EventKey {
        EventKey {
            kind: kind.to_owned(),
            route: route.to_owned(),
            client: client.to_owned(),
        }
    }
}

/// Write the event, or count it only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Write,
    Suppress,
}

/// Events of `key` that were counted and not written, in a window that
/// has ended (or whose key was evicted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub key: EventKey,
    pub suppressed: u64,
    /// When the key's window began, unix milliseconds.
    pub since_ms: u64,
}

#[derive(Debug, Clone)]
struct Slot {
    key: EventKey,
    started_ms: u64,
    written: u32,
    suppressed: u64,
    last_seen_ms: u64,
}

/// The per-instance sampling table.
#[derive(Debug, Clone)]
pub struct Sampler {
    settings: SamplingSettings,
    capacity: usize,
    slots: Vec<Slot>,
    /// The earliest end of a window with a count not yet written.
    pending_until: Option<u64>,
}

impl Sampler {
    /// A table of at most `capacity` keys (at least 1).
    pub fn new(settings: SamplingSettings, capacity: usize) -> Sampler {
        Sampler {
            settings: SamplingSettings {
                per_window: settings.per_window.max(1),
                window_ms: settings.window_ms.max(1),
            },
            capacity: capacity.max(1),
            slots: Vec::new(),
            pending_until: None,
        }
    }

    /// One event of `key` at `now_ms`: whether to write it, and the
    /// summaries that are due now (ended windows, an evicted key's count).
    pub fn observe(&mut self, key: EventKey, now_ms: u64) -> (Verdict, Vec<Summary>) {
        let mut summaries = self.due(now_ms);
        let per_window = self.settings.per_window;
        let verdict = match self.slots.iter_mut().find(|s| s.key == key) {
            Some(slot) => {
                slot.last_seen_ms = now_ms;
                if slot.written < per_window {
                    slot.written += 1;
                    Verdict::Write
                } else {
                    slot.suppressed = slot.suppressed.saturating_add(1);
                    Verdict::Suppress
                }
            }
            None => {
                if self.slots.len() >= self.capacity
                    && let Some(oldest) = self
                        .slots
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, s)| s.last_seen_ms)
                        .map(|(i, _)| i)
                {
                    let evicted = self.slots.swap_remove(oldest);
                    summaries.extend(summary_of(evicted));
                }
                self.slots.push(Slot {
                    key,
                    started_ms: now_ms,
                    written: 1,
                    suppressed: 0,
                    last_seen_ms: now_ms,
                });
                Verdict::Write
            }
        };
        self.recompute_pending();
        (verdict, summaries)
    }

    /// Ends every window that is over at `now_ms`: their keys leave the
    /// table, and those with a count give a summary.
    pub fn due(&mut self, now_ms: u64) -> Vec<Summary> {
        let window_ms = self.settings.window_ms;
        let mut summaries = Vec::new();
        let mut i = 0;
        while i < self.slots.len() {
            if self.slots[i].started_ms.saturating_add(window_ms) <= now_ms {
                summaries.extend(summary_of(self.slots.swap_remove(i)));
            } else {
                i += 1;
            }
        }
        self.recompute_pending();
        summaries
    }

    /// When the next summary is due (unix ms), if a count is waiting: the
    /// caller need not call [`Sampler::due`] (nor read a clock) before.
    pub fn pending_until(&self) -> Option<u64> {
        self.pending_until
    }

    /// How many keys the table holds now.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn recompute_pending(&mut self) {
        let window_ms = self.settings.window_ms;
        self.pending_until = self
            .slots
            .iter()
            .filter(|s| s.suppressed > 0)
            .map(|s| s.started_ms.saturating_add(window_ms))
            .min();
    }
}

fn summary_of(slot: Slot) -> Option<Summary> {
    (slot.suppressed > 0).then_some(Summary {
        key: slot.key,
        suppressed: slot.suppressed,
        since_ms: slot.started_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake clock: every call is one millisecond later.
    struct Clock(u64);
    impl Clock {
        fn tick(&mut self) -> u64 {
            self.0 += 1;
            self.0
        }
    }

    fn key(client: &str) -> EventKey {
        EventKey::new("api_key_auth_failed", "api", client)
    }

    fn settings(per_window: u32, window_ms: u64) -> SamplingSettings {
        SamplingSettings {
            per_window,
            window_ms,
        }
    }

    #[test]
    fn a_flood_writes_n_per_window_and_one_summary() {
        let mut clock = Clock(1_000_000);
        let mut sampler = Sampler::new(settings(5, 10_000), 8);
        let mut written = 0;
        for _ in 0..500 {
            let (verdict, summaries) = sampler.observe(key("198.51.100.0/24"), clock.tick());
            assert!(summaries.is_empty());
            written += usize::from(verdict == Verdict::Write);
        }
        assert_eq!(written, 5);
        assert_eq!(sampler.pending_until(), Some(1_000_001 + 10_000));
        // Not yet over: nothing due.
        assert!(sampler.due(1_000_001 + 9_999).is_empty());
        // The next event after the window: the summary, then a fresh window.
        let (verdict, summaries) = sampler.observe(key("198.51.100.0/24"), 1_000_001 + 10_000);
        assert_eq!(verdict, Verdict::Write);
        assert_eq!(
            summaries,
            vec![Summary {
                key: key("198.51.100.0/24"),
                suppressed: 495,
                since_ms: 1_000_001,
            }]
        );
        assert_eq!(sampler.pending_until(), None);
    }

    #[test]
    fn keys_are_counted_apart() {
        let mut sampler = Sampler::new(settings(1, 1_000), 8);
        for client in ["a", "b", "c"] {
            assert_eq!(sampler.observe(key(client), 0).0, Verdict::Write);
            assert_eq!(sampler.observe(key(client), 1).0, Verdict::Suppress);
        }
        let other_route = EventKey::new("api_key_auth_failed", "web", "a");
        assert_eq!(sampler.observe(other_route, 2).0, Verdict::Write);
        let other_kind = EventKey::new("rate_limited", "api", "a");
        assert_eq!(sampler.observe(other_kind, 2).0, Verdict::Write);
        let mut due = sampler.due(1_002);
        due.sort_by(|x, y| x.key.client.cmp(&y.key.client));
        let counts: Vec<(String, u64)> = due
            .into_iter()
            .map(|s| (s.key.client, s.suppressed))
            .collect();
        assert_eq!(
            counts,
            vec![("a".into(), 1), ("b".into(), 1), ("c".into(), 1)]
        );
        assert!(sampler.is_empty());
    }

    #[test]
    fn a_flood_of_distinct_addresses_stays_bounded_and_loses_no_count() {
        let mut clock = Clock(0);
        let mut sampler = Sampler::new(settings(1, 60_000), 16);
        let mut suppressed_seen = 0;
        for i in 0..10_000u32 {
            let client = format!("10.{}.{}.0/24", i / 256 % 256, i % 256);
            // Each address twice: one written, one counted.
            for _ in 0..2 {
                let (_, summaries) = sampler.observe(key(&client), clock.tick());
                suppressed_seen += summaries.iter().map(|s| s.suppressed).sum::<u64>();
            }
            assert!(sampler.len() <= 16);
        }
        suppressed_seen += sampler
            .due(u64::MAX)
            .iter()
            .map(|s| s.suppressed)
            .sum::<u64>();
        assert_eq!(suppressed_seen, 10_000);
    }

    #[test]
    fn eviction_takes_the_key_seen_longest_ago() {
        let mut sampler = Sampler::new(settings(1, 60_000), 2);
        sampler.observe(key("old"), 0);
        sampler.observe(key("old"), 1); // counted
        sampler.observe(key("new"), 2);
        sampler.observe(key("new"), 3);
        sampler.observe(key("old"), 4); // "old" is now the fresher one
        let (_, summaries) = sampler.observe(key("third"), 5);
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].key.client, "new");
        assert_eq!(summaries[0].suppressed, 1);
    }

    #[test]
    fn windows_without_a_count_end_silently() {
        let mut sampler = Sampler::new(settings(3, 100), 4);
        sampler.observe(key("a"), 0);
        assert_eq!(sampler.pending_until(), None);
        assert!(sampler.due(100).is_empty());
        assert!(sampler.is_empty());
    }

    #[test]
    fn degenerate_settings_are_clamped() {
        let mut sampler = Sampler::new(settings(0, 0), 0);
        assert_eq!(sampler.observe(key("a"), 5).0, Verdict::Write);
        assert_eq!(sampler.len(), 1);
        let (_, due) = sampler.observe(key("b"), u64::MAX);
        assert!(due.is_empty());
        assert_eq!(sampler.len(), 1);
    }
}
