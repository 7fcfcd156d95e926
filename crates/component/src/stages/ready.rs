//! `GET /.warden/ready` (or where `[settings] ready` puts it): is warden's
//! storage reachable from this instance?
//!
//! It probes the stores the policy uses ([`Policy::stores_used`]) and no
//! others: one read on the default key-value store, one `SELECT` on the
//! session table of the default database. So a deployment that forgot
//! `inherit_configuration` (or the migrations) shows up in a readiness probe
//! instead of in the first login, while a policy of headers and CORS only
//! needs no store grant at all. A store the policy does not use is reported
//! as `"unused"`. The body says which store failed, never why (that is
//! logged).
//!
//! [`Policy::stores_used`]: warden_core::policy::Policy::stores_used
//!
//! The route stage answers other methods with 405 and the pipeline counts the probe against
//! its rate limit (per client address) before this runs, so the store read
//! and the SQL statement cannot be had for free.
//!
//! The key-value store is read through `wasi:keyvalue`, the interface every
//! other layer uses for warden's state (the same store `default` as
//! `spin:key-value`); its calls are synchronous, which keeps the async
//! `spin:key-value` bindings out of the component.
//!
//! Reads `[settings] ready` (through the route stage) and the policy's store
//! use. Host ports: `host::kv`, `host::sql`. Answers 200 or 503 with a JSON
//! body naming each store's state.

use crate::ctx::Ctx;
use crate::host::{kv, sql};
use crate::respond;
use serde_json::json;
use spin_sdk::wasip3::http::types::Response;
use warden_core::policy::stores::StoreCalls;

/// Reads both stores and answers 200 or 503, with the rate-limit headers
/// the layer queued in `ctx`.
pub async fn check(ctx: &Ctx<'_>) -> Response {
    let request_id = ctx.request_id.as_str();
    let used = ctx.config.policy.stores_used();
    let kv = if used.key_value {
        Probe::Checked(key_value(&ctx.config.policy.stores.key_value).await)
    } else {
        Probe::Unused
    };
    let sqlite = if used.sqlite {
        Probe::Checked(
            sqlite(
                &ctx.config.policy.stores.sqlite,
                &ctx.config.policy.sections.session.schema.session_table,
            )
            .await,
        )
    } else {
        Probe::Unused
    };
    for (store, probe) in [("key_value", &kv), ("sqlite", &sqlite)] {
        if let Probe::Checked(Err(detail)) = probe {
            eprintln!(
                "{}",
                warden_core::base::log::event(
                    "store_unavailable",
                    &[
                        ("request_id", request_id.into()),
                        ("store", store.into()),
                        ("error", detail.as_str().into()),
                    ],
                )
            );
        }
    }
    let ok = kv.is_ok() && sqlite.is_ok();
    let body = json!({
        "status": if ok { "ok" } else { "unavailable" },
        "key_value": kv.word(),
        "sqlite": sqlite.word(),
    });
    respond::json(
        ctx,
        if ok { 200 } else { 503 },
        warden_core::base::log::json(&body),
    )
}

/// One store's part of the answer.
enum Probe {
    /// The policy does not use the store; it was not touched.
    Unused,
    /// The store was probed: reachable, or the error to log.
    Checked(Result<(), String>),
}

impl Probe {
    fn is_ok(&self) -> bool {
        !matches!(self, Probe::Checked(Err(_)))
    }

    fn word(&self) -> &'static str {
        match self {
            Probe::Unused => "unused",
            Probe::Checked(Ok(())) => "ok",
            Probe::Checked(Err(_)) => "unavailable",
        }
    }
}

/// Asks the default key-value store about one key, within its deadline.
async fn key_value(calls: &StoreCalls) -> Result<(), String> {
    kv::answering(calls, "warden:ready")
        .await
        .map_err(|e| e.to_string())
}

/// Runs one `SELECT` on the session table of the default database (its
/// name is a validated SQL identifier, `[A-Za-z_][A-Za-z0-9_]{0,63}`).
async fn sqlite(calls: &StoreCalls, session_table: &str) -> Result<(), String> {
    let statement = format!("SELECT count(*) FROM \"{session_table}\" WHERE 0");
    sql::query(calls, &statement, Vec::new())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
