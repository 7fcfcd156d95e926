//! Building responses in the host's types: header fields in one host call,
//! and the plain response builders both warden's own answers ([`crate::respond`])
//! and the app's collected responses ([`crate::forward`]) use.
//!
//! Nothing here decides what to answer or which headers an answer carries:
//! `respond` does that for warden's answers, `forward` for the app's.

use spin_sdk::wasip3::http::types::{ErrorCode, Fields, Response, Trailers};
use spin_sdk::wasip3::wit_bindgen::{FutureReader, StreamWriter};
use spin_sdk::wasip3::{spawn, wit_future, wit_stream};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};

/// What a body's trailers future resolves to.
pub type BodyResult = Result<Option<Trailers>, ErrorCode>;

/// A response, and who wrote its body: the export must give the host a few
/// turns before returning a body warden wrote (see lib.rs), and none for the
/// app's own body stream passed through.
pub enum Answer {
    /// The app's response body, streamed through untouched.
    PassedThrough(Response),
    /// A body warden wrote: its own answer, or an app's response collected.
    Written(Response),
}

/// Header fields as a plain list: the layers edit these in the component,
/// since every `Fields` edit is a call into the host.
pub type HeaderList = Vec<(String, Vec<u8>)>;

/// The fields for `list`, made in one host call.
pub fn fields(list: &[(String, Vec<u8>)]) -> Fields {
    Fields::from_list(list).unwrap_or_else(|_| {
        // The host validated the app's headers and warden's are its own, so
        // this should not happen; if it does, only the refused one is lost.
        let fields = Fields::new();
        for (name, value) in list {
            let _ = fields.append(name, value);
        }
        fields
    })
}

/// A response of warden's own with a complete body, sent with
/// `content-length` and no trailers.
///
/// The body write and then an explicit "no trailers" are offered before the
/// response is made, as [`offer_before_returning`] explains; measured under
/// Spin, a dropped trailers writer (resolved at once) let the head leave
/// alone more often (`docs/performance.md`).
pub fn whole_response(status: u16, mut headers: HeaderList, body: Vec<u8>) -> Response {
    headers.push(("content-length".into(), body.len().to_string().into_bytes()));
    let (mut contents_tx, contents_rx) = wit_stream::new::<u8>();
    let (trailers_tx, trailers_rx) = wit_future::new::<BodyResult>(|| Ok(None));
    let write = Box::pin(async move {
        if !body.is_empty() {
            let _ = contents_tx.write_all(body).await;
        }
        drop(contents_tx);
        let _ = trailers_tx.write(Ok(None)).await;
    });
    poll_once_then_spawn(write);
    let (response, _transmitted) = Response::new(fields(&headers), Some(contents_rx), trailers_rx);
    let _ = response.set_status_code(status);
    response
}

#[cfg(feature = "cors")]
/// A response of warden's own with no body at all (a 204).
pub fn empty_response(status: u16, headers: &[(String, Vec<u8>)]) -> Response {
    let (_, trailers) = wit_future::new::<BodyResult>(|| Ok(None));
    let (response, _transmitted) = Response::new(fields(headers), None, trailers);
    let _ = response.set_status_code(status);
    response
}

/// A response carrying `body` whole and whatever `trailers` resolves to;
/// `headers` already say the body's length. The write is offered before the
/// response exists (see [`offer_before_returning`]); nothing else waits on
/// the host (the transmission result is the host's to report).
pub fn with_body(
    status: u16,
    headers: Fields,
    body: Vec<u8>,
    trailers: FutureReader<BodyResult>,
) -> Response {
    let (contents_tx, contents_rx) = wit_stream::new::<u8>();
    if !body.is_empty() {
        offer_before_returning(contents_tx, body);
    }
    let (response, _transmitted) = Response::new(headers, Some(contents_rx), trailers);
    let _ = response.set_status_code(status);
    response
}

/// Starts writing `body` to `contents` now, and lets a spawned task finish
/// the write.
///
/// Why: Spin's HTTP server sends the head as soon as the response is
/// returned. If the body is not ready at that moment it leaves as a second
/// small write, which Nagle's algorithm holds back until the client's
/// delayed ACK (Spin does not set `TCP_NODELAY`): about 40 ms per response
/// on keep-alive connections. A task spawned in an export runs only after
/// the export has returned, too late; a write offered before the response
/// is made is pending when the host starts reading.
fn offer_before_returning(mut contents: StreamWriter<u8>, body: Vec<u8>) {
    poll_once_then_spawn(Box::pin(async move {
        let _ = contents.write_all(body).await;
    }));
}

/// Polls `task` once now (which issues its first stream or future write)
/// and spawns the rest. The spawned task polls it again, which registers
/// the waker that finishes it, so this first poll's waker is never needed.
fn poll_once_then_spawn(mut task: Pin<Box<dyn Future<Output = ()>>>) {
    let mut cx = Context::from_waker(Waker::noop());
    if task.as_mut().poll(&mut cx).is_pending() {
        spawn(task);
    }
}
