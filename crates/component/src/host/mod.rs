//! The host: the only modules that touch Spin's host interfaces and the WIT
//! imports (key-value, SQLite, variables, the inner app, outbound HTTP,
//! clocks, random).
//! Everything above goes through these, so a port to another host, or a
//! test double, replaces this directory and nothing else.

pub mod clock;
pub mod deadline;
pub mod http_client;
pub mod kv;
pub mod next;
pub mod random;
pub mod settings;
pub mod sql;
#[cfg(any(
    feature = "rate-limit",
    feature = "signature",
    feature = "api-key",
    feature = "idempotency",
    feature = "lockout"
))]
pub mod sweep;
