//! CSRF for routes that authenticate by cookie: a cross-site browser
//! request with an unsafe method is refused before authentication, judged
//! by the browser's own `Sec-Fetch-Site` and `Origin` headers against the
//! request's own origin and the route's trusted origins.
//!
//! ```
//! use warden_core::http::origin::OriginPattern;
//! use warden_core::layers::csrf::{CsrfGuard, CsrfRequest, CsrfSetting, Reason, check};
//!
//! // On by default where the route's authentication reads a cookie; the
//! // route's CORS origins are trusted.
//! let cors = [OriginPattern::parse("https://app.example.com").unwrap()];
//! let guard = CsrfGuard::for_route(&CsrfSetting::Default, true, &cors).unwrap();
//! assert!(CsrfGuard::for_route(&CsrfSetting::Default, false, &cors).is_none());
//!
//! let request = |site: &'static [u8], origin: &'static [u8]| CsrfRequest {
//!     method: "POST",
//!     sec_fetch_site: if site.is_empty() { vec![] } else { vec![site] },
//!     origin: if origin.is_empty() { vec![] } else { vec![origin] },
//!     authority: Some("api.example.com"),
//!     https: true,
//! };
//! assert!(check(&guard, &request(b"same-origin", b"https://api.example.com")).is_ok());
//! assert!(check(&guard, &request(b"cross-site", b"https://app.example.com")).is_ok());
//! let refused = check(&guard, &request(b"cross-site", b"https://evil.example")).unwrap_err();
//! assert_eq!(refused.reason, Reason::CrossSite);
//! assert_eq!(refused.origin, "https://evil.example");
//! // Neither header: not a browser's cross-site request.
//! assert!(check(&guard, &request(b"", b"")).is_ok());
//! ```
//!
//! The decision, for an unsafe method (not GET, HEAD, OPTIONS, TRACE) on a
//! guarded route, is the table in docs/hardening.md ("CSRF"), modelled on
//! the Fetch Metadata resource-isolation policy and on Go 1.25's
//! `net/http.CrossOriginProtection`.
//!
//! - **Owns:** a route's `csrf` ([`Csrf`]); no section. Which routes are
//!   guarded by default depends on their auth (a cookie-reading mode), so
//!   the configuration builds each route's [`CsrfGuard`] where it sees
//!   every layer's settings (`config::RouteSettings`).
//! - **Ports:** none.
//! - **Answers:** 403 `CSRF_REJECTED` ([`rejection`]).

pub mod config;
pub mod decision;
#[cfg(test)]
mod tests;

pub use config::{Csrf, CsrfGuard, CsrfSetting};
pub use decision::{
    CsrfRefusal, CsrfRequest, REJECTION_BODY, REJECTION_STATUS, Reason, check, is_safe_method,
    rejection,
};
