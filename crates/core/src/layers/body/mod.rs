//! Request hardening: a byte limit on every body, JSON shape limits, the
//! media types a route takes.
//!
//! ```
//! use warden_core::base::denial::Denial;
//! use warden_core::base::overlay::Section;
//! use warden_core::layers::body::{BodyGuard, check_content_type, check_declared_length};
//! use warden_core::policy::parse_policy;
//!
//! let policy = parse_policy(r#"
//!     [[routes]]
//!     name = "api"
//!     path = "/api/*"
//!     body = { limit = "1MiB", json = "strict", content_types = ["application/json"] }
//! "#).unwrap();
//! let body = policy.sections.body.for_route(policy.routes[0].keys.body.as_ref());
//!
//! // Before the app is called: the declared length and the content type.
//! assert!(check_declared_length(&body, Some(2 << 20)).is_err());
//! check_declared_length(&body, Some(30)).unwrap();
//! check_content_type(&body, &["application/json; charset=utf-8"], true).unwrap();
//!
//! // As the body streams to the app: counted and scanned, chunk by chunk.
//! let mut guard = BodyGuard::new(&body);
//! guard.feed(br#"{"a":[[[[[[[[["#).unwrap(); // depth 10
//! let refusal = guard.feed(b"[").unwrap_err();
//! let denial = Denial::from(refusal);
//! assert_eq!(denial.status, 400);
//! assert_eq!(denial.body, r#"{"error":{"code":"JSON_LIMIT_EXCEEDED","message":"JSON nesting deeper than 10"}}"#);
//! ```
//!
//! Every route has a byte limit (seed 004's 10 MiB unless `[body]` or the
//! route's `body` says otherwise), counted as the body passes to the app,
//! never buffered for it. JSON limits and `content_types` are off unless
//! set. What happens when a body crosses a limit after the app has part of
//! it is in docs/hardening.md.
//!
//! - **Owns:** `[body]` and a route's `body` ([`Body`]).
//! - **Ports:** none.
//! - **Answers:** 413 `PAYLOAD_TOO_LARGE`, 415 `UNSUPPORTED_MEDIA_TYPE`,
//!   400 `INVALID_JSON` or `JSON_LIMIT_EXCEEDED` ([`BodyRefusal`]); the
//!   `Allow` value of a 405 ([`allow_value`]), for the policy's use.

pub mod config;
pub mod decision;
pub mod json_scan;

pub use config::{Body, BodyConfig, BodyOverlay, DEFAULT_LIMIT, MAX_LIMIT, parse_size};
pub use decision::{
    BodyGuard, BodyRefusal, allow_value, check_content_type, check_declared_length, media_type,
    method_not_allowed,
};
