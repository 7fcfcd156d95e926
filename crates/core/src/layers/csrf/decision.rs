//! The CSRF decision for one request, as a plain function of its method,
//! its `Sec-Fetch-Site` and `Origin` field values and its own authority.

use crate::base::denial::Denial;
use crate::http::origin::Origin;

use super::config::CsrfGuard;

/// The status of a refused cross-site request.
pub const REJECTION_STATUS: u16 = 403;
/// Its body: names the class of refusal, never the origin (that is logged).
pub const REJECTION_BODY: &str =
    r#"{"error":{"code":"CSRF_REJECTED","message":"Cross-site request refused"}}"#;
/// Longest origin a refusal carries for the log.
pub const LOGGED_ORIGIN_CHARS: usize = 200;

/// A refused cross-site request.
pub fn rejection() -> Denial {
    Denial {
        status: REJECTION_STATUS,
        body: REJECTION_BODY.to_string(),
    }
}

/// What the check reads of one request.
#[derive(Debug, Clone)]
pub struct CsrfRequest<'a> {
    /// The method, upper-case.
    pub method: &'a str,
    /// Every `Sec-Fetch-Site` field line, as received.
    pub sec_fetch_site: Vec<&'a [u8]>,
    /// Every `Origin` field line, as received.
    pub origin: Vec<&'a [u8]>,
    /// The request's own authority (`host[:port]`), as the host gave it.
    pub authority: Option<&'a str>,
    /// Whether the request reached warden over HTTPS. Behind a proxy that
    /// ends TLS this is false while the browser's origin says `https`, so
    /// the scheme is compared only when it is known to be `https`.
    pub https: bool,
}

/// Why a request was refused, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `Sec-Fetch-Site: cross-site` from an origin not trusted.
    CrossSite,
    /// `Sec-Fetch-Site: same-site` (a sibling subdomain) not trusted.
    SameSite,
    /// A `Sec-Fetch-Site` value the Fetch Metadata spec does not define.
    UnknownSecFetchSite,
    /// More than one `Sec-Fetch-Site` line: no browser sends that.
    RepeatedSecFetchSite,
    /// More than one `Origin` line: no browser sends that.
    RepeatedOrigin,
    /// `Origin: null` (sandboxed frames, `file:`, cross-origin redirects):
    /// an opaque origin that can never be shown to be this one.
    NullOrigin,
    /// An `Origin` that is not `scheme://host[:port]`.
    MalformedOrigin,
    /// No `Sec-Fetch-Site` (an older browser) and an `Origin` that is
    /// neither the request's own nor trusted.
    OriginMismatch,
}

impl Reason {
    /// The `reason` field of the `csrf_refused` log line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::CrossSite => "cross_site",
            Reason::SameSite => "same_site",
            Reason::UnknownSecFetchSite => "unknown_sec_fetch_site",
            Reason::RepeatedSecFetchSite => "repeated_sec_fetch_site",
            Reason::RepeatedOrigin => "repeated_origin",
            Reason::NullOrigin => "null_origin",
            Reason::MalformedOrigin => "malformed_origin",
            Reason::OriginMismatch => "origin_mismatch",
        }
    }
}

/// A refusal: why, and the request's first `Origin` (lossy UTF-8, cut to
/// [`LOGGED_ORIGIN_CHARS`]; empty when none) for the log. An origin is
/// not a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfRefusal {
    pub reason: Reason,
    pub origin: String,
}

impl From<CsrfRefusal> for Denial {
    fn from(_: CsrfRefusal) -> Denial {
        rejection()
    }
}

/// Methods that never change state (RFC 9110 §9.2.1), so never checked.
/// An app that changes state on a GET is not protected by this layer.
pub fn is_safe_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

/// The check on a guarded route: `Ok` lets the request on.
///
/// 1. A safe method passes.
/// 2. Two `Sec-Fetch-Site` or two `Origin` lines are refused.
/// 3. `Sec-Fetch-Site: same-origin` or `none` (the user's own navigation)
///    passes; `same-site`, `cross-site` or an unknown value passes only
///    from a trusted `Origin`.
/// 4. Without `Sec-Fetch-Site` (browsers before 2023, or not a browser):
///    no `Origin` passes, since no browser's cross-site unsafe request
///    lacks both, and a client that is not a browser sends no cookie a
///    victim's browser attached; `null` or a malformed `Origin` is
///    refused; the request's own origin or a trusted one passes; any
///    other is refused.
pub fn check(guard: &CsrfGuard, request: &CsrfRequest<'_>) -> Result<(), CsrfRefusal> {
    if is_safe_method(request.method) {
        return Ok(());
    }
    let logged: String = request
        .origin
        .first()
        .map(|v| {
            String::from_utf8_lossy(v)
                .chars()
                .take(LOGGED_ORIGIN_CHARS)
                .collect()
        })
        .unwrap_or_default();
    let refuse = |reason| {
        Err(CsrfRefusal {
            reason,
            origin: logged.clone(),
        })
    };
    if request.sec_fetch_site.len() > 1 {
        return refuse(Reason::RepeatedSecFetchSite);
    }
    let origin = match request.origin.as_slice() {
        [] => None,
        [one] => Some(*one),
        _ => return refuse(Reason::RepeatedOrigin),
    };
    if let Some(site) = request.sec_fetch_site.first() {
        let reason = match trim(site) {
            b"same-origin" | b"none" => return Ok(()),
            b"same-site" => Reason::SameSite,
            b"cross-site" => Reason::CrossSite,
            _ => Reason::UnknownSecFetchSite,
        };
        return match origin.map(parse_origin) {
            Some(Ok(origin)) if trusted(guard, &origin) => Ok(()),
            _ => refuse(reason),
        };
    }
    let Some(origin) = origin else {
        return Ok(());
    };
    let origin = match parse_origin(origin) {
        Ok(origin) => origin,
        Err(reason) => return refuse(reason),
    };
    if is_own(&origin, request) || trusted(guard, &origin) {
        return Ok(());
    }
    refuse(Reason::OriginMismatch)
}

/// A field value without the optional whitespace around it.
fn trim(value: &[u8]) -> &[u8] {
    value.trim_ascii()
}

/// An `Origin` value: `null` and anything that is not an origin refused.
fn parse_origin(value: &[u8]) -> Result<Origin, Reason> {
    let text = std::str::from_utf8(trim(value)).map_err(|_| Reason::MalformedOrigin)?;
    if text == "null" {
        return Err(Reason::NullOrigin);
    }
    Origin::parse(text).map_err(|_| Reason::MalformedOrigin)
}

fn trusted(guard: &CsrfGuard, origin: &Origin) -> bool {
    guard.trusted.iter().any(|p| p.matches(origin))
}

/// Whether `origin` is the request's own: the same host and port as the
/// request's authority (read with the origin's scheme, so a default port
/// written out still matches). The scheme is compared only when the
/// request is known to be HTTPS: an `http:` page then does not pass for
/// the `https:` site. Behind a proxy that ends TLS warden sees `http` and
/// compares host and port only, as Go's `CrossOriginProtection` does.
fn is_own(origin: &Origin, request: &CsrfRequest<'_>) -> bool {
    let Some(authority) = request.authority else {
        return false;
    };
    if request.https && origin.scheme() != "https" {
        return false;
    }
    Origin::parse(&format!("{}://{authority}", origin.scheme())).is_ok_and(|own| own == *origin)
}
