//! Moving requests and responses through warden without copying what it
//! does not need to read.
//!
//! A request body with a `content-length` is handed to the inner app as the
//! same stream the client opened; one that may carry trailers is relayed
//! chunk by chunk so that they can be cleaned (see `relayed`). Either way
//! warden never buffers a body unless a layer needs the bytes. The app's
//! response is streamed through by default: its body stream goes to the host
//! untouched. (Under real Spin this is also the fast path: see
//! `docs/performance.md` on the 44 ms stall that collecting a response and
//! sending it on whole used to cause.) `[settings] response_buffer_limit`
//! opts in to collecting small responses whole, to answer 502 when an app's
//! body breaks its own `content-length`.

use spin_sdk::wasip3::http::types::{
    ErrorCode, Fields, Method, Request, RequestOptions, Response, Scheme, Trailers,
};
use spin_sdk::wasip3::wit_bindgen::{FutureReader, StreamReader, StreamResult, StreamWriter};
use spin_sdk::wasip3::{spawn, wit_future, wit_stream};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};

type BodyResult = Result<Option<Trailers>, ErrorCode>;

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

/// What the pipeline decided to send to the inner app. Method and target are
/// the ones the pipeline already read from the request, so they are not
/// fetched from the host twice.
pub struct Outgoing {
    pub method: Method,
    pub scheme: Option<Scheme>,
    pub authority: Option<String>,
    pub path_with_query: Option<String>,
    pub headers: HeaderList,
}

/// The client's request as the layers leave it for forwarding.
pub enum Inbound {
    /// Body unread: its stream goes on to the app untouched.
    Streaming(Request),
    /// Body read whole by a layer (signed routes; see [`buffer_request`]).
    Buffered(Buffered),
}

/// Builds the request for the app: `out`'s method, target and headers, the
/// client's request options, and its body — the client's own stream, or the
/// bytes a layer read (`body`), exactly as received — and its trailers, less
/// the fields warden strips from headers ([`clean_trailers`]).
pub fn request(
    inbound: Inbound,
    body: Option<Vec<u8>>,
    out: Outgoing,
) -> Result<Request, ErrorCode> {
    let headers = Fields::from_list(&out.headers)
        .map_err(|e| ErrorCode::InternalError(Some(format!("forwarded headers: {e:?}"))))?;
    let outgoing = match inbound {
        Inbound::Streaming(incoming) => {
            let options: Option<RequestOptions> = incoming.get_options();
            let (done_tx, done_rx) = wit_future::new::<Result<(), ErrorCode>>(|| Ok(()));
            let (contents, trailers) = Request::consume_body(incoming, done_rx);
            // Both ends of the transfer report are dropped: the host hears
            // "done" (the default) at once instead of a task of warden's
            // waiting for the app to finish reading, one host round trip per
            // request saved. The app reads the client's stream itself, so it
            // still sees any error in it.
            let (contents, trailers) = if content_length(&out.headers).ok().flatten().is_some() {
                // A length-delimited HTTP/1.1 body cannot carry trailers
                // (they need chunked coding, and hyper drops a
                // `content-length` sent next to it), so the client's stream
                // goes on as it is, read by the app straight from the host.
                (contents, trailers)
            } else {
                relayed(contents, trailers)
            };
            let (outgoing, _transmitted) = Request::new(headers, Some(contents), trailers, options);
            drop(done_tx);
            outgoing
        }
        Inbound::Buffered(Buffered { options, trailers }) => {
            let body = body.unwrap_or_default();
            let (mut contents_tx, contents_rx) = wit_stream::new::<u8>();
            let (trailers_tx, trailers_rx) = wit_future::new::<BodyResult>(|| Ok(None));
            let (outgoing, _transmitted) =
                Request::new(headers, Some(contents_rx), trailers_rx, options);
            spawn(async move {
                if !body.is_empty() {
                    let _ = contents_tx.write_all(body).await;
                }
                drop(contents_tx);
                // Unwritten, the writer sends its default: no trailers.
                if trailers.is_some() {
                    let _ = trailers_tx.write(Ok(trailers)).await;
                }
            });
            outgoing
        }
    };
    set_target(
        &outgoing,
        &out.method,
        out.scheme,
        out.authority,
        out.path_with_query,
    )
    .map_err(|what| ErrorCode::InternalError(Some(format!("forwarded {what}"))))?;
    Ok(outgoing)
}

