//! The `[jwt]` policy section and a route's `jwt` key.
//!
//! ```
//! use warden_core::policy::parse_policy;
//! use warden_core::layers::jwt::{Algorithm, TokenSource};
//!
//! let policy = parse_policy(r#"
//!     [jwt]
//!     issuer = "http://localhost:3000"
//!     audience = "http://localhost:3000"
//!     jwks_table = true
//!     hmac_secret_variable = "jwt_secret"
//!     token_sources = ["authorization", "cookie:token"]
//!
//!     [[routes]]
//!     name = "token"
//!     path = "/api/token/*"
//!     auth = "jwt"
//!     jwt = { roles_claim = "realm_access.roles" }
//! "#).unwrap();
//! let jwt = &policy.sections.jwt;
//! assert_eq!(jwt.leeway, 60);
//! assert_eq!(jwt.token_sources[1], TokenSource::Cookie("token".into()));
//! let route = jwt.for_route(&policy.routes[0].keys.jwt);
//! assert_eq!(route.roles_claim, "realm_access.roles");
//! assert_eq!(route.audience, ["http://localhost:3000"]);
//! assert!(route.algorithms.contains(&Algorithm::EdDsa));
//! ```
//!
//! Secret values never appear in the policy: `hmac_secret_variable` and
//! `jwks_variable` name the Spin variables that hold them.

use serde_json::Value as Json;
use toml::{Table, Value};

use crate::base::auth_mode::AuthMode;
use crate::base::environment::Environment;
use crate::base::fields::{Problems, is_token, parse_duration};
use crate::base::layer::{Layer, PolicyLayer, RouteContext, RouteView, StoresUsed};
use crate::base::overlay::Section;
use crate::base::problem::ConfigProblem;

use super::algorithms::Algorithm;

/// Default `leeway`, in seconds.
pub const DEFAULT_LEEWAY: u64 = 60;
/// Largest `leeway`: one hour.
pub const MAX_LEEWAY: u64 = 3_600;
/// Default `max_token_bytes`: 8 KiB.
pub const DEFAULT_MAX_TOKEN_BYTES: u64 = 8 * 1024;
/// Largest `max_token_bytes`: 64 KiB.
pub const MAX_TOKEN_BYTES: u64 = 64 * 1024;
/// Default `max_claims_header_bytes`: 4 KiB.
pub const DEFAULT_MAX_CLAIMS_HEADER: u64 = 4 * 1024;
/// Default `jwks_cache_ttl`: 10 minutes.
pub const DEFAULT_JWKS_CACHE_TTL: u64 = 600;
/// The range `jwks_cache_ttl` and a fetched set's `max-age` are clamped to.
pub const JWKS_TTL_RANGE: (u64, u64) = (60, 86_400);
/// Default `jwks_refetch_interval`: at most one refetch a minute for an
/// unknown `kid`, so a flood of random kids is not a flood of fetches.
pub const DEFAULT_JWKS_REFETCH: u64 = 60;
/// Default `roles_claim`: Better Auth's `role`.
pub const DEFAULT_ROLES_CLAIM: &str = "role";
/// Default `realm` of `WWW-Authenticate`.
pub const DEFAULT_REALM: &str = "warden";
/// Refused tokens from one address before it is throttled (as
/// `[api_keys] failure_limit`).
pub const DEFAULT_FAILURE_LIMIT: u32 = 20;
/// The window those failures are counted in, in seconds (as
/// `[api_keys] failure_window`).
pub const DEFAULT_FAILURE_WINDOW: u64 = 300;
/// Longest failure window: one day.
pub const MAX_FAILURE_WINDOW: u64 = 86_400;
/// Most `token_sources`.
const MAX_SOURCES: usize = 8;
/// Variables that hold configuration, never a key.
const NOT_KEY_VARIABLES: [&str; 2] = ["environment", "policy"];

