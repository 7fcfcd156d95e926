//! The `[session]` section of the policy: where session tokens come from and
//! where sessions are looked up.
//!
//! ```
//! use warden_core::policy::parse_policy;
//! use warden_core::layers::session::config::SessionSource;
//!
//! let policy = parse_policy(r#"
//!     [session]
//!     cookie_names = ["__Secure-better-auth.session_token", "better-auth.session_token"]
//!     bearer = true
//!     user_table = "users"
//!     [session.session_fields]
//!     userId = "user_id"
//!     [session.user_fields]
//!     role = false          # no admin plugin: the table has no role column
//!
//!     [[routes]]
//!     name = "app"
//!     path = "/*"
//!     auth = "optional"
//! "#).unwrap();
//! assert_eq!(policy.sections.session.source, SessionSource::Sqlite);
//! assert!(policy.sections.session.bearer);
//! assert_eq!(policy.sections.session.schema.user_table, "users");
//! assert_eq!(policy.sections.session.schema.session.user_id, "user_id");
//! assert_eq!(policy.sections.session.schema.user.role, None);
//! ```
//!
//! Every field is optional; the defaults read Better Auth 1.7's own tables
//! and cookies. Problems are reported all at once, each with its field path
//! (`session.user_fields.emailVerified`).

use toml::{Table, Value};

use crate::base::auth_mode::AuthMode;
use crate::base::fields::{Problems, parse_duration};
use crate::base::layer::{Layer, PolicyLayer, RouteContext, RouteView, StoresUsed};
use crate::http::path::{MatchPath, normalize_path};

/// Cookies read by default, in order: the seed's `codex-session`, then
/// Better Auth's cookie under https (`__Secure-` prefix) and under http.
pub const DEFAULT_COOKIE_NAMES: [&str; 3] = [
    "codex-session",
    "__Secure-better-auth.session_token",
    "better-auth.session_token",
];

/// The revocation endpoint's path unless `revoke_path` says otherwise.
pub const DEFAULT_REVOKE_PATH: &str = "/.warden/sessions/revoke";

/// Most cookie names a policy may list.
pub const MAX_COOKIE_NAMES: usize = 8;

/// Longest `secondary_storage_prefix`.
pub const MAX_KEY_PREFIX_LEN: usize = 128;

pub(crate) const FIELDS: &[&str] = &[
    "source",
    "cookie_names",
    "bearer",
    "bearer_require_signature",
    "allow_unprefixed_on_https",
    "cache",
    "cache_max_age",
    "log_failures",
    "cookie_cache",
    "revoke",
    "revoke_path",
    "secondary_storage_prefix",
    "session_table",
    "user_table",
    "session_fields",
    "user_fields",
];

/// Fields that mean nothing when sessions come from the cookie cache alone:
/// they name session-token cookies and bearer tokens (looked up in a store)
/// or the store's lookup and revocation.
const LOOKUP_ONLY: &[&str] = &[
    "cookie_names",
    "bearer",
    "bearer_require_signature",
    "revoke",
    "revoke_path",
];

/// Fields that only mean something when sessions come from SQLite.
const SQLITE_ONLY: &[&str] = &[
    "cache",
    "cache_max_age",
    "session_table",
    "user_table",
    "session_fields",
    "user_fields",
];

/// Where sessions are looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionSource {
    /// Better Auth's `session` and `user` tables in the SQLite database
    /// `default`, with a key-value cache in front.
    #[default]
    Sqlite,
    /// `{session, user}` JSON stored in the key-value store under the raw
    /// token, as Better Auth's `secondaryStorage` writes it (hosts without
    /// SQLite).
    SecondaryStorage,
    /// Better Auth's JWT session cookie cache alone (`source =
    /// "jwt-cookie"`): verified with `[jwt]`'s keys and issuer, no
    /// database or key-value read for sessions; a missing or refused cache
    /// is no session. Implies `jwt_cookie_cache`.
    JwtCookie,
}

