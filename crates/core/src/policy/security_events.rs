//! `[security_events]`: how security events are sampled, and whether they
//! also go to the `security_events` table (docs/security-events.md).
//!
//! ```
//! use warden_core::policy::parse_policy;
//!
//! let routes = "[[routes]]\nname = \"app\"\npath = \"/*\"\n";
//! let defaults = parse_policy(routes).unwrap().security_events;
//! assert_eq!(defaults.sampling.per_window, 10);
//! assert_eq!(defaults.sampling.window_ms, 60_000);
//! assert_eq!(defaults.table, None);
//!
//! let tuned = parse_policy(&format!(
//!     "[security_events]\nsample_per_window = 3\nwindow = \"5m\"\n\
//!      table = true\nbatch_size = 20\nflush_interval = \"2s\"\n{routes}"
//! )).unwrap().security_events;
//! assert_eq!(tuned.sampling.per_window, 3);
//! assert_eq!(tuned.table.unwrap().batch_size, 20);
//! assert_eq!(tuned.table.unwrap().flush_interval_ms, 2_000);
//! ```

use toml::Value;

use crate::base::event_sampling::SamplingSettings;
use crate::base::fields::Problems;
use crate::base::security_event::MAX_BATCH_ROWS;

pub(crate) const FIELDS: &[&str] = &[
    "sample_per_window",
    "window",
    "table",
    "batch_size",
    "flush_interval",
];

/// Most events of one key a window may write.
pub const MAX_PER_WINDOW: i64 = 10_000;
/// Longest sampling window and flush interval, in seconds.
pub const MAX_INTERVAL_SECS: u64 = 3_600;
/// Default of `batch_size`: rows buffered before one INSERT.
pub const DEFAULT_BATCH_SIZE: usize = 50;
/// Default of `flush_interval`, in seconds: how old the oldest buffered
/// event may get before the next request writes the batch anyway.
pub const DEFAULT_FLUSH_INTERVAL_SECS: u64 = 10;

/// `[security_events]`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SecurityEventSettings {
    pub sampling: SamplingSettings,
    /// The table's batching, or `None` when the table is off (default).
    pub table: Option<TableSettings>,
}

/// How events are written to the `security_events` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSettings {
    /// Rows per INSERT; a full buffer is written at once.
    pub batch_size: usize,
    /// A non-empty buffer older than this is written by the next request.
    pub flush_interval_ms: u64,
}

impl Default for TableSettings {
    fn default() -> TableSettings {
        TableSettings {
            batch_size: DEFAULT_BATCH_SIZE,
            flush_interval_ms: DEFAULT_FLUSH_INTERVAL_SECS * 1000,
        }
    }
}

/// Reads `[security_events]`.
pub(crate) fn parse_security_events(
    value: Option<&Value>,
    problems: &mut Problems,
) -> SecurityEventSettings {
    let mut settings = SecurityEventSettings::default();
    let table = match value {
        None => return settings,
        Some(Value::Table(table)) => table,
        Some(other) => {
            problems.wrong_type("security_events", "a table ([security_events])", other);
            return settings;
        }
    };
    problems.unknown_fields(table, "security_events.", FIELDS);
    if let Some(v) = table.get("sample_per_window")
        && let Some(n) = problems.integer("security_events.sample_per_window", v, 1, MAX_PER_WINDOW)
    {
        settings.sampling.per_window = u32::try_from(n).unwrap_or(1);
    }
    if let Some(v) = table.get("window")
        && let Some(secs) = problems.duration("security_events.window", v, 1, MAX_INTERVAL_SECS)
    {
        settings.sampling.window_ms = secs * 1000;
    }
    let mut batching = TableSettings::default();
    let max_rows = i64::try_from(MAX_BATCH_ROWS).unwrap_or(100);
    if let Some(v) = table.get("batch_size")
        && let Some(n) = problems.integer("security_events.batch_size", v, 1, max_rows)
    {
        batching.batch_size = usize::try_from(n).unwrap_or(1);
    }
    if let Some(v) = table.get("flush_interval")
        && let Some(secs) =
            problems.duration("security_events.flush_interval", v, 1, MAX_INTERVAL_SECS)
    {
        batching.flush_interval_ms = secs * 1000;
    }
    let on = match table.get("table") {
        None => false,
        Some(Value::Boolean(on)) => *on,
        Some(other) => {
            problems.wrong_type("security_events.table", "true or false", other);
            false
        }
    };
    if on {
        settings.table = Some(batching);
    } else if !matches!(table.get("table"), Some(v) if !v.is_bool()) {
        // A batching key without the table is a typo or a forgotten switch.
        for key in ["batch_size", "flush_interval"] {
            if table.contains_key(key) {
                problems.add(format!("security_events.{key}"), "only with table = true");
            }
        }
    }
    settings
}

#[cfg(test)]
mod tests {
    use crate::policy::parse_policy;

    fn problems(section: &str) -> Vec<String> {
        let doc = format!("{section}\n[[routes]]\nname = \"app\"\npath = \"/*\"\n");
        match parse_policy(&doc) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn every_bad_value_names_its_field() {
        for (section, field) in [
            (
                "[security_events]\nsample_per_window = 0",
                "security_events.sample_per_window",
            ),
            (
                "[security_events]\nsample_per_window = \"10\"",
                "security_events.sample_per_window",
            ),
            (
                "[security_events]\nwindow = \"0s\"",
                "security_events.window",
            ),
            (
                "[security_events]\nwindow = \"2h\"",
                "security_events.window",
            ),
            ("[security_events]\nwindow = 60", "security_events.window"),
            (
                "[security_events]\ntable = \"yes\"",
                "security_events.table",
            ),
            (
                "[security_events]\ntable = true\nbatch_size = 101",
                "security_events.batch_size",
            ),
            (
                "[security_events]\ntable = true\nbatch_size = 0",
                "security_events.batch_size",
            ),
            (
                "[security_events]\ntable = true\nflush_interval = \"soon\"",
                "security_events.flush_interval",
            ),
            (
                "[security_events]\nbatch_size = 10",
                "security_events.batch_size",
            ),
            (
                "[security_events]\nflush_interval = \"5s\"",
                "security_events.flush_interval",
            ),
            ("[security_events]\nsample = 3", "security_events.sample"),
            ("security_events = 3", "security_events"),
        ] {
            let found = problems(section);
            assert!(
                found.iter().any(|p| p.starts_with(&format!("{field}:"))),
                "{section:?}: {found:?}"
            );
        }
    }

    #[test]
    fn the_table_is_off_by_default() {
        assert!(problems("[security_events]\ntable = false").is_empty());
        assert!(
            problems("[security_events]\nsample_per_window = 10000\nwindow = \"1h\"").is_empty()
        );
    }
}
