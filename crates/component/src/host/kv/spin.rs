//! Spin's key-value store `default`: the one place warden calls it.
//!
//! Two interfaces reach the same store. `spin:key-value@3.0.0` is async,
//! so its calls (get, set, delete, exists, list) take a deadline
//! ([`crate::host::deadline`]). Its atomic increment and compare-and-swap
//! exist only in `wasi:keyvalue` (Spin 4.1), whose calls are sync: they
//! cannot be abandoned, and one that hangs blocks the whole instance. So
//! [`increment`] and [`compare_and_swap`] first ask the store, through the
//! async interface and within the deadline, whether the key exists, and make
//! the sync call only when it answered. That leaves a window of one round
//! trip in which a store that dies blocks the instance (docs/stores.md says
//! what that means); every other path is bounded by the deadline.
//!
//! Every call goes through the store's breaker: while it is open, calls
//! fail at once with [`StoreError::BreakerOpen`] and the layer applies its
//! fail mode.

pub use crate::host::deadline::StoreError;
use crate::host::deadline::{Store, guarded};
#[cfg(any(
    feature = "rate-limit",
    feature = "session",
    feature = "signature",
    feature = "api-key",
    feature = "idempotency",
    feature = "lockout"
))]
use spin_sdk::experimental::wasi::keyvalue::atomics;
use warden_core::policy::stores::StoreCalls;

/// The store every layer keeps warden's state in.
const STORE: &str = "default";

thread_local! {
    /// The store, opened once per instance (an open is a host call, and
    /// under Spin the first that reaches Redis).
    static OPENED: std::cell::OnceCell<std::rc::Rc<spin_sdk::key_value::Store>> =
        const { std::cell::OnceCell::new() };
    #[cfg(any(feature = "rate-limit", feature = "session", feature = "signature", feature = "api-key", feature = "idempotency", feature = "lockout"))]
    static OPENED_SYNC: std::cell::OnceCell<std::rc::Rc<spin_sdk::experimental::wasi::keyvalue::store::Bucket>> =
        const { std::cell::OnceCell::new() };
}

/// The async store, opened within the deadline on first use.
async fn open(calls: &StoreCalls) -> Result<std::rc::Rc<spin_sdk::key_value::Store>, StoreError> {
    if let Some(store) = OPENED.with(|o| o.get().cloned()) {
        return Ok(store);
    }
    let store = guarded(
        Store::KeyValue,
        calls,
        spin_sdk::key_value::Store::open(STORE),
    )
    .await?;
    Ok(OPENED.with(|o| o.get_or_init(|| std::rc::Rc::new(store)).clone()))
}

/// The same store through `wasi:keyvalue`, opened on first use (a sync
/// call: only after [`answering`]).
#[cfg(any(
    feature = "rate-limit",
    feature = "session",
    feature = "signature",
    feature = "api-key",
    feature = "idempotency",
    feature = "lockout"
))]
fn open_sync() -> Result<
    std::rc::Rc<spin_sdk::experimental::wasi::keyvalue::store::Bucket>,
    spin_sdk::experimental::wasi::keyvalue::store::Error,
> {
    if let Some(bucket) = OPENED_SYNC.with(|o| o.get().cloned()) {
        return Ok(bucket);
    }
    let bucket = spin_sdk::experimental::wasi::keyvalue::store::open(STORE)?;
    Ok(OPENED_SYNC.with(|o| o.get_or_init(|| std::rc::Rc::new(bucket)).clone()))
}

/// The value of `key`, if any.
#[cfg(any(
    feature = "rate-limit",
    feature = "session",
    feature = "api-key",
    feature = "jwt",
    feature = "idempotency",
    feature = "lockout"
))]
pub async fn get(calls: &StoreCalls, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let store = open(calls).await?;
    guarded(Store::KeyValue, calls, store.get(key)).await
}

/// Stores `value` under `key`.
#[cfg(any(
    feature = "session",
    feature = "api-key",
    feature = "jwt",
    feature = "lockout"
))]
pub async fn set(calls: &StoreCalls, key: &str, value: &[u8]) -> Result<(), StoreError> {
    let store = open(calls).await?;
    guarded(Store::KeyValue, calls, store.set(key, value)).await
}

/// Deletes `key`.
#[cfg(any(feature = "session", feature = "lockout"))]
pub async fn delete(calls: &StoreCalls, key: &str) -> Result<(), StoreError> {
    let store = open(calls).await?;
    guarded(Store::KeyValue, calls, store.delete(key)).await
}

