//! One request's context: what its layers know and decide, below every
//! layer. It imports no stage and builds no answer (that is
//! [`crate::respond`]'s, which reads the headers queued here).
//!
//! Nothing here outlives the request: instances serve many requests, some at
//! once (DESIGN §1), so all request state lives in [`Ctx`], dropped with it.

#[cfg(any(
    feature = "rate-limit",
    feature = "session",
    feature = "signature",
    feature = "api-key",
    feature = "jwt",
    feature = "idempotency",
    feature = "lockout"
))]
use crate::host::clock;
use crate::host::random;
use crate::security_events::{self, Origin};
use spin_sdk::wasip3::http::types::Scheme;
use std::cell::Cell;
use std::net::IpAddr;
use warden_core::base::identity::Identity;
use warden_core::base::log;
use warden_core::base::security_event::{address_prefix, is_security_event};
use warden_core::config::{RouteSettings, WardenConfig};
use warden_core::http::hop_by_hop::REQUEST_ID_HEADER;
use warden_core::http::path::MatchPath;
use warden_core::http::request_id::{format_request_id, is_valid_request_id};
use warden_core::policy::Route;

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
    #[cfg_attr(not(feature = "signature"), allow(dead_code))]
    pub raw_path: String,
    /// The request target's scheme and authority, as the host gave them.
    pub scheme: Option<Scheme>,
    pub authority: Option<String>,
    /// The normalized path the policy matches on.
    #[cfg_attr(
        not(any(feature = "cors", feature = "rate-limit", feature = "session")),
        allow(dead_code)
    )]
    pub path: MatchPath,
    /// The matched route, `None` for [`IMPLICIT_ROUTE`].
    pub route: Option<&'a Route>,
    /// Its header and CORS settings, merged once at load.
    pub route_settings: Option<&'a RouteSettings>,
    /// The client's headers as received (names as sent).
    pub incoming: Vec<(String, Vec<u8>)>,
    /// The client's address as the policy resolves it (`[rate_limit]
    /// client_ip`), read once at the start: security events name its prefix,
    /// also after the headers have gone on to the app.
    pub client_ip: Option<IpAddr>,
    /// `x-warden-*` headers the layers want the inner app to receive.
    pub to_app: Vec<(String, Vec<u8>)>,
    /// Headers the layers want on the response, whatever its status.
    pub to_client: Vec<(String, Vec<u8>)>,
    /// Wall-clock time when a layer first asked, in unix milliseconds (see
    /// [`Ctx::now_ms`]). `None` at construction.
    #[cfg_attr(
        not(any(
            feature = "rate-limit",
            feature = "session",
            feature = "signature",
            feature = "api-key",
            feature = "jwt",
            feature = "idempotency",
            feature = "lockout"
        )),
        allow(dead_code)
    )]
    pub(crate) now_ms: Cell<Option<u64>>,
    /// Random bytes fetched along with a generated request ID, for the CSP
    /// nonce (see [`Ctx::random`]): one host call instead of two. Set at
    /// construction from [`request_id`].
    #[cfg_attr(not(feature = "security-headers"), allow(dead_code))]
    pub(crate) spare_random: Vec<u8>,
    /// Who the auth layer established the caller to be, if anyone.
    pub identity: Option<Identity>,
    /// The request body, when a layer read it whole (worker signatures, a
    /// login route's account), for
    /// warden's own endpoints (session revocation). Read it here, never from
    /// the rebuilt request: a component reading a stream it wrote itself
    /// traps (intra-component streams, wasmtime #12117).
    pub body: Option<Vec<u8>>,
}

