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
//!
//! This module never builds an answer of warden's own: what cannot be
//! forwarded comes back as a typed error (`ErrorCode`, [`BrokenFraming`]),
//! and the pipeline answers it through `respond`, with the headers every
//! answer gets. It also keeps the header hygiene of forwarding
//! ([`forwarded_headers`], [`strip_response_headers`]).

#[cfg(any(feature = "signature", feature = "lockout"))]
use crate::body::Buffered;
use crate::body::{Inbound, clean_trailers};
use crate::response::{Answer, BodyResult, HeaderList, fields, with_body};
use spin_sdk::wasip3::http::types::{
    ErrorCode, Fields, Method, Request, RequestOptions, Response, Scheme,
};
use spin_sdk::wasip3::wit_bindgen::{FutureReader, StreamReader, StreamResult};
use spin_sdk::wasip3::{spawn, wit_future, wit_stream};
use warden_core::http::hop_by_hop::{self, IDENTITY_PREFIX, REQUEST_ID_HEADER};

/// The app's response broke its own framing (a collected body that does not
/// match its `content-length`): it cannot be passed on, and warden answers
/// 502 instead (`respond`, with the headers every answer gets).
#[derive(Debug)]
pub struct BrokenFraming;

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

/// A check on the client's body as it is relayed to the app: called with
/// each chunk before it is passed on, then with `None` at the end of the
/// client's body. An `Err` stops the relay there: the chunk and the rest are
/// not passed on, the client's stream is dropped, and the app's body ends
/// with that error instead of cleanly (the body layer's guard).
pub type Inspect = Box<dyn FnMut(Option<&[u8]>) -> Result<(), ErrorCode>>;

/// Builds the request for the app: `out`'s method, target and headers, the
/// client's request options, and its body — the client's own stream, or the
/// bytes a layer read (`body`), exactly as received — and its trailers, less
/// the fields warden strips from headers ([`clean_trailers`]). With
/// `inspect`, a streamed body is always relayed, each chunk through it.
#[cfg_attr(
    not(any(feature = "signature", feature = "lockout")),
    allow(unused_variables)
)]
pub fn request(
    inbound: Inbound,
    body: Option<Vec<u8>>,
    out: Outgoing,
    inspect: Option<Inspect>,
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
            let (contents, trailers) =
                if inspect.is_none() && content_length(&out.headers).ok().flatten().is_some() {
                    // A length-delimited HTTP/1.1 body cannot carry trailers
                    // (they need chunked coding, and hyper drops a
                    // `content-length` sent next to it), so the client's stream
                    // goes on as it is, read by the app straight from the host.
                    (contents, trailers)
                } else {
                    relayed(contents, trailers, inspect)
                };
            let (outgoing, _transmitted) = Request::new(headers, Some(contents), trailers, options);
            drop(done_tx);
            outgoing
        }
        #[cfg(any(feature = "signature", feature = "lockout"))]
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
/// trailers. With `inspect`, each chunk goes through it before it is
/// written on; its refusal ends the app's body with its error.
fn relayed(
    mut contents: StreamReader<u8>,
    trailers: FutureReader<BodyResult>,
    mut inspect: Option<Inspect>,
) -> (StreamReader<u8>, FutureReader<BodyResult>) {
    let (mut contents_tx, contents_rx) = wit_stream::new::<u8>();
    let (trailers_tx, trailers_rx) = wit_future::new::<BodyResult>(|| Ok(None));
    spawn(async move {
        let mut refused = None;
        loop {
            let (result, chunk) = contents.read(Vec::with_capacity(64 * 1024)).await;
            if let Some(check) = inspect.as_mut()
                && !chunk.is_empty()
                && let Err(e) = check(Some(&chunk))
            {
                refused = Some(e);
                break;
            }
            // Unwritten bytes come back only when the app dropped the body.
            if !chunk.is_empty() && !contents_tx.write_all(chunk).await.is_empty() {
                break;
            }
            match result {
                StreamResult::Complete(_) => continue,
                // The client's body is complete: the last check.
                StreamResult::Dropped => {
                    if let Some(check) = inspect.as_mut() {
                        refused = check(None).err();
                    }
                    break;
                }
                StreamResult::Cancelled => break,
            }
        }
        // Dropping the client's stream ends it in the host, which then
        // settles its trailers future (with none, if the app stopped early).
        drop(contents);
        drop(contents_tx);
        if let Some(e) = refused {
            // Never a clean end for a refused body: the app's read fails.
            // The client's remaining body is not read (docs/hardening.md).
            drop(trailers);
            let _ = trailers_tx.write(Err(e)).await;
            return;
        }
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

/// Passes the inner app's response on with `headers`, whole if its
/// `content-length` is at most `buffer_limit`, streamed otherwise.
///
/// A response to `HEAD`, a 204 and a 304 have no body whatever their
/// `content-length` says (RFC 9110 §9.3.2, §15.3.5, §15.4.5): for them the
/// app may send fewer bytes than announced, and what it sent goes on with
/// its headers unchanged. For any other response, a body that does not
/// match its `content-length` is the app breaking its own framing:
/// [`BrokenFraming`], which the pipeline answers with 502.
///
/// Either way the app's trailers future goes on as it is: warden has no use
/// for trailers, and awaiting and re-sending them would cost two more round
/// trips through the host per request.
pub async fn response(
    inner: Response,
    headers: HeaderList,
    buffer_limit: u64,
    head_request: bool,
) -> Result<Answer, BrokenFraming> {
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
            if ended && framed {
                // `headers` carry the app's `content-length`, now checked.
                Ok(Answer::Written(with_body(
                    status,
                    fields(&headers),
                    body,
                    trailers,
                )))
            } else {
                Err(BrokenFraming)
            }
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
            Ok(Answer::PassedThrough(response))
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

/// The client's headers minus everything warden owns or that must not cross
/// a hop, plus the request ID and the layers' `x-warden-*` headers.
pub fn forwarded_headers(
    incoming: HeaderList,
    request_id: &str,
    to_app: Vec<(String, Vec<u8>)>,
) -> Vec<(String, Vec<u8>)> {
    let connection: Vec<&str> = incoming
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .filter_map(|(_, value)| std::str::from_utf8(value).ok())
        .collect();
    let listed = hop_by_hop::connection_listed(&connection);
    let mut out: HeaderList = incoming
        .into_iter()
        .filter(|(name, _)| !hop_by_hop::strip_request_header(&lowercase(name), &listed))
        .collect();
    out.push((REQUEST_ID_HEADER.to_owned(), request_id.as_bytes().to_vec()));
    debug_assert!(to_app.iter().all(|(n, _)| n.starts_with(IDENTITY_PREFIX)));
    out.extend(to_app);
    out
}

/// Removes the inner app's hop-by-hop headers and any request ID of its own.
pub fn strip_response_headers(list: &mut HeaderList) {
    list.retain(|(name, _)| {
        let lower = lowercase(name);
        !(hop_by_hop::strip_response_header(&lower) || lower == REQUEST_ID_HEADER)
    });
}

/// `name` in lowercase, copied only when it is not already (hosts hand
/// header names over lowercased, so this rarely allocates).
fn lowercase(name: &str) -> std::borrow::Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        name.to_ascii_lowercase().into()
    } else {
        name.into()
    }
}
