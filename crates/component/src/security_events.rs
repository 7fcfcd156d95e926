//! Security events: the log lines whose kind is in the core's catalogue
//! (`warden_core::base::security_event`), written with their fixed head,
//! sampled, and optionally appended to the `security_events` table in
//! batches. [`crate::ctx::Ctx::log`] sends every catalogued kind here, so a
//! stage logs a security event like any other line.
//!
//! State is per instance (an instance is one thread; DESIGN §1): the
//! sampling table and the table's row buffer live here, shared by the
//! instance's requests, concurrent ones included, and are lost when the
//! host drops the instance. So sampling is per instance (N instances may
//! each write `sample_per_window` lines of one key), and an instance
//! dropped with rows buffered loses them (at most `batch_size - 1` rows,
//! or those of a window's summary that never came due).
//!
//! The table is written in batches, never a row per request: rows wait in
//! the instance's buffer until it holds `batch_size` of them or, checked
//! when a request comes, the oldest is older than `flush_interval`; then
//! the request at hand writes them with one multi-row parameterized INSERT
//! ([`write_due`]) before it returns. Not in a task spawned after the
//! response: a host that drops the instance as soon as its last response
//! is out (one instance per request, an idle instance at its end of life)
//! would drop the task and its rows with it.
//!
//! Host ports: the clock, random bytes (row ids), `host::sql::append`.

use crate::host::{clock, random, settings, sql};
use serde_json::Value;
use std::cell::RefCell;
use warden_core::base::event_sampling::{EventKey, Sampler, Summary, TABLE_KEYS, Verdict};
use warden_core::base::log;
use warden_core::base::security_event::{
    CLIENT, MARKER, MAX_BATCH_ROWS, Row, SUPPRESSED, TABLE_COLUMNS, insert_statement,
};
use warden_core::base::time::format_iso8601_ms;
use warden_core::http::request_id::format_request_id;
use warden_core::policy::security_events::SecurityEventSettings;
use warden_core::policy::stores::{StoreCalls, StoreSettings};

/// The `client` of an event whose address is not known.
const UNKNOWN_CLIENT: &str = "unknown";

thread_local! {
    /// The instance's sampling table, made with the configuration's
    /// settings on first use.
    static SAMPLER: RefCell<Option<Sampler>> = const { RefCell::new(None) };
    /// Rows waiting for the table, and when the oldest was buffered.
    static BUFFER: RefCell<Buffer> = const {
        RefCell::new(Buffer { rows: Vec::new(), oldest_ms: None, due: false, dropped: 0 })
    };
}

/// Most rows the buffer holds: a full batch is written by the request that
/// filled it, so more than one batch waits only while concurrent requests
/// of the instance are still running; past this, rows are dropped (and
/// counted) rather than held.
const MAX_BUFFERED_ROWS: usize = 4 * MAX_BATCH_ROWS;

struct Buffer {
    rows: Vec<Row>,
    oldest_ms: Option<u64>,
    /// The rows are to be written by the next [`write_due`].
    due: bool,
    /// Rows dropped for a full buffer since the last write.
    dropped: u64,
}

/// What a security event knows of its request, besides its own fields.
pub struct Origin<'a> {
    pub request_id: Option<&'a str>,
    pub route: &'a str,
    /// The client's address prefix.
    pub client: Option<String>,
    /// For the table only (never in the log line).
    pub user_agent: Option<&'a str>,
    pub user_id: Option<&'a str>,
}

/// The instance's event settings and database calls (the defaults before
/// the configuration is loaded, which no security event precedes).
fn settings() -> (SecurityEventSettings, StoreCalls) {
    match settings::loaded().as_deref() {
        Some(Ok(config)) => (config.policy.security_events, config.policy.stores.sqlite),
        _ => (
            SecurityEventSettings::default(),
            StoreSettings::default().sqlite,
        ),
    }
}

/// Logs one security event of `kind`: written (with the marker, the
/// request id, the route and the client prefix ahead of `fields`) unless
/// sampling counts it only; buffered for the table when that is on.
pub fn emit(kind: &str, origin: Origin<'_>, fields: &[(&str, Value)]) {
    let (events, _) = settings();
    let now_ms = clock::now_ms();
    let client = origin.client.as_deref().unwrap_or(UNKNOWN_CLIENT);
    let key = EventKey::new(kind, origin.route, client);
    let (verdict, summaries) = with_sampler(&events, |sampler| sampler.observe(key, now_ms));
    for summary in summaries {
        write_summary(&events, summary, now_ms);
    }
    if verdict == Verdict::Write {
        let mut all: Vec<(&str, Value)> = vec![(MARKER, true.into())];
        if let Some(id) = origin.request_id {
            all.push(("request_id", id.into()));
        }
        all.push(("route", origin.route.into()));
        all.push((CLIENT, client.into()));
        all.extend(fields.iter().cloned());
        let line = log::event(kind, &all);
        eprintln!("{line}");
        if events.table.is_some() {
            let user_id = origin.user_id.map(str::to_owned).or_else(|| {
                fields
                    .iter()
                    .find(|(name, _)| *name == "user_id")
                    .and_then(|(_, v)| v.as_str())
                    .map(str::to_owned)
            });
            let row = Row {
                id: String::new(),
                kind: kind.to_owned(),
                user_id,
                ip_address: origin.client.clone(),
                user_agent: origin
                    .user_agent
                    .map(warden_core::base::security_event::bounded_user_agent),
                details: line,
                created_at: format_iso8601_ms(i64::try_from(now_ms).unwrap_or(i64::MAX)),
            };
            buffer(&events, row, now_ms);
        }
    }
}