pub(crate) const FIELDS: &[&str] = &[
    "realm",
    "issuer",
    "audience",
    "algorithms",
    "leeway",
    "max_token_bytes",
    "require_exp",
    "typ",
    "claims",
    "roles_claim",
    "token_sources",
    "max_claims_header_bytes",
    "hmac_secret_variable",
    "hmac_algorithm",
    "jwks_variable",
    "jwks_table",
    "jwks_url",
    "jwks_cache_ttl",
    "jwks_refetch_interval",
    "failure_limit",
    "failure_window",
];
pub(crate) const ROUTE_FIELDS: &[&str] = &[
    "issuer",
    "audience",
    "leeway",
    "require_exp",
    "typ",
    "claims",
    "roles_claim",
];

/// Where a request's token is looked for, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1).
    Authorization,
    /// The named cookie.
    Cookie(String),
    /// The named header, its whole value.
    Header(String),
}

impl TokenSource {
    fn parse(s: &str) -> Result<TokenSource, String> {
        if s == "authorization" {
            return Ok(TokenSource::Authorization);
        }
        let shape = "must be \"authorization\", \"cookie:<name>\" or \"header:<name>\"";
        let (kind, name) = s.split_once(':').ok_or(shape)?;
        if !is_token(name) || name.len() > 64 {
            return Err(format!(
                "{shape}; the name must be a token of at most 64 characters"
            ));
        }
        match kind {
            "cookie" => Ok(TokenSource::Cookie(name.into())),
            "header" => Ok(TokenSource::Header(name.to_ascii_lowercase())),
            _ => Err(shape.into()),
        }
    }
}

/// The validated `[jwt]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// The `realm` of `WWW-Authenticate`.
    pub realm: String,
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Accepted `aud` values (a token must name one); empty: not checked.
    pub audience: Vec<String>,
    /// Accepted `alg` values.
    pub algorithms: Vec<Algorithm>,
    /// The algorithm of an RSA key without `alg`: set only when
    /// `algorithms` lists exactly one of RS256 and PS256.
    pub rsa_without_alg: Option<Algorithm>,
    /// Seconds of clock skew on `exp`, `nbf`, `iat`.
    pub leeway: u64,
    /// Longest token, in bytes.
    pub max_token_bytes: usize,
    /// Whether `exp` is required.
    pub require_exp: bool,
    /// Required header `typ`, if any.
    pub typ: Option<String>,
    /// Claims that must be present with exactly these values.
    pub claims: Vec<(String, Json)>,
    /// The dot path of the roles claim.
    pub roles_claim: String,
    /// Where the token is looked for, in order.
    pub token_sources: Vec<TokenSource>,
    /// Largest `x-warden-jwt-claims` value, in bytes.
    pub max_claims_header_bytes: usize,
    /// The variable holding the HMAC secret.
    pub hmac_secret_variable: Option<String>,
    /// The algorithm the HMAC secret is pinned to.
    pub hmac_algorithm: Algorithm,
    /// The variable holding a JWK Set.
    pub jwks_variable: Option<String>,
    /// Whether Better Auth's `jwks` table is read.
    pub jwks_table: bool,
    /// A JWK Set URL, fetched and cached.
    pub jwks_url: Option<String>,
    /// Seconds a fetched set is kept when it says nothing (`max-age`).
    pub jwks_cache_ttl: u64,
    /// Least seconds between refetches for an unknown `kid`.
    pub jwks_refetch_interval: u64,
    /// Refused tokens from one address (counted with refused API keys, one
    /// shared counter) before it gets 429, before any key is loaded or
    /// signature checked; 0: no throttle.
    pub failure_limit: u32,
    /// Seconds the failures are counted over.
    pub failure_window_secs: u64,
}

impl Default for JwtSettings {
    fn default() -> JwtSettings {
        JwtSettings {
            realm: DEFAULT_REALM.into(),
            issuer: None,
            audience: Vec::new(),
            algorithms: Algorithm::ALL
                .into_iter()
                .filter(Algorithm::is_built)
                .collect(),
            rsa_without_alg: None,
            leeway: DEFAULT_LEEWAY,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES as usize,
            require_exp: true,
            typ: None,
            claims: Vec::new(),
            roles_claim: DEFAULT_ROLES_CLAIM.into(),
            token_sources: vec![TokenSource::Authorization],
            max_claims_header_bytes: DEFAULT_MAX_CLAIMS_HEADER as usize,
            hmac_secret_variable: None,
            hmac_algorithm: Algorithm::Hs256,
            jwks_variable: None,
            jwks_table: false,
            jwks_url: None,
            jwks_cache_ttl: DEFAULT_JWKS_CACHE_TTL,
            jwks_refetch_interval: DEFAULT_JWKS_REFETCH,
            failure_limit: DEFAULT_FAILURE_LIMIT,
            failure_window_secs: DEFAULT_FAILURE_WINDOW,
        }
    }
}

