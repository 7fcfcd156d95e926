//! Reading and validating the policy document.
//!
//! The document is parsed to a TOML table and then walked by hand rather than
//! derived with serde, because serde stops at the first problem and an operator
//! fixing a deployment wants every problem at once, each with its field path.

use toml::{Table, Value};

use super::{
    AppTimeout, MAX_APP_TIMEOUT_MS, MAX_MAX_HEADER_BYTES, MAX_RESPONSE_BUFFER_LIMIT,
    MIN_APP_TIMEOUT_MS, MIN_MAX_HEADER_BYTES, PathPattern, Policy, Route, Settings, Unmatched,
};
use crate::base::auth_mode::AuthMode;
use crate::base::fields::{Problems, is_tchar};
use crate::base::layer::Layer;
use crate::base::layer::RouteContext;
use crate::base::problem::ConfigProblem;
use crate::layers::{RouteKeys, Sections};

/// The top-level keys the policy itself reads; each layer adds its own
/// sections ([`top_fields`]).
const POLICY_TOP_FIELDS: &[&str] = &["settings", "routes", "stores", "security_events"];
pub(crate) const SETTINGS_FIELDS: &[&str] = &[
    "response_buffer_limit",
    "max_header_bytes",
    "ready",
    "path_semicolons",
    "path_double_encoding",
    "unmatched",
    "timeout",
];
/// The route keys the policy itself reads; each layer adds its own
/// ([`route_fields`]).
const POLICY_ROUTE_FIELDS: &[&str] = &[
    "name", "methods", "path", "auth", "roles", "skip", "timeout",
];

/// Every top-level key a policy may have: the policy's and the layers'.
pub(crate) fn top_fields() -> Vec<&'static str> {
    let layers = crate::layers::LAYERS.iter().flat_map(|l| l.sections.iter());
    POLICY_TOP_FIELDS.iter().chain(layers).copied().collect()
}

/// Every key a route may have: the policy's and the layers'.
pub(crate) fn route_fields() -> Vec<&'static str> {
    let layers = crate::layers::LAYERS
        .iter()
        .flat_map(|l| l.route_keys.iter());
    POLICY_ROUTE_FIELDS.iter().chain(layers).copied().collect()
}
const MAX_NAME_LEN: usize = 64;
const MAX_ROLE_LEN: usize = 64;
const MAX_METHOD_LEN: usize = 32;

/// Parses and validates a policy document, reporting every problem at once.
///
/// ```toml
/// [settings]
/// response_buffer_limit = 0       # bytes, 0..=16 MiB (0: stream every response)
/// max_header_bytes = 16384        # bytes, 256..=1 MiB
/// path_semicolons = "refuse"      # refuse (default) | allow: `;` in a path segment
/// path_double_encoding = "refuse" # refuse (default) | allow: `%25` in a path
/// unmatched = "forward"           # forward (default) | deny: 404 (405 with Allow) when no route matches
/// timeout = "30s"                 # the app's response head: "10ms".."1h", or "off"; past it, 504
///
/// [[routes]]                      # at least one; tried in order, first match wins
/// name = "admin"                  # required, unique, [a-z0-9_-]{1,64}
/// methods = ["GET", "POST"]       # optional, default any; GET also covers HEAD
/// path = "/admin/*"               # required; see PathPattern
/// auth = "required"               # none (default) | optional | required | worker
/// roles = ["admin"]               # optional; only with optional/required auth
/// rate_limit = "strict"           # "off" | preset (default "web")
///                                 # | { preset = "api", key = "user" }
///                                 # | { requests = 10, window = "15m", key = "ip" }
/// skip = ["cors"]                 # optional; headers | cors | rate_limit | auth
/// timeout = "5s"                  # optional; [settings] timeout for this route
/// ```
///
/// Besides the shape of each field it refuses contradictions: roles or
/// `key = "user"` on a route that identifies no user, skipping a layer the route
/// configures, duplicate names, and routes that an earlier route always shadows.
/// A TOML syntax error is a single problem with field `policy`.
pub fn parse_policy(doc: &str) -> Result<Policy, Vec<ConfigProblem>> {
    parse_partial(doc).into_result()
}

/// A policy document read as far as possible: the valid routes (with their
/// indices) next to every problem. The configuration uses it to check the valid
/// routes against the other settings even when some routes are broken.
pub(crate) struct Partial {
    /// Everything but the routes (`policy.routes` stays empty): the global
    /// settings and sections, each at its default where it had problems.
    pub(crate) policy: Policy,
    pub(crate) routes: Vec<(usize, Route)>,
    pub(crate) problems: Vec<ConfigProblem>,
}

impl Partial {
    pub(crate) fn into_result(self) -> Result<Policy, Vec<ConfigProblem>> {
        if self.problems.is_empty() {
            Ok(Policy {
                routes: self.routes.into_iter().map(|(_, route)| route).collect(),
                ..self.policy
            })
        } else {
            Err(self.problems)
        }
    }
}

