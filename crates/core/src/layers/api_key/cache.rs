//! The key-value cache in front of the lookups: keyed by a hash of the key
//! (never the key), holding the record found or the fact that none was, with
//! the time it was cached.
//!
//! ```
//! use warden_core::layers::api_key::cache::{CacheEntry, cache_key};
//! use warden_core::layers::api_key::config::ApiKeyConfig;
//! use warden_core::layers::api_key::extract::Presented;
//!
//! let presented = Presented::new("wk_000102030405060708090a0b0c0d0e0f").unwrap();
//! assert!(cache_key(&presented).starts_with("warden:apikey:"));
//! let entry = CacheEntry::Unknown { cached_at: 1_000 };
//! let config = ApiKeyConfig::default();
//! assert!(entry.is_fresh(&config, 1_000 + 9_999));
//! assert!(!entry.is_fresh(&config, 1_000 + 10_000));
//! assert_eq!(CacheEntry::from_slice(&entry.to_bytes()), Ok(entry));
//! ```
//!
//! A cached record is decided on like a fresh one (hash, expiry, …), so the
//! cache can only delay a revocation or a disabling, by at most
//! `cache_ttl` (60 s by default); an unknown hash is remembered for
//! `negative_cache_ttl` (10 s), so a new key works almost at once.
//!
//! `last_used_at` is off by default. With `last_used_interval`, warden
//! writes it at most once per key per interval, decided from the cached
//! record ([`touch_due`]); the adapter then re-caches the record with the
//! new time, so the next requests see it and do not write.

use serde::{Deserialize, Serialize};

use super::config::ApiKeyConfig;
use super::extract::Presented;
use super::record::{KeyRecord, RecordError};

/// The prefix of warden's cache keys (apart from Better Auth's `api-key:`).
pub const CACHE_PREFIX: &str = "warden:apikey:";

/// The cache key for `presented`: the prefix and the SHA-256 hex of the
/// key, a value the database holds anyway for warden's keys.
pub fn cache_key(presented: &Presented) -> String {
    format!("{CACHE_PREFIX}{}", presented.sha256_hex())
}

/// One cache entry, stored as `{"found":{…}}` or `{"unknown":{…}}`: serde's
/// externally tagged form, because the internally tagged one (`"kind"`)
/// buffers the whole entry before reading it and cost the component about
/// 13 KB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CacheEntry {
    /// The key's record, as found at `cached_at` (unix ms).
    Found {
        cached_at: i64,
        record: Box<KeyRecord>,
    },
    /// No store had the key at `cached_at`.
    Unknown { cached_at: i64 },
}

impl CacheEntry {
    /// The entry as stored: JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads an entry; its record is checked like a store's.
    pub fn from_slice(bytes: &[u8]) -> Result<CacheEntry, RecordError> {
        let entry: CacheEntry = serde_json::from_slice(bytes)
            .map_err(|_| RecordError("cache entry is not readable".to_string()))?;
        match entry {
            CacheEntry::Found { cached_at, record } => Ok(CacheEntry::Found {
                cached_at,
                record: Box::new(record.validated()?),
            }),
            unknown => Ok(unknown),
        }
    }

    /// Whether the entry may still be used at `now_ms`: younger than its
    /// TTL, and not from the future (a clock step back discards it).
    pub fn is_fresh(&self, config: &ApiKeyConfig, now_ms: u64) -> bool {
        let (cached_at, ttl_secs) = match self {
            CacheEntry::Found { cached_at, .. } => (*cached_at, config.cache_ttl_secs),
            CacheEntry::Unknown { cached_at } => (*cached_at, config.negative_cache_ttl_secs),
        };
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let ttl_ms = i64::try_from(ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        cached_at <= now && now.saturating_sub(cached_at) < ttl_ms
    }

    /// The store's time to live for this entry, in seconds (the freshness
    /// check above is what counts; this lets the store drop it).
    pub fn ttl_secs(&self, config: &ApiKeyConfig) -> u64 {
        match self {
            CacheEntry::Found { .. } => config.cache_ttl_secs,
            CacheEntry::Unknown { .. } => config.negative_cache_ttl_secs,
        }
    }

    /// Whether an unknown hash should be cached at all.
    pub fn caches_unknown(config: &ApiKeyConfig) -> bool {
        config.cache && config.negative_cache_ttl_secs > 0
    }
}

/// Whether to write `last_used_at` for `record` now: only for warden's
/// keys, only with `last_used_interval`, and only when the last recorded
/// use is older than the interval (or there is none).
pub fn touch_due(config: &ApiKeyConfig, record: &KeyRecord, now_ms: u64) -> bool {
    let Some(interval) = config.last_used_interval_secs else {
        return false;
    };
    if record.source != super::record::Source::Warden {
        return false;
    }
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    let interval_ms = i64::try_from(interval.saturating_mul(1000)).unwrap_or(i64::MAX);
    record
        .last_used_at
        .is_none_or(|at| now.saturating_sub(at) >= interval_ms)
}
