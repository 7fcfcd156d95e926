//! `[lockout]` and a route's `lockout` table: the same keys, the route's
//! merged over the section's key by key ([`crate::base::overlay`]). The
//! section only sets defaults; a route is a login route when it has a
//! `lockout` table (`lockout = {}` takes every default).
//!
//! ```
//! use warden_core::layers::lockout::{AccountSource, for_route};
//! use warden_core::policy::parse_policy;
//!
//! let policy = parse_policy(r#"
//!     [lockout]
//!     max_failures = 10
//!
//!     [[routes]]
//!     name = "login"
//!     path = "/auth/login"
//!     lockout = { account = "json:email", duration = "30m" }
//! "#).unwrap();
//! let login = for_route(&policy.sections.lockout, &policy.routes[0].keys.lockout).unwrap();
//! assert_eq!(login.account, Some(AccountSource::Json("email".into())));
//! assert_eq!((login.max_failures, login.window_secs, login.duration_secs), (10, 900, 1800));
//! assert_eq!((login.status, login.failure_statuses.as_slice()), (429, &[401, 403][..]));
//! ```

use toml::Value;

use crate::base::fields::{self, Problems, add, parse_duration, quoted, wrong_type};
use crate::base::layer::{PolicyLayer, RouteContext, RouteView, StoresUsed};
use crate::base::overlay::{Section, TableSection};
use crate::base::problem::ConfigProblem;

/// The keys of `[lockout]` and of a route's `lockout` table.
pub const FIELDS: &[&str] = &[
    "account",
    "failure_statuses",
    "max_failures",
    "window",
    "duration",
    "status",
];

/// Seed 002: "Lock account after 5 failed attempts".
pub const DEFAULT_MAX_FAILURES: u32 = 5;
/// Failures are counted over 15 minutes (the seed's auth preset window).
pub const DEFAULT_WINDOW: u64 = 900;
/// Seed 002: locked "15 minutes".
pub const DEFAULT_DURATION: u64 = 900;
/// The bounds of `max_failures`.
pub const MAX_FAILURES_RANGE: (i64, i64) = (1, 1_000);
/// The longest `window` and `duration`: one day, so that counters and locks
/// are swept within a day of their last use.
pub const MAX_SECONDS: u64 = 86_400;
/// Answers the app gives to a failed login by default.
pub const DEFAULT_FAILURE_STATUSES: &[u16] = &[401, 403];
/// The statuses a locked request may get: 429 (the default, as every other
/// warden limit) or 423 Locked (RFC 4918), for clients that tell the two
/// apart.
pub const LOCK_STATUSES: &[&str] = &["429", "423"];
/// The longest field or header name `account` may name.
pub const MAX_ACCOUNT_NAME: usize = 128;

/// Where a request names the account it tries to log in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSource {
    /// A top-level string member of a JSON object body (`json:email`).
    Json(String),
    /// A field of an `application/x-www-form-urlencoded` body (`form:email`).
    Form(String),
    /// A request header, lower-case (`header:x-login-account`).
    Header(String),
}

impl AccountSource {
    /// Whether the account is in the body, which must then be read (bounded)
    /// before the app is called.
    pub fn reads_body(&self) -> bool {
        !matches!(self, AccountSource::Header(_))
    }

    /// `json:NAME`, `form:NAME` or `header:NAME`.
    pub fn parse(text: &str) -> Result<AccountSource, String> {
        const SHAPE: &str = "expected \"json:FIELD\", \"form:FIELD\" or \"header:NAME\"";
        let Some((kind, name)) = text.split_once(':') else {
            return Err(format!("{} has no source; {SHAPE}", quoted(text)));
        };
        if name.is_empty() || name.len() > MAX_ACCOUNT_NAME {
            return Err(format!(
                "{} needs a name of 1 to {MAX_ACCOUNT_NAME} bytes; {SHAPE}",
                quoted(text)
            ));
        }
        match kind {
            "json" => Ok(AccountSource::Json(name.to_owned())),
            "form" => Ok(AccountSource::Form(name.to_owned())),
            "header" if fields::is_token(name) => {
                Ok(AccountSource::Header(name.to_ascii_lowercase()))
            }
            "header" => Err(format!("{} is not a header name", quoted(name))),
            _ => Err(format!("unknown source {}; {SHAPE}", quoted(kind))),
        }
    }
}

