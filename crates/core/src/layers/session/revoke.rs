//! Revocation requests and the per-user index of cache entries.
//!
//! ```
//! use warden_core::layers::session::revoke::{parse_revoke, RevokeRequest, UserIndex};
//!
//! assert_eq!(
//!     parse_revoke(br#"{"user_id":"u1"}"#),
//!     Ok(RevokeRequest::UserId("u1".into()))
//! );
//! assert!(parse_revoke(br#"{"token_hash":"nothex"}"#).is_err());
//!
//! // The index lists a user's cache entries so they can all be removed.
//! let mut index = UserIndex::parse(None);
//! let evicted = index.insert(&"a".repeat(64), 2_000, 1_000);
//! assert!(evicted.is_empty());
//! assert_eq!(UserIndex::parse(Some(&index.to_bytes())).hashes().count(), 1);
//! ```
//!
//! A cache entry is keyed by the token's hash, so a user's entries cannot be
//! found from the user id alone. Each user therefore has one index key
//! listing the hashes of their cached sessions with their expiry, at most
//! [`MAX_INDEX_ENTRIES`]; expired entries are dropped whenever the index is
//! written, and when it is full the entry expiring first is evicted (its
//! cache entry is deleted too). The index is updated with compare-and-swap
//! before the cache entry is written, so every cache entry is listed.

use serde_json::{Value, json};

use super::record::check_id;

/// Most cache entries listed per user.
pub const MAX_INDEX_ENTRIES: usize = 32;

/// Largest revocation request body read, in bytes.
pub const MAX_REVOKE_BODY: usize = 4096;

/// Body of a revocation that could not reach the store (503).
pub const UNAVAILABLE_BODY: &str =
    r#"{"error":{"code":"SERVICE_UNAVAILABLE","message":"Session store unavailable"}}"#;

/// What to revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeRequest {
    /// The cache entry of one session: lowercase hex SHA-256 of its token.
    TokenHash(String),
    /// Every cache entry of one user.
    UserId(String),
}

impl RevokeRequest {
    /// `token_hash` or `user_id`, for the log.
    pub fn kind(&self) -> &'static str {
        match self {
            RevokeRequest::TokenHash(_) => "token_hash",
            RevokeRequest::UserId(_) => "user_id",
        }
    }
}

/// Reads `{"token_hash":"<64 hex>"}` or `{"user_id":"…"}` (exactly one).
/// The error is a fixed reason for the log.
pub fn parse_revoke(body: &[u8]) -> Result<RevokeRequest, &'static str> {
    if body.len() > MAX_REVOKE_BODY {
        return Err("body too large");
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| "body is not JSON")?;
    let object = value.as_object().ok_or("body is not a JSON object")?;
    if object.keys().any(|k| k != "token_hash" && k != "user_id") {
        return Err("unknown field");
    }
    match (object.get("token_hash"), object.get("user_id")) {
        (Some(Value::String(hash)), None) => {
            let hash = hash.to_ascii_lowercase();
            if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(RevokeRequest::TokenHash(hash))
            } else {
                Err("token_hash is not 64 hex characters")
            }
        }
        (None, Some(Value::String(id))) => match check_id(id) {
            Ok(()) => Ok(RevokeRequest::UserId(id.clone())),
            Err(_) => Err("user_id is not a usable id"),
        },
        (Some(_), Some(_)) => Err("give token_hash or user_id, not both"),
        _ => Err("token_hash or user_id (a string) is required"),
    }
}

/// The answer to a revocation: `{"revoked":N}`, the number of cache entries
/// removed.
pub fn revoked_body(count: usize) -> String {
    crate::base::log::json(&json!({ "revoked": count }))
}

/// The list of one user's cache entries: `[{"h":"<hash>","e":<expires ms>}]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserIndex(Vec<(String, i64)>);

impl UserIndex {
    /// Reads a stored index; anything unreadable reads as empty (the cache
    /// entries it listed then live until they expire, and are never served
    /// past their session's expiry).
    pub fn parse(bytes: Option<&[u8]>) -> UserIndex {
        let Some(Ok(Value::Array(items))) = bytes.map(serde_json::from_slice::<Value>) else {
            return UserIndex::default();
        };
        let entries = items
            .iter()
            .filter_map(|item| {
                let hash = item.get("h")?.as_str()?;
                let expires = item.get("e")?.as_i64()?;
                (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| (hash.to_string(), expires))
            })
            .take(MAX_INDEX_ENTRIES)
            .collect();
        UserIndex(entries)
    }

