//! CORS: which origins may read responses, preflights answered by warden, and
//! the headers on actual requests.
//!
//! ```
//! use warden_core::base::overlay::TableSection;
//! use warden_core::layers::cors::{CorsConfig, OriginCheck};
//!
//! let table: toml::Value = toml::from_str(r#"
//!     origins = ["https://app.example.com", "https://*.workers.dev"]
//!     credentials = true
//! "#).unwrap();
//! let mut problems = Vec::new();
//! let cors = CorsConfig::parse_section(Some(&table), "cors", &mut problems);
//! assert!(problems.is_empty());
//!
//! let check = cors.check_origin(&["https://a.b.workers.dev"]);
//! assert_eq!(check, OriginCheck::Allowed("https://a.b.workers.dev".into()));
//! let headers = cors.preflight_headers("https://a.b.workers.dev");
//! assert!(headers.contains(&("access-control-max-age", "86400".into())));
//! assert_eq!(cors.check_origin(&["https://x.workers.dev@evil.com"]), OriginCheck::Disallowed);
//! ```
//!
//! CORS is off unless origins are configured (`[cors]` or a route's `cors`).
//! A disallowed origin gets no CORS headers, so the browser keeps the
//! response from the page; the request itself is still served (browsers
//! enforce CORS) unless `reject_disallowed = true`, which answers 403.
//!
//! - **Owns:** `[cors]` and a route's `cors` ([`Cors`]).
//! - **Ports:** none.
//! - **Answers:** preflights (`204` with the CORS headers), and `403`
//!   ([`rejection`]) for a disallowed origin when `reject_disallowed = true`.

use toml::Value;

use crate::http::origin::{Origin, OriginPattern};

use crate::base::denial::Denial;
use crate::base::environment::Environment;
use crate::base::fields::Problems;
use crate::base::fields::{self, add, quoted, wrong_type};
use crate::base::layer::{Layer, PolicyLayer, RouteContext, RouteView};
use crate::base::overlay::{RouteOverlay, Section, TableSection};
use crate::base::problem::ConfigProblem;

/// Methods allowed by default.
pub const DEFAULT_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
/// Request headers allowed by default (beyond the CORS-safelisted ones).
pub const DEFAULT_ALLOW_HEADERS: &[&str] = &["authorization", "content-type", "x-request-id"];
/// Response headers always exposed to the page: the request ID and the rate
/// limit's headers (seed 004: "Exposed headers: X-Request-Id, X-RateLimit-*").
pub const ALWAYS_EXPOSED: &[&str] = &[
    "X-Request-Id",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
    "Retry-After",
];
/// Default `Access-Control-Max-Age`: one day.
pub const DEFAULT_MAX_AGE: u32 = 86_400;
/// The status of a disallowed origin's request with `reject_disallowed`.
pub const REJECTION_STATUS: u16 = 403;
/// The status of an answered preflight.
pub const PREFLIGHT_STATUS: u16 = 204;

pub(crate) const FIELDS: &[&str] = &[
    "origins",
    "methods",
    "allow_headers",
    "expose_headers",
    "credentials",
    "max_age",
    "reject_disallowed",
];

/// A request refused for its origin (`reject_disallowed`).
pub fn rejection() -> Denial {
    Denial {
        status: REJECTION_STATUS,
        body: rejection_body(),
    }
}

/// The body of a request refused for its origin (`reject_disallowed`).
pub fn rejection_body() -> String {
    r#"{"error":{"code":"ORIGIN_NOT_ALLOWED","message":"Origin not allowed"}}"#.to_string()
}

/// Whether a request is a CORS preflight: `OPTIONS` with an `Origin` and an
/// `Access-Control-Request-Method`.
pub fn is_preflight(method: &str, has_origin: bool, has_request_method: bool) -> bool {
    method.eq_ignore_ascii_case("OPTIONS") && has_origin && has_request_method
}

/// The validated CORS configuration of the policy or of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfig {
    /// Allowed origins; empty means CORS is off.
    pub origins: Vec<OriginPattern>,
    /// `Access-Control-Allow-Methods`.
    pub methods: Vec<String>,
    /// `Access-Control-Allow-Headers`, lowercase.
    pub allow_headers: Vec<String>,
    /// Exposed beyond [`ALWAYS_EXPOSED`].
    pub expose_headers: Vec<String>,
    /// `Access-Control-Allow-Credentials: true`.
    pub credentials: bool,
    /// `Access-Control-Max-Age`, seconds.
    pub max_age: u32,
    /// Answer 403 to requests from an origin that is not allowed.
    pub reject_disallowed: bool,
}

