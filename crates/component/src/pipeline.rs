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

use crate::rate_limit::{self, Stage};
use crate::{auth, forward, ready, respond, session, settings};
use spin_sdk::wasip3::http::types::{Fields, Request, Response};
use warden_core::config::WardenConfig;
use warden_core::headers::{self, IDENTITY_PREFIX, REQUEST_ID_HEADER};
use warden_core::log;
use warden_core::path::{MatchPath, normalize_path};
use warden_core::policy::Route;
use warden_core::reject::Rejection;
use warden_core::request_id::{format_request_id, is_valid_request_id};

/// The header that tells the inner app which policy route matched.
const ROUTE_HEADER: &str = "x-warden-route";

/// Requests that no policy route matches are forwarded with no layer applied
/// other than the request ID and header hygiene, under this name.
pub const IMPLICIT_ROUTE: &str = "unmatched";

/// Everything one request's layers know and decide. Dropped with the request.
pub struct Ctx<'a> {
    pub config: &'a WardenConfig,
    pub request_id: String,
    /// Upper-case method name.
    pub method: String,
    /// The path as the client sent it (with the query).
    pub raw_path: String,
    /// The normalized path the policy matches on.
    pub path: MatchPath,
    /// The matched route, `None` for [`IMPLICIT_ROUTE`].
    pub route: Option<&'a Route>,
    /// The client's headers as received (names as sent).
    pub incoming: Vec<(String, Vec<u8>)>,
    /// `x-warden-*` headers the layers want the inner app to receive.
    pub to_app: Vec<(String, Vec<u8>)>,
    /// Headers the layers want on the response, whatever its status.
    pub to_client: Vec<(String, Vec<u8>)>,
    /// Wall-clock time when the request arrived, in unix milliseconds.
    pub now_ms: u64,
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
    let mut ctx = Ctx {
        config,
        request_id,
        method,
        raw_path,
        path,
        route,
        incoming,
        to_app: Vec::new(),
        to_client: Vec::new(),
        now_ms: now_ms(),
        identity: None,
        body: None,
    };

    // Security and CORS headers first, so that every answer below carries
    // them; a CORS preflight is answered here, before any rate limit or
    // authentication, and never reaches the app.
    crate::headers::prepare(&mut ctx);
    if let Err(answer) = crate::cors::check(&mut ctx) {
        return answer;
    }

    // Layers. Each either lets the request on (possibly adding headers for
    // the app or the client) or answers it.
    if let Err(refusal) = rate_limit::check(&mut ctx, Stage::BeforeAuth).await {
        return refusal;
    }
    let request = match auth::check(&mut ctx, request).await {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    if let Err(refusal) = rate_limit::check(&mut ctx, Stage::AfterAuth).await {
        return refusal;
    }

    // Session revocation is answered by warden itself, only past the route's
    // layers (the policy requires a worker route for it).
    if ctx.method == "POST" && config.policy.session.revoke_path.as_ref() == Some(&ctx.path) {
        drop(request);
        return session::revoke(&ctx).await;
    }

    let mut to_app = std::mem::take(&mut ctx.to_app);
    to_app.push((
        ROUTE_HEADER.to_owned(),
        ctx.route_name().as_bytes().to_vec(),
    ));
    let outgoing = forward::Outgoing {
        headers: forwarded_headers(&ctx.incoming, &ctx.request_id, to_app),
    };
    let forwarded = match forward::request(request, outgoing) {
        Ok(forwarded) => forwarded,
        Err(e) => {
            ctx.log("forward_failed", &[("error", format!("{e:?}").into())]);
            return ctx.reject(Rejection::BadRequest);
        }
    };

    let inner = match crate::next::handle(forwarded).await {
        Ok(response) => response,
        Err(e) => {
            ctx.log("inner_app_failed", &[("error", format!("{e:?}").into())]);
            return ctx.reject(Rejection::BadGateway);
        }
    };
    let mut headers = response_headers(&inner);
    headers.push((
        REQUEST_ID_HEADER.to_owned(),
        ctx.request_id.as_bytes().to_vec(),
    ));
    // Security headers by their insert modes, CORS, Vary, Cache-Control;
    // the other layers' headers are appended.
    crate::headers::apply_to_app_response(&ctx, &mut headers);
    forward::response(
        inner,
        fields(&headers),
        policy.settings.response_buffer_limit,
    )
    .await
}

/// The response's header fields, made in one host call: the layers edit a
/// plain list in the component, since every `Fields` edit is a call into
/// the host and a response has dozens of them.
fn fields(list: &[(String, Vec<u8>)]) -> Fields {
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
/// a hop, plus the request ID and the layers' `x-warden-*` headers.
fn forwarded_headers(
    incoming: &[(String, Vec<u8>)],
    request_id: &str,
    to_app: Vec<(String, Vec<u8>)>,
) -> Vec<(String, Vec<u8>)> {
    let connection: Vec<&str> = incoming
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .filter_map(|(_, value)| std::str::from_utf8(value).ok())
        .collect();
    let listed = headers::connection_listed(&connection);
    let mut out: Vec<(String, Vec<u8>)> = incoming
        .iter()
        .filter(|(name, _)| !headers::strip_request_header(&name.to_ascii_lowercase(), &listed))
        .cloned()
        .collect();
    out.push((REQUEST_ID_HEADER.to_owned(), request_id.as_bytes().to_vec()));
    debug_assert!(to_app.iter().all(|(n, _)| n.starts_with(IDENTITY_PREFIX)));
    out.extend(to_app);
    out
}

/// The inner app's headers, minus hop-by-hop ones and any request ID of its own.
fn response_headers(inner: &Response) -> Vec<(String, Vec<u8>)> {
    let mut list = inner.get_headers().copy_all();
    list.retain(|(name, _)| {
        let lower = name.to_ascii_lowercase();
        !(headers::strip_response_header(&lower) || lower == REQUEST_ID_HEADER)
    });
    list
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
