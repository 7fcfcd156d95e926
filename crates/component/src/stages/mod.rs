//! The layers, one file each: thin adapters from the core's decisions to
//! host calls. Each reads the request's [`crate::ctx::Ctx`], answers through
//! [`crate::respond`] and reaches the host through [`crate::host`]; none
//! imports the pipeline, and they import each other only where one layer
//! dispatches to another (`auth` to `session` and `signature`).
//!
//! A layer behind a cargo feature is not compiled without it; the pipeline
//! then skips it, and answers 500 for a route that needs it.

pub mod app_response;
pub mod auth;
#[cfg(feature = "cors")]
pub mod cors;
#[cfg(feature = "rate-limit")]
pub mod rate_limit;
pub mod ready;
pub mod route;
#[cfg(feature = "security-headers")]
pub mod security_headers;
#[cfg(feature = "session")]
pub mod session;
#[cfg(feature = "signature")]
pub mod signature;
