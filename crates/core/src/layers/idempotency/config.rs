//! `[idempotency]` and a route's `idempotency` table: the same keys, the
//! route's merged over the section's key by key ([`crate::base::overlay`]).
//! The section only sets defaults; the layer is on for the routes that have
//! an `idempotency` table, and only for their unsafe methods.

use toml::Value;

use crate::base::auth_mode::AuthMode;
use crate::base::fields::{self, Problems, add, parse_duration, quoted, wrong_type};
use crate::base::layer::{PolicyLayer, RouteContext, RouteView, StoresUsed};
use crate::base::overlay::{Section, TableSection};
use crate::base::problem::ConfigProblem;

/// The keys of `[idempotency]` and of a route's `idempotency` table.
pub const FIELDS: &[&str] = &[
    "required",
    "header",
    "aliases",
    "methods",
    "ttl",
    "claim_ttl",
    "max_response_bytes",
    "scope",
];

/// The header the draft defines.
pub const DEFAULT_HEADER: &str = "idempotency-key";
/// The seed's spelling, accepted as an alias by default.
pub const DEFAULT_ALIAS: &str = "x-idempotency-key";
/// Keys are remembered for at least this long (the seed's 24 h).
pub const DEFAULT_TTL: u64 = 86_400;
/// How long a claim holds the key before another request may take it over.
pub const DEFAULT_CLAIM_TTL: u64 = 60;
/// Responses up to this many body bytes are stored for replay.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 65_536;
/// The largest `max_response_bytes` (1 MiB): a record is one store value.
pub const MAX_RESPONSE_BYTES: u64 = 1_048_576;
/// The bounds of `ttl`: a minute to 30 days.
pub const TTL_RANGE: (u64, u64) = (60, 30 * 86_400);
/// The bounds of `claim_ttl`: a second to an hour.
pub const CLAIM_TTL_RANGE: (u64, u64) = (1, 3_600);
/// At most this many aliases.
pub const MAX_ALIASES: usize = 4;
/// Methods that are safe (RFC 9110 §9.2.1): a key on them means nothing.
pub const SAFE_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS", "TRACE"];

/// Whose key it is: part of every store key, so that one caller can never
/// read or block another's operation (the draft's "composite key").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// The authenticated user when there is one, else the client address.
    #[default]
    Auto,
    /// The authenticated user; only on routes that authenticate.
    User,
    /// The client address (as the rate limiter resolves it).
    Address,
    /// Every caller shares the key space of the route.
    None,
}

impl Scope {
    /// The policy's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Auto => "auto",
            Scope::User => "user",
            Scope::Address => "address",
            Scope::None => "none",
        }
    }
}

/// The settings of idempotency keys on one route (or the section's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyConfig {
    /// A request without a key is refused (400); otherwise it passes untouched.
    pub required: bool,
    /// The header, lowercase.
    pub header: String,
    /// Other headers read as the same key, lowercase.
    pub aliases: Vec<String>,
    /// The methods the layer applies to, uppercase.
    pub methods: Vec<String>,
    /// Seconds a completed key is remembered (at least; at most twice).
    pub ttl: u64,
    /// Seconds a claim holds the key while the app runs.
    pub claim_ttl: u64,
    /// Largest response body stored for replay.
    pub max_response_bytes: u64,
    /// Whose key it is.
    pub scope: Scope,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        IdempotencyConfig {
            required: false,
            header: DEFAULT_HEADER.to_string(),
            aliases: vec![DEFAULT_ALIAS.to_string()],
            methods: vec!["POST".to_string(), "PATCH".to_string()],
            ttl: DEFAULT_TTL,
            claim_ttl: DEFAULT_CLAIM_TTL,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            scope: Scope::Auto,
        }
    }
}

impl IdempotencyConfig {
    /// Whether the layer applies to a request with `method` (uppercase).
    pub fn applies_to(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m == method)
    }

    /// The header names read for the key: the header, then the aliases.
    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.header.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// A table's keys, each only when set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdempotencyOverlay {
    pub required: Option<bool>,
    pub header: Option<String>,
    pub aliases: Option<Vec<String>>,
    pub methods: Option<Vec<String>>,
    pub ttl: Option<u64>,
    pub claim_ttl: Option<u64>,
    pub max_response_bytes: Option<u64>,
    pub scope: Option<Scope>,
}

impl Section for IdempotencyConfig {
    type Overlay = IdempotencyOverlay;

