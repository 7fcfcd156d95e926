//! Security response headers: seed 000's "Security Headers Middleware", plus
//! what OWASP's Secure Headers project and helmet recommend today.
//!
//! ```
//! use warden_core::config::Environment;
//! use warden_core::base::overlay::TableSection;
//! use warden_core::layers::security_headers::HeadersConfig;
//!
//! let defaults = HeadersConfig::default();
//! let headers = defaults.headers(Environment::Production, None);
//! let get = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
//! assert_eq!(get("x-frame-options"), Some("DENY"));
//! assert_eq!(get("strict-transport-security"), Some("max-age=31536000; includeSubDomains"));
//! // HSTS only in production.
//! let dev = defaults.headers(Environment::Development, None);
//! assert!(dev.iter().all(|(n, _)| *n != "strict-transport-security"));
//!
//! // A policy's [headers] table: CSP directives merge per directive.
//! let table: toml::Value = toml::from_str(r#"
//!     content_security_policy = { preset = "stripe", directives = { img-src = ["'self'"] } }
//!     x_frame_options = false
//! "#).unwrap();
//! let mut problems = Vec::new();
//! let config = HeadersConfig::parse_section(Some(&table), "headers", &mut problems);
//! assert!(problems.is_empty());
//! let csp = config.csp.as_ref().unwrap().render(None);
//! assert!(csp.contains("script-src 'self' https://js.stripe.com; style-src 'self' 'unsafe-inline'; img-src 'self';"));
//! assert_eq!(config.x_frame_options, None);
//! ```
//!
//! A policy configures the headers globally (`[headers]`) and per route (a
//! route's `headers` table is merged over the global one, key by key). Each
//! header has an insert mode: `override` replaces what the inner app set,
//! `fill` only adds the header when the app did not set it
//! ([`HeaderKey::default_mode`] lists the defaults).
//!
//! - **Owns:** `[headers]` and a route's `headers` ([`SecurityHeaders`]).
//! - **Ports:** none; the component draws the CSP nonce from the host's
//!   random source.
//! - **Answers:** nothing of its own. Its headers go on every answer,
//!   warden's refusals included.

pub mod csp;
pub(crate) mod parse;
mod prepared;
mod response;

pub use parse::SecurityHeaders;
pub use prepared::Prepared;
pub use response::{Edit, app_response_edits};

use crate::base::environment::Environment;
use crate::base::overlay::Section;
use csp::Csp;

/// The request header that carries the CSP nonce to the inner app, so that it
/// can put `nonce="…"` on its `<script>` tags.
pub const NONCE_HEADER: &str = "x-warden-csp-nonce";
/// Random bytes per nonce (128 bits, as CSP recommends at least).
pub const NONCE_BYTES: usize = 16;

/// HSTS's default `max-age`: one year (seed 000).
pub const HSTS_DEFAULT_MAX_AGE: u32 = 31_536_000;
/// The seed's Permissions-Policy: these features are denied to everyone.
pub const PERMISSIONS_DEFAULT: &[&str] = &["geolocation", "camera", "microphone", "payment"];

/// Whether warden replaces a header the inner app set, or only adds it when
/// the app did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertMode {
    /// Warden's value wins.
    Override,
    /// The app's value wins; warden's is used only when the app sent none.
    Fill,
}

impl InsertMode {
    /// The name used in the policy document.
    pub fn name(&self) -> &'static str {
        match self {
            InsertMode::Override => "override",
            InsertMode::Fill => "fill",
        }
    }

    /// Looks a mode up by name.
    pub fn from_name(name: &str) -> Option<InsertMode> {
        [InsertMode::Override, InsertMode::Fill]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

/// Each header warden can add, by its policy key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderKey {
    ContentSecurityPolicy,
    XFrameOptions,
    XContentTypeOptions,
    ReferrerPolicy,
    PermissionsPolicy,
    StrictTransportSecurity,
    XXssProtection,
    CrossOriginOpenerPolicy,
    CrossOriginResourcePolicy,
    CrossOriginEmbedderPolicy,
    XPermittedCrossDomainPolicies,
    ReportingEndpoints,
    AuthenticatedCacheControl,
}

