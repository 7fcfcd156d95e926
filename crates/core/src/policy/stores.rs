//! `[stores]`: how long warden waits for each of the host's stores, and
//! the circuit breaker in front of each.
//!
//! ```
//! use warden_core::policy::parse_policy;
//!
//! let routes = "[[routes]]\nname = \"app\"\npath = \"/*\"\n";
//! let defaults = parse_policy(routes).unwrap().stores;
//! assert_eq!(defaults.key_value.deadline_ms, 50);
//! assert_eq!(defaults.sqlite.deadline_ms, 250);
//! assert_eq!(defaults.key_value.breaker.unwrap().failures, 5);
//!
//! let tuned = parse_policy(&format!(
//!     "[stores.key_value]\ndeadline_ms = 20\nbreaker = {{ failures = 3, open = \"10s\" }}\n\
//!      [stores.sqlite]\nbreaker = false\n{routes}"
//! )).unwrap().stores;
//! assert_eq!(tuned.key_value.deadline_ms, 20);
//! assert_eq!(tuned.key_value.breaker.unwrap().open_ms, 10_000);
//! assert_eq!(tuned.key_value.breaker.unwrap().successes, 2);
//! assert_eq!(tuned.sqlite.breaker, None);
//! ```
//!
//! The host gives no deadline of its own: under Spin, a key-value store on
//! Redis that stops answering holds every call until it reconnects. A call
//! past its deadline counts as a failure of the store, and the layer that
//! made it applies its fail mode (docs/stores.md).

use toml::{Table, Value};

use crate::base::breaker::{BreakerSettings, DEFAULT_SETTINGS};
use crate::base::fields::{Problems, parse_duration};

/// Default key-value deadline: a local or same-zone store answers in well
/// under a millisecond; 50 ms leaves room for a loaded host without letting
/// an outage hold requests (docs/stores.md has the measurements).
pub const DEFAULT_KEY_VALUE_DEADLINE_MS: u64 = 50;
/// Default SQLite deadline: one indexed lookup of Better Auth's tables.
pub const DEFAULT_SQLITE_DEADLINE_MS: u64 = 250;
/// Longest deadline allowed: Fermyon's request limit is 30 s.
pub const MAX_DEADLINE_MS: u64 = 30_000;

pub(crate) const FIELDS: &[&str] = &["key_value", "sqlite"];
pub(crate) const STORE_FIELDS: &[&str] = &["deadline_ms", "breaker"];
pub(crate) const BREAKER_FIELDS: &[&str] = &["failures", "successes", "open"];

/// Deadlines and breakers of the host's stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSettings {
    /// The key-value store `default`.
    pub key_value: StoreCalls,
    /// The SQLite database `default`.
    pub sqlite: StoreCalls,
}

/// How warden calls one store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreCalls {
    /// How long one call may take before warden gives up on it.
    pub deadline_ms: u64,
    /// The breaker, or `None` when `breaker = false`.
    pub breaker: Option<BreakerSettings>,
}

impl Default for StoreSettings {
    fn default() -> StoreSettings {
        StoreSettings {
            key_value: StoreCalls {
                deadline_ms: DEFAULT_KEY_VALUE_DEADLINE_MS,
                breaker: Some(DEFAULT_SETTINGS),
            },
            sqlite: StoreCalls {
                deadline_ms: DEFAULT_SQLITE_DEADLINE_MS,
                breaker: Some(DEFAULT_SETTINGS),
            },
        }
    }
}

/// Reads `[stores]`.
pub(crate) fn parse_stores(value: Option<&Value>, problems: &mut Problems) -> StoreSettings {
    let mut settings = StoreSettings::default();
    let table = match value {
        None => return settings,
        Some(Value::Table(table)) => table,
        Some(other) => {
            problems.wrong_type("stores", "a table ([stores])", other);
            return settings;
        }
    };
    problems.unknown_fields(table, "stores.", FIELDS);
    for (name, calls) in [
        ("key_value", &mut settings.key_value),
        ("sqlite", &mut settings.sqlite),
    ] {
        match table.get(name) {
            None => {}
            Some(Value::Table(t)) => parse_calls(t, &format!("stores.{name}"), calls, problems),
            Some(other) => problems.wrong_type(format!("stores.{name}"), "a table", other),
        }
    }
    settings
}