    fn with(&self, o: &IdempotencyOverlay) -> Self {
        IdempotencyConfig {
            required: o.required.unwrap_or(self.required),
            header: o.header.clone().unwrap_or_else(|| self.header.clone()),
            aliases: o.aliases.clone().unwrap_or_else(|| self.aliases.clone()),
            methods: o.methods.clone().unwrap_or_else(|| self.methods.clone()),
            ttl: o.ttl.unwrap_or(self.ttl),
            claim_ttl: o.claim_ttl.unwrap_or(self.claim_ttl),
            max_response_bytes: o.max_response_bytes.unwrap_or(self.max_response_bytes),
            scope: o.scope.unwrap_or(self.scope),
        }
    }
}

fn duration(
    problems: &mut Vec<ConfigProblem>,
    field: &str,
    value: &Value,
    range: (u64, u64),
) -> Option<u64> {
    let Some(text) = value.as_str() else {
        wrong_type(problems, field, "a duration such as \"24h\"", value);
        return None;
    };
    match parse_duration(text) {
        Ok(s) if (range.0..=range.1).contains(&s) => Some(s),
        Ok(_) => {
            add(
                problems,
                field,
                format!("must be between {}s and {}s", range.0, range.1),
            );
            None
        }
        Err(message) => {
            add(problems, field, message);
            None
        }
    }
}

fn header_name(name: &str) -> Result<String, String> {
    if !fields::is_token(name) || name.len() > 64 {
        return Err(format!(
            "{} is not a header name (1-64 token characters)",
            quoted(name)
        ));
    }
    Ok(name.to_ascii_lowercase())
}