impl HeaderKey {
    /// Every header, in the order warden sends them.
    pub const ALL: [HeaderKey; 13] = [
        HeaderKey::ContentSecurityPolicy,
        HeaderKey::XFrameOptions,
        HeaderKey::XContentTypeOptions,
        HeaderKey::ReferrerPolicy,
        HeaderKey::PermissionsPolicy,
        HeaderKey::StrictTransportSecurity,
        HeaderKey::XXssProtection,
        HeaderKey::CrossOriginOpenerPolicy,
        HeaderKey::CrossOriginResourcePolicy,
        HeaderKey::CrossOriginEmbedderPolicy,
        HeaderKey::XPermittedCrossDomainPolicies,
        HeaderKey::ReportingEndpoints,
        HeaderKey::AuthenticatedCacheControl,
    ];

    /// The key in the policy's `[headers]` table (and in `modes`).
    pub fn key(&self) -> &'static str {
        match self {
            HeaderKey::ContentSecurityPolicy => "content_security_policy",
            HeaderKey::XFrameOptions => "x_frame_options",
            HeaderKey::XContentTypeOptions => "x_content_type_options",
            HeaderKey::ReferrerPolicy => "referrer_policy",
            HeaderKey::PermissionsPolicy => "permissions_policy",
            HeaderKey::StrictTransportSecurity => "strict_transport_security",
            HeaderKey::XXssProtection => "x_xss_protection",
            HeaderKey::CrossOriginOpenerPolicy => "cross_origin_opener_policy",
            HeaderKey::CrossOriginResourcePolicy => "cross_origin_resource_policy",
            HeaderKey::CrossOriginEmbedderPolicy => "cross_origin_embedder_policy",
            HeaderKey::XPermittedCrossDomainPolicies => "x_permitted_cross_domain_policies",
            HeaderKey::ReportingEndpoints => "reporting_endpoints",
            HeaderKey::AuthenticatedCacheControl => "authenticated_cache_control",
        }
    }

    /// The header's (lowercase) name. For CSP in report-only mode the name is
    /// [`csp::REPORT_ONLY_HEADER`] instead.
    pub fn header(&self) -> &'static str {
        match self {
            HeaderKey::ContentSecurityPolicy => csp::HEADER,
            HeaderKey::XFrameOptions => "x-frame-options",
            HeaderKey::XContentTypeOptions => "x-content-type-options",
            HeaderKey::ReferrerPolicy => "referrer-policy",
            HeaderKey::PermissionsPolicy => "permissions-policy",
            HeaderKey::StrictTransportSecurity => "strict-transport-security",
            HeaderKey::XXssProtection => "x-xss-protection",
            HeaderKey::CrossOriginOpenerPolicy => "cross-origin-opener-policy",
            HeaderKey::CrossOriginResourcePolicy => "cross-origin-resource-policy",
            HeaderKey::CrossOriginEmbedderPolicy => "cross-origin-embedder-policy",
            HeaderKey::XPermittedCrossDomainPolicies => "x-permitted-cross-domain-policies",
            HeaderKey::ReportingEndpoints => "reporting-endpoints",
            HeaderKey::AuthenticatedCacheControl => "cache-control",
        }
    }

    /// The default insert mode.
    ///
    /// The seed's headers, `X-XSS-Protection` and
    /// `X-Permitted-Cross-Domain-Policies` override: they are the policy the
    /// operator set, and an app's weaker value must not undo it. The
    /// cross-origin isolation headers and `Reporting-Endpoints` fill: an app
    /// that serves embeddable assets or opens OAuth pop-ups knows better, and
    /// these headers relax nothing the seed asks for. `Cache-Control` fills,
    /// as the issue asks ("unless the app set its own").
    pub fn default_mode(&self) -> InsertMode {
        match self {
            HeaderKey::CrossOriginOpenerPolicy
            | HeaderKey::CrossOriginResourcePolicy
            | HeaderKey::CrossOriginEmbedderPolicy
            | HeaderKey::ReportingEndpoints
            | HeaderKey::AuthenticatedCacheControl => InsertMode::Fill,
            _ => InsertMode::Override,
        }
    }

    /// Looks a header up by its policy key.
    pub fn from_key(key: &str) -> Option<HeaderKey> {
        HeaderKey::ALL.into_iter().find(|h| h.key() == key)
    }

    fn index(&self) -> usize {
        HeaderKey::ALL
            .iter()
            .position(|h| h == self)
            .unwrap_or_default()
    }
}

