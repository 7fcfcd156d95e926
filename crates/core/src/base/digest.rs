//! Hex and SHA-256 helpers shared by the layers: store keys and log
//! fingerprints are digests, so that tokens, addresses and signatures never
//! appear in a key-value key or a log line.
//!
//! ```
//! use warden_core::base::digest::{fingerprint, hex, sha256_hex};
//!
//! assert_eq!(hex(&[0x0f, 0xa0]), "0fa0");
//! assert_eq!(sha256_hex(b"").len(), 64);
//! assert_eq!(fingerprint(b"token"), sha256_hex(b"token")[..8]);
//! ```

use sha2::{Digest, Sha256};

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The first 8 hex characters of the SHA-256 of `bytes`: enough to correlate
/// log lines about one credential or client, useless to an attacker.
pub fn fingerprint(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes)[..4])
}