impl TableSection for IdempotencyConfig {
    fn read_overlay(
        value: &Value,
        field: &str,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<IdempotencyOverlay> {
        let Value::Table(table) = value else {
            wrong_type(problems, field, "a table", value);
            return None;
        };
        let prefix = format!("{field}.");
        fields::unknown_fields(problems, table, &prefix, FIELDS);
        let f = |key: &str| format!("{field}.{key}");
        let mut o = IdempotencyOverlay::default();
        if let Some(v) = table.get("required") {
            o.required = fields::boolean(problems, &f("required"), v);
        }
        if let Some(v) = table.get("header") {
            match v.as_str() {
                Some(name) => match header_name(name) {
                    Ok(name) => o.header = Some(name),
                    Err(message) => add(problems, f("header"), message),
                },
                None => wrong_type(problems, f("header"), "a string", v),
            }
        }
        if let Some(v) = table.get("aliases") {
            o.aliases = fields::strings(problems, &f("aliases"), v, header_name);
            if let Some(aliases) = &o.aliases {
                if aliases.len() > MAX_ALIASES {
                    add(
                        problems,
                        f("aliases"),
                        format!("at most {MAX_ALIASES} aliases"),
                    );
                }
                for (i, alias) in aliases.iter().enumerate() {
                    if aliases[..i].contains(alias) {
                        add(
                            problems,
                            format!("{}[{i}]", f("aliases")),
                            format!("{} is listed twice", quoted(alias)),
                        );
                    }
                }
            }
        }
        if let Some(v) = table.get("methods") {
            o.methods = fields::strings(problems, &f("methods"), v, |m| {
                if !fields::is_token(m) || m.len() > 32 || m != m.to_ascii_uppercase() {
                    Err(format!("{} is not an uppercase method name", quoted(m)))
                } else if SAFE_METHODS.contains(&m) {
                    Err(format!(
                        "{m} is safe (RFC 9110 §9.2.1); idempotency keys are for unsafe methods such as POST and PATCH"
                    ))
                } else {
                    Ok(m.to_string())
                }
            });
            if o.methods.as_ref().is_some_and(Vec::is_empty) {
                add(problems, f("methods"), "must list at least one method");
                o.methods = None;
            }
        }
        if let Some(v) = table.get("ttl") {
            o.ttl = duration(problems, &f("ttl"), v, TTL_RANGE);
        }
        if let Some(v) = table.get("claim_ttl") {
            o.claim_ttl = duration(problems, &f("claim_ttl"), v, CLAIM_TTL_RANGE);
        }
        if let Some(v) = table.get("max_response_bytes") {
            o.max_response_bytes = fields::integer(
                problems,
                &f("max_response_bytes"),
                v,
                0,
                MAX_RESPONSE_BYTES as i64,
            )
            .map(|n| n as u64);
        }
        if let Some(v) = table.get("scope") {
            let mut p = Problems(std::mem::take(problems));
            let choice = p.choice(&f("scope"), v, &["auto", "user", "address", "none"]);
            *problems = p.0;
            o.scope = choice.map(|c| match c {
                "user" => Scope::User,
                "address" => Scope::Address,
                "none" => Scope::None,
                _ => Scope::Auto,
            });
        }
        Some(o)
    }

    fn check_merged(&self, field: &str, problems: &mut Vec<ConfigProblem>) {
        if self.claim_ttl >= self.ttl {
            add(
                problems,
                format!("{field}.claim_ttl"),
                format!("must be shorter than ttl ({}s)", self.ttl),
            );
        }
        if self.aliases.contains(&self.header) {
            add(
                problems,
                format!("{field}.aliases"),
                format!("repeats the header {}", quoted(&self.header)),
            );
        }
    }
}

/// The idempotency layer as the policy sees it.
pub struct Idempotency;

impl PolicyLayer for Idempotency {
    const NAME: &'static str = "idempotency";
    const FEATURE: &'static str = "idempotency";
    const BUILT: bool = cfg!(feature = "idempotency");
    const SECTIONS: &'static [&'static str] = &["idempotency"];
    const ROUTE_KEYS: &'static [&'static str] = &["idempotency"];
    type Config = IdempotencyConfig;
    type RouteKeys = Option<IdempotencyOverlay>;

    fn parse_config(document: &toml::Table, problems: &mut Problems) -> IdempotencyConfig {
        IdempotencyConfig::parse_section(
            document.get("idempotency"),
            "idempotency",
            &mut problems.0,
        )
    }

    fn parse_route(route: &RouteContext<'_>, problems: &mut Problems) -> Option<Self::RouteKeys> {
        let Some(value) = route.table.get("idempotency") else {
            return Some(None);
        };
        let before = problems.len();
        let overlay =
            IdempotencyConfig::parse_overlay(value, &route.field("idempotency"), &mut problems.0);
        (problems.len() == before).then_some(overlay)
    }

    fn check_routes(
        config: &IdempotencyConfig,
        routes: &[RouteView<'_, Self::RouteKeys>],
        problems: &mut Vec<ConfigProblem>,
    ) {
        for route in routes {
            let Some(overlay) = route.keys else { continue };
            let field = format!("routes[{}].idempotency", route.index);
            let merged = config.with(overlay);
            merged.check_merged(&field, problems);
            if merged.scope == Scope::User && route.auth == AuthMode::NONE && route.also.is_empty()
            {
                add(
                    problems,
                    format!("{field}.scope"),
                    "\"user\" needs a route that authenticates; use \"auto\", \"address\" or \"none\"",
                );
            }
        }
    }

    /// Each keyed route claims its slot with compare-and-swap (and its
    /// sweep claims with increment, which every flavour with
    /// compare-and-swap has).
    fn host_needs(
        _config: &IdempotencyConfig,
        routes: &[RouteView<'_, Self::RouteKeys>],
        needs: &mut Vec<crate::base::host_profile::HostNeed>,
    ) {
        use crate::base::host_profile::{Capability, HostNeed};
        for route in routes.iter().filter(|r| r.keys.is_some()) {
            needs.push(HostNeed::new(
                format!("routes[{}].idempotency", route.index),
                Capability::KeyValueCompareAndSwap,
            ));
        }
    }

    fn stores_used(
        _config: &IdempotencyConfig,
        routes: &[RouteView<'_, Self::RouteKeys>],
    ) -> StoresUsed {
        StoresUsed {
            key_value: routes.iter().any(|r| r.keys.is_some()),
            sqlite: false,
        }
    }
}

/// The settings for a route: the section with the route's table merged in;
/// `None` when the route has no `idempotency` table.
pub fn for_route(
    config: &IdempotencyConfig,
    keys: &Option<IdempotencyOverlay>,
) -> Option<IdempotencyConfig> {
    keys.as_ref().map(|o| config.with(o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_policy;

    fn problems(policy: &str) -> Vec<String> {
        match parse_policy(policy) {
            Ok(_) => vec![],
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn the_claim_must_outlast_the_routes_timeout() {
        let route =
            |extra: &str| format!("[[routes]]\nname = \"orders\"\npath = \"/o\"\n{extra}\n");
        // The defaults (claim 60 s, timeout 30 s) fit.
        assert_eq!(problems(&route("idempotency = {}")), Vec::<String>::new());
        let p = problems(&route(
            "idempotency = { claim_ttl = \"10s\" }\ntimeout = \"10s\"",
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("routes[0].timeout: 10000 ms is not below"),
            "{p:?}"
        );
        let p = problems(&route("idempotency = {}\ntimeout = \"off\""));
        assert!(
            p[0].starts_with("routes[0].timeout: must be bounded"),
            "{p:?}"
        );
        let p = problems(&format!(
            "[settings]\ntimeout = \"2m\"\n{}",
            route("idempotency = {}")
        ));
        assert!(p[0].starts_with("settings.timeout: 120000 ms"), "{p:?}");
        // Without idempotency any timeout is fine.
        assert_eq!(problems(&route("timeout = \"off\"")), Vec::<String>::new());
    }

    #[test]
    fn a_route_table_over_the_section() {
        let policy = parse_policy(
            r#"
            [idempotency]
            ttl = "12h"
            [[routes]]
            name = "orders"
            path = "/api/orders"
            idempotency = { required = true, header = "Idempotency-Key", aliases = ["X-Idempotency-Key"], claim_ttl = "45s", scope = "address", max_response_bytes = 1024 }
            [[routes]]
            name = "rest"
            path = "/*"
            "#,
        )
        .unwrap();
        let config = &policy.sections.idempotency;
        let orders = for_route(config, &policy.routes[0].keys.idempotency).unwrap();
        assert!(orders.required);
        assert_eq!(orders.header, "idempotency-key");
        assert_eq!(orders.aliases, ["x-idempotency-key"]);
        assert_eq!((orders.ttl, orders.claim_ttl), (43_200, 45));
        assert_eq!(orders.scope, Scope::Address);
        assert_eq!(orders.max_response_bytes, 1024);
        assert!(
            orders.applies_to("POST") && orders.applies_to("PATCH") && !orders.applies_to("PUT")
        );
        assert_eq!(for_route(config, &policy.routes[1].keys.idempotency), None);
        assert!(policy.stores_used().key_value);
    }

    #[test]
    fn every_problem_named_by_field() {
        let found = problems(
            r#"
            [idempotency]
            ttl = "10s"
            [[routes]]
            name = "a"
            path = "/a"
            idempotency = { required = "yes", header = "bad header", aliases = ["x-k", "x-k"], methods = ["GET", "post"], claim_ttl = "2h", max_response_bytes = 2000000, scope = "team", other = 1 }
            [[routes]]
            name = "b"
            path = "/b"
            idempotency = { scope = "user", ttl = "1h", claim_ttl = "1h" }
            [[routes]]
            name = "c"
            path = "/c"
            idempotency = { aliases = ["Idempotency-Key"] }
            [[routes]]
            name = "d"
            path = "/d"
            idempotency = true
            [[routes]]
            name = "e"
            path = "/e"
            idempotency = { methods = [], aliases = [3] }
            "#,
        );
        let expected = [
            "idempotency.ttl: must be between 60s and 2592000s",
            "routes[0].idempotency.other: unknown field",
            "routes[0].idempotency.required: must be true or false, found a string",
            "routes[0].idempotency.header: \"bad header\" is not a header name",
            "routes[0].idempotency.aliases[1]: \"x-k\" is listed twice",
            "routes[0].idempotency.methods[0]: GET is safe",
            "routes[0].idempotency.methods[1]: \"post\" is not an uppercase method name",
            "routes[0].idempotency.claim_ttl: must be between 1s and 3600s",
            "routes[0].idempotency.max_response_bytes: must be between 0 and 1048576",
            "routes[0].idempotency.scope: must be \"auto\" or \"user\" or \"address\" or \"none\"",
            "routes[3].idempotency: must be a table, found a boolean",
            "routes[4].idempotency.aliases[0]: must be a string, found an integer",
            "routes[4].idempotency.methods: must list at least one method",
            "routes[1].idempotency.claim_ttl: must be shorter than ttl (3600s)",
            "routes[1].idempotency.scope: \"user\" needs a route that authenticates",
            "routes[2].idempotency.aliases: repeats the header \"idempotency-key\"",
        ];
        for e in expected {
            assert!(
                found.iter().any(|f| f.starts_with(e)),
                "missing {e:?} in {found:#?}"
            );
        }
        assert_eq!(found.len(), expected.len(), "{found:#?}");
    }

    #[test]
    fn user_scope_on_an_authenticated_route() {
        assert!(
            problems(
                r#"
            [session]
            [[routes]]
            name = "a"
            path = "/a"
            auth = "required"
            idempotency = { scope = "user" }
            "#
            )
            .is_empty()
        );
    }
}
