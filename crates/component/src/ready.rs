//! `GET /.warden/ready` (or where `[settings] ready` puts it): is warden's
//! storage reachable from this instance?
//!
//! It opens the default key-value store and the default database and runs one
//! read on each, so that a deployment that forgot `inherit_configuration` (or
//! the migrations) shows up in a readiness probe instead of in the first
//! login. The body says which store failed, never why (that is logged).
//!
//! The pipeline answers other methods with 405 and counts the probe against
//! its rate limit (per client address) before this runs, so the store read
//! and the SQL statement cannot be had for free.
//!
//! The key-value store is read through `wasi:keyvalue`, the interface every
//! other layer uses for warden's state (the same store `default` as
//! `spin:key-value`); its calls are synchronous, which keeps the async
//! `spin:key-value` bindings out of the component.

use crate::pipeline::Ctx;
use serde_json::json;
use spin_sdk::wasip3::http::types::Response;

/// Reads both stores and answers 200 or 503, with the rate-limit headers
/// the layer queued in `ctx`.
pub async fn check(ctx: &Ctx<'_>) -> Response {
    let request_id = ctx.request_id.as_str();
    use spin_sdk::experimental::wasi::keyvalue::store;
    let kv = match store::open("default") {
        Ok(bucket) => bucket
            .exists("warden:ready")
            .map(|_| ())
            .map_err(|e| format!("{e:?}")),
        Err(e) => Err(format!("{e:?}")),
    };
    let sqlite = match spin_sdk::sqlite::Connection::open_default().await {
        Ok(db) => match db
            .execute("SELECT count(*) FROM \"session\" WHERE 0", [])
            .await
        {
            Ok(rows) => rows
                .collect()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
            Err(e) => Err(format!("{e:?}")),
        },
        Err(e) => Err(format!("{e:?}")),
    };
    for (store, result) in [("key_value", &kv), ("sqlite", &sqlite)] {
        if let Err(detail) = result {
            eprintln!(
                "{}",
                warden_core::log::event(
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
    let word = |r: &Result<(), String>| if r.is_ok() { "ok" } else { "unavailable" };
    let ok = kv.is_ok() && sqlite.is_ok();
    let body = json!({
        "status": if ok { "ok" } else { "unavailable" },
        "key_value": word(&kv),
        "sqlite": word(&sqlite),
    });
    ctx.answer(if ok { 200 } else { 503 }, warden_core::log::json(&body))
}
