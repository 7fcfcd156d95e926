//! The per-request pipeline.
//!
//! ```text
//! request id → config → header limits → path + route
//!   → CORS preflight → IP rate limit → authentication → user rate limit
//!   → inner app → response headers (security, CORS, rate limit, request id)
//! ```
//!
//! Cheap checks run before expensive ones (DESIGN §6): the per-IP limit runs
//! before any session lookup or signature check. Every answer, warden's own
//! refusals included ([`Ctx::answer`]), carries the layers' response headers
//! (`Ctx::to_client`), so a 401 or a 429 has the same security, CORS and
//! rate-limit headers as a 200.
//!
//! Nothing here outlives the request: instances serve many requests, some at
//! once (DESIGN §1), so all request state lives in [`Ctx`], dropped with it.

use crate::forward::{Answer, HeaderList};
use crate::rate_limit::{self, Stage};
use crate::{auth, forward, ready, respond, session, settings};
use spin_sdk::wasip3::http::types::{Method, Request, Response, Scheme};
use std::cell::Cell;
use warden_core::config::{RouteSettings, WardenConfig};
use warden_core::headers::{self, IDENTITY_PREFIX, REQUEST_ID_HEADER};
use warden_core::log;
use warden_core::path::{MatchPath, normalize_path_with};
use warden_core::policy::{Route, Unmatched};
use warden_core::reject::Rejection;
use warden_core::request_id::{format_request_id, is_valid_request_id};

/// The header that tells the inner app which policy route matched.
const ROUTE_HEADER: &str = "x-warden-route";

/// Requests that no policy route matches are forwarded with no layer applied
/// other than the request ID and header hygiene, under this name (or, with
/// `[settings] unmatched = "deny"`, answered 404 by warden).
pub const IMPLICIT_ROUTE: &str = "unmatched";

/// Everything one request's layers know and decide. Dropped with the request.
pub struct Ctx<'a> {
    pub config: &'a WardenConfig,
    pub request_id: String,
    /// Upper-case method name.
    pub method: String,
    /// The path as the client sent it (with the query).
    pub raw_path: String,
    /// The request target's scheme and authority, as the host gave them.
    pub scheme: Option<Scheme>,
    pub authority: Option<String>,
    /// The normalized path the policy matches on.
    pub path: MatchPath,
    /// The matched route, `None` for [`IMPLICIT_ROUTE`].
    pub route: Option<&'a Route>,
    /// Its header and CORS settings, merged once at load.
    pub route_settings: Option<&'a RouteSettings>,
    /// The client's headers as received (names as sent).
    pub incoming: Vec<(String, Vec<u8>)>,
    /// `x-warden-*` headers the layers want the inner app to receive.
    pub to_app: Vec<(String, Vec<u8>)>,
    /// Headers the layers want on the response, whatever its status.
    pub to_client: Vec<(String, Vec<u8>)>,
    /// Wall-clock time when a layer first asked, in unix milliseconds (see
    /// [`Ctx::now_ms`]).
    now_ms: Cell<Option<u64>>,
    /// Random bytes fetched along with a generated request ID, for the CSP
    /// nonce (see [`Ctx::random`]): one host call instead of two.
    spare_random: Vec<u8>,
    /// Who the auth layer established the caller to be, if anyone.
    pub identity: Option<Identity>,
    /// The request body, when a layer read it whole (worker signatures), for
    /// warden's own endpoints (session revocation). Read it here, never from
    /// the rebuilt request: a component reading a stream it wrote itself
    /// traps (intra-component streams, wasmtime #12117).
    pub body: Option<Vec<u8>>,
}

/// An authenticated caller, as the auth layers establish it and later layers
/// (user-keyed rate limits, tiers, `Cache-Control`) read it.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The user id (sessions) or the key id (worker signatures).
    pub user_id: String,
    pub roles: Vec<String>,
    /// How it was established: `session` or `worker`.
    pub method: &'static str,
}

impl Ctx<'_> {
    /// The request's time, read from the host's wall clock on first use
    /// only: routes with no rate limit, session or signature never need it.
    pub fn now_ms(&self) -> u64 {
        if let Some(now) = self.now_ms.get() {
            return now;
        }
        let now = now_ms();
        self.now_ms.set(Some(now));
        now
    }

    /// Reads the wall clock again and makes that the request's time from
    /// now on: for layers that waited on the client (a signed body) and
    /// must not decide with the time the headers arrived.
    pub fn refresh_now_ms(&self) -> u64 {
        let now = now_ms();
        self.now_ms.set(Some(now));
        now
    }

    /// `len` fresh random bytes, from what the request ID left over if
    /// there is enough, from the host otherwise.
    pub fn random(&mut self, len: usize) -> Vec<u8> {
        if self.spare_random.len() >= len {
            return self.spare_random.split_off(self.spare_random.len() - len);
        }
        spin_sdk::wasip3::random::random::get_random_bytes(len as u64)
    }

    pub fn route_name(&self) -> &str {
        self.route
            .map(|r| r.name.as_str())
            .unwrap_or(IMPLICIT_ROUTE)
    }

    /// The first incoming header with this (lower-case) name, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.incoming
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// A structured log line carrying this request's id and route.
    pub fn log(&self, kind: &str, fields: &[(&str, serde_json::Value)]) {
        let mut all = vec![
            (
                "request_id",
                serde_json::Value::from(self.request_id.as_str()),
            ),
            ("route", serde_json::Value::from(self.route_name())),
        ];
        // Who was authenticated, by which method: an audit trail without
        // the user id itself (that is the app's to log).
        if let Some(identity) = &self.identity {
            all.push(("auth", serde_json::Value::from(identity.method)));
        }
        all.extend(fields.iter().cloned());
        eprintln!("{}", log::event(kind, &all));
    }

    /// Warden's own refusal, with the response headers every answer gets.
    pub fn reject(&self, rejection: Rejection) -> Response {
        self.answer(rejection.status(), rejection.body())
    }

    /// A JSON answer from warden itself (a layer's own body, such as the
    /// seed's 429), with the response headers every answer gets.
    pub fn answer(&self, status: u16, json: String) -> Response {
        respond::json_with(status, json, &self.request_id, &self.to_client)
    }
}

