//! Failed-login lockout and credential stuffing (seed 002): on a login
//! route, the app's failed answers are counted per client address and per
//! account; past `max_failures` in a `window`, the address or account is
//! locked for `duration`, and its requests are refused without calling the
//! app.
//!
//! ```
//! use warden_core::layers::lockout::{Accounts, accounts, for_route};
//! use warden_core::policy::parse_policy;
//!
//! let policy = parse_policy(r#"
//!     [[routes]]
//!     name = "login"
//!     path = "/auth/login"
//!     lockout = { account = "form:username", max_failures = 3 }
//! "#).unwrap();
//! let login = for_route(&policy.sections.lockout, &policy.routes[0].keys.lockout).unwrap();
//! let source = login.account.as_ref().unwrap();
//! let Accounts::Named(ids) = accounts(source, &[], b"username=Bob&password=hunter2") else { panic!() };
//! assert_eq!(ids.len(), 1);
//! assert!(login.is_failure(401) && !login.is_failure(200));
//! assert!(!login.locks(2) && login.locks(3));
//! ```
//!
//! The flow, in the component: before the app, read the body (bounded:
//! [`BODY_LIMIT`], [`BODY_TIMEOUT_SECS`]) when the account is in it, find
//! the accounts ([`accounts`]), and refuse if the address or any account
//! holds a lock ([`lock_remaining`]); after the app, a status in
//! `failure_statuses` increments each subject's counter and locks those
//! that reach `max_failures`; a 2xx naming one account deletes its counter.
//! docs/hardening.md has the whole behaviour and its bounds.
//!
//! - **Owns:** `[lockout]` and a route's `lockout` ([`Lockout`]).
//! - **Ports:** key-value `get`, `set`, `increment`, `delete`; the sweep
//!   of `base::failed_attempts`.
//! - **Answers:** 429 (or 423) `LOGIN_LOCKED` with `Retry-After`
//!   ([`locked_denial`]); 400 `AMBIGUOUS_LOGIN`, 400 `UNREADABLE_LOGIN`, 413 `PAYLOAD_TOO_LARGE`,
//!   408 `REQUEST_TIMEOUT` while reading the account.

pub mod account;
pub mod config;
pub mod decision;

#[cfg(test)]
mod tests;

pub use account::{AccountId, Accounts, MAX_ACCOUNTS, accounts, normalize};
pub use config::{AccountSource, Lockout, LockoutConfig, LockoutOverlay, for_route};
pub use decision::{
    AMBIGUOUS_BODY, BODY_LIMIT, BODY_TIMEOUT_SECS, LoginRefusal, Subject, TIMED_OUT_BODY,
    TOO_LARGE_BODY, UNREADABLE_BODY, is_success, lock_remaining, lock_value, locked_body,
    locked_denial,
};