impl Default for CorsConfig {
    fn default() -> CorsConfig {
        CorsConfig {
            origins: Vec::new(),
            methods: DEFAULT_METHODS.iter().map(|m| m.to_string()).collect(),
            allow_headers: DEFAULT_ALLOW_HEADERS
                .iter()
                .map(|h| h.to_string())
                .collect(),
            expose_headers: Vec::new(),
            credentials: false,
            max_age: DEFAULT_MAX_AGE,
            reject_disallowed: false,
        }
    }
}

/// What the CORS layer does with one request ([`decide`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsDecision {
    /// Answer the preflight with [`PREFLIGHT_STATUS`] and these headers.
    AnswerPreflight(Vec<(&'static str, String)>),
    /// Refuse the request ([`rejection`]), with these headers: its origin
    /// is not allowed and `reject_disallowed` is on.
    Refuse(Denial, Vec<(&'static str, String)>),
    /// Let the request on; these headers go on its response.
    Continue(Vec<(&'static str, String)>),
}

/// The CORS decision for a request with these `Origin` field values, a
/// preflight or not, and whether the origin was disallowed (for the log).
///
/// ```
/// use warden_core::base::overlay::TableSection;
/// use warden_core::layers::cors::{CorsConfig, CorsDecision, decide};
///
/// let table: toml::Value = toml::from_str("origins = [\"https://app.example.com\"]").unwrap();
/// let cors = CorsConfig::parse_section(Some(&table), "cors", &mut Vec::new());
/// let (decision, disallowed) = decide(&cors, &["https://app.example.com"], true);
/// assert!(matches!(decision, CorsDecision::AnswerPreflight(_)) && !disallowed);
/// let (decision, disallowed) = decide(&cors, &["https://evil.example"], false);
/// assert!(matches!(decision, CorsDecision::Continue(_)) && disallowed);
/// ```
pub fn decide(config: &CorsConfig, origins: &[&str], preflight: bool) -> (CorsDecision, bool) {
    let check = config.check_origin(origins);
    let disallowed = check == OriginCheck::Disallowed;
    if disallowed && config.reject_disallowed {
        // An actual request's refusal says the response varies by origin.
        let headers = if preflight {
            Vec::new()
        } else {
            config.actual_headers(None)
        };
        return (CorsDecision::Refuse(rejection(), headers), true);
    }
    let decision = match (preflight, check) {
        (true, OriginCheck::Allowed(origin)) => {
            CorsDecision::AnswerPreflight(config.preflight_headers(&origin))
        }
        // A preflight for an origin that may not read the answer still gets
        // one, without any Access-Control-Allow-* header.
        (true, _) => CorsDecision::AnswerPreflight(vec![(
            "vary",
            "Origin, Access-Control-Request-Method".to_owned(),
        )]),
        (false, OriginCheck::Allowed(origin)) => {
            CorsDecision::Continue(config.actual_headers(Some(&origin)))
        }
        (false, _) => CorsDecision::Continue(config.actual_headers(None)),
    };
    (decision, disallowed)
}

/// What the `Origin` of a request means for CORS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginCheck {
    /// No `Origin`: not a cross-origin browser request.
    Absent,
    /// Allowed; the value for `Access-Control-Allow-Origin`.
    Allowed(String),
    /// Not allowed, malformed, `null`, or sent more than once.
    Disallowed,
}

impl CorsConfig {
    /// Whether CORS is on.
    pub fn is_enabled(&self) -> bool {
        !self.origins.is_empty()
    }

    /// Checks the request's `Origin` field values.
    pub fn check_origin(&self, values: &[&str]) -> OriginCheck {
        let value = match values {
            [] => return OriginCheck::Absent,
            [one] => *one,
            _ => return OriginCheck::Disallowed,
        };
        let Ok(origin) = Origin::parse(value) else {
            return OriginCheck::Disallowed;
        };
        match self.origins.iter().find(|p| p.matches(&origin)) {
            Some(OriginPattern::Any) => OriginCheck::Allowed("*".to_string()),
            Some(_) => OriginCheck::Allowed(value.to_string()),
            None => OriginCheck::Disallowed,
        }
    }

    /// The headers of warden's answer to an allowed preflight.
    pub fn preflight_headers(&self, allow_origin: &str) -> Vec<(&'static str, String)> {
        let mut out = vec![("access-control-allow-origin", allow_origin.to_string())];
        if self.credentials {
            out.push(("access-control-allow-credentials", "true".to_string()));
        }
        out.push(("access-control-allow-methods", self.methods.join(", ")));
        if !self.allow_headers.is_empty() {
            out.push((
                "access-control-allow-headers",
                self.allow_headers.join(", "),
            ));
        }
        out.push(("access-control-max-age", self.max_age.to_string()));
        out.push(("vary", "Origin, Access-Control-Request-Method".to_string()));
        out
    }

    /// The headers of an actual (non-preflight) response. `Vary: Origin`
    /// always, since the answer depends on the origin; the rest only for an
    /// allowed origin.
    pub fn actual_headers(&self, allow_origin: Option<&str>) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(origin) = allow_origin {
            out.push(("access-control-allow-origin", origin.to_string()));
            if self.credentials {
                out.push(("access-control-allow-credentials", "true".to_string()));
            }
            let mut exposed: Vec<&str> = ALWAYS_EXPOSED.to_vec();
            for h in &self.expose_headers {
                if !exposed.iter().any(|e| e.eq_ignore_ascii_case(h)) {
                    exposed.push(h);
                }
            }
            out.push(("access-control-expose-headers", exposed.join(", ")));
        }
        out.push(("vary", "Origin".to_string()));
        out
    }
}

impl Section for CorsConfig {
    type Overlay = CorsOverlay;

    fn with(&self, overlay: &CorsOverlay) -> CorsConfig {
        let mut out = self.clone();
        if let Some(v) = &overlay.origins {
            out.origins = v.clone();
        }
        if let Some(v) = &overlay.methods {
            out.methods = v.clone();
        }
        if let Some(v) = &overlay.allow_headers {
            out.allow_headers = v.clone();
        }
        if let Some(v) = &overlay.expose_headers {
            out.expose_headers = v.clone();
        }
        if let Some(v) = overlay.credentials {
            out.credentials = v;
        }
        if let Some(v) = overlay.max_age {
            out.max_age = v;
        }
        if let Some(v) = overlay.reject_disallowed {
            out.reject_disallowed = v;
        }
        out
    }
}

/// A `cors` table validated on its own: only the keys it sets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsOverlay {
    origins: Option<Vec<OriginPattern>>,
    methods: Option<Vec<String>>,
    allow_headers: Option<Vec<String>>,
    expose_headers: Option<Vec<String>>,
    credentials: Option<bool>,
    max_age: Option<u32>,
    reject_disallowed: Option<bool>,
}

impl TableSection for CorsConfig {
    /// The table's keys, with those that had problems left out (`None` if
    /// it is not a table).
    fn read_overlay(
        value: &Value,
        field: &str,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<CorsOverlay> {
        let Value::Table(table) = value else {
            wrong_type(problems, field, "a table", value);
            return None;
        };
        let f = |key: &str| format!("{field}.{key}");
        let mut o = CorsOverlay::default();
        if let Some(v) = table.get("origins") {
            o.origins = fields::strings(problems, &f("origins"), v, OriginPattern::parse);
            if let Some(origins) = &o.origins
                && origins.len() > 1
                && origins.contains(&OriginPattern::Any)
            {
                add(
                    problems,
                    f("origins"),
                    "\"*\" allows every origin; it cannot be combined with other origins",
                );
            }
        }
        if let Some(v) = table.get("methods") {
            o.methods = fields::strings(problems, &f("methods"), v, |m| {
                if m == "*" {
                    Ok(m.to_string())
                } else if !fields::is_token(m) {
                    Err(format!("{} is not a method name", quoted(m)))
                } else if m != m.to_ascii_uppercase() {
                    Err(format!(
                        "must be uppercase (\"{}\")",
                        m.to_ascii_uppercase()
                    ))
                } else {
                    Ok(m.to_string())
                }
            });
            if o.methods.as_ref().is_some_and(Vec::is_empty) {
                add(problems, f("methods"), "must list at least one method");
            }
        }
        let header_name = |h: &str| {
            if h == "*" || fields::is_token(h) {
                Ok(h.to_string())
            } else {
                Err(format!("{} is not a header name", quoted(h)))
            }
        };
        if let Some(v) = table.get("allow_headers") {
            o.allow_headers = fields::strings(problems, &f("allow_headers"), v, |h| {
                header_name(h).map(|h| h.to_ascii_lowercase())
            });
        }
        if let Some(v) = table.get("expose_headers") {
            // Exposed names keep their spelling: only pages read them.
            o.expose_headers = fields::strings(problems, &f("expose_headers"), v, header_name);
        }
        if let Some(v) = table.get("credentials") {
            o.credentials = fields::boolean(problems, &f("credentials"), v);
        }
        if let Some(v) = table.get("max_age") {
            o.max_age = fields::integer(problems, &f("max_age"), v, 0, i64::from(DEFAULT_MAX_AGE))
                .and_then(|n| u32::try_from(n).ok());
        }
        if let Some(v) = table.get("reject_disallowed") {
            o.reject_disallowed = fields::boolean(problems, &f("reject_disallowed"), v);
        }
        fields::unknown_fields(problems, table, &format!("{field}."), FIELDS);
        Some(o)
    }

    fn check_merged(&self, field: &str, problems: &mut Vec<ConfigProblem>) {
        check_resolved(self, field, problems);
    }
}

/// Contradictions in a merged configuration: wildcards with credentials.
fn check_resolved(config: &CorsConfig, field: &str, problems: &mut Vec<ConfigProblem>) {
    if !config.credentials {
        return;
    }
    if config.origins.contains(&OriginPattern::Any) {
        add(
            problems,
            format!("{field}.credentials"),
            "cannot be true while origins is [\"*\"]: browsers refuse credentials with a wildcard origin; list the origins",
        );
    }
    for (key, list) in [
        ("methods", &config.methods),
        ("allow_headers", &config.allow_headers),
        ("expose_headers", &config.expose_headers),
    ] {
        if let Some(k) = list.iter().position(|x| x == "*") {
            add(
                problems,
                format!("{field}.{key}[{k}]"),
                "with credentials = true browsers read \"*\" as a literal name, not a wildcard; list the names",
            );
        }
    }
}

/// The CORS layer as the policy registry sees it.
pub struct Cors;

impl PolicyLayer for Cors {
    const NAME: &'static str = "cors";
    const FEATURE: &'static str = "cors";
    const BUILT: bool = cfg!(feature = "cors");
    const SECTIONS: &'static [&'static str] = &["cors"];
    const ROUTE_KEYS: &'static [&'static str] = &["cors"];
    type Config = CorsConfig;
    type RouteKeys = Option<CorsOverlay>;

    fn parse_config(document: &toml::Table, problems: &mut Problems) -> CorsConfig {
        CorsConfig::parse_section(document.get("cors"), "cors", &mut problems.0)
    }

    fn parse_route(route: &RouteContext<'_>, problems: &mut Problems) -> Option<Self::RouteKeys> {
        Some(
            route
                .table
                .get("cors")
                .and_then(|v| CorsConfig::parse_overlay(v, &route.field("cors"), &mut problems.0)),
        )
    }

    fn check_routes(
        config: &CorsConfig,
        routes: &[RouteView<'_, Self::RouteKeys>],
        problems: &mut Vec<ConfigProblem>,
    ) {
        let overlays = RouteOverlay::of_optional(routes, |r| r.skip.contains(&Layer::Cors));
        check_route_cors(config, &overlays, problems);
    }

    fn check_environment(
        config: &CorsConfig,
        routes: &[RouteView<'_, Self::RouteKeys>],
        environment: Environment,
        problems: &mut Vec<ConfigProblem>,
    ) {
        let overlays = RouteOverlay::of_optional(routes, |r| r.skip.contains(&Layer::Cors));
        check_environment(environment, config, &overlays, problems);
    }
}

/// Checks each route's `cors` merged over the policy's.
fn check_route_cors(
    global: &CorsConfig,
    routes: &[RouteOverlay<'_, CorsOverlay>],
    problems: &mut Vec<ConfigProblem>,
) {
    for route in routes {
        let i = route.index;
        let field = format!("routes[{i}].cors");
        if let Some(overlay) = route.overlay {
            if route.skipped {
                add(
                    problems,
                    format!("routes[{i}].skip"),
                    "skips \"cors\" but sets cors; remove one of them",
                );
                continue;
            }
            let merged = global.with(overlay);
            if !merged.is_enabled() {
                add(
                    problems,
                    field,
                    "sets CORS options but no origins are allowed (here or in [cors]); add origins, or remove the table",
                );
                continue;
            }
            // Report a contradiction once: where the route introduces it.
            let mut found = Vec::new();
            check_resolved(&merged, &field, &mut found);
            let mut inherited = Vec::new();
            check_resolved(global, &field, &mut inherited);
            problems.extend(found.into_iter().filter(|p| !inherited.contains(p)));
        }
    }
}

/// Rules that depend on the environment: in production, no `*` origin and no
/// localhost origins (seed 004: "Wildcard (`*`) disabled in production",
/// "Localhost allowed only in dev/staging").
fn check_environment(
    environment: Environment,
    global: &CorsConfig,
    routes: &[RouteOverlay<'_, CorsOverlay>],
    problems: &mut Vec<ConfigProblem>,
) {
    if environment != Environment::Production {
        return;
    }
    let mut check = |origins: &[OriginPattern], field: &str| {
        for (k, pattern) in origins.iter().enumerate() {
            let message = match pattern {
                OriginPattern::Any => {
                    "\"*\" is allowed only outside production (environment = production); list the origins"
                }
                p if p.origin().is_some_and(Origin::is_loopback) => {
                    "localhost origins are allowed only outside production (environment = production)"
                }
                _ => continue,
            };
            add(problems, format!("{field}.origins[{k}]"), message);
        }
    };
    check(&global.origins, "cors");
    for route in routes {
        if let Some(origins) = route.overlay.and_then(|o| o.origins.as_ref()) {
            check(origins, &format!("routes[{}].cors", route.index));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(doc: &str) -> (CorsConfig, Vec<ConfigProblem>) {
        let value: Value = toml::from_str(doc).expect("valid TOML");
        let mut problems = Vec::new();
        let config = CorsConfig::parse_section(Some(&value), "cors", &mut problems);
        (config, problems)
    }

    fn ok(doc: &str) -> CorsConfig {
        let (config, problems) = parse(doc);
        assert!(problems.is_empty(), "{problems:?}");
        config
    }

    fn problems(doc: &str) -> Vec<String> {
        parse(doc).1.into_iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn off_by_default() {
        let c = CorsConfig::default();
        assert!(!c.is_enabled());
        assert_eq!(
            c.check_origin(&["https://a.example"]),
            OriginCheck::Disallowed
        );
        assert_eq!(c.check_origin(&[]), OriginCheck::Absent);
        assert_eq!(ok(""), CorsConfig::default());
    }

    #[test]
    fn origin_checks() {
        let c = ok(
            r#"origins = ["https://app.example.com", "https://*.workers.dev", "http://localhost:3000"]"#,
        );
        let allowed = |o: &str| OriginCheck::Allowed(o.to_string());
        assert_eq!(
            c.check_origin(&["https://app.example.com"]),
            allowed("https://app.example.com")
        );
        assert_eq!(
            c.check_origin(&["https://x.workers.dev"]),
            allowed("https://x.workers.dev")
        );
        assert_eq!(
            c.check_origin(&["http://localhost:3000"]),
            allowed("http://localhost:3000")
        );
        for bad in [
            "https://evil.workers.dev.attacker.com",
            "https://x.workers.dev@evil.com",
            "https://workers.dev",
            "https://app.example.com.evil.com",
            "http://app.example.com",
            "https://app.example.com/",
            "http://localhost:3001",
            "null",
            "",
            "https://app.example.com, https://evil.com",
        ] {
            assert_eq!(c.check_origin(&[bad]), OriginCheck::Disallowed, "{bad}");
        }
        // Two Origin fields: ambiguous, refused.
        assert_eq!(
            c.check_origin(&["https://app.example.com", "https://app.example.com"]),
            OriginCheck::Disallowed
        );
        let any = ok(r#"origins = ["*"]"#);
        assert_eq!(any.check_origin(&["https://whoever.example"]), allowed("*"));
        assert_eq!(any.check_origin(&["garbage"]), OriginCheck::Disallowed);
    }

    #[test]
    fn preflight_and_actual_headers() {
        let c = ok(r#"
            origins = ["https://app.example.com"]
            credentials = true
            methods = ["GET", "POST"]
            allow_headers = ["Content-Type", "X-Custom"]
            expose_headers = ["X-Total-Count", "x-request-id"]
            max_age = 600
        "#);
        assert_eq!(
            c.preflight_headers("https://app.example.com"),
            [
                (
                    "access-control-allow-origin",
                    "https://app.example.com".to_string()
                ),
                ("access-control-allow-credentials", "true".to_string()),
                ("access-control-allow-methods", "GET, POST".to_string()),
                (
                    "access-control-allow-headers",
                    "content-type, x-custom".to_string()
                ),
                ("access-control-max-age", "600".to_string()),
                ("vary", "Origin, Access-Control-Request-Method".to_string()),
            ]
        );
        assert_eq!(
            c.actual_headers(Some("https://app.example.com")),
            [
                ("access-control-allow-origin", "https://app.example.com".to_string()),
                ("access-control-allow-credentials", "true".to_string()),
                (
                    "access-control-expose-headers",
                    "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit-Policy, RateLimit, Retry-After, X-Total-Count".to_string()
                ),
                ("vary", "Origin".to_string()),
            ]
        );
        assert_eq!(c.actual_headers(None), [("vary", "Origin".to_string())]);
        let d = ok(r#"origins = ["https://a.example"]"#);
        let p = d.preflight_headers("https://a.example");
        assert!(p.contains(&("access-control-max-age", "86400".to_string())));
        assert!(p.contains(&(
            "access-control-allow-methods",
            "GET, HEAD, POST, PUT, PATCH, DELETE".to_string()
        )));
        assert!(p.contains(&(
            "access-control-allow-headers",
            "authorization, content-type, x-request-id".to_string()
        )));
        assert!(
            p.iter()
                .all(|(n, _)| *n != "access-control-allow-credentials")
        );
    }

    #[test]
    fn preflight_detection() {
        assert!(is_preflight("OPTIONS", true, true));
        assert!(!is_preflight("OPTIONS", false, true));
        assert!(!is_preflight("OPTIONS", true, false));
        assert!(!is_preflight("POST", true, true));
    }

    #[test]
    fn configuration_problems() {
        assert_eq!(
            problems(
                r#"origins = ["*"]
                        credentials = true"#
            ),
            [
                "cors.credentials: cannot be true while origins is [\"*\"]: browsers refuse credentials with a wildcard origin; list the origins"
            ]
        );
        let found = problems(
            r#"
            origins = ["https://ok.example", "https://a.example/", "null", "https://*.dev", "*.example.com", 3]
            methods = ["get", "PO ST"]
            allow_headers = ["content type"]
            max_age = 100000
            credentials = "yes"
            allowed_origins = []
        "#,
        );
        let fields: Vec<&str> = found
            .iter()
            .map(|p| p.split(": ").next().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "cors.origins[1]",
                "cors.origins[2]",
                "cors.origins[3]",
                "cors.origins[4]",
                "cors.origins[5]",
                "cors.methods[0]",
                "cors.methods[1]",
                "cors.allow_headers[0]",
                "cors.credentials",
                "cors.max_age",
                "cors.allowed_origins",
            ],
            "{found:#?}"
        );
        assert_eq!(
            problems(r#"origins = ["*", "https://a.example"]"#),
            ["cors.origins: \"*\" allows every origin; it cannot be combined with other origins"]
        );
        assert_eq!(
            problems(
                r#"origins = ["https://a.example"]
                        credentials = true
                        allow_headers = ["*"]"#
            ),
            [
                "cors.allow_headers[0]: with credentials = true browsers read \"*\" as a literal name, not a wildcard; list the names"
            ]
        );
        // Without credentials, "*" is a real wildcard.
        ok(r#"origins = ["*"]
              methods = ["*"]
              allow_headers = ["*"]"#);
    }

    #[test]
    fn production_rules() {
        let global = ok(r#"origins = ["*"]"#);
        let mut found = Vec::new();
        check_environment(Environment::Production, &global, &[], &mut found);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, "cors.origins[0]");
        assert!(found[0].message.contains("only outside production"));
        let local = ok(
            r#"origins = ["https://app.example.com", "http://localhost:3000", "http://127.0.0.1"]"#,
        );
        let mut found = Vec::new();
        check_environment(Environment::Production, &local, &[], &mut found);
        assert_eq!(
            found.iter().map(|p| p.field.as_str()).collect::<Vec<_>>(),
            ["cors.origins[1]", "cors.origins[2]"]
        );
        for env in [
            Environment::Staging,
            Environment::Preview,
            Environment::Development,
        ] {
            let mut found = Vec::new();
            check_environment(env, &global, &[], &mut found);
            check_environment(env, &local, &[], &mut found);
            assert!(found.is_empty(), "{env:?}");
        }
    }

    fn policy_problems(doc: &str, environment: Option<&str>) -> Vec<String> {
        use crate::config::{RawSettings, WardenConfig};
        match WardenConfig::build(RawSettings {
            policy: Some(doc.into()),
            environment: environment.map(Into::into),
            ..RawSettings::default()
        }) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn in_a_policy() {
        let doc = r#"
            [cors]
            origins = ["https://app.example.com"]
            credentials = true

            [[routes]]
            name = "partner"
            path = "/partner/*"
            cors = { origins = ["https://partner.example"], reject_disallowed = true }

            [[routes]]
            name = "rest"
            path = "/*"
        "#;
        let policy = crate::policy::parse_policy(doc).unwrap();
        assert!(policy.sections.cors.credentials);
        let partner = policy
            .sections
            .cors
            .for_route(policy.routes[0].keys.cors.as_ref());
        assert!(partner.reject_disallowed && partner.credentials);
        assert_eq!(
            partner.check_origin(&["https://partner.example"]),
            OriginCheck::Allowed("https://partner.example".into())
        );
        assert!(policy.routes[1].keys.cors.is_none());
        assert!(policy_problems(doc, Some("production")).is_empty());
    }

    #[test]
    fn policy_level_problems() {
        // "*" with credentials, where the route brings one of the two.
        let doc = r#"
            [cors]
            origins = ["*"]
            [[routes]]
            name = "a"
            path = "/a"
            cors = { credentials = true }
            [[routes]]
            name = "b"
            path = "/b"
            cors = { max_age = 5 }
            skip = ["cors"]
            [[routes]]
            name = "c"
            path = "/*"
        "#;
        assert_eq!(
            policy_problems(doc, None),
            [
                "routes[0].cors.credentials: cannot be true while origins is [\"*\"]: browsers refuse credentials with a wildcard origin; list the origins",
                "routes[1].skip: skips \"cors\" but sets cors; remove one of them",
            ]
        );
        // In production, "*" and localhost origins are refused, globally and per route.
        let doc = r#"
            [cors]
            origins = ["*"]
            [[routes]]
            name = "a"
            path = "/a"
            cors = { origins = ["https://ok.example", "http://localhost:5173"] }
            [[routes]]
            name = "c"
            path = "/*"
        "#;
        assert!(policy_problems(doc, Some("staging")).is_empty());
        assert_eq!(
            policy_problems(doc, Some("production")),
            [
                "cors.origins[0]: \"*\" is allowed only outside production (environment = production); list the origins",
                "routes[0].cors.origins[1]: localhost origins are allowed only outside production (environment = production)",
            ]
        );
        // Options without any origin would silently do nothing.
        let doc = r#"
            [[routes]]
            name = "a"
            path = "/*"
            cors = { credentials = true }
        "#;
        let found = policy_problems(doc, None);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("routes[0].cors: sets CORS options but no origins"),
            "{found:?}"
        );
        let found = policy_problems(
            "cors = [\"*\"]\n[[routes]]\nname = \"a\"\npath = \"/*\"",
            None,
        );
        assert_eq!(found, ["cors: must be a table, found an array"]);
    }

    #[test]
    fn route_overlay() {
        let global = ok(r#"origins = ["https://app.example.com"]
                           credentials = true"#);
        let value: Value = toml::from_str(
            r#"origins = ["https://partner.example"]
                                             max_age = 60"#,
        )
        .unwrap();
        let mut found = Vec::new();
        let overlay = CorsConfig::parse_overlay(&value, "routes[0].cors", &mut found).unwrap();
        let merged = global.for_route(Some(&overlay));
        assert_eq!(
            merged.check_origin(&["https://app.example.com"]),
            OriginCheck::Disallowed
        );
        assert_eq!(
            merged.check_origin(&["https://partner.example"]),
            OriginCheck::Allowed("https://partner.example".into())
        );
        assert!(merged.credentials);
        assert_eq!(merged.max_age, 60);
        assert!(found.is_empty());
    }
}
