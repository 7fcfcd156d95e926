//! API-key authentication (`auth = "api_key"`): keys stored only as hashes,
//! read where Better Auth's API Key plugin and warden's own table keep them.
//!
//! ```
//! use warden_core::layers::api_key::config::ApiKeyConfig;
//! use warden_core::layers::api_key::extract::extract;
//! use warden_core::layers::api_key::record::{KeyRecord, Source};
//! use warden_core::layers::api_key::refusal::Refusal;
//! use warden_core::layers::api_key::decide;
//!
//! let config = ApiKeyConfig::default();
//! let key = format!("wk_{}", "ab".repeat(32));
//! // 1. The one credential, from `x-api-key` or `Authorization: Bearer`.
//! let headers = vec![("x-api-key".to_string(), key.as_bytes().to_vec())];
//! let presented = extract(&config, &headers).unwrap().unwrap();
//! // 2. The adapter runs `lookup_plan(&config, &presented)` (SQL with `?1` =
//! //    the hash, or a key-value key) and reads the row into a record.
//! let record = KeyRecord::new(Source::Warden, "k1", &presented.sha256_hex(), "user-1");
//! // 3. The decision: the stored hash compared in constant time, then
//! //    disabled, revoked, expired, exhausted.
//! let now: u64 = 1_795_963_429_629;
//! let granted = decide(&config, &presented, &record, now).unwrap();
//! assert_eq!(granted.identity.user_id, "user-1");
//! let mut revoked = record.clone();
//! revoked.revoked_at = Some(now as i64 - 1);
//! assert_eq!(decide(&config, &presented, &revoked, now), Err(Refusal::Revoked));
//! ```
//!
//! The pieces, each pure: [`extract`]ion of the key from the request, its
//! [`hash`]es, the [`sql`] statements and key-value keys of a lookup, the
//! stored [`record`] from either table or from Better Auth's
//! `secondaryStorage` JSON, the key-value [`cache`] of lookups, the
//! failed-attempt [`throttle`], and the `[api_keys]` section ([`config`]).
//!
//! - **Owns:** `[api_keys]`, and the `api_key` auth mode with a route's
//!   `roles` ([`ApiKeys`]).
//! - **Ports:** SQLite (`apikey` and `api_keys`), key-value (the cache,
//!   Better Auth's `secondaryStorage`, the failure counter); the adapter
//!   makes the calls, this folder says which.
//! - **Answers:** `401` (no key, an unknown, disabled, revoked, expired or
//!   exhausted key, or two keys that disagree), `403` (a missing role), `429`
//!   (too many failed keys from one address), `503` when a store fails.
//!
//! Logs name a key by [`extract::Presented::display_prefix`] or
//! [`extract::Presented::fingerprint`], never the key or its hash.

pub mod cache;
pub mod config;
pub mod extract;
pub mod hash;
pub mod record;
pub mod refusal;
pub mod sql;
pub mod throttle;

#[cfg(test)]
mod tests;

pub use config::{API_KEY, ApiKeyConfig, ApiKeys};
pub use record::{Granted, decide};
