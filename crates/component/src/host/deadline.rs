//! A deadline on a host call, and the circuit breaker in front of each store.
//!
//! The host gives no deadline of its own: under Spin, a key-value store on a
//! Redis that stops answering holds every call until Redis comes back
//! (docs/stores.md). So every store call warden makes goes through
//! [`guarded`]: the store's breaker first (an open breaker answers at once),
//! then the call raced against a timer.
//!
//! Only *async* host calls can be abandoned. When the timer wins, the call's
//! future is dropped: wit-bindgen cancels the subtask (`subtask.cancel`),
//! the host drops its own future and answers "cancelled", so nothing of the
//! call can reach a later request, and the instance goes on serving. A sync
//! call (every `wasi:keyvalue` function) cannot be abandoned and blocks the
//! whole instance while it waits; `host::kv` makes those only after an async
//! probe of the same store has just answered in time.

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;
use warden_core::base::breaker::{Breaker, Permit};
use warden_core::base::log;
use warden_core::policy::stores::StoreCalls;

/// Why a store call gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store answered with an error.
    Failed(String),
    /// The store did not answer within its deadline; the call was abandoned
    /// (a write may or may not have been applied).
    Deadline,
    /// The store's breaker is open: no call was made.
    BreakerOpen,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Failed(e) => write!(f, "{e}"),
            StoreError::Deadline => f.write_str("deadline"),
            StoreError::BreakerOpen => f.write_str("breaker_open"),
        }
    }
}

/// The stores warden calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    KeyValue,
    Sqlite,
}

impl Store {
    fn as_str(self) -> &'static str {
        match self {
            Store::KeyValue => "key_value",
            Store::Sqlite => "sqlite",
        }
    }
}

thread_local! {
    /// One breaker per store, per instance (an instance is one thread).
    static BREAKERS: RefCell<[Breaker; 2]> = RefCell::new([Breaker::default(); 2]);
}

/// Monotonic milliseconds, for the breakers.
fn now_ms() -> u64 {
    spin_sdk::wasip3::clocks::monotonic_clock::now() / 1_000_000
}

/// `Some(output)` when `call` finishes within `ms`, `None` when the timer
/// wins (and `call` is dropped, which cancels an async host call).
pub async fn with_deadline<F: Future>(ms: u64, call: F) -> Option<F::Output> {
    let mut call = pin!(call);
    let mut timer = pin!(spin_sdk::time::sleep(Duration::from_millis(ms)));
    std::future::poll_fn(|cx| {
        // The call first: an answer that is already there wins.
        if let Poll::Ready(output) = call.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// Whether `store`'s breaker lets a call through now.
pub fn permitted(store: Store, calls: &StoreCalls) -> bool {
    let Some(settings) = calls.breaker else {
        return true;
    };
    BREAKERS.with(|b| b.borrow()[store as usize].permit(&settings, now_ms()) == Permit::Call)
}

/// Feeds the outcome of a call to `store`'s breaker, logging a change of
/// state as a security event.
pub fn record(store: Store, calls: &StoreCalls, ok: bool) {
    let Some(settings) = calls.breaker else {
        return;
    };
    let change = BREAKERS.with(|b| b.borrow_mut()[store as usize].record(&settings, ok, now_ms()));
    if let Some(change) = change {
        eprintln!(
            "{}",
            log::event(
                "store_breaker",
                &[
                    ("store", store.as_str().into()),
                    ("state", change.as_str().into()),
                    ("open_ms", settings.open_ms.into()),
                ],
            )
        );
    }
}

/// One async call to `store`: refused at once when its breaker is open,
/// abandoned past its deadline, and its outcome fed to the breaker.
pub async fn guarded<T, E: std::fmt::Debug>(
    store: Store,
    calls: &StoreCalls,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, StoreError> {
    if !permitted(store, calls) {
        return Err(StoreError::BreakerOpen);
    }
    let outcome = within_deadline(calls, call).await;
    record(store, calls, outcome.is_ok());
    outcome
}

/// One async call abandoned past the store's deadline, without its
/// breaker: for writes no request's answer depends on.
pub async fn within_deadline<T, E: std::fmt::Debug>(
    calls: &StoreCalls,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, StoreError> {
    match with_deadline(calls.deadline_ms, call).await {
        Some(Ok(value)) => Ok(value),
        Some(Err(e)) => Err(StoreError::Failed(format!("{e:?}"))),
        None => Err(StoreError::Deadline),
    }
}
