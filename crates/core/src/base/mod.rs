//! The shared vocabulary every other module speaks. Nothing in `base`
//! imports anything else in the crate, so any module may use it.
//!
//! - [`problem`]: a configuration problem, named by field;
//! - [`fields`]: the typed TOML readers every section parser uses (one
//!   `tchar`, one duration parser, one problem collector);
//! - [`environment`]: where warden runs, and [`environment::Secret`];
//! - [`auth_mode`], [`layer`], [`fail_mode`]: what a route can say;
//! - [`host_profile`]: the host flavour warden was built for and what its
//!   stores can do (SQLite, atomic increment, compare-and-swap);
//! - [`breaker`]: the circuit breaker every store call goes through;
//! - [`failed_attempts`]: the failed-credential throttle every credential
//!   layer shares (counter keys, threshold, expiry);
//! - [`identity`]: who a request was authenticated as;
//! - [`denial`]: warden's refusals, a fixed status and public body each;
//! - [`overlay`]: how a route's table overrides a section, for every layer;
//! - [`digest`], [`text`], [`log`]: hashing and hex, byte-safe text, log lines;
//! - [`time`]: Better Auth's dates (sessions, API keys);
//! - [`cell`]: one SQLite value, as the layers that read tables parse rows;
//! - [`security_event`], [`event_sampling`]: which log lines are security
//!   events, their shape and table row, and the sampling of repeats.

pub mod auth_mode;
pub mod breaker;
pub mod cell;
pub mod denial;
pub mod digest;
pub mod environment;
pub mod event_sampling;
pub mod expiring_key;
pub mod fail_mode;
pub mod failed_attempts;
pub mod fields;
pub mod host_profile;
pub mod identity;
pub mod layer;
pub mod log;
pub mod overlay;
pub mod problem;
pub mod security_event;
pub mod text;
pub mod time;
