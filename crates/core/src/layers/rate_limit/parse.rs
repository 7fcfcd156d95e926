//! Reading a route's `rate_limit` value and the global `[rate_limit]` table.
//!
//! ```toml
//! [rate_limit]
//! client_ip = "peer"            # peer (default) | "cf-connecting-ip" | "x-real-ip"
//!                               # | { x_forwarded_for = 1 } (Nth from the right)
//! ipv6_prefix = 64              # 32..=128
//! legacy_headers = true         # X-RateLimit-*
//! ietf_headers = true           # RateLimit-Policy / RateLimit
//! sweep_interval = "1m"         # how often expired counters are deleted
//! approximate = { sync_interval = "1s", writes_per_second = 5 }
//!                               # the minimal flavour's approximate limiter
//!
//! [[routes]]
//! rate_limit = "auth"                               # a preset
//! rate_limit = { requests = 10, window = "1s" }     # one custom quota
//! rate_limit = { limits = [{ requests = 10, window = "1s" }, { requests = 1000, window = "1h" }],
//!                key = ["user", "header:x-tenant"], scope = "path",
//!                algorithm = "sliding-window", fail = "closed",
//!                tiers = { anonymous = "strict", authenticated = "api", "role:admin" = { requests = 1000, window = "1m" } },
//!                deny = { status = 429, body = { code = "RATE_LIMITED" } },
//!                skip_if = { methods = ["OPTIONS"], headers = { "x-internal-probe" = "yes" } } }
//! ```

use toml::{Table, Value};

use super::approximate::ApproximateSettings;
use super::config::{
    Algorithm, ClientIpSource, DEFAULT_KEY_PREFIX, KeyPart, MAX_WINDOW_SECS, Preset, Quota,
    RateLimit, RateLimitRule, RateLimitSettings, Scope, SkipIf, Tier,
};
use crate::base::denial::Denial;
use crate::base::fail_mode::FailMode;
use crate::base::fields::{Problems, is_tchar, parse_duration, parse_duration_ms};
use crate::base::layer::{Layer, PolicyLayer, RouteContext, RouteView, StoresUsed};

/// The rate-limit layer as the policy registry sees it.
pub struct RateLimiting;

