//! Idempotency keys (draft-ietf-httpapi-idempotency-key-header): a POST or
//! PATCH sent again with the same `Idempotency-Key` is answered with the
//! first one's response instead of running again, across every instance.
//!
//! ```
//! use warden_core::layers::idempotency::decision::{admit, decide_slot, new_claim, Admission, SlotDecision};
//! use warden_core::layers::idempotency::config::for_route;
//! use warden_core::layers::idempotency::fingerprint::Fingerprinter;
//! use warden_core::layers::idempotency::store::{slot_keys, CallerScope, OperationId};
//! use warden_core::policy::parse_policy;
//!
//! let policy = parse_policy(r#"
//!     [[routes]]
//!     name = "orders"
//!     path = "/api/orders"
//!     idempotency = { required = true }
//! "#).unwrap();
//! let config = for_route(&policy.sections.idempotency, &policy.routes[0].keys.idempotency).unwrap();
//!
//! let lines = [("idempotency-key", b"\"8e03978e-40d5\"".as_slice())];
//! let Admission::Keyed(key) = admit(&config, "POST", &lines) else { panic!() };
//! let scope = CallerScope::resolve(config.scope, None, Some("203.0.113.7"));
//! let slots = slot_keys(&OperationId::new("orders", &scope, key.as_str()), 1_000, config.ttl);
//! let mut body = Fingerprinter::new("POST", "/api/orders");
//! body.update(b"{\"item\":42}");
//! let fingerprint = body.finish();
//! // Nothing stored yet: claim both slots, in order, then call the app.
//! assert_eq!(decide_slot(None, &fingerprint, 1_000), SlotDecision::Claim);
//! let claim = new_claim([9; 16], fingerprint, 1_000, config.claim_ttl);
//! # let _ = (slots, claim);
//! ```
//!
//! Owns `[idempotency]` (defaults) and a route's `idempotency` table (the
//! layer is on where a route has one). Ports it asks through the component:
//! key-value get and compare-and-swap (the claims and records), increment
//! and list/delete (the sweep), random bytes (claim tokens). Answers: the
//! stored response with `idempotent-replayed: true`, or problem+json 400
//! (missing or invalid key), 409 (in flight; or completed but too large to
//! replay), 422 (key reused for another request), 500 (unreadable record).
//! The whole behaviour, and why a key runs the app exactly once across
//! instances, is in `docs/idempotency.md`. The component's adapter is not
//! built yet.

pub mod config;
pub mod decision;
pub mod fingerprint;
pub mod key;
pub mod store;

pub use config::{Idempotency, IdempotencyConfig, IdempotencyOverlay, Scope};
