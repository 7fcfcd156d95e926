//! Rate limiting, the pure part: who the client is, which counters a request
//! touches, what a count means, and the headers and 429 body that say so.
//!
//! ```
//! use warden_core::layers::rate_limit::{window_of, Counted, Preset, QuotaState};
//!
//! let quota = Preset::Auth.quota();                 // 5 per 15 minutes
//! let now_ms = 1_700_000_123_000;
//! let window = window_of(&quota, now_ms);
//! assert_eq!(window.end_secs % 900, 0);
//! let state = QuotaState::from_count(&quota, &window, Counted::Exact(6), now_ms);
//! assert!(!state.admitted);
//! assert_eq!(state.remaining, 0);
//! ```
//!
//! The store work (one atomic increment per quota, on a key that names its
//! window) is the component's; this module never does I/O and never reads a
//! clock. Counting is exact: a fixed window admits a request when the
//! counter's value after the increment is at most the limit, so concurrent
//! instances admit exactly the limit between them (no read-then-write).
//! Hosts without an atomic increment (the minimal flavour) count with
//! [`approximate`] instead: in the instance, reconciled with the store
//! within a write budget, with a documented error bound.
//!
//! Owns the `[rate_limit]` section and a route's `rate_limit` key
//! (its types here, read by `parse`). Ports: key-value `increment` (one per
//! quota) and a key sweep, both the component's. Answers: 429 with
//! [`too_many_requests_body`] (or the route's `deny`), 503 when the store
//! fails and the limit fails closed.

pub mod approximate;
mod config;
mod decision;
pub(crate) mod parse;

pub use config::*;
pub use decision::*;
pub use parse::RateLimiting;
