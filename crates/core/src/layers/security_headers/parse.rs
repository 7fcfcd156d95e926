//! Reading `[headers]` and a route's `headers` table.
//!
//! ```toml
//! [headers]
//! content_security_policy = { preset = "stripe", nonce = true, report_only = false,
//!                             directives = { img-src = ["'self'", "https://cdn.example.com"] } }
//! x_frame_options = "DENY"               # "DENY" | "SAMEORIGIN" | false
//! strict_transport_security = { max_age = 31536000, include_subdomains = true, preload = false }
//! modes = { content_security_policy = "fill" }
//! ```
//!
//! Every header key takes `false` (not sent), `true` (sent with the inherited
//! or default value) or its value. See `docs/headers-and-cors.md`.

use toml::{Table, Value};

use super::csp::{self, Csp, CspPreset};
use super::{HeaderKey, HeadersConfig, InsertMode, default_permissions};
use crate::base::fields::Problems;
use crate::base::fields::{self, add, quoted, wrong_type};
use crate::base::layer::{Layer, PolicyLayer, RouteContext, RouteView};
use crate::base::overlay::{RouteOverlay, Section, TableSection};
use crate::base::problem::ConfigProblem;

pub(crate) const CSP_FIELDS: &[&str] = &["preset", "directives", "report_only", "nonce"];
pub(crate) const HSTS_FIELDS: &[&str] = &["max_age", "include_subdomains", "preload"];
pub(crate) const OTHER_FIELDS: &[&str] = &["remove", "modes"];

const FRAME_OPTIONS: &[&str] = &["DENY", "SAMEORIGIN"];
const REFERRER_POLICIES: &[&str] = &[
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
];
const OPENER_POLICIES: &[&str] = &[
    "same-origin",
    "same-origin-allow-popups",
    "noopener-allow-popups",
    "unsafe-none",
];
const RESOURCE_POLICIES: &[&str] = &["same-origin", "same-site", "cross-origin"];
const EMBEDDER_POLICIES: &[&str] = &["require-corp", "credentialless", "unsafe-none"];
const CROSS_DOMAIN_POLICIES: &[&str] = &["none", "master-only", "by-content-type", "all"];
/// Headers a `remove` list may not name: warden frames the body and sets the
/// request id itself.
const NOT_REMOVABLE: &[&str] = &["content-length", "transfer-encoding", "x-request-id"];

/// Permissions-Policy features and their rendered allowlists; `None` drops
/// the feature.
type Features = Vec<(String, Option<String>)>;

/// A key set to `false`, `true` or a value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Setting<T> {
    Off,
    On,
    Value(T),
}

