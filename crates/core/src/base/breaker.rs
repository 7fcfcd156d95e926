//! A circuit breaker for one store, in one instance: after `failures`
//! consecutive failures (errors or missed deadlines) the store is not called
//! for `open_ms`, and the caller applies its fail mode at once; then calls
//! are let through again ("half-open"), and `successes` consecutive
//! successes close the breaker, while any failure opens it again.
//!
//! ```
//! use warden_core::base::breaker::{Breaker, BreakerSettings, Change, Permit};
//!
//! let settings = BreakerSettings { failures: 2, successes: 2, open_ms: 60_000 };
//! let mut breaker = Breaker::default();
//! assert_eq!(breaker.permit(&settings, 0), Permit::Call);
//! assert_eq!(breaker.record(&settings, false, 0), None);
//! assert_eq!(breaker.record(&settings, false, 1), Some(Change::Opened));
//! // Open: no call for a minute, the fail mode applies at once.
//! assert_eq!(breaker.permit(&settings, 30_000), Permit::Skip);
//! // Then probes; two successes close it again.
//! assert_eq!(breaker.permit(&settings, 60_001), Permit::Call);
//! assert_eq!(breaker.record(&settings, true, 60_002), Some(Change::HalfOpened));
//! assert_eq!(breaker.record(&settings, true, 60_003), Some(Change::Closed));
//! ```
//!
//! Pure: the caller passes the time (monotonic milliseconds) and keeps one
//! `Breaker` per store. The state is per instance on purpose: it only ever
//! makes warden skip a store it would have called, and a skipped call gets
//! the same answer as a failed one (the layer's fail mode), so no instance
//! can admit more than the store would have let it.

/// Seed 004's defaults: open after 5 failures, close after 2 successes,
/// stay open 60 s.
pub const DEFAULT_SETTINGS: BreakerSettings = BreakerSettings {
    failures: 5,
    successes: 2,
    open_ms: 60_000,
};

/// When a breaker opens and closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open it (at least 1).
    pub failures: u32,
    /// Consecutive successes, once the open period is over, that close it.
    pub successes: u32,
    /// How long it stays open before calls are tried again.
    pub open_ms: u64,
}

impl Default for BreakerSettings {
    fn default() -> BreakerSettings {
        DEFAULT_SETTINGS
    }
}

/// Whether to call the store now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Call it (closed, or probing after the open period).
    Call,
    /// Do not: the breaker is open. Apply the fail mode.
    Skip,
}

/// A change of state, for the security log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Too many failures: calls stop for the open period.
    Opened,
    /// The open period is over and a probe succeeded.
    HalfOpened,
    /// Enough probes succeeded: back to normal.
    Closed,
}

impl Change {
    /// The state's name in log lines.
    pub fn as_str(&self) -> &'static str {
        match self {
            Change::Opened => "open",
            Change::HalfOpened => "half-open",
            Change::Closed => "closed",
        }
    }
}

/// One store's breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Breaker {
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Calls go through; `failures` in a row so far.
    Closed { failures: u32 },
    /// No calls until `until_ms`.
    Open { until_ms: u64 },
    /// Probing: `successes` in a row so far.
    HalfOpen { successes: u32 },
}

impl Default for State {
    fn default() -> State {
        State::Closed { failures: 0 }
    }
}

impl Breaker {
    /// Whether a call may be made at `now_ms`.
    pub fn permit(&self, _settings: &BreakerSettings, now_ms: u64) -> Permit {
        match self.state {
            State::Open { until_ms } if now_ms < until_ms => Permit::Skip,
            _ => Permit::Call,
        }
    }

    /// Whether the breaker is open at `now_ms` (for the readiness probe).
    pub fn is_open(&self, settings: &BreakerSettings, now_ms: u64) -> bool {
        self.permit(settings, now_ms) == Permit::Skip
    }

