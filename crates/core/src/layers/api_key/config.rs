//! The `[api_keys]` section of the policy: where keys come from, which
//! stores hold them, and how long lookups are cached.
//!
//! ```
//! use warden_core::policy::parse_policy;
//!
//! let policy = parse_policy(r#"
//!     [api_keys]
//!     header = "x-api-key"
//!     bearer = false
//!     prefixes = ["wk_", "ba_"]
//!     secondary_storage = true
//!     cache_ttl = "2m"
//!     failure_limit = 10
//!     failure_window = "10m"
//!
//!     [[routes]]
//!     name = "api"
//!     path = "/api/keys/*"
//!     auth = "api_key"
//!     roles = ["files:read"]
//! "#).unwrap();
//! let keys = &policy.sections.api_keys;
//! assert!(!keys.bearer && keys.better_auth && keys.warden_table && keys.secondary_storage);
//! assert_eq!(keys.cache_ttl_secs, 120);
//! assert_eq!((keys.failure_limit, keys.failure_window_secs), (10, 600));
//! assert!(policy.stores_used().sqlite && policy.stores_used().key_value);
//! ```
//!
//! Every field is optional; the defaults read both Better Auth's `apikey`
//! table and warden's `api_keys` table. Problems are reported all at once,
//! each with its field path (`api_keys.cache_ttl`).

use toml::{Table, Value};

use crate::base::auth_mode::AuthMode;
use crate::base::fields::{Problems, is_tchar, parse_duration};
use crate::base::layer::{Layer, PolicyLayer, RouteContext, RouteView, StoresUsed};
use crate::base::problem::ConfigProblem;

/// `auth = "api_key"`: identifies the key's owner, refuses requests without
/// a valid key.
pub const API_KEY: AuthMode = AuthMode::new("api_key", true, true);

/// The key header unless `header` says otherwise (Better Auth's default).
pub const DEFAULT_HEADER: &str = "x-api-key";
/// How long a found key is cached, in seconds: a revoked key keeps working
/// at most this long.
pub const DEFAULT_CACHE_TTL: u64 = 60;
/// How long an unknown hash is remembered, in seconds: short, so that a
/// key created a moment ago works almost at once.
pub const DEFAULT_NEGATIVE_CACHE_TTL: u64 = 10;
/// Failed keys from one address before it is throttled.
pub const DEFAULT_FAILURE_LIMIT: u32 = 20;
/// The window those failures are counted in, in seconds.
pub const DEFAULT_FAILURE_WINDOW: u64 = 300;
/// Longest cache TTL and failure window: one day.
pub const MAX_WINDOW: u64 = 86_400;
/// Shortest `last_used_interval`: one minute (a write per request is what
/// the interval is there to prevent).
pub const MIN_LAST_USED_INTERVAL: u64 = 60;
/// Most `prefixes`, and the longest one.
pub const MAX_PREFIXES: usize = 16;
pub const MAX_PREFIX_LEN: usize = 32;

pub(crate) const FIELDS: &[&str] = &[
    "header",
    "bearer",
    "better_auth",
    "warden_table",
    "secondary_storage",
    "prefixes",
    "cache",
    "cache_ttl",
    "negative_cache_ttl",
    "failure_limit",
    "failure_window",
    "permissions_as_roles",
    "last_used_interval",
];

/// The validated `[api_keys]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyConfig {
    /// The header that carries a key (compared case-insensitively).
    pub header: String,
    /// Also read `Authorization: Bearer <key>`.
    pub bearer: bool,
    /// Look keys up in Better Auth's `apikey` table (SQLite).
    pub better_auth: bool,
    /// Look keys up in warden's `api_keys` table (SQLite).
    pub warden_table: bool,
    /// Look keys up in Better Auth's `secondaryStorage` (`api-key:<hash>` in
    /// the key-value store).
    pub secondary_storage: bool,
    /// Keys must start with one of these (any key when empty); checked
    /// before any lookup.
    pub prefixes: Vec<String>,
    /// Cache lookups (found and unknown) in the key-value store.
    pub cache: bool,
    /// Seconds a found key stays cached.
    pub cache_ttl_secs: u64,
    /// Seconds an unknown hash stays cached; 0: not cached.
    pub negative_cache_ttl_secs: u64,
    /// Failed keys from one address before it gets 429; 0: no throttle.
    pub failure_limit: u32,
    /// Seconds the failures are counted over.
    pub failure_window_secs: u64,
    /// Better Auth `permissions` (`{"files":["read"]}`) become roles
    /// (`files:read`) that a route's `roles` can require.
    pub permissions_as_roles: bool,
    /// Record `last_used_at` in warden's table at most once per this many
    /// seconds per key; `None` (the default): never written.
    pub last_used_interval_secs: Option<u64>,
}