/// The per-request check, before any stage: writes summaries whose window
/// has ended and a buffer that has waited `flush_interval`. Reads the clock
/// only when something is waiting.
pub fn tick() {
    let summary_due = SAMPLER.with(|s| s.borrow().as_ref().and_then(Sampler::pending_until));
    let buffered_since = BUFFER.with(|b| b.borrow().oldest_ms);
    if summary_due.is_none() && buffered_since.is_none() {
        return;
    }
    let (events, _) = settings();
    let now_ms = clock::now_ms();
    if summary_due.is_some_and(|due| due <= now_ms) {
        let summaries = with_sampler(&events, |sampler| sampler.due(now_ms));
        for summary in summaries {
            write_summary(&events, summary, now_ms);
        }
    }
    if let (Some(table), Some(since)) = (events.table, buffered_since)
        && now_ms.saturating_sub(since) >= table.flush_interval_ms
    {
        BUFFER.with(|b| b.borrow_mut().due = true);
    }
}

fn with_sampler<T>(events: &SecurityEventSettings, f: impl FnOnce(&mut Sampler) -> T) -> T {
    SAMPLER.with(|s| {
        let mut s = s.borrow_mut();
        f(s.get_or_insert_with(|| Sampler::new(events.sampling, TABLE_KEYS)))
    })
}

/// One line (and row) for the events of a key that sampling counted and
/// did not write.
fn write_summary(events: &SecurityEventSettings, summary: Summary, now_ms: u64) {
    let Summary {
        key,
        suppressed,
        since_ms,
    } = summary;
    let since = format_iso8601_ms(i64::try_from(since_ms).unwrap_or(i64::MAX));
    let line = log::event(
        &key.kind,
        &[
            (MARKER, true.into()),
            ("route", key.route.as_str().into()),
            (CLIENT, key.client.as_str().into()),
            (SUPPRESSED, suppressed.into()),
            ("since", since.into()),
            ("window_secs", (events.sampling.window_ms / 1000).into()),
        ],
    );
    eprintln!("{line}");
    if events.table.is_some() {
        let row = Row {
            id: String::new(),
            kind: key.kind,
            user_id: None,
            ip_address: (key.client != UNKNOWN_CLIENT).then_some(key.client),
            user_agent: None,
            details: line,
            created_at: format_iso8601_ms(i64::try_from(now_ms).unwrap_or(i64::MAX)),
        };
        buffer(events, row, now_ms);
    }
}

/// Adds a row to the instance's buffer; a full buffer is due.
fn buffer(events: &SecurityEventSettings, row: Row, now_ms: u64) {
    let Some(table) = events.table else {
        return;
    };
    BUFFER.with(|b| {
        let mut b = b.borrow_mut();
        if b.rows.len() >= MAX_BUFFERED_ROWS {
            b.dropped = b.dropped.saturating_add(1);
            return;
        }
        b.oldest_ms.get_or_insert(now_ms);
        b.rows.push(row);
        if b.rows.len() >= table.batch_size {
            b.due = true;
        }
    });
}

/// Writes the buffer when it is due (full, or older than the flush
/// interval): one INSERT per [`MAX_BATCH_ROWS`] rows (a batch is never
/// more). The pipeline calls it once per request, before returning; it
/// does nothing (no host call) when nothing is due. A failed write drops
/// its rows with a line that counts them: retrying would let a dead
/// database grow the buffer.
pub async fn write_due() {
    let (rows, dropped) = BUFFER.with(|b| {
        let mut b = b.borrow_mut();
        if !b.due {
            return (Vec::new(), 0);
        }
        b.due = false;
        b.oldest_ms = None;
        (std::mem::take(&mut b.rows), std::mem::take(&mut b.dropped))
    });
    if rows.is_empty() {
        return;
    }
    let (_, calls) = settings();
    for batch in rows.chunks(MAX_BATCH_ROWS) {
        write_batch(calls, batch, dropped).await;
    }
}

async fn write_batch(calls: StoreCalls, rows: &[Row], dropped: u64) {
    let ids = random::bytes(16 * rows.len());
    let mut params = Vec::with_capacity(rows.len() * TABLE_COLUMNS.len());
    for (i, row) in rows.iter().enumerate() {
        let mut id = [0u8; 16];
        if let Some(bytes) = ids.get(i * 16..i * 16 + 16) {
            id.copy_from_slice(bytes);
        }
        let values = row.values();
        params.push(Some(format_request_id(id)));
        params.extend(values[1..].iter().map(|v| v.map(str::to_owned)));
    }
    let outcome = sql::append(&calls, &insert_statement(rows.len()), params).await;
    let mut fields = vec![("rows", rows.len().into())];
    if dropped > 0 {
        fields.push(("dropped", dropped.into()));
    }
    let kind = match outcome {
        Ok(()) => "security_events_written",
        Err(error) => {
            fields.push(("error", error.to_string().into()));
            "security_events_write_failed"
        }
    };
    eprintln!("{}", log::event(kind, &fields));
}
