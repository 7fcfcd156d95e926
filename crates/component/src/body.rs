//! The request body, read once, whole, when a stage needs its bytes (the
//! signature layer; the lockout layer, for an account in the body;
//! warden's own endpoints behind them read them from `Ctx::body`). Otherwise the body is never read: [`Inbound::Streaming`]
//! hands the client's stream on to [`crate::forward`].

use crate::response::{HeaderList, fields};
use spin_sdk::wasip3::http::types::{Request, Trailers};
#[cfg(feature = "buffered-body")]
use spin_sdk::wasip3::{
    http::types::{ErrorCode, RequestOptions},
    wit_bindgen::StreamResult,
    wit_future,
};

/// The client's request as the layers leave it for forwarding.
pub enum Inbound {
    /// Body unread: its stream goes on to the app untouched.
    Streaming(Request),
    #[cfg(feature = "buffered-body")]
    /// Body read whole by a layer (signed routes; see [`buffer_request`]).
    Buffered(Buffered),
}

#[cfg(feature = "buffered-body")]
/// What is left of a request whose body a layer read whole: the body goes
/// to the app as those bytes (see [`crate::forward::request`]), with the client's options
/// and trailers.
pub struct Buffered {
    pub options: Option<RequestOptions>,
    pub trailers: Option<Trailers>,
}

#[cfg(feature = "buffered-body")]
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

#[cfg(feature = "buffered-body")]
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
    // The same race as every store call and the app's timeout
    // (`host::deadline`): whichever finishes first; the other is dropped,
    // which cancels the pending stream read or the timer wait in the host.
    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    match crate::host::deadline::with_deadline(ms, read_body(incoming, declared, limit)).await {
        Some(read) => read,
        None => BodyRead::TimedOut,
    }
}

#[cfg(feature = "buffered-body")]
async fn read_body(incoming: Request, declared: Option<u64>, limit: u64) -> BodyRead {
    if declared.is_some_and(|len| len > limit) {
        return BodyRead::TooLarge;
    }
    let options = incoming.get_options();
    let (done_tx, done_rx) = wit_future::new::<Result<(), ErrorCode>>(|| Ok(()));
    let (mut contents, trailers) = Request::consume_body(incoming, done_rx);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    // The declared length is the client's word, not bytes received: reserve
    // at most one read's worth up front. Reserving all of it (up to a
    // route's 1 GiB `body.limit`) let a few heads with a large
    // `content-length` and no body exhaust the instance's memory, and an
    // allocation failure traps the instance with every request on it.
    let reserve = declared.map_or(0, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let mut body = Vec::with_capacity(reserve.min(limit).min(64 * 1024));
    loop {
        let room = (limit + 1).saturating_sub(body.len()).clamp(1, 64 * 1024);
        let (result, chunk) = contents.read(Vec::with_capacity(room)).await;
        // Growing may still fail when concurrent bodies have the memory:
        // refuse this one rather than trap the instance.
        if body.len() + chunk.len() > limit || body.try_reserve(chunk.len()).is_err() {
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
