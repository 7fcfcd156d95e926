//! A stored API key, read from either table or from Better Auth's
//! `secondaryStorage` JSON, and the decision on it.
//!
//! Better Auth's `apikey` rows as its Kysely SQLite adapter writes them:
//! dates as ISO-8601 text (`2026-11-28T22:34:11.281Z`), booleans as `0`/`1`,
//! `permissions` and `metadata` as JSON text. Its `secondaryStorage` value
//! (`api-key:<hash>`) is the same record as JSON, dates as ISO text,
//! booleans as `true`/`false`, `metadata` possibly already an object.
//! Warden's `api_keys` rows are in `migrations.sql`. Anything unreadable
//! makes the whole record invalid, never a guess: an unreadable expiry is
//! not "no expiry".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::ApiKeyConfig;
use super::extract::Presented;
use super::hash::hashes_equal;
use super::refusal::Refusal;
use crate::base::identity::{AuthMethod, Identity};
use crate::base::time::parse_iso8601_ms;

/// Longest id or owner accepted, in bytes.
pub const MAX_ID_LEN: usize = 255;
/// Most roles a key may carry (its own plus its permissions).
pub const MAX_ROLES: usize = 64;
/// Longest role, resource, action or tier, in bytes.
pub const MAX_ROLE_LEN: usize = 128;

pub use crate::base::cell::Cell;

/// The columns `sql::BETTER_AUTH_LOOKUP` returns, by Better Auth field name.
pub const BETTER_AUTH_COLUMNS: &[&str] = &[
    "id",
    "key",
    "referenceId",
    "name",
    "start",
    "prefix",
    "configId",
    "enabled",
    "expiresAt",
    "remaining",
    "refillAmount",
    "refillInterval",
    "lastRefillAt",
    "createdAt",
    "permissions",
    "metadata",
    "lastRequest",
];

/// The columns `sql::WARDEN_LOOKUP` returns.
pub const WARDEN_COLUMNS: &[&str] = &[
    "id",
    "key_hash",
    "owner",
    "name",
    "prefix",
    "roles",
    "permissions",
    "tier",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
];

/// Which store a key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Better Auth's `apikey` table, or its `secondaryStorage`.
    BetterAuth,
    /// Warden's `api_keys` table.
    Warden,
}

impl Source {
    /// The name in log lines and in `x-warden-api-key-source`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::BetterAuth => "better_auth",
            Source::Warden => "warden",
        }
    }
}

/// Better Auth's usage refill: `remaining` goes back to `amount` once
/// `interval_ms` has passed since `last_refill_at` (or creation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refill {
    pub amount: i64,
    pub interval_ms: i64,
    pub last_refill_at: Option<i64>,
}

/// A stored key, whichever store it came from. Dates are unix ms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub source: Source,
    /// The row's id (warden's or Better Auth's).
    pub id: String,
    /// The stored hash, compared in constant time with the presented key's.
    pub stored_hash: String,
    /// Who the key belongs to: the user id requests get.
    pub owner: String,
    pub name: Option<String>,
    /// The first characters of the key, for display.
    pub display_prefix: Option<String>,
    /// Better Auth's `configId` (several key configurations).
    pub config_id: Option<String>,
    /// Better Auth's `enabled` (warden's keys are always enabled).
    pub enabled: bool,
    pub expires_at: Option<i64>,
    /// Warden's `revoked_at`.
    pub revoked_at: Option<i64>,
    /// Better Auth's `remaining` uses; `None`: unlimited.
    pub remaining: Option<i64>,
    pub refill: Option<Refill>,
    pub created_at: Option<i64>,
    /// Roles as stored (warden's `roles`).
    pub roles: Vec<String>,
    /// `{"resource":["action",…]}` (Better Auth's `permissions`).
    pub permissions: BTreeMap<String, Vec<String>>,
    /// The rate-limit tier (warden's `tier`; Better Auth's `metadata.tier`).
    pub tier: Option<String>,
    /// Warden's `last_used_at` (Better Auth's `lastRequest`, read only).
    pub last_used_at: Option<i64>,
}

