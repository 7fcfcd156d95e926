//! Every answer warden gives itself: JSON refusals and answers, the 502 for
//! an app that failed, the empty 204 of a CORS preflight.
//!
//! Once a request has a [`Ctx`], every answer carries the headers its layers
//! queued for every answer (`Ctx::to_client`: security, CORS, rate-limit
//! headers) and the request ID, whatever its status: a 401, a 429 or a 502
//! has the same security, CORS and rate-limit headers as a 200. Only the
//! answers given before the context exists (configuration invalid, a header
//! too large, a bad path, a wrong method on the readiness endpoint) have the
//! request ID alone: the `early_` functions.
//!
//! The body never carries detail (that goes to the log); the request ID is in
//! the `x-request-id` header so a user can quote it to an operator.

use crate::ctx::Ctx;
#[cfg(feature = "cors")]
use crate::response::empty_response;
use crate::response::whole_response;
use spin_sdk::wasip3::http::types::Response;
use warden_core::base::denial::{Denial, Rejection};
use warden_core::http::hop_by_hop::REQUEST_ID_HEADER;

/// Warden's own refusal, from any layer (a [`Rejection`] of the shared
/// catalogue, the seed's 429, a signature failure, a CORS refusal: all one
/// [`Denial`]), with the response headers every answer gets.
pub fn deny(ctx: &Ctx<'_>, denial: impl Into<Denial>) -> Response {
    let Denial { status, body } = denial.into();
    json(ctx, status, body)
}

/// A JSON answer from warden itself that is not a refusal (the readiness
/// probe's, revocation's), with the response headers every answer gets.
pub fn json(ctx: &Ctx<'_>, status: u16, body: String) -> Response {
    json_with(status, body, &ctx.request_id, &ctx.to_client)
}

/// An answer of another media type (idempotency's problem+json), with the
/// response headers every answer gets and then `extra`.
#[cfg(feature = "idempotency")]
pub fn typed(
    ctx: &Ctx<'_>,
    status: u16,
    content_type: &str,
    body: String,
    extra: &[(String, Vec<u8>)],
) -> Response {
    let mut headers = ctx.to_client.clone();
    headers.extend_from_slice(extra);
    typed_with(status, content_type, body, &ctx.request_id, &headers)
}

#[cfg(feature = "cors")]
/// The 204 for a CORS preflight: no body, so no `content-length` or
/// `content-type` (RFC 9110 §8.6), and the headers every answer gets, then
/// the preflight's own (`cors_headers`).
pub fn preflight(
    ctx: &Ctx<'_>,
    status: u16,
    cors_headers: Vec<(&'static str, String)>,
) -> Response {
    let mut headers = ctx.to_client.clone();
    headers.extend(
        cors_headers
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.into_bytes())),
    );
    headers.retain(|(name, _)| !name.eq_ignore_ascii_case(REQUEST_ID_HEADER));
    headers.push((
        REQUEST_ID_HEADER.to_owned(),
        ctx.request_id.as_bytes().to_vec(),
    ));
    empty_response(status, &headers)
}

/// A refusal before the request has a context: the request ID only.
pub fn early_deny(rejection: Rejection, request_id: &str) -> Response {
    json_with(rejection.status(), rejection.body(), request_id, &[])
}

/// A JSON answer before the request has a context, with `extra` headers
/// (the readiness endpoint's `allow`).
pub fn early_json_with(
    status: u16,
    body: String,
    request_id: &str,
    extra: &[(String, Vec<u8>)],
) -> Response {
    json_with(status, body, request_id, extra)
}

/// A JSON response with the given status, built whole with its
/// `content-length` (never streamed: see DESIGN §1 on the streaming stall),
/// with `extra` first.
fn json_with(status: u16, body: String, request_id: &str, extra: &[(String, Vec<u8>)]) -> Response {
    typed_with(status, "application/json", body, request_id, extra)
}

/// [`json_with`] for any media type.
fn typed_with(
    status: u16,
    content_type: &str,
    body: String,
    request_id: &str,
    extra: &[(String, Vec<u8>)],
) -> Response {
    let mut headers = Vec::with_capacity(extra.len() + 4);
    headers.extend_from_slice(extra);
    headers.push(("content-type".into(), content_type.as_bytes().to_vec()));
    headers.push(("cache-control".into(), b"no-store".to_vec()));
    headers.push((REQUEST_ID_HEADER.into(), request_id.as_bytes().to_vec()));
    whole_response(status, headers, body.into_bytes())
}
