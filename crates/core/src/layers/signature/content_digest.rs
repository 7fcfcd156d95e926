//! RFC 9530 `Content-Digest`: sha-256 and sha-512 over the body as received.
//!
//! ```
//! use warden_core::layers::signature::content_digest::{check, header_value, Algorithm, DigestCheck};
//!
//! let body = br#"{"hello": "world"}"#;
//! let value = header_value(body, Algorithm::Sha256);
//! assert_eq!(value, "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
//! assert_eq!(check(&value, body), DigestCheck::Match);
//! assert_eq!(check(&value, b"tampered"), DigestCheck::Mismatch);
//! ```
//!
//! The field is a structured-field dictionary of algorithm → byte sequence.
//! Every supported algorithm present must match; algorithms warden does not
//! know (RFC 9530 lists deprecated ones such as `md5`) are ignored, and a
//! field with none that it knows cannot vouch for the body.

use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::http::structured_fields::{BareItem, Member, parse_dictionary};

/// A digest algorithm warden computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `sha-256`
    Sha256,
    /// `sha-512`
    Sha512,
}

impl Algorithm {
    /// The algorithm key in the field.
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha-256",
            Algorithm::Sha512 => "sha-512",
        }
    }

    /// Looks an algorithm up by its key.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        [Algorithm::Sha256, Algorithm::Sha512]
            .into_iter()
            .find(|a| a.name() == name)
    }

    /// The digest of `body`.
    pub fn digest(&self, body: &[u8]) -> Vec<u8> {
        match self {
            Algorithm::Sha256 => Sha256::digest(body).to_vec(),
            Algorithm::Sha512 => Sha512::digest(body).to_vec(),
        }
    }
}

/// The outcome of checking a `Content-Digest` field against a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestCheck {
    /// Every supported digest in the field matches the body.
    Match,
    /// A supported digest does not match.
    Mismatch,
    /// The field names no algorithm warden supports.
    NoSupportedAlgorithm,
    /// The field is not a valid dictionary of byte sequences.
    Malformed,
}

/// The `Content-Digest` value for `body` with one algorithm.
pub fn header_value(body: &[u8], algorithm: Algorithm) -> String {
    use base64::Engine as _;
    format!(
        "{}=:{}:",
        algorithm.name(),
        base64::engine::general_purpose::STANDARD.encode(algorithm.digest(body))
    )
}

/// Checks a received `Content-Digest` value against the received body.
pub fn check(field: &str, body: &[u8]) -> DigestCheck {
    let Ok(dict) = parse_dictionary(field) else {
        return DigestCheck::Malformed;
    };
    let mut any = false;
    let mut all_match = true;
    for (key, member) in &dict {
        let Member::Item((BareItem::ByteSequence(claimed), _)) = member else {
            return DigestCheck::Malformed;
        };
        if let Some(algorithm) = Algorithm::from_name(key) {
            any = true;
            let actual = algorithm.digest(body);
            all_match &= bool::from(actual.ct_eq(claimed));
        }
    }
    match (any, all_match) {
        (false, _) => DigestCheck::NoSupportedAlgorithm,
        (true, true) => DigestCheck::Match,
        (true, false) => DigestCheck::Mismatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9530 §2 / RFC 9421 B.2: the body `{"hello": "world"}`.
    const BODY: &[u8] = br#"{"hello": "world"}"#;
    const SHA256: &str = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
    const SHA512: &str = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";

    #[test]
    fn rfc_examples() {
        assert_eq!(header_value(BODY, Algorithm::Sha256), SHA256);
        assert_eq!(header_value(BODY, Algorithm::Sha512), SHA512);
        assert_eq!(check(SHA256, BODY), DigestCheck::Match);
        assert_eq!(check(SHA512, BODY), DigestCheck::Match);
        assert_eq!(
            check(&format!("{SHA256}, {SHA512}"), BODY),
            DigestCheck::Match
        );
    }

    #[test]
    fn mismatches_and_malformations() {
        assert_eq!(
            check(SHA256, b"{\"hello\": \"world!\"}"),
            DigestCheck::Mismatch
        );
        assert_eq!(check(SHA256, b""), DigestCheck::Mismatch);
        // One good digest does not excuse a bad one.
        let bad512 = header_value(b"other", Algorithm::Sha512);
        assert_eq!(
            check(&format!("{SHA256}, {bad512}"), BODY),
            DigestCheck::Mismatch
        );
        // A truncated digest is a mismatch, not a prefix match.
        assert_eq!(check("sha-256=:X48E9qOokqqr:", BODY), DigestCheck::Mismatch);
        assert_eq!(check("md5=:AAAA:", BODY), DigestCheck::NoSupportedAlgorithm);
        assert_eq!(check("", BODY), DigestCheck::NoSupportedAlgorithm);
        // Unknown algorithms next to a good one are ignored.
        assert_eq!(
            check(&format!("md5=:AAAA:, {SHA256}"), BODY),
            DigestCheck::Match
        );
        for malformed in [
            "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
            "sha-256=\"abc\"",
            "sha-256",
            "SHA-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
            "sha-256=(:AAAA:)",
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:,",
        ] {
            assert_eq!(
                check(malformed, BODY),
                DigestCheck::Malformed,
                "{malformed}"
            );
        }
    }
}