/// A record that cannot be read; names the field, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError(pub String);

impl RecordError {
    fn new(field: &str, problem: &str) -> RecordError {
        RecordError(format!("{field} {problem}"))
    }
}

/// A key that may authenticate the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// The owner, with the key's roles and tier.
    pub identity: Identity,
    /// The key's row id, for the log and `last_used_at`.
    pub key_id: String,
    pub source: Source,
}

impl KeyRecord {
    /// A valid, enabled key without limits (tests and the examples).
    pub fn new(source: Source, id: &str, stored_hash: &str, owner: &str) -> KeyRecord {
        KeyRecord {
            source,
            id: id.to_string(),
            stored_hash: stored_hash.to_string(),
            owner: owner.to_string(),
            name: None,
            display_prefix: None,
            config_id: None,
            enabled: true,
            expires_at: None,
            revoked_at: None,
            remaining: None,
            refill: None,
            created_at: None,
            roles: Vec::new(),
            permissions: BTreeMap::new(),
            tier: None,
            last_used_at: None,
        }
    }

    /// The roles a route's `roles` is checked against: the stored roles,
    /// then (with `permissions_as_roles`) each permission as
    /// `resource:action`, without duplicates, at most [`MAX_ROLES`].
    pub fn roles(&self, permissions_as_roles: bool) -> Vec<String> {
        let mut roles: Vec<String> = Vec::new();
        let permissions = self
            .permissions
            .iter()
            .filter(|_| permissions_as_roles)
            .flat_map(|(resource, actions)| actions.iter().map(move |a| format!("{resource}:{a}")));
        for role in self.roles.iter().cloned().chain(permissions) {
            if roles.len() < MAX_ROLES && !roles.contains(&role) {
                roles.push(role);
            }
        }
        roles
    }

    /// Checks the fields that came from outside (a cache entry is outside
    /// input too): ids, roles, tier.
    pub fn validated(self) -> Result<KeyRecord, RecordError> {
        check_id(&self.id).map_err(|p| RecordError::new("id", p))?;
        check_id(&self.owner).map_err(|p| RecordError::new("owner", p))?;
        if self.stored_hash.is_empty() || self.stored_hash.len() > 128 {
            return Err(RecordError::new("key hash", "is not a hash"));
        }
        if self.roles.len() > MAX_ROLES || self.roles.iter().any(|r| check_name(r).is_err()) {
            return Err(RecordError::new("roles", "are not usable role names"));
        }
        if self.permissions.len() > MAX_ROLES
            || self.permissions.iter().any(|(resource, actions)| {
                check_name(resource).is_err()
                    || actions.len() > MAX_ROLES
                    || actions.iter().any(|a| check_name(a).is_err())
            })
        {
            return Err(RecordError::new("permissions", "are not usable names"));
        }
        if let Some(tier) = &self.tier {
            check_name(tier).map_err(|p| RecordError::new("tier", p))?;
        }
        Ok(self)
    }
}

/// The decision on a found record at `now_ms`: the stored hash must equal
/// the presented key's (constant time), then the key must be enabled, not
/// revoked, not expired and not used up.
///
/// Better Auth's `remaining` is read, never decremented: warden does not
/// write per request (Better Auth's own `verifyApiKey` does). A used-up key
/// with a refill passes once the refill is due, as Better Auth would refill
/// it on its next verification.
pub fn decide(
    config: &ApiKeyConfig,
    presented: &Presented,
    record: &KeyRecord,
    now_ms: u64,
) -> Result<Granted, Refusal> {
    let computed = match record.source {
        Source::Warden => presented.sha256_hex(),
        Source::BetterAuth => presented.better_auth_hash(),
    };
    if !hashes_equal(&record.stored_hash, &computed) {
        return Err(Refusal::HashMismatch);
    }
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    if !record.enabled {
        return Err(Refusal::Disabled);
    }
    if record.revoked_at.is_some() {
        return Err(Refusal::Revoked);
    }
    // Better Auth: expired when now > expiresAt.
    if record.expires_at.is_some_and(|at| now > at) {
        return Err(Refusal::Expired);
    }
    if record.remaining.is_some_and(|n| n <= 0) && !refill_due(record, now) {
        return Err(Refusal::Exhausted);
    }
    Ok(Granted {
        identity: Identity {
            user_id: record.owner.clone(),
            roles: record.roles(config.permissions_as_roles),
            method: AuthMethod::ApiKey,
            tier: record.tier.clone(),
        },
        key_id: record.id.clone(),
        source: record.source,
    })
}

