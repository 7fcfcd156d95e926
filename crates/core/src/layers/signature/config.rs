//! The `[worker]` policy section and the per-route `worker` key.
//!
//! ```
//! use warden_core::policy::parse_policy;
//! use warden_core::layers::signature::{KeySlot, Scheme};
//!
//! let policy = parse_policy(r#"
//!     [worker]
//!     max_age = 120
//!     allowed_origins = ["https://auth.example.com"]
//!     keyids = { billing = "worker_secret" }
//!
//!     [[routes]]
//!     name = "hooks"
//!     path = "/hooks/*"
//!     auth = "worker"
//!     worker = { scheme = "rfc9421", components = ["@method", "@path", "content-digest"] }
//! "#).unwrap();
//! assert_eq!(policy.sections.worker.max_age, 120);
//! assert_eq!(policy.sections.worker.future_skew, 60);
//! assert_eq!(policy.sections.worker.key_for("billing"), Some(KeySlot::Current));
//! let rule = policy.sections.worker.rule_for(&policy.routes[0].keys.worker);
//! assert_eq!(rule.scheme, Scheme::Rfc9421);
//! ```
//!
//! Secret values never appear in the policy: a key id names one of the two
//! secret variables warden reads (`worker_secret`, `worker_secret_previous`).

use toml::{Table, Value};

use crate::base::auth_mode::AuthMode;
use crate::base::fields::Problems;
use crate::base::fields::is_tchar;
use crate::base::layer::{Layer, PolicyLayer, RouteContext, RouteView, StoresUsed};
use crate::base::overlay::{RouteOverlay, Section};

use super::webhook::{DEFAULT_REPLAY_WINDOW, DEFAULT_TOLERANCE, MAX_REPLAY_WINDOW};
use super::{KeySlot, Scheme};
use crate::base::problem::ConfigProblem;
use crate::http::origin::{Origin, OriginPattern};

/// Default `max_age`: seed 000's 300 seconds.
pub const DEFAULT_MAX_AGE: u64 = 300;
/// Default `future_skew`: seed 000's 60 seconds.
pub const DEFAULT_FUTURE_SKEW: u64 = 60;
/// Default `body_limit`: 1 MiB.
pub const DEFAULT_BODY_LIMIT: u64 = 1024 * 1024;
/// Largest `body_limit`: 16 MiB, since the body is held in memory.
pub const MAX_BODY_LIMIT: u64 = 16 * 1024 * 1024;
/// Largest `max_age` and `future_skew`: one day.
pub const MAX_WINDOW: u64 = 86_400;
/// Default `body_timeout`: 10 seconds, well under the default `max_age`, so
/// a slow client is cut off long before its signature could go stale.
pub const DEFAULT_BODY_TIMEOUT: u64 = 10;
/// Seed 000's default signature header.
pub const DEFAULT_SIGNATURE_HEADER: &str = "X-Worker-Signature";
/// Seed 000's default timestamp header.
pub const DEFAULT_TIMESTAMP_HEADER: &str = "X-Worker-Timestamp";
/// The optional nonce header of the seed-000 scheme.
pub const DEFAULT_NONCE_HEADER: &str = "X-Worker-Nonce";
/// The RFC 9421 components required by default (`content-digest` only when
/// the request has a body).
pub const DEFAULT_COMPONENTS: [&str; 4] = ["@method", "@authority", "@path", "content-digest"];
/// The derived components warden can compute for a request.
pub const DERIVED_COMPONENTS: [&str; 7] = [
    "@method",
    "@target-uri",
    "@authority",
    "@scheme",
    "@request-target",
    "@path",
    "@query",
];
/// The secret variables a key id may name.
pub const SECRET_VARIABLES: [(&str, KeySlot); 2] = [
    ("worker_secret", KeySlot::Current),
    ("worker_secret_previous", KeySlot::Previous),
];

pub(crate) const FIELDS: &[&str] = &[
    "scheme",
    "signature_header",
    "timestamp_header",
    "nonce_header",
    "max_age",
    "future_skew",
    "allowed_origins",
    "body_limit",
    "body_timeout",
    "replay",
    "components",
    "keyids",
];
pub(crate) const ROUTE_FIELDS: &[&str] = &[
    "scheme",
    "components",
    "secret",
    "tolerance",
    "replay_window",
];
/// Variables that hold configuration, never a webhook secret.
const NOT_SECRET_VARIABLES: [&str; 2] = ["environment", "policy"];
/// Longest secret variable name (its `_previous` companion is 9 longer).
const MAX_VARIABLE_NAME: usize = 64;
const MAX_HEADER_NAME: usize = 64;
const MAX_KEYID: usize = 128;

