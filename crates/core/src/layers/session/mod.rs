//! Session authentication: Better Auth sessions, read where Better Auth
//! writes them.
//!
//! ```
//! use warden_core::config::Secret;
//! use warden_core::layers::session::{OPTIONAL, REQUIRED};
//! use warden_core::base::denial::Rejection;
//! use warden_core::layers::session::config::SessionConfig;
//! use warden_core::layers::session::flow::{decide, Decision, Failure, Outcome};
//! use warden_core::layers::session::token::{extract, Extracted};
//!
//! let config = SessionConfig::default();
//! let secret = Secret::new("better-auth-secret".into());
//! // 1. Find the one credential (cookie, or bearer when enabled) and check
//! //    its signature before any lookup.
//! let cookie: &[u8] = b"codex-session=unsigned-token";
//! let Extracted::Refused { reason, .. } = extract(&config, Some(&secret), &[cookie], &[]) else {
//!     unreachable!()
//! };
//! // 2. Look the token up (`flow::authenticate`, over the host's stores),
//! // 3. and apply the route's mode and roles.
//! let outcome = Outcome::Failed(Failure::Refused(reason));
//! assert_eq!(decide(OPTIONAL, &[], outcome.clone()), Decision::Proceed(None));
//! assert_eq!(decide(REQUIRED, &[], outcome), Decision::Refuse(Rejection::Unauthorized));
//! ```
//!
//! The pieces, each pure: [`cookie`] parsing, [`token`] extraction and
//! signatures, the stored [`record`] and its dates ([`time`]), the one
//! [`sql`] statement, the app's [`identity`] headers, [`revoke`] requests
//! and the per-user index, the `[session]` policy section ([`config`]), and
//! the lookup itself over a storage port ([`flow`]).
//!
//! - **Owns:** `[session]`, and the `optional` and `required` auth modes with
//!   a route's `roles` ([`Sessions`]).
//! - **Ports:** key-value (the session cache, Better Auth's
//!   `secondaryStorage`, revocation) and SQLite (Better Auth's tables), both
//!   through [`flow::SessionPort`].
//! - **Answers:** `401` and `403` ([`crate::base::denial::Rejection`]), `503`
//!   when a store fails; the revocation endpoint's `{"revoked":n}`.

pub mod config;
pub mod cookie;
pub mod flow;
pub mod identity;
pub mod record;
pub mod revoke;
pub mod sql;
pub mod token;

/// Better Auth's dates, shared with the API-key layer (kept here as a path
/// for existing callers).
pub use crate::base::time;

#[cfg(test)]
mod tests;

pub use config::{OPTIONAL, REQUIRED, SessionConfig, SessionSource, Sessions};
pub use identity::SessionUser;
