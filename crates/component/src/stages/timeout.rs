//! The inner app's timeout (docs/hardening.md, "Timeouts"): how long
//! warden waits for the app's response head, the route's `timeout` or
//! `[settings] timeout` (30 s by default).
//!
//! The call to the app is raced against a timer with the same mechanism
//! as every store call (`host::deadline::with_deadline`). When the timer
//! wins, the app's call is dropped: wit-bindgen cancels the subtask, the
//! app's task is cancelled where it waits (its future dropped), and the
//! instance goes on serving; the client gets 504 `TIMEOUT` and the log
//! `inner_app_timeout`. Once the response head has arrived the timeout is
//! over: the body streams as the app writes it, however slowly.

use crate::ctx::Ctx;
use crate::host::deadline::with_deadline;
use crate::respond;
use spin_sdk::wasip3::http::types::Response;
use std::future::Future;
use warden_core::base::denial::Rejection;

/// `app`'s output, or warden's 504 when the route's timeout passes first.
pub async fn race<F: Future>(ctx: &Ctx<'_>, app: F) -> Result<F::Output, Response> {
    let Some(ms) = ctx.config.policy.app_timeout_ms(ctx.route) else {
        return Ok(app.await);
    };
    match with_deadline(ms, app).await {
        Some(output) => Ok(output),
        None => {
            ctx.log("inner_app_timeout", &[("timeout_ms", ms.into())]);
            Err(respond::deny(ctx, Rejection::GatewayTimeout))
        }
    }
}
