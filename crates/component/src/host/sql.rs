//! Spin's SQLite database `default`: the session layer's lookups and the
//! readiness probe. Every statement runs within the database's deadline,
//! reading its rows included, and through its breaker
//! ([`crate::host::deadline`]); `spin:sqlite` is async, so a statement past
//! its deadline is abandoned.

pub use crate::host::deadline::StoreError;
use crate::host::deadline::{Store, guarded};
#[cfg(any(feature = "session", feature = "api-key", feature = "jwt"))]
pub use spin_sdk::sqlite::Value;
use warden_core::policy::stores::StoreCalls;

/// The rows of `statement` with `params`, all read.
pub async fn query(
    calls: &StoreCalls,
    statement: &str,
    params: Vec<spin_sdk::sqlite::Value>,
) -> Result<Vec<spin_sdk::sqlite::RowResult>, StoreError> {
    guarded(Store::Sqlite, calls, async {
        let db = spin_sdk::sqlite::Connection::open_default().await?;
        db.execute(statement, params).await?.collect().await
    })
    .await
}
