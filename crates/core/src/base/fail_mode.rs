//! What a layer does when a store it needs fails: serve or refuse.

/// What a limit does when the store fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Serve the request and log a security event (seed 004).
    #[default]
    Open,
    /// Answer 503.
    Closed,
}
