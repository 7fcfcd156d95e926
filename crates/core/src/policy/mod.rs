//! The route policy: which layers apply to which requests.
//!
//! ```
//! use warden_core::http::path::normalize_path;
//! use warden_core::layers::session::OPTIONAL;
//! use warden_core::policy::parse_policy;
//!
//! let policy = parse_policy(r#"
//!     [[routes]]
//!     name = "login"
//!     methods = ["POST"]
//!     path = "/auth/login"
//!     rate_limit = "auth"
//!
//!     [[routes]]
//!     name = "app"
//!     path = "/*"
//!     auth = "optional"
//! "#).unwrap();
//! let path = normalize_path("/Auth/Login/").unwrap();
//! assert_eq!(policy.match_route("POST", &path).map(|(i, _)| i), Some(0));
//! let (_, route) = policy.match_route("GET", &path).unwrap();
//! assert_eq!(route.auth, OPTIONAL);
//! ```
//!
//! The policy is a TOML document (see [`parse_policy`] for the format). Routes are
//! tried in order and the first match wins, so a policy reads top to bottom like
//! a firewall rule list.

mod checks;
mod document;
pub(crate) mod parse;
mod pattern;
pub mod ready;
pub mod security_events;
pub mod stores;

pub(crate) use checks::route_views;
pub use parse::parse_policy;
pub(crate) use parse::{Partial, parse_partial};
pub use pattern::PathPattern;

use crate::base::auth_mode::AuthMode;
use crate::base::layer::Layer;
use crate::base::layer::{RouteView, StoresUsed};
use crate::http::path::MatchPath;
use crate::layers::rate_limit::{ClientIpSource, RateLimitRule};
use crate::layers::{RouteKeys, Sections};

/// Default of `settings.response_buffer_limit`: 0, every response streamed
/// through. Measured under Spin 4.1, streaming is the fast path; collecting
/// a response costs a copy and host round trips (docs/performance.md).
pub const DEFAULT_RESPONSE_BUFFER_LIMIT: u64 = 0;
/// Largest allowed `settings.response_buffer_limit`: 16 MiB, since a buffered
/// body lives in the instance's memory.
pub const MAX_RESPONSE_BUFFER_LIMIT: u64 = 16 * 1024 * 1024;
/// Default of `settings.max_header_bytes`.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
/// Smallest allowed `settings.max_header_bytes`; less would refuse ordinary cookies.
pub const MIN_MAX_HEADER_BYTES: usize = 256;
/// Largest allowed `settings.max_header_bytes`.
pub const MAX_MAX_HEADER_BYTES: usize = 1024 * 1024;

/// Default of `settings.timeout`: how long warden waits for the inner
/// app's response head. Spin itself has no request timeout; Fermyon's
/// platform ends requests at 30 s, so past that an app is never answering.
pub const DEFAULT_APP_TIMEOUT_MS: u64 = 30_000;
/// Shortest `timeout`: less is below a host's scheduling noise.
pub const MIN_APP_TIMEOUT_MS: u64 = 10;
/// Longest `timeout`: one hour (`"off"` for none at all).
pub const MAX_APP_TIMEOUT_MS: u64 = 3_600_000;

/// How long warden waits for the inner app's response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppTimeout {
    /// `"off"`: as long as the app takes.
    Off,
    /// Milliseconds; past them, 504.
    After(u64),
}

/// A validated policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Global settings.
    pub settings: Settings,
    /// Routes in the order they are tried; never empty.
    pub routes: Vec<Route>,
    /// Each layer's sections (`[rate_limit]`, `[session]`, `[headers]`,
    /// `[cors]`, `[worker]`), one field per layer of the registry.
    pub sections: Sections,
    /// Deadlines and breakers of the host's stores (`[stores]`).
    pub stores: stores::StoreSettings,
    /// Sampling of security events and their table (`[security_events]`).
    pub security_events: security_events::SecurityEventSettings,
    /// The readiness endpoint (`[settings] ready`); `None` when turned off.
    pub ready: Option<ready::ReadyEndpoint>,
}