/// Deletes every key `expired` picks (the sweeps), reading the key list one
/// key at a time, each read and each delete within the deadline. Stops at
/// the first failure; returns how many keys went.
#[cfg(any(
    feature = "rate-limit",
    feature = "signature",
    feature = "api-key",
    feature = "idempotency",
    feature = "lockout"
))]
pub async fn delete_where(
    calls: &StoreCalls,
    expired: impl Fn(&str) -> bool,
) -> Result<u64, StoreError> {
    let mut cursor: Option<String> = None;
    let mut deleted = 0;
    loop {
        answering(calls, "warden:sweep").await?;
        let page = sync_outcome(
            calls,
            open_sync().and_then(|b| b.list_keys(cursor.as_deref())),
        )?;
        for key in page.keys.iter().filter(|k| expired(k)) {
            answering(calls, key).await?;
            sync_outcome(calls, open_sync().and_then(|b| b.delete(key)))?;
            deleted += 1;
        }
        match page.cursor {
            Some(next) if !page.keys.is_empty() => cursor = Some(next),
            _ => return Ok(deleted),
        }
    }
}

/// Whether the store answers about `key` within the deadline: the check
/// before a sync call that could not be abandoned, and the readiness probe.
pub async fn answering(calls: &StoreCalls, key: &str) -> Result<(), StoreError> {
    let store = open(calls).await?;
    guarded(Store::KeyValue, calls, store.exists(key))
        .await
        .map(|_| ())
}

/// Adds `delta` to the counter at `key` (created at 0) and returns the new
/// value: one atomic increment.
#[cfg(any(
    feature = "rate-limit",
    feature = "signature",
    feature = "api-key",
    feature = "idempotency",
    feature = "lockout"
))]
pub async fn increment(calls: &StoreCalls, key: &str, delta: i64) -> Result<i64, StoreError> {
    answering(calls, key).await?;
    let outcome = open_sync().and_then(|bucket| atomics::increment(&bucket, key, delta));
    sync_outcome(calls, outcome)
}

/// A compare-and-swap begun on `key`: its current value, and the handle
/// [`swap`] completes.
#[cfg(any(feature = "session", feature = "idempotency"))]
pub struct PendingSwap {
    cas: atomics::Cas,
    key: String,
}

/// Begins a compare-and-swap on `key`.
#[cfg(any(feature = "session", feature = "idempotency"))]
pub async fn compare_and_swap(
    calls: &StoreCalls,
    key: &str,
) -> Result<(Option<Vec<u8>>, PendingSwap), StoreError> {
    answering(calls, key).await?;
    let begun = open_sync()
        .and_then(|bucket| atomics::Cas::new(&bucket, key))
        .and_then(|cas| cas.current().map(|current| (current, cas)));
    let (current, cas) = sync_outcome(calls, begun)?;
    Ok((
        current,
        PendingSwap {
            cas,
            key: key.to_owned(),
        },
    ))
}

/// Completes a compare-and-swap: `Ok(false)` when another writer changed
/// the key first.
///
/// A swap the store reports as failed counts as done when the key now
/// holds exactly the value swapped in. Why: Spin 4.1.0-pre's Redis store
/// ends every swap with `UNWATCH key`, which Redis refuses (UNWATCH takes no
/// argument), and reports the refusal as a failed swap after the
/// transaction has written the value. Taken at its word, no swap ever
/// succeeds there. Reading the key back tells a lost race (another value
/// there: retry) from that false failure. Where another writer stored the
/// same bytes, the key already says what this swap wanted, so success is
/// the truth either way.
#[cfg(any(feature = "session", feature = "idempotency"))]
pub async fn swap(
    calls: &StoreCalls,
    pending: PendingSwap,
    value: &[u8],
) -> Result<bool, StoreError> {
    let PendingSwap { cas, key } = pending;
    match atomics::swap(cas, value) {
        Ok(()) => sync_outcome::<(), ()>(calls, Ok(())).map(|()| true),
        Err(atomics::CasError::CasFailed(_)) => {
            let now = get(calls, &key).await?;
            Ok(now.as_deref() == Some(value))
        }
        Err(atomics::CasError::StoreError(e)) => {
            sync_outcome::<(), _>(calls, Err(e)).map(|()| true)
        }
    }
}

/// A sync call's outcome, fed to the breaker.
#[cfg(any(
    feature = "rate-limit",
    feature = "session",
    feature = "signature",
    feature = "api-key",
    feature = "idempotency",
    feature = "lockout"
))]
fn sync_outcome<T, E: std::fmt::Debug>(
    calls: &StoreCalls,
    outcome: Result<T, E>,
) -> Result<T, StoreError> {
    crate::host::deadline::record(Store::KeyValue, calls, outcome.is_ok());
    outcome.map_err(|e| StoreError::Failed(format!("{e:?}")))
}