impl SessionSource {
    /// The name used in the policy document.
    pub fn as_str(&self) -> &'static str {
        match self {
            SessionSource::Sqlite => "sqlite",
            SessionSource::SecondaryStorage => "secondary-storage",
            SessionSource::JwtCookie => "jwt-cookie",
        }
    }
}

/// The validated `[session]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Where sessions are looked up.
    pub source: SessionSource,
    /// Cookies that may carry the session token: `__Host-` names first,
    /// then `__Secure-` names, then the rest, each group in this order; a
    /// cookie that fails is passed over for the next.
    pub cookie_names: Vec<String>,
    /// In `environment = "production"`, read unprefixed cookie names on
    /// https requests too (default `false`: only `__Host-`/`__Secure-`
    /// names, which no http page or sibling subdomain can plant).
    pub allow_unprefixed_on_https: bool,
    /// Also read `Authorization: Bearer <token>` (it wins over cookies).
    pub bearer: bool,
    /// Refuse bearer tokens that are not signed (Better Auth's bearer plugin
    /// option `requireSignature`); needs `session_secret`.
    pub bearer_require_signature: bool,
    /// Cache SQLite lookups in the key-value store.
    pub cache: bool,
    /// Upper bound on how long a cache entry lives, in seconds; `None`: until
    /// the session expires.
    pub cache_max_age_secs: Option<u64>,
    /// `cookie_cache = "jwt"`: read Better Auth's JWT session cookie cache
    /// (`better-auth.session_data`) before the lookup (`source =
    /// "jwt-cookie"`: instead of any lookup), verified with
    /// `[jwt]`'s keys and issuer by the component (this layer does not
    /// import the jwt layer). A revoked session stays valid until the
    /// cookie cache expires (Better Auth's `cookieCache.maxAge`).
    pub jwt_cookie_cache: bool,
    /// Log every authentication failure (seed `enableLogging`, default off).
    /// Store failures are logged either way.
    pub log_failures: bool,
    /// The normalized path of the revocation endpoint; `None` when
    /// revocation is off.
    pub revoke_path: Option<MatchPath>,
    /// Prepended to the token to form the key-value key (secondary storage).
    pub secondary_storage_prefix: String,
    /// Table and column names (SQLite source).
    pub schema: Schema,
}

impl Default for SessionConfig {
    fn default() -> SessionConfig {
        SessionConfig {
            source: SessionSource::Sqlite,
            cookie_names: DEFAULT_COOKIE_NAMES.iter().map(|s| s.to_string()).collect(),
            allow_unprefixed_on_https: false,
            bearer: false,
            bearer_require_signature: false,
            cache: true,
            cache_max_age_secs: None,
            log_failures: false,
            jwt_cookie_cache: false,
            revoke_path: None,
            secondary_storage_prefix: String::new(),
            schema: Schema::default(),
        }
    }
}

/// Table and column names of the session lookup. Each is a plain SQL
/// identifier (`[A-Za-z_][A-Za-z0-9_]{0,63}`), always double-quoted in the
/// query. An optional column set to `false` in the policy is `None`: the
/// table has no such column and it reads as NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub session_table: String,
    pub user_table: String,
    pub session: SessionColumns,
    pub user: UserColumns,
}

/// Columns of the session table (Better Auth field names in the policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionColumns {
    pub id: String,
    pub token: String,
    pub user_id: String,
    pub expires_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// Columns of the user table (Better Auth field names in the policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserColumns {
    pub id: String,
    pub email: String,
    pub name: String,
    pub email_verified: String,
    pub image: Option<String>,
    pub role: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub banned: Option<String>,
    pub ban_expires: Option<String>,
}