impl Policy {
    /// Every section at its default and no routes: the base a parsed
    /// document fills in.
    pub(crate) fn empty() -> Policy {
        Policy {
            routes: Vec::new(),
            ..Policy::built_in()
        }
    }

    /// The policy used when none is configured: one catch-all route `default` with
    /// no authentication and the `web` rate limit, as in the seed.
    pub fn built_in() -> Policy {
        Policy {
            settings: Settings::default(),
            sections: Sections::default(),
            stores: stores::StoreSettings::default(),
            security_events: security_events::SecurityEventSettings::default(),
            ready: Some(ready::ReadyEndpoint::default_endpoint()),
            routes: vec![Route {
                name: "default".to_string(),
                methods: None,
                path: PathPattern::everything(),
                auth: AuthMode::NONE,
                also: Vec::new(),
                roles: Vec::new(),
                skip: Vec::new(),
                timeout: None,
                keys: RouteKeys {
                    rate_limit: RateLimitRule::default_for_route(),
                    ..RouteKeys::default()
                },
            }],
        }
    }

    /// The stores this policy's routes use, so that the readiness probe
    /// checks those and no others. The probe's own rate limit does not
    /// count: it fails open, so it never makes the probe depend on a store.
    ///
    /// ```
    /// use warden_core::base::layer::StoresUsed;
    /// use warden_core::policy::parse_policy;
    ///
    /// let headers_only = "[[routes]]\nname = \"app\"\npath = \"/*\"\nrate_limit = \"off\"\n";
    /// let none = StoresUsed { key_value: false, sqlite: false };
    /// assert_eq!(parse_policy(headers_only).unwrap().stores_used(), none);
    /// let sessions = "[[routes]]\nname = \"app\"\npath = \"/*\"\nauth = \"optional\"\n";
    /// let both = StoresUsed { key_value: true, sqlite: true };
    /// assert_eq!(parse_policy(sessions).unwrap().stores_used(), both);
    /// ```
    pub fn stores_used(&self) -> StoresUsed {
        let routes = self.route_views();
        let mut used = self.sections.stores_used(&routes);
        // `[session]`'s JWT cookie cache is verified with `[jwt]`'s keys; the
        // two layers stay apart, so the jwks table (SQLite, cached in the
        // key-value store) is added here for session routes.
        if self.sections.session.jwt_cookie_cache
            && self.sections.jwt.jwks_table
            && crate::layers::session::config::uses_sessions(&routes)
        {
            used.sqlite = true;
            used.key_value = true;
        }
        used
    }

    /// What this policy needs of its host (SQLite, atomic key-value
    /// operations), each under the field that asks for it: every layer's
    /// needs, `[session]`'s JWT cookie cache verified with `[jwt]`'s
    /// `jwks_table`, and `[security_events] table`. A flavour that lacks
    /// one refuses the policy (`WardenConfig::build`).
    ///
    /// ```
    /// use warden_core::base::host_profile::Capability;
    /// use warden_core::policy::parse_policy;
    ///
    /// let policy = parse_policy("[[routes]]\nname = \"pay\"\npath = \"/pay\"\nidempotency = {}\n").unwrap();
    /// let needs = policy.host_needs();
    /// assert_eq!(needs[0].field, "routes[0].idempotency");
    /// assert_eq!(needs[0].capability, Capability::KeyValueCompareAndSwap);
    /// ```
    pub fn host_needs(&self) -> Vec<crate::base::host_profile::HostNeed> {
        use crate::base::host_profile::{Capability, HostNeed};
        let routes = self.route_views();
        let mut needs = Vec::new();
        self.sections.host_needs(&routes, &mut needs);
        if self.sections.session.jwt_cookie_cache
            && self.sections.jwt.jwks_table
            && crate::layers::session::config::uses_sessions(&routes)
            && !needs.iter().any(|n| n.field == "jwt.jwks_table")
        {
            needs.push(HostNeed::new("jwt.jwks_table", Capability::Sqlite));
        }
        if self.security_events.table.is_some() {
            needs.push(HostNeed::new("security_events.table", Capability::Sqlite));
        }
        // The readiness endpoint's limit is no policy route, so the layers'
        // hooks do not see it: its sliding window needs increment too.
        if let Some(ready) = &self.ready
            && ready.route.keys.rate_limit.limit().is_some_and(|limit| {
                limit.algorithm == crate::layers::rate_limit::Algorithm::SlidingWindow
            })
        {
            needs.push(HostNeed::new(
                "settings.ready.rate_limit.algorithm",
                Capability::KeyValueIncrement,
            ));
        }
        if self.sections.rate_limit.client_ip == ClientIpSource::Peer
            && self.counts_by_address(&needs)
        {
            needs.push(HostNeed::new(
                "rate_limit.client_ip",
                Capability::PeerAddress,
            ));
        }
        needs
    }