/// Better Auth's refill rule: due when more than `refillInterval` ms have
/// passed since `lastRefillAt`, or since `createdAt` before the first.
fn refill_due(record: &KeyRecord, now: i64) -> bool {
    let Some(refill) = record.refill else {
        return false;
    };
    let since = refill.last_refill_at.or(record.created_at);
    refill.amount > 0
        && refill.interval_ms > 0
        && since.is_some_and(|t| now.saturating_sub(t) > refill.interval_ms)
}

/// Better Auth's `apikey` row, in the column order of
/// `sql::BETTER_AUTH_LOOKUP`.
pub fn record_from_better_auth_row(row: &[Cell]) -> Result<KeyRecord, RecordError> {
    if row.len() != BETTER_AUTH_COLUMNS.len() {
        return Err(RecordError::new("row", "has the wrong number of columns"));
    }
    let r = Row(row, BETTER_AUTH_COLUMNS);
    let refill = match (r.integer(10)?, r.integer(11)?) {
        (Some(amount), Some(interval_ms)) => Some(Refill {
            amount,
            interval_ms,
            last_refill_at: r.date(12)?,
        }),
        _ => None,
    };
    let metadata = r.json(15)?;
    KeyRecord {
        source: Source::BetterAuth,
        id: r.id(0)?,
        stored_hash: r.required_text(1)?,
        owner: r.id(2)?,
        name: r.text(3)?,
        display_prefix: r.text(4)?,
        config_id: r.text(6)?,
        enabled: r.boolean(7)?.unwrap_or(true),
        expires_at: r.date(8)?,
        revoked_at: None,
        remaining: r.integer(9)?,
        refill,
        created_at: r.date(13)?,
        roles: Vec::new(),
        permissions: permissions(r.json(14)?.as_ref()).map_err(|p| r.err(14, p))?,
        tier: metadata_tier(metadata.as_ref()).map_err(|p| r.err(15, p))?,
        last_used_at: r.date(16)?,
    }
    .validated()
}

/// Warden's `api_keys` row, in the column order of
/// `sql::WARDEN_LOOKUP`.
pub fn record_from_warden_row(row: &[Cell]) -> Result<KeyRecord, RecordError> {
    if row.len() != WARDEN_COLUMNS.len() {
        return Err(RecordError::new("row", "has the wrong number of columns"));
    }
    let r = Row(row, WARDEN_COLUMNS);
    let roles = match r.json(5)? {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| r.err(5, "is not a JSON array of strings"))?,
        Some(_) => return Err(r.err(5, "is not a JSON array of strings")),
    };
    KeyRecord {
        source: Source::Warden,
        id: r.id(0)?,
        stored_hash: r.required_text(1)?,
        owner: r.id(2)?,
        name: r.text(3)?,
        display_prefix: r.text(4)?,
        config_id: None,
        enabled: true,
        expires_at: r.date(9)?,
        revoked_at: r.date(10)?,
        remaining: None,
        refill: None,
        created_at: r.date(8)?,
        roles,
        permissions: permissions(r.json(6)?.as_ref()).map_err(|p| r.err(6, p))?,
        tier: r.text(7)?,
        last_used_at: r.date(11)?,
    }
    .validated()
}

