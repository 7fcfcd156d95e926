//! Warden's own answers: fixed status codes and public JSON bodies.
//!
//! The body never carries detail (that goes to the log); the request ID is in
//! the `x-request-id` header so a user can quote it to an operator.

use crate::forward;
use spin_sdk::wasip3::http::types::{Fields, Response};
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
    let headers = Fields::new();
    for (name, value) in extra {
        let _ = headers.append(name, value);
    }
    // These names and values are static or validated, so `append` cannot fail;
    // a failure would only drop a header, never trap.
    let _ = headers.append("content-type", b"application/json");
    let _ = headers.append("cache-control", b"no-store");
    let _ = headers.append(
        warden_core::headers::REQUEST_ID_HEADER,
        request_id.as_bytes(),
    );
    forward::whole_response(status, headers, body.into_bytes(), None)
}

/// The response for a [`Rejection`].
pub fn reject(rejection: Rejection, request_id: &str) -> Response {
    json(rejection.status(), rejection.body(), request_id)
}