    /// Every route as the layers' whole-policy hooks see it.
    fn route_views(&self) -> Vec<RouteView<'_, RouteKeys>> {
        self.routes
            .iter()
            .enumerate()
            .map(|(index, route)| RouteView {
                index,
                auth: route.auth,
                also: &route.also,
                skip: &route.skip,
                keys: &route.keys,
            })
            .collect()
    }

    /// Whether anything counts requests by the client's address: a rate
    /// limit keyed by `ip` (or by `user`, which is the address when
    /// anonymous), the readiness endpoint's, a lockout, a failed-credential
    /// throttle (already among `needs`).
    fn counts_by_address(&self, needs: &[crate::base::host_profile::HostNeed]) -> bool {
        use crate::layers::rate_limit::KeyPart;
        let keyed_by_address = |route: &Route| {
            !route.skips(Layer::RateLimit)
                && route.keys.rate_limit.limit().is_some_and(|limit| {
                    limit
                        .key
                        .iter()
                        .any(|k| matches!(k, KeyPart::Ip | KeyPart::User))
                })
        };
        self.routes.iter().any(keyed_by_address)
            || self
                .ready
                .as_ref()
                .is_some_and(|ready| keyed_by_address(&ready.route))
            || needs.iter().any(|n| {
                n.field.ends_with(".lockout")
                    || n.field == "jwt.failure_limit"
                    || n.field == "api_keys.failure_limit"
            })
    }

    /// Routes that are valid but probably not what was meant, for
    /// `warden policy check`: a method-restricted `required` or `worker`
    /// route followed by a weaker route (`none` or `optional`) for the same
    /// paths, so that every other method falls through to weaker auth.
    /// Routes in between that catch those methods with `required` or
    /// `worker` auth on all of the strict route's paths are taken into
    /// account.
    pub fn warnings(&self) -> Vec<crate::base::problem::ConfigProblem> {
        let strong = |auth: AuthMode| auth.refuses_anonymous();
        let mut out = Vec::new();
        for (i, strict) in self.routes.iter().enumerate() {
            let Some(methods) = &strict.methods else {
                continue;
            };
            if !strong(strict.auth) {
                continue;
            }
            // Other methods already caught by strong routes in between.
            let mut caught: Vec<&str> = Vec::new();
            let mut caught_all = false;
            for (j, later) in self.routes.iter().enumerate().skip(i + 1) {
                if !later.path.overlaps(&strict.path) {
                    continue;
                }
                if strong(later.auth) {
                    if later.path.covers(&strict.path) {
                        match &later.methods {
                            None => caught_all = true,
                            Some(list) => caught.extend(list.iter().map(String::as_str)),
                        }
                    }
                    if caught_all {
                        break;
                    }
                    continue;
                }
                let escaping: Vec<&str> = match &later.methods {
                    None => vec!["any other method"],
                    Some(list) => list
                        .iter()
                        .map(String::as_str)
                        .filter(|m| {
                            !strict.matches_method(m)
                                && !caught.iter().any(|c| {
                                    c.eq_ignore_ascii_case(m) || (*c == "GET" && *m == "HEAD")
                                })
                        })
                        .collect(),
                };
                if escaping.is_empty() {
                    continue;
                }
                out.push(crate::base::problem::ConfigProblem::new(
                    format!("routes[{i}].methods"),
                    format!(
                        "route \"{}\" requires auth = \"{}\" only for {}; {} on {} falls through to routes[{j}] (\"{}\", auth = \"{}\"); list every method on the strict route, or add a route for the others",
                        strict.name,
                        strict.auth.as_str(),
                        methods.join(", "),
                        escaping.join(", "),
                        strict.path,
                        later.name,
                        later.auth.as_str(),
                    ),
                ));
                break;
            }
        }
        out
    }

    /// How long warden waits for the app's response head on `route`
    /// (`None`: a request no route matches), in milliseconds; `None` when
    /// the timeout is off.
    ///
    /// ```
    /// use warden_core::policy::parse_policy;
    ///
    /// let policy = parse_policy(r#"
    ///     [settings]
    ///     timeout = "10s"
    ///
    ///     [[routes]]
    ///     name = "report"
    ///     path = "/report"
    ///     timeout = "2m"
    ///
    ///     [[routes]]
    ///     name = "events"
    ///     path = "/events"
    ///     timeout = "off"
    ///
    ///     [[routes]]
    ///     name = "rest"
    ///     path = "/*"
    /// "#).unwrap();
    /// let ms = |i: usize| policy.app_timeout_ms(Some(&policy.routes[i]));
    /// assert_eq!((ms(0), ms(1), ms(2)), (Some(120_000), None, Some(10_000)));
    /// assert_eq!(policy.app_timeout_ms(None), Some(10_000));
    /// ```
    pub fn app_timeout_ms(&self, route: Option<&Route>) -> Option<u64> {
        match route
            .and_then(|r| r.timeout)
            .unwrap_or(self.settings.timeout)
        {
            AppTimeout::Off => None,
            AppTimeout::After(ms) => Some(ms),
        }
    }

    /// The `Allow` value of a 405 for a request no route matched: the
    /// methods of the routes whose path matches (`body::allow_value`);
    /// `None` when no route has the path (a 404).
    ///
    /// ```
    /// use warden_core::http::path::normalize_path;
    /// use warden_core::policy::parse_policy;
    ///
    /// let policy = parse_policy(r#"
    ///     [[routes]]
    ///     name = "orders"
    ///     methods = ["POST"]
    ///     path = "/orders"
    ///
    ///     [[routes]]
    ///     name = "read"
    ///     methods = ["GET"]
    ///     path = "/orders"
    /// "#).unwrap();
    /// let path = normalize_path("/orders").unwrap();
    /// assert_eq!(policy.allow_for_path(&path).as_deref(), Some("GET, HEAD, POST"));
    /// assert_eq!(policy.allow_for_path(&normalize_path("/other").unwrap()), None);
    /// ```
    pub fn allow_for_path(&self, path: &MatchPath) -> Option<String> {
        crate::layers::body::allow_value(
            self.routes
                .iter()
                .filter(|route| route.path.matches(path))
                .map(|route| route.methods.as_deref()),
        )
    }

    /// The first route that matches the request, with its index.
    pub fn match_route(&self, method: &str, path: &MatchPath) -> Option<(usize, &Route)> {
        self.routes
            .iter()
            .enumerate()
            .find(|(_, route)| route.matches(method, path))
    }
}