impl Default for ApiKeyConfig {
    fn default() -> ApiKeyConfig {
        ApiKeyConfig {
            header: DEFAULT_HEADER.to_string(),
            bearer: true,
            better_auth: true,
            warden_table: true,
            secondary_storage: false,
            prefixes: Vec::new(),
            cache: true,
            cache_ttl_secs: DEFAULT_CACHE_TTL,
            negative_cache_ttl_secs: DEFAULT_NEGATIVE_CACHE_TTL,
            failure_limit: DEFAULT_FAILURE_LIMIT,
            failure_window_secs: DEFAULT_FAILURE_WINDOW,
            permissions_as_roles: true,
            last_used_interval_secs: None,
        }
    }
}

impl ApiKeyConfig {
    /// Whether a SQLite table is read.
    pub fn uses_sqlite(&self) -> bool {
        self.better_auth || self.warden_table
    }

    /// Whether the key-value store is used (cache, secondary storage,
    /// failure counter).
    pub fn uses_key_value(&self) -> bool {
        self.cache || self.secondary_storage || self.failure_limit > 0
    }
}

/// The API-key layer, as the policy sees it.
pub struct ApiKeys;

impl PolicyLayer for ApiKeys {
    const NAME: &'static str = "api_key";
    const FEATURE: &'static str = "api-key";
    const BUILT: bool = cfg!(feature = "api-key");
    const SECTIONS: &'static [&'static str] = &["api_keys"];
    const ROUTE_KEYS: &'static [&'static str] = &[];
    const AUTH_MODES: &'static [AuthMode] = &[API_KEY];

    type Config = ApiKeyConfig;
    type RouteKeys = ();

    fn parse_config(document: &Table, problems: &mut Problems) -> ApiKeyConfig {
        parse_section(document.get("api_keys"), problems)
    }

    fn parse_route(_route: &RouteContext<'_>, _problems: &mut Problems) -> Option<()> {
        Some(())
    }

    /// SQLite for the tables, key-value for the cache, secondary storage and
    /// the failure counter, when a route authenticates with a key.
    fn stores_used(config: &ApiKeyConfig, routes: &[RouteView<'_, ()>]) -> StoresUsed {
        let used = routes
            .iter()
            .any(|r| r.accepts(API_KEY) && !r.skip.contains(&Layer::Auth));
        StoresUsed {
            key_value: used && config.uses_key_value(),
            sqlite: used && config.uses_sqlite(),
        }
    }

    /// Better Auth's `apikey` and warden's `api_keys` tables (SQLite), and
    /// the failed-key counter (increment).
    fn host_needs(
        config: &ApiKeyConfig,
        routes: &[RouteView<'_, ()>],
        needs: &mut Vec<crate::base::host_profile::HostNeed>,
    ) {
        use crate::base::host_profile::{Capability, HostNeed};
        if !routes
            .iter()
            .any(|r| r.accepts(API_KEY) && !r.skip.contains(&Layer::Auth))
        {
            return;
        }
        if config.better_auth {
            needs.push(HostNeed::new("api_keys.better_auth", Capability::Sqlite));
        }
        if config.warden_table {
            needs.push(HostNeed::new("api_keys.warden_table", Capability::Sqlite));
        }
        if config.failure_limit > 0 {
            needs.push(HostNeed::new(
                "api_keys.failure_limit",
                Capability::KeyValueIncrement,
            ));
        }
    }

    fn check_routes(
        config: &ApiKeyConfig,
        routes: &[RouteView<'_, ()>],
        problems: &mut Vec<ConfigProblem>,
    ) {
        let used = routes.iter().any(|r| r.accepts(API_KEY));
        if used && !config.better_auth && !config.warden_table && !config.secondary_storage {
            problems.push(ConfigProblem::new(
                "api_keys",
                "an api_key route needs a store: better_auth, warden_table or secondary_storage",
            ));
        }
    }
}

/// Reads `[api_keys]`; problems name `api_keys.<field>`.
pub fn parse_section(value: Option<&Value>, problems: &mut Problems) -> ApiKeyConfig {
    let mut config = ApiKeyConfig::default();
    let table = match value {
        None => return config,
        Some(Value::Table(t)) => t,
        Some(other) => {
            problems.wrong_type("api_keys", "a table ([api_keys])", other);
            return config;
        }
    };
    problems.unknown_fields(table, "api_keys.", FIELDS);
    let field = |name: &str| format!("api_keys.{name}");

    if let Some(v) = table.get("header") {
        match v {
            Value::String(name)
                if !name.is_empty() && name.len() <= 64 && name.bytes().all(is_tchar) =>
            {
                if name.eq_ignore_ascii_case("authorization")
                    || crate::http::hop_by_hop::is_identity_header(name)
                {
                    problems.add(
                        field("header"),
                        "must not be authorization (see bearer) or an x-warden- header",
                    );
                } else {
                    config.header = name.to_ascii_lowercase();
                }
            }
            Value::String(_) => problems.add(
                field("header"),
                "must be a header name of 1 to 64 token characters",
            ),
            other => problems.wrong_type(field("header"), "a string", other),
        }
    }
    for (name, slot) in [
        ("bearer", &mut config.bearer),
        ("better_auth", &mut config.better_auth),
        ("warden_table", &mut config.warden_table),
        ("secondary_storage", &mut config.secondary_storage),
        ("cache", &mut config.cache),
        ("permissions_as_roles", &mut config.permissions_as_roles),
    ] {
        match table.get(name) {
            None => {}
            Some(Value::Boolean(b)) => *slot = *b,
            Some(other) => problems.wrong_type(field(name), "true or false", other),
        }
    }
    if let Some(v) = table.get("prefixes")
        && let Some(prefixes) = problems.strings(&field("prefixes"), v, check_prefix)
    {
        if prefixes.len() > MAX_PREFIXES {
            problems.add(
                field("prefixes"),
                format!("at most {MAX_PREFIXES} prefixes"),
            );
        } else {
            config.prefixes = prefixes;
        }
    }
    if let Some(v) = table.get("cache_ttl")
        && let Some(n) = seconds(v, &field("cache_ttl"), 1, MAX_WINDOW, problems)
    {
        config.cache_ttl_secs = n;
    }
    if let Some(v) = table.get("negative_cache_ttl")
        && let Some(n) = seconds(v, &field("negative_cache_ttl"), 0, MAX_WINDOW, problems)
    {
        config.negative_cache_ttl_secs = n;
    }
    if let Some(v) = table.get("failure_window")
        && let Some(n) = seconds(v, &field("failure_window"), 1, MAX_WINDOW, problems)
    {
        config.failure_window_secs = n;
    }
    if let Some(v) = table.get("failure_limit")
        && let Some(n) = problems.integer(&field("failure_limit"), v, 0, 100_000)
    {
        config.failure_limit = u32::try_from(n).unwrap_or(DEFAULT_FAILURE_LIMIT);
    }
    match table.get("last_used_interval") {
        None => {}
        Some(Value::String(s)) if s == "off" => config.last_used_interval_secs = None,
        Some(v) => {
            if let Some(n) = seconds(
                v,
                &field("last_used_interval"),
                MIN_LAST_USED_INTERVAL,
                MAX_WINDOW * 30,
                problems,
            ) {
                config.last_used_interval_secs = Some(n);
            }
        }
    }
    if !config.cache
        && let Some(name) = ["cache_ttl", "negative_cache_ttl"]
            .into_iter()
            .find(|n| table.contains_key(*n))
    {
        problems.add(field(name), "has no effect with cache = false");
    }
    config
}

/// A key prefix: 1 to 32 visible ASCII characters.
fn check_prefix(prefix: &str) -> Result<String, String> {
    if prefix.is_empty()
        || prefix.len() > MAX_PREFIX_LEN
        || !prefix.bytes().all(|b| b.is_ascii_graphic())
    {
        Err(format!(
            "must be 1 to {MAX_PREFIX_LEN} visible ASCII characters"
        ))
    } else {
        Ok(prefix.to_string())
    }
}

/// Whole seconds or a duration (`"10s"`, `"5m"`) within `min..=max`.
fn seconds(value: &Value, field: &str, min: u64, max: u64, problems: &mut Problems) -> Option<u64> {
    let n = match value {
        Value::Integer(n) if *n >= 0 => n.unsigned_abs(),
        Value::String(s) => match parse_duration(s) {
            Ok(n) => n,
            Err(message) => {
                problems.add(field, message);
                return None;
            }
        },
        Value::Integer(_) => u64::MAX,
        other => {
            problems.wrong_type(field, "whole seconds or a duration like \"10s\"", other);
            return None;
        }
    };
    if (min..=max).contains(&n) {
        Some(n)
    } else {
        problems.add(field, format!("must be between {min} and {max} seconds"));
        None
    }
}