/// Better Auth's `secondaryStorage` value under `api-key:<hash>`: the
/// record as JSON. Also reads the owner from `userId`, the field's name
/// before `referenceId`.
pub fn record_from_better_auth_json(bytes: &[u8]) -> Result<KeyRecord, RecordError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|_| RecordError::new("value", "is not JSON"))?;
    let Some(map) = value.as_object() else {
        return Err(RecordError::new("value", "is not a JSON object"));
    };
    let get = |name: &str| map.get(name).filter(|v| !v.is_null());
    let text = |name: &str| match get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(RecordError::new(name, "is not text")),
    };
    let id = |name: &str| match get(name) {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        _ => text(name),
    };
    let integer = |name: &str| match get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| RecordError::new(name, "is not an integer")),
    };
    let date = |name: &str| match get(name) {
        None => Ok(None),
        Some(Value::String(s)) => parse_iso8601_ms(s)
            .map(Some)
            .ok_or_else(|| RecordError::new(name, "is not an ISO-8601 date")),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| RecordError::new(name, "is not a date")),
    };
    let enabled = match get("enabled") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(v) if v.as_i64() == Some(0) => false,
        Some(v) if v.as_i64() == Some(1) => true,
        Some(_) => return Err(RecordError::new("enabled", "is not a boolean")),
    };
    // `permissions` is JSON text; `metadata` is an object, or text when
    // double-stringified by older versions.
    let as_json = |name: &str| match get(name) {
        None => Ok(None),
        Some(Value::String(s)) => serde_json::from_str::<Value>(s)
            .map(Some)
            .map_err(|_| RecordError::new(name, "is not JSON")),
        Some(v) => Ok(Some(v.clone())),
    };
    let refill = match (integer("refillAmount")?, integer("refillInterval")?) {
        (Some(amount), Some(interval_ms)) => Some(Refill {
            amount,
            interval_ms,
            last_refill_at: date("lastRefillAt")?,
        }),
        _ => None,
    };
    let owner = match id("referenceId")? {
        Some(owner) => owner,
        None => id("userId")?.ok_or_else(|| RecordError::new("referenceId", "is missing"))?,
    };
    KeyRecord {
        source: Source::BetterAuth,
        id: id("id")?.ok_or_else(|| RecordError::new("id", "is missing"))?,
        stored_hash: text("key")?.ok_or_else(|| RecordError::new("key", "is missing"))?,
        owner,
        name: text("name")?,
        display_prefix: text("start")?,
        config_id: text("configId")?,
        enabled,
        expires_at: date("expiresAt")?,
        revoked_at: None,
        remaining: integer("remaining")?,
        refill,
        created_at: date("createdAt")?,
        roles: Vec::new(),
        permissions: permissions(as_json("permissions")?.as_ref())
            .map_err(|p| RecordError::new("permissions", p))?,
        tier: metadata_tier(as_json("metadata")?.as_ref())
            .map_err(|p| RecordError::new("metadata", p))?,
        last_used_at: date("lastRequest")?,
    }
    .validated()
}

/// `{"resource":["action",…]}`; `null` or absent: none.
fn permissions(value: Option<&Value>) -> Result<BTreeMap<String, Vec<String>>, &'static str> {
    const SHAPE: &str = "is not a JSON object of string arrays";
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let map = value.as_object().ok_or(SHAPE)?;
    map.iter()
        .map(|(resource, actions)| {
            let actions = actions
                .as_array()
                .ok_or(SHAPE)?
                .iter()
                .map(|a| a.as_str().map(str::to_string).ok_or(SHAPE))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((resource.clone(), actions))
        })
        .collect()
}

/// The `tier` string of Better Auth's `metadata` object, if it has one
/// (metadata double-stringified by older versions is read through).
fn metadata_tier(value: Option<&Value>) -> Result<Option<String>, &'static str> {
    let value = match value {
        Some(Value::String(text)) => serde_json::from_str::<Value>(text).ok(),
        other => other.cloned(),
    };
    match value.as_ref().and_then(|v| v.get("tier")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(tier)) => Ok(Some(tier.clone())),
        Some(_) => Err("has a tier that is not text"),
    }
}

