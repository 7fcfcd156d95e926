//! Spin's SQLite database `default`: the session layer's lookups and the
//! readiness probe.

pub use spin_sdk::sqlite::Connection;
#[cfg(feature = "session")]
pub use spin_sdk::sqlite::Value;

/// Opens the default database.
pub async fn open_default() -> Result<Connection, String> {
    Connection::open_default()
        .await
        .map_err(|e| format!("{e:?}"))
}
