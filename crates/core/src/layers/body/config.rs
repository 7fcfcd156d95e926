//! The `[body]` policy section and a route's `body` table.
//!
//! ```
//! use warden_core::base::overlay::Section;
//! use warden_core::layers::body::json_scan::JsonLimits;
//! use warden_core::policy::parse_policy;
//!
//! let policy = parse_policy(r#"
//!     [body]
//!     limit = "10MiB"
//!
//!     [[routes]]
//!     name = "api"
//!     path = "/api/*"
//!     body = { limit = "1MiB", json = "strict", content_types = ["application/json"] }
//!
//!     [[routes]]
//!     name = "rest"
//!     path = "/*"
//! "#).unwrap();
//! let body = &policy.sections.body;
//! let api = body.for_route(policy.routes[0].keys.body.as_ref());
//! assert_eq!(api.limit, 1 << 20);
//! assert_eq!(api.json, Some(JsonLimits::STRICT));
//! let rest = body.for_route(policy.routes[1].keys.body.as_ref());
//! assert_eq!((rest.limit, rest.json), (10 << 20, None));
//! ```

use toml::Value;

use crate::base::fields::{self, Problems, add, quoted, wrong_type};
use crate::base::layer::{PolicyLayer, RouteContext};
use crate::base::overlay::{Section, TableSection};
use crate::base::problem::ConfigProblem;

use super::json_scan::{JsonLimits, MAX_DEPTH};

/// Default `limit`: seed 004's 10 MiB.
pub const DEFAULT_LIMIT: u64 = 10 * 1024 * 1024;
/// Largest `limit`: 1 GiB. The body streams through and is counted, never
/// held, so this bounds nothing in memory; past it a limit is no limit.
pub const MAX_LIMIT: u64 = 1024 * 1024 * 1024;
/// Largest count limit of a `json` table (items, characters, keys).
pub const MAX_COUNT: u64 = 100_000_000;

/// The keys of `[body]` and of a route's `body`.
pub(crate) const FIELDS: &[&str] = &["limit", "json", "content_types"];
/// The keys of a `json` table.
pub(crate) const JSON_FIELDS: &[&str] = &[
    "max_depth",
    "max_array_items",
    "max_string_chars",
    "max_object_keys",
    "max_total_keys",
    "refuse_nul",
];
/// The `json` presets.
pub const JSON_PRESETS: &[&str] = &["strict", "off"];

/// The body rules of the policy or of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyConfig {
    /// Largest body in bytes; a declared or counted body past it is a 413.
    pub limit: u64,
    /// JSON shape limits; `None`: the body is not scanned.
    pub json: Option<JsonLimits>,
    /// Media types accepted for a request with a body (lowercase
    /// `type/subtype`, no parameters); `None`: any.
    pub content_types: Option<Vec<String>>,
}

impl Default for BodyConfig {
    fn default() -> BodyConfig {
        BodyConfig {
            limit: DEFAULT_LIMIT,
            json: None,
            content_types: None,
        }
    }
}

/// A `body` table validated on its own: only the keys it sets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BodyOverlay {
    limit: Option<u64>,
    /// `Some(None)`: `json = "off"`.
    json: Option<Option<JsonLimits>>,
    content_types: Option<Vec<String>>,
}

impl Section for BodyConfig {
    type Overlay = BodyOverlay;

    fn with(&self, overlay: &BodyOverlay) -> BodyConfig {
        let mut out = self.clone();
        if let Some(v) = overlay.limit {
            out.limit = v;
        }
        if let Some(v) = overlay.json {
            out.json = v;
        }
        if let Some(v) = &overlay.content_types {
            out.content_types = Some(v.clone());
        }
        out
    }
}