pub(crate) fn parse_partial(doc: &str) -> Partial {
    let table: Table = match super::document::parse(doc) {
        Ok(table) => table,
        Err(error) => {
            return Partial {
                policy: Policy::empty(),
                routes: Vec::new(),
                problems: vec![syntax_problem(doc, &error)],
            };
        }
    };
    let mut problems = Problems::default();

    let settings = match table.get("settings") {
        None => Settings::default(),
        Some(Value::Table(t)) => parse_settings(t, &mut problems),
        Some(other) => {
            problems.wrong_type("settings", "a table ([settings])", other);
            Settings::default()
        }
    };

    let ready = super::ready::parse_ready(
        match table.get("settings") {
            Some(Value::Table(t)) => t.get("ready"),
            _ => None,
        },
        &mut problems,
    );

    let sections = Sections::parse(&table, &mut problems);
    let stores = super::stores::parse_stores(table.get("stores"), &mut problems);
    let security_events =
        super::security_events::parse_security_events(table.get("security_events"), &mut problems);

    let mut routes: Vec<(usize, Route)> = Vec::new();
    match table.get("routes") {
        None => problems.add("routes", "at least one [[routes]] entry is required"),
        Some(Value::Array(items)) if items.is_empty() => {
            problems.add("routes", "at least one [[routes]] entry is required")
        }
        Some(Value::Array(items)) => {
            let mut names: Vec<(&str, usize)> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if let Some(route) = parse_route(i, item, &mut names, &mut problems) {
                    routes.push((i, route));
                }
            }
        }
        Some(other) => problems.wrong_type("routes", "an array of tables ([[routes]])", other),
    }
    report_shadowed(&routes, &mut problems);
    super::checks::check_routes(&routes, &sections, settings.timeout, &mut problems.0);
    if let (Some(ready), Some(revoke)) = (&ready, &sections.session.revoke_path)
        && ready.is_at(revoke)
    {
        problems.add(
            "settings.ready.path",
            "must differ from session.revoke_path",
        );
    }
    problems.unknown_fields(&table, "", &top_fields());
    Partial {
        policy: Policy {
            settings,
            sections,
            stores,
            security_events,
            ready,
            ..Policy::empty()
        },
        routes,
        problems: problems.0,
    }
}

fn parse_settings(table: &Table, problems: &mut Problems) -> Settings {
    let mut settings = Settings::default();
    if let Some(v) = table.get("response_buffer_limit") {
        let max = i64::try_from(MAX_RESPONSE_BUFFER_LIMIT).unwrap_or(i64::MAX);
        if let Some(n) = problems.integer("settings.response_buffer_limit", v, 0, max) {
            settings.response_buffer_limit = n.unsigned_abs();
        }
    }
    if let Some(v) = table.get("max_header_bytes") {
        let min = i64::try_from(MIN_MAX_HEADER_BYTES).unwrap_or(i64::MAX);
        let max = i64::try_from(MAX_MAX_HEADER_BYTES).unwrap_or(i64::MAX);
        if let Some(n) = problems.integer("settings.max_header_bytes", v, min, max) {
            settings.max_header_bytes = usize::try_from(n).unwrap_or(MAX_MAX_HEADER_BYTES);
        }
    }
    let allowed = |problems: &mut Problems, field: &str| {
        table.get(field).and_then(|v| {
            problems
                .choice(&format!("settings.{field}"), v, &["refuse", "allow"])
                .map(|choice| choice == "allow")
        })
    };
    if let Some(allow) = allowed(problems, "path_semicolons") {
        settings.path.allow_semicolons = allow;
    }
    if let Some(allow) = allowed(problems, "path_double_encoding") {
        settings.path.allow_double_encoding = allow;
    }
    if let Some(v) = table.get("unmatched") {
        match problems.choice("settings.unmatched", v, &["forward", "deny"]) {
            Some("deny") => settings.unmatched = Unmatched::Deny,
            Some(_) => settings.unmatched = Unmatched::Forward,
            None => {}
        }
    }
    if let Some(v) = table.get("timeout")
        && let Some(timeout) = parse_timeout(v, "settings.timeout", problems)
    {
        settings.timeout = timeout;
    }
    problems.unknown_fields(table, "settings.", SETTINGS_FIELDS);
    settings
}

/// `timeout`: `"off"` or a duration such as `"30s"` or `"500ms"`, within
/// [`MIN_APP_TIMEOUT_MS`]..=[`MAX_APP_TIMEOUT_MS`].
fn parse_timeout(value: &Value, field: &str, problems: &mut Problems) -> Option<AppTimeout> {
    let Value::String(text) = value else {
        problems.wrong_type(field, "a duration like \"30s\" or \"off\"", value);
        return None;
    };
    if text == "off" {
        return Some(AppTimeout::Off);
    }
    match crate::base::fields::parse_duration_ms(text) {
        Ok(ms) if (MIN_APP_TIMEOUT_MS..=MAX_APP_TIMEOUT_MS).contains(&ms) => {
            Some(AppTimeout::After(ms))
        }
        Ok(_) => {
            problems.add(
                field,
                format!("must be between {MIN_APP_TIMEOUT_MS}ms and 1h, or \"off\""),
            );
            None
        }
        Err(message) => {
            problems.add(field, format!("{message}, or \"off\""));
            None
        }
    }
}

