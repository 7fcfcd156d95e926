//! Outbound HTTP: one `GET` through the imported `wasi:http/client@0.3.0`
//! (`send`), for documents warden fetches itself, such as a JWKS from a
//! `jwks_url`.
//!
//! What the host must grant (docs/outbound.md): under Spin 4.1 a middleware
//! has no grants of its own. The URL's origin must be in the **app
//! component's** `allowed_outbound_hosts`, and warden's entry in
//! `dependencies.middleware` must name `"allowed_outbound_hosts"` in its
//! `inherit_configuration`; otherwise `send` fails at once (with
//! `HttpRequestDenied`, or an `InternalError` when nothing is inherited),
//! reported here as [`FetchError::Denied`].
//!
//! What this module guarantees, so that a slow or hostile server never
//! holds a request:
//! - the whole exchange (connect, response head, body) runs under one
//!   deadline ([`DEFAULT_DEADLINE_MS`] unless the caller passes its own);
//!   past it the call is dropped, which cancels the host's subtask
//!   ([`crate::host::deadline::with_deadline`]);
//! - the body is read at most [`MAX_BODY`] bytes (or the caller's limit)
//!   while it streams; one byte more and the fetch fails with
//!   [`FetchError::TooLarge`], whatever `content-length` said;
//! - redirects are not followed: a 3xx comes back as a status like any
//!   other, and the caller treats non-2xx as a failed fetch;
//! - only `http://` and `https://` URLs without userinfo are sent
//!   (`warden_core::http::url`). Whether
//!   plain `http://` is acceptable is the policy's decision (the core's
//!   configuration check), not this module's.
//!
//! No cache lives here: the caller keeps what it fetched in key-value, for
//! [`FetchedBody::max_age`] seconds clamped to its own bounds
//! (`warden_core::http::cache_control`).

// Its one caller is the jwt stage (`jwks_url`): a build without it has none.
#![cfg_attr(not(feature = "jwt"), allow(dead_code))]

use crate::host::deadline::with_deadline;
use spin_sdk::wasip3::http::types::{ErrorCode, Fields, Request, Response, Scheme};
use spin_sdk::wasip3::wit_bindgen::StreamResult;
use spin_sdk::wasip3::wit_future;
use warden_core::http::url::HttpUrl;

/// The deadline of one fetch when the caller has none: 2 s for connect,
/// head and body together.
pub const DEFAULT_DEADLINE_MS: u64 = 2_000;

/// The largest body accepted when the caller has no limit: 64 KiB, far
/// above any real JWKS (a set of ten RSA-4096 keys is about 8 KiB).
pub const MAX_BODY: usize = 64 * 1024;

/// A response that arrived whole within the deadline and the size limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedBody {
    /// The status, as sent (3xx included: redirects are not followed).
    pub status: u16,
    /// The body, at most the limit.
    pub body: Vec<u8>,
    /// The freshness the server granted (`Cache-Control`, all lines
    /// joined), per `warden_core::http::cache_control::max_age`: `Some(0)`
    /// for `no-store`/`no-cache`, `None` when it gave none.
    pub max_age: Option<u64>,
}

