//! The readiness endpoint, `[settings] ready`.
//!
//! ```
//! use warden_core::http::path::normalize_path;
//! use warden_core::policy::parse_policy;
//!
//! let routes = "[[routes]]\nname = \"app\"\npath = \"/*\"\n";
//! // On by default, at /.warden/ready, limited per address like a route.
//! let policy = parse_policy(routes).unwrap();
//! let ready = policy.ready.as_ref().unwrap();
//! assert!(ready.is_at(&normalize_path("/.warden/ready").unwrap()));
//! assert!(ready.route.keys.rate_limit.limit().is_some());
//! // Moved, with a limit of its own.
//! let moved = parse_policy(&format!(
//!     "[settings]\nready = {{ path = \"/healthz/ready\", rate_limit = \"strict\" }}\n{routes}"
//! )).unwrap();
//! assert!(moved.ready.unwrap().is_at(&normalize_path("/healthz/ready").unwrap()));
//! // Off: the path is like any other and goes to the routes.
//! let off = parse_policy(&format!("[settings]\nready = false\n{routes}")).unwrap();
//! assert!(off.ready.is_none());
//! ```
//!
//! The probe reads the key-value store and runs one SQL statement, so it is
//! counted against a rate limit per client address before it does either,
//! like any route (default: the `web` preset, 300 a minute). It answers
//! `GET` and `HEAD` only.

use toml::Value;

use super::{PathPattern, Route};
use crate::base::auth_mode::AuthMode;
use crate::base::fields::Problems;
use crate::http::path::{MatchPath, normalize_path};
use crate::layers::RouteKeys;
use crate::layers::rate_limit::parse::parse_rate_limit;
use crate::layers::rate_limit::{RateLimitRule, RateLimiting};

/// Where the readiness endpoint answers unless `[settings] ready` moves it.
pub const DEFAULT_READY_PATH: &str = "/.warden/ready";

/// The name the endpoint has in logs and rate-limit keys. Route names are
/// `[a-z0-9_-]`, so no policy route can share its counters.
pub const READY_ROUTE_NAME: &str = ".warden-ready";

/// The methods the endpoint answers; anything else gets 405.
pub const READY_METHODS: &str = "GET, HEAD";

pub(crate) const FIELDS: &[&str] = &["path", "rate_limit"];

/// The readiness endpoint as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyEndpoint {
    /// The normalized path it answers on.
    pub path: MatchPath,
    /// A route standing for the endpoint in the rate-limit layer: its name
    /// ([`READY_ROUTE_NAME`]), `GET` (and so `HEAD`), and its limit.
    pub route: Route,
}

impl ReadyEndpoint {
    /// The endpoint at `path` (a normalizable plain path) with `rate_limit`.
    fn new(path: &str, rate_limit: RateLimitRule) -> Option<ReadyEndpoint> {
        Some(ReadyEndpoint {
            path: normalize_path(path).ok()?,
            route: Route {
                name: READY_ROUTE_NAME.to_string(),
                methods: Some(vec!["GET".to_string()]),
                path: PathPattern::parse(path).ok()?,
                auth: AuthMode::NONE,
                also: Vec::new(),
                roles: Vec::new(),
                skip: Vec::new(),
                timeout: None,
                keys: RouteKeys {
                    rate_limit,
                    ..RouteKeys::default()
                },
            },
        })
    }

    /// The endpoint's defaults: at [`DEFAULT_READY_PATH`], the `web` limit.
    pub fn default_endpoint() -> ReadyEndpoint {
        match ReadyEndpoint::new(DEFAULT_READY_PATH, RateLimitRule::default_for_route()) {
            Some(endpoint) => endpoint,
            None => unreachable!("the default readiness path is a plain path"),
        }
    }

    /// Whether a request for the normalized `path` is for the endpoint.
    pub fn is_at(&self, path: &MatchPath) -> bool {
        self.path == *path
    }

    /// Whether the endpoint answers `method` (upper case).
    pub fn allows(&self, method: &str) -> bool {
        self.route.matches_method(method)
    }
}

/// Reads `[settings] ready`: `true` (the default), `false` (off), or a
/// table `{ path = "…", rate_limit = … }` with both keys optional.
pub(crate) fn parse_ready(value: Option<&Value>, problems: &mut Problems) -> Option<ReadyEndpoint> {
    const FIELD: &str = "settings.ready";
    let table = match value {
        None | Some(Value::Boolean(true)) => return Some(ReadyEndpoint::default_endpoint()),
        Some(Value::Boolean(false)) => return None,
        Some(Value::Table(table)) => table,
        Some(other) => {
            problems.wrong_type(FIELD, "true, false or a table { path, rate_limit }", other);
            return None;
        }
    };
    problems.unknown_fields(table, "settings.ready.", FIELDS);
    let path = match table.get("path") {
        None => DEFAULT_READY_PATH.to_string(),
        Some(Value::String(path)) => match check_plain_path(path) {
            Ok(()) => path.clone(),
            Err(message) => {
                problems.add(format!("{FIELD}.path"), message);
                return None;
            }
        },
        Some(other) => {
            problems.wrong_type(format!("{FIELD}.path"), "a string", other);
            return None;
        }
    };
    let rate_limit = match table.get("rate_limit") {
        None => RateLimitRule::default_for_route(),
        Some(value) => {
            let field = format!("{FIELD}.rate_limit");
            if let Some(problem) = crate::layers::refuse_unbuilt::<RateLimiting>(field.clone()) {
                problems.0.push(problem);
                return None;
            }
            let rule = parse_rate_limit(value, &field, READY_ROUTE_NAME, problems)?;
            if rule.limit().is_some_and(|limit| limit.needs_identity()) {
                problems.add(
                    field,
                    "must count by address: the readiness endpoint identifies no user",
                );
                return None;
            }
            rule
        }
    };
    let endpoint = ReadyEndpoint::new(&path, rate_limit);
    if endpoint.is_none() {
        problems.add(format!("{FIELD}.path"), "is not a usable path");
    }
    endpoint
}

