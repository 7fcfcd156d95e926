//! The statements and key-value keys of a key lookup, in the order the
//! adapter tries them. Every statement takes the hash as its one parameter
//! `?1`; the key itself is never a parameter, a store key or a log field.
//!
//! ```
//! use warden_core::layers::api_key::config::ApiKeyConfig;
//! use warden_core::layers::api_key::extract::Presented;
//! use warden_core::layers::api_key::sql::{Lookup, lookup_plan, BETTER_AUTH_LOOKUP, WARDEN_LOOKUP};
//!
//! let presented = Presented::new("ba_PzuRQOywOHsSRPZikPslpfhfnnGdXXXqnMvHtvgTdUTgUQyyhKNhBjGkEYWiMFBH").unwrap();
//! let config = ApiKeyConfig { secondary_storage: true, ..ApiKeyConfig::default() };
//! let plan = lookup_plan(&config, &presented);
//! assert_eq!(plan[0], Lookup::Sql { sql: WARDEN_LOOKUP, param: presented.sha256_hex() });
//! assert_eq!(plan[1], Lookup::Sql {
//!     sql: BETTER_AUTH_LOOKUP,
//!     param: "KonfiqgfWw6lSzlCP6ybip6U-gkoEXPQY9Ykcd4UmCU".into(),
//! });
//! assert_eq!(plan[2], Lookup::KeyValue {
//!     key: "api-key:KonfiqgfWw6lSzlCP6ybip6U-gkoEXPQY9Ykcd4UmCU".into(),
//! });
//! ```

use super::config::ApiKeyConfig;
use super::extract::Presented;
/// The columns each lookup returns: the row readers in `record.rs` own
/// their order, and the statements below select them in it.
pub use super::record::{BETTER_AUTH_COLUMNS, WARDEN_COLUMNS};
use super::record::{Cell, KeyRecord, RecordError, Source};

/// Better Auth's `apikey` row by its hashed key (the table's `key` index).
pub const BETTER_AUTH_LOOKUP: &str = "SELECT \"id\", \"key\", \"referenceId\", \"name\", \"start\", \"prefix\", \"configId\", \"enabled\", \"expiresAt\", \"remaining\", \"refillAmount\", \"refillInterval\", \"lastRefillAt\", \"createdAt\", \"permissions\", \"metadata\", \"lastRequest\" FROM \"apikey\" WHERE \"key\" = ?1 LIMIT 1";

/// Warden's `api_keys` row by its SHA-256 hex (the unique `key_hash`).
pub const WARDEN_LOOKUP: &str = "SELECT \"id\", \"key_hash\", \"owner\", \"name\", \"prefix\", \"roles\", \"permissions\", \"tier\", \"created_at\", \"expires_at\", \"revoked_at\", \"last_used_at\" FROM \"api_keys\" WHERE \"key_hash\" = ?1 LIMIT 1";

/// Records a use: `?1` the time (ISO-8601), `?2` the key's id. Warden's
/// table only: Better Auth's `lastRequest` drives its own rate limit and is
/// left to Better Auth.
pub const WARDEN_TOUCH: &str = "UPDATE \"api_keys\" SET \"last_used_at\" = ?1 WHERE \"id\" = ?2";

/// The prefix of Better Auth's `secondaryStorage` keys by hashed key.
pub const SECONDARY_STORAGE_PREFIX: &str = "api-key:";

/// One place a key may be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A SQLite statement with the hash as `?1`; at most one row.
    Sql { sql: &'static str, param: String },
    /// A key-value key holding Better Auth's JSON record.
    KeyValue { key: String },
}

impl Lookup {
    /// The record in what this lookup returned: a row, or the stored bytes.
    pub fn read_row(&self, row: &[Cell]) -> Result<KeyRecord, RecordError> {
        match self {
            Lookup::Sql { sql, .. } if *sql == WARDEN_LOOKUP => {
                super::record::record_from_warden_row(row)
            }
            _ => super::record::record_from_better_auth_row(row),
        }
    }

    /// The store this lookup reads, for the log.
    pub fn source(&self) -> Source {
        match self {
            Lookup::Sql { sql, .. } if *sql == WARDEN_LOOKUP => Source::Warden,
            _ => Source::BetterAuth,
        }
    }
}

/// Where to look for `presented`, in order: warden's table, Better Auth's
/// table, Better Auth's secondary storage (each when enabled). The adapter
/// stops at the first record found; the key-value cache comes before all
/// of them ([`super::cache`]).
pub fn lookup_plan(config: &ApiKeyConfig, presented: &Presented) -> Vec<Lookup> {
    let mut plan = Vec::with_capacity(3);
    if config.warden_table {
        plan.push(Lookup::Sql {
            sql: WARDEN_LOOKUP,
            param: presented.sha256_hex(),
        });
    }
    let better_auth = presented.better_auth_hash();
    if config.better_auth {
        plan.push(Lookup::Sql {
            sql: BETTER_AUTH_LOOKUP,
            param: better_auth.clone(),
        });
    }
    if config.secondary_storage {
        plan.push(Lookup::KeyValue {
            key: format!("{SECONDARY_STORAGE_PREFIX}{better_auth}"),
        });
    }
    plan
}
