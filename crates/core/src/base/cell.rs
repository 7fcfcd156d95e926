//! One SQLite value as the host returns it: what the layers that read
//! Better Auth's tables (sessions, API keys, JWT keys) parse rows from,
//! without depending on the host's types.

/// One SQLite value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}