/// A route's (or the policy's) `headers` table, validated: only the keys it
/// sets. [`HeadersConfig::with`] merges it over a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeadersOverlay {
    csp: Option<Setting<CspOverlay>>,
    x_frame_options: Option<Setting<&'static str>>,
    x_content_type_options: Option<bool>,
    referrer_policy: Option<Setting<&'static str>>,
    permissions_policy: Option<Setting<Features>>,
    strict_transport_security: Option<Setting<HstsOverlay>>,
    x_xss_protection: Option<bool>,
    cross_origin_opener_policy: Option<Setting<&'static str>>,
    cross_origin_resource_policy: Option<Setting<&'static str>>,
    cross_origin_embedder_policy: Option<Setting<&'static str>>,
    x_permitted_cross_domain_policies: Option<Setting<&'static str>>,
    reporting_endpoints: Option<Vec<(String, String)>>,
    remove: Option<Vec<String>>,
    authenticated_cache_control: Option<Setting<String>>,
    modes: Vec<(HeaderKey, InsertMode)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct CspOverlay {
    preset: Option<CspPreset>,
    /// `None` values remove the directive.
    directives: Vec<(&'static str, Option<Vec<String>>)>,
    report_only: Option<bool>,
    nonce: Option<Vec<&'static str>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct HstsOverlay {
    max_age: Option<u32>,
    include_subdomains: Option<bool>,
    preload: Option<bool>,
}

impl HeadersOverlay {
    /// Whether the overlay sets HSTS (so that its resolved value is checked).
    fn sets_hsts(&self) -> bool {
        self.strict_transport_security.is_some()
    }

    pub(super) fn apply_to(&self, out: &mut HeadersConfig) {
        if let Some(setting) = &self.csp {
            out.csp = match setting {
                Setting::Off => None,
                Setting::On => Some(out.csp.take().unwrap_or_else(Csp::defaults)),
                Setting::Value(overlay) => {
                    let mut csp = out.csp.take().unwrap_or_else(Csp::defaults);
                    if let Some(preset) = overlay.preset {
                        csp.apply_preset(preset);
                    }
                    for (name, values) in &overlay.directives {
                        match values {
                            Some(values) => csp.set(name, values.clone()),
                            None => csp.remove(name),
                        }
                    }
                    if let Some(report_only) = overlay.report_only {
                        csp.report_only = report_only;
                    }
                    if let Some(nonce) = &overlay.nonce {
                        csp.nonce = nonce.clone();
                    }
                    Some(csp)
                }
            };
        }
        toggle(&mut out.x_frame_options, &self.x_frame_options, || "DENY");
        if let Some(on) = self.x_content_type_options {
            out.x_content_type_options = on;
        }
        toggle(
            &mut out.referrer_policy,
            &self.referrer_policy,
            || "strict-origin-when-cross-origin",
        );
        if let Some(setting) = &self.permissions_policy {
            out.permissions_policy = match setting {
                Setting::Off => None,
                Setting::On => Some(
                    out.permissions_policy
                        .take()
                        .unwrap_or_else(default_permissions),
                ),
                Setting::Value(features) => {
                    let mut list = out
                        .permissions_policy
                        .take()
                        .unwrap_or_else(default_permissions);
                    for (feature, allow) in features {
                        match allow {
                            Some(allow) => match list.iter_mut().find(|(f, _)| f == feature) {
                                Some((_, old)) => *old = allow.clone(),
                                None => list.push((feature.clone(), allow.clone())),
                            },
                            None => list.retain(|(f, _)| f != feature),
                        }
                    }
                    Some(list)
                }
            };
        }
        if let Some(setting) = &self.strict_transport_security {
            out.strict_transport_security = match setting {
                Setting::Off => None,
                Setting::On => Some(out.strict_transport_security.unwrap_or_default()),
                Setting::Value(h) => {
                    let mut hsts = out.strict_transport_security.unwrap_or_default();
                    if let Some(v) = h.max_age {
                        hsts.max_age = v;
                    }
                    if let Some(v) = h.include_subdomains {
                        hsts.include_subdomains = v;
                    }
                    if let Some(v) = h.preload {
                        hsts.preload = v;
                    }
                    Some(hsts)
                }
            };
        }
        if let Some(on) = self.x_xss_protection {
            out.x_xss_protection = on;
        }
        toggle(
            &mut out.cross_origin_opener_policy,
            &self.cross_origin_opener_policy,
            || "same-origin",
        );
        toggle(
            &mut out.cross_origin_resource_policy,
            &self.cross_origin_resource_policy,
            || "same-origin",
        );
        toggle(
            &mut out.cross_origin_embedder_policy,
            &self.cross_origin_embedder_policy,
            || "require-corp",
        );
        toggle(
            &mut out.x_permitted_cross_domain_policies,
            &self.x_permitted_cross_domain_policies,
            || "none",
        );
        if let Some(endpoints) = &self.reporting_endpoints {
            out.reporting_endpoints = endpoints.clone();
        }
        if let Some(remove) = &self.remove {
            out.remove = remove.clone();
        }
        toggle(
            &mut out.authenticated_cache_control,
            &self.authenticated_cache_control,
            || "no-store".to_string(),
        );
        for (key, mode) in &self.modes {
            out.set_mode(*key, *mode);
        }
    }
}

/// `false` clears the slot, `true` keeps what is there (or the default), a
/// value replaces it.
fn toggle<T: Clone>(
    slot: &mut Option<T>,
    setting: &Option<Setting<T>>,
    default: impl FnOnce() -> T,
) {
    match setting {
        None => {}
        Some(Setting::Off) => *slot = None,
        Some(Setting::On) if slot.is_none() => *slot = Some(default()),
        Some(Setting::On) => {}
        Some(Setting::Value(v)) => *slot = Some(v.clone()),
    }
}

impl TableSection for HeadersConfig {
    /// The table's keys, with those that had problems left out (`None` if
    /// it is not a table).
    fn read_overlay(
        value: &Value,
        field: &str,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<HeadersOverlay> {
        let Value::Table(table) = value else {
            wrong_type(problems, field, "a table", value);
            return None;
        };
        let f = |key: &str| format!("{field}.{key}");
        let mut o = HeadersOverlay::default();

        if let Some(v) = table.get(HeaderKey::ContentSecurityPolicy.key()) {
            o.csp = parse_csp(v, &f(HeaderKey::ContentSecurityPolicy.key()), problems);
        }
        o.x_frame_options = choice(
            table,
            HeaderKey::XFrameOptions,
            FRAME_OPTIONS,
            field,
            problems,
        );
        if let Some(v) = table.get(HeaderKey::XContentTypeOptions.key()) {
            o.x_content_type_options = fixed(
                v,
                &f(HeaderKey::XContentTypeOptions.key()),
                "nosniff",
                problems,
            );
        }
        o.referrer_policy = choice(
            table,
            HeaderKey::ReferrerPolicy,
            REFERRER_POLICIES,
            field,
            problems,
        );
        if let Some(v) = table.get(HeaderKey::PermissionsPolicy.key()) {
            o.permissions_policy =
                parse_permissions(v, &f(HeaderKey::PermissionsPolicy.key()), problems);
        }
        if let Some(v) = table.get(HeaderKey::StrictTransportSecurity.key()) {
            o.strict_transport_security =
                parse_hsts(v, &f(HeaderKey::StrictTransportSecurity.key()), problems);
        }
        if let Some(v) = table.get(HeaderKey::XXssProtection.key()) {
            o.x_xss_protection = fixed(v, &f(HeaderKey::XXssProtection.key()), "0", problems);
        }
        o.cross_origin_opener_policy = choice(
            table,
            HeaderKey::CrossOriginOpenerPolicy,
            OPENER_POLICIES,
            field,
            problems,
        );
        o.cross_origin_resource_policy = choice(
            table,
            HeaderKey::CrossOriginResourcePolicy,
            RESOURCE_POLICIES,
            field,
            problems,
        );
        o.cross_origin_embedder_policy = choice(
            table,
            HeaderKey::CrossOriginEmbedderPolicy,
            EMBEDDER_POLICIES,
            field,
            problems,
        );
        o.x_permitted_cross_domain_policies = choice(
            table,
            HeaderKey::XPermittedCrossDomainPolicies,
            CROSS_DOMAIN_POLICIES,
            field,
            problems,
        );
        if let Some(v) = table.get(HeaderKey::ReportingEndpoints.key()) {
            o.reporting_endpoints =
                parse_endpoints(v, &f(HeaderKey::ReportingEndpoints.key()), problems);
        }
        if let Some(v) = table.get("remove") {
            o.remove = fields::strings(problems, &f("remove"), v, |name| {
                let lower = name.to_ascii_lowercase();
                if !fields::is_token(name) {
                    Err(format!("{} is not a header name", quoted(name)))
                } else if NOT_REMOVABLE.contains(&lower.as_str()) {
                    Err(format!("{lower} cannot be removed: warden sets it itself"))
                } else {
                    Ok(lower)
                }
            });
        }
        if let Some(v) = table.get(HeaderKey::AuthenticatedCacheControl.key()) {
            let field = f(HeaderKey::AuthenticatedCacheControl.key());
            o.authenticated_cache_control = match v {
                Value::Boolean(false) => Some(Setting::Off),
                Value::Boolean(true) => Some(Setting::On),
                Value::String(s) if is_header_value(s) => {
                    Some(Setting::Value(s.trim().to_string()))
                }
                Value::String(s) => {
                    add(
                        problems,
                        field,
                        format!(
                            "{} is not a valid header value: use 1 to 256 visible ASCII characters",
                            quoted(s)
                        ),
                    );
                    None
                }
                other => {
                    wrong_type(
                        problems,
                        field,
                        "a Cache-Control value such as \"no-store\", or false",
                        other,
                    );
                    None
                }
            };
        }
        if let Some(v) = table.get("modes") {
            o.modes = parse_modes(v, &f("modes"), problems);
        }

        let allowed: Vec<&str> = HeaderKey::ALL
            .iter()
            .map(|h| h.key())
            .chain(OTHER_FIELDS.iter().copied())
            .collect();
        fields::unknown_fields(problems, table, &format!("{field}."), &allowed);
        Some(o)
    }

    fn check_merged(&self, field: &str, problems: &mut Vec<ConfigProblem>) {
        check_resolved(self, field, problems);
    }
}

/// Checks that need the merged configuration.
fn check_resolved(config: &HeadersConfig, field: &str, problems: &mut Vec<ConfigProblem>) {
    if let Some(hsts) = &config.strict_transport_security
        && hsts.preload
        && (!hsts.include_subdomains || hsts.max_age < super::HSTS_DEFAULT_MAX_AGE)
    {
        add(
            problems,
            format!("{field}.strict_transport_security.preload"),
            "preload needs include_subdomains = true and max_age of at least 31536000 (the preload list's requirements)",
        );
    }
}

/// The security-headers layer as the policy registry sees it.
pub struct SecurityHeaders;

impl PolicyLayer for SecurityHeaders {
    const NAME: &'static str = "headers";
    const FEATURE: &'static str = "security-headers";
    const BUILT: bool = cfg!(feature = "security-headers");
    const SECTIONS: &'static [&'static str] = &["headers"];
    const ROUTE_KEYS: &'static [&'static str] = &["headers"];
    type Config = HeadersConfig;
    type RouteKeys = Option<HeadersOverlay>;

    fn parse_config(document: &Table, problems: &mut Problems) -> HeadersConfig {
        HeadersConfig::parse_section(document.get("headers"), "headers", &mut problems.0)
    }

    fn parse_route(route: &RouteContext<'_>, problems: &mut Problems) -> Option<Self::RouteKeys> {
        Some(route.table.get("headers").and_then(|v| {
            HeadersConfig::parse_overlay(v, &route.field("headers"), &mut problems.0)
        }))
    }

    fn check_routes(
        config: &HeadersConfig,
        routes: &[RouteView<'_, Self::RouteKeys>],
        problems: &mut Vec<ConfigProblem>,
    ) {
        let overlays = RouteOverlay::of_optional(routes, |r| r.skip.contains(&Layer::Headers));
        check_route_headers(config, &overlays, problems);
    }
}

/// Checks each route's `headers` merged over the policy's.
fn check_route_headers(
    global: &HeadersConfig,
    routes: &[RouteOverlay<'_, HeadersOverlay>],
    problems: &mut Vec<ConfigProblem>,
) {
    for route in routes {
        let i = route.index;
        let Some(overlay) = route.overlay else {
            continue;
        };
        if route.skipped {
            add(
                problems,
                format!("routes[{i}].skip"),
                "skips \"headers\" but sets headers; remove one of them",
            );
        } else if overlay.sets_hsts() {
            check_resolved(
                &global.with(overlay),
                &format!("routes[{i}].headers"),
                problems,
            );
        }
    }
}

/// A header that is either sent with one fixed value or not at all.
fn fixed(
    value: &Value,
    field: &str,
    only: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<bool> {
    match value {
        Value::Boolean(b) => Some(*b),
        Value::String(s) if s == only => Some(true),
        Value::String(s) => {
            add(
                problems,
                field,
                format!(
                    "{} is not allowed: use \"{only}\", true or false",
                    quoted(s)
                ),
            );
            None
        }
        other => {
            wrong_type(
                problems,
                field,
                &format!("\"{only}\", true or false"),
                other,
            );
            None
        }
    }
}

/// One of a fixed set of values (ASCII case ignored), `true` or `false`.
fn choice(
    table: &Table,
    key: HeaderKey,
    choices: &[&'static str],
    parent: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Setting<&'static str>> {
    let value = table.get(key.key())?;
    let field = format!("{parent}.{}", key.key());
    let expected = || {
        let quoted: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
        format!("must be one of {}, or true or false", quoted.join(", "))
    };
    match value {
        Value::Boolean(false) => Some(Setting::Off),
        Value::Boolean(true) => Some(Setting::On),
        Value::String(s) => {
            let found = choices
                .iter()
                .find(|c| c.eq_ignore_ascii_case(s.trim()))
                .copied();
            if found.is_none() {
                let message = if key == HeaderKey::XFrameOptions
                    && s.trim().to_ascii_uppercase().starts_with("ALLOW-FROM")
                {
                    "ALLOW-FROM is obsolete and ignored by browsers; use the CSP directive frame-ancestors".to_string()
                } else {
                    format!(
                        "{} {}",
                        quoted(s),
                        expected().replacen("must be", "is not allowed; use", 1)
                    )
                };
                add(problems, field, message);
            }
            found.map(Setting::Value)
        }
        other => {
            add(
                problems,
                field,
                format!("{}, found {}", expected(), fields::type_name(other)),
            );
            None
        }
    }
}

fn parse_csp(
    value: &Value,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Setting<CspOverlay>> {
    let table = match value {
        Value::Boolean(false) => return Some(Setting::Off),
        Value::Boolean(true) => return Some(Setting::On),
        Value::Table(t) => t,
        other => {
            wrong_type(problems, field, "a table, true or false", other);
            return None;
        }
    };
    let before = problems.len();
    let mut o = CspOverlay::default();
    match table.get("preset") {
        None => {}
        Some(Value::String(name)) => {
            o.preset = CspPreset::from_name(name);
            if o.preset.is_none() {
                add(
                    problems,
                    format!("{field}.preset"),
                    "must be \"stripe\" or \"api\"",
                );
            }
        }
        Some(other) => wrong_type(
            problems,
            format!("{field}.preset"),
            "\"stripe\" or \"api\"",
            other,
        ),
    }
    match table.get("directives") {
        None => {}
        Some(Value::Table(directives)) => {
            let mut seen: Vec<(&'static str, &str)> = Vec::new();
            for (key, v) in directives {
                let dfield = format!("{field}.directives.{key}");
                let name = match csp::directive_name(key) {
                    Ok(name) => name,
                    Err(message) => {
                        add(problems, dfield, message);
                        continue;
                    }
                };
                if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
                    add(
                        problems,
                        dfield,
                        format!("{name} is given twice (also as {first})"),
                    );
                    continue;
                }
                seen.push((name, key));
                match v {
                    Value::Boolean(false) => o.directives.push((name, None)),
                    Value::Array(_) => {
                        let Some(values) =
                            fields::strings(problems, &dfield, v, |s| Ok(s.to_string()))
                        else {
                            continue;
                        };
                        if let Err(found) = csp::check_values(name, &values) {
                            for (index, message) in found {
                                match index {
                                    Some(k) => add(problems, format!("{dfield}[{k}]"), message),
                                    None => add(problems, dfield.clone(), message),
                                }
                            }
                            continue;
                        }
                        o.directives.push((name, Some(values)));
                    }
                    other => wrong_type(
                        problems,
                        dfield,
                        "an array of sources, or false to drop the directive",
                        other,
                    ),
                }
            }
        }
        Some(other) => wrong_type(
            problems,
            format!("{field}.directives"),
            "a table of directives",
            other,
        ),
    }
    if let Some(v) = table.get("report_only") {
        o.report_only = fields::boolean(problems, &format!("{field}.report_only"), v);
    }
    if let Some(v) = table.get("nonce") {
        let nfield = format!("{field}.nonce");
        o.nonce = match v {
            Value::Boolean(true) => Some(vec!["script-src"]),
            Value::Boolean(false) => Some(Vec::new()),
            Value::Array(_) => fields::strings(problems, &nfield, v, |s| {
                csp::directive_name(s)
                    .ok()
                    .filter(|d| csp::NONCE_DIRECTIVES.contains(d))
                    .ok_or_else(|| {
                        format!(
                            "{} cannot carry a nonce; use \"script-src\" or \"style-src\"",
                            quoted(s)
                        )
                    })
            })
            .map(|mut list| {
                list.dedup();
                list
            }),
            other => {
                wrong_type(
                    problems,
                    nfield,
                    "true, false or a list such as [\"script-src\", \"style-src\"]",
                    other,
                );
                None
            }
        };
    }
    fields::unknown_fields(problems, table, &format!("{field}."), CSP_FIELDS);
    (problems.len() == before).then_some(Setting::Value(o))
}

fn parse_hsts(
    value: &Value,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Setting<HstsOverlay>> {
    let table = match value {
        Value::Boolean(false) => return Some(Setting::Off),
        Value::Boolean(true) => return Some(Setting::On),
        Value::Table(t) => t,
        other => {
            wrong_type(problems, field, "a table, true or false", other);
            return None;
        }
    };
    let before = problems.len();
    let mut o = HstsOverlay::default();
    if let Some(v) = table.get("max_age") {
        o.max_age = fields::integer(
            problems,
            &format!("{field}.max_age"),
            v,
            0,
            i64::from(i32::MAX),
        )
        .and_then(|n| u32::try_from(n).ok());
    }
    if let Some(v) = table.get("include_subdomains") {
        o.include_subdomains = fields::boolean(problems, &format!("{field}.include_subdomains"), v);
    }
    if let Some(v) = table.get("preload") {
        o.preload = fields::boolean(problems, &format!("{field}.preload"), v);
    }
    fields::unknown_fields(problems, table, &format!("{field}."), HSTS_FIELDS);
    (problems.len() == before).then_some(Setting::Value(o))
}

/// `{ feature = [allowlist] | false }`: `[]` denies the feature to everyone,
/// `["self"]` allows this origin, `["*"]` everyone; origins are quoted.
fn parse_permissions(
    value: &Value,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Setting<Features>> {
    let table = match value {
        Value::Boolean(false) => return Some(Setting::Off),
        Value::Boolean(true) => return Some(Setting::On),
        Value::Table(t) => t,
        other => {
            wrong_type(problems, field, "a table of features, true or false", other);
            return None;
        }
    };
    let before = problems.len();
    let mut out = Vec::new();
    for (feature, v) in table {
        let ffield = format!("{field}.{feature}");
        let valid_name = !feature.is_empty()
            && feature.len() <= 64
            && feature.as_bytes()[0].is_ascii_lowercase()
            && feature
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid_name {
            add(
                problems,
                ffield,
                format!(
                    "{} is not a feature name such as camera or geolocation",
                    quoted(feature)
                ),
            );
            continue;
        }
        match v {
            Value::Boolean(false) => out.push((feature.clone(), None)),
            Value::Array(_) => {
                let Some(list) = fields::strings(problems, &ffield, v, |s| match s {
                    "self" | "src" | "*" => Ok(s.to_string()),
                    _ => crate::http::origin::Origin::parse(s)
                        .map(|o| format!("\"{}\"", o.serialize()))
                        .map_err(|e| {
                            format!(
                                "{} is not \"self\", \"src\", \"*\" or an origin: {e}",
                                quoted(s)
                            )
                        }),
                }) else {
                    continue;
                };
                if list.len() > 1 && list.iter().any(|s| s == "*") {
                    add(problems, ffield, "\"*\" must be the only entry");
                    continue;
                }
                let rendered = if list.first().is_some_and(|s| s == "*") {
                    "*".to_string()
                } else {
                    format!("({})", list.join(" "))
                };
                out.push((feature.clone(), Some(rendered)));
            }
            other => wrong_type(
                problems,
                ffield,
                "an allowlist array such as [] or [\"self\"], or false",
                other,
            ),
        }
    }
    (problems.len() == before).then_some(Setting::Value(out))
}

fn parse_endpoints(
    value: &Value,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Vec<(String, String)>> {
    let Value::Table(table) = value else {
        wrong_type(problems, field, "a table of endpoint names to URLs", value);
        return None;
    };
    let before = problems.len();
    let mut out = Vec::new();
    for (name, v) in table {
        let efield = format!("{field}.{name}");
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_name {
            add(
                problems,
                efield,
                format!(
                    "{} is not an endpoint name: use letters, digits, '-' and '_'",
                    quoted(name)
                ),
            );
            continue;
        }
        match v {
            Value::String(url) => {
                let secure = url.starts_with("https://")
                    || url.starts_with("http://localhost")
                    || url.starts_with("http://127.0.0.1");
                let clean = url.is_ascii()
                    && url.len() > "https://".len()
                    && !url
                        .bytes()
                        .any(|b| b.is_ascii_control() || b == b' ' || b == b'"' || b == b'\\');
                if !secure || !clean {
                    add(
                        problems,
                        efield,
                        format!(
                            "{} must be an https:// URL without spaces, quotes or backslashes",
                            quoted(url)
                        ),
                    );
                } else {
                    out.push((name.clone(), url.clone()));
                }
            }
            other => wrong_type(problems, efield, "a URL string", other),
        }
    }
    (problems.len() == before).then_some(out)
}

fn parse_modes(
    value: &Value,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Vec<(HeaderKey, InsertMode)> {
    let Value::Table(table) = value else {
        wrong_type(
            problems,
            field,
            "a table of header keys to \"override\" or \"fill\"",
            value,
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, v) in table {
        let mfield = format!("{field}.{key}");
        let Some(header) = HeaderKey::from_key(key) else {
            let keys: Vec<&str> = HeaderKey::ALL.iter().map(|h| h.key()).collect();
            add(
                problems,
                mfield,
                format!("unknown header; expected one of: {}", keys.join(", ")),
            );
            continue;
        };
        match v {
            Value::String(s) => match InsertMode::from_name(s) {
                Some(mode) => out.push((header, mode)),
                None => add(problems, mfield, "must be \"override\" or \"fill\""),
            },
            other => wrong_type(problems, mfield, "\"override\" or \"fill\"", other),
        }
    }
    out
}

/// A header value warden may send: 1 to 256 visible ASCII characters and spaces.
fn is_header_value(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty() && s.len() <= 256 && s.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::environment::Environment;

    fn parse(doc: &str) -> (HeadersConfig, Vec<ConfigProblem>) {
        let value: Value = toml::from_str(doc).expect("valid TOML");
        let mut problems = Vec::new();
        let config = HeadersConfig::parse_section(Some(&value), "headers", &mut problems);
        (config, problems)
    }

    fn ok(doc: &str) -> HeadersConfig {
        let (config, problems) = parse(doc);
        assert!(problems.is_empty(), "{problems:?}");
        config
    }

    fn problems(doc: &str) -> Vec<String> {
        parse(doc).1.into_iter().map(|p| p.to_string()).collect()
    }

    fn fields_of(doc: &str) -> Vec<String> {
        parse(doc).1.into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn empty_table_is_the_defaults() {
        assert_eq!(ok(""), HeadersConfig::default());
        let mut problems = Vec::new();
        assert_eq!(
            HeadersConfig::parse_section(None, "headers", &mut problems),
            HeadersConfig::default()
        );
    }

    #[test]
    fn csp_merge_per_directive() {
        let c = ok(r#"
            [content_security_policy.directives]
            scriptSrc = ["'self'", "https://js.stripe.com"]
            frame-src = ["https://js.stripe.com"]
            object-src = ["'none'"]
            base-uri = false
        "#);
        let csp = c.csp.unwrap();
        assert_eq!(
            csp.render(None),
            "default-src 'self'; script-src 'self' https://js.stripe.com; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data: https:; font-src 'self'; connect-src 'self'; frame-src https://js.stripe.com; \
             frame-ancestors 'none'; form-action 'self'; object-src 'none'"
        );
    }

    #[test]
    fn csp_preset_then_directives() {
        let c = ok(
            r#"content_security_policy = { preset = "api", directives = { connect-src = ["'self'", "https://api.example.com"] } }"#,
        );
        let r = c.csp.unwrap().render(None);
        assert!(
            r.starts_with("default-src 'none'; script-src 'none';"),
            "{r}"
        );
        assert!(
            r.contains("connect-src 'self' https://api.example.com;"),
            "{r}"
        );
    }

    #[test]
    fn csp_flags() {
        let c = ok(
            r#"content_security_policy = { report_only = true, nonce = ["script-src", "styleSrc"], directives = { report-uri = ["https://r.example.com/csp"], report-to = ["csp"] } }
                     reporting_endpoints = { csp = "https://r.example.com/reports" }"#,
        );
        let csp = c.csp.as_ref().unwrap();
        assert!(csp.report_only);
        assert_eq!(csp.nonce, ["script-src", "style-src"]);
        let headers = c.headers(Environment::Development, Some("n"));
        assert!(
            headers
                .iter()
                .any(|(n, v)| *n == "content-security-policy-report-only"
                    && v.ends_with("; report-to csp; report-uri https://r.example.com/csp"))
        );
        assert!(headers.iter().all(|(n, _)| *n != "content-security-policy"));
        assert!(
            headers.iter().any(|(n, v)| *n == "reporting-endpoints"
                && v == "csp=\"https://r.example.com/reports\"")
        );
        assert_eq!(
            ok("content_security_policy = { nonce = true }")
                .csp
                .unwrap()
                .nonce,
            ["script-src"]
        );
        assert_eq!(ok("content_security_policy = false").csp, None);
    }

    #[test]
    fn csp_problems_name_the_field() {
        let cases: &[(&str, &str)] = &[
            (
                r#"content_security_policy = { directives = { script-src = ["'self'; object-src *"] } }"#,
                "headers.content_security_policy.directives.script-src[0]",
            ),
            (
                r#"content_security_policy = { directives = { script-src = ["https://a.com,https://b.com"] } }"#,
                "headers.content_security_policy.directives.script-src[0]",
            ),
            (
                "content_security_policy = { directives = { script-src = [\"https://a.com\\nscript-src *\"] } }",
                "headers.content_security_policy.directives.script-src[0]",
            ),
            (
                r#"content_security_policy = { directives = { img-src = ["'self'", "\"data:\""] } }"#,
                "headers.content_security_policy.directives.img-src[1]",
            ),
            (
                r#"content_security_policy = { directives = { img-src = ["'self"] } }"#,
                "headers.content_security_policy.directives.img-src[0]",
            ),
            (
                r#"content_security_policy = { directives = { script-src = ["self"] } }"#,
                "headers.content_security_policy.directives.script-src[0]",
            ),
            (
                r#"content_security_policy = { directives = { script-src = ["'nonce-abc'"] } }"#,
                "headers.content_security_policy.directives.script-src[0]",
            ),
            (
                r#"content_security_policy = { directives = { script_src = ["'self'"] } }"#,
                "headers.content_security_policy.directives.script_src",
            ),
            (
                r#"content_security_policy = { directives = { script-src = [] } }"#,
                "headers.content_security_policy.directives.script-src",
            ),
            (
                r#"content_security_policy = { directives = { script-src = "'self'" } }"#,
                "headers.content_security_policy.directives.script-src",
            ),
            (
                r#"content_security_policy = { directives = { report-to = ["a b"] } }"#,
                "headers.content_security_policy.directives.report-to[0]",
            ),
            (
                r#"content_security_policy = { preset = "strict" }"#,
                "headers.content_security_policy.preset",
            ),
            (
                r#"content_security_policy = { nonce = ["img-src"] }"#,
                "headers.content_security_policy.nonce[0]",
            ),
            (
                r#"content_security_policy = { report_only = "yes" }"#,
                "headers.content_security_policy.report_only",
            ),
            (
                r#"content_security_policy = { reportOnly = true }"#,
                "headers.content_security_policy.reportOnly",
            ),
            (
                r#"content_security_policy = "default-src 'self'""#,
                "headers.content_security_policy",
            ),
        ];
        for (doc, field) in cases {
            assert_eq!(fields_of(doc), [*field], "{doc}");
        }
        let found = problems(
            r#"content_security_policy = { directives = { script-src = ["'self'; object-src *"] } }"#,
        );
        assert_eq!(
            found,
            [
                "headers.content_security_policy.directives.script-src[0]: \"'self'; object-src *\" must not contain ';' or ',': give one source per list element"
            ]
        );
        let found =
            problems("content_security_policy = { directives = { script-src = [\"a\\nb\"] } }");
        assert!(
            found[0].contains("\"a\\nb\" must not contain spaces, newlines"),
            "{found:?}"
        );
        let found = problems(
            r#"content_security_policy = { directives = { scriptSrc = ["'self'"], script-src = ["'self'"] } }"#,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("given twice"), "{found:?}");
    }

    #[test]
    fn toggles_and_choices() {
        let c = ok(r#"
            x_frame_options = "sameorigin"
            x_content_type_options = false
            referrer_policy = "no-referrer"
            x_xss_protection = false
            cross_origin_opener_policy = "same-origin-allow-popups"
            cross_origin_resource_policy = false
            cross_origin_embedder_policy = "credentialless"
            x_permitted_cross_domain_policies = false
            permissions_policy = { camera = ["self"], payment = false, fullscreen = ["self", "https://Player.example.com:443"], usb = ["*"] }
        "#);
        let headers = c.headers(Environment::Development, None);
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("x-frame-options"), Some("SAMEORIGIN"));
        assert_eq!(get("x-content-type-options"), None);
        assert_eq!(get("referrer-policy"), Some("no-referrer"));
        assert_eq!(get("x-xss-protection"), None);
        assert_eq!(
            get("cross-origin-opener-policy"),
            Some("same-origin-allow-popups")
        );
        assert_eq!(get("cross-origin-resource-policy"), None);
        assert_eq!(get("cross-origin-embedder-policy"), Some("credentialless"));
        assert_eq!(get("x-permitted-cross-domain-policies"), None);
        assert_eq!(
            get("permissions-policy"),
            Some(
                "geolocation=(), camera=(self), microphone=(), fullscreen=(self \"https://player.example.com\"), usb=*"
            )
        );
        assert_eq!(ok("x_frame_options = true").x_frame_options, Some("DENY"));
        assert_eq!(
            ok("cross_origin_embedder_policy = true").cross_origin_embedder_policy,
            Some("require-corp")
        );
    }

    #[test]
    fn seed_disable_frame_options() {
        let c = ok("x_frame_options = false");
        assert!(
            c.headers(Environment::Production, None)
                .iter()
                .all(|(n, _)| *n != "x-frame-options")
        );
    }

    #[test]
    fn hsts_options() {
        let c = ok("strict_transport_security = { preload = true }");
        assert_eq!(
            c.strict_transport_security.unwrap().render(),
            "max-age=31536000; includeSubDomains; preload"
        );
        let c =
            ok("strict_transport_security = { max_age = 63072000, include_subdomains = false }");
        assert_eq!(
            c.strict_transport_security.unwrap().render(),
            "max-age=63072000"
        );
        assert_eq!(
            ok("strict_transport_security = false").strict_transport_security,
            None
        );
        assert_eq!(
            fields_of("strict_transport_security = { preload = true, max_age = 86400 }"),
            ["headers.strict_transport_security.preload"]
        );
        assert_eq!(
            fields_of("strict_transport_security = { max_age = -1 }"),
            ["headers.strict_transport_security.max_age"]
        );
        assert_eq!(
            fields_of("strict_transport_security = { maxAge = 1 }"),
            ["headers.strict_transport_security.maxAge"]
        );
    }

    #[test]
    fn other_problems() {
        let doc = r#"
            x_frame_options = "ALLOW-FROM https://a.com"
            referrer_policy = "never"
            x_xss_protection = "1; mode=block"
            x_content_type_options = "sniff"
            cross_origin_opener_policy = 1
            permissions_policy = { Camera = [], microphone = ["self", "*"], geolocation = ["https://a.com/path"] }
            reporting_endpoints = { csp = "http://r.example.com" }
            remove = ["x-powered-by", "content-length", "bad name"]
            authenticated_cache_control = "no-store\r\nSet-Cookie: a=b"
            modes = { content_security_policy = "replace", x_frame = "fill" }
            colour = "red"
        "#;
        let found = problems(doc);
        let fields: Vec<&str> = found
            .iter()
            .map(|p| p.split(": ").next().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "headers.x_frame_options",
                "headers.x_content_type_options",
                "headers.referrer_policy",
                "headers.permissions_policy.Camera",
                "headers.permissions_policy.geolocation[0]",
                "headers.permissions_policy.microphone",
                "headers.x_xss_protection",
                "headers.cross_origin_opener_policy",
                "headers.reporting_endpoints.csp",
                "headers.remove[1]",
                "headers.remove[2]",
                "headers.authenticated_cache_control",
                "headers.modes.content_security_policy",
                "headers.modes.x_frame",
                "headers.colour",
            ],
            "{found:#?}"
        );
        assert!(found[0].contains("frame-ancestors"));
        assert!(found.iter().all(|p| !p.contains('\n')));
    }

    #[test]
    fn modes_and_remove() {
        let c = ok(r#"
            remove = ["X-Powered-By", "server", "x-aspnet-version"]
            authenticated_cache_control = "private, no-cache"
            modes = { content_security_policy = "fill", cross_origin_resource_policy = "override" }
        "#);
        assert_eq!(c.remove, ["x-powered-by", "server", "x-aspnet-version"]);
        assert_eq!(
            c.authenticated_cache_control.as_deref(),
            Some("private, no-cache")
        );
        assert_eq!(c.mode(HeaderKey::ContentSecurityPolicy), InsertMode::Fill);
        assert_eq!(
            c.mode(HeaderKey::CrossOriginResourcePolicy),
            InsertMode::Override
        );
        assert_eq!(c.mode(HeaderKey::XFrameOptions), InsertMode::Override);
        assert_eq!(
            ok("authenticated_cache_control = false").authenticated_cache_control,
            None
        );
    }

    #[test]
    fn route_overlay_merges_over_global() {
        let global = ok(r#"
            content_security_policy = { preset = "stripe" }
            x_frame_options = "SAMEORIGIN"
        "#);
        let value: Value = toml::from_str(
            r#"content_security_policy = { nonce = true, directives = { img-src = ["'self'"] } }
               referrer_policy = "no-referrer"
               x_frame_options = true"#,
        )
        .unwrap();
        let mut found = Vec::new();
        let overlay =
            HeadersConfig::parse_overlay(&value, "routes[0].headers", &mut found).unwrap();
        let route = global.for_route(Some(&overlay));
        let csp = route.csp.as_ref().unwrap();
        assert_eq!(csp.nonce, ["script-src"]);
        assert_eq!(
            csp.get("script-src").unwrap(),
            ["'self'", "https://js.stripe.com"]
        );
        assert_eq!(csp.get("img-src").unwrap(), ["'self'"]);
        assert_eq!(route.referrer_policy, Some("no-referrer"));
        // true keeps the inherited value.
        assert_eq!(route.x_frame_options, Some("SAMEORIGIN"));
        // A route without an overlay borrows the global configuration.
        assert!(matches!(
            global.for_route(None),
            std::borrow::Cow::Borrowed(_)
        ));

        // A route may switch a header the global table switched off back on.
        let off = ok("content_security_policy = false");
        let value: Value = toml::from_str("content_security_policy = true").unwrap();
        let overlay = HeadersConfig::parse_overlay(&value, "r", &mut found).unwrap();
        assert_eq!(off.with(&overlay).csp, Some(Csp::defaults()));
        assert!(found.is_empty());
    }
}