/// The validated `[worker]` section: how `auth = "worker"` routes verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// The scheme of worker routes that do not name one.
    pub scheme: Scheme,
    /// Seed-000 signature header, as configured (the error body lists it so).
    pub signature_header: String,
    /// Seed-000 timestamp header.
    pub timestamp_header: String,
    /// Seed-000 optional nonce header.
    pub nonce_header: String,
    /// Oldest accepted timestamp, in seconds.
    pub max_age: u64,
    /// How far in the future a timestamp may be, in seconds.
    pub future_skew: u64,
    /// Accepted `Origin` values, parsed by the same rules as CORS origins;
    /// empty accepts any (and none).
    pub allowed_origins: Vec<OriginPattern>,
    /// Largest request body buffered for verification, in bytes.
    pub body_limit: u64,
    /// Longest a signed route waits for the whole body, in seconds (408
    /// after that). The window is also checked again once the body is in.
    pub body_timeout: u64,
    /// Whether signatures and nonces are remembered to refuse replays.
    pub replay: bool,
    /// RFC 9421 components required by default.
    pub components: Vec<String>,
    /// RFC 9421 key ids and the secret each selects.
    pub keyids: Vec<(String, KeySlot)>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            scheme: Scheme::Worker,
            signature_header: DEFAULT_SIGNATURE_HEADER.into(),
            timestamp_header: DEFAULT_TIMESTAMP_HEADER.into(),
            nonce_header: DEFAULT_NONCE_HEADER.into(),
            max_age: DEFAULT_MAX_AGE,
            future_skew: DEFAULT_FUTURE_SKEW,
            allowed_origins: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            replay: true,
            components: DEFAULT_COMPONENTS.iter().map(|c| c.to_string()).collect(),
            keyids: vec![
                ("current".into(), KeySlot::Current),
                ("previous".into(), KeySlot::Previous),
            ],
        }
    }
}

impl WorkerSettings {
    /// The secret a key id selects, if it is configured.
    pub fn key_for(&self, keyid: &str) -> Option<KeySlot> {
        self.keyids
            .iter()
            .find(|(id, _)| id == keyid)
            .map(|(_, slot)| *slot)
    }

    /// What a route verifies: its own scheme and components, else these;
    /// for webhook schemes also its secret variable and windows, else the
    /// provider's defaults.
    pub fn rule_for(&self, route: &RouteWorker) -> SignatureRule {
        let merged = self.for_route(Some(route));
        let scheme = merged.scheme;
        SignatureRule {
            scheme,
            components: merged.components.clone(),
            webhook: WebhookRule {
                secret: route
                    .secret
                    .clone()
                    .or_else(|| scheme.default_secret_variable().map(str::to_owned))
                    .unwrap_or_default(),
                tolerance: route.tolerance.unwrap_or(DEFAULT_TOLERANCE),
                replay_window: route.replay_window.unwrap_or(DEFAULT_REPLAY_WINDOW),
            },
        }
    }

    /// Whether `origin` (an `Origin` header value) is allowed: compared as
    /// parsed origins (scheme, host, port), like CORS.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        if self.allowed_origins.is_empty() {
            return true;
        }
        let Some(origin) = origin.and_then(|o| Origin::parse(o.trim()).ok()) else {
            return false;
        };
        self.allowed_origins
            .iter()
            .any(|allowed| allowed.matches(&origin))
    }
}

/// A route's `worker` table replaces the section's scheme and components.
impl Section for WorkerSettings {
    type Overlay = RouteWorker;

    fn with(&self, route: &RouteWorker) -> WorkerSettings {
        let mut out = self.clone();
        if let Some(scheme) = route.scheme {
            out.scheme = scheme;
        }
        if let Some(components) = &route.components {
            out.components = components.clone();
        }
        out
    }
}

/// A route's own `worker` key: overrides of the `[worker]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteWorker {
    /// The route's scheme, if it names one.
    pub scheme: Option<Scheme>,
    /// The route's required RFC 9421 components, if it lists them.
    pub components: Option<Vec<String>>,
    /// Webhook schemes: the variable holding the secret (its rotation
    /// companion is the same name with `_previous`).
    pub secret: Option<String>,
    /// Webhook schemes with a timestamp: seconds either way, else 300.
    pub tolerance: Option<u64>,
    /// `github`: seconds the replay cache remembers a delivery.
    pub replay_window: Option<u64>,
}

impl From<Scheme> for RouteWorker {
    /// A route that names only its scheme (`worker = "stripe"`).
    fn from(scheme: Scheme) -> RouteWorker {
        RouteWorker {
            scheme: Some(scheme),
            ..RouteWorker::default()
        }
    }
}

/// What one route verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRule {
    /// The scheme.
    pub scheme: Scheme,
    /// RFC 9421 required components (`content-digest` only with a body).
    pub components: Vec<String>,
    /// Webhook schemes' settings (unused by the others).
    pub webhook: WebhookRule,
}