/// Global settings of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Inner responses with a known `content-length` up to this many bytes are
    /// passed on whole rather than streamed.
    pub response_buffer_limit: u64,
    /// Longest single request header value accepted, in bytes.
    pub max_header_bytes: usize,
    /// Which app-dependent path spellings are let through
    /// (`path_semicolons`, `path_double_encoding`; both refused by default).
    pub path: crate::http::path::PathOptions,
    /// What happens to a request that no route matches (`unmatched`).
    pub unmatched: Unmatched,
    /// How long warden waits for the app's response head (`timeout`),
    /// unless a route says otherwise.
    pub timeout: AppTimeout,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            response_buffer_limit: DEFAULT_RESPONSE_BUFFER_LIMIT,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            path: crate::http::path::PathOptions::default(),
            unmatched: Unmatched::Forward,
            timeout: AppTimeout::After(DEFAULT_APP_TIMEOUT_MS),
        }
    }
}

/// What warden does with a request that no route matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unmatched {
    /// Forward it to the app with only the request ID and header hygiene
    /// (the default, and the behaviour before this setting existed).
    #[default]
    Forward,
    /// Answer `404 {"error":{"code":"NOT_FOUND","message":"Not found"}}`
    /// with the global security headers; the app never sees it.
    Deny,
}

