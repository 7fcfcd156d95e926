//! The host's clocks: wall-clock time (the core never reads one) and timers.

/// Unix milliseconds from the host's wall clock.
pub fn now_ms() -> u64 {
    let now = spin_sdk::wasip3::clocks::system_clock::now();
    (now.seconds.max(0) as u64) * 1000 + u64::from(now.nanoseconds / 1_000_000)
}

#[cfg(any(feature = "signature", feature = "lockout"))]
/// Resolves after `duration` (a host timer; dropping the future cancels it).
pub async fn sleep(duration: std::time::Duration) {
    spin_sdk::time::sleep(duration).await
}