/// A path with no pattern characters that normalizes to something other
/// than the root.
fn check_plain_path(path: &str) -> Result<(), String> {
    if path.contains(['*', '?', '#']) {
        return Err("must be a plain path, without *, ? or #".into());
    }
    match normalize_path(path) {
        Ok(p) if p.as_str() != "/" => Ok(()),
        Ok(_) => Err("must not be the root path".into()),
        Err(e) => Err(format!("is not a usable path: {}", e.reason())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_policy;

    const ROUTES: &str = "[[routes]]\nname = \"app\"\npath = \"/*\"\n";

    fn problems(settings: &str) -> Vec<String> {
        match parse_policy(&format!("[settings]\n{settings}\n{ROUTES}")) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn defaults_and_forms() {
        let on = parse_policy(ROUTES).unwrap().ready.unwrap();
        assert_eq!(on, ReadyEndpoint::default_endpoint());
        assert_eq!(on.route.name, READY_ROUTE_NAME);
        assert_eq!(on.route.keys.rate_limit, RateLimitRule::default_for_route());
        assert!(on.allows("GET") && on.allows("HEAD"));
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"] {
            assert!(!on.allows(method), "{method}");
        }
        // Normalized like any request path.
        assert!(on.is_at(&normalize_path("/.WARDEN//ready/").unwrap()));
        assert!(!on.is_at(&normalize_path("/.warden/ready/x").unwrap()));

        let explicit = parse_policy(&format!("[settings]\nready = true\n{ROUTES}")).unwrap();
        assert_eq!(explicit.ready, Some(on));
        let off = parse_policy(&format!("[settings]\nready = false\n{ROUTES}")).unwrap();
        assert_eq!(off.ready, None);

        let moved = parse_policy(&format!(
            "[settings]\nready = {{ path = \"/ops/ready\", rate_limit = \"off\" }}\n{ROUTES}"
        ))
        .unwrap()
        .ready
        .unwrap();
        assert!(moved.is_at(&normalize_path("/ops/ready").unwrap()));
        assert_eq!(moved.route.keys.rate_limit, RateLimitRule::Off);
        let limited = parse_policy(&format!(
            "[settings]\nready = {{ rate_limit = {{ requests = 2, window = \"1m\" }} }}\n{ROUTES}"
        ))
        .unwrap()
        .ready
        .unwrap();
        assert!(limited.is_at(&normalize_path(DEFAULT_READY_PATH).unwrap()));
        assert_eq!(
            limited.route.keys.rate_limit.limit().unwrap().quotas[0].requests,
            2
        );
    }

    #[test]
    fn problems_name_their_field() {
        assert_eq!(
            problems("ready = \"yes\""),
            ["settings.ready: must be true, false or a table { path, rate_limit }, found a string"]
        );
        assert_eq!(
            problems("ready = { path = \"/ops/*\" }"),
            ["settings.ready.path: must be a plain path, without *, ? or #"]
        );
        assert_eq!(
            problems("ready = { path = \"/\" }"),
            ["settings.ready.path: must not be the root path"]
        );
        assert_eq!(
            problems("ready = { path = 3 }"),
            ["settings.ready.path: must be a string, found an integer"]
        );
        assert_eq!(
            problems("ready = { rate_limit = { preset = \"api\", key = \"user\" } }"),
            [
                "settings.ready.rate_limit: must count by address: the readiness endpoint identifies no user"
            ]
        );
        assert_eq!(problems("ready = { rate_limit = \"nope\" }").len(), 1);
        let clash = "[session]\nrevoke = true\nrevoke_path = \"/ops/revoke\"\n\
                     [settings]\nready = { path = \"/OPS/revoke/\" }\n\
                     [[routes]]\nname = \"ops\"\nmethods = [\"POST\"]\npath = \"/ops/*\"\nauth = \"worker\"\n";
        let found: Vec<String> = parse_policy(&format!("{clash}{ROUTES}"))
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            ["settings.ready.path: must differ from session.revoke_path"]
        );
        assert_eq!(
            problems("ready = { colour = 1 }"),
            ["settings.ready.colour: unknown field; expected one of: path, rate_limit"]
        );
    }
}
