//! The request body, read once, whole, when a stage needs its bytes (the
//! signature layer; the lockout layer, for an account in the body;
//! warden's own endpoints behind them read them from `Ctx::body`). Otherwise the body is never read: [`Inbound::Streaming`]
//! hands the client's stream on to [`crate::forward`].

use crate::response::{HeaderList, fields};
use spin_sdk::wasip3::http::types::{Request, Trailers};
#[cfg(any(feature = "signature", feature = "lockout"))]
use spin_sdk::wasip3::{
    http::types::{ErrorCode, RequestOptions},
    wit_bindgen::StreamResult,
    wit_future,
};

/// The client's request as the layers leave it for forwarding.
pub enum Inbound {
    /// Body unread: its stream goes on to the app untouched.
    Streaming(Request),
    #[cfg(any(feature = "signature", feature = "lockout"))]
    /// Body read whole by a layer (signed routes; see [`buffer_request`]).
    Buffered(Buffered),
}

#[cfg(any(feature = "signature", feature = "lockout"))]
/// What is left of a request whose body a layer read whole: the body goes
/// to the app as those bytes (see [`crate::forward::request`]), with the client's options
/// and trailers.
pub struct Buffered {
    pub options: Option<RequestOptions>,
    pub trailers: Option<Trailers>,
}

#[cfg(any(feature = "signature", feature = "lockout"))]
/// How reading a request body ended.
pub enum BodyRead {
    /// The whole body, within the limit, exactly as received.
    Whole(Buffered, Vec<u8>),
    /// More than the limit: reading stopped there, nothing is forwarded.
    TooLarge,
    /// The client's body stream failed.
    Failed(String),
    /// The whole body (and its trailers) did not arrive within the timeout:
    /// reading stopped, nothing is forwarded.
    TimedOut,
}

#[cfg(any(feature = "signature", feature = "lockout"))]
/// Reads `incoming`'s body into memory, refusing at more than `limit` bytes
/// (by the `content-length` the client `declared`, before reading, or while
/// reading), and giving up when the body and its trailers have not all
/// arrived within `timeout` of the call: a client that trickles a body in
/// holds a signed request open no longer than that.
pub async fn buffer_request(
    incoming: Request,
    declared: Option<u64>,
    limit: u64,
    timeout: std::time::Duration,
) -> BodyRead {
    let read = std::pin::pin!(read_body(incoming, declared, limit));
    let timer = std::pin::pin!(crate::host::clock::sleep(timeout));
    // Whichever finishes first; the other is dropped, which cancels the
    // pending stream read or the timer wait in the host.
    match first(read, timer).await {
        First::A(read) => read,
        First::B(()) => BodyRead::TimedOut,
    }
}

#[cfg(any(feature = "signature", feature = "lockout"))]
/// Which of two futures finished first.
enum First<A, B> {
    A(A),
    B(B),
}

#[cfg(any(feature = "signature", feature = "lockout"))]
/// Polls `a` then `b` each time either may progress and returns the first
/// output (a two-way select, so as not to pull in a futures crate).
async fn first<A: std::future::Future, B: std::future::Future>(
    mut a: std::pin::Pin<&mut A>,
    mut b: std::pin::Pin<&mut B>,
) -> First<A::Output, B::Output> {
    use std::task::Poll;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(First::A(out));
        }
        if let Poll::Ready(out) = b.as_mut().poll(cx) {
            return Poll::Ready(First::B(out));
        }
        Poll::Pending
    })
    .await
}

#[cfg(any(feature = "signature", feature = "lockout"))]
async fn read_body(incoming: Request, declared: Option<u64>, limit: u64) -> BodyRead {
    if declared.is_some_and(|len| len > limit) {
        return BodyRead::TooLarge;
    }
    let options = incoming.get_options();
    let (done_tx, done_rx) = wit_future::new::<Result<(), ErrorCode>>(|| Ok(()));
    let (mut contents, trailers) = Request::consume_body(incoming, done_rx);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut body = Vec::with_capacity(declared.map_or(0, |l| l as usize).min(limit));
    loop {
        let room = (limit + 1).saturating_sub(body.len()).clamp(1, 64 * 1024);
        let (result, chunk) = contents.read(Vec::with_capacity(room)).await;
        if body.len() + chunk.len() > limit {
            return BodyRead::TooLarge;
        }
        body.extend_from_slice(&chunk);
        match result {
            StreamResult::Complete(_) => continue,
            StreamResult::Dropped | StreamResult::Cancelled => break,
        }
    }
    drop(contents);
    let trailers = match trailers.await {
        Ok(trailers) => trailers.map(clean_trailers),
        Err(e) => return BodyRead::Failed(format!("{e:?}")),
    };
    // The body was read whole; the default ("done") tells the host so.
    drop(done_tx);
    BodyRead::Whole(Buffered { options, trailers }, body)
}

/// Request trailers minus warden's own names (any `x-warden-*` spelling,
/// `x-request-id`) and hop-by-hop fields, by the same predicate as headers
/// (`warden_core::http::hop_by_hop::strip_request_trailer`). Trailers with nothing to
/// remove are passed on as they are.
pub fn clean_trailers(trailers: Trailers) -> Trailers {
    let list = trailers.copy_all();
    let strip = |name: &str| {
        warden_core::http::hop_by_hop::strip_request_trailer(&name.to_ascii_lowercase())
    };
    if !list.iter().any(|(name, _)| strip(name)) {
        return trailers;
    }
    let kept: HeaderList = list.into_iter().filter(|(name, _)| !strip(name)).collect();
    fields(&kept)
}