/// `Strict-Transport-Security`, sent only in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hsts {
    /// Seconds the browser remembers to use HTTPS only.
    pub max_age: u32,
    /// Also for every subdomain.
    pub include_subdomains: bool,
    /// Consent to inclusion in browsers' preload lists.
    pub preload: bool,
}

impl Default for Hsts {
    fn default() -> Hsts {
        Hsts {
            max_age: HSTS_DEFAULT_MAX_AGE,
            include_subdomains: true,
            preload: false,
        }
    }
}

impl Hsts {
    /// The header value, e.g. `max-age=31536000; includeSubDomains`.
    pub fn render(&self) -> String {
        let mut out = format!("max-age={}", self.max_age);
        if self.include_subdomains {
            out.push_str("; includeSubDomains");
        }
        if self.preload {
            out.push_str("; preload");
        }
        out
    }
}

/// The validated security-headers configuration of the policy or of a route.
/// `None` (or `false`) means the header is not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadersConfig {
    /// `Content-Security-Policy` (or `-Report-Only`).
    pub csp: Option<Csp>,
    /// `DENY` (default) or `SAMEORIGIN`.
    pub x_frame_options: Option<&'static str>,
    /// `nosniff`.
    pub x_content_type_options: bool,
    /// Default `strict-origin-when-cross-origin`.
    pub referrer_policy: Option<&'static str>,
    /// `(feature, allowlist)` pairs, e.g. `("camera", "()")`.
    pub permissions_policy: Option<Vec<(String, String)>>,
    /// Only ever sent in production.
    pub strict_transport_security: Option<Hsts>,
    /// `X-XSS-Protection: 0`: switch off the legacy XSS auditor (OWASP).
    pub x_xss_protection: bool,
    /// Default `same-origin`.
    pub cross_origin_opener_policy: Option<&'static str>,
    /// Default `same-origin`.
    pub cross_origin_resource_policy: Option<&'static str>,
    /// Not sent by default (`require-corp` or `credentialless` when set).
    pub cross_origin_embedder_policy: Option<&'static str>,
    /// Default `none`.
    pub x_permitted_cross_domain_policies: Option<&'static str>,
    /// `(name, url)` pairs for `Reporting-Endpoints` (for CSP `report-to`).
    pub reporting_endpoints: Vec<(String, String)>,
    /// Lowercase names of headers removed from the app's responses.
    pub remove: Vec<String>,
    /// `Cache-Control` for responses of authenticated requests.
    pub authenticated_cache_control: Option<String>,
    modes: [InsertMode; 13],
}

impl Default for HeadersConfig {
    /// Seed 000's headers and OWASP's current recommendations.
    fn default() -> HeadersConfig {
        HeadersConfig {
            csp: Some(Csp::defaults()),
            x_frame_options: Some("DENY"),
            x_content_type_options: true,
            referrer_policy: Some("strict-origin-when-cross-origin"),
            permissions_policy: Some(default_permissions()),
            strict_transport_security: Some(Hsts::default()),
            x_xss_protection: true,
            cross_origin_opener_policy: Some("same-origin"),
            cross_origin_resource_policy: Some("same-origin"),
            cross_origin_embedder_policy: None,
            x_permitted_cross_domain_policies: Some("none"),
            reporting_endpoints: Vec::new(),
            remove: vec!["x-powered-by".to_string(), "server".to_string()],
            authenticated_cache_control: Some("no-store".to_string()),
            modes: HeaderKey::ALL.map(|h| h.default_mode()),
        }
    }
}

pub(crate) fn default_permissions() -> Vec<(String, String)> {
    PERMISSIONS_DEFAULT
        .iter()
        .map(|f| (f.to_string(), "()".to_string()))
        .collect()
}

impl HeadersConfig {
    /// The insert mode of one header.
    pub fn mode(&self, key: HeaderKey) -> InsertMode {
        self.modes[key.index()]
    }

    pub(crate) fn set_mode(&mut self, key: HeaderKey, mode: InsertMode) {
        self.modes[key.index()] = mode;
    }

