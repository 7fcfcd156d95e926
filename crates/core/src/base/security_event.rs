//! Security events: the catalogue of log kinds that are security events,
//! the fields every such line carries, and their optional table row.
//!
//! ```
//! use warden_core::base::security_event::{address_prefix, credential_fingerprint, is_security_event};
//!
//! assert!(is_security_event("api_key_auth_failed"));
//! assert!(!is_security_event("rate_limit_swept"));
//! assert_eq!(address_prefix("192.0.2.77".parse().unwrap()), "192.0.2.0/24");
//! assert_eq!(address_prefix("2001:db8:1:2::9".parse().unwrap()), "2001:db8:1::/48");
//! assert_eq!(credential_fingerprint("api_key", b"wk_secret").len(), 12);
//! ```
//!
//! A security event is an ordinary log line (`base::log`, redaction
//! included) whose kind is in [`CATALOGUE`]. The component gives such a
//! line a fixed head: `"security":true` (the marker that tells it from an
//! operational line), the request id, the route and the client's address
//! prefix ([`address_prefix`], never the address). A layer that saw a
//! credential adds [`CREDENTIAL_FP`] ([`credential_fingerprint`], never
//! the credential). Repeated identical events are sampled
//! (`base::event_sampling`); docs/security-events.md has the whole story.

use sha2::{Digest, Sha256};
use std::net::IpAddr;

use crate::base::digest::hex;

/// The field that marks a line as a security event: `"security":true`.
pub const MARKER: &str = "security";
/// The field with the client's address prefix.
pub const CLIENT: &str = "client";
/// The field with [`credential_fingerprint`] of the credential presented.
pub const CREDENTIAL_FP: &str = "credential_fp";
/// The field of a summary line: how many identical events were not written.
pub const SUPPRESSED: &str = "suppressed";

/// Every security event warden logs, by its stable name (the log line's
/// `event`, the table's `type`). docs/security-events.md says when each
/// fires (a test checks it lists every one), so a new kind is a name here
/// and a row there; the descriptions stay out of `warden.wasm`.
///
/// The last eight come from the layers of issue 14 (login lockout, CSRF,
/// idempotency, timeouts): their stages log them with `ctx.log` like any
/// other line, and being listed here is what gives them the shape and the
/// sampling.
pub const CATALOGUE: &[&str] = &[
    "session_auth_failed",
    "jwt_auth_failed",
    "api_key_auth_failed",
    "worker_auth_failed",
    "worker_replay",
    "api_key_throttled",
    "jwt_throttled",
    "rate_limited",
    "rate_limit_store_error",
    "body_refused",
    "unmatched_denied",
    "cors_origin_disallowed",
    "login_failed",
    "login_locked",
    "login_lock_refused",
    "login_refused",
    "csrf_refused",
    "idempotency_conflict",
    "idempotency_mismatch",
    "inner_app_timeout",
];

/// Whether log lines of `kind` are security events.
pub fn is_security_event(kind: &str) -> bool {
    CATALOGUE.contains(&kind)
}

/// The address as security events name it: IPv4 cut to its /24, IPv6 to
/// its /48 (IPv4-mapped IPv6 as IPv4), in CIDR notation. Enough to see one
/// network at work, not enough to name one subscriber.
pub fn address_prefix(ip: IpAddr) -> String {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let masked = u128::from(v6) & (u128::MAX << 80);
            format!("{}/48", std::net::Ipv6Addr::from(masked))
        }
    }
}

/// Domain separation for [`credential_fingerprint`]: the digest differs
/// from every other SHA-256 warden computes of the same bytes (an API key's
/// stored hash, the session layer's token hash), so a log line cannot be
/// matched against a leaked table.
const FINGERPRINT_DOMAIN: &[u8] = b"warden security event credential v1\0";

/// Twelve hex characters of a domain-separated SHA-256 of `credential`, as
/// `layer` saw it: the same credential gives the same value on every line
/// and every instance, so a stuffing run can be followed; 48 bits say
/// nothing about a high-entropy credential.
pub fn credential_fingerprint(layer: &str, credential: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(FINGERPRINT_DOMAIN);
    hash.update(layer.as_bytes());
    hash.update([0]);
    hash.update(credential);
    hex(&hash.finalize()[..6])
}

/// Columns of the `security_events` table (seed 001's shape; the table is
/// created by `migrations.sql`), in the order [`insert_statement`] binds
/// them.
pub const TABLE_COLUMNS: [&str; 7] = [
    "id",
    "type",
    "user_id",
    "ip_address",
    "user_agent",
    "details",
    "created_at",
];

/// Longest `user_agent` a row keeps, in bytes (cut at a character boundary).
pub const MAX_USER_AGENT_BYTES: usize = 256;

