//! Warden's own answers: fixed status codes and public JSON bodies.
//!
//! The body never carries detail (that goes to the log); the request ID is in
//! the `x-request-id` header so a user can quote it to an operator.

use crate::forward;
use spin_sdk::wasip3::http::types::Response;
use warden_core::reject::Rejection;

/// A JSON response with the given status, built whole with its
/// `content-length` (never streamed: see DESIGN §1 on the streaming stall).
pub fn json(status: u16, body: String, request_id: &str) -> Response {
    json_with(status, body, request_id, &[])
}

/// [`json`] plus the headers the layers queued for every answer.
pub fn json_with(
    status: u16,
    body: String,
    request_id: &str,
    extra: &[(String, Vec<u8>)],
) -> Response {
    let mut headers = Vec::with_capacity(extra.len() + 4);
    headers.extend_from_slice(extra);
    headers.push(("content-type".into(), b"application/json".to_vec()));
    headers.push(("cache-control".into(), b"no-store".to_vec()));
    headers.push((
        warden_core::headers::REQUEST_ID_HEADER.into(),
        request_id.as_bytes().to_vec(),
    ));
    forward::whole_response(status, headers, body.into_bytes())
}

/// The response for a [`Rejection`].
pub fn reject(rejection: Rejection, request_id: &str) -> Response {
    json(rejection.status(), rejection.body(), request_id)
}