/// The client's body and trailers, passed through a task of warden's so
/// that the trailers can be cleaned ([`clean_trailers`]) on the way.
///
/// Passing the client's stream on untouched is not enough: the host then
/// hands the app the client's body *with its trailers* and ignores the
/// trailers future warden supplies (wasmtime-wasi-http unwraps a host body
/// stream it gets back). So each chunk is read and written on as it comes,
/// one chunk at a time (never the whole body), and the trailers, which
/// arrive after the last byte, are cleaned before the app sees them. A
/// request without a body costs the task one read and one wait on the
/// trailers.
fn relayed(
    mut contents: StreamReader<u8>,
    trailers: FutureReader<BodyResult>,
) -> (StreamReader<u8>, FutureReader<BodyResult>) {
    let (mut contents_tx, contents_rx) = wit_stream::new::<u8>();
    let (trailers_tx, trailers_rx) = wit_future::new::<BodyResult>(|| Ok(None));
    spawn(async move {
        loop {
            let (result, chunk) = contents.read(Vec::with_capacity(64 * 1024)).await;
            // Unwritten bytes come back only when the app dropped the body.
            if !chunk.is_empty() && !contents_tx.write_all(chunk).await.is_empty() {
                break;
            }
            match result {
                StreamResult::Complete(_) => continue,
                StreamResult::Dropped | StreamResult::Cancelled => break,
            }
        }
        // Dropping the client's stream ends it in the host, which then
        // settles its trailers future (with none, if the app stopped early).
        drop(contents);
        drop(contents_tx);
        match trailers.await {
            // Unwritten, the writer sends its default: no trailers.
            Ok(None) => drop(trailers_tx),
            Ok(Some(fields)) => {
                let _ = trailers_tx.write(Ok(Some(clean_trailers(fields)))).await;
            }
            Err(e) => {
                let _ = trailers_tx.write(Err(e)).await;
            }
        }
    });
    (contents_rx, trailers_rx)
}

/// Request trailers minus warden's own names (any `x-warden-*` spelling,
/// `x-request-id`) and hop-by-hop fields, by the same predicate as headers
/// (`warden_core::headers::strip_request_trailer`). Trailers with nothing to
/// remove are passed on as they are.
fn clean_trailers(trailers: Trailers) -> Trailers {
    let list = trailers.copy_all();
    let strip =
        |name: &str| warden_core::headers::strip_request_trailer(&name.to_ascii_lowercase());
    if !list.iter().any(|(name, _)| strip(name)) {
        return trailers;
    }
    let kept: HeaderList = list.into_iter().filter(|(name, _)| !strip(name)).collect();
    fields(&kept)
}