/// Validates one `[[routes]]` entry; `None` if it has any problem.
fn parse_route<'a>(
    i: usize,
    item: &'a Value,
    names: &mut Vec<(&'a str, usize)>,
    problems: &mut Problems,
) -> Option<Route> {
    let Value::Table(table) = item else {
        problems.wrong_type(format!("routes[{i}]"), "a table", item);
        return None;
    };
    let before = problems.0.len();
    let field = |name: &str| format!("routes[{i}].{name}");

    let name = match table.get("name") {
        None => {
            problems.add(field("name"), "is required");
            None
        }
        Some(Value::String(name)) => match check_name(name) {
            Err(message) => {
                problems.add(field("name"), message);
                None
            }
            Ok(()) => {
                if let Some((_, first)) = names.iter().find(|(n, _)| *n == name.as_str()) {
                    problems.add(
                        field("name"),
                        format!("duplicate route name \"{name}\" (also routes[{first}])"),
                    );
                } else {
                    names.push((name.as_str(), i));
                }
                Some(name.clone())
            }
        },
        Some(other) => {
            problems.wrong_type(field("name"), "a string", other);
            None
        }
    };

    let methods = match table.get("methods") {
        None => None,
        Some(Value::Array(items)) if items.is_empty() => {
            problems.add(
                field("methods"),
                "must list at least one method (leave it out to allow any method)",
            );
            None
        }
        Some(v) => problems
            .strings(&field("methods"), v, |m| {
                check_method(m).map(|()| m.to_string())
            })
            .map(|mut methods| {
                let mut seen = Vec::with_capacity(methods.len());
                methods.retain(|m| {
                    let new = !seen.contains(m);
                    seen.push(m.clone());
                    new
                });
                methods
            }),
    };

    let path = match table.get("path") {
        None => {
            problems.add(field("path"), "is required");
            None
        }
        Some(Value::String(p)) => match PathPattern::parse(p) {
            Ok(pattern) => Some(pattern),
            Err(message) => {
                problems.add(field("path"), message);
                None
            }
        },
        Some(other) => {
            problems.wrong_type(field("path"), "a string", other);
            None
        }
    };

    let mode_named = |name: &str, at: String, problems: &mut Problems| {
        let mode = crate::layers::auth_mode(name);
        if mode.is_none() {
            let names: Vec<&str> = crate::layers::auth_modes().map(|m| m.as_str()).collect();
            problems.add(at, format!("must be one of: {}", names.join(", ")));
        }
        mode
    };
    let (auth, also) = match table.get("auth") {
        None => (Some(AuthMode::NONE), Some(Vec::new())),
        Some(Value::String(a)) => (mode_named(a, field("auth"), problems), Some(Vec::new())),
        Some(Value::Array(items)) => {
            match credential_list(items, &field("auth"), problems, mode_named) {
                Some((first, rest)) => (Some(first), Some(rest)),
                None => (None, None),
            }
        }
        Some(other) => {
            problems.wrong_type(field("auth"), "a mode name or a list of them", other);
            (None, None)
        }
    };

    let roles = match table.get("roles") {
        None => Some(Vec::new()),
        Some(v) => problems.strings(&field("roles"), v, |r| {
            check_role(r).map(|()| r.to_string())
        }),
    };
    if let (Some(auth), Some(roles)) = (auth, &roles)
        && !roles.is_empty()
        && !auth.identifies_users()
    {
        // The modes come from the registry, so a new credential layer is
        // named here without editing this message.
        let modes: Vec<String> = crate::layers::auth_modes()
            .filter(AuthMode::identifies_users)
            .map(|m| format!("\"{}\"", m.as_str()))
            .collect();
        problems.add(
            field("roles"),
            format!(
                "roles need an auth mode that identifies users ({}); this route has auth = \"{}\"",
                modes.join(", "),
                auth.as_str()
            ),
        );
    }

    for mode in auth.iter().chain(also.iter().flatten()) {
        if let Some(problem) = crate::layers::check_auth_built(*mode, field("auth")) {
            problems.0.push(problem);
        }
    }
    let context = RouteContext {
        index: i,
        name: name.as_deref().unwrap_or("route"),
        table,
        auth,
        also: also.as_deref().unwrap_or(&[]),
    };
    let keys = RouteKeys::parse(&context, problems);

    let skip = match table.get("skip") {
        None => Some(Vec::new()),
        Some(v) => problems
            .strings(&field("skip"), v, |s| {
                Layer::from_name(s).ok_or_else(|| {
                    "unknown layer; expected one of: headers, cors, rate_limit, auth".to_string()
                })
            })
            .map(|mut layers| {
                let mut seen = Vec::with_capacity(layers.len());
                layers.retain(|l| {
                    let new = !seen.contains(l);
                    seen.push(*l);
                    new
                });
                layers
            }),
    };
    if let (Some(skip), Some(auth)) = (&skip, auth)
        && auth != AuthMode::NONE
        && skip.contains(&Layer::Auth)
    {
        problems.add(
            field("skip"),
            format!(
                "skips \"auth\" but sets auth = \"{}\"; remove one of them",
                auth.as_str()
            ),
        );
    }
    if let (Some(keys), Some(skip)) = (&keys, &skip) {
        keys.check_skip(&context, skip, problems);
    }

    let timeout = match table.get("timeout") {
        None => Some(None),
        Some(v) => parse_timeout(v, &field("timeout"), problems).map(Some),
    };

    problems.unknown_fields(table, &format!("routes[{i}]."), &route_fields());

    if problems.0.len() != before {
        return None;
    }
    Some(Route {
        name: name?,
        methods,
        path: path?,
        auth: auth?,
        also: also?,
        roles: roles?,
        skip: skip?,
        timeout: timeout?,
        keys: keys?,
    })
}

/// Reports routes that an earlier route always matches first.
fn report_shadowed(routes: &[(usize, Route)], problems: &mut Problems) {
    for (later_pos, (j, later)) in routes.iter().enumerate() {
        let shadow = routes[..later_pos]
            .iter()
            .find(|(_, earlier)| earlier_covers(earlier, later));
        if let Some((i, earlier)) = shadow {
            problems.add(
                format!("routes[{j}].path"),
                format!(
                    "route \"{}\" can never match: routes[{i}] (\"{}\") comes first and matches every request it would",
                    later.name, earlier.name
                ),
            );
        }
    }
}