impl SignatureRule {
    /// A rule for `scheme` with every other setting at its default.
    pub fn new(scheme: Scheme) -> SignatureRule {
        WorkerSettings::default().rule_for(&scheme.into())
    }
}

/// A webhook route's settings, defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRule {
    /// The secret variable (`stripe_webhook_secret` by default, …).
    pub secret: String,
    /// Seconds the timestamp may be away from the clock, either way.
    pub tolerance: u64,
    /// `github`: seconds a delivery is remembered by the replay cache.
    pub replay_window: u64,
}

impl WebhookRule {
    /// The rotation companion of the secret variable.
    pub fn previous_secret(&self) -> String {
        format!("{}_previous", self.secret)
    }
}

/// A valid service-to-service signature is required.
pub const WORKER: AuthMode = AuthMode::new("worker", false, true);

/// The signature layer as the policy registry sees it: `[worker]`, a
/// route's `worker`, and the `worker` auth mode.
pub struct Signatures;

impl PolicyLayer for Signatures {
    const NAME: &'static str = "worker signature";
    const FEATURE: &'static str = "signature";
    const BUILT: bool = cfg!(feature = "signature");
    const SECTIONS: &'static [&'static str] = &["worker"];
    const ROUTE_KEYS: &'static [&'static str] = &["worker"];
    const AUTH_MODES: &'static [AuthMode] = &[WORKER];
    type Config = WorkerSettings;
    type RouteKeys = RouteWorker;

    fn parse_config(document: &Table, problems: &mut Problems) -> WorkerSettings {
        parse_worker_section(document.get("worker"), &mut problems.0)
    }

    fn parse_route(route: &RouteContext<'_>, problems: &mut Problems) -> Option<RouteWorker> {
        match route.table.get("worker") {
            None => Some(RouteWorker::default()),
            Some(v) => parse_route_worker(v, &route.field("worker"), &mut problems.0),
        }
    }

    /// The replay cache, when it is on and a route is signed.
    fn stores_used(config: &WorkerSettings, routes: &[RouteView<'_, RouteWorker>]) -> StoresUsed {
        let signed = routes
            .iter()
            .any(|r| !r.skip.contains(&Layer::Auth) && r.auth == WORKER);
        StoresUsed {
            key_value: signed && config.replay,
            sqlite: false,
        }
    }

    /// The replay cache records each signature with increment (only the
    /// first sighting sees 1).
    fn host_needs(
        config: &WorkerSettings,
        routes: &[RouteView<'_, RouteWorker>],
        needs: &mut Vec<crate::base::host_profile::HostNeed>,
    ) {
        use crate::base::host_profile::{Capability, HostNeed};
        let signed = routes
            .iter()
            .any(|r| !r.skip.contains(&Layer::Auth) && r.auth == WORKER);
        if signed && config.replay {
            needs.push(HostNeed::new(
                "worker.replay",
                Capability::KeyValueIncrement,
            ));
        }
    }

    fn check_routes(
        config: &WorkerSettings,
        routes: &[RouteView<'_, RouteWorker>],
        problems: &mut Vec<ConfigProblem>,
    ) {
        let overlays: Vec<RouteOverlay<'_, RouteWorker>> = routes
            .iter()
            .map(|r| RouteOverlay {
                index: r.index,
                overlay: Some(r.keys),
                skipped: r.auth != WORKER,
            })
            .collect();
        check_routes(config, &overlays, problems);
    }
}

/// Reads the `[worker]` section; problems name `worker.<field>`.
pub fn parse_worker_section(
    value: Option<&Value>,
    problems: &mut Vec<ConfigProblem>,
) -> WorkerSettings {
    let mut settings = WorkerSettings::default();
    let table = match value {
        None => return settings,
        Some(Value::Table(t)) => t,
        Some(other) => {
            wrong_type(problems, "worker", "a table ([worker])", other);
            return settings;
        }
    };
    let field = |name: &str| format!("worker.{name}");

    if let Some(v) = table.get("scheme")
        && let Some(s) = scheme(v, &field("scheme"), problems)
    {
        settings.scheme = s;
    }
    for (name, slot) in [
        ("signature_header", &mut settings.signature_header),
        ("timestamp_header", &mut settings.timestamp_header),
        ("nonce_header", &mut settings.nonce_header),
    ] {
        if let Some(v) = table.get(name)
            && let Some(h) = header_name(v, &field(name), problems)
        {
            *slot = h;
        }
    }
    let names = [
        ("signature_header", &settings.signature_header),
        ("timestamp_header", &settings.timestamp_header),
        ("nonce_header", &settings.nonce_header),
    ];
    for (i, (a, va)) in names.iter().enumerate() {
        for (b, vb) in &names[i + 1..] {
            if va.eq_ignore_ascii_case(vb) {
                problems.push(ConfigProblem::new(
                    field(b),
                    format!("must differ from worker.{a} (both are \"{vb}\")"),
                ));
            }
        }
    }
    if let Some(v) = table.get("max_age")
        && let Some(n) = integer(v, &field("max_age"), 1, MAX_WINDOW, problems)
    {
        settings.max_age = n;
    }
    if let Some(v) = table.get("future_skew")
        && let Some(n) = integer(v, &field("future_skew"), 0, MAX_WINDOW, problems)
    {
        settings.future_skew = n;
    }
    if let Some(v) = table.get("body_limit")
        && let Some(n) = integer(v, &field("body_limit"), 0, MAX_BODY_LIMIT, problems)
    {
        settings.body_limit = n;
    }
    if let Some(v) = table.get("body_timeout")
        && let Some(n) = seconds(v, &field("body_timeout"), MAX_WINDOW, problems)
    {
        settings.body_timeout = n;
    }
    match table.get("replay") {
        None => {}
        Some(Value::Boolean(b)) => settings.replay = *b,
        Some(other) => wrong_type(problems, field("replay"), "true or false", other),
    }
    if let Some(v) = table.get("allowed_origins")
        && let Some(origins) = strings(v, &field("allowed_origins"), problems, check_origin)
    {
        settings.allowed_origins = origins;
    }
    if let Some(v) = table.get("components")
        && let Some(c) = components(v, &field("components"), problems)
    {
        settings.components = c;
    }
    if let Some(v) = table.get("keyids")
        && let Some(k) = keyids(v, &field("keyids"), problems)
    {
        settings.keyids = k;
    }
    unknown_fields(table, "worker.", FIELDS, problems);
    settings
}

/// Reads a route's `worker` key: a scheme name or `{ scheme, components }`.
/// `field` is the key's path, such as `routes[3].worker`.
pub fn parse_route_worker(
    value: &Value,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<RouteWorker> {
    let before = problems.len();
    let route = match value {
        Value::String(_) => RouteWorker {
            scheme: scheme(value, field, problems),
            ..RouteWorker::default()
        },
        Value::Table(table) => {
            let at = |name: &str| format!("{field}.{name}");
            let scheme = table
                .get("scheme")
                .and_then(|v| scheme(v, &at("scheme"), problems));
            let components = table
                .get("components")
                .and_then(|v| components(v, &at("components"), problems));
            let secret = table
                .get("secret")
                .and_then(|v| secret_variable(v, &at("secret"), problems));
            let tolerance = table
                .get("tolerance")
                .and_then(|v| seconds(v, &at("tolerance"), MAX_WINDOW, problems));
            let replay_window = table
                .get("replay_window")
                .and_then(|v| seconds(v, &at("replay_window"), MAX_REPLAY_WINDOW, problems));
            unknown_fields(table, &format!("{field}."), ROUTE_FIELDS, problems);
            RouteWorker {
                scheme,
                components,
                secret,
                tolerance,
                replay_window,
            }
        }
        other => {
            wrong_type(problems, field, "a scheme name or a table", other);
            return None;
        }
    };
    (problems.len() == before).then_some(route)
}

/// Checks routes against the `[worker]` section once both are read: a route
/// `worker` key needs `auth = "worker"`, and components need RFC 9421.
/// `routes` are (index, has auth = "worker", the route's `worker` key).
pub fn check_routes(
    settings: &WorkerSettings,
    routes: &[RouteOverlay<'_, RouteWorker>],
    problems: &mut Vec<ConfigProblem>,
) {
    for RouteOverlay {
        index: i,
        overlay,
        skipped,
    } in routes
    {
        let Some(route) = overlay.filter(|r| **r != RouteWorker::default()) else {
            continue;
        };
        if *skipped {
            problems.push(ConfigProblem::new(
                format!("routes[{i}].worker"),
                "applies only to routes with auth = \"worker\"",
            ));
            continue;
        }
        let rule = settings.rule_for(route);
        let uses = rule.scheme.as_str();
        let mut only_for = |key: &str, set: bool, applies: bool, which: &str| {
            if set && !applies {
                problems.push(ConfigProblem::new(
                    format!("routes[{i}].worker.{key}"),
                    format!("applies only to {which} (this route uses \"{uses}\")"),
                ));
            }
        };
        only_for(
            "components",
            route.components.is_some(),
            rule.scheme == Scheme::Rfc9421,
            "the rfc9421 scheme",
        );
        only_for(
            "secret",
            route.secret.is_some(),
            rule.scheme.is_webhook(),
            "the webhook schemes (stripe, github, standard, slack)",
        );
        only_for(
            "tolerance",
            route.tolerance.is_some(),
            rule.scheme.is_webhook() && rule.scheme != Scheme::Github,
            "the stripe, standard and slack schemes (github signs no timestamp)",
        );
        only_for(
            "replay_window",
            route.replay_window.is_some(),
            rule.scheme == Scheme::Github,
            "the github scheme (the others' window follows their timestamps)",
        );
    }
}

fn scheme(value: &Value, field: &str, problems: &mut Vec<ConfigProblem>) -> Option<Scheme> {
    match value {
        Value::String(s) => {
            let found = Scheme::from_name(s);
            if found.is_none() {
                let names: Vec<&str> = Scheme::ALL.iter().map(Scheme::as_str).collect();
                problems.push(ConfigProblem::new(
                    field,
                    format!("must be one of: {}", names.join(", ")),
                ));
            }
            found
        }
        other => {
            wrong_type(problems, field, "a string", other);
            None
        }
    }
}

/// A webhook route's secret variable: a Spin variable name (lowercase
/// letters, digits and single underscores, starting with a letter), never
/// one of the variables that hold configuration.
fn secret_variable(
    value: &Value,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<String> {
    let Value::String(name) = value else {
        wrong_type(problems, field, "a variable name", value);
        return None;
    };
    let bytes = name.as_bytes();
    let spin_name = !bytes.is_empty()
        && bytes.len() <= MAX_VARIABLE_NAME
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        && !name.contains("__")
        && !name.ends_with('_');
    if !spin_name {
        problems.push(ConfigProblem::new(
            field,
            format!(
                "must be a variable name: 1 to {MAX_VARIABLE_NAME} lowercase letters, digits and single underscores, starting with a letter (the secret's value is never written in the policy)"
            ),
        ));
        return None;
    }
    if NOT_SECRET_VARIABLES.contains(&name.as_str()) {
        problems.push(ConfigProblem::new(
            field,
            format!("\"{name}\" holds configuration, not a secret; name the variable that holds the webhook secret"),
        ));
        return None;
    }
    Some(name.clone())
}

/// Whole seconds, 1 to `max`: an integer or a duration such as `"10s"`.
fn seconds(value: &Value, field: &str, max: u64, problems: &mut Vec<ConfigProblem>) -> Option<u64> {
    let n = match value {
        Value::Integer(n) if *n >= 1 => n.unsigned_abs(),
        Value::Integer(_) => {
            problems.push(ConfigProblem::new(field, "must be at least 1 second"));
            return None;
        }
        Value::String(s) => match crate::base::fields::parse_duration(s) {
            Ok(n) => n,
            Err(message) => {
                problems.push(ConfigProblem::new(field, message));
                return None;
            }
        },
        other => {
            wrong_type(
                problems,
                field,
                "whole seconds or a duration like \"10s\"",
                other,
            );
            return None;
        }
    };
    if n > max {
        problems.push(ConfigProblem::new(
            field,
            format!("must be at most {max} seconds"),
        ));
        return None;
    }
    Some(n)
}

fn header_name(value: &Value, field: &str, problems: &mut Vec<ConfigProblem>) -> Option<String> {
    let Value::String(name) = value else {
        wrong_type(problems, field, "a string", value);
        return None;
    };
    let message = if name.is_empty() || name.len() > MAX_HEADER_NAME || !name.bytes().all(is_tchar)
    {
        Some(format!(
            "must be a header name of 1 to {MAX_HEADER_NAME} token characters"
        ))
    } else if crate::http::hop_by_hop::is_identity_header(name) {
        Some("must not start with x-warden- (warden removes those from requests)".to_string())
    } else {
        None
    };
    match message {
        Some(m) => {
            problems.push(ConfigProblem::new(field, m));
            None
        }
        None => Some(name.clone()),
    }
}

/// One allowlist entry, by the CORS origin-pattern rules (one parser for
/// both: `https://*.com` is refused here as it is there); `*` is refused,
/// since an empty list already accepts any origin.
fn check_origin(origin: &str) -> Result<OriginPattern, String> {
    match OriginPattern::parse(origin)? {
        OriginPattern::Any => {
            Err("\"*\" is not an origin; leave allowed_origins empty to accept any origin".into())
        }
        pattern => Ok(pattern),
    }
}

fn components(
    value: &Value,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Vec<String>> {
    let list = strings(value, field, problems, |c| {
        if c.starts_with('@') {
            if DERIVED_COMPONENTS.contains(&c) {
                Ok(c.to_string())
            } else {
                Err(format!(
                    "unsupported derived component; expected a header name or one of: {}",
                    DERIVED_COMPONENTS.join(", ")
                ))
            }
        } else if !c.is_empty() && c.bytes().all(|b| is_tchar(b) && !b.is_ascii_uppercase()) {
            Ok(c.to_string())
        } else {
            Err("must be a lowercase header name or a derived component such as \"@path\"".into())
        }
    })?;
    if list.is_empty() {
        problems.push(ConfigProblem::new(
            field,
            "must list at least one component",
        ));
        return None;
    }
    for (k, c) in list.iter().enumerate() {
        if list[..k].contains(c) {
            problems.push(ConfigProblem::new(
                format!("{field}[{k}]"),
                format!("duplicate component \"{c}\""),
            ));
            return None;
        }
    }
    Some(list)
}

fn keyids(
    value: &Value,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Vec<(String, KeySlot)>> {
    let Value::Table(table) = value else {
        wrong_type(
            problems,
            field,
            "a table of key id = secret variable name",
            value,
        );
        return None;
    };
    if table.is_empty() {
        problems.push(ConfigProblem::new(field, "must name at least one key id"));
        return None;
    }
    let before = problems.len();
    let mut out = Vec::new();
    for (keyid, variable) in table {
        let entry = format!("{field}.{keyid}");
        if keyid.is_empty()
            || keyid.len() > MAX_KEYID
            || !keyid
                .bytes()
                .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
        {
            problems.push(ConfigProblem::new(
                &entry,
                format!("key ids must be 1 to {MAX_KEYID} printable ASCII characters without '\"' or '\\'"),
            ));
            continue;
        }
        let slot = match variable {
            Value::String(name) => SECRET_VARIABLES
                .iter()
                .find(|(v, _)| v == name)
                .map(|(_, slot)| *slot),
            _ => None,
        };
        match slot {
            Some(slot) => out.push((keyid.clone(), slot)),
            None => problems.push(ConfigProblem::new(
                &entry,
                "must name a secret variable: \"worker_secret\" or \"worker_secret_previous\" (secret values never go in the policy)",
            )),
        }
    }
    (problems.len() == before).then_some(out)
}

fn integer(
    value: &Value,
    field: &str,
    min: u64,
    max: u64,
    problems: &mut Vec<ConfigProblem>,
) -> Option<u64> {
    match value {
        Value::Integer(n) if *n >= 0 && (min..=max).contains(&n.unsigned_abs()) => {
            Some(n.unsigned_abs())
        }
        Value::Integer(_) => {
            problems.push(ConfigProblem::new(
                field,
                format!("must be between {min} and {max}"),
            ));
            None
        }
        other => {
            wrong_type(problems, field, "an integer", other);
            None
        }
    }
}

fn strings<T>(
    value: &Value,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
    check: impl FnMut(&str) -> Result<T, String>,
) -> Option<Vec<T>> {
    crate::base::fields::strings(problems, field, value, check)
}

fn unknown_fields(
    table: &Table,
    prefix: &str,
    allowed: &[&str],
    problems: &mut Vec<ConfigProblem>,
) {
    crate::base::fields::unknown_fields(problems, table, prefix, allowed);
}

fn wrong_type(
    problems: &mut Vec<ConfigProblem>,
    field: impl Into<String>,
    expected: &str,
    found: &Value,
) {
    crate::base::fields::wrong_type(problems, field, expected, found);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Route `index` with this `worker` table, on an `auth = "worker"` route or not.
    fn at(index: usize, is_worker: bool, route: &RouteWorker) -> RouteOverlay<'_, RouteWorker> {
        RouteOverlay {
            index,
            overlay: Some(route),
            skipped: !is_worker,
        }
    }

    fn section(doc: &str) -> (WorkerSettings, Vec<String>) {
        let table: Table = doc.parse().expect("toml");
        let mut problems = Vec::new();
        let s = parse_worker_section(table.get("worker"), &mut problems);
        (s, problems.into_iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn defaults() {
        let (s, problems) = section("");
        assert!(problems.is_empty());
        assert_eq!(s, WorkerSettings::default());
        assert_eq!(s.scheme, Scheme::Worker);
        assert_eq!(s.signature_header, "X-Worker-Signature");
        assert_eq!(s.timestamp_header, "X-Worker-Timestamp");
        assert_eq!(s.nonce_header, "X-Worker-Nonce");
        assert_eq!((s.max_age, s.future_skew), (300, 60));
        assert_eq!(s.body_limit, 1_048_576);
        assert_eq!(s.body_timeout, 10);
        assert!(s.body_timeout < s.max_age);
        assert!(s.replay);
        assert!(s.allowed_origins.is_empty());
        assert_eq!(
            s.components,
            ["@method", "@authority", "@path", "content-digest"]
        );
        assert_eq!(s.key_for("current"), Some(KeySlot::Current));
        assert_eq!(s.key_for("previous"), Some(KeySlot::Previous));
        assert_eq!(s.key_for("other"), None);
    }

    #[test]
    fn every_field() {
        let (s, problems) = section(
            r#"
            [worker]
            scheme = "request-nonce"
            signature_header = "X-Sig"
            timestamp_header = "X-Ts"
            nonce_header = "X-N"
            max_age = 60
            future_skew = 0
            allowed_origins = ["https://Auth.Example.com", "http://localhost:8080", "https://*.workers.dev"]
            body_limit = 0
            body_timeout = "2m"
            replay = false
            components = ["@method", "@target-uri", "content-type"]
            keyids = { "svc-a" = "worker_secret", "svc-a-old" = "worker_secret_previous" }
            "#,
        );
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(s.scheme, Scheme::RequestNonce);
        assert_eq!(
            (
                s.signature_header.as_str(),
                s.timestamp_header.as_str(),
                s.nonce_header.as_str()
            ),
            ("X-Sig", "X-Ts", "X-N")
        );
        assert_eq!(
            (s.max_age, s.future_skew, s.body_limit, s.replay),
            (60, 0, 0, false)
        );
        assert_eq!(s.body_timeout, 120);
        assert_eq!(section("[worker]\nbody_timeout = 3").0.body_timeout, 3);
        assert_eq!(
            s.allowed_origins,
            [
                "https://auth.example.com",
                "http://localhost:8080",
                "https://*.workers.dev"
            ]
            .map(|o| OriginPattern::parse(o).unwrap())
        );
        assert_eq!(s.components, ["@method", "@target-uri", "content-type"]);
        assert_eq!(s.key_for("svc-a"), Some(KeySlot::Current));
        assert_eq!(s.key_for("svc-a-old"), Some(KeySlot::Previous));
        assert_eq!(
            s.key_for("current"),
            None,
            "configured key ids replace the defaults"
        );
    }

    #[test]
    fn every_problem_at_once() {
        let (_, problems) = section(
            r#"
            [worker]
            scheme = "hmac"
            signature_header = "X Sig"
            timestamp_header = "x-warden-ts"
            nonce_header = "x-worker-signature"
            max_age = 0
            future_skew = -1
            allowed_origins = ["auth.example.com", "https://a.example.com/path", 3]
            body_limit = 99999999999
            body_timeout = 0
            replay = "yes"
            components = ["@method", "@status", "Content-Type", "@method"]
            keyids = { current = "session_secret", "bad\"id" = "worker_secret" }
            extra = 1
            "#,
        );
        assert_eq!(
            problems,
            [
                "worker.scheme: must be one of: worker, request-nonce, rfc9421, stripe, github, standard, slack",
                "worker.signature_header: must be a header name of 1 to 64 token characters",
                "worker.timestamp_header: must not start with x-warden- (warden removes those from requests)",
                "worker.nonce_header: must differ from worker.signature_header (both are \"x-worker-signature\")",
                "worker.max_age: must be between 1 and 86400",
                "worker.future_skew: must be between 0 and 86400",
                "worker.body_limit: must be between 0 and 16777216",
                "worker.body_timeout: must be at least 1 second",
                "worker.replay: must be true or false, found a string",
                "worker.allowed_origins[0]: must look like scheme://host[:port]",
                "worker.allowed_origins[1]: must not have a path, query or fragment",
                "worker.allowed_origins[2]: must be a string, found an integer",
                "worker.components[1]: unsupported derived component; expected a header name or one of: @method, @target-uri, @authority, @scheme, @request-target, @path, @query",
                "worker.components[2]: must be a lowercase header name or a derived component such as \"@path\"",
                "worker.keyids.bad\"id: key ids must be 1 to 128 printable ASCII characters without '\"' or '\\'",
                "worker.keyids.current: must name a secret variable: \"worker_secret\" or \"worker_secret_previous\" (secret values never go in the policy)",
                "worker.extra: unknown field; expected one of: scheme, signature_header, timestamp_header, nonce_header, max_age, future_skew, allowed_origins, body_limit, body_timeout, replay, components, keyids",
            ]
        );
        for (value, problem) in [
            (
                "\"10\"",
                "worker.body_timeout: missing unit; expected a whole number followed by s, m, h or d, like \"15m\"",
            ),
            (
                "\"2d\"",
                "worker.body_timeout: must be at most 86400 seconds",
            ),
            (
                "1.5",
                "worker.body_timeout: must be whole seconds or a duration like \"10s\", found a float",
            ),
        ] {
            let (s, problems) = section(&format!("[worker]\nbody_timeout = {value}"));
            assert_eq!(problems, [problem], "{value}");
            assert_eq!(s.body_timeout, DEFAULT_BODY_TIMEOUT);
        }
        let (_, problems) = section("worker = 3");
        assert_eq!(
            problems,
            ["worker: must be a table ([worker]), found an integer"]
        );
        let (_, problems) = section("[worker]\ncomponents = []\nkeyids = {}");
        assert_eq!(
            problems,
            [
                "worker.components: must list at least one component",
                "worker.keyids: must name at least one key id",
            ]
        );
        let (_, problems) = section("[worker]\ncomponents = [\"@path\", \"@path\"]");
        assert_eq!(
            problems,
            ["worker.components[1]: duplicate component \"@path\""]
        );
    }

    #[test]
    fn route_key() {
        let parse = |doc: &str| {
            let table: Table = doc.parse().expect("toml");
            let mut problems = Vec::new();
            let r = parse_route_worker(&table["worker"], "routes[2].worker", &mut problems);
            (
                r,
                problems
                    .into_iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            parse("worker = \"rfc9421\"").0,
            Some(RouteWorker {
                scheme: Some(Scheme::Rfc9421),
                components: None,
                ..RouteWorker::default()
            })
        );
        assert_eq!(
            parse("worker = { components = [\"@path\"] }").0,
            Some(RouteWorker {
                scheme: None,
                components: Some(vec!["@path".into()]),
                ..RouteWorker::default()
            })
        );
        assert_eq!(
            parse("worker = \"jwt\"").1,
            [
                "routes[2].worker: must be one of: worker, request-nonce, rfc9421, stripe, github, standard, slack"
            ]
        );
        assert_eq!(
            parse("worker = { scheme = 1, extra = true }").1,
            [
                "routes[2].worker.scheme: must be a string, found an integer",
                "routes[2].worker.extra: unknown field; expected one of: scheme, components, secret, tolerance, replay_window",
            ]
        );
        assert_eq!(
            parse("worker = 1").1,
            ["routes[2].worker: must be a scheme name or a table, found an integer"]
        );
    }

    #[test]
    fn route_checks() {
        let settings = WorkerSettings::default();
        let rfc = RouteWorker {
            scheme: Some(Scheme::Rfc9421),
            components: Some(vec!["@path".into()]),
            ..RouteWorker::default()
        };
        let seed = RouteWorker {
            scheme: None,
            components: Some(vec!["@path".into()]),
            ..RouteWorker::default()
        };
        let none = RouteWorker::default();
        let mut problems = Vec::new();
        check_routes(
            &settings,
            &[
                at(0, true, &rfc),
                at(1, true, &seed),
                at(2, false, &rfc),
                at(3, false, &none),
            ],
            &mut problems,
        );
        let problems: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            problems,
            [
                "routes[1].worker.components: applies only to the rfc9421 scheme (this route uses \"worker\")",
                "routes[2].worker: applies only to routes with auth = \"worker\"",
            ]
        );
        // With rfc9421 as the section's scheme, a route's components are fine.
        let settings = WorkerSettings {
            scheme: Scheme::Rfc9421,
            ..WorkerSettings::default()
        };
        let mut problems = Vec::new();
        check_routes(&settings, &[at(1, true, &seed)], &mut problems);
        assert!(problems.is_empty());
        assert_eq!(settings.rule_for(&seed).components, ["@path"]);
        assert_eq!(settings.rule_for(&none).components, DEFAULT_COMPONENTS);
    }

    /// One origin-pattern parser for CORS and the worker allowlist: what
    /// one refuses, the other refuses too.
    #[test]
    fn allowlist_entries_follow_the_cors_rules() {
        for bad in [
            "https://*.com",
            "https://*.dev",
            "*",
            "null",
            "https://*.127.0.0.1",
            "https://a.*.example.com",
            "https://auth.example.com/",
            "auth.example.com",
        ] {
            let doc = format!("[worker]\nallowed_origins = [\"{bad}\"]\n");
            let (_, problems) = section(&doc);
            assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
            assert!(
                problems[0].starts_with("worker.allowed_origins[0]: "),
                "{problems:?}"
            );
            if bad != "*" {
                assert!(
                    OriginPattern::parse(bad).is_err(),
                    "{bad} is refused by CORS too"
                );
            }
        }
        let (_, problems) = section("[worker]\nallowed_origins = [\"https://*.com\"]\n");
        assert_eq!(
            problems,
            [
                "worker.allowed_origins[0]: *.com would match every site under a top-level domain; name a domain with at least two labels"
            ]
        );
    }

    #[test]
    fn origins() {
        let s = WorkerSettings {
            allowed_origins: ["https://auth.example.com", "https://*.workers.dev"]
                .map(|o| OriginPattern::parse(o).unwrap())
                .to_vec(),
            ..WorkerSettings::default()
        };
        assert!(s.origin_allowed(Some("https://auth.example.com:443")));
        assert!(s.origin_allowed(Some("https://auth.example.com")));
        assert!(s.origin_allowed(Some("HTTPS://Auth.Example.com")));
        assert!(s.origin_allowed(Some("https://my-worker.acct.workers.dev")));
        for refused in [
            None,
            Some("https://evil.com"),
            Some("http://auth.example.com"),
            Some("https://auth.example.com.evil.com"),
            Some("https://workers.dev"),
            Some("https://.workers.dev"),
            Some("https://evil.com/.workers.dev"),
            Some("https://evil.com:1/x.workers.dev"),
            Some("null"),
        ] {
            assert!(!s.origin_allowed(refused), "{refused:?}");
        }
        assert!(WorkerSettings::default().origin_allowed(None));
    }
}
