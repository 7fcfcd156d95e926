//! The host's wall clock (the core never reads one). Timers are
//! `host::deadline`'s.

/// Unix milliseconds from the host's wall clock.
pub fn now_ms() -> u64 {
    let now = spin_sdk::wasip3::clocks::system_clock::now();
    (now.seconds.max(0) as u64) * 1000 + u64::from(now.nanoseconds / 1_000_000)
}