fn parse_calls(table: &Table, field: &str, calls: &mut StoreCalls, problems: &mut Problems) {
    problems.unknown_fields(table, &format!("{field}."), STORE_FIELDS);
    if let Some(v) = table.get("deadline_ms") {
        let max = i64::try_from(MAX_DEADLINE_MS).unwrap_or(i64::MAX);
        if let Some(ms) = problems.integer(&format!("{field}.deadline_ms"), v, 1, max) {
            calls.deadline_ms = ms.unsigned_abs();
        }
    }
    let field = format!("{field}.breaker");
    match table.get("breaker") {
        None | Some(Value::Boolean(true)) => {}
        Some(Value::Boolean(false)) => calls.breaker = None,
        Some(Value::Table(t)) => calls.breaker = parse_breaker(t, &field, problems),
        Some(other) => problems.wrong_type(
            field,
            "false or a table { failures, successes, open }",
            other,
        ),
    }
}

fn parse_breaker(table: &Table, field: &str, problems: &mut Problems) -> Option<BreakerSettings> {
    problems.unknown_fields(table, &format!("{field}."), BREAKER_FIELDS);
    let mut breaker = DEFAULT_SETTINGS;
    for (key, slot) in [
        ("failures", &mut breaker.failures),
        ("successes", &mut breaker.successes),
    ] {
        if let Some(v) = table.get(key)
            && let Some(n) = problems.integer(&format!("{field}.{key}"), v, 1, 1000)
        {
            *slot = u32::try_from(n).unwrap_or(1000);
        }
    }
    match table.get("open") {
        None => {}
        Some(Value::String(s)) => match parse_duration(s) {
            Ok(secs) if secs <= 3_600 => breaker.open_ms = secs * 1000,
            Ok(_) => problems.add(format!("{field}.open"), "must be at most 1h"),
            Err(message) => problems.add(format!("{field}.open"), message),
        },
        Some(Value::Integer(_)) => {
            if let Some(secs) = problems.integer(&format!("{field}.open"), &table["open"], 1, 3_600)
            {
                breaker.open_ms = secs.unsigned_abs() * 1000;
            }
        }
        Some(other) => {
            problems.wrong_type(format!("{field}.open"), "a duration such as \"60s\"", other)
        }
    }
    Some(breaker)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(doc: &str) -> (StoreSettings, Vec<String>) {
        let value: Value = toml::from_str(doc).unwrap();
        let mut problems = Problems::default();
        let settings = parse_stores(Some(&value), &mut problems);
        (settings, problems.0.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn every_mistake_is_named_by_field() {
        let (_, problems) = parse(
            "key_value = { deadline_ms = 0, breaker = { failures = 0, open = \"2h\", extra = 1 } }\n\
             sqlite = { deadline_ms = \"fast\", breaker = \"yes\" }\nredis = {}",
        );
        assert_eq!(
            problems,
            [
                "stores.redis: unknown field; expected one of: key_value, sqlite",
                "stores.key_value.deadline_ms: must be between 1 and 30000",
                "stores.key_value.breaker.extra: unknown field; expected one of: failures, successes, open",
                "stores.key_value.breaker.failures: must be between 1 and 1000",
                "stores.key_value.breaker.open: must be at most 1h",
                "stores.sqlite.deadline_ms: must be an integer, found a string",
                "stores.sqlite.breaker: must be false or a table { failures, successes, open }, found a string",
            ]
        );
    }

    #[test]
    fn open_as_seconds_or_a_duration() {
        let (s, problems) = parse(
            "key_value = { breaker = { open = 5 } }\nsqlite = { breaker = { open = \"2m\", successes = 4 } }",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.key_value.breaker.unwrap().open_ms, 5_000);
        assert_eq!(
            s.sqlite.breaker.unwrap(),
            BreakerSettings {
                failures: 5,
                successes: 4,
                open_ms: 120_000
            }
        );
    }
}