/// Permissions as JSON text (`{"files":["read"]}`), checked as a stored
/// record's are: what `warden apikey create --permissions` accepts.
pub fn parse_permissions(text: &str) -> Result<BTreeMap<String, Vec<String>>, &'static str> {
    let value: Value = serde_json::from_str(text).map_err(|_| "is not JSON")?;
    let permissions = permissions(Some(&value))?;
    if permissions.len() > MAX_ROLES
        || permissions.iter().any(|(resource, actions)| {
            check_name(resource).is_err()
                || actions.len() > MAX_ROLES
                || actions.iter().any(|a| check_name(a).is_err())
        })
    {
        return Err("are not usable names (1 to 128 bytes, no spaces or control characters)");
    }
    Ok(permissions)
}

/// Ids name users in headers and keys: non-empty, bounded, no control
/// characters.
pub fn check_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
        Err("is not a usable id (1 to 255 bytes, no control characters)")
    } else {
        Ok(())
    }
}

/// Roles, resources, actions and tiers: non-empty, bounded, no whitespace
/// or control characters (they are compared exactly and logged).
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty()
        || name.len() > MAX_ROLE_LEN
        || name.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        Err("is not a usable name (1 to 128 bytes, no spaces or control characters)")
    } else {
        Ok(())
    }
}

/// One row with its column names, read with the rules above.
struct Row<'a>(&'a [Cell], &'static [&'static str]);

impl Row<'_> {
    fn err(&self, i: usize, problem: &str) -> RecordError {
        RecordError::new(self.1.get(i).copied().unwrap_or("column"), problem)
    }

    fn cell(&self, i: usize) -> &Cell {
        self.0.get(i).unwrap_or(&Cell::Null)
    }

    fn text(&self, i: usize) -> Result<Option<String>, RecordError> {
        match self.cell(i) {
            Cell::Null => Ok(None),
            Cell::Text(s) => Ok(Some(s.clone())),
            Cell::Blob(b) => String::from_utf8(b.clone())
                .map(Some)
                .map_err(|_| self.err(i, "is not text")),
            _ => Err(self.err(i, "is not text")),
        }
    }

    fn required_text(&self, i: usize) -> Result<String, RecordError> {
        self.text(i)?.ok_or_else(|| self.err(i, "is missing"))
    }

    /// Text, or an integer (serial ids).
    fn id(&self, i: usize) -> Result<String, RecordError> {
        match self.cell(i) {
            Cell::Integer(n) => Ok(n.to_string()),
            _ => self.required_text(i),
        }
    }

    fn integer(&self, i: usize) -> Result<Option<i64>, RecordError> {
        match self.cell(i) {
            Cell::Null => Ok(None),
            Cell::Integer(n) => Ok(Some(*n)),
            Cell::Real(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                Ok(Some(*f as i64))
            }
            _ => Err(self.err(i, "is not an integer")),
        }
    }

    /// ISO-8601 text or integer milliseconds.
    fn date(&self, i: usize) -> Result<Option<i64>, RecordError> {
        match self.cell(i) {
            Cell::Text(s) => parse_iso8601_ms(s)
                .map(Some)
                .ok_or_else(|| self.err(i, "is not an ISO-8601 date")),
            _ => self.integer(i).map_err(|_| self.err(i, "is not a date")),
        }
    }

    /// `0`/`1`, or the text `true`/`false`.
    fn boolean(&self, i: usize) -> Result<Option<bool>, RecordError> {
        match self.cell(i) {
            Cell::Null => Ok(None),
            Cell::Integer(0) => Ok(Some(false)),
            Cell::Integer(1) => Ok(Some(true)),
            Cell::Text(s) if s == "0" || s == "false" => Ok(Some(false)),
            Cell::Text(s) if s == "1" || s == "true" => Ok(Some(true)),
            _ => Err(self.err(i, "is not a boolean")),
        }
    }

    /// JSON text; `None` when NULL.
    fn json(&self, i: usize) -> Result<Option<Value>, RecordError> {
        match self.text(i)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|_| self.err(i, "is not JSON")),
        }
    }
}
