//! Security response headers: the adapter around
//! `warden_core::security_headers`, which makes every decision.
//!
//! [`prepare`] runs right after the route is known: it queues the route's
//! headers in `Ctx::to_client`, so warden's own answers (401, 429, a
//! preflight) carry them too, and hands the inner app a fresh CSP nonce.
//! [`apply_to_app_response`] merges what the layers queued into the app's
//! response: insert modes, removals (`X-Powered-By`, `Server`), `Vary`, and
//! `Cache-Control` for authenticated requests.

use crate::pipeline::Ctx;
use warden_core::security_headers::{self, Edit, NONCE_BYTES, NONCE_HEADER, csp};

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

/// Merges the queued response headers into the app's response headers.
pub fn apply_to_app_response(ctx: &Ctx<'_>, headers: &mut Vec<(String, Vec<u8>)>) {
    let config = ctx
        .route_settings
        .and_then(|s| s.headers.as_ref())
        .map(|h| &h.config);
    let edits = security_headers::app_response_edits(
        config,
        crate::cors::active(ctx),
        &ctx.to_client,
        headers,
        ctx.identity.is_some(),
    );
    // The same edits `Fields` would make (names compare without case), on
    // the component's own list.
    for edit in edits {
        match edit {
            Edit::Delete(name) => headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name)),
            Edit::Set(name, value) => {
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
                headers.push((name, value));
            }
            Edit::Append(name, value) => headers.push((name, value)),
        }
    }
}