/// Sets what differs from a new request's defaults (GET, and no scheme,
/// authority or path): each setter is a call into the host. Spin forbids
/// `host` on a forwarded request; the authority carries it.
fn set_target(
    request: &Request,
    method: &Method,
    scheme: Option<Scheme>,
    authority: Option<String>,
    path_with_query: Option<String>,
) -> Result<(), &'static str> {
    if !matches!(method, Method::Get) {
        request.set_method(method).map_err(|()| "method")?;
    }
    if scheme.is_some() {
        request.set_scheme(scheme.as_ref()).map_err(|()| "scheme")?;
    }
    if authority.is_some() {
        request
            .set_authority(authority.as_deref())
            .map_err(|()| "authority")?;
    }
    if path_with_query.is_some() {
        request
            .set_path_with_query(path_with_query.as_deref())
            .map_err(|()| "path")?;
    }
    Ok(())
}

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
fn with_body(
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

/// Passes the inner app's response on with `headers`, whole if its
/// `content-length` is at most `buffer_limit`, streamed otherwise.
///
/// A response to `HEAD`, a 204 and a 304 have no body whatever their
/// `content-length` says (RFC 9110 §9.3.2, §15.3.5, §15.4.5): for them the
/// app may send fewer bytes than announced, and what it sent goes on with
/// its headers unchanged. For any other response, a body that does not
/// match its `content-length` is the app breaking its own framing: 502.
///
/// Either way the app's trailers future goes on as it is: warden has no use
/// for trailers, and awaiting and re-sending them would cost two more round
/// trips through the host per request.
pub async fn response(
    inner: Response,
    headers: HeaderList,
    buffer_limit: u64,
    head_request: bool,
) -> Answer {
    let status = inner.get_status_code();
    let bodiless = head_request || status == 204 || status == 304;
    let length = content_length(&headers).ok().flatten();
    let (done_tx, done_rx) = wit_future::new::<Result<(), ErrorCode>>(|| Ok(()));
    let (mut contents, trailers) = Response::consume_body(inner, done_rx);

    match length {
        Some(len) if len <= buffer_limit => {
            let mut body = Vec::with_capacity(len as usize);
            let ended = loop {
                let room = (len as usize + 1).saturating_sub(body.len()).max(1);
                let (result, chunk) = contents.read(Vec::with_capacity(room.min(64 * 1024))).await;
                body.extend_from_slice(&chunk);
                match result {
                    StreamResult::Complete(_) if body.len() as u64 <= len => continue,
                    // More bytes than announced: the app broke its own
                    // framing; stop reading rather than pass on a lie.
                    StreamResult::Complete(_) => break false,
                    StreamResult::Dropped => break true,
                    StreamResult::Cancelled => break false,
                }
            };
            drop(contents);
            // The app's body was taken whole: its writer learns so now.
            drop(done_tx);
            let framed = body.len() as u64 == len || (bodiless && (body.len() as u64) < len);
            Answer::Written(if ended && framed {
                // `headers` carry the app's `content-length`, now checked.
                with_body(status, fields(&headers), body, trailers)
            } else {
                crate::respond::reject(
                    warden_core::reject::Rejection::BadGateway,
                    &request_id(&headers),
                )
            })
        }
        _ => {
            let (response, transmitted) = Response::new(fields(&headers), Some(contents), trailers);
            let _ = response.set_status_code(status);
            // Streamed: tell the app how the transfer to the client ended,
            // once it has.
            spawn(async move {
                let result = transmitted.await;
                let _ = done_tx.write(result).await;
            });
            Answer::PassedThrough(response)
        }
    }
}

/// The response's `content-length`: none, or one non-negative integer, as
/// spin-sdk's response conversion required (with its messages, which end up
/// in the log).
pub fn content_length(headers: &[(String, Vec<u8>)]) -> Result<Option<u64>, String> {
    let mut values = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map(|(_, value)| value);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("multiple content-length values".into());
    }
    let value = std::str::from_utf8(value).map_err(|e| e.to_string())?;
    let value: i64 = value
        .parse()
        .map_err(|e: std::num::ParseIntError| e.to_string())?;
    u64::try_from(value).map(Some).map_err(|e| e.to_string())
}

fn request_id(headers: &[(String, Vec<u8>)]) -> String {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(warden_core::headers::REQUEST_ID_HEADER))
        .and_then(|(_, v)| String::from_utf8(v.clone()).ok())
        .unwrap_or_default()
}

/// What is left of a request whose body a layer read whole: the body goes
/// to the app as those bytes (see [`request`]), with the client's options
/// and trailers.
pub struct Buffered {
    options: Option<RequestOptions>,
    trailers: Option<Trailers>,
}

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
    let timer = std::pin::pin!(spin_sdk::time::sleep(timeout));
    // Whichever finishes first; the other is dropped, which cancels the
    // pending stream read or the timer wait in the host.
    match first(read, timer).await {
        First::A(read) => read,
        First::B(()) => BodyRead::TimedOut,
    }
}

/// Which of two futures finished first.
enum First<A, B> {
    A(A),
    B(B),
}

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
