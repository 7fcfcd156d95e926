//! The per-request pipeline: request ID, header hygiene, route match, then the
//! inner app.
//!
//! Nothing here outlives the request: instances serve many requests, some at
//! once (DESIGN §1), so every piece of request state lives in this function's
//! locals and is dropped with them.

use crate::{forward, ready, respond, settings};
use spin_sdk::wasip3::http::types::{Fields, Request, Response};
use warden_core::headers::{self, IDENTITY_PREFIX, REQUEST_ID_HEADER};
use warden_core::log;
use warden_core::path::normalize_path;
use warden_core::policy::{AuthMode, Layer};
use warden_core::reject::Rejection;
use warden_core::request_id::{format_request_id, is_valid_request_id};

/// The header that tells the inner app which policy route matched.
const ROUTE_HEADER: &str = "x-warden-route";

pub async fn handle(request: Request) -> Response {
    let incoming = request.get_headers().copy_all();
    let request_id = request_id(&incoming);

    let loaded = settings::get().await;
    let config = match loaded.as_ref() {
        Ok(config) => config,
        Err(_) => return respond::reject(Rejection::ConfigInvalid, &request_id),
    };
    let policy = &config.policy;

    if let Some((name, len)) = incoming
        .iter()
        .find(|(_, v)| v.len() > policy.settings.max_header_bytes)
        .map(|(n, v)| (n, v.len()))
    {
        warn(
            "header_too_large",
            &request_id,
            &[("header", name.as_str().into()), ("bytes", len.into())],
        );
        return respond::reject(Rejection::HeaderTooLarge, &request_id);
    }

    let method = method_name(&request);
    let raw_path = request
        .get_path_with_query()
        .unwrap_or_else(|| "/".to_owned());
    let path = match normalize_path(&raw_path) {
        Ok(path) => path,
        Err(rejection) => {
            warn(
                "path_rejected",
                &request_id,
                &[("reason", rejection.reason().into())],
            );
            return respond::reject(Rejection::BadRequest, &request_id);
        }
    };

    if path.as_str() == ready::PATH {
        return ready::check(&request_id).await;
    }

    let route = policy.match_route(&method, &path).map(|(_, route)| route);
    let route_name = route.map(|r| r.name.as_str()).unwrap_or(IMPLICIT_ROUTE);

    // Authentication fails closed: until the session and signature layers
    // exist in this build, no identity can be established, so routes that
    // require one are refused rather than served anonymously.
    if let Some(route) = route {
        if matches!(route.auth, AuthMode::Required | AuthMode::Worker) && !route.skips(Layer::Auth)
        {
            warn(
                "auth_failed",
                &request_id,
                &[
                    ("route", route_name.into()),
                    ("reason", "no_verifier".into()),
                ],
            );
            return respond::reject(Rejection::Unauthorized, &request_id);
        }
    }

    let outgoing = forward::Outgoing {
        headers: forwarded_headers(incoming, &request_id, route_name),
    };
    let forwarded = match forward::request(request, outgoing) {
        Ok(forwarded) => forwarded,
        Err(e) => {
            warn(
                "forward_failed",
                &request_id,
                &[("error", format!("{e:?}").into())],
            );
            return respond::reject(Rejection::BadRequest, &request_id);
        }
    };

    let inner = match spin_sdk::http::next(forwarded).await {
        Ok(response) => response,
        Err(e) => {
            warn(
                "inner_app_failed",
                &request_id,
                &[("error", format!("{e:?}").into())],
            );
            return respond::reject(Rejection::BadGateway, &request_id);
        }
    };
    let (_, mut body) = inner.into_parts();
    let Some(inner) = body.take_unstarted() else {
        return respond::reject(Rejection::Internal, &request_id);
    };
    let headers = response_headers(&inner, &request_id);
    forward::response(inner, headers, policy.settings.response_buffer_limit).await
}

/// Requests that no policy route matches are forwarded with no layer applied
/// other than the request ID and header hygiene, under this name.
pub const IMPLICIT_ROUTE: &str = "unmatched";

/// Keeps a valid incoming `x-request-id` (the first one), or makes a new one.
fn request_id(headers: &[(String, Vec<u8>)]) -> String {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(REQUEST_ID_HEADER))
        .and_then(|(_, value)| std::str::from_utf8(value).ok())
        .filter(|id| is_valid_request_id(id))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let bytes = spin_sdk::wasip3::random::random::get_random_bytes(16);
            let mut random = [0u8; 16];
            random.copy_from_slice(&bytes[..16.min(bytes.len())]);
            format_request_id(random)
        })
}

/// The client's headers minus everything warden owns or that must not cross
/// a hop, plus warden's own.
fn forwarded_headers(
    incoming: Vec<(String, Vec<u8>)>,
    request_id: &str,
    route: &str,
) -> Vec<(String, Vec<u8>)> {
    let connection: Vec<&str> = incoming
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .filter_map(|(_, value)| std::str::from_utf8(value).ok())
        .collect();
    let listed = headers::connection_listed(&connection);
    let mut out: Vec<(String, Vec<u8>)> = incoming
        .into_iter()
        .filter(|(name, _)| !headers::strip_request_header(&name.to_ascii_lowercase(), &listed))
        .collect();
    debug_assert!(ROUTE_HEADER.starts_with(IDENTITY_PREFIX));
    out.push((REQUEST_ID_HEADER.to_owned(), request_id.as_bytes().to_vec()));
    out.push((ROUTE_HEADER.to_owned(), route.as_bytes().to_vec()));
    out
}

/// The inner app's headers, minus hop-by-hop ones, plus the request ID.
fn response_headers(inner: &Response, request_id: &str) -> Fields {
    let fields = Fields::new();
    for (name, value) in inner.get_headers().copy_all() {
        let lower = name.to_ascii_lowercase();
        if headers::strip_response_header(&lower) || lower == REQUEST_ID_HEADER {
            continue;
        }
        // The host validated these already; one it still refuses is dropped
        // alone, never the whole set.
        let _ = fields.append(&name, &value);
    }
    let _ = fields.set(REQUEST_ID_HEADER, &[request_id.as_bytes().to_vec()]);
    fields
}

fn method_name(request: &Request) -> String {
    use spin_sdk::wasip3::http::types::Method;
    match request.get_method() {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other,
    }
}

fn warn(kind: &str, request_id: &str, fields: &[(&str, serde_json::Value)]) {
    let mut all = vec![("request_id", serde_json::Value::from(request_id))];
    all.extend(fields.iter().cloned());
    eprintln!("{}", log::event(kind, &all));
}