    /// The insert mode of a header warden sends (by lowercase name), or
    /// `None` for a name that is not one of these headers. `Cache-Control` is
    /// not included: it is added to the app's responses only, by
    /// [`app_response_edits`].
    pub fn mode_for_header(&self, name_lower: &str) -> Option<InsertMode> {
        if name_lower == csp::REPORT_ONLY_HEADER {
            return Some(self.mode(HeaderKey::ContentSecurityPolicy));
        }
        HeaderKey::ALL
            .iter()
            .filter(|h| **h != HeaderKey::AuthenticatedCacheControl)
            .find(|h| h.header() == name_lower)
            .map(|h| self.mode(*h))
    }

    /// Whether requests need a fresh CSP nonce.
    pub fn wants_nonce(&self) -> bool {
        self.csp.as_ref().is_some_and(|c| !c.nonce.is_empty())
    }

    /// The headers for every response of a route, warden's own answers
    /// included: `(lowercase name, value)` in a fixed order. HSTS only in
    /// production; the nonce goes into the CSP when the CSP asks for one.
    pub fn headers(
        &self,
        environment: Environment,
        nonce: Option<&str>,
    ) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> = Vec::with_capacity(12);
        if let Some(csp) = &self.csp {
            out.push((csp.header_name(), csp.render(nonce)));
        }
        if let Some(v) = self.x_frame_options {
            out.push(("x-frame-options", v.to_string()));
        }
        if self.x_content_type_options {
            out.push(("x-content-type-options", "nosniff".to_string()));
        }
        if let Some(v) = self.referrer_policy {
            out.push(("referrer-policy", v.to_string()));
        }
        if let Some(features) = &self.permissions_policy
            && !features.is_empty()
        {
            let value = features
                .iter()
                .map(|(f, allow)| format!("{f}={allow}"))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(("permissions-policy", value));
        }
        if environment == Environment::Production
            && let Some(hsts) = &self.strict_transport_security
        {
            out.push(("strict-transport-security", hsts.render()));
        }
        if self.x_xss_protection {
            out.push(("x-xss-protection", "0".to_string()));
        }
        for (name, value) in [
            (
                "cross-origin-opener-policy",
                self.cross_origin_opener_policy,
            ),
            (
                "cross-origin-resource-policy",
                self.cross_origin_resource_policy,
            ),
            (
                "cross-origin-embedder-policy",
                self.cross_origin_embedder_policy,
            ),
            (
                "x-permitted-cross-domain-policies",
                self.x_permitted_cross_domain_policies,
            ),
        ] {
            if let Some(v) = value {
                out.push((name, v.to_string()));
            }
        }
        if !self.reporting_endpoints.is_empty() {
            let value = self
                .reporting_endpoints
                .iter()
                .map(|(name, url)| format!("{name}=\"{url}\""))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(("reporting-endpoints", value));
        }
        out
    }
}

/// A key the overlay sets replaces this one's (CSP directives and
/// Permissions-Policy features one by one); the others are kept.
impl Section for HeadersConfig {
    type Overlay = HeadersOverlay;

    fn with(&self, overlay: &HeadersOverlay) -> HeadersConfig {
        let mut out = self.clone();
        overlay.apply_to(&mut out);
        out
    }
}