    /// Lists `hash` (replacing an older listing of it), drops entries that
    /// expired by `now_ms`, and evicts the entries expiring first beyond
    /// [`MAX_INDEX_ENTRIES`]. Returns the hashes dropped or evicted, whose
    /// cache entries should be deleted.
    pub fn insert(&mut self, hash: &str, expires: i64, now_ms: u64) -> Vec<String> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        self.0.retain(|(h, _)| h != hash);
        let mut removed = Vec::new();
        self.0.retain(|(h, e)| {
            let keep = *e > now;
            if !keep {
                removed.push(h.clone());
            }
            keep
        });
        self.0.push((hash.to_string(), expires));
        if self.0.len() > MAX_INDEX_ENTRIES {
            // Stable: among equal expiries the older listing goes first.
            // (An insertion sort: at most MAX_INDEX_ENTRIES + 1 entries, and
            // far less code than the standard library's stable sort.)
            for i in 1..self.0.len() {
                let mut j = i;
                while j > 0 && self.0[j - 1].1 > self.0[j].1 {
                    self.0.swap(j - 1, j);
                    j -= 1;
                }
            }
            let excess = self.0.len() - MAX_INDEX_ENTRIES;
            removed.extend(self.0.drain(..excess).map(|(h, _)| h).filter(|h| h != hash));
        }
        removed
    }

    /// Whether `hash` is listed.
    pub fn contains(&self, hash: &str) -> bool {
        self.0.iter().any(|(h, _)| h == hash)
    }

    /// The listed hashes.
    pub fn hashes(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(h, _)| h.as_str())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        crate::base::log::json(&Value::Array(
            self.0
                .iter()
                .map(|(h, e)| json!({ "h": h, "e": e }))
                .collect(),
        ))
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> String {
        format!("{n:02x}").repeat(32)
    }

    #[test]
    fn requests() {
        let hash = h(0xab);
        assert_eq!(
            parse_revoke(format!(r#"{{"token_hash":"{}"}}"#, hash.to_uppercase()).as_bytes()),
            Ok(RevokeRequest::TokenHash(hash))
        );
        assert_eq!(
            parse_revoke(br#"{"user_id":"Ada Lovelace #1"}"#),
            Ok(RevokeRequest::UserId("Ada Lovelace #1".into()))
        );
        for bad in [
            &b""[..],
            b"null",
            b"[]",
            b"{}",
            b"{\"user_id\":1}",
            b"{\"user_id\":\"\"}",
            b"{\"user_id\":\"a\\nb\"}",
            b"{\"token_hash\":\"abc\"}",
            b"{\"user_id\":\"u\",\"token_hash\":\"aa\"}",
            b"{\"user_id\":\"u\",\"extra\":1}",
            b"\xff\xfe",
        ] {
            assert!(
                parse_revoke(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let big = format!(r#"{{"user_id":"{}"}}"#, "u".repeat(MAX_REVOKE_BODY));
        assert_eq!(parse_revoke(big.as_bytes()), Err("body too large"));
        assert_eq!(revoked_body(3), r#"{"revoked":3}"#);
    }

    #[test]
    fn index_prunes_expired_and_caps() {
        let mut index = UserIndex::default();
        assert!(index.insert(&h(1), 100, 0).is_empty());
        assert!(index.insert(&h(2), 300, 0).is_empty());
        // Re-listing a hash replaces it.
        assert!(index.insert(&h(1), 200, 0).is_empty());
        assert_eq!(index.len(), 2);
        // At 250 the entry expiring at 200 is dropped.
        assert_eq!(index.insert(&h(3), 400, 250), vec![h(1)]);
        assert_eq!(index.hashes().collect::<Vec<_>>(), [h(2), h(3)]);

        let mut full = UserIndex::default();
        for n in 0..MAX_INDEX_ENTRIES as u8 {
            assert!(full.insert(&h(n), 1_000 + i64::from(n), 0).is_empty());
        }
        // One more evicts the entry expiring first.
        assert_eq!(full.insert(&h(200), 5_000, 0), vec![h(0)]);
        assert_eq!(full.len(), MAX_INDEX_ENTRIES);
        assert!(full.hashes().any(|x| x == h(200)));
        // A new entry that expires first of all is itself not kept, and not
        // reported: its cache entry is never written.
        let mut again = full.clone();
        let evicted = again.insert(&h(201), 1, 0);
        assert!(evicted.is_empty(), "{evicted:?}");
        assert!(!again.hashes().any(|x| x == h(201)));
    }

    #[test]
    fn index_round_trip_and_garbage() {
        let mut index = UserIndex::default();
        index.insert(&h(7), 99, 0);
        let bytes = index.to_bytes();
        assert_eq!(UserIndex::parse(Some(&bytes)), index);
        for junk in [
            &b"{}"[..],
            b"not json",
            b"[{\"h\":\"zz\",\"e\":1}]",
            b"[1,2]",
        ] {
            assert!(UserIndex::parse(Some(junk)).is_empty());
        }
        assert!(UserIndex::parse(None).is_empty());
    }
}