impl Ctx<'_> {
    /// The request's time, read from the host's wall clock on first use
    /// only: routes with no rate limit, session or signature never need it.
    #[cfg(any(
        feature = "rate-limit",
        feature = "session",
        feature = "signature",
        feature = "api-key",
        feature = "jwt",
        feature = "idempotency",
        feature = "lockout"
    ))]
    pub fn now_ms(&self) -> u64 {
        if let Some(now) = self.now_ms.get() {
            return now;
        }
        let now = clock::now_ms();
        self.now_ms.set(Some(now));
        now
    }

    /// Reads the wall clock again and makes that the request's time from
    /// now on: for layers that waited on the client (a signed body) and
    /// must not decide with the time the headers arrived.
    #[cfg(feature = "signature")]
    pub fn refresh_now_ms(&self) -> u64 {
        let now = clock::now_ms();
        self.now_ms.set(Some(now));
        now
    }

    /// `len` fresh random bytes, from what the request ID left over if
    /// there is enough, from the host otherwise.
    #[cfg(feature = "security-headers")]
    pub fn random(&mut self, len: usize) -> Vec<u8> {
        if self.spare_random.len() >= len {
            return self.spare_random.split_off(self.spare_random.len() - len);
        }
        random::bytes(len)
    }

    pub fn route_name(&self) -> &str {
        self.route
            .map(|r| r.name.as_str())
            .unwrap_or(IMPLICIT_ROUTE)
    }

    /// Whether warden handles CORS for the request's route (so the app's own
    /// `Access-Control-*` headers give way to warden's).
    pub fn cors_active(&self) -> bool {
        self.route_settings.is_some_and(|s| s.cors.is_some())
    }

    /// The first incoming header with this (lower-case) name, as text.
    #[cfg(any(feature = "cors", feature = "rate-limit", feature = "signature"))]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.incoming
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// A structured log line carrying this request's id and route. A kind
    /// in the core's security-event catalogue becomes a security event
    /// ([`security_events`]): marked, with the client's address prefix, and
    /// sampled.
    pub fn log(&self, kind: &str, fields: &[(&str, serde_json::Value)]) {
        let security = is_security_event(kind);
        let mut all = Vec::with_capacity(fields.len() + 3);
        if !security {
            // A security event's head has these (and more) already.
            all.push((
                "request_id",
                serde_json::Value::from(self.request_id.as_str()),
            ));
            all.push(("route", serde_json::Value::from(self.route_name())));
        }
        // Who was authenticated, by which method: an audit trail without
        // the user id itself (that is the app's to log).
        if let Some(identity) = &self.identity {
            all.push(("auth", serde_json::Value::from(identity.method.as_str())));
        }
        all.extend(fields.iter().cloned());
        if !security {
            eprintln!("{}", log::event(kind, &all));
            return;
        }
        let user_agent = self
            .incoming
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
            .and_then(|(_, v)| std::str::from_utf8(v).ok());
        let origin = Origin {
            request_id: Some(&self.request_id),
            route: self.route_name(),
            client: self.client_prefix(),
            user_agent,
            // For the table's `user_id` column only, never the line.
            user_id: self.identity.as_ref().map(|i| i.user_id.as_str()),
        };
        security_events::emit(kind, origin, &all);
    }

    /// The client's address prefix, as security events name it.
    pub fn client_prefix(&self) -> Option<String> {
        self.client_ip.map(address_prefix)
    }
}

/// Keeps a valid incoming `x-request-id` (the first one), or makes a new one;
/// a new one comes with 16 spare random bytes (for the CSP nonce), fetched
/// in the same host call.
pub fn request_id(headers: &[(String, Vec<u8>)]) -> (String, Vec<u8>) {
    let kept = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(REQUEST_ID_HEADER))
        .and_then(|(_, value)| std::str::from_utf8(value).ok())
        .filter(|id| is_valid_request_id(id));
    if let Some(id) = kept {
        return (id.to_owned(), Vec::new());
    }
    let mut bytes = random::bytes(32);
    let spare = bytes.split_off(16.min(bytes.len()));
    let mut random = [0u8; 16];
    random[..bytes.len()].copy_from_slice(&bytes);
    (format_request_id(random), spare)
}

/// A log line for a request refused before its context exists, or logged
/// after it is gone. A security event takes its route and client prefix
/// from the fields `route` and `client`, when given.
pub fn log_early(kind: &str, request_id: &str, fields: &[(&str, serde_json::Value)]) {
    if is_security_event(kind) {
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| v.as_str())
        };
        let origin = Origin {
            request_id: Some(request_id),
            route: field("route").unwrap_or(IMPLICIT_ROUTE),
            client: field("client").map(str::to_owned),
            user_agent: None,
            user_id: None,
        };
        security_events::emit(kind, origin, fields);
        return;
    }
    let mut all = vec![("request_id", serde_json::Value::from(request_id))];
    all.extend(fields.iter().cloned());
    eprintln!("{}", log::event(kind, &all));
}