pub use parse::HeadersOverlay;

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn defaults() {
        let config = HeadersConfig::default();
        let prod = config.headers(Environment::Production, None);
        let expected = [
            (
                "content-security-policy",
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; font-src 'self'; connect-src 'self'; frame-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'",
            ),
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "strict-origin-when-cross-origin"),
            (
                "permissions-policy",
                "geolocation=(), camera=(), microphone=(), payment=()",
            ),
            (
                "strict-transport-security",
                "max-age=31536000; includeSubDomains",
            ),
            ("x-xss-protection", "0"),
            ("cross-origin-opener-policy", "same-origin"),
            ("cross-origin-resource-policy", "same-origin"),
            ("x-permitted-cross-domain-policies", "none"),
        ];
        let got: Vec<(&str, &str)> = prod.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(got, expected);
        for env in [
            Environment::Development,
            Environment::Staging,
            Environment::Preview,
        ] {
            let headers = config.headers(env, None);
            assert_eq!(
                value(&headers, "strict-transport-security"),
                None,
                "{env:?}"
            );
            assert_eq!(headers.len(), expected.len() - 1);
        }
        assert!(!config.wants_nonce());
        assert_eq!(config.remove, ["x-powered-by", "server"]);
        assert_eq!(
            config.authenticated_cache_control.as_deref(),
            Some("no-store")
        );
    }

    #[test]
    fn default_modes() {
        let config = HeadersConfig::default();
        for key in HeaderKey::ALL {
            assert_eq!(config.mode(key), key.default_mode());
            assert_eq!(HeaderKey::from_key(key.key()), Some(key));
        }
        assert_eq!(
            config.mode_for_header("content-security-policy"),
            Some(InsertMode::Override)
        );
        assert_eq!(
            config.mode_for_header("content-security-policy-report-only"),
            Some(InsertMode::Override)
        );
        assert_eq!(
            config.mode_for_header("cross-origin-resource-policy"),
            Some(InsertMode::Fill)
        );
        assert_eq!(config.mode_for_header("cache-control"), None);
        assert_eq!(config.mode_for_header("x-ratelimit-limit"), None);
    }

    #[test]
    fn in_a_policy() {
        let doc = r#"
            [headers]
            content_security_policy = { preset = "api" }
            x_frame_options = false

            [[routes]]
            name = "app"
            path = "/app/*"
            headers.content_security_policy = { nonce = true, preset = "stripe" }
            headers.strict_transport_security = { preload = true }

            [[routes]]
            name = "rest"
            path = "/*"
        "#;
        let policy = crate::policy::parse_policy(doc).unwrap();
        assert_eq!(policy.sections.headers.x_frame_options, None);
        let app = policy
            .sections
            .headers
            .for_route(policy.routes[0].keys.headers.as_ref());
        assert!(app.wants_nonce());
        assert_eq!(app.x_frame_options, None);
        let csp = app.csp.as_ref().unwrap();
        // api first (global), then stripe (route), per directive.
        assert_eq!(csp.get("default-src").unwrap(), ["'none'"]);
        assert_eq!(
            csp.get("script-src").unwrap(),
            ["'self'", "https://js.stripe.com"]
        );
        assert!(app.strict_transport_security.unwrap().preload);
        assert!(!policy.sections.headers.wants_nonce());
    }

    #[test]
    fn policy_level_problems() {
        let doc = r#"
            [headers]
            strict_transport_security = { max_age = 600 }
            [[routes]]
            name = "a"
            path = "/a"
            headers = { strict_transport_security = { preload = true } }
            [[routes]]
            name = "b"
            path = "/b"
            headers = { x_frame_options = "SAMEORIGIN" }
            skip = ["headers"]
            [[routes]]
            name = "c"
            path = "/c"
            headers = { content_security_policy = { directives = { script-src = ["'self'", "https://a.com;"] } } }
            [[routes]]
            name = "d"
            path = "/*"
        "#;
        let found: Vec<String> = crate::policy::parse_policy(doc)
            .unwrap_err()
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            found,
            [
                "routes[2].headers.content_security_policy.directives.script-src[1]: \"https://a.com;\" must not contain ';' or ',': give one source per list element",
                "routes[0].headers.strict_transport_security.preload: preload needs include_subdomains = true and max_age of at least 31536000 (the preload list's requirements)",
                "routes[1].skip: skips \"headers\" but sets headers; remove one of them",
            ]
        );
    }

    #[test]
    fn hsts_rendering() {
        let h = Hsts {
            max_age: 63_072_000,
            include_subdomains: true,
            preload: true,
        };
        assert_eq!(h.render(), "max-age=63072000; includeSubDomains; preload");
        let h = Hsts {
            max_age: 0,
            include_subdomains: false,
            preload: false,
        };
        assert_eq!(h.render(), "max-age=0");
    }

    #[test]
    fn nonce_goes_into_the_csp() {
        let mut config = HeadersConfig::default();
        if let Some(csp) = config.csp.as_mut() {
            csp.nonce = vec!["script-src"];
        }
        assert!(config.wants_nonce());
        let headers = config.headers(Environment::Development, Some("bm9uY2U="));
        assert!(
            value(&headers, "content-security-policy")
                .unwrap()
                .contains("script-src 'self' 'nonce-bm9uY2U=';")
        );
    }
}
