//! The layers, one folder each. A layer owns its policy sections (parsed and
//! validated in its own folder), makes its decisions as plain functions of
//! the request, its state and the time, and keeps its tests beside them.
//!
//! This file is the registry: the one place in the core where a layer is
//! listed. The component's `stages/` mirror it, one adapter per layer.
//!
//! | layer | sections it owns | ports it asks through the component |
//! |---|---|---|
//! | [`security_headers`] | `[headers]`, a route's `headers` | random bytes (CSP nonce) |
//! | [`cors`] | `[cors]`, a route's `cors` | none |
//! | [`rate_limit`] | `[rate_limit]`, a route's `rate_limit` | key-value increment, sweep |
//! | [`session`] | `[session]`, `auth = "optional"/"required"`, `roles` | key-value, SQLite |
//! | [`signature`] | `[worker]`, `auth = "worker"`, a route's `worker` | key-value (replay cache) |

pub mod cors;
pub mod rate_limit;
pub mod security_headers;
pub mod session;
pub mod signature;
