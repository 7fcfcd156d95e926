//! A route's `csrf` key, and the guard each route ends up with.
//!
//! ```toml
//! [[routes]]
//! name = "app"
//! path = "/app/*"
//! auth = "required"               # session cookie: guarded by default
//!
//! [[routes]]
//! name = "partner-forms"
//! path = "/forms/*"
//! auth = "optional"
//! csrf = { trusted_origins = ["https://partner.example.com"] }
//!
//! [[routes]]
//! name = "legacy"
//! path = "/legacy/*"
//! auth = "required"
//! csrf = false                    # the app has its own tokens
//! ```

use toml::Value;

use crate::base::fields::{self, Problems, add, wrong_type};
use crate::base::layer::{PolicyLayer, RouteContext};
use crate::base::problem::ConfigProblem;
use crate::http::origin::OriginPattern;

/// The keys of a route's `csrf` table.
pub(crate) const FIELDS: &[&str] = &["trusted_origins"];

/// What a route's `csrf` says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CsrfSetting {
    /// No `csrf` key: guarded when the route's authentication reads a
    /// cookie, not otherwise.
    #[default]
    Default,
    /// `csrf = false`: never guarded.
    Off,
    /// `csrf = true` or a table: guarded whatever the route's auth, with
    /// these origins trusted besides the route's CORS origins.
    On { trusted_origins: Vec<OriginPattern> },
}

/// A guarded route's CSRF check: the origins a cross-site request may come
/// from. Built once per route when the configuration is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfGuard {
    /// The route's CORS origins (but `*`) and its own `trusted_origins`.
    pub trusted: Vec<OriginPattern>,
}

impl CsrfGuard {
    /// The guard of a route with this `csrf` setting, whose authentication
    /// reads a cookie (`cookie_auth`) or not, and whose CORS allows
    /// `cors_origins`; `None` when the route is not guarded.
    ///
    /// CORS's `*` is not trusted here: it says any page may *read* a
    /// public answer, never that any page may act with the user's cookie
    /// (browsers refuse credentials with `*` anyway).
    pub fn for_route(
        setting: &CsrfSetting,
        cookie_auth: bool,
        cors_origins: &[OriginPattern],
    ) -> Option<CsrfGuard> {
        let extra: &[OriginPattern] = match setting {
            CsrfSetting::Off => return None,
            CsrfSetting::Default if !cookie_auth => return None,
            CsrfSetting::Default => &[],
            CsrfSetting::On { trusted_origins } => trusted_origins,
        };
        let trusted = cors_origins
            .iter()
            .filter(|p| **p != OriginPattern::Any)
            .chain(extra)
            .cloned()
            .collect();
        Some(CsrfGuard { trusted })
    }
}

/// `csrf`: `true`, `false` or `{ trusted_origins = [...] }`.
fn read_setting(
    value: &Value,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<CsrfSetting> {
    match value {
        Value::Boolean(true) => Some(CsrfSetting::On {
            trusted_origins: Vec::new(),
        }),
        Value::Boolean(false) => Some(CsrfSetting::Off),
        Value::Table(table) => {
            let before = problems.len();
            let mut trusted_origins = Vec::new();
            if let Some(v) = table.get("trusted_origins") {
                let f = format!("{field}.trusted_origins");
                if let Some(list) = fields::strings(problems, &f, v, trusted_origin) {
                    if list.is_empty() {
                        add(
                            problems,
                            f,
                            "must list at least one origin (write csrf = true to trust none)",
                        );
                    }
                    trusted_origins = list;
                }
            }
            fields::unknown_fields(problems, table, &format!("{field}."), FIELDS);
            (problems.len() == before).then_some(CsrfSetting::On { trusted_origins })
        }
        other => {
            wrong_type(
                problems,
                field,
                "true, false or a table { trusted_origins }",
                other,
            );
            None
        }
    }
}

/// One origin of `trusted_origins`: an origin or a `*.` subdomain pattern,
/// never `*` (which would turn the check off: write `csrf = false`).
fn trusted_origin(text: &str) -> Result<OriginPattern, String> {
    match OriginPattern::parse(text)? {
        OriginPattern::Any => Err(
            "\"*\" would trust every origin, which turns CSRF protection off; write csrf = false instead"
                .to_string(),
        ),
        pattern => Ok(pattern),
    }
}

/// The CSRF layer as the policy registry sees it.
pub struct Csrf;

impl PolicyLayer for Csrf {
    const NAME: &'static str = "csrf";
    const FEATURE: &'static str = "csrf";
    const BUILT: bool = cfg!(feature = "csrf");
    const SECTIONS: &'static [&'static str] = &[];
    const ROUTE_KEYS: &'static [&'static str] = &["csrf"];
    type Config = ();
    type RouteKeys = CsrfSetting;

    fn parse_config(_document: &toml::Table, _problems: &mut Problems) {}

    fn parse_route(route: &RouteContext<'_>, problems: &mut Problems) -> Option<CsrfSetting> {
        match route.table.get("csrf") {
            None => Some(CsrfSetting::Default),
            Some(value) => read_setting(value, &route.field("csrf"), &mut problems.0),
        }
    }
}
