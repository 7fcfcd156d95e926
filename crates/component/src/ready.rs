//! `GET /.warden/ready`: is warden's storage reachable from this instance?
//!
//! It opens the default key-value store and the default database and runs one
//! read on each, so that a deployment that forgot `inherit_configuration` (or
//! the migrations) shows up in a readiness probe instead of in the first
//! login. The body says which store failed, never why (that is logged).

use crate::respond;
use serde_json::json;
use spin_sdk::wasip3::http::types::Response;

/// The readiness endpoint, matched on the normalized path before any route.
pub const PATH: &str = "/.warden/ready";

pub async fn check(request_id: &str) -> Response {
    let kv = match spin_sdk::key_value::Store::open_default().await {
        Ok(store) => store
            .exists("warden:ready")
            .await
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
    respond::json(if ok { 200 } else { 503 }, body.to_string(), request_id)
}