impl Default for Schema {
    fn default() -> Schema {
        let s = |v: &str| v.to_string();
        Schema {
            session_table: s("session"),
            user_table: s("user"),
            session: SessionColumns {
                id: s("id"),
                token: s("token"),
                user_id: s("userId"),
                expires_at: s("expiresAt"),
                created_at: s("createdAt"),
                updated_at: s("updatedAt"),
                ip_address: Some(s("ipAddress")),
                user_agent: Some(s("userAgent")),
            },
            user: UserColumns {
                id: s("id"),
                email: s("email"),
                name: s("name"),
                email_verified: s("emailVerified"),
                image: Some(s("image")),
                role: Some(s("role")),
                created_at: s("createdAt"),
                updated_at: s("updatedAt"),
                banned: Some(s("banned")),
                ban_expires: Some(s("banExpires")),
            },
        }
    }
}

/// Identify the user when a session is present; let others through.
pub const OPTIONAL: AuthMode = AuthMode::new("optional", true, false);
/// A valid session is required (401 otherwise).
pub const REQUIRED: AuthMode = AuthMode::new("required", true, true);

/// The session layer as the policy registry sees it: `[session]`, and the
/// `optional` and `required` auth modes.
pub struct Sessions;

impl PolicyLayer for Sessions {
    const NAME: &'static str = "session";
    const FEATURE: &'static str = "session";
    const BUILT: bool = cfg!(feature = "session");
    const SECTIONS: &'static [&'static str] = &["session"];
    const ROUTE_KEYS: &'static [&'static str] = &[];
    const AUTH_MODES: &'static [AuthMode] = &[OPTIONAL, REQUIRED];
    type Config = SessionConfig;
    type RouteKeys = ();

    fn parse_config(document: &Table, problems: &mut Problems) -> SessionConfig {
        match document.get("session") {
            None => SessionConfig::default(),
            Some(Value::Table(t)) => parse_section(t, problems),
            Some(other) => {
                problems.wrong_type("session", "a table ([session])", other);
                SessionConfig::default()
            }
        }
    }

    fn parse_route(_route: &RouteContext<'_>, _problems: &mut Problems) -> Option<()> {
        Some(())
    }

    /// Sessions read SQLite or key-value as `source` says, the cache and
    /// revocation key-value; `source = "jwt-cookie"` reads neither (the
    /// keys that verify the cookie cache are `[jwt]`'s: `Policy::stores_used`
    /// adds its `jwks_table`).
    /// `source = "sqlite"` reads Better Auth's tables; its cache lists each
    /// entry in the user's index with compare-and-swap, and revoking a
    /// user's sessions empties that index with compare-and-swap.
    fn host_needs(
        config: &SessionConfig,
        routes: &[RouteView<'_, ()>],
        needs: &mut Vec<crate::base::host_profile::HostNeed>,
    ) {
        use crate::base::host_profile::{Capability, HostNeed};
        let from_sqlite = uses_sessions(routes) && config.source == SessionSource::Sqlite;
        if from_sqlite {
            needs.push(HostNeed::new("session.source", Capability::Sqlite));
            if config.cache {
                needs.push(HostNeed::new(
                    "session.cache",
                    Capability::KeyValueCompareAndSwap,
                ));
            }
        }
        if config.revoke_path.is_some() {
            needs.push(HostNeed::new(
                "session.revoke_path",
                Capability::KeyValueCompareAndSwap,
            ));
        }
    }

    fn stores_used(config: &SessionConfig, routes: &[RouteView<'_, ()>]) -> StoresUsed {
        let sessions = uses_sessions(routes) && config.source != SessionSource::JwtCookie;
        let from_sqlite = config.source == SessionSource::Sqlite;
        StoresUsed {
            key_value: (sessions && (!from_sqlite || config.cache)) || config.revoke_path.is_some(),
            sqlite: sessions && from_sqlite,
        }
    }
}

/// Whether any route authenticates sessions (`optional` or `required`, as
/// `auth` or in `also`, and not skipping the auth layer).
pub fn uses_sessions<K>(routes: &[RouteView<'_, K>]) -> bool {
    routes.iter().any(|r| {
        !r.skip.contains(&Layer::Auth) && Sessions::AUTH_MODES.iter().any(|m| r.accepts(*m))
    })
}

/// Parses the `[session]` table, adding every problem to `problems`; fields
/// with problems keep their defaults.
pub(crate) fn parse_section(table: &Table, problems: &mut Problems) -> SessionConfig {
    let mut config = SessionConfig::default();
    let field = |name: &str| format!("session.{name}");

    if let Some(v) = table.get("cookie_cache") {
        match v {
            Value::String(s) if s == "jwt" => config.jwt_cookie_cache = true,
            Value::String(s) if s == "off" => config.jwt_cookie_cache = false,
            Value::String(_) => problems.add(field("cookie_cache"), "must be \"jwt\" or \"off\""),
            other => problems.wrong_type(field("cookie_cache"), "a string", other),
        }
    }
    if let Some(v) = table.get("source") {
        match v {
            Value::String(s) if s == "sqlite" => config.source = SessionSource::Sqlite,
            Value::String(s) if s == "secondary-storage" => {
                config.source = SessionSource::SecondaryStorage
            }
            Value::String(s) if s == "jwt-cookie" => config.source = SessionSource::JwtCookie,
            Value::String(_) => problems.add(
                field("source"),
                "must be \"sqlite\", \"secondary-storage\" or \"jwt-cookie\"",
            ),
            other => problems.wrong_type(field("source"), "a string", other),
        }
    }

    if let Some(v) = table.get("cookie_names") {
        match v {
            Value::Array(items) if items.is_empty() || items.len() > MAX_COOKIE_NAMES => {
                problems.add(
                    field("cookie_names"),
                    format!("must list 1 to {MAX_COOKIE_NAMES} cookie names"),
                );
            }
            _ => {
                let mut seen: Vec<String> = Vec::new();
                let names = problems.strings(&field("cookie_names"), v, |name| {
                    check_cookie_name(name)?;
                    if seen.iter().any(|s| s == name) {
                        return Err(format!("duplicate cookie name \"{name}\""));
                    }
                    seen.push(name.to_string());
                    Ok(name.to_string())
                });
                if let Some(names) = names {
                    config.cookie_names = names;
                }
            }
        }
    }

    for (name, slot) in [
        ("bearer", &mut config.bearer),
        (
            "bearer_require_signature",
            &mut config.bearer_require_signature,
        ),
        ("cache", &mut config.cache),
        ("log_failures", &mut config.log_failures),
        (
            "allow_unprefixed_on_https",
            &mut config.allow_unprefixed_on_https,
        ),
    ] {
        match table.get(name) {
            None => {}
            Some(Value::Boolean(b)) => *slot = *b,
            Some(other) => problems.wrong_type(field(name), "a boolean", other),
        }
    }
    if config.bearer_require_signature && !config.bearer {
        problems.add(
            field("bearer_require_signature"),
            "has no effect without bearer = true",
        );
    }

    if let Some(v) = table.get("cache_max_age") {
        let secs = match v {
            Value::String(s) => parse_duration(s)
                .map_err(|m| problems.add(field("cache_max_age"), m))
                .ok(),
            Value::Integer(n) if *n >= 1 => Some(n.unsigned_abs()),
            Value::Integer(_) => {
                problems.add(field("cache_max_age"), "must be at least 1 second");
                None
            }
            other => {
                problems.wrong_type(
                    field("cache_max_age"),
                    "a duration like \"5m\" or seconds",
                    other,
                );
                None
            }
        };
        config.cache_max_age_secs = secs;
        if secs.is_some() && table.get("cache") == Some(&Value::Boolean(false)) {
            problems.add(field("cache_max_age"), "has no effect with cache = false");
        }
    }

    let revoke = match table.get("revoke") {
        None => false,
        Some(Value::Boolean(b)) => *b,
        Some(other) => {
            problems.wrong_type(field("revoke"), "a boolean", other);
            false
        }
    };
    let revoke_path = match table.get("revoke_path") {
        None => Some(DEFAULT_REVOKE_PATH.to_string()),
        Some(Value::String(p)) => match check_revoke_path(p) {
            Ok(()) => Some(p.clone()),
            Err(message) => {
                problems.add(field("revoke_path"), message);
                None
            }
        },
        Some(other) => {
            problems.wrong_type(field("revoke_path"), "a string", other);
            None
        }
    };
    if table.contains_key("revoke_path") && !revoke {
        problems.add(
            field("revoke_path"),
            "is set but revoke is not; set revoke = true",
        );
    }
    if revoke {
        config.revoke_path = revoke_path.and_then(|p| normalize_path(&p).ok());
    }

    if let Some(v) = table.get("secondary_storage_prefix") {
        match v {
            Value::String(p)
                if p.len() <= MAX_KEY_PREFIX_LEN && !p.chars().any(char::is_control) =>
            {
                config.secondary_storage_prefix = p.clone();
            }
            Value::String(_) => problems.add(
                field("secondary_storage_prefix"),
                format!("must be at most {MAX_KEY_PREFIX_LEN} bytes without control characters"),
            ),
            other => problems.wrong_type(field("secondary_storage_prefix"), "a string", other),
        }
        if config.source != SessionSource::SecondaryStorage {
            problems.add(
                field("secondary_storage_prefix"),
                "applies only to source = \"secondary-storage\"",
            );
        }
    }

    for (name, slot) in [
        ("session_table", &mut config.schema.session_table),
        ("user_table", &mut config.schema.user_table),
    ] {
        match table.get(name) {
            None => {}
            Some(Value::String(s)) => match check_identifier(s) {
                Ok(()) => *slot = s.clone(),
                Err(m) => problems.add(field(name), m),
            },
            Some(other) => problems.wrong_type(field(name), "a string", other),
        }
    }
    parse_columns(
        table,
        "session_fields",
        &mut config.schema.session.slots(),
        problems,
    );
    parse_columns(
        table,
        "user_fields",
        &mut config.schema.user.slots(),
        problems,
    );

    if config.source == SessionSource::SecondaryStorage {
        for name in SQLITE_ONLY {
            if table.contains_key(*name) {
                problems.add(field(name), "applies only to source = \"sqlite\"");
            }
        }
        config.cache = false;
        config.cache_max_age_secs = None;
    }
    if config.source == SessionSource::JwtCookie {
        for name in SQLITE_ONLY.iter().chain(LOOKUP_ONLY) {
            // Absent, or a switch left off: nothing to refuse.
            match table.get(*name) {
                None | Some(Value::Boolean(false)) => continue,
                Some(_) => {}
            }
            let message = match *name {
                "revoke" => {
                    "needs a session store: revocation deletes cached sessions from the \
                     key-value store, and a signed cookie cache stays valid until it expires \
                     (source = \"jwt-cookie\" reads no store; use source = \"sqlite\" with \
                     cookie_cache = \"jwt\")"
                }
                "revoke_path" => continue, // reported with `revoke`, or as revoke unset
                _ => {
                    "applies only to sources that look tokens up (\"sqlite\", \"secondary-storage\")"
                }
            };
            problems.add(field(name), message);
        }
        if table.get("cookie_cache") == Some(&Value::String("off".into())) {
            problems.add(
                field("cookie_cache"),
                "cannot be \"off\" with source = \"jwt-cookie\" (the cookie cache is the source)",
            );
        }
        config.jwt_cookie_cache = true;
        config.cache = false;
        config.cache_max_age_secs = None;
        config.bearer = false;
        config.bearer_require_signature = false;
        config.revoke_path = None;
    }

    problems.unknown_fields(table, "session.", FIELDS);
    config
}

/// One column slot: the policy key (Better Auth's field name), whether the
/// column may be absent, and where its value goes.
enum Slot<'a> {
    Required(&'static str, &'a mut String),
    Optional(&'static str, &'a mut Option<String>),
}

impl Slot<'_> {
    fn key(&self) -> &'static str {
        match self {
            Slot::Required(k, _) | Slot::Optional(k, _) => k,
        }
    }
}