impl TableSection for BodyConfig {
    fn read_overlay(
        value: &Value,
        field: &str,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<BodyOverlay> {
        let Value::Table(table) = value else {
            wrong_type(problems, field, "a table", value);
            return None;
        };
        let f = |key: &str| format!("{field}.{key}");
        let mut o = BodyOverlay::default();
        if let Some(v) = table.get("limit") {
            o.limit = read_limit(v, &f("limit"), problems);
        }
        if let Some(v) = table.get("json") {
            o.json = read_json(v, &f("json"), problems);
        }
        if let Some(v) = table.get("content_types") {
            o.content_types = fields::strings(problems, &f("content_types"), v, media_type);
            if o.content_types.as_ref().is_some_and(Vec::is_empty) {
                add(
                    problems,
                    f("content_types"),
                    "must list at least one media type (leave it out to accept any)",
                );
            }
        }
        fields::unknown_fields(problems, table, &format!("{field}."), FIELDS);
        Some(o)
    }

    fn check_merged(&self, _field: &str, _problems: &mut Vec<ConfigProblem>) {}
}

/// `limit`: an integer of bytes or a size such as `"10MiB"`.
fn read_limit(value: &Value, field: &str, problems: &mut Vec<ConfigProblem>) -> Option<u64> {
    let bytes = match value {
        Value::Integer(n) => u64::try_from(*n).ok(),
        Value::String(s) => match parse_size(s) {
            Ok(n) => Some(n),
            Err(message) => {
                add(problems, field, message);
                return None;
            }
        },
        other => {
            wrong_type(
                problems,
                field,
                "a number of bytes or a size like \"10MiB\"",
                other,
            );
            return None;
        }
    };
    match bytes {
        Some(n) if n <= MAX_LIMIT => Some(n),
        _ => {
            add(
                problems,
                field,
                format!("must be between 0 and {MAX_LIMIT} bytes (1GiB)"),
            );
            None
        }
    }
}

/// A size: a whole number then `B`, `KiB`, `MiB` or `GiB` (`"512KiB"`).
/// Decimal units (`MB`) are refused by name rather than guessed at.
pub fn parse_size(s: &str) -> Result<u64, String> {
    const SHAPE: &str = "expected a whole number followed by B, KiB, MiB or GiB, like \"10MiB\"";
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    if number.is_empty() {
        return Err(SHAPE.to_string());
    }
    let multiplier: u64 = match unit {
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "" => return Err(format!("missing unit; {SHAPE}")),
        "KB" | "kB" | "MB" | "GB" => {
            return Err(format!(
                "{} is a decimal unit; write the binary one ({}), {SHAPE}",
                quoted(unit),
                unit.replace(['K', 'k'], "Ki")
                    .replace('M', "Mi")
                    .replace('G', "Gi")
            ));
        }
        _ => return Err(format!("unknown unit; {SHAPE}")),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| format!("is too large; at most {MAX_LIMIT} bytes (1GiB)"))
}

/// `json`: a preset name or a table over the strict preset.
fn read_json(
    value: &Value,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Option<JsonLimits>> {
    match value {
        Value::String(name) => match name.as_str() {
            "strict" => Some(Some(JsonLimits::STRICT)),
            "off" => Some(None),
            _ => {
                add(
                    problems,
                    field,
                    format!(
                        "unknown preset {}; expected \"strict\", \"off\" or a table",
                        quoted(name)
                    ),
                );
                None
            }
        },
        Value::Table(table) => {
            let before = problems.len();
            let f = |key: &str| format!("{field}.{key}");
            let mut limits = JsonLimits::STRICT;
            let count = |key: &str, min: u64, max: u64, problems: &mut Vec<ConfigProblem>| {
                let v = table.get(key)?;
                fields::integer(problems, &f(key), v, min as i64, max as i64).map(|n| n as u64)
            };
            if let Some(n) = count("max_depth", 1, u64::from(MAX_DEPTH), problems) {
                limits.max_depth = n as u32;
            }
            if let Some(n) = count("max_array_items", 0, MAX_COUNT, problems) {
                limits.max_array_items = n;
            }
            if let Some(n) = count("max_string_chars", 0, MAX_COUNT, problems) {
                limits.max_string_chars = n;
            }
            if let Some(n) = count("max_object_keys", 0, MAX_COUNT, problems) {
                limits.max_object_keys = n;
            }
            if let Some(n) = count("max_total_keys", 0, MAX_COUNT, problems) {
                limits.max_total_keys = Some(n);
            }
            if let Some(v) = table.get("refuse_nul")
                && let Some(b) = fields::boolean(problems, &f("refuse_nul"), v)
            {
                limits.refuse_nul = b;
            }
            fields::unknown_fields(problems, table, &format!("{field}."), JSON_FIELDS);
            (problems.len() == before).then_some(Some(limits))
        }
        other => {
            wrong_type(problems, field, "\"strict\", \"off\" or a table", other);
            None
        }
    }
}

/// A media type of `content_types`: `type/subtype`, tokens, no parameters;
/// kept lowercase, since media types compare case-insensitively.
fn media_type(s: &str) -> Result<String, String> {
    match s.split_once('/') {
        Some((t, sub)) if fields::is_token(t) && fields::is_token(sub) => {
            Ok(s.to_ascii_lowercase())
        }
        _ if s.contains(';') => Err(format!(
            "{} has parameters; list the bare type/subtype (parameters are ignored when comparing)",
            quoted(s)
        )),
        _ => Err(format!("{} is not a media type (type/subtype)", quoted(s))),
    }
}

/// The body layer as the policy registry sees it.
pub struct Body;

impl PolicyLayer for Body {
    const NAME: &'static str = "body";
    const FEATURE: &'static str = "body";
    const BUILT: bool = cfg!(feature = "body");
    const SECTIONS: &'static [&'static str] = &["body"];
    const ROUTE_KEYS: &'static [&'static str] = &["body"];
    type Config = BodyConfig;
    type RouteKeys = Option<BodyOverlay>;

