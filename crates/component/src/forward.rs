//! Moving requests and responses through warden without copying what it
//! does not need to read.
//!
//! The request body is handed to the inner app as the same stream the client
//! opened: warden never buffers it unless a layer needs the bytes. Responses
//! take one of two paths (DESIGN §1): a small response with a known
//! `content-length` is collected and sent on whole, because a streamed
//! pass-through stalls 20–45 ms per request on keep-alive connections under
//! real Spin; anything larger or of unknown length is streamed through.

use spin_sdk::wasip3::http::types::{
    ErrorCode, Fields, Request, RequestOptions, Response, Scheme, Trailers,
};
use spin_sdk::wasip3::wit_bindgen::StreamResult;
use spin_sdk::wasip3::{spawn, wit_future, wit_stream};

type BodyResult = Result<Option<Trailers>, ErrorCode>;

/// What the pipeline decided to send to the inner app.
pub struct Outgoing {
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Rebuilds `incoming` with new headers, keeping method, target, options and
/// the body stream, so the body flows from the client to the app untouched.
pub fn request(incoming: Request, out: Outgoing) -> Result<Request, ErrorCode> {
    let method = incoming.get_method();
    let scheme: Option<Scheme> = incoming.get_scheme();
    let authority = incoming.get_authority();
    let path = incoming.get_path_with_query();
    let options: Option<RequestOptions> = incoming.get_options();
    let headers = Fields::from_list(&out.headers)
        .map_err(|e| ErrorCode::InternalError(Some(format!("forwarded headers: {e:?}"))))?;

    let (done_tx, done_rx) = wit_future::new::<Result<(), ErrorCode>>(|| Ok(()));
    let (contents, trailers) = Request::consume_body(incoming, done_rx);
    let (outgoing, transmitted) = Request::new(headers, Some(contents), trailers, options);
    // Tell the client side how the transfer to the app ended, once it has.
    spawn(async move {
        let result = transmitted.await;
        let _ = done_tx.write(result).await;
    });

    let invalid = |what: &str| ErrorCode::InternalError(Some(format!("forwarded {what}")));
    outgoing
        .set_method(&method)
        .map_err(|()| invalid("method"))?;
    outgoing
        .set_scheme(scheme.as_ref())
        .map_err(|()| invalid("scheme"))?;
    // Spin forbids `host` on the forwarded request; the authority carries it.
    outgoing
        .set_authority(authority.as_deref())
        .map_err(|()| invalid("authority"))?;
    outgoing
        .set_path_with_query(path.as_deref())
        .map_err(|()| invalid("path"))?;
    Ok(outgoing)
}

/// A response with a complete, known body: sent with `content-length`.
pub fn whole_response(
    status: u16,
    headers: Fields,
    body: Vec<u8>,
    trailers: Option<Trailers>,
) -> Response {
    let _ = headers.set("content-length", &[body.len().to_string().into_bytes()]);
    let (mut contents_tx, contents_rx) = wit_stream::new::<u8>();
    let (trailers_tx, trailers_rx) = wit_future::new::<BodyResult>(|| Ok(None));
    let (response, transmitted) = Response::new(headers, Some(contents_rx), trailers_rx);
    let _ = response.set_status_code(status);
    spawn(async move {
        if !body.is_empty() {
            let _ = contents_tx.write_all(body).await;
        }
        drop(contents_tx);
        let _ = trailers_tx.write(Ok(trailers)).await;
        let _ = transmitted.await;
    });
    response
}

/// Passes the inner app's response on with `headers`, whole if its
/// `content-length` is at most `buffer_limit`, streamed otherwise.
pub async fn response(inner: Response, headers: Fields, buffer_limit: u64) -> Response {
    let status = inner.get_status_code();
    let length = content_length(&headers);
    let (done_tx, done_rx) = wit_future::new::<Result<(), ErrorCode>>(|| Ok(()));
    let (mut contents, trailers) = Response::consume_body(inner, done_rx);

    match length {
        Some(len) if len <= buffer_limit => {
            let mut body = Vec::with_capacity(len as usize);
            loop {
                let room = (len as usize + 1).saturating_sub(body.len()).max(1);
                let (result, chunk) = contents.read(Vec::with_capacity(room.min(64 * 1024))).await;
                body.extend_from_slice(&chunk);
                match result {
                    StreamResult::Complete(_) if body.len() as u64 <= len => continue,
                    // More bytes than announced: the app broke its own
                    // framing; stop reading rather than pass on a lie.
                    StreamResult::Complete(_) => break,
                    StreamResult::Dropped | StreamResult::Cancelled => break,
                }
            }
            drop(contents);
            let trailers = trailers.await;
            drop(done_tx);
            match trailers {
                Ok(trailers) if body.len() as u64 == len => {
                    whole_response(status, headers, body, trailers)
                }
                _ => crate::respond::reject(
                    warden_core::reject::Rejection::BadGateway,
                    &request_id(&headers),
                ),
            }
        }
        _ => {
            let (response, transmitted) = Response::new(headers, Some(contents), trailers);
            let _ = response.set_status_code(status);
            spawn(async move {
                let result = transmitted.await;
                let _ = done_tx.write(result).await;
            });
            response
        }
    }
}

fn content_length(headers: &Fields) -> Option<u64> {
    let values = headers.get("content-length");
    match values.as_slice() {
        [one] => std::str::from_utf8(one).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn request_id(headers: &Fields) -> String {
    headers
        .get(warden_core::headers::REQUEST_ID_HEADER)
        .first()
        .and_then(|v| String::from_utf8(v.clone()).ok())
        .unwrap_or_default()
}

/// A request whose body was read whole, to be verified and then sent on
/// with exactly these bytes (see [`buffer_request`], [`rebuilt_request`]).
pub struct Buffered {
    method: spin_sdk::wasip3::http::types::Method,
    scheme: Option<Scheme>,
    authority: Option<String>,
    path: Option<String>,
    options: Option<RequestOptions>,
    headers: Vec<(String, Vec<u8>)>,
    trailers: Option<Trailers>,
    /// The body exactly as received.
    pub body: Vec<u8>,
}

/// How reading a request body ended.
pub enum BodyRead {
    /// The whole body, within the limit.
    Whole(Buffered),
    /// More than the limit: reading stopped there, nothing is forwarded.
    TooLarge,
    /// The client's body stream failed.
    Failed(String),
}

/// Reads `incoming`'s body into memory, refusing at more than `limit` bytes
/// (by its `content-length` before reading, or while reading).
pub async fn buffer_request(incoming: Request, limit: u64) -> BodyRead {
    let headers = incoming.get_headers().copy_all();
    let declared = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .filter_map(|(_, v)| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok())
        .max();
    if declared.is_some_and(|len| len > limit) {
        return BodyRead::TooLarge;
    }
    let method = incoming.get_method();
    let scheme = incoming.get_scheme();
    let authority = incoming.get_authority();
    let path = incoming.get_path_with_query();
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
        Ok(trailers) => trailers,
        Err(e) => return BodyRead::Failed(format!("{e:?}")),
    };
    let _ = done_tx.write(Ok(())).await;
    BodyRead::Whole(Buffered {
        method,
        scheme,
        authority,
        path,
        options,
        headers,
        trailers,
        body,
    })
}

/// The request again, with its original headers and a complete in-memory
/// body of the same bytes, so later code (and the app) can read it as usual.
pub fn rebuilt_request(buffered: Buffered) -> Result<Request, ErrorCode> {
    let headers = Fields::new();
    for (name, value) in &buffered.headers {
        // One header the host refuses (a forbidden one) is dropped alone.
        let _ = headers.append(name, value);
    }
    let (mut contents_tx, contents_rx) = wit_stream::new::<u8>();
    let (trailers_tx, trailers_rx) = wit_future::new::<BodyResult>(|| Ok(None));
    let (request, transmitted) =
        Request::new(headers, Some(contents_rx), trailers_rx, buffered.options);
    let invalid = |what: &str| ErrorCode::InternalError(Some(format!("rebuilt {what}")));
    request
        .set_method(&buffered.method)
        .map_err(|()| invalid("method"))?;
    request
        .set_scheme(buffered.scheme.as_ref())
        .map_err(|()| invalid("scheme"))?;
    request
        .set_authority(buffered.authority.as_deref())
        .map_err(|()| invalid("authority"))?;
    request
        .set_path_with_query(buffered.path.as_deref())
        .map_err(|()| invalid("path"))?;
    let (body, trailers) = (buffered.body, buffered.trailers);
    spawn(async move {
        if !body.is_empty() {
            let _ = contents_tx.write_all(body).await;
        }
        drop(contents_tx);
        let _ = trailers_tx.write(Ok(trailers)).await;
        let _ = transmitted.await;
    });
    Ok(request)
}