/// Why a fetch gave no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The URL is not `http(s)://authority/...`, or carries userinfo.
    InvalidUrl,
    /// The host refused the destination: not in the granted
    /// `allowed_outbound_hosts` (or not inherited by the middleware).
    Denied,
    /// The exchange did not finish within the deadline; it was abandoned.
    Deadline,
    /// The body exceeded the size limit.
    TooLarge,
    /// The host or the server failed (DNS, connect, TLS, protocol...), with
    /// the host's error code.
    Failed(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::InvalidUrl => f.write_str("invalid_url"),
            FetchError::Denied => f.write_str("denied"),
            FetchError::Deadline => f.write_str("deadline"),
            FetchError::TooLarge => f.write_str("too_large"),
            FetchError::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// `GET url` within `deadline_ms` (or [`DEFAULT_DEADLINE_MS`]), the body
/// bounded by `max_body` (or [`MAX_BODY`]).
pub async fn get(
    url: &str,
    deadline_ms: Option<u64>,
    max_body: Option<usize>,
) -> Result<FetchedBody, FetchError> {
    let target = HttpUrl::parse(url).ok_or(FetchError::InvalidUrl)?;
    let limit = max_body.unwrap_or(MAX_BODY);
    let exchange = async move {
        let request = request(&target)?;
        let response = spin_sdk::wasip3::http::client::send(request)
            .await
            .map_err(from_code)?;
        read(response, limit).await
    };
    with_deadline(deadline_ms.unwrap_or(DEFAULT_DEADLINE_MS), exchange)
        .await
        .unwrap_or(Err(FetchError::Deadline))
}

/// Spin 4.1 answers a destination missing from the inherited
/// `allowed_outbound_hosts` with `HttpRequestDenied`, but a middleware that
/// does not inherit `allowed_outbound_hosts` at all gets
/// `InternalError(Some("\"wasi:http/client\" is not permitted"))` from the
/// deny adapter Spin composes in front of it (docs/outbound.md): both are
/// [`FetchError::Denied`].
fn from_code(code: ErrorCode) -> FetchError {
    match code {
        ErrorCode::HttpRequestDenied => FetchError::Denied,
        ErrorCode::InternalError(Some(message)) if message.ends_with("is not permitted") => {
            FetchError::Denied
        }
        other => FetchError::Failed(format!("{other:?}")),
    }
}

/// The response's status, freshness and body, read to the end or to one
/// byte past `limit`.
async fn read(response: Response, limit: usize) -> Result<FetchedBody, FetchError> {
    let status = response.get_status_code();
    let headers = response.get_headers();
    let cache_control = headers
        .get("cache-control")
        .iter()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    let declared = headers
        .get("content-length")
        .first()
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
    drop(headers);
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(FetchError::TooLarge);
    }
    let max_age = if cache_control.is_empty() {
        None
    } else {
        warden_core::http::cache_control::max_age(&cache_control)
    };
    let (done_tx, done_rx) = wit_future::new::<Result<(), ErrorCode>>(|| Ok(()));
    let (mut contents, trailers) = Response::consume_body(response, done_rx);
    let mut body = Vec::with_capacity(declared.map_or(0, |l| l as usize));
    loop {
        let room = (limit + 1).saturating_sub(body.len()).clamp(1, 16 * 1024);
        let (result, chunk) = contents.read(Vec::with_capacity(room)).await;
        if body.len() + chunk.len() > limit {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
        match result {
            StreamResult::Complete(_) => continue,
            StreamResult::Dropped | StreamResult::Cancelled => break,
        }
    }
    drop(contents);
    // A transport error after the last byte (a reset, a broken chunk) shows
    // up here, not as a short read: a truncated document is a failure.
    trailers.await.map_err(from_code)?;
    drop(done_tx);
    Ok(FetchedBody {
        status,
        body,
        max_age,
    })
}

/// A bodiless `GET` for `target`.
fn request(target: &HttpUrl) -> Result<Request, FetchError> {
    let headers = Fields::from_list(&[(
        "accept".to_owned(),
        b"application/jwk-set+json, application/json".to_vec(),
    )])
    .map_err(|e| FetchError::Failed(format!("{e:?}")))?;
    let (_, trailers) = wit_future::new::<Result<Option<Fields>, ErrorCode>>(|| Ok(None));
    let (request, _transmitted) = Request::new(headers, None, trailers, None);
    let scheme = if target.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    request
        .set_scheme(Some(&scheme))
        .and_then(|()| request.set_authority(Some(&target.authority)))
        .and_then(|()| request.set_path_with_query(Some(&target.path_with_query)))
        .map_err(|()| FetchError::InvalidUrl)?;
    Ok(request)
}
