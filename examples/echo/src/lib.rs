//! The demo's inner app: it answers every request with `200` and a JSON
//! description of exactly what reached it, so that users and tests can see
//! what warden forwarded (headers added, headers stripped, body size and
//! SHA-256).
//!
//! ```text
//! $ curl -s localhost:3000/api/x?a=1 -H 'x-warden-user-id: spoof'
//! {"method":"GET","path":"/api/x","query":"a=1","headers":{…},"trailers":{},"body_len":0,"body_sha256":"e3b0…"}
//! ```
//!
//! Test knobs (request headers, all optional; a real app has none of these):
//! - `x-echo-fail: error` makes the handler return an error code instead of a
//!   response; `x-echo-fail: trap` makes it trap (abort the instance).
//! - `x-echo-delay-ms: N` waits N ms (at most 30 s) before answering.
//! - `x-echo-size: N` answers with a body of N bytes (at most 16 MiB) with a
//!   `content-length`; `x-echo-stream: N` sends N bytes in 4 KiB chunks with
//!   no `content-length` (an unbounded, streamed body);
//!   `x-echo-stream-pause-ms: N` pauses N ms (at most 30 s) after its first
//!   chunk, as an app whose body stalls after its head.
//! - `x-echo-omit-body: 1` announces the JSON's `content-length` but sends no
//!   body, as frameworks answer `HEAD`.
//! - `x-echo-header: Name: value` (repeatable) adds that header to the JSON
//!   answer, as an app setting its own `Server` or CSP would.
//! - `x-echo-status: NNN` answers the JSON with status NNN (200 to 599)
//!   instead of 200, as a login that failed answers 401; any other value is
//!   ignored.

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use serde_json::{Map, Value, json};
use spin_sdk::http::{BoxBody, FullBody, Request, Response, box_body};
use spin_sdk::http_service;
use spin_sdk::wasip3::http::types::ErrorCode;

const MAX_SIZE: usize = 16 * 1024 * 1024;
const MAX_DELAY_MS: u64 = 30_000;

#[http_service]
async fn handle(req: Request) -> Result<Response<BoxBody>, ErrorCode> {
    let knob = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    match knob("x-echo-fail").as_deref() {
        Some("error") => {
            return Err(ErrorCode::InternalError(Some("echo: asked to fail".into())));
        }
        Some("trap") => std::process::abort(),
        _ => {}
    }
    if let Some(ms) = knob("x-echo-delay-ms").and_then(|v| v.parse::<u64>().ok()) {
        let ns = ms.min(MAX_DELAY_MS) * 1_000_000;
        spin_sdk::wasip3::clocks::monotonic_clock::wait_for(ns).await;
    }
    let size = knob("x-echo-size").and_then(|v| v.parse::<usize>().ok());
    let omit_body = knob("x-echo-omit-body").is_some();
    let extra_headers: Vec<(String, String)> = req
        .headers()
        .get_all("x-echo-header")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .filter(|(n, v)| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
                && v.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        })
        .collect();
    let stream = knob("x-echo-stream").and_then(|v| v.parse::<usize>().ok());
    let pause_ns = knob("x-echo-stream-pause-ms")
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |ms| ms.min(MAX_DELAY_MS) * 1_000_000);
    let status = knob("x-echo-status")
        .and_then(|v| v.parse::<u16>().ok())
        .filter(|s| (200..=599).contains(s))
        .unwrap_or(200);

    let headers = field_map(req.headers());
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let collected = req
        .into_body()
        .collect()
        .await
        .map_err(|e| ErrorCode::InternalError(Some(format!("echo: body: {e:?}"))))?;
    // The request's trailers, if the client sent any and they got through.
    let trailers = collected.trailers().map(field_map).unwrap_or_default();
    let body = collected.to_bytes();

    if let Some(n) = stream {
        let n = n.min(MAX_SIZE);
        let chunks = (0..n.div_ceil(4096)).map(move |i| {
            let len = (n - i * 4096).min(4096);
            Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::from(vec![b'x'; len])))
        });
        let chunks = futures_util::StreamExt::then(
            futures_util::stream::iter(chunks.enumerate()),
            move |(i, chunk)| async move {
                if i == 1 && pause_ns > 0 {
                    spin_sdk::wasip3::clocks::monotonic_clock::wait_for(pause_ns).await;
                }
                chunk
            },
        );
        let body = StreamBody::new(chunks);
        return Ok(Response::builder()
            .status(200)
            .header("content-type", "application/octet-stream")
            .body(box_body(body))
            .expect("static response parts are valid"));
    }
    if let Some(n) = size {
        let n = n.min(MAX_SIZE);
        return Ok(Response::builder()
            .status(200)
            .header("content-type", "application/octet-stream")
            .header("content-length", n.to_string())
            .body(box_body(FullBody::new(Bytes::from(vec![b'x'; n]))))
            .expect("static response parts are valid"));
    }

    let echo = json!({
        "method": method,
        "path": path,
        "query": query,
        "headers": headers,
        "trailers": trailers,
        "body_len": body.len(),
        // So a test can check the body arrived byte for byte, not only its length.
        "body_sha256": sha256_hex(&body),
    });
    let bytes = Bytes::from(echo.to_string());
    let length = bytes.len();
    // As frameworks answer HEAD: the length of the body a GET would get, no body.
    let bytes = if omit_body { Bytes::new() } else { bytes };
    let mut builder = Response::builder().status(status);
    for (name, value) in &extra_headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    Ok(builder
        .header("content-type", "application/json")
        .header("content-length", length.to_string())
        .body(box_body(FullBody::new(bytes)))
        .expect("static response parts are valid"))
}

/// Header or trailer fields as a JSON object; repeated fields are reported
/// as one list, as HTTP allows.
fn field_map(fields: &spin_sdk::http::HeaderMap) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in fields {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match map.get_mut(name.as_str()) {
            Some(Value::String(first)) => {
                first.push_str(", ");
                first.push_str(&value);
            }
            _ => {
                map.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    map
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