/// One route of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Unique name, `[a-z0-9_-]{1,64}`; used in logs and rate-limit keys.
    pub name: String,
    /// Uppercase methods this route applies to; `None` means any method.
    pub methods: Option<Vec<String>>,
    /// The path pattern.
    pub path: PathPattern,
    /// Who may pass: the mode, or the first of an `auth = [...]` list.
    pub auth: AuthMode,
    /// The other credentials an `auth = [...]` list accepts, in order; the
    /// first credential a request presents decides (empty for one mode).
    pub also: Vec<AuthMode>,
    /// Roles of which the user must hold at least one; only with optional or
    /// required auth.
    pub roles: Vec<String>,
    /// Layers this route skips.
    pub skip: Vec<Layer>,
    /// The route's `timeout`; `None`: `[settings] timeout`.
    pub timeout: Option<AppTimeout>,
    /// Each layer's keys of this route (`rate_limit`, `headers`, `cors`,
    /// `worker`): how it is limited, and its tables merged over the
    /// policy's sections.
    pub keys: RouteKeys,
}

impl Route {
    /// Whether the route accepts `mode`'s credential (as `auth` or in its list).
    pub fn accepts(&self, mode: AuthMode) -> bool {
        self.auth == mode || self.also.contains(&mode)
    }

    /// Every mode the route accepts, in order.
    pub fn auth_modes(&self) -> impl Iterator<Item = AuthMode> + '_ {
        std::iter::once(self.auth).chain(self.also.iter().copied())
    }

    /// Whether this route applies to the request.
    pub fn matches(&self, method: &str, path: &MatchPath) -> bool {
        self.matches_method(method) && self.path.matches(path)
    }

    /// Whether this route applies to `method`.
    ///
    /// Methods compare ASCII case-insensitively, and a route listing `GET` also
    /// applies to `HEAD`: many frameworks answer `HEAD` with the `GET` handler, so
    /// a request must not escape a `GET` route's rules by changing its method's
    /// spelling or asking only for headers.
    pub fn matches_method(&self, method: &str) -> bool {
        match &self.methods {
            None => true,
            Some(methods) => methods.iter().any(|m| {
                m.eq_ignore_ascii_case(method)
                    || (m == "GET" && method.eq_ignore_ascii_case("HEAD"))
            }),
        }
    }

    /// Whether this route skips `layer`.
    pub fn skips(&self, layer: Layer) -> bool {
        self.skip.contains(&layer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::path::normalize_path;
    use crate::layers::rate_limit::{KeyPart, Preset};

    fn path(p: &str) -> MatchPath {
        match normalize_path(p) {
            Ok(m) => m,
            Err(e) => panic!("{p:?}: {e}"),
        }
    }

    fn policy(doc: &str) -> Policy {
        match parse_policy(doc) {
            Ok(p) => p,
            Err(problems) => panic!("{problems:?}"),
        }
    }

    #[test]
    fn built_in_policy() {
        let p = Policy::built_in();
        assert_eq!(p.settings, Settings::default());
        assert_eq!(p.settings.response_buffer_limit, 0);
        assert_eq!(p.settings.max_header_bytes, 16_384);
        assert_eq!(p.routes.len(), 1);
        let route = &p.routes[0];
        assert_eq!(route.name, "default");
        assert_eq!(route.path.as_str(), "/*");
        assert_eq!(route.auth, AuthMode::NONE);
        assert_eq!(route.keys.rate_limit, Preset::Web.rule(KeyPart::Ip));
        for (method, p2) in [("GET", "/"), ("DELETE", "/a/b/c"), ("BREW", "/x")] {
            assert_eq!(p.match_route(method, &path(p2)).map(|(i, _)| i), Some(0));
        }
    }

    #[test]
    fn first_match_wins() {
        let p = policy(
            r#"
            [[routes]]
            name = "admin"
            path = "/api/admin/*"
            auth = "required"
            roles = ["admin"]

            [[routes]]
            name = "api"
            path = "/api/*"
            rate_limit = "api"

            [[routes]]
            name = "rest"
            path = "*"
            "#,
        );
        let find = |m: &str, q: &str| p.match_route(m, &path(q)).map(|(i, r)| (i, r.name.clone()));
        assert_eq!(find("GET", "/api/admin"), Some((0, "admin".into())));
        assert_eq!(find("GET", "/API//Admin/users"), Some((0, "admin".into())));
        assert_eq!(find("GET", "/api/%61dmin"), Some((0, "admin".into())));
        assert_eq!(find("GET", "/api/administrator"), Some((1, "api".into())));
        assert_eq!(find("GET", "/api"), Some((1, "api".into())));
        assert_eq!(find("GET", "/"), Some((2, "rest".into())));
    }

    #[test]
    fn methods_filter() {
        let p = policy(
            r#"
            [[routes]]
            name = "write"
            methods = ["POST", "DELETE"]
            path = "/items/*"
            auth = "required"

            [[routes]]
            name = "read"
            methods = ["GET"]
            path = "/items/*"

            [[routes]]
            name = "rest"
            path = "/*"
            "#,
        );
        let find = |m: &str, q: &str| p.match_route(m, &path(q)).map(|(i, _)| i);
        assert_eq!(find("POST", "/items/1"), Some(0));
        assert_eq!(find("DELETE", "/items/1"), Some(0));
        assert_eq!(find("delete", "/items/1"), Some(0));
        assert_eq!(find("GET", "/items/1"), Some(1));
        assert_eq!(find("HEAD", "/items/1"), Some(1));
        assert_eq!(find("PUT", "/items/1"), Some(2));
        assert_eq!(find("OPTIONS", "/items"), Some(2));
    }

    #[test]
    fn no_match_is_none() {
        let p = policy(
            r#"
            [[routes]]
            name = "health"
            methods = ["GET"]
            path = "/health"
            "#,
        );
        assert!(p.match_route("GET", &path("/other")).is_none());
        assert!(p.match_route("POST", &path("/health")).is_none());
    }

    fn warnings(doc: &str) -> Vec<String> {
        policy(doc)
            .warnings()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    const ADMIN_GET_POST: &str = r#"
        [[routes]]
        name = "admin"
        methods = ["GET", "POST"]
        path = "/api/admin/*"
        auth = "required"
        "#;

    #[test]
    fn other_methods_falling_through_to_weaker_auth_are_warned_about() {
        let found = warnings(&format!(
            "{ADMIN_GET_POST}\n[[routes]]\nname = \"api\"\npath = \"/api/*\"\nauth = \"optional\"\n"
        ));
        assert_eq!(
            found,
            [
                "routes[0].methods: route \"admin\" requires auth = \"required\" only for GET, POST; any other method on /api/admin/* falls through to routes[1] (\"api\", auth = \"optional\"); list every method on the strict route, or add a route for the others"
            ]
        );
        // A weaker route listing only other methods, on part of the paths.
        let found = warnings(&format!(
            "{ADMIN_GET_POST}\n[[routes]]\nname = \"del\"\nmethods = [\"DELETE\", \"GET\"]\npath = \"/api/*/panel\"\n"
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("DELETE on /api/admin/*"), "{found:?}");
        // Worker routes too.
        let found = warnings(
            "[[routes]]\nname = \"hook\"\nmethods = [\"POST\"]\npath = \"/hook\"\nauth = \"worker\"\n[[routes]]\nname = \"all\"\npath = \"/*\"\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("routes[0].methods: route \"hook\" requires auth = \"worker\"")
        );
    }

    #[test]
    fn no_warning_when_nothing_falls_through() {
        for rest in [
            // Every other method is caught by a strong route first.
            "[[routes]]\nname = \"admin-rest\"\npath = \"/api/admin/*\"\nauth = \"required\"\n[[routes]]\nname = \"api\"\npath = \"/api/*\"\n",
            // The weaker route is for other paths only.
            "[[routes]]\nname = \"public\"\npath = \"/public/*\"\n",
            // The weaker route only has methods the strict one covers (HEAD with GET).
            "[[routes]]\nname = \"api\"\nmethods = [\"HEAD\", \"POST\"]\npath = \"/api/*\"\n",
            // A strong route in between catches the remaining method.
            "[[routes]]\nname = \"d\"\nmethods = [\"DELETE\"]\npath = \"/api/admin/*\"\nauth = \"worker\"\n[[routes]]\nname = \"api\"\nmethods = [\"DELETE\"]\npath = \"/api/*\"\n",
        ] {
            assert_eq!(
                warnings(&format!("{ADMIN_GET_POST}\n{rest}")),
                Vec::<String>::new(),
                "{rest}"
            );
        }
        // Unrestricted strong routes, and the demo's shape, are fine.
        assert!(warnings("[[routes]]\nname = \"a\"\npath = \"/a/*\"\nauth = \"required\"\n[[routes]]\nname = \"r\"\npath = \"/*\"\n").is_empty());
    }

    #[test]
    fn pattern_overlap() {
        let p = |s: &str| PathPattern::parse(s).unwrap();
        for (a, b) in [
            ("/api/*", "/api/admin/*"),
            ("/api/admin", "/api/*"),
            ("/api/*/panel", "/api/admin/*"),
            ("*", "/x"),
            ("/a/*/c", "/a/b/c"),
            ("/a", "/a/*"),
        ] {
            assert!(p(a).overlaps(&p(b)), "{a} {b}");
            assert!(p(b).overlaps(&p(a)), "{b} {a}");
        }
        for (a, b) in [
            ("/api/*", "/public/*"),
            ("/a/b", "/a/b/c"),
            ("/a/*/c", "/a/b/d"),
            ("/a/b/*", "/a"),
        ] {
            assert!(!p(a).overlaps(&p(b)), "{a} {b}");
            assert!(!p(b).overlaps(&p(a)), "{b} {a}");
        }
    }

    #[test]
    fn names_round_trip() {
        for mode in crate::layers::auth_modes() {
            assert_eq!(crate::layers::auth_mode(mode.as_str()), Some(mode));
        }
        for layer in Layer::ALL {
            assert_eq!(Layer::from_name(layer.as_str()), Some(layer));
        }
        assert_eq!(AuthMode::default(), AuthMode::NONE);
        assert_eq!(crate::layers::auth_mode("None"), None);
        assert_eq!(Layer::from_name("rate-limit"), None);
    }
}