impl JwtSettings {
    /// `failure_limit` and `failure_window`, as the shared throttle takes
    /// them.
    pub fn throttle(&self) -> crate::base::failed_attempts::Throttle {
        crate::base::failed_attempts::Throttle {
            limit: self.failure_limit,
            window_secs: self.failure_window_secs,
        }
    }

    /// The settings a route verifies with: the section with its overrides.
    pub fn for_route(&self, route: &RouteJwt) -> std::borrow::Cow<'_, JwtSettings> {
        Section::for_route(self, Some(route))
    }

    /// Whether any key source is configured.
    pub fn has_key_source(&self) -> bool {
        self.hmac_secret_variable.is_some()
            || self.jwks_variable.is_some()
            || self.jwks_table
            || self.jwks_url.is_some()
    }

    /// How keys from `origin` are read under these settings (RSA keys
    /// without `alg` pinned only when `algorithms` says how).
    pub fn load_options(&self, origin: super::jwk::JwksOrigin) -> super::jwk::LoadOptions {
        super::jwk::LoadOptions {
            origin,
            rsa_without_alg: self.rsa_without_alg,
        }
    }

    /// How long to keep a fetched JWK Set: its `Cache-Control: max-age`
    /// when it sent one, else `jwks_cache_ttl`, clamped to a minute..a day.
    pub fn jwks_ttl(&self, max_age: Option<u64>) -> u64 {
        max_age
            .unwrap_or(self.jwks_cache_ttl)
            .clamp(JWKS_TTL_RANGE.0, JWKS_TTL_RANGE.1)
    }
}

/// A route's `jwt` table replaces these keys of the section.
impl Section for JwtSettings {
    type Overlay = RouteJwt;

    fn with(&self, route: &RouteJwt) -> JwtSettings {
        let mut out = self.clone();
        if let Some(v) = &route.issuer {
            out.issuer = Some(v.clone());
        }
        if let Some(v) = &route.audience {
            out.audience = v.clone();
        }
        if let Some(v) = route.leeway {
            out.leeway = v;
        }
        if let Some(v) = route.require_exp {
            out.require_exp = v;
        }
        if let Some(v) = &route.typ {
            out.typ = Some(v.clone());
        }
        if let Some(v) = &route.claims {
            out.claims = v.clone();
        }
        if let Some(v) = &route.roles_claim {
            out.roles_claim = v.clone();
        }
        out
    }
}

/// A route's own `jwt` key: overrides of the `[jwt]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteJwt {
    pub issuer: Option<String>,
    pub audience: Option<Vec<String>>,
    pub leeway: Option<u64>,
    pub require_exp: Option<bool>,
    pub typ: Option<String>,
    pub claims: Option<Vec<(String, Json)>>,
    pub roles_claim: Option<String>,
}

/// A valid bearer JWT is required; its `sub` is the user.
pub const JWT: AuthMode = AuthMode::new("jwt", true, true);

/// The JWT layer as the policy registry sees it: `[jwt]`, a route's `jwt`,
/// and the `jwt` auth mode.
pub struct Jwt;

