//! `GET /.warden/ready`: is warden's storage reachable from this instance?
//!
//! It opens the default key-value store and the default database and runs one
//! read on each, so that a deployment that forgot `inherit_configuration` (or
//! the migrations) shows up in a readiness probe instead of in the first
//! login. The body says which store failed, never why (that is logged).
//!
//! The key-value store is read through `wasi:keyvalue`, the interface every
//! other layer uses for warden's state (the same store `default` as
//! `spin:key-value`); its calls are synchronous, which keeps the async
//! `spin:key-value` bindings out of the component.

use crate::respond;
use serde_json::json;
use spin_sdk::wasip3::http::types::Response;

/// The readiness endpoint, matched on the normalized path before any route.
pub const PATH: &str = "/.warden/ready";

pub async fn check(request_id: &str) -> Response {
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
    respond::json(
        if ok { 200 } else { 503 },
        warden_core::log::json(&body),
        request_id,
    )
}
