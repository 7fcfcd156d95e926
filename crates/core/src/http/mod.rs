//! HTTP grammar warden needs before any layer runs: hop-by-hop and identity
//! header rules, path normalization, request ids, and RFC 8941 structured
//! fields. Imports only [`crate::base`].

pub mod hop_by_hop;
pub mod path;
pub mod request_id;
pub mod structured_fields;
