//! Warden's pure policy core.
//!
//! Everything here is a plain function of its inputs: no I/O, no clock and no
//! randomness (callers pass `now` and random bytes in). That keeps the core small
//! enough for `wasm32-wasip2`, deterministic in tests and safe to fuzz.
//!
//! ```
//! use warden_core::config::{RawSettings, WardenConfig};
//! use warden_core::http::path::normalize_path;
//!
//! let raw = RawSettings {
//!     policy: Some(r#"
//!         [[routes]]
//!         name = "admin"
//!         path = "/admin/*"
//!         auth = "required"
//!         roles = ["admin"]
//!     "#.into()),
//!     ..RawSettings::default()
//! };
//! let config = WardenConfig::build(raw)?;
//! // Every spelling of the path an app might route the same way matches the same route.
//! let path = normalize_path("/Admin//%75sers?page=2")?;
//! let (index, route) = config.policy.match_route("GET", &path).ok_or("no route")?;
//! assert_eq!((index, route.name.as_str()), (0, "admin"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod base;
pub mod config;
pub mod http;
pub mod layers;
pub mod policy;

#[cfg(test)]
mod reference_tests;