/// The keys of `[session.session_fields]` and `[session.user_fields]`, in
/// the order the parser knows them.
#[cfg(test)]
pub(crate) fn column_keys() -> (Vec<&'static str>, Vec<&'static str>) {
    let mut schema = Schema::default();
    let session = schema.session.slots().iter().map(Slot::key).collect();
    let user = schema.user.slots().iter().map(Slot::key).collect();
    (session, user)
}

impl SessionColumns {
    fn slots(&mut self) -> Vec<Slot<'_>> {
        vec![
            Slot::Required("id", &mut self.id),
            Slot::Required("token", &mut self.token),
            Slot::Required("userId", &mut self.user_id),
            Slot::Required("expiresAt", &mut self.expires_at),
            Slot::Required("createdAt", &mut self.created_at),
            Slot::Required("updatedAt", &mut self.updated_at),
            Slot::Optional("ipAddress", &mut self.ip_address),
            Slot::Optional("userAgent", &mut self.user_agent),
        ]
    }
}

impl UserColumns {
    fn slots(&mut self) -> Vec<Slot<'_>> {
        vec![
            Slot::Required("id", &mut self.id),
            Slot::Required("email", &mut self.email),
            Slot::Required("name", &mut self.name),
            Slot::Required("emailVerified", &mut self.email_verified),
            Slot::Optional("image", &mut self.image),
            Slot::Optional("role", &mut self.role),
            Slot::Required("createdAt", &mut self.created_at),
            Slot::Required("updatedAt", &mut self.updated_at),
            Slot::Optional("banned", &mut self.banned),
            Slot::Optional("banExpires", &mut self.ban_expires),
        ]
    }
}

