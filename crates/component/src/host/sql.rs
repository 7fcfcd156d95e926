//! Spin's SQLite database `default`: the session layer's lookups and the
//! readiness probe (only the Spin flavour has one). Every statement runs within the database's deadline,
//! reading its rows included, and through its breaker
//! ([`crate::host::deadline`]); `spin:sqlite` is async, so a statement past
//! its deadline is abandoned.

pub use crate::host::deadline::StoreError;
use crate::host::deadline::{Store, guarded, within_deadline};
#[cfg(any(feature = "session", feature = "api-key", feature = "jwt"))]
pub use spin_sdk::sqlite::Value;
use warden_core::policy::stores::StoreCalls;

/// The first row of `statement` with `params`, as the core's cells (the
/// layers that read one record: a session, an API key).
#[cfg(any(feature = "session", feature = "api-key"))]
pub async fn first_row(
    calls: &StoreCalls,
    statement: &str,
    params: Vec<Value>,
) -> Result<Option<Vec<warden_core::base::cell::Cell>>, StoreError> {
    use warden_core::base::cell::Cell;
    let rows = query(calls, statement, params).await?;
    Ok(rows.into_iter().next().map(|row| {
        row.values
            .into_iter()
            .map(|v| match v {
                Value::Integer(n) => Cell::Integer(n),
                Value::Real(f) => Cell::Real(f),
                Value::Text(s) => Cell::Text(s),
                Value::Blob(b) => Cell::Blob(b),
                Value::Null => Cell::Null,
            })
            .collect()
    }))
}

/// The rows of `statement` with `params`, all read.
pub async fn query(
    calls: &StoreCalls,
    statement: &str,
    params: Vec<spin_sdk::sqlite::Value>,
) -> Result<Vec<spin_sdk::sqlite::RowResult>, StoreError> {
    guarded(Store::Sqlite, calls, execute(statement, params)).await
}

/// Runs one write of text (or NULL) parameters within the database's
/// deadline but *not* through its breaker: the security-event table's
/// batches are no request's decision, and a missing or failing
/// `security_events` table must not open the breaker that session and
/// API-key lookups depend on.
pub async fn append(
    calls: &StoreCalls,
    statement: &str,
    params: Vec<Option<String>>,
) -> Result<(), StoreError> {
    let params = params
        .into_iter()
        .map(|p| match p {
            Some(text) => spin_sdk::sqlite::Value::Text(text),
            None => spin_sdk::sqlite::Value::Null,
        })
        .collect();
    within_deadline(calls, execute(statement, params))
        .await
        .map(drop)
}

/// The one statement runner both share (one copy of its async code).
#[cfg(not(any(feature = "flavour-wasmcloud", feature = "flavour-minimal")))]
async fn execute(
    statement: &str,
    params: Vec<spin_sdk::sqlite::Value>,
) -> Result<Vec<spin_sdk::sqlite::RowResult>, spin_sdk::sqlite::Error> {
    let db = spin_sdk::sqlite::Connection::open_default().await?;
    db.execute(statement, params).await?.collect().await
}

/// The wasmcloud and minimal flavours import no SQLite: the policy refuses
/// every setting that needs it (`warden_core::base::host_profile`), so this
/// answer is never a request's. The `Value` type above is only data and
/// imports nothing.
#[cfg(any(feature = "flavour-wasmcloud", feature = "flavour-minimal"))]
async fn execute(
    _: &str,
    _: Vec<spin_sdk::sqlite::Value>,
) -> Result<Vec<spin_sdk::sqlite::RowResult>, &'static str> {
    Err("this warden flavour has no SQLite")
}
