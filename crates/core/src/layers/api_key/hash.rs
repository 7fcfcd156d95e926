//! The two hashes a key is stored under, both SHA-256 of the key's bytes:
//! warden's `api_keys.key_hash` (lower-case hex, seeds 001 and 004) and
//! Better Auth's `apikey.key` (base64url without padding, its
//! `defaultKeyHasher`).
//!
//! ```
//! use warden_core::layers::api_key::hash::{better_auth_hash, warden_hash};
//!
//! assert_eq!(
//!     warden_hash("abc"),
//!     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
//! );
//! assert_eq!(better_auth_hash("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Warden's stored form: SHA-256, lower-case hex (64 characters).
pub fn warden_hash(key: &str) -> String {
    crate::base::digest::sha256_hex(key.as_bytes())
}

/// Better Auth's stored form: SHA-256, base64url without padding (43
/// characters), as `@better-auth/api-key`'s `defaultKeyHasher` writes it.
pub fn better_auth_hash(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(key.as_bytes()))
}

/// Whether two stored hashes are equal, in time that does not depend on
/// where they differ (their lengths are public: both are fixed by the form).
pub fn hashes_equal(stored: &str, computed: &str) -> bool {
    stored.len() == computed.len() && bool::from(stored.as_bytes().ct_eq(computed.as_bytes()))
}
