//! The key-value store through a sync `wasi:keyvalue` (the wasmcloud and
//! minimal flavours).
//!
//! Every call is sync: unlike Spin's async interface it cannot be abandoned,
//! so `[stores.key_value] deadline_ms` does not bound it and a store that
//! hangs holds the instance (docs/portability.md). The breaker still hears
//! of every outcome and, once open, refuses calls without making them.
//!
//! Which bucket: `wasmtime serve -S keyvalue` opens only `""`, the
//! interface's unnamed default, so the wasmcloud flavour opens that; the
//! minimal flavour runs on Spin's platforms, where the store is `default`.

pub use crate::host::deadline::StoreError;
use crate::host::deadline::{Store, permitted, record};
use warden_core::policy::stores::StoreCalls;

#[cfg(feature = "flavour-wasmcloud")]
mod wit {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "spin_sdk::wit_bindgen::rt",
        inline: "package warden:kv; world kv {
            import wasi:keyvalue/store@0.2.0-draft;
            import wasi:keyvalue/atomics@0.2.0-draft;
        }",
        path: "../../wit",
        generate_all,
    });
    pub use self::wasi::keyvalue0_2_0_draft::{atomics, store};
    /// What `list-keys` pages by in this version.
    pub type Cursor = u64;

    pub fn list_keys(
        bucket: &store::Bucket,
        cursor: &Option<Cursor>,
    ) -> Result<store::KeyResponse, store::Error> {
        bucket.list_keys(*cursor)
    }
}

#[cfg(feature = "flavour-minimal")]
mod wit {
    pub use spin_sdk::experimental::wasi::keyvalue::store;
    /// What `list-keys` pages by in this version.
    pub type Cursor = String;

    pub fn list_keys(
        bucket: &store::Bucket,
        cursor: &Option<Cursor>,
    ) -> Result<store::KeyResponse, store::Error> {
        bucket.list_keys(cursor.as_deref())
    }
}

use wit::store::{Bucket, Error};

#[cfg(feature = "flavour-wasmcloud")]
const BUCKET: &str = "";
#[cfg(feature = "flavour-minimal")]
const BUCKET: &str = "default";

thread_local! {
    /// The bucket, opened once per instance.
    static OPENED: std::cell::OnceCell<std::rc::Rc<Bucket>> = const { std::cell::OnceCell::new() };
}

/// One sync call on the bucket, through the breaker.
fn call<T>(
    calls: &StoreCalls,
    f: impl FnOnce(&Bucket) -> Result<T, Error>,
) -> Result<T, StoreError> {
    if !permitted(Store::KeyValue, calls) {
        return Err(StoreError::BreakerOpen);
    }
    let outcome = opened().and_then(|bucket| f(&bucket));
    record(Store::KeyValue, calls, outcome.is_ok());
    outcome.map_err(|e| StoreError::Failed(format!("{e:?}")))
}

fn opened() -> Result<std::rc::Rc<Bucket>, Error> {
    if let Some(bucket) = OPENED.with(|o| o.get().cloned()) {
        return Ok(bucket);
    }
    let bucket = wit::store::open(BUCKET)?;
    Ok(OPENED.with(|o| o.get_or_init(|| std::rc::Rc::new(bucket)).clone()))
}

/// The value of `key`, if any.
pub async fn get(calls: &StoreCalls, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    call(calls, |b| b.get(key))
}

/// Stores `value` under `key`.
pub async fn set(calls: &StoreCalls, key: &str, value: &[u8]) -> Result<(), StoreError> {
    call(calls, |b| b.set(key, value))
}

/// Deletes `key`.
pub async fn delete(calls: &StoreCalls, key: &str) -> Result<(), StoreError> {
    call(calls, |b| b.delete(key))
}

/// Deletes every key `expired` picks (the sweeps), page by page; stops at
/// the first failure and returns how many keys went.
pub async fn delete_where(
    calls: &StoreCalls,
    expired: impl Fn(&str) -> bool,
) -> Result<u64, StoreError> {
    let mut cursor: Option<wit::Cursor> = None;
    let mut deleted = 0;
    loop {
        let page = call(calls, |b| wit::list_keys(b, &cursor))?;
        for key in page.keys.iter().filter(|k| expired(k)) {
            call(calls, |b| b.delete(key))?;
            deleted += 1;
        }
        match page.cursor {
            Some(next) if !page.keys.is_empty() => cursor = Some(next),
            _ => return Ok(deleted),
        }
    }
}

/// Whether the store answers: the readiness probe.
pub async fn answering(calls: &StoreCalls, key: &str) -> Result<(), StoreError> {
    call(calls, |b| b.exists(key)).map(drop)
}

/// Adds `delta` to the counter at `key` (created at 0) and returns the new
/// value: one atomic `increment`, whose delta is a `u64` in this version.
#[cfg(feature = "flavour-wasmcloud")]
pub async fn increment(calls: &StoreCalls, key: &str, delta: i64) -> Result<i64, StoreError> {
    let delta =
        u64::try_from(delta).map_err(|_| StoreError::Failed("a negative increment".to_owned()))?;
    let value = call(calls, |b| wit::atomics::increment(b, key, delta))?;
    // A counter past i64::MAX is as over any limit as i64::MAX is.
    Ok(i64::try_from(value).unwrap_or(i64::MAX))
}

/// The minimal flavour has no atomic increment: the policy refuses every
/// layer that needs one, and rate limits count approximately instead.
#[cfg(feature = "flavour-minimal")]
pub async fn increment(_: &StoreCalls, _: &str, _: i64) -> Result<i64, StoreError> {
    Err(unsupported("increment"))
}

/// A compare-and-swap begun on a key. Neither sync flavour has one (the
/// policy refuses idempotency keys and the SQLite session cache's index
/// there), so it cannot be made.
pub enum PendingSwap {}

/// Answers that this flavour has no compare-and-swap.
pub async fn compare_and_swap(
    _: &StoreCalls,
    _: &str,
) -> Result<(Option<Vec<u8>>, PendingSwap), StoreError> {
    Err(unsupported("compare-and-swap"))
}

/// Never called: no [`PendingSwap`] exists.
pub async fn swap(_: &StoreCalls, pending: PendingSwap, _: &[u8]) -> Result<bool, StoreError> {
    match pending {}
}

fn unsupported(what: &str) -> StoreError {
    StoreError::Failed(format!("this warden flavour has no key-value {what}"))
}