impl PolicyLayer for Jwt {
    const NAME: &'static str = "jwt";
    const FEATURE: &'static str = "jwt";
    const BUILT: bool = cfg!(feature = "jwt");
    const SECTIONS: &'static [&'static str] = &["jwt"];
    const ROUTE_KEYS: &'static [&'static str] = &["jwt"];
    const AUTH_MODES: &'static [AuthMode] = &[JWT];
    type Config = JwtSettings;
    type RouteKeys = RouteJwt;

    fn parse_config(document: &Table, problems: &mut Problems) -> JwtSettings {
        match document.get("jwt") {
            None => JwtSettings::default(),
            Some(Value::Table(t)) => parse_section(t, problems),
            Some(other) => {
                problems.wrong_type("jwt", "a table ([jwt])", other);
                JwtSettings::default()
            }
        }
    }

    fn parse_route(route: &RouteContext<'_>, problems: &mut Problems) -> Option<RouteJwt> {
        let field = route.field("jwt");
        match route.table.get("jwt") {
            None => Some(RouteJwt::default()),
            Some(Value::Table(t)) => {
                let before = problems.len();
                problems.unknown_fields(t, &format!("{field}."), ROUTE_FIELDS);
                let overlay = read_overlay(t, &field, problems);
                if route.auth.is_some() && !route.accepts(JWT) {
                    problems.add(field, "only for routes with auth = \"jwt\"");
                }
                (problems.len() == before).then_some(overlay)
            }
            Some(other) => {
                problems.wrong_type(field, "a table", other);
                None
            }
        }
    }

    fn stores_used(config: &JwtSettings, routes: &[RouteView<'_, RouteJwt>]) -> StoresUsed {
        let used = routes.iter().any(|r| uses_jwt(r));
        StoresUsed {
            key_value: used && (config.jwks_url.is_some() || config.failure_limit > 0),
            sqlite: used && config.jwks_table,
        }
    }

    /// The `jwks` table (SQLite) and the failed-token counter (increment).
    fn host_needs(
        config: &JwtSettings,
        routes: &[RouteView<'_, RouteJwt>],
        needs: &mut Vec<crate::base::host_profile::HostNeed>,
    ) {
        use crate::base::host_profile::{Capability, HostNeed};
        if !routes.iter().any(|r| uses_jwt(r)) {
            return;
        }
        if config.jwks_table {
            needs.push(HostNeed::new("jwt.jwks_table", Capability::Sqlite));
        }
        if config.failure_limit > 0 {
            needs.push(HostNeed::new(
                "jwt.failure_limit",
                Capability::KeyValueIncrement,
            ));
        }
    }

    fn check_routes(
        config: &JwtSettings,
        routes: &[RouteView<'_, RouteJwt>],
        problems: &mut Vec<ConfigProblem>,
    ) {
        if let Some(route) = routes.iter().find(|r| uses_jwt(r))
            && !config.has_key_source()
        {
            problems.push(ConfigProblem::new(
                format!("routes[{}].auth", route.index),
                "auth = \"jwt\" needs a key source in [jwt]: hmac_secret_variable, jwks_variable, jwks_table or jwks_url",
            ));
        }
    }

    /// Outside development, the JWK Set is fetched over HTTPS only.
    fn check_environment(
        config: &JwtSettings,
        _routes: &[RouteView<'_, RouteJwt>],
        environment: Environment,
        problems: &mut Vec<ConfigProblem>,
    ) {
        if environment != Environment::Development
            && config
                .jwks_url
                .as_deref()
                .is_some_and(|u| !u.starts_with("https://"))
        {
            problems.push(ConfigProblem::new(
                "jwt.jwks_url",
                format!("must be https:// in {}", environment.as_str()),
            ));
        }
    }
}

fn uses_jwt(route: &RouteView<'_, RouteJwt>) -> bool {
    route.accepts(JWT) && !route.skip.contains(&Layer::Auth)
}

/// Reads the `[jwt]` section; problems name `jwt.<field>`.
fn parse_section(table: &Table, problems: &mut Problems) -> JwtSettings {
    problems.unknown_fields(table, "jwt.", FIELDS);
    let overlay = read_overlay(table, "jwt", problems);
    let mut s = JwtSettings::default().with(&overlay);
    let field = |name: &str| format!("jwt.{name}");
    if let Some(v) = table.get("realm")
        && let Some(realm) = text(v, &field("realm"), problems, |r| {
            (!r.is_empty()
                && r.len() <= 64
                && r.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
                && !r.contains(['"', '\\']))
            .then(|| r.to_string())
            .ok_or_else(|| "must be 1 to 64 visible ASCII characters, without \" or \\".into())
        })
    {
        s.realm = realm;
    }
    if let Some(v) = table.get("algorithms")
        && let Some(algs) = problems.strings(&field("algorithms"), v, algorithm)
    {
        if algs.is_empty() {
            problems.add(field("algorithms"), "must list at least one algorithm");
        }
        let rsa: Vec<Algorithm> = algs
            .iter()
            .copied()
            .filter(|a| matches!(a, Algorithm::Rs256 | Algorithm::Ps256))
            .collect();
        s.rsa_without_alg = (rsa.len() == 1).then(|| rsa[0]);
        s.algorithms = algs;
    }
    if let Some(v) = table.get("max_token_bytes")
        && let Some(n) = problems.integer(&field("max_token_bytes"), v, 64, MAX_TOKEN_BYTES as i64)
    {
        s.max_token_bytes = n as usize;
    }
    if let Some(v) = table.get("max_claims_header_bytes")
        && let Some(n) = problems.integer(
            &field("max_claims_header_bytes"),
            v,
            0,
            MAX_TOKEN_BYTES as i64,
        )
    {
        s.max_claims_header_bytes = n as usize;
    }
    if let Some(v) = table.get("token_sources")
        && let Some(sources) = problems.strings(&field("token_sources"), v, TokenSource::parse)
    {
        if sources.is_empty() || sources.len() > MAX_SOURCES {
            problems.add(
                field("token_sources"),
                format!("must list 1 to {MAX_SOURCES} sources"),
            );
        } else if sources
            .iter()
            .enumerate()
            .any(|(i, a)| sources[..i].contains(a))
        {
            problems.add(field("token_sources"), "lists a source twice");
        }
        s.token_sources = sources;
    }
    for (name, slot) in [
        ("hmac_secret_variable", &mut s.hmac_secret_variable),
        ("jwks_variable", &mut s.jwks_variable),
    ] {
        if let Some(v) = table.get(name) {
            *slot = text(v, &field(name), problems, variable_name);
        }
    }
    if let (Some(a), Some(b)) = (&s.hmac_secret_variable, &s.jwks_variable)
        && a == b
    {
        problems.add(
            field("jwks_variable"),
            "must differ from jwt.hmac_secret_variable",
        );
    }
    if let Some(v) = table.get("hmac_algorithm")
        && let Some(alg) = text(v, &field("hmac_algorithm"), problems, |a| {
            algorithm(a).and_then(|a| {
                a.is_hmac()
                    .then_some(a)
                    .ok_or_else(|| "must be HS256, HS384 or HS512".into())
            })
        })
    {
        s.hmac_algorithm = alg;
    }
    if s.hmac_secret_variable.is_some() && !s.algorithms.contains(&s.hmac_algorithm) {
        problems.add(
            field("hmac_algorithm"),
            format!("{} is not in jwt.algorithms", s.hmac_algorithm.name()),
        );
    }
    if let Some(v) = table.get("jwks_table")
        && let Some(b) = boolean(v, &field("jwks_table"), problems)
    {
        s.jwks_table = b;
    }
    if let Some(v) = table.get("jwks_url") {
        s.jwks_url = text(v, &field("jwks_url"), problems, jwks_url);
    }
    for (name, slot, min, max) in [
        (
            "jwks_cache_ttl",
            &mut s.jwks_cache_ttl,
            JWKS_TTL_RANGE.0,
            JWKS_TTL_RANGE.1,
        ),
        (
            "jwks_refetch_interval",
            &mut s.jwks_refetch_interval,
            1,
            JWKS_TTL_RANGE.1,
        ),
    ] {
        if let Some(v) = table.get(name)
            && let Some(n) = seconds(v, &field(name), min, max, problems)
        {
            *slot = n;
        }
    }
    if let Some(v) = table.get("failure_window")
        && let Some(n) = seconds(v, &field("failure_window"), 1, MAX_FAILURE_WINDOW, problems)
    {
        s.failure_window_secs = n;
    }
    if let Some(v) = table.get("failure_limit")
        && let Some(n) = problems.integer(&field("failure_limit"), v, 0, 100_000)
    {
        s.failure_limit = u32::try_from(n).unwrap_or(DEFAULT_FAILURE_LIMIT);
    }
    s
}

/// The keys a section and a route's table share.
fn read_overlay(table: &Table, prefix: &str, problems: &mut Problems) -> RouteJwt {
    let field = |name: &str| format!("{prefix}.{name}");
    let mut out = RouteJwt::default();
    if let Some(v) = table.get("issuer") {
        out.issuer = text(v, &field("issuer"), problems, claim_text);
    }
    if let Some(v) = table.get("audience") {
        out.audience = match v {
            Value::String(_) => text(v, &field("audience"), problems, claim_text).map(|a| vec![a]),
            _ => problems.strings(&field("audience"), v, claim_text),
        };
    }
    if let Some(v) = table.get("leeway") {
        out.leeway = seconds(v, &field("leeway"), 0, MAX_LEEWAY, problems);
    }
    if let Some(v) = table.get("require_exp") {
        out.require_exp = boolean(v, &field("require_exp"), problems);
    }
    if let Some(v) = table.get("typ") {
        out.typ = text(v, &field("typ"), problems, claim_text);
    }
    if let Some(v) = table.get("roles_claim") {
        out.roles_claim = text(v, &field("roles_claim"), problems, roles_path);
    }
    if let Some(v) = table.get("claims") {
        out.claims = exact_claims(v, &field("claims"), problems);
    }
    out
}

fn text<T>(
    value: &Value,
    field: &str,
    problems: &mut Problems,
    check: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    let Value::String(s) = value else {
        problems.wrong_type(field, "a string", value);
        return None;
    };
    check(s).map_err(|m| problems.add(field, m)).ok()
}

fn boolean(value: &Value, field: &str, problems: &mut Problems) -> Option<bool> {
    match value {
        Value::Boolean(b) => Some(*b),
        other => {
            problems.wrong_type(field, "true or false", other);
            None
        }
    }
}

/// Seconds, as an integer or a duration such as `"10m"`.
fn seconds(value: &Value, field: &str, min: u64, max: u64, problems: &mut Problems) -> Option<u64> {
    let n = match value {
        Value::Integer(_) => {
            return problems
                .integer(field, value, min as i64, max as i64)
                .map(|n| n as u64);
        }
        Value::String(s) => parse_duration(s).map_err(|m| problems.add(field, m)).ok()?,
        other => {
            problems.wrong_type(field, "seconds or a duration like \"10m\"", other);
            return None;
        }
    };
    if !(min..=max).contains(&n) {
        problems.add(field, format!("must be between {min} and {max} seconds"));
        return None;
    }
    Some(n)
}

fn algorithm(name: &str) -> Result<Algorithm, String> {
    let known: Vec<&str> = Algorithm::ALL.iter().map(Algorithm::name).collect();
    let alg =
        Algorithm::from_name(name).ok_or_else(|| format!("must be one of {}", known.join(", ")))?;
    if !alg.is_built() {
        return Err(format!(
            "{name} needs RSA, which this warden was built without (cargo feature \"jwt-rsa\")"
        ));
    }
    Ok(alg)
}

/// A claim value compared exactly: 1..=1024 bytes, no control characters.
fn claim_text(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 1024 || s.chars().any(char::is_control) {
        return Err("must be 1 to 1024 characters, without control characters".into());
    }
    Ok(s.into())
}

/// A dot path of member names, at most 8 deep.
fn roles_path(s: &str) -> Result<String, String> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > super::claims::MAX_ROLES_PATH_DEPTH
        || parts.iter().any(|p| {
            p.is_empty()
                || !p
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b':')
        })
    {
        return Err("must be a claim name or a dot path like \"realm_access.roles\" (at most 8 names of letters, digits, _, - and :)".into());
    }
    Ok(s.into())
}

/// A Spin variable name: lower-case letters, digits and `_`, starting with
/// a letter (Spin's own rule), and not one that holds configuration.
fn variable_name(s: &str) -> Result<String, String> {
    let shaped = s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !shaped {
        return Err("must be a Spin variable name: lower-case letters, digits and _, starting with a letter, at most 64".into());
    }
    if NOT_KEY_VARIABLES.contains(&s) {
        return Err(format!("\"{s}\" holds configuration, not a key"));
    }
    Ok(s.into())
}

/// An `https` URL (plain `http` only to a loopback host, for development).
fn jwks_url(s: &str) -> Result<String, String> {
    let loopback = ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|p| {
            s.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        });
    let rest = s.strip_prefix("https://").or(loopback.then_some(""));
    match rest {
        Some(_)
            if s.len() <= 2048
                && s.bytes().all(|b| b.is_ascii_graphic())
                && !s.ends_with("://") =>
        {
            Ok(s.into())
        }
        _ => Err("must be an https:// URL (http:// only to localhost), without spaces".into()),
    }
}

