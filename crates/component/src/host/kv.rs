//! Spin's key-value store `default`, through `wasi:keyvalue` (the same store
//! as `spin:key-value`): its calls are synchronous, which keeps the async
//! `spin:key-value` bindings out of the component, and its `atomics`
//! (increment, compare-and-swap) are what the rate limit, the replay cache
//! and the session index need.
//!
//! This is the one place that opens the store.

#[cfg(any(feature = "rate-limit", feature = "session", feature = "signature"))]
pub use spin_sdk::experimental::wasi::keyvalue::atomics;
pub use spin_sdk::experimental::wasi::keyvalue::store::{Bucket, Error};

/// The store every layer keeps warden's state in.
const STORE: &str = "default";

/// Opens the default store (a host call; open it once per use and reuse the
/// bucket within it).
pub fn open_default() -> Result<Bucket, Error> {
    spin_sdk::experimental::wasi::keyvalue::store::open(STORE)
}