impl PolicyLayer for RateLimiting {
    const NAME: &'static str = "rate_limit";
    const FEATURE: &'static str = "rate-limit";
    const BUILT: bool = cfg!(feature = "rate-limit");
    const SECTIONS: &'static [&'static str] = &["rate_limit"];
    const ROUTE_KEYS: &'static [&'static str] = &["rate_limit"];
    type Config = RateLimitSettings;
    type RouteKeys = RateLimitRule;

    fn parse_config(document: &Table, problems: &mut Problems) -> RateLimitSettings {
        match document.get("rate_limit") {
            None => RateLimitSettings::default(),
            Some(Value::Table(t)) => parse_rate_limit_settings(t, problems),
            Some(other) => {
                problems.wrong_type("rate_limit", "a table ([rate_limit])", other);
                RateLimitSettings::default()
            }
        }
    }

    fn parse_route(route: &RouteContext<'_>, problems: &mut Problems) -> Option<RateLimitRule> {
        let field = |name: &str| route.field(name);
        let rate_limit = match route.table.get("rate_limit") {
            None => Some(RateLimitRule::default_for_route()),
            Some(v) => parse_rate_limit(v, &field("rate_limit"), route.name, problems),
        };
        if let (Some(auth), Some(RateLimitRule::Limit(limit))) = (route.auth, &rate_limit)
            && limit.key.contains(&KeyPart::User)
            && !auth.identifies_users()
        {
            problems.add(
                field("rate_limit.key"),
                format!(
                    "key = \"user\" needs auth = \"optional\" or \"required\" (this route has auth = \"{}\")",
                    auth.as_str()
                ),
            );
        }
        rate_limit
    }

    fn stores_used(
        _settings: &RateLimitSettings,
        routes: &[RouteView<'_, RateLimitRule>],
    ) -> StoresUsed {
        let limited = routes
            .iter()
            .any(|r| !r.skip.contains(&Layer::RateLimit) && !matches!(r.keys, RateLimitRule::Off));
        StoresUsed {
            key_value: limited,
            sqlite: false,
        }
    }

    /// Fixed windows count exactly with increment, or approximately
    /// without it (the minimal flavour); the sliding window's estimate
    /// needs exact counts, so it needs increment.
    fn host_needs(
        _settings: &RateLimitSettings,
        routes: &[RouteView<'_, RateLimitRule>],
        needs: &mut Vec<crate::base::host_profile::HostNeed>,
    ) {
        use crate::base::host_profile::{Capability, HostNeed};
        for route in routes {
            if let RateLimitRule::Limit(limit) = route.keys
                && limit.algorithm == Algorithm::SlidingWindow
                && !route.skip.contains(&Layer::RateLimit)
            {
                needs.push(HostNeed::new(
                    format!("routes[{}].rate_limit.algorithm", route.index),
                    Capability::KeyValueIncrement,
                ));
            }
        }
    }

    fn check_skip(
        rule: &RateLimitRule,
        route: &RouteContext<'_>,
        skip: &[Layer],
        problems: &mut Problems,
    ) {
        if route.table.contains_key("rate_limit")
            && matches!(rule, RateLimitRule::Limit(_))
            && skip.contains(&Layer::RateLimit)
        {
            problems.add(
                route.field("skip"),
                "skips \"rate_limit\" but sets rate_limit; remove one of them",
            );
        }
    }
}

pub(crate) const RATE_LIMIT_FIELDS: &[&str] = &[
    "preset",
    "requests",
    "window",
    "limits",
    "key",
    "tiers",
    "scope",
    "algorithm",
    "fail",
    "deny",
    "skip_if",
];
pub(crate) const QUOTA_FIELDS: &[&str] = &["preset", "requests", "window", "name"];
pub(crate) const DENY_FIELDS: &[&str] = &["status", "body"];
pub(crate) const SKIP_IF_FIELDS: &[&str] = &["methods", "headers"];
pub(crate) const CLIENT_IP_FIELDS: &[&str] = &["x_forwarded_for"];
pub(crate) const SETTINGS_FIELDS: &[&str] = &[
    "client_ip",
    "ipv6_prefix",
    "legacy_headers",
    "ietf_headers",
    "sweep_interval",
    "approximate",
];
pub(crate) const APPROXIMATE_FIELDS: &[&str] = &["sync_interval", "writes_per_second"];

/// Parses a route's `rate_limit` value: `"off"`, a preset name, or a table.
pub(crate) fn parse_rate_limit(
    value: &Value,
    field: &str,
    route: &str,
    problems: &mut Problems,
) -> Option<RateLimitRule> {
    let table = match value {
        Value::String(s) if s == "off" => return Some(RateLimitRule::Off),
        Value::String(s) => {
            let preset = Preset::from_name(s);
            if preset.is_none() {
                problems.add(field, unknown_preset_message(true));
            }
            return preset.map(|p| p.rule(KeyPart::Ip));
        }
        Value::Table(table) => table,
        other => {
            problems.wrong_type(field, "\"off\", a preset name or a table", other);
            return None;
        }
    };
    let before = problems.len();

    let quotas = parse_base_quotas(table, field, route, problems);
    let key = match table.get("key") {
        None => Some(vec![KeyPart::Ip]),
        Some(Value::String(k)) => match KeyPart::parse(k) {
            Ok(part) => Some(vec![part]),
            Err(message) => {
                problems.add(format!("{field}.key"), message);
                None
            }
        },
        Some(v @ Value::Array(items)) => {
            if items.is_empty() {
                problems.add(format!("{field}.key"), "must name at least one part");
                None
            } else {
                problems.strings(&format!("{field}.key"), v, KeyPart::parse)
            }
        }
        Some(other) => {
            problems.wrong_type(
                format!("{field}.key"),
                "a string or an array of strings",
                other,
            );
            None
        }
    };
    let tiers = match table.get("tiers") {
        None => Some(Vec::new()),
        Some(Value::Table(t)) => parse_tiers(t, &format!("{field}.tiers"), route, problems),
        Some(other) => {
            problems.wrong_type(format!("{field}.tiers"), "a table", other);
            None
        }
    };
    let scope = choice(
        table,
        "scope",
        field,
        problems,
        &[("route", Scope::Route), ("path", Scope::Path)],
    );
    let algorithm = choice(
        table,
        "algorithm",
        field,
        problems,
        &[
            ("fixed-window", Algorithm::FixedWindow),
            ("sliding-window", Algorithm::SlidingWindow),
        ],
    );
    let fail = choice(
        table,
        "fail",
        field,
        problems,
        &[("open", FailMode::Open), ("closed", FailMode::Closed)],
    );
    let deny = match table.get("deny") {
        None => Some(None),
        Some(Value::Table(t)) => parse_deny(t, &format!("{field}.deny"), problems).map(Some),
        Some(other) => {
            problems.wrong_type(format!("{field}.deny"), "a table { status, body }", other);
            None
        }
    };
    let skip_if = match table.get("skip_if") {
        None => Some(SkipIf::default()),
        Some(Value::Table(t)) => parse_skip_if(t, &format!("{field}.skip_if"), problems),
        Some(other) => {
            problems.wrong_type(format!("{field}.skip_if"), "a table", other);
            None
        }
    };
    problems.unknown_fields(table, &format!("{field}."), RATE_LIMIT_FIELDS);
    if problems.len() != before {
        return None;
    }
    Some(RateLimitRule::Limit(RateLimit {
        quotas: quotas?,
        tiers: tiers?,
        key: key?,
        scope: scope?,
        algorithm: algorithm?,
        fail: fail?,
        deny: deny?,
        skip_if: skip_if?,
    }))
}

/// The route's base quotas: `preset`, `requests` + `window`, or `limits`.
fn parse_base_quotas(
    table: &Table,
    field: &str,
    route: &str,
    problems: &mut Problems,
) -> Option<Vec<Quota>> {
    let simple = ["preset", "requests", "window"]
        .iter()
        .any(|k| table.contains_key(*k));
    if table.contains_key("limits") && simple {
        problems.add(
            format!("{field}.limits"),
            "cannot be combined with preset, requests or window; list every quota in limits",
        );
        return None;
    }
    if let Some(limits) = table.get("limits") {
        let Value::Array(items) = limits else {
            problems.wrong_type(format!("{field}.limits"), "an array of quotas", limits);
            return None;
        };
        if items.is_empty() {
            problems.add(format!("{field}.limits"), "must hold at least one quota");
            return None;
        }
        return parse_quota_list(items, &format!("{field}.limits"), route, problems);
    }
    // `preset` or `requests`/`window` straight in the rule's table.
    let mut own = Table::new();
    for k in ["preset", "requests", "window"] {
        if let Some(v) = table.get(k) {
            own.insert(k.to_owned(), v.clone());
        }
    }
    parse_quota_table(&own, field, route, None, problems).map(|q| vec![q])
}

fn parse_quota_list(
    items: &[Value],
    field: &str,
    route: &str,
    problems: &mut Problems,
) -> Option<Vec<Quota>> {
    let many = items.len() > 1;
    let mut out = Vec::new();
    let mut ok = true;
    for (k, item) in items.iter().enumerate() {
        let element = format!("{field}[{k}]");
        match parse_quota(item, &element, route, many, problems) {
            Some(q) => out.push(q),
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    for (k, q) in out.iter().enumerate() {
        if out[..k].iter().any(|p| p.name == q.name) {
            problems.add(
                format!("{field}[{k}].name"),
                format!(
                    "\"{}\" is used by another quota of this route; give each a name",
                    q.name
                ),
            );
            return None;
        }
    }
    Some(out)
}

/// One quota: a preset name, `{ preset }`, or `{ requests, window, name? }`.
fn parse_quota(
    value: &Value,
    field: &str,
    route: &str,
    many: bool,
    problems: &mut Problems,
) -> Option<Quota> {
    match value {
        Value::String(s) => match Preset::from_name(s) {
            Some(p) => Some(p.quota()),
            None => {
                problems.add(field, unknown_preset_message(false));
                None
            }
        },
        Value::Table(t) => parse_quota_table(t, field, route, Some(many), problems),
        other => {
            problems.wrong_type(field, "a preset name or a table", other);
            None
        }
    }
}

/// `many`: `None` for the rule's own table, else whether the route lists
/// several quotas (their default names then carry the window).
fn parse_quota_table(
    t: &Table,
    field: &str,
    route: &str,
    many: Option<bool>,
    problems: &mut Problems,
) -> Option<Quota> {
    let before = problems.len();
    if many.is_some() {
        problems.unknown_fields(t, &format!("{field}."), QUOTA_FIELDS);
    }
    let name = match t.get("name") {
        None => None,
        Some(Value::String(n)) if is_quota_name(n) => Some(n.clone()),
        Some(Value::String(_)) => {
            problems.add(format!("{field}.name"), "must be 1-64 of [a-z0-9_-]");
            return None;
        }
        Some(other) => {
            problems.wrong_type(format!("{field}.name"), "a string", other);
            return None;
        }
    };
    if let Some(preset) = t.get("preset") {
        for custom in ["requests", "window"] {
            if t.contains_key(custom) {
                problems.add(
                    format!("{field}.{custom}"),
                    "cannot be combined with preset; give a preset or requests and window",
                );
            }
        }
        let quota = match preset {
            Value::String(s) => match Preset::from_name(s) {
                Some(p) => Some(p.quota()),
                None => {
                    problems.add(format!("{field}.preset"), unknown_preset_message(false));
                    None
                }
            },
            other => {
                problems.wrong_type(format!("{field}.preset"), "a string", other);
                None
            }
        };
        if problems.len() != before {
            return None;
        }
        return quota.map(|q| Quota {
            name: name.unwrap_or(q.name.clone()),
            ..q
        });
    }
    let requests = match t.get("requests") {
        None => {
            problems.add(
                format!("{field}.requests"),
                "is required (or give a preset)",
            );
            None
        }
        Some(v) => problems
            .integer(&format!("{field}.requests"), v, 1, i64::from(u32::MAX))
            .and_then(|n| u32::try_from(n).ok()),
    };
    let window = match t.get("window") {
        None => {
            problems.add(format!("{field}.window"), "is required (or give a preset)");
            None
        }
        Some(v) => parse_window(v, &format!("{field}.window"), problems),
    };
    let (requests, window_secs) = (requests?, window?);
    let name = name.unwrap_or_else(|| {
        if many == Some(true) {
            format!("{route}-{window_secs}s")
        } else {
            route.to_owned()
        }
    });
    Some(Quota {
        name,
        requests,
        window_secs,
        preset: None,
        prefix: DEFAULT_KEY_PREFIX,
    })
}

fn is_quota_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A role or API-key tier name in a `tiers` key: 1 to 64 characters, no
/// whitespace or control characters.
fn is_tier_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn parse_tiers(
    t: &Table,
    field: &str,
    route: &str,
    problems: &mut Problems,
) -> Option<Vec<(Tier, Vec<Quota>)>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (name, value) in t {
        let element = format!("{field}.{name}");
        let tier = match name.as_str() {
            "anonymous" => Some(Tier::Anonymous),
            "authenticated" => Some(Tier::Authenticated),
            other => match (other.strip_prefix("role:"), other.strip_prefix("apikey:")) {
                (Some(role), _) if is_tier_name(role) => Some(Tier::Role(role.to_owned())),
                (_, Some(tier)) if is_tier_name(tier) => Some(Tier::ApiKey(tier.to_owned())),
                _ => {
                    problems.add(
                        element.clone(),
                        "unknown tier; expected anonymous, authenticated, role:NAME or apikey:TIER",
                    );
                    None
                }
            },
        };
        let quotas = match value {
            Value::Array(items) if !items.is_empty() => {
                parse_quota_list(items, &element, route, problems)
            }
            Value::Array(_) => {
                problems.add(element.clone(), "must hold at least one quota");
                None
            }
            other => parse_quota(other, &element, route, false, problems).map(|q| vec![q]),
        };
        match (tier, quotas) {
            (Some(tier), Some(quotas)) => out.push((tier, quotas)),
            _ => ok = false,
        }
    }
    // An API key's own tier first (the key was issued with it), then
    // roles, then authenticated, then anonymous: the most specific tier that
    // applies wins, whatever order the document lists them in.
    // (A stable partition by rank: the same order as a stable sort.)
    let rank = |tier: &Tier| match tier {
        Tier::ApiKey(_) => 0,
        Tier::Role(_) => 1,
        Tier::Authenticated => 2,
        Tier::Anonymous => 3,
    };
    let mut sorted = Vec::with_capacity(out.len());
    for r in 0..4 {
        let (this, rest): (Vec<_>, Vec<_>) = out.into_iter().partition(|(tier, _)| rank(tier) == r);
        sorted.extend(this);
        out = rest;
    }
    ok.then_some(sorted)
}

fn parse_deny(t: &Table, field: &str, problems: &mut Problems) -> Option<Denial> {
    let before = problems.len();
    problems.unknown_fields(t, &format!("{field}."), DENY_FIELDS);
    let status = match t.get("status") {
        None => Some(429),
        Some(v) => problems
            .integer(&format!("{field}.status"), v, 400, 599)
            .map(|n| n as u16),
    };
    let body = match t.get("body") {
        None => {
            problems.add(
                format!("{field}.body"),
                "is required: a table, sent as JSON",
            );
            None
        }
        Some(v @ Value::Table(_)) => serde_json::to_string(v).ok(),
        Some(other) => {
            problems.wrong_type(format!("{field}.body"), "a table (sent as JSON)", other);
            None
        }
    };
    if problems.len() != before {
        return None;
    }
    Some(Denial {
        status: status?,
        body: body?,
    })
}

fn parse_skip_if(t: &Table, field: &str, problems: &mut Problems) -> Option<SkipIf> {
    let before = problems.len();
    problems.unknown_fields(t, &format!("{field}."), SKIP_IF_FIELDS);
    let methods = match t.get("methods") {
        None => Some(Vec::new()),
        Some(v) => problems.strings(&format!("{field}.methods"), v, |m| {
            if !m.is_empty() && m.len() <= 32 && m.bytes().all(is_tchar) {
                Ok(m.to_ascii_uppercase())
            } else {
                Err("must be an HTTP method".to_string())
            }
        }),
    };
    let headers = match t.get("headers") {
        None => Some(Vec::new()),
        Some(Value::Table(h)) => {
            let mut out = Vec::new();
            for (name, value) in h {
                let element = format!("{field}.headers.{name}");
                if name.is_empty() || name.len() > 64 || !name.bytes().all(is_tchar) {
                    problems.add(element.clone(), "must be a header name");
                }
                match value {
                    Value::String(v)
                        if !v.is_empty() && v.len() <= 256 && !v.chars().any(char::is_control) =>
                    {
                        out.push((name.to_ascii_lowercase(), v.clone()))
                    }
                    Value::String(_) => problems.add(element, "must be 1-256 printable characters"),
                    other => problems.wrong_type(element, "a string", other),
                }
            }
            Some(out)
        }
        Some(other) => {
            problems.wrong_type(
                format!("{field}.headers"),
                "a table of header = \"value\"",
                other,
            );
            None
        }
    };
    if problems.len() != before {
        return None;
    }
    Some(SkipIf {
        methods: methods?,
        headers: headers?,
    })
}

/// One of a fixed set of strings.
fn choice<T: Copy + Default>(
    t: &Table,
    key: &str,
    field: &str,
    problems: &mut Problems,
    options: &[(&str, T)],
) -> Option<T> {
    match t.get(key) {
        None => Some(T::default()),
        Some(Value::String(s)) => match options.iter().find(|(name, _)| name == s) {
            Some((_, v)) => Some(*v),
            None => {
                let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                problems.add(
                    format!("{field}.{key}"),
                    format!("must be one of {}", names.join(", ")),
                );
                None
            }
        },
        Some(other) => {
            problems.wrong_type(format!("{field}.{key}"), "a string", other);
            None
        }
    }
}

/// A window: whole seconds as an integer, or a duration string like `"15m"`.
pub(crate) fn parse_window(value: &Value, field: &str, problems: &mut Problems) -> Option<u64> {
    let seconds = match value {
        Value::Integer(n) if *n >= 1 => n.unsigned_abs(),
        Value::Integer(_) => {
            problems.add(field, "must be at least 1 second");
            return None;
        }
        Value::String(s) => match parse_duration(s) {
            Ok(seconds) => seconds,
            Err(message) => {
                problems.add(field, message);
                return None;
            }
        },
        other => {
            problems.wrong_type(field, "whole seconds or a duration like \"15m\"", other);
            return None;
        }
    };
    if seconds > MAX_WINDOW_SECS {
        problems.add(
            field,
            format!("must be at most 30 days ({MAX_WINDOW_SECS} seconds)"),
        );
        return None;
    }
    Some(seconds)
}

fn unknown_preset_message(with_off: bool) -> String {
    let presets: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
    let off = if with_off { "\"off\" or " } else { "" };
    format!(
        "unknown preset; expected {off}one of: {}",
        presets.join(", ")
    )
}

/// Parses the global `[rate_limit]` table.
pub(crate) fn parse_rate_limit_settings(t: &Table, problems: &mut Problems) -> RateLimitSettings {
    let mut s = RateLimitSettings::default();
    problems.unknown_fields(t, "rate_limit.", SETTINGS_FIELDS);
    match t.get("client_ip") {
        None => {}
        Some(Value::String(v)) => match v.as_str() {
            "peer" => s.client_ip = ClientIpSource::Peer,
            "cf-connecting-ip" | "x-real-ip" => s.client_ip = ClientIpSource::Header(v.clone()),
            _ => problems.add(
                "rate_limit.client_ip",
                "must be \"peer\", \"cf-connecting-ip\", \"x-real-ip\" or { x_forwarded_for = N }",
            ),
        },
        Some(Value::Table(x)) => {
            problems.unknown_fields(x, "rate_limit.client_ip.", CLIENT_IP_FIELDS);
            match x.get("x_forwarded_for") {
                Some(v) => {
                    if let Some(n) =
                        problems.integer("rate_limit.client_ip.x_forwarded_for", v, 1, 16)
                    {
                        s.client_ip = ClientIpSource::ForwardedFor(n as u8);
                    }
                }
                None => problems.add(
                    "rate_limit.client_ip.x_forwarded_for",
                    "is required in the table form",
                ),
            }
        }
        Some(other) => problems.wrong_type("rate_limit.client_ip", "a string or a table", other),
    }
    if let Some(v) = t.get("ipv6_prefix")
        && let Some(n) = problems.integer("rate_limit.ipv6_prefix", v, 32, 128)
    {
        s.ipv6_prefix = n as u8;
    }
    for (key, slot) in [
        ("legacy_headers", &mut s.legacy_headers),
        ("ietf_headers", &mut s.ietf_headers),
    ] {
        match t.get(key) {
            None => {}
            Some(Value::Boolean(b)) => *slot = *b,
            Some(other) => problems.wrong_type(format!("rate_limit.{key}"), "true or false", other),
        }
    }
    if let Some(v) = t.get("sweep_interval")
        && let Some(secs) = parse_window(v, "rate_limit.sweep_interval", problems)
    {
        s.sweep_interval_secs = secs;
    }
    match t.get("approximate") {
        None => {}
        Some(Value::Table(a)) => s.approximate = parse_approximate(a, problems),
        Some(other) => problems.wrong_type(
            "rate_limit.approximate",
            "a table { sync_interval, writes_per_second }",
            other,
        ),
    }
    s
}

/// `[rate_limit] approximate = { sync_interval = "1s", writes_per_second = 5 }`.
fn parse_approximate(t: &Table, problems: &mut Problems) -> ApproximateSettings {
    use super::approximate::{SYNC_INTERVAL_RANGE_MS, WRITES_PER_SECOND_RANGE};
    let mut a = ApproximateSettings::default();
    problems.unknown_fields(t, "rate_limit.approximate.", APPROXIMATE_FIELDS);
    let field = "rate_limit.approximate.sync_interval";
    match t.get("sync_interval") {
        None => {}
        Some(Value::String(s)) => match parse_duration_ms(s) {
            Ok(ms) if (SYNC_INTERVAL_RANGE_MS.0..=SYNC_INTERVAL_RANGE_MS.1).contains(&ms) => {
                a.sync_interval_ms = ms
            }
            Ok(_) => problems.add(field, "must be between 100ms and 1m"),
            Err(message) => problems.add(field, message),
        },
        Some(other) => problems.wrong_type(field, "a duration like \"1s\" or \"500ms\"", other),
    }
    if let Some(v) = t.get("writes_per_second")
        && let Some(n) = problems.integer(
            "rate_limit.approximate.writes_per_second",
            v,
            i64::from(WRITES_PER_SECOND_RANGE.0),
            i64::from(WRITES_PER_SECOND_RANGE.1),
        )
    {
        a.writes_per_second = u32::try_from(n).unwrap_or(WRITES_PER_SECOND_RANGE.0);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::super::{Algorithm, KeyPart, RateLimitRule, Scope, Tier};
    use crate::base::fail_mode::FailMode;
    use crate::policy::parse_policy;

    fn rule(rate_limit: &str, auth: &str) -> Result<RateLimitRule, Vec<String>> {
        let doc = format!(
            "[[routes]]\nname = \"r\"\npath = \"/*\"\nauth = \"{auth}\"\nrate_limit = {rate_limit}\n"
        );
        parse_policy(&doc)
            .map(|p| p.routes[0].keys.rate_limit.clone())
            .map_err(|ps| ps.iter().map(|p| p.field.clone()).collect())
    }

    #[test]
    fn several_quotas_tiers_and_options() {
        let r = rule(
            r#"{ limits = [{ requests = 10, window = "1s" }, { requests = 1000, window = "1h" }],
                 key = ["user", "header:X-Tenant"], scope = "path", algorithm = "sliding-window",
                 fail = "closed", tiers = { anonymous = "strict", "role:admin" = [{ requests = 5, window = 1 }] },
                 deny = { status = 503, body = { code = "SLOW_DOWN" } },
                 skip_if = { methods = ["options"], headers = { "X-Probe" = "yes" } } }"#,
            "optional",
        )
        .unwrap();
        let RateLimitRule::Limit(l) = r else { panic!() };
        assert_eq!(l.quotas.len(), 2);
        assert_eq!(
            (
                l.quotas[0].name.as_str(),
                l.quotas[0].requests,
                l.quotas[0].window_secs
            ),
            ("r-1s", 10, 1)
        );
        assert_eq!(l.quotas[1].name, "r-3600s");
        assert_eq!(
            l.key,
            vec![KeyPart::User, KeyPart::Header("x-tenant".into())]
        );
        assert_eq!(l.scope, Scope::Path);
        assert_eq!(l.algorithm, Algorithm::SlidingWindow);
        assert_eq!(l.fail, FailMode::Closed);
        assert_eq!(l.tiers[0].0, Tier::Role("admin".into()), "roles sort first");
        assert_eq!(l.tiers[1].0, Tier::Anonymous);
        let deny = l.deny.clone().unwrap();
        assert_eq!(
            (deny.status, deny.body.as_str()),
            (503, r#"{"code":"SLOW_DOWN"}"#)
        );
        assert_eq!(l.skip_if.methods, vec!["OPTIONS"]);
        assert_eq!(l.skip_if.headers, vec![("x-probe".into(), "yes".into())]);
        assert!(l.needs_identity());
    }

    #[test]
    fn problems_name_their_field() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{ requests = 0, window = "1m" }"#,
                "routes[0].rate_limit.requests",
            ),
            (r#"{ requests = 5 }"#, "routes[0].rate_limit.window"),
            (
                r#"{ preset = "api", requests = 5 }"#,
                "routes[0].rate_limit.requests",
            ),
            (
                r#"{ preset = "api", limits = ["web"] }"#,
                "routes[0].rate_limit.limits",
            ),
            (r#"{ limits = [] }"#, "routes[0].rate_limit.limits"),
            (
                r#"{ preset = "api", key = "cookie" }"#,
                "routes[0].rate_limit.key",
            ),
            (
                r#"{ preset = "api", scope = "global" }"#,
                "routes[0].rate_limit.scope",
            ),
            (
                r#"{ preset = "api", fail = "maybe" }"#,
                "routes[0].rate_limit.fail",
            ),
            (
                r#"{ preset = "api", tiers = { gold = "api" } }"#,
                "routes[0].rate_limit.tiers.gold",
            ),
            (
                r#"{ preset = "api", deny = { status = 200, body = {} } }"#,
                "routes[0].rate_limit.deny.status",
            ),
            (
                r#"{ preset = "api", deny = { status = 429 } }"#,
                "routes[0].rate_limit.deny.body",
            ),
            (
                r#"{ preset = "api", burst = 3 }"#,
                "routes[0].rate_limit.burst",
            ),
            (
                r#"{ limits = [{ requests = 1, window = 1, name = "a" }, { requests = 2, window = 2, name = "a" }] }"#,
                "routes[0].rate_limit.limits[1].name",
            ),
        ];
        for (value, field) in cases {
            let fields = rule(value, "none").unwrap_err();
            assert!(fields.iter().any(|f| f == field), "{value}: {fields:?}");
        }
    }

    #[test]
    fn global_settings() {
        let p = parse_policy(
            "[rate_limit]\nclient_ip = { x_forwarded_for = 2 }\nipv6_prefix = 56\nietf_headers = false\nsweep_interval = \"30s\"\n[[routes]]\nname = \"r\"\npath = \"/*\"\n",
        )
        .unwrap();
        assert_eq!(
            p.sections.rate_limit.client_ip,
            super::super::ClientIpSource::ForwardedFor(2)
        );
        assert_eq!(p.sections.rate_limit.ipv6_prefix, 56);
        assert!(!p.sections.rate_limit.ietf_headers && p.sections.rate_limit.legacy_headers);
        assert_eq!(p.sections.rate_limit.sweep_interval_secs, 30);
        let err = parse_policy("[rate_limit]\nclient_ip = \"x-forwarded-for\"\nipv6_prefix = 8\n[[routes]]\nname = \"r\"\npath = \"/*\"\n")
            .unwrap_err();
        let fields: Vec<&str> = err.iter().map(|p| p.field.as_str()).collect();
        assert!(
            fields.contains(&"rate_limit.client_ip") && fields.contains(&"rate_limit.ipv6_prefix"),
            "{fields:?}"
        );
    }

    #[test]
    fn approximate_settings_are_read_checked_and_default_to_1s_and_5_writes() {
        use super::super::approximate::ApproximateSettings;
        let settings = |table: &str| {
            parse_policy(&format!(
                "[rate_limit]\napproximate = {table}\n[[routes]]\nname = \"r\"\npath = \"/*\"\n"
            ))
            .map(|p| p.sections.rate_limit.approximate)
            .map_err(|ps| ps.iter().map(|p| p.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(
            settings("{}").unwrap(),
            ApproximateSettings {
                sync_interval_ms: 1_000,
                writes_per_second: 5
            }
        );
        assert_eq!(
            settings("{ sync_interval = \"250ms\", writes_per_second = 50 }").unwrap(),
            ApproximateSettings {
                sync_interval_ms: 250,
                writes_per_second: 50
            }
        );
        assert_eq!(
            settings("{ sync_interval = \"1m\" }")
                .unwrap()
                .sync_interval_ms,
            60_000
        );
        let err = settings("{ sync_interval = \"50ms\", writes_per_second = 51, burst = 3 }")
            .unwrap_err();
        assert_eq!(
            err,
            [
                "rate_limit.approximate.burst: unknown field; expected one of: sync_interval, writes_per_second",
                "rate_limit.approximate.sync_interval: must be between 100ms and 1m",
                "rate_limit.approximate.writes_per_second: must be between 1 and 50",
            ]
        );
        let err = settings("{ sync_interval = 1, writes_per_second = 0 }").unwrap_err();
        assert_eq!(err.len(), 2, "{err:?}");
        assert_eq!(settings("5").unwrap_err().len(), 1);
        assert_eq!(settings("{ sync_interval = \"2h\" }").unwrap_err().len(), 1);
    }
}