fn earlier_covers(earlier: &Route, later: &Route) -> bool {
    let methods_covered = match (&earlier.methods, &later.methods) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(_), Some(later_methods)) => later_methods.iter().all(|m| earlier.matches_method(m)),
    };
    methods_covered && earlier.path.covers(&later.path)
}

fn check_name(name: &str) -> Result<(), String> {
    let shape = name.len() <= MAX_NAME_LEN
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if shape {
        Ok(())
    } else {
        Err(format!(
            "must be 1 to {MAX_NAME_LEN} characters of a-z, 0-9, _ and -"
        ))
    }
}

/// A method must be an RFC 9110 token, written in uppercase.
fn check_method(method: &str) -> Result<(), String> {
    if method.is_empty() || method.len() > MAX_METHOD_LEN {
        return Err(format!("must be 1 to {MAX_METHOD_LEN} characters"));
    }
    if !method.bytes().all(is_tchar) {
        return Err("is not a valid HTTP method token".to_string());
    }
    if method.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err(format!(
            "must be uppercase (\"{}\")",
            method.to_ascii_uppercase()
        ));
    }
    Ok(())
}

fn check_role(role: &str) -> Result<(), String> {
    if role.is_empty() {
        return Err("must not be empty".to_string());
    }
    if role.chars().count() > MAX_ROLE_LEN {
        return Err(format!("must be at most {MAX_ROLE_LEN} characters"));
    }
    if role.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace or control characters".to_string());
    }
    Ok(())
}

/// One problem for a syntax error, with a line and column but without the
/// multi-line excerpt that the parser's `Display` draws.
fn syntax_problem(doc: &str, error: &super::document::TomlError) -> ConfigProblem {
    let message = error.message.trim();
    let at = error.span.clone().and_then(|span| {
        let before = doc.get(..span.start)?;
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Some((line, column))
    });
    let message = match at {
        Some((line, column)) => {
            format!("invalid TOML at line {line}, column {column}: {message}")
        }
        None => format!("invalid TOML: {message}"),
    };
    ConfigProblem::new("policy", message)
}

/// Most credentials one route may accept.
const MAX_CREDENTIALS: usize = 4;

