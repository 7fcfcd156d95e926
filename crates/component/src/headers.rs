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
use warden_core::policy::Layer;
use warden_core::security_headers::{self, Edit, NONCE_BYTES, NONCE_HEADER, csp};

/// Queues the route's security headers for every answer, and gives the app a
/// fresh nonce (`x-warden-csp-nonce`) when the route's CSP asks for one.
/// Requests no route matches get none (README: only the request ID and
/// header hygiene apply to them).
pub fn prepare(ctx: &mut Ctx<'_>) {
    let Some(route) = ctx.route else {
        return;
    };
    if route.skips(Layer::Headers) {
        return;
    }
    let config = ctx.config.policy.headers.for_route(route.headers.as_ref());
    // Fresh per request and never stored: instances serve many requests.
    let nonce = config.wants_nonce().then(fresh_nonce);
    for (name, value) in config.headers(ctx.config.environment, nonce.as_deref()) {
        ctx.to_client.push((name.to_owned(), value.into_bytes()));
    }
    if let Some(nonce) = nonce {
        ctx.to_app
            .push((NONCE_HEADER.to_owned(), nonce.into_bytes()));
    }
}

fn fresh_nonce() -> String {
    let bytes = spin_sdk::wasip3::random::random::get_random_bytes(NONCE_BYTES as u64);
    csp::nonce_from_random(&bytes)
}

/// Merges the queued response headers into the app's response headers.
pub fn apply_to_app_response(ctx: &Ctx<'_>, headers: &mut Vec<(String, Vec<u8>)>) {
    let config = ctx
        .route
        .filter(|route| !route.skips(Layer::Headers))
        .map(|route| ctx.config.policy.headers.for_route(route.headers.as_ref()));
    let edits = security_headers::app_response_edits(
        config.as_deref(),
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