    /// Records the outcome of a call made at `now_ms`; returns the change
    /// of state it caused, if any.
    pub fn record(&mut self, settings: &BreakerSettings, ok: bool, now_ms: u64) -> Option<Change> {
        let failures_to_open = settings.failures.max(1);
        let (next, change) = match (self.state, ok) {
            (State::Closed { .. }, true) => (State::Closed { failures: 0 }, None),
            (State::Closed { failures }, false) => {
                let failures = failures.saturating_add(1);
                if failures >= failures_to_open {
                    (Self::open(settings, now_ms), Some(Change::Opened))
                } else {
                    (State::Closed { failures }, None)
                }
            }
            // A call that was let through after the open period: the first
            // outcome decides whether probing starts or the breaker reopens.
            (State::Open { .. } | State::HalfOpen { .. }, false) => {
                (Self::open(settings, now_ms), Some(Change::Opened))
            }
            (State::Open { .. }, true) => {
                Self::probe_succeeded(settings, 0, Some(Change::HalfOpened))
            }
            (State::HalfOpen { successes }, true) => {
                Self::probe_succeeded(settings, successes, None)
            }
        };
        self.state = next;
        change
    }

    fn open(settings: &BreakerSettings, now_ms: u64) -> State {
        State::Open {
            until_ms: now_ms.saturating_add(settings.open_ms),
        }
    }

    fn probe_succeeded(
        settings: &BreakerSettings,
        before: u32,
        change: Option<Change>,
    ) -> (State, Option<Change>) {
        let successes = before.saturating_add(1);
        if successes >= settings.successes.max(1) {
            (State::Closed { failures: 0 }, Some(Change::Closed))
        } else {
            (State::HalfOpen { successes }, change)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: BreakerSettings = DEFAULT_SETTINGS;

    #[test]
    fn opens_after_the_seeds_five_consecutive_failures_only() {
        let mut b = Breaker::default();
        for i in 0..4 {
            assert_eq!(b.record(&SEED, false, i), None);
        }
        // A success in between starts the count again.
        assert_eq!(b.record(&SEED, true, 4), None);
        for i in 5..9 {
            assert_eq!(b.record(&SEED, false, i), None);
        }
        assert_eq!(b.record(&SEED, false, 9), Some(Change::Opened));
        assert_eq!(b.permit(&SEED, 9), Permit::Skip);
        assert_eq!(b.permit(&SEED, 9 + 59_999), Permit::Skip);
        assert_eq!(b.permit(&SEED, 9 + 60_000), Permit::Call);
    }

    #[test]
    fn a_failed_probe_reopens_for_a_whole_period() {
        let mut b = Breaker::default();
        for i in 0..5 {
            b.record(&SEED, false, i);
        }
        assert_eq!(b.record(&SEED, true, 60_010), Some(Change::HalfOpened));
        assert_eq!(b.permit(&SEED, 60_011), Permit::Call);
        assert_eq!(b.record(&SEED, false, 60_012), Some(Change::Opened));
        assert!(b.is_open(&SEED, 120_011));
        assert!(!b.is_open(&SEED, 120_012));
        // The seed's two successes close it.
        assert_eq!(b.record(&SEED, true, 120_012), Some(Change::HalfOpened));
        assert_eq!(b.record(&SEED, true, 120_013), Some(Change::Closed));
        assert_eq!(b, Breaker::default());
    }

    #[test]
    fn one_success_closes_when_that_is_the_setting() {
        let settings = BreakerSettings {
            failures: 1,
            successes: 1,
            open_ms: 10,
        };
        let mut b = Breaker::default();
        assert_eq!(b.record(&settings, false, 0), Some(Change::Opened));
        assert_eq!(b.record(&settings, true, 11), Some(Change::Closed));
    }

    #[test]
    fn zero_thresholds_behave_as_one_and_time_never_overflows() {
        let settings = BreakerSettings {
            failures: 0,
            successes: 0,
            open_ms: u64::MAX,
        };
        let mut b = Breaker::default();
        assert_eq!(
            b.record(&settings, false, u64::MAX - 1),
            Some(Change::Opened)
        );
        assert_eq!(b.permit(&settings, u64::MAX - 1), Permit::Skip);
    }
}