    fn parse_config(document: &toml::Table, problems: &mut Problems) -> BodyConfig {
        BodyConfig::parse_section(document.get("body"), "body", &mut problems.0)
    }

    fn parse_route(route: &RouteContext<'_>, problems: &mut Problems) -> Option<Self::RouteKeys> {
        Some(
            route
                .table
                .get("body")
                .and_then(|v| BodyConfig::parse_overlay(v, &route.field("body"), &mut problems.0)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(doc: &str) -> (BodyConfig, Vec<String>) {
        let value: Value = toml::from_str(doc).unwrap();
        let mut problems = Vec::new();
        let config = BodyConfig::parse_section(Some(&value), "body", &mut problems);
        (config, problems.iter().map(|p| p.to_string()).collect())
    }

    fn ok(doc: &str) -> BodyConfig {
        let (config, problems) = parse(doc);
        assert!(problems.is_empty(), "{problems:?}");
        config
    }

    #[test]
    fn defaults_are_the_seed_limit_and_nothing_else() {
        let config = BodyConfig::default();
        assert_eq!(config.limit, 10_485_760);
        assert_eq!(config.json, None);
        assert_eq!(config.content_types, None);
        let policy =
            crate::policy::parse_policy("[[routes]]\nname = \"a\"\npath = \"/*\"\n").unwrap();
        assert_eq!(policy.sections.body, config);
        assert_eq!(policy.routes[0].keys.body, None);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0B"), Ok(0));
        assert_eq!(parse_size("100B"), Ok(100));
        assert_eq!(parse_size("512KiB"), Ok(524_288));
        assert_eq!(parse_size("10MiB"), Ok(10_485_760));
        assert_eq!(parse_size("1GiB"), Ok(1_073_741_824));
        for bad in [
            "", "10", "MiB", "10 MiB", "10mib", "1.5MiB", "-1MiB", "10TiB", " 1B",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_size("10MB"),
            Err("\"MB\" is a decimal unit; write the binary one (MiB), expected a whole number followed by B, KiB, MiB or GiB, like \"10MiB\"".into())
        );
        assert_eq!(ok("limit = 1024").limit, 1024);
        assert_eq!(ok("limit = \"1GiB\"").limit, MAX_LIMIT);
        assert_eq!(ok("limit = 0").limit, 0);
    }

    #[test]
    fn json_presets_and_tables() {
        assert_eq!(ok("json = \"strict\"").json, Some(JsonLimits::STRICT));
        assert_eq!(ok("json = \"off\"").json, None);
        let table = ok("json = { max_depth = 32, max_total_keys = 5000, refuse_nul = false }");
        assert_eq!(
            table.json,
            Some(JsonLimits {
                max_depth: 32,
                max_total_keys: Some(5000),
                refuse_nul: false,
                ..JsonLimits::STRICT
            })
        );
        let all = ok(
            "json = { max_depth = 1, max_array_items = 0, max_string_chars = 0, max_object_keys = 0, max_total_keys = 0, refuse_nul = true }",
        );
        assert_eq!(
            all.json,
            Some(JsonLimits {
                max_depth: 1,
                max_array_items: 0,
                max_string_chars: 0,
                max_object_keys: 0,
                max_total_keys: Some(0),
                refuse_nul: true,
            })
        );
        assert_eq!(
            ok("content_types = [\"Application/JSON\", \"application/merge-patch+json\"]")
                .content_types,
            Some(vec![
                "application/json".into(),
                "application/merge-patch+json".into()
            ])
        );
    }

    #[test]
    fn every_problem_is_named_by_field() {
        let (_, found) = parse(
            r#"
            limit = "10MB"
            json = { max_depth = 0, max_array_items = -1, max_string_chars = "x", refuse_nul = 1, depth = 3 }
            content_types = ["json", "application/json; charset=utf-8", 5]
            extra = true
            "#,
        );
        assert_eq!(
            found,
            [
                "body.limit: \"MB\" is a decimal unit; write the binary one (MiB), expected a whole number followed by B, KiB, MiB or GiB, like \"10MiB\"",
                "body.json.max_depth: must be between 1 and 512",
                "body.json.max_array_items: must be between 0 and 100000000",
                "body.json.max_string_chars: must be an integer, found a string",
                "body.json.refuse_nul: must be true or false, found an integer",
                "body.json.depth: unknown field; expected one of: max_depth, max_array_items, max_string_chars, max_object_keys, max_total_keys, refuse_nul",
                "body.content_types[0]: \"json\" is not a media type (type/subtype)",
                "body.content_types[1]: \"application/json; charset=utf-8\" has parameters; list the bare type/subtype (parameters are ignored when comparing)",
                "body.content_types[2]: must be a string, found an integer",
                "body.extra: unknown field; expected one of: limit, json, content_types",
            ]
        );
        let (_, found) = parse("limit = 1073741825\njson = \"loose\"\ncontent_types = []");
        assert_eq!(
            found,
            [
                "body.limit: must be between 0 and 1073741824 bytes (1GiB)",
                "body.json: unknown preset \"loose\"; expected \"strict\", \"off\" or a table",
                "body.content_types: must list at least one media type (leave it out to accept any)",
            ]
        );
        let (_, found) = parse("limit = -1\njson = true");
        assert_eq!(
            found,
            [
                "body.limit: must be between 0 and 1073741824 bytes (1GiB)",
                "body.json: must be \"strict\", \"off\" or a table, found a boolean",
            ]
        );
    }

    #[test]
    fn in_a_policy_with_route_overlays() {
        let doc = r#"
            [body]
            limit = "2MiB"
            json = "strict"

            [[routes]]
            name = "upload"
            path = "/upload"
            body = { limit = "100MiB", json = "off" }

            [[routes]]
            name = "api"
            path = "/api/*"
            body = { json = { max_depth = 4 }, content_types = ["application/json"] }

            [[routes]]
            name = "rest"
            path = "/*"
        "#;
        let policy = crate::policy::parse_policy(doc).unwrap();
        let body = &policy.sections.body;
        let upload = body.for_route(policy.routes[0].keys.body.as_ref());
        assert_eq!((upload.limit, upload.json), (100 << 20, None));
        let api = body.for_route(policy.routes[1].keys.body.as_ref());
        assert_eq!(api.limit, 2 << 20);
        assert_eq!(
            api.json.map(|j| (j.max_depth, j.max_array_items)),
            Some((4, 1000))
        );
        assert_eq!(
            api.content_types.as_deref(),
            Some(&["application/json".to_string()][..])
        );
        let rest = body.for_route(policy.routes[2].keys.body.as_ref());
        assert_eq!(*rest, *body);

        let bad = "[[routes]]\nname = \"a\"\npath = \"/*\"\nbody = { limit = \"lots\" }\n";
        let found: Vec<String> = crate::policy::parse_policy(bad)
            .unwrap_err()
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            found,
            [
                "routes[0].body.limit: expected a whole number followed by B, KiB, MiB or GiB, like \"10MiB\""
            ]
        );
    }
}
