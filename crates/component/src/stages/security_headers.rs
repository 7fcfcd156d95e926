//! Security response headers: the adapter around
//! `warden_core::layers::security_headers`, which makes every decision.
//!
//! [`prepare`] runs right after the route is known: it queues the route's
//! headers in `Ctx::to_client`, so warden's own answers (401, 429, a
//! preflight) carry them too, and hands the inner app a fresh CSP nonce.
//! Merging them into the app's own response (insert modes, removals, `Vary`,
//! `Cache-Control`) is `stages::app_response`'s, which runs whatever layers
//! are built.
//!
//! Reads the route's `headers` settings (merged and rendered at load). Host
//! port: random bytes for the nonce (through `Ctx::random`). Answers
//! nothing itself.

use crate::ctx::Ctx;
use warden_core::layers::security_headers::{NONCE_BYTES, NONCE_HEADER, csp};

/// Queues the route's security headers for every answer, and gives the app a
/// fresh nonce (`x-warden-csp-nonce`) when the route's CSP asks for one.
/// Requests no route matches get none when they are forwarded (README: only
/// the request ID and header hygiene apply to them); warden's own 404 for
/// them (`unmatched = "deny"`) gets the policy's global headers.
pub fn prepare(ctx: &mut Ctx<'_>) {
    let Some(headers) = ctx.route_settings.and_then(|s| s.headers.as_ref()) else {
        return;
    };
    // Fresh per request and never stored: instances serve many requests.
    let nonce = headers
        .prepared
        .wants_nonce()
        .then(|| csp::nonce_from_random(&ctx.random(NONCE_BYTES)));
    for (name, value) in headers.prepared.headers(nonce.as_deref()) {
        ctx.to_client.push((name.to_owned(), value.into_bytes()));
    }
    if let Some(nonce) = nonce {
        ctx.to_app
            .push((NONCE_HEADER.to_owned(), nonce.into_bytes()));
    }
}