fn parse_columns(table: &Table, name: &str, slots: &mut [Slot<'_>], problems: &mut Problems) {
    let prefix = format!("session.{name}");
    let columns = match table.get(name) {
        None => return,
        Some(Value::Table(t)) => t,
        Some(other) => {
            problems.wrong_type(&prefix, "a table", other);
            return;
        }
    };
    for (key, value) in columns {
        let field = format!("{prefix}.{key}");
        let Some(slot) = slots.iter_mut().find(|s| s.key() == key) else {
            let known: Vec<&str> = slots.iter().map(Slot::key).collect();
            problems.add(
                field,
                format!("unknown field; expected one of: {}", known.join(", ")),
            );
            continue;
        };
        match (slot, value) {
            (slot, Value::String(column)) => match check_identifier(column) {
                Ok(()) => match slot {
                    Slot::Required(_, s) => **s = column.clone(),
                    Slot::Optional(_, s) => **s = Some(column.clone()),
                },
                Err(m) => problems.add(field, m),
            },
            (Slot::Optional(_, s), Value::Boolean(false)) => **s = None,
            (Slot::Optional(..), other) => problems.wrong_type(
                field,
                "a column name, or false when the table has no such column",
                other,
            ),
            (Slot::Required(..), other) => problems.wrong_type(field, "a column name", other),
        }
    }
}

/// A plain SQL identifier, so a configured name can be quoted safely.
fn check_identifier(name: &str) -> Result<(), String> {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    if first_ok && name.len() <= 64 && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(())
    } else {
        Err("must be an SQL identifier: a letter or _, then up to 63 letters, digits or _".into())
    }
}

/// A cookie name is an HTTP token (RFC 6265 §4.1.1).
fn check_cookie_name(name: &str) -> Result<(), String> {
    if !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    {
        Ok(())
    } else {
        Err(
            "must be 1 to 128 characters of a cookie-name token (letters, digits, !#$%&'*+-.^_`|~)"
                .into(),
        )
    }
}

fn check_revoke_path(path: &str) -> Result<(), String> {
    if path.contains(['*', '?', '#']) {
        return Err("must be a plain path, without *, ? or #".into());
    }
    match normalize_path(path) {
        Ok(p) if p.as_str() != "/" => Ok(()),
        Ok(_) => Err("must not be the root path".into()),
        Err(e) => Err(format!("is not a usable path: {}", e.reason())),
    }
}
