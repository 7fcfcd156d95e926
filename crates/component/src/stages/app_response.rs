//! The app's response headers: the step after the inner app answered, run
//! whichever layers are built.
//!
//! Merges what the layers queued in `Ctx::to_client` into the app's own
//! response headers, by `warden_core::layers::security_headers::app_response_edits`:
//! security headers by their insert modes, removals (`X-Powered-By`,
//! `Server`), warden's CORS headers over the app's when CORS is active on
//! the route, `Vary` token by token, `Cache-Control` for authenticated
//! requests, and the other layers' headers (the rate limit's) appended.
//!
//! Reads the route's `headers` settings and `Ctx::cors_active`. No host
//! port. Answers nothing.

use crate::ctx::Ctx;
use crate::forward;
use crate::response::HeaderList;
use warden_core::http::hop_by_hop::REQUEST_ID_HEADER;
use warden_core::layers::security_headers::{self, Edit};

/// The app's response headers as the client gets them: less the app's
/// hop-by-hop headers and any request ID of its own, plus warden's request
/// ID, then what the layers queued merged in ([`merge`]).
pub fn prepare(ctx: &Ctx<'_>, headers: &mut HeaderList) {
    forward::strip_response_headers(headers);
    headers.push((
        REQUEST_ID_HEADER.to_owned(),
        ctx.request_id.as_bytes().to_vec(),
    ));
    // Security headers by their insert modes, CORS, Vary, Cache-Control;
    // the other layers' headers are appended.
    merge(ctx, headers);
}

/// Merges the queued response headers into the app's response headers.
fn merge(ctx: &Ctx<'_>, headers: &mut HeaderList) {
    let config = ctx
        .route_settings
        .and_then(|s| s.headers.as_ref())
        .map(|h| &h.config);
    let edits = security_headers::app_response_edits(
        config,
        ctx.cors_active(),
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