/// `auth = ["required", "jwt", "api_key"]`: a route that accepts several
/// credentials, the first a request presents deciding. Each mode must
/// identify users and refuse the anonymous (a list with `optional` or
/// `none` would make every other credential optional), none may repeat,
/// and `worker` (which identifies a service, not a user) stays alone.
/// Returns the first mode and the rest.
fn credential_list(
    items: &[Value],
    field: &str,
    problems: &mut Problems,
    mode_named: impl Fn(&str, String, &mut Problems) -> Option<AuthMode>,
) -> Option<(AuthMode, Vec<AuthMode>)> {
    let before = problems.0.len();
    if items.len() < 2 || items.len() > MAX_CREDENTIALS {
        problems.add(
            field,
            format!(
                "a list of credentials needs 2 to {MAX_CREDENTIALS} modes (one mode is a string)"
            ),
        );
        return None;
    }
    let mut modes: Vec<AuthMode> = Vec::with_capacity(items.len());
    for (k, item) in items.iter().enumerate() {
        let at = format!("{field}[{k}]");
        let Value::String(name) = item else {
            problems.wrong_type(at, "a mode name", item);
            continue;
        };
        let Some(mode) = mode_named(name, at.clone(), problems) else {
            continue;
        };
        if !(mode.identifies_users() && mode.refuses_anonymous()) {
            problems.add(
                at,
                format!(
                    "\"{name}\" cannot be one of several credentials: each must identify a user and refuse anonymous requests (required, jwt, api_key)"
                ),
            );
        } else if modes.contains(&mode) {
            problems.add(at, format!("\"{name}\" is listed twice"));
        } else {
            modes.push(mode);
        }
    }
    if problems.0.len() != before {
        return None;
    }
    let first = modes.remove(0);
    Some((first, modes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::rate_limit::{KeyPart, Preset, RateLimitRule};

    /// The problems of a document that must not parse, as `field: message` lines.
    fn problems(doc: &str) -> Vec<ConfigProblem> {
        match parse_policy(doc) {
            Ok(p) => panic!("accepted: {p:?}"),
            Err(problems) => problems,
        }
    }

    fn fields(doc: &str) -> Vec<String> {
        problems(doc).into_iter().map(|p| p.field).collect()
    }

    fn ok(doc: &str) -> Policy {
        match parse_policy(doc) {
            Ok(p) => p,
            Err(problems) => panic!("{problems:#?}"),
        }
    }

    fn route(body: &str) -> String {
        format!("[[routes]]\nname = \"r\"\npath = \"/r\"\n{body}\n")
    }

    fn only_route(body: &str) -> Route {
        let mut policy = ok(&route(body));
        assert_eq!(policy.routes.len(), 1);
        policy.routes.remove(0)
    }

    #[test]
    fn minimal_route_gets_defaults() {
        let r = only_route("");
        assert_eq!(r.name, "r");
        assert_eq!(r.methods, None);
        assert_eq!(r.path.as_str(), "/r");
        assert_eq!(r.auth, AuthMode::NONE);
        assert!(r.roles.is_empty());
        assert_eq!(r.keys.rate_limit, Preset::Web.rule(KeyPart::Ip));
        assert!(r.skip.is_empty());
        assert_eq!(ok(&route("")).settings, Settings::default());
    }

    #[test]
    fn full_route() {
        let r = only_route(
            r#"
            methods = ["GET", "POST", "GET"]
            auth = "required"
            roles = ["admin", "ops:write"]
            rate_limit = { preset = "api", key = "user" }
            skip = ["cors", "headers", "cors"]
            "#,
        );
        assert_eq!(r.methods, Some(vec!["GET".to_string(), "POST".to_string()]));
        assert_eq!(r.auth, crate::layers::session::REQUIRED);
        assert_eq!(r.roles, ["admin", "ops:write"]);
        assert_eq!(r.keys.rate_limit, Preset::Api.rule(KeyPart::User));
        assert_eq!(r.skip, [Layer::Cors, Layer::Headers]);
    }

    #[test]
    fn app_timeouts_in_settings_and_routes() {
        use crate::policy::AppTimeout;
        let routes = "[[routes]]\nname = \"a\"\npath = \"/a\"\ntimeout = \"250ms\"\n\
                      [[routes]]\nname = \"b\"\npath = \"/*\"\ntimeout = \"off\"\n";
        let p = parse_policy(routes).unwrap();
        assert_eq!(p.settings.timeout, AppTimeout::After(30_000));
        assert_eq!(p.routes[0].timeout, Some(AppTimeout::After(250)));
        assert_eq!(p.routes[1].timeout, Some(AppTimeout::Off));
        assert_eq!(p.app_timeout_ms(Some(&p.routes[1])), None);
        let p = parse_policy(&format!("[settings]\ntimeout = \"1h\"\n{routes}")).unwrap();
        assert_eq!(p.settings.timeout, AppTimeout::After(3_600_000));
        let p = parse_policy(&format!("[settings]\ntimeout = \"10ms\"\n{routes}")).unwrap();
        assert_eq!(p.app_timeout_ms(None), Some(10));
        let bad = "[settings]\ntimeout = \"61m\"\n\
                   [[routes]]\nname = \"a\"\npath = \"/a\"\ntimeout = 30\n\
                   [[routes]]\nname = \"b\"\npath = \"/b\"\ntimeout = \"9ms\"\n\
                   [[routes]]\nname = \"c\"\npath = \"/c\"\ntimeout = \"30\"\n\
                   [[routes]]\nname = \"d\"\npath = \"/d\"\ntimeout = \"never\"\n";
        let found: Vec<String> = parse_policy(bad)
            .unwrap_err()
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            found,
            [
                "settings.timeout: must be between 10ms and 1h, or \"off\"",
                "routes[0].timeout: must be a duration like \"30s\" or \"off\", found an integer",
                "routes[1].timeout: must be between 10ms and 1h, or \"off\"",
                "routes[2].timeout: missing unit; expected a whole number followed by ms, s, m, h or d, like \"30s\", or \"off\"",
                "routes[3].timeout: expected a whole number followed by ms, s, m, h or d, like \"30s\", or \"off\"",
            ]
        );
    }

    #[test]
    fn path_spellings_and_unmatched_settings() {
        use crate::http::path::PathOptions;
        let p = ok(&route(""));
        assert_eq!(p.settings.path, PathOptions::default());
        assert_eq!(p.settings.unmatched, Unmatched::Forward);
        let p = ok(&format!(
            "[settings]\npath_semicolons = \"allow\"\npath_double_encoding = \"refuse\"\nunmatched = \"deny\"\n{}",
            route("")
        ));
        assert_eq!(
            p.settings.path,
            PathOptions {
                allow_semicolons: true,
                allow_double_encoding: false
            }
        );
        assert_eq!(p.settings.unmatched, Unmatched::Deny);
        let p = ok(&format!(
            "[settings]\npath_double_encoding = \"allow\"\nunmatched = \"forward\"\n{}",
            route("")
        ));
        assert!(p.settings.path.allow_double_encoding && !p.settings.path.allow_semicolons);
        assert_eq!(p.settings.unmatched, Unmatched::Forward);
        let found = problems(&format!(
            "[settings]\npath_semicolons = \"strip\"\npath_double_encoding = true\nunmatched = \"404\"\n{}",
            route("")
        ));
        assert_eq!(
            found.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            [
                "settings.path_semicolons: must be \"refuse\" or \"allow\"",
                "settings.path_double_encoding: must be a string, found a boolean",
                "settings.unmatched: must be \"forward\" or \"deny\"",
            ]
        );
    }

    #[test]
    fn settings() {
        let p = ok(&format!(
            "[settings]\nresponse_buffer_limit = 0\nmax_header_bytes = 256\n{}",
            route("")
        ));
        assert_eq!(p.settings.response_buffer_limit, 0);
        assert_eq!(p.settings.max_header_bytes, 256);
        let p = ok(&format!(
            "[settings]\nresponse_buffer_limit = 16777216\nmax_header_bytes = 1048576\n{}",
            route("")
        ));
        assert_eq!(p.settings.response_buffer_limit, 16 * 1024 * 1024);
        assert_eq!(p.settings.max_header_bytes, 1024 * 1024);

        let doc = format!(
            "[settings]\nresponse_buffer_limit = 16777217\nmax_header_bytes = 255\nextra = 1\n{}",
            route("")
        );
        let found = problems(&doc);
        assert_eq!(
            found.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            [
                "settings.response_buffer_limit: must be between 0 and 16777216",
                "settings.max_header_bytes: must be between 256 and 1048576",
                "settings.extra: unknown field; expected one of: response_buffer_limit, max_header_bytes, ready, path_semicolons, path_double_encoding, unmatched, timeout",
            ]
        );
        assert_eq!(
            fields(&format!(
                "[settings]\nresponse_buffer_limit = -1\nmax_header_bytes = \"16k\"\n{}",
                route("")
            )),
            [
                "settings.response_buffer_limit",
                "settings.max_header_bytes"
            ]
        );
        assert_eq!(
            fields(&format!("settings = 3\n{}", route(""))),
            ["settings"]
        );
    }

    #[test]
    fn rate_limit_forms() {
        assert_eq!(
            only_route("rate_limit = \"off\"").keys.rate_limit,
            RateLimitRule::Off
        );
        for preset in Preset::ALL {
            let r = only_route(&format!("rate_limit = \"{}\"", preset.name()));
            assert_eq!(r.keys.rate_limit, preset.rule(KeyPart::Ip));
        }
        assert_eq!(
            only_route("rate_limit = { preset = \"streaming\" }")
                .keys
                .rate_limit,
            Preset::Streaming.rule(KeyPart::Ip)
        );
        assert_eq!(
            only_route(
                "auth = \"required\"\nrate_limit = { requests = 10, window = \"15m\", key = \"user\" }"
            )
            .keys.rate_limit,
            RateLimitRule::Limit(crate::layers::rate_limit::RateLimit::single(
                crate::layers::rate_limit::Quota {
                    name: "r".into(),
                    requests: 10,
                    window_secs: 900,
                    preset: None,
                    prefix: "rl:",
                },
                KeyPart::User,
            ))
        );
        assert_eq!(
            only_route("rate_limit = { requests = 1, window = 2592000 }")
                .keys
                .rate_limit,
            RateLimitRule::Limit(crate::layers::rate_limit::RateLimit::single(
                crate::layers::rate_limit::Quota {
                    name: "r".into(),
                    requests: 1,
                    window_secs: 2_592_000,
                    preset: None,
                    prefix: "rl:",
                },
                KeyPart::Ip,
            ))
        );
    }

    #[test]
    fn rate_limit_problems() {
        let cases: &[(&str, &[&str])] = &[
            ("rate_limit = \"fast\"", &["routes[0].rate_limit"]),
            ("rate_limit = \"Off\"", &["routes[0].rate_limit"]),
            ("rate_limit = 5", &["routes[0].rate_limit"]),
            (
                "rate_limit = {}",
                &[
                    "routes[0].rate_limit.requests",
                    "routes[0].rate_limit.window",
                ],
            ),
            (
                "rate_limit = { requests = 0, window = 60 }",
                &["routes[0].rate_limit.requests"],
            ),
            (
                "rate_limit = { requests = 4294967296, window = 60 }",
                &["routes[0].rate_limit.requests"],
            ),
            (
                "rate_limit = { requests = 5, window = 0 }",
                &["routes[0].rate_limit.window"],
            ),
            (
                "rate_limit = { requests = 5, window = -60 }",
                &["routes[0].rate_limit.window"],
            ),
            (
                "rate_limit = { requests = 5, window = \"0s\" }",
                &["routes[0].rate_limit.window"],
            ),
            (
                "rate_limit = { requests = 5, window = \"-1m\" }",
                &["routes[0].rate_limit.window"],
            ),
            (
                "rate_limit = { requests = 5, window = \"2w\" }",
                &["routes[0].rate_limit.window"],
            ),
            (
                "rate_limit = { requests = 5, window = \"31d\" }",
                &["routes[0].rate_limit.window"],
            ),
            (
                "rate_limit = { requests = 5, window = 2592001 }",
                &["routes[0].rate_limit.window"],
            ),
            (
                "rate_limit = { requests = 5, window = \"99999999999999999999d\" }",
                &["routes[0].rate_limit.window"],
            ),
            (
                "rate_limit = { requests = 5, window = 1.5 }",
                &["routes[0].rate_limit.window"],
            ),
            (
                "rate_limit = { requests = 5, window = 60, key = \"host\" }",
                &["routes[0].rate_limit.key"],
            ),
            (
                "rate_limit = { preset = \"nope\" }",
                &["routes[0].rate_limit.preset"],
            ),
            (
                "rate_limit = { preset = \"api\", requests = 5, window = 60 }",
                &[
                    "routes[0].rate_limit.requests",
                    "routes[0].rate_limit.window",
                ],
            ),
            (
                "rate_limit = { preset = \"api\", burst = 5 }",
                &["routes[0].rate_limit.burst"],
            ),
            (
                "rate_limit = \"api\"\nauth = \"none\"\nskip = [\"rate_limit\"]",
                &["routes[0].skip"],
            ),
            (
                "rate_limit = { preset = \"api\", key = \"user\" }",
                &["routes[0].rate_limit.key"],
            ),
            (
                "auth = \"worker\"\nrate_limit = { preset = \"api\", key = \"user\" }",
                &["routes[0].rate_limit.key"],
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(fields(&route(body)), *expected, "{body}");
        }
        // The window message explains the limit and the unit syntax.
        let found = problems(&route("rate_limit = { requests = 5, window = \"31d\" }"));
        assert_eq!(
            found[0].message,
            "must be at most 30 days (2592000 seconds)"
        );
        let found = problems(&route("rate_limit = { requests = 5, window = \"5x\" }"));
        assert!(found[0].message.contains("s, m, h or d"), "{}", found[0]);
    }

    #[test]
    fn skipping_an_unset_rate_limit_is_fine() {
        let r = only_route("skip = [\"rate_limit\"]");
        assert!(r.skips(Layer::RateLimit));
        let r = only_route("rate_limit = \"off\"\nskip = [\"rate_limit\"]");
        assert!(r.skips(Layer::RateLimit));
    }

    #[test]
    fn route_field_problems() {
        let cases: &[(&str, &[&str])] = &[
            ("[[routes]]\npath = \"/\"", &["routes[0].name"]),
            ("[[routes]]\nname = \"\"\npath = \"/\"", &["routes[0].name"]),
            (
                "[[routes]]\nname = \"Admin\"\npath = \"/\"",
                &["routes[0].name"],
            ),
            (
                "[[routes]]\nname = \"a b\"\npath = \"/\"",
                &["routes[0].name"],
            ),
            ("[[routes]]\nname = 1\npath = \"/\"", &["routes[0].name"]),
            ("[[routes]]\nname = \"a\"", &["routes[0].path"]),
            (
                "[[routes]]\nname = \"a\"\npath = \"api\"",
                &["routes[0].path"],
            ),
            (
                "[[routes]]\nname = \"a\"\npath = \"/a*\"",
                &["routes[0].path"],
            ),
            (
                "[[routes]]\nname = \"a\"\npath = [\"/a\"]",
                &["routes[0].path"],
            ),
        ];
        for (doc, expected) in cases {
            assert_eq!(fields(doc), *expected, "{doc}");
        }
        let long = "a".repeat(64);
        ok(&format!("[[routes]]\nname = \"{long}\"\npath = \"/\""));
        assert_eq!(
            fields(&format!("[[routes]]\nname = \"{long}a\"\npath = \"/\"")),
            ["routes[0].name"]
        );
        ok("[[routes]]\nname = \"a-b_c9\"\npath = \"/\"");
    }

    #[test]
    fn method_problems() {
        let cases: &[(&str, &[&str])] = &[
            ("methods = []", &["routes[0].methods"]),
            ("methods = \"GET\"", &["routes[0].methods"]),
            ("methods = [\"get\"]", &["routes[0].methods[0]"]),
            ("methods = [\"GET\", \"\"]", &["routes[0].methods[1]"]),
            (
                "methods = [\"GET\", \"PO ST\", 3]",
                &["routes[0].methods[1]", "routes[0].methods[2]"],
            ),
            ("methods = [\"GET/1\"]", &["routes[0].methods[0]"]),
        ];
        for (body, expected) in cases {
            assert_eq!(fields(&route(body)), *expected, "{body}");
        }
        let found = problems(&route("methods = [\"get\"]"));
        assert_eq!(found[0].message, "must be uppercase (\"GET\")");
        // Extension methods are tokens too.
        assert_eq!(
            only_route("methods = [\"PROPFIND\", \"M-SEARCH\"]").methods,
            Some(vec!["PROPFIND".to_string(), "M-SEARCH".to_string()])
        );
    }

    #[test]
    fn auth_and_role_problems() {
        let cases: &[(&str, &[&str])] = &[
            ("auth = \"admin\"", &["routes[0].auth"]),
            ("auth = \"Required\"", &["routes[0].auth"]),
            ("auth = true", &["routes[0].auth"]),
            ("roles = [\"admin\"]", &["routes[0].roles"]),
            (
                "auth = \"worker\"\nroles = [\"admin\"]",
                &["routes[0].roles"],
            ),
            (
                "auth = \"required\"\nroles = [\"\"]",
                &["routes[0].roles[0]"],
            ),
            (
                "auth = \"required\"\nroles = [\"a b\", \"ok\", \"c\\td\"]",
                &["routes[0].roles[0]", "routes[0].roles[2]"],
            ),
            (
                "auth = \"required\"\nroles = \"admin\"",
                &["routes[0].roles"],
            ),
            (
                "auth = \"required\"\nskip = [\"auth\"]",
                &["routes[0].skip"],
            ),
            ("auth = \"worker\"\nskip = [\"auth\"]", &["routes[0].skip"]),
            ("skip = [\"cache\"]", &["routes[0].skip[0]"]),
            ("skip = \"cors\"", &["routes[0].skip"]),
        ];
        for (body, expected) in cases {
            assert_eq!(fields(&route(body)), *expected, "{body}");
        }
        let role64 = "r".repeat(64);
        let r = only_route(&format!("auth = \"optional\"\nroles = [\"{role64}\"]"));
        assert_eq!(r.roles, [role64.as_str()]);
        assert_eq!(
            fields(&route(&format!(
                "auth = \"optional\"\nroles = [\"{role64}r\"]"
            ))),
            ["routes[0].roles[0]"]
        );
        // The message names every mode that can carry roles, token ones too.
        let message = problems(&route("auth = \"worker\"\nroles = [\"admin\"]"))[0].to_string();
        for mode in ["\"optional\"", "\"required\"", "\"jwt\"", "\"api_key\""] {
            assert!(message.contains(mode), "{mode} missing: {message}");
        }
        // Empty roles are fine anywhere; they ask for nothing.
        only_route("roles = []");
        // Skipping auth on a route without auth is redundant but harmless.
        only_route("skip = [\"auth\"]");
    }

    /// `auth = [...]`: several credentials, the first presented deciding.
    #[test]
    fn a_route_may_accept_several_credentials() {
        use crate::layers::{api_key::API_KEY, jwt::JWT, session::REQUIRED};
        let doc = "[jwt]\njwks_table = true\n[[routes]]\nname = \"a\"\npath = \"/a\"\nauth = [\"required\", \"jwt\", \"api_key\"]\nroles = [\"admin\"]\n[[routes]]\nname = \"b\"\npath = \"/b\"\nauth = \"api_key\"\n";
        let policy = crate::policy::parse_policy(doc).unwrap();
        let r = &policy.routes[0];
        assert_eq!(r.auth, REQUIRED);
        assert_eq!(r.also, [JWT, API_KEY]);
        assert!(r.accepts(API_KEY) && !r.accepts(crate::layers::signature::WORKER));
        assert_eq!(r.auth_modes().collect::<Vec<_>>(), [REQUIRED, JWT, API_KEY]);
        assert!(policy.routes[1].also.is_empty());
        let cases: &[(&str, &[&str])] = &[
            ("auth = [\"jwt\"]", &["routes[0].auth"]),
            ("auth = []", &["routes[0].auth"]),
            (
                "auth = [\"required\", \"jwt\", \"api_key\", \"required\", \"jwt\"]",
                &["routes[0].auth"],
            ),
            ("auth = [\"jwt\", \"optional\"]", &["routes[0].auth[1]"]),
            ("auth = [\"none\", \"jwt\"]", &["routes[0].auth[0]"]),
            ("auth = [\"worker\", \"jwt\"]", &["routes[0].auth[0]"]),
            ("auth = [\"jwt\", \"jwt\"]", &["routes[0].auth[1]"]),
            ("auth = [\"jwt\", \"token\"]", &["routes[0].auth[1]"]),
            ("auth = [\"jwt\", 1]", &["routes[0].auth[1]"]),
        ];
        for (body, expected) in cases {
            assert_eq!(fields(&route(body)), *expected, "{body}");
        }
    }

    #[test]
    fn unknown_fields_everywhere() {
        let doc = r#"
            title = "x"
            [settings]
            colour = "red"
            [[routes]]
            name = "a"
            path = "/"
            auht = "required"
            rate_limit = { requests = 1, window = 1, burst = 2 }
        "#;
        assert_eq!(
            fields(doc),
            [
                "settings.colour",
                "routes[0].rate_limit.burst",
                "routes[0].auht",
                "title",
            ]
        );
        let found = problems(doc);
        assert!(
            found[0].message.starts_with("unknown field"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn routes_missing_or_empty() {
        assert_eq!(fields(""), ["routes"]);
        assert_eq!(fields("[settings]\nmax_header_bytes = 1024"), ["routes"]);
        assert_eq!(fields("routes = []"), ["routes"]);
        assert_eq!(fields("routes = 1"), ["routes"]);
        assert_eq!(fields("routes = [1]"), ["routes[0]"]);
        assert_eq!(fields("[routes]\nname = \"a\""), ["routes"]);
    }

    #[test]
    fn duplicate_names() {
        let doc = r#"
            [[routes]]
            name = "a"
            path = "/a"
            [[routes]]
            name = "b"
            path = "/b"
            [[routes]]
            name = "a"
            path = "/c"
        "#;
        let found = problems(doc);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, "routes[2].name");
        assert_eq!(
            found[0].message,
            "duplicate route name \"a\" (also routes[0])"
        );
    }

    #[test]
    fn shadowed_routes() {
        let doc = r#"
            [[routes]]
            name = "all"
            path = "/*"
            [[routes]]
            name = "admin"
            path = "/admin/*"
            auth = "required"
        "#;
        let found = problems(doc);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, "routes[1].path");
        assert!(
            found[0].message.contains("routes[0] (\"all\")"),
            "{}",
            found[0]
        );

        let doc = r#"
            [[routes]]
            name = "reads"
            methods = ["GET"]
            path = "/api/*"
            [[routes]]
            name = "head"
            methods = ["HEAD"]
            path = "/api/x"
            [[routes]]
            name = "writes"
            methods = ["POST"]
            path = "/api/x"
            [[routes]]
            name = "any"
            path = "/api/x"
            [[routes]]
            name = "again"
            path = "/API/X/"
        "#;
        assert_eq!(fields(doc), ["routes[1].path", "routes[4].path"]);

        // A narrower route after a broader one with other methods is reachable.
        ok(r#"
            [[routes]]
            name = "get-all"
            methods = ["GET"]
            path = "/*"
            [[routes]]
            name = "post-admin"
            methods = ["POST"]
            path = "/admin"
        "#);
    }

    #[test]
    fn syntax_error_is_one_problem_with_position() {
        let found = problems("[[routes]]\nname = \"a\"\npath = /a\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, "policy");
        assert!(
            found[0]
                .message
                .starts_with("invalid TOML at line 3, column 8: "),
            "{}",
            found[0]
        );
        assert!(!found[0].message.contains('\n'));

        let found = problems("[[routes]]\nname = \"a\"\nname = \"b\"\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, "policy");
    }

    #[test]
    fn many_problems_at_once() {
        let doc = r#"
            [settings]
            max_header_bytes = 1

            [[routes]]
            name = "Bad Name"
            methods = ["get"]
            path = "no-slash"
            auth = "sometimes"
            rate_limit = { requests = 0, window = "0s" }
            skip = ["everything"]

            [[routes]]
            path = "/x"
            roles = ["admin"]
        "#;
        assert_eq!(
            fields(doc),
            [
                "settings.max_header_bytes",
                "routes[0].name",
                "routes[0].methods[0]",
                "routes[0].path",
                "routes[0].auth",
                "routes[0].rate_limit.requests",
                "routes[0].rate_limit.window",
                "routes[0].skip[0]",
                "routes[1].name",
                "routes[1].roles",
            ]
        );
    }

    #[test]
    fn tchar() {
        for b in b"!#$%&'*+-.^_`|~09azAZ" {
            assert!(is_tchar(*b));
        }
        for b in b" \t\"(),/:;<=>?@[\\]{}\x7f" {
            assert!(!is_tchar(*b), "{}", *b as char);
        }
    }
}
