//! HTTP grammar warden needs before any layer runs: hop-by-hop and identity
//! header rules, origins (RFC 6454), path normalization, request ids, and
//! RFC 8941 structured fields. Imports only [`crate::base`].

pub mod hop_by_hop;
pub mod origin;
pub mod path;
pub mod request_id;
pub mod structured_fields;
