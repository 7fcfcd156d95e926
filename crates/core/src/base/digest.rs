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

/// The value of one hex digit, either case: the one hex decoder, for
/// percent-encoding and hex-encoded signatures alike.
pub fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Bytes from hex text of exactly `len` bytes (`2 * len` digits, either
/// case); `None` for any other length or a non-hex digit.
pub fn decode_hex(text: &str, len: usize) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if digits.len() != len.checked_mul(2)? {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| Some(hex_value(pair[0])? << 4 | hex_value(pair[1])?))
        .collect()
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
