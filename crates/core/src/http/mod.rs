//! HTTP grammar warden needs before any layer runs: hop-by-hop and identity
//! header rules, origins (RFC 6454), path normalization, request ids,
//! RFC 8941 structured fields, `Cache-Control` freshness (RFC 9111) and
//! outbound URLs.
//! Imports only [`crate::base`].

pub mod cache_control;
pub mod hop_by_hop;
pub mod origin;
pub mod path;
pub mod request_id;
pub mod structured_fields;
pub mod url;
