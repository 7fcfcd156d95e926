//! The benchmark's floor for warden's opt-in buffered mode
//! (`[settings] response_buffer_limit > 0`): a middleware that changes
//! nothing but collects a small response with a known `content-length` and
//! sends it on whole, written the way warden writes it (the body write
//! offered before the response is made, three turns back to the host
//! before returning) so that under Spin head and body leave in one write instead
//! of stalling ~40 ms on a delayed ACK (docs/performance.md). It is the hop
//! plus the copy that collecting costs; warden's own layers are measured
//! above it.

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
            Some(len) if len <= BUFFER_LIMIT => {
                let response = whole(inner, len).await;
                // Three turns back to the host, as warden gives (its lib.rs).
                for _ in 0..3 {
                    spin_sdk::wasip3::wit_bindgen::yield_async().await;
                }
                Ok(response)
            }
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
    let mut write = Box::pin(async move {
        let _ = body_tx.write_all(body).await;
    });
    // Issue the write now; the spawned task finishes it.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if write.as_mut().poll(&mut cx).is_pending() {
        spawn(write);
    }
    let (response, _) = Response::new(headers, Some(body_rx), trailers);
    let _ = response.set_status_code(status);
    response
}