/// The lockout settings of the policy or of a login route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutConfig {
    /// Where the account is named; `None`: failures count by address only.
    pub account: Option<AccountSource>,
    /// The app's answers that count as a failed login.
    pub failure_statuses: Vec<u16>,
    /// Failures in one window that lock the address or the account.
    pub max_failures: u32,
    /// Seconds failures are counted over (fixed windows).
    pub window_secs: u64,
    /// Seconds a lock lasts.
    pub duration_secs: u64,
    /// The status of a refusal while locked: 429 or 423.
    pub status: u16,
}

impl Default for LockoutConfig {
    fn default() -> LockoutConfig {
        LockoutConfig {
            account: None,
            failure_statuses: DEFAULT_FAILURE_STATUSES.to_vec(),
            max_failures: DEFAULT_MAX_FAILURES,
            window_secs: DEFAULT_WINDOW,
            duration_secs: DEFAULT_DURATION,
            status: 429,
        }
    }
}

/// A `lockout` table validated on its own: only the keys it sets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockoutOverlay {
    account: Option<AccountSource>,
    failure_statuses: Option<Vec<u16>>,
    max_failures: Option<u32>,
    window_secs: Option<u64>,
    duration_secs: Option<u64>,
    status: Option<u16>,
}

impl Section for LockoutConfig {
    type Overlay = LockoutOverlay;

    fn with(&self, overlay: &LockoutOverlay) -> LockoutConfig {
        let mut out = self.clone();
        if let Some(v) = &overlay.account {
            out.account = Some(v.clone());
        }
        if let Some(v) = &overlay.failure_statuses {
            out.failure_statuses = v.clone();
        }
        if let Some(v) = overlay.max_failures {
            out.max_failures = v;
        }
        if let Some(v) = overlay.window_secs {
            out.window_secs = v;
        }
        if let Some(v) = overlay.duration_secs {
            out.duration_secs = v;
        }
        if let Some(v) = overlay.status {
            out.status = v;
        }
        out
    }
}