pub async fn handle(request: Request) -> Answer {
    let incoming = request.get_headers().copy_all();
    let (request_id, spare_random) = request_id(&incoming);

    let loaded = settings::get().await;
    let config = match loaded.as_ref() {
        Ok(config) => config,
        Err(_) => return Answer::Written(respond::reject(Rejection::ConfigInvalid, &request_id)),
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
        return Answer::Written(respond::reject(Rejection::HeaderTooLarge, &request_id));
    }

    let http_method = request.get_method();
    let method = method_name(&http_method);
    let path_with_query = request.get_path_with_query();
    let raw_path = path_with_query.clone().unwrap_or_else(|| "/".to_owned());
    let path = match normalize_path_with(&raw_path, policy.settings.path) {
        Ok(path) => path,
        Err(rejection) => {
            warn(
                "path_rejected",
                &request_id,
                &[("reason", rejection.reason().into())],
            );
            return Answer::Written(respond::reject(Rejection::BadRequest, &request_id));
        }
    };

    // The readiness endpoint, unless the policy turned it off (its path is
    // then like any other). Only GET and HEAD; its route stands for it in
    // the rate limit, which it passes before touching a store.
    let ready_endpoint = policy.ready.as_ref().filter(|ready| ready.is_at(&path));
    if let Some(ready) = ready_endpoint
        && !ready.allows(&method)
    {
        return Answer::Written(respond::json_with(
            405,
            Rejection::MethodNotAllowed.body(),
            &request_id,
            &[(
                "allow".to_owned(),
                warden_core::policy::ready::READY_METHODS
                    .as_bytes()
                    .to_vec(),
            )],
        ));
    }

    let matched = match ready_endpoint {
        Some(_) => None,
        None => policy.match_route(&method, &path),
    };
    let route = ready_endpoint
        .map(|ready| &ready.route)
        .or(matched.map(|(_, route)| route));
    let route_settings = match matched {
        Some((index, _)) => Some(&config.route_settings[index]),
        None if ready_endpoint.is_some() => None,
        // Only with `unmatched = "deny"`: the global headers for the 404.
        None => config.unmatched_settings.as_ref(),
    };
    let mut ctx = Ctx {
        config,
        request_id,
        method,
        raw_path,
        scheme: request.get_scheme(),
        authority: request.get_authority(),
        path,
        route,
        route_settings,
        incoming,
        to_app: Vec::new(),
        to_client: Vec::new(),
        now_ms: Cell::new(None),
        spare_random,
        identity: None,
        body: None,
    };

    if ready_endpoint.is_some() {
        if let Err(refusal) = rate_limit::check(&mut ctx, Stage::BeforeAuth).await {
            return Answer::Written(refusal);
        }
        return Answer::Written(ready::check(&ctx).await);
    }

    // Security and CORS headers first, so that every answer below carries
    // them; a CORS preflight is answered here, before any rate limit or
    // authentication, and never reaches the app.
    crate::headers::prepare(&mut ctx);
    if ctx.route.is_none() && policy.settings.unmatched == Unmatched::Deny {
        ctx.log(
            "unmatched_denied",
            &[("method", ctx.method.as_str().into())],
        );
        return Answer::Written(ctx.reject(Rejection::NotFound));
    }
    if let Err(answer) = crate::cors::check(&mut ctx) {
        return Answer::Written(answer);
    }

    // Layers. Each either lets the request on (possibly adding headers for
    // the app or the client) or answers it.
    if let Err(refusal) = rate_limit::check(&mut ctx, Stage::BeforeAuth).await {
        return Answer::Written(refusal);
    }
    let inbound = match auth::check(&mut ctx, request).await {
        Ok(inbound) => inbound,
        Err(refusal) => return Answer::Written(refusal),
    };
    if let Err(refusal) = rate_limit::check(&mut ctx, Stage::AfterAuth).await {
        return Answer::Written(refusal);
    }

    // Session revocation is answered by warden itself, only past the route's
    // layers (the policy requires a worker route for it).
    if ctx.method == "POST" && config.policy.session.revoke_path.as_ref() == Some(&ctx.path) {
        drop(inbound);
        return Answer::Written(session::revoke(&ctx).await);
    }

    let mut to_app = std::mem::take(&mut ctx.to_app);
    to_app.push((
        ROUTE_HEADER.to_owned(),
        ctx.route_name().as_bytes().to_vec(),
    ));
    let outgoing = forward::Outgoing {
        method: http_method,
        scheme: ctx.scheme.clone(),
        authority: ctx.authority.clone(),
        path_with_query,
        // No layer reads the client's headers past this point.
        headers: forwarded_headers(std::mem::take(&mut ctx.incoming), &ctx.request_id, to_app),
    };
    let forwarded = match forward::request(inbound, ctx.body.take(), outgoing) {
        Ok(forwarded) => forwarded,
        Err(e) => {
            ctx.log("forward_failed", &[("error", format!("{e:?}").into())]);
            return Answer::Written(ctx.reject(Rejection::BadRequest));
        }
    };

    let inner = match crate::next::handle(forwarded).await {
        Ok(response) => response,
        Err(e) => {
            ctx.log("inner_app_failed", &[("error", format!("{e:?}").into())]);
            return Answer::Written(ctx.reject(Rejection::BadGateway));
        }
    };
    let mut headers = inner.get_headers().copy_all();
    // The one check spin-sdk's response conversion made that the host does
    // not, with its messages (warden calls the import directly; see `next`).
    if let Err(e) = forward::content_length(&headers) {
        ctx.log(
            "inner_app_failed",
            &[(
                "error",
                format!(
                    "{:?}",
                    spin_sdk::wasip3::http::types::ErrorCode::InternalError(Some(e))
                )
                .into(),
            )],
        );
        return Answer::Written(ctx.reject(Rejection::BadGateway));
    }
    strip_response_headers(&mut headers);
    headers.push((
        REQUEST_ID_HEADER.to_owned(),
        ctx.request_id.as_bytes().to_vec(),
    ));
    // Security headers by their insert modes, CORS, Vary, Cache-Control;
    // the other layers' headers are appended.
    crate::headers::apply_to_app_response(&ctx, &mut headers);
    let head = ctx.method == "HEAD";
    forward::response(inner, headers, policy.settings.response_buffer_limit, head).await
}

