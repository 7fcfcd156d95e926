//! The request fingerprint (draft §2.4): SHA-256 over the method, the
//! normalized path and query, and the body, fed as it streams.
//!
//! ```
//! use warden_core::layers::idempotency::fingerprint::Fingerprinter;
//!
//! let mut f = Fingerprinter::new("POST", "/api/orders?x=1");
//! f.update(b"{\"item\":");
//! f.update(b"42}");
//! let whole = {
//!     let mut g = Fingerprinter::new("POST", "/api/orders?x=1");
//!     g.update(b"{\"item\":42}");
//!     g.finish()
//! };
//! // Chunking does not matter; the body does.
//! assert_eq!(f.finish(), whole);
//! assert_ne!(Fingerprinter::new("POST", "/api/orders?x=1").finish(), whole);
//! ```
//!
//! The hash opens with a domain of its own and length-prefixes the method
//! and the path, so no other hash warden takes (replay ids, store keys) and
//! no other split of the same bytes collides with it. The body comes last
//! and its length closes the hash, so it needs no prefix and can be fed in
//! chunks. The caller passes the path as the router normalized it and the
//! query as received: `/a/../b` and `/b` are the same operation, a reordered
//! query is another one.

use sha2::{Digest, Sha256};

/// The domain that opens every fingerprint.
pub const DOMAIN: &[u8] = b"warden-idempotency-fingerprint-v1";

/// A finished fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({})", crate::base::digest::hex(&self.0[..4]))
    }
}

impl Fingerprint {
    /// Lower-case hex, as records store it.
    pub fn hex(&self) -> String {
        crate::base::digest::hex(&self.0)
    }

    /// From the hex [`Fingerprint::hex`] writes.
    pub fn from_hex(text: &str) -> Option<Fingerprint> {
        let bytes = crate::base::digest::decode_hex(text, 32)?;
        Some(Fingerprint(bytes.try_into().ok()?))
    }
}

/// A fingerprint being computed: method and path first, then the body.
#[derive(Clone)]
pub struct Fingerprinter {
    hash: Sha256,
    body_len: u64,
}

impl Fingerprinter {
    /// Starts a fingerprint of a request with `method` (as sent, uppercase
    /// by convention) to `path_and_query` (normalized path, `?`, raw query).
    pub fn new(method: &str, path_and_query: &str) -> Fingerprinter {
        let mut hash = Sha256::new();
        for part in [DOMAIN, method.as_bytes(), path_and_query.as_bytes()] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        Fingerprinter { hash, body_len: 0 }
    }

    /// Feeds the next chunk of the body.
    pub fn update(&mut self, chunk: &[u8]) {
        self.hash.update(chunk);
        self.body_len = self.body_len.saturating_add(chunk.len() as u64);
    }

    /// The fingerprint, the body's length closing it.
    pub fn finish(mut self) -> Fingerprint {
        self.hash.update(self.body_len.to_be_bytes());
        Fingerprint(self.hash.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(method: &str, path: &str, body: &[u8]) -> Fingerprint {
        let mut f = Fingerprinter::new(method, path);
        f.update(body);
        f.finish()
    }

    #[test]
    fn every_part_counts_and_splits_do_not_collide() {
        let base = of("POST", "/a", b"x");
        assert_eq!(base, of("POST", "/a", b"x"));
        assert_ne!(base, of("PATCH", "/a", b"x"));
        assert_ne!(base, of("POST", "/b", b"x"));
        assert_ne!(base, of("POST", "/a?", b"x"));
        assert_ne!(base, of("POST", "/a", b"y"));
        assert_ne!(base, of("POST", "/a", b""));
        assert_ne!(of("POST", "/ax", b""), of("POST", "/a", b"x"));
        assert_ne!(of("POS", "T/a", b""), of("POST", "/a", b""));
    }

    #[test]
    fn chunking_is_invisible() {
        let body: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let whole = of("POST", "/a", &body);
        for size in [1, 7, 64, 4096] {
            let mut f = Fingerprinter::new("POST", "/a");
            for chunk in body.chunks(size) {
                f.update(chunk);
            }
            f.update(b"");
            assert_eq!(f.finish(), whole, "{size}");
        }
    }

    #[test]
    fn hex_round_trip() {
        let f = of("POST", "/a", b"x");
        assert_eq!(Fingerprint::from_hex(&f.hex()), Some(f));
        assert_eq!(Fingerprint::from_hex("00"), None);
        assert_eq!(Fingerprint::from_hex(&"g".repeat(64)), None);
    }
}