/// Most rows in one INSERT: 7 parameters a row stays under SQLite's oldest
/// limit of 999 bound parameters.
pub const MAX_BATCH_ROWS: usize = 100;

/// One row of the `security_events` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// A random UUID.
    pub id: String,
    /// The event name.
    pub kind: String,
    /// The authenticated user, when the event has one.
    pub user_id: Option<String>,
    /// The client's address prefix ([`address_prefix`]), never the address.
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// The log line itself (JSON), redaction applied.
    pub details: String,
    /// ISO-8601 UTC with milliseconds, like Better Auth's dates.
    pub created_at: String,
}

impl Row {
    /// The row's values in [`TABLE_COLUMNS`] order (`None` is NULL).
    pub fn values(&self) -> [Option<&str>; 7] {
        [
            Some(&self.id),
            Some(&self.kind),
            self.user_id.as_deref(),
            self.ip_address.as_deref(),
            self.user_agent.as_deref(),
            Some(&self.details),
            Some(&self.created_at),
        ]
    }
}

/// `user_agent` cut to [`MAX_USER_AGENT_BYTES`] at a character boundary.
pub fn bounded_user_agent(user_agent: &str) -> String {
    let mut end = user_agent.len().min(MAX_USER_AGENT_BYTES);
    while !user_agent.is_char_boundary(end) {
        end -= 1;
    }
    user_agent[..end].to_owned()
}

/// One parameterized INSERT of `rows` rows (1..=[`MAX_BATCH_ROWS`], clamped):
/// numbered placeholders only, never a value in the text.
pub fn insert_statement(rows: usize) -> String {
    let rows = rows.clamp(1, MAX_BATCH_ROWS);
    let columns: Vec<String> = TABLE_COLUMNS.iter().map(|c| format!("\"{c}\"")).collect();
    let mut sql = format!(
        "INSERT INTO \"security_events\" ({}) VALUES ",
        columns.join(", ")
    );
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..TABLE_COLUMNS.len() {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("?{}", row * TABLE_COLUMNS.len() + column + 1));
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_plain() {
        for (i, name) in CATALOGUE.iter().enumerate() {
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
            assert!(!CATALOGUE[..i].contains(name), "{name} twice");
        }
    }

    #[test]
    fn prefixes() {
        let p = |s: &str| address_prefix(s.parse().unwrap());
        assert_eq!(p("203.0.113.200"), "203.0.113.0/24");
        assert_eq!(p("::ffff:203.0.113.9"), "203.0.113.0/24");
        assert_eq!(p("2001:db8:abcd:12::1"), "2001:db8:abcd::/48");
        assert_eq!(p("::1"), "::/48");
    }

    #[test]
    fn fingerprints_are_domain_separated() {
        let fp = credential_fingerprint("api_key", b"wk_abc");
        assert_eq!(fp, credential_fingerprint("api_key", b"wk_abc"));
        assert_ne!(fp, credential_fingerprint("session", b"wk_abc"));
        assert_ne!(fp, crate::base::digest::sha256_hex(b"wk_abc")[..12]);
        assert!(fp.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn the_insert_is_parameterized() {
        assert_eq!(
            insert_statement(2),
            "INSERT INTO \"security_events\" (\"id\", \"type\", \"user_id\", \"ip_address\", \"user_agent\", \"details\", \"created_at\") \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7), (?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        );
        assert_eq!(insert_statement(0), insert_statement(1));
        assert!(insert_statement(10_000).ends_with(&format!("?{})", MAX_BATCH_ROWS * 7)));
    }

    #[test]
    fn user_agents_are_cut_on_a_character() {
        let long = "é".repeat(200);
        let cut = bounded_user_agent(&long);
        assert!(cut.len() <= MAX_USER_AGENT_BYTES);
        assert!(long.starts_with(&cut));
        assert_eq!(bounded_user_agent("curl/8"), "curl/8");
    }

    #[test]
    fn migrations_sql_creates_the_table_the_insert_fills() {
        let migrations = include_str!("../../../../migrations.sql");
        let (_, table) = migrations
            .split_once("CREATE TABLE IF NOT EXISTS \"security_events\" (")
            .expect("migrations.sql creates security_events");
        let (columns, _) = table.split_once(");").unwrap_or_default();
        for column in TABLE_COLUMNS {
            assert!(columns.contains(&format!("\"{column}\"")), "{column}");
        }
        assert_eq!(
            columns.matches(" text").count() + columns.matches(" date").count(),
            7
        );
    }

    #[test]
    fn the_docs_list_every_event() {
        let doc = include_str!("../../../../docs/security-events.md");
        for name in CATALOGUE {
            assert!(
                doc.contains(&format!("| `{name}` |")),
                "docs/security-events.md has no row for `{name}`"
            );
        }
    }
}
