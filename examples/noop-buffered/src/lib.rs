//! The benchmark's second floor: a middleware that changes nothing but, like
//! any middleware that must run well under Spin, collects a small response
//! with a known `content-length` and sends it on whole (DESIGN §1: streamed
//! pass-through stalls 20–45 ms per request on keep-alive connections there).
//! Warden does exactly this on its buffered path, so this is the hop plus the
//! rebuild that warden cannot avoid; its own layers are measured above it.

use spin_sdk::wasip3::http::types::{ErrorCode, Request, Response};
use spin_sdk::wasip3::wit_bindgen::StreamResult;
use spin_sdk::wasip3::{spawn, wit_future, wit_stream};

/// Responses up to this size are collected (warden's default buffer limit).
const BUFFER_LIMIT: u64 = 64 * 1024;

struct NoopBuffered;

spin_sdk::wasip3::http::service::export!(NoopBuffered);

impl spin_sdk::wasip3::exports::http::handler::Guest for NoopBuffered {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let response = spin_sdk::http::next(request).await?;
        let (_, mut body) = response.into_parts();
        let inner = body
            .take_unstarted()
            .ok_or_else(|| ErrorCode::InternalError(Some("response body already read".into())))?;
        let length = inner
            .get_headers()
            .get("content-length")
            .first()
            .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
        match length {
            Some(len) if len <= BUFFER_LIMIT => Ok(whole(inner, len).await),
            _ => Ok(inner),
        }
    }
}

/// Reads `inner`'s body (`len` bytes) and returns a new response carrying
/// it, in the fewest host round trips: the app's trailers future is passed
/// on as it is, and only the body write waits for the host.
async fn whole(inner: Response, len: u64) -> Response {
    let status = inner.get_status_code();
    let headers = inner.get_headers().clone();
    let (_, done_rx) = wit_future::new::<Result<(), ErrorCode>>(|| Ok(()));
    let (mut contents, trailers) = Response::consume_body(inner, done_rx);
    let mut body = Vec::with_capacity(len as usize);
    loop {
        let (result, chunk) = contents.read(Vec::with_capacity(len as usize + 1)).await;
        body.extend_from_slice(&chunk);
        if !matches!(result, StreamResult::Complete(_)) || body.len() as u64 > len {
            break;
        }
    }
    drop(contents);
    let (mut body_tx, body_rx) = wit_stream::new::<u8>();
    let (response, _) = Response::new(headers, Some(body_rx), trailers);
    let _ = response.set_status_code(status);
    spawn(async move {
        let _ = body_tx.write_all(body).await;
    });
    response
}