impl TableSection for LockoutConfig {
    fn read_overlay(
        value: &Value,
        field: &str,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<LockoutOverlay> {
        let Value::Table(table) = value else {
            wrong_type(problems, field, "a table", value);
            return None;
        };
        let f = |key: &str| format!("{field}.{key}");
        let mut o = LockoutOverlay::default();
        if let Some(v) = table.get("account") {
            match v.as_str().map(AccountSource::parse) {
                Some(Ok(source)) => o.account = Some(source),
                Some(Err(message)) => add(problems, f("account"), message),
                None => wrong_type(problems, f("account"), "a string", v),
            }
        }
        if let Some(v) = table.get("failure_statuses") {
            o.failure_statuses = failure_statuses(v, &f("failure_statuses"), problems);
        }
        if let Some(v) = table.get("max_failures") {
            let (min, max) = MAX_FAILURES_RANGE;
            o.max_failures =
                fields::integer(problems, &f("max_failures"), v, min, max).map(|n| n as u32);
        }
        if let Some(v) = table.get("window") {
            o.window_secs = seconds(v, &f("window"), problems);
        }
        if let Some(v) = table.get("duration") {
            o.duration_secs = seconds(v, &f("duration"), problems);
        }
        if let Some(v) = table.get("status") {
            o.status = match v {
                Value::Integer(423) => Some(423),
                Value::Integer(429) => Some(429),
                Value::Integer(n) => {
                    let choices = LOCK_STATUSES.join(" or ");
                    add(
                        problems,
                        f("status"),
                        format!("must be {choices}, found {n}"),
                    );
                    None
                }
                other => {
                    wrong_type(problems, f("status"), "429 or 423", other);
                    None
                }
            };
        }
        fields::unknown_fields(problems, table, &format!("{field}."), FIELDS);
        Some(o)
    }

    fn check_merged(&self, _field: &str, _problems: &mut Vec<ConfigProblem>) {}
}

/// `failure_statuses`: a non-empty list of distinct 4xx or 5xx statuses (a
/// 2xx is a success and resets the account's count; a 1xx or 3xx is not an
/// answer to a login attempt).
fn failure_statuses(
    value: &Value,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Vec<u16>> {
    let Value::Array(items) = value else {
        wrong_type(problems, field, "an array of statuses", value);
        return None;
    };
    let before = problems.len();
    let mut out: Vec<u16> = Vec::with_capacity(items.len());
    for (k, item) in items.iter().enumerate() {
        let element = format!("{field}[{k}]");
        if let Some(n) = fields::integer(problems, &element, item, 400, 599) {
            let status = n as u16;
            if out.contains(&status) {
                add(problems, element, format!("repeats {status}"));
            } else {
                out.push(status);
            }
        }
    }
    if items.is_empty() {
        add(
            problems,
            field,
            "must list at least one status (400 to 599)",
        );
    }
    (problems.len() == before).then_some(out)
}

/// `window` and `duration`: a duration such as `"15m"`, at most a day.
fn seconds(value: &Value, field: &str, problems: &mut Vec<ConfigProblem>) -> Option<u64> {
    let Some(text) = value.as_str() else {
        wrong_type(problems, field, "a duration like \"15m\"", value);
        return None;
    };
    match parse_duration(text) {
        Ok(n) if n <= MAX_SECONDS => Some(n),
        Ok(_) => {
            add(problems, field, "must be at most 1d");
            None
        }
        Err(message) => {
            add(problems, field, message);
            None
        }
    }
}

/// The settings of a login route: the section with the route's table merged
/// in; `None` when the route has no `lockout` table.
pub fn for_route(config: &LockoutConfig, keys: &Option<LockoutOverlay>) -> Option<LockoutConfig> {
    keys.as_ref().map(|overlay| config.with(overlay))
}

/// The lockout layer as the policy sees it.
pub struct Lockout;

impl PolicyLayer for Lockout {
    const NAME: &'static str = "lockout";
    const FEATURE: &'static str = "lockout";
    const BUILT: bool = cfg!(feature = "lockout");
    const SECTIONS: &'static [&'static str] = &["lockout"];
    const ROUTE_KEYS: &'static [&'static str] = &["lockout"];
    type Config = LockoutConfig;
    type RouteKeys = Option<LockoutOverlay>;

    fn parse_config(document: &toml::Table, problems: &mut Problems) -> LockoutConfig {
        LockoutConfig::parse_section(document.get("lockout"), "lockout", &mut problems.0)
    }

    fn parse_route(route: &RouteContext<'_>, problems: &mut Problems) -> Option<Self::RouteKeys> {
        let Some(value) = route.table.get("lockout") else {
            return Some(None);
        };
        let before = problems.len();
        let overlay = LockoutConfig::parse_overlay(value, &route.field("lockout"), &mut problems.0);
        (problems.len() == before).then_some(overlay)
    }

    /// Each login route counts failures with increment.
    fn host_needs(
        _config: &LockoutConfig,
        routes: &[RouteView<'_, Self::RouteKeys>],
        needs: &mut Vec<crate::base::host_profile::HostNeed>,
    ) {
        use crate::base::host_profile::{Capability, HostNeed};
        for route in routes.iter().filter(|r| r.keys.is_some()) {
            needs.push(HostNeed::new(
                format!("routes[{}].lockout", route.index),
                Capability::KeyValueIncrement,
            ));
        }
    }

    fn stores_used(
        _config: &LockoutConfig,
        routes: &[RouteView<'_, Self::RouteKeys>],
    ) -> StoresUsed {
        StoresUsed {
            key_value: routes.iter().any(|r| r.keys.is_some()),
            sqlite: false,
        }
    }
}