/// Keeps a valid incoming `x-request-id` (the first one), or makes a new one;
/// a new one comes with 16 spare random bytes (for the CSP nonce), fetched
/// in the same host call.
fn request_id(headers: &[(String, Vec<u8>)]) -> (String, Vec<u8>) {
    let kept = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(REQUEST_ID_HEADER))
        .and_then(|(_, value)| std::str::from_utf8(value).ok())
        .filter(|id| is_valid_request_id(id));
    if let Some(id) = kept {
        return (id.to_owned(), Vec::new());
    }
    let mut bytes = spin_sdk::wasip3::random::random::get_random_bytes(32);
    let spare = bytes.split_off(16.min(bytes.len()));
    let mut random = [0u8; 16];
    random[..bytes.len()].copy_from_slice(&bytes);
    (format_request_id(random), spare)
}

/// The client's headers minus everything warden owns or that must not cross
/// a hop, plus the request ID and the layers' `x-warden-*` headers.
fn forwarded_headers(
    incoming: HeaderList,
    request_id: &str,
    to_app: Vec<(String, Vec<u8>)>,
) -> Vec<(String, Vec<u8>)> {
    let connection: Vec<&str> = incoming
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .filter_map(|(_, value)| std::str::from_utf8(value).ok())
        .collect();
    let listed = headers::connection_listed(&connection);
    let mut out: HeaderList = incoming
        .into_iter()
        .filter(|(name, _)| !headers::strip_request_header(&lowercase(name), &listed))
        .collect();
    out.push((REQUEST_ID_HEADER.to_owned(), request_id.as_bytes().to_vec()));
    debug_assert!(to_app.iter().all(|(n, _)| n.starts_with(IDENTITY_PREFIX)));
    out.extend(to_app);
    out
}

/// Removes the inner app's hop-by-hop headers and any request ID of its own.
fn strip_response_headers(list: &mut HeaderList) {
    list.retain(|(name, _)| {
        let lower = lowercase(name);
        !(headers::strip_response_header(&lower) || lower == REQUEST_ID_HEADER)
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

fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other.to_ascii_uppercase(),
    }
}

/// Unix milliseconds from the host's wall clock (the core never reads one).
fn now_ms() -> u64 {
    let now = spin_sdk::wasip3::clocks::system_clock::now();
    (now.seconds.max(0) as u64) * 1000 + u64::from(now.nanoseconds / 1_000_000)
}

/// A log line for a request refused before its context exists.
fn warn(kind: &str, request_id: &str, fields: &[(&str, serde_json::Value)]) {
    let mut all = vec![("request_id", serde_json::Value::from(request_id))];
    all.extend(fields.iter().cloned());
    eprintln!("{}", log::event(kind, &all));
}