/// `claims = { tenant = "acme", admin = true, level = 3 }`.
fn exact_claims(
    value: &Value,
    field: &str,
    problems: &mut Problems,
) -> Option<Vec<(String, Json)>> {
    let Value::Table(t) = value else {
        problems.wrong_type(field, "a table of claim = value", value);
        return None;
    };
    let mut out = Vec::new();
    for (name, v) in t {
        let json = match v {
            Value::String(s) => claim_text(s).map(Json::String),
            Value::Integer(n) => Ok(Json::from(*n)),
            Value::Boolean(b) => Ok(Json::Bool(*b)),
            _ => Err("must be a string, an integer or a boolean".into()),
        };
        match json {
            Ok(j) => out.push((name.clone(), j)),
            Err(m) => problems.add(format!("{field}.{name}"), m),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use crate::policy::parse_policy;

    fn problems(policy: &str) -> Vec<String> {
        match parse_policy(policy) {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn every_bad_key_is_named() {
        let found = problems(
            r#"
            [jwt]
            realm = "a\"b"
            algorithms = ["HS256", "none"]
            leeway = "1w"
            max_token_bytes = 10
            token_sources = ["query:token"]
            hmac_secret_variable = "Bad-Name"
            jwks_variable = "policy"
            jwks_url = "http://auth.example.com/jwks"
            jwks_cache_ttl = 5
            roles_claim = "a..b"
            claims = { tenant = [1] }
            failure_limit = 1000000
            failure_window = "2d"
            surprise = 1
        "#,
        );
        for field in [
            "jwt.realm",
            "jwt.algorithms[1]",
            "jwt.leeway",
            "jwt.max_token_bytes",
            "jwt.token_sources[0]",
            "jwt.hmac_secret_variable",
            "jwt.jwks_variable",
            "jwt.jwks_url",
            "jwt.jwks_cache_ttl",
            "jwt.roles_claim",
            "jwt.claims.tenant",
            "jwt.failure_limit",
            "jwt.failure_window",
            "jwt.surprise",
        ] {
            assert!(
                found.iter().any(|p| p.contains(field)),
                "{field} not in {found:#?}"
            );
        }
    }

    #[test]
    fn a_jwt_route_needs_a_key_source_and_jwt_keys_need_a_jwt_route() {
        let found = problems(
            r#"
            [[routes]]
            name = "a"
            path = "/a/*"
            auth = "jwt"

            [[routes]]
            name = "b"
            path = "/b/*"
            jwt = { audience = "x" }
        "#,
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("routes[0].auth") && p.contains("key source")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|p| p.contains("routes[1].jwt")),
            "{found:?}"
        );
    }

    #[test]
    fn a_plain_http_jwks_url_is_for_development_only() {
        use super::{Jwt, JwtSettings};
        use crate::base::environment::Environment;
        use crate::base::layer::PolicyLayer;
        let settings = JwtSettings {
            jwks_url: Some("http://localhost:3000/api/auth/jwks".into()),
            ..JwtSettings::default()
        };
        for (environment, refused) in [
            (Environment::Development, false),
            (Environment::Production, true),
        ] {
            let mut problems = Vec::new();
            Jwt::check_environment(&settings, &[], environment, &mut problems);
            assert_eq!(!problems.is_empty(), refused, "{environment:?}");
        }
    }

    #[test]
    fn jwks_ttl_is_clamped() {
        let s = super::JwtSettings::default();
        assert_eq!(s.jwks_ttl(None), 600);
        assert_eq!(s.jwks_ttl(Some(1)), 60);
        assert_eq!(s.jwks_ttl(Some(10_000_000)), 86_400);
    }
}
