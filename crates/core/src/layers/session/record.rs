//! Sessions and users as Better Auth stores them, read defensively.
//!
//! ```
//! use serde_json::json;
//! use warden_core::layers::session::record::SessionRecord;
//!
//! // What Better Auth's secondaryStorage holds under a session token.
//! let stored = json!({
//!     "session": {
//!         "id": "s1", "token": "tok", "userId": "u1",
//!         "expiresAt": "2026-12-06T14:43:49.629Z",
//!         "createdAt": "2026-11-29T14:43:49.629Z", "updatedAt": "2026-11-29T14:43:49.629Z",
//!         "ipAddress": "203.0.113.7", "userAgent": "curl/8"
//!     },
//!     "user": {
//!         "id": "u1", "name": "Ada", "email": "ada@example.com", "emailVerified": true,
//!         "image": null, "role": "admin,creator",
//!         "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z"
//!     }
//! });
//! let record = SessionRecord::from_json(&stored).unwrap();
//! let now = 1_795_963_429_629; // 2026-11-29T14:43:49.629Z
//! assert!(record.check(now).is_ok());
//! assert!(record.check(record.session.expires_at as u64).is_err());
//! ```
//!
//! Dates may be ISO-8601 text or integer milliseconds, booleans may be
//! `0`/`1` or `true`/`false`. Anything else, or a missing required field,
//! makes the whole record invalid: warden then treats the request as having
//! no session (and logs why), it never guesses.

use serde_json::{Map, Value, json};

use super::time::{format_iso8601_ms, parse_iso8601_ms};

/// Longest id (session or user) accepted, in bytes.
pub const MAX_ID_LEN: usize = 255;

pub use crate::base::cell::Cell;

/// The seed's `SessionData`, without the token: warden never stores or
/// forwards a session token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionData {
    pub id: String,
    pub user_id: String,
    /// Unix milliseconds.
    pub expires_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// The seed's `UserData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserData {
    pub id: String,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub image: Option<String>,
    /// Better Auth's admin plugin role column: one role, or several separated
    /// by commas (`"admin,creator"`); `None` without the plugin.
    pub role: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Better Auth admin plugin ban state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ban {
    pub banned: bool,
    /// When the ban ends (unix ms); `None`: never.
    pub expires: Option<i64>,
}

/// A session with its user, as found in a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub session: SessionData,
    pub user: UserData,
    pub ban: Ban,
}

/// Why a stored record is not a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// `expiresAt` is not in the future.
    Expired,
    /// The user is banned and the ban has not ended.
    Banned,
}

impl Invalid {
    pub fn as_str(&self) -> &'static str {
        match self {
            Invalid::Expired => "expired",
            Invalid::Banned => "banned",
        }
    }
}

/// A record that cannot be read; names the field, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError(pub String);

impl RecordError {
    pub(crate) fn new(field: &str, problem: &str) -> RecordError {
        RecordError(format!("{field} {problem}"))
    }
}

impl SessionRecord {
    /// Whether the session may authenticate a request at `now_ms`: not
    /// expired (Better Auth: expired when `expiresAt` is past) and the user
    /// not banned (a ban whose `banExpires` has passed no longer counts).
    pub fn check(&self, now_ms: u64) -> Result<(), Invalid> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        if self.session.expires_at <= now {
            return Err(Invalid::Expired);
        }
        if self.ban.banned && self.ban.expires.is_none_or(|end| end > now) {
            return Err(Invalid::Banned);
        }
        Ok(())
    }

    /// Reads `{session, user}` JSON: Better Auth's secondaryStorage value, or
    /// warden's own cache entry.
    pub fn from_json(value: &Value) -> Result<SessionRecord, RecordError> {
        let session = value
            .get("session")
            .and_then(Value::as_object)
            .ok_or_else(|| RecordError::new("session", "is missing"))?;
        let user = value
            .get("user")
            .and_then(Value::as_object)
            .ok_or_else(|| RecordError::new("user", "is missing"))?;
        let s = |name: &'static str| JsonField(session, "session", name);
        let u = |name: &'static str| JsonField(user, "user", name);
        let record = SessionRecord {
            session: SessionData {
                id: s("id").id()?,
                user_id: s("userId").id()?,
                expires_at: s("expiresAt").date()?,
                created_at: s("createdAt").date()?,
                updated_at: s("updatedAt").date()?,
                ip_address: s("ipAddress").optional_text()?,
                user_agent: s("userAgent").optional_text()?,
            },
            user: UserData {
                id: u("id").id()?,
                email: u("email").text()?,
                name: u("name").text()?,
                email_verified: u("emailVerified").boolean()?.unwrap_or(false),
                image: u("image").optional_text()?,
                role: u("role").optional_text()?,
                created_at: u("createdAt").date()?,
                updated_at: u("updatedAt").date()?,
            },
            ban: Ban {
                banned: u("banned").boolean()?.unwrap_or(false),
                expires: u("banExpires").optional_date()?,
            },
        };
        record.consistent()
    }

    /// The seed's `CachedSessionData` shape, `{session, user}`, with dates
    /// as ISO-8601 text; no token.
    pub fn to_json(&self) -> Value {
        json!({ "session": self.session.to_json(), "user": self.user.to_json(None) })
    }

    /// The session must belong to the user it was joined with.
    pub(crate) fn consistent(self) -> Result<SessionRecord, RecordError> {
        if self.session.user_id == self.user.id {
            Ok(self)
        } else {
            Err(RecordError::new("session.userId", "does not match user.id"))
        }
    }
}

impl SessionData {
    /// The seed's `SessionData` without `token`.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "userId": self.user_id,
            "expiresAt": format_iso8601_ms(self.expires_at),
            "ipAddress": self.ip_address,
            "userAgent": self.user_agent,
            "createdAt": format_iso8601_ms(self.created_at),
            "updatedAt": format_iso8601_ms(self.updated_at),
        })
    }
}

impl UserData {
    /// The seed's `UserData`. An `image` longer than `max_image` bytes is
    /// written as `null` (a data: URL does not belong in a header).
    pub fn to_json(&self, max_image: Option<usize>) -> Value {
        let image = self
            .image
            .as_ref()
            .filter(|i| max_image.is_none_or(|max| i.len() <= max));
        json!({
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "emailVerified": self.email_verified,
            "image": image,
            "role": self.role,
            "createdAt": format_iso8601_ms(self.created_at),
            "updatedAt": format_iso8601_ms(self.updated_at),
        })
    }
}

/// warden's cache entry: the record plus the entry's own expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// Unix ms after which the entry is stale: the session's `expiresAt`, or
    /// earlier under `cache_max_age`.
    pub expires: i64,
    pub record: SessionRecord,
}

impl CacheEntry {
    /// `{"expires":…,"session":{…},"user":{…}}`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut value = self.record.to_json();
        if let Some(map) = value.as_object_mut() {
            map.insert("expires".into(), Value::from(self.expires));
        }
        crate::base::log::json(&value).into_bytes()
    }

    pub fn from_slice(bytes: &[u8]) -> Result<CacheEntry, RecordError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|_| RecordError::new("cache entry", "is not JSON"))?;
        let expires = value
            .get("expires")
            .and_then(Value::as_i64)
            .ok_or_else(|| RecordError::new("expires", "is not an integer"))?;
        Ok(CacheEntry {
            expires,
            record: SessionRecord::from_json(&value)?,
        })
    }

    /// Fresh at `now_ms`: neither the entry nor the session has expired.
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        self.expires > now && self.record.session.expires_at > now
    }
}

/// One field of a JSON object, read with the rules above.
struct JsonField<'a>(&'a Map<String, Value>, &'static str, &'a str);

impl JsonField<'_> {
    fn err(&self, problem: &str) -> RecordError {
        RecordError::new(&format!("{}.{}", self.1, self.2), problem)
    }

    fn get(&self) -> Option<&Value> {
        self.0.get(self.2).filter(|v| !v.is_null())
    }

    fn text(&self) -> Result<String, RecordError> {
        match self.get() {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(self.err("is not text")),
            None => Err(self.err("is missing")),
        }
    }

    fn id(&self) -> Result<String, RecordError> {
        // Better Auth's numeric ids (`generateId: "serial"`) may be numbers.
        let id = match self.get() {
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
            _ => self.text()?,
        };
        check_id(&id).map_err(|p| self.err(p))?;
        Ok(id)
    }

    fn optional_text(&self) -> Result<Option<String>, RecordError> {
        match self.get() {
            None => Ok(None),
            Some(_) => self.text().map(Some),
        }
    }

    fn date(&self) -> Result<i64, RecordError> {
        self.optional_date()?.ok_or_else(|| self.err("is missing"))
    }

    fn optional_date(&self) -> Result<Option<i64>, RecordError> {
        match self.get() {
            None => Ok(None),
            Some(Value::String(s)) => parse_iso8601_ms(s)
                .map(Some)
                .ok_or_else(|| self.err("is not an ISO-8601 date")),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.err("is not integer milliseconds")),
            Some(_) => Err(self.err("is not a date")),
        }
    }

    fn boolean(&self) -> Result<Option<bool>, RecordError> {
        match self.get() {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(Some(false)),
            Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(Some(true)),
            Some(_) => Err(self.err("is not a boolean")),
        }
    }
}

/// Ids name users in headers and keys: non-empty, bounded, no control
/// characters.
pub(crate) fn check_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
        Err("is not a usable id (1 to 255 bytes, no control characters)")
    } else {
        Ok(())
    }
}

/// Reads a date cell: ISO-8601 text, integer milliseconds, or a whole REAL
/// (SQLite's NUMERIC affinity may store a number that way).
pub(crate) fn cell_date(cell: &Cell) -> Option<Option<i64>> {
    match cell {
        Cell::Null => Some(None),
        Cell::Integer(ms) => Some(Some(*ms)),
        Cell::Real(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
            Some(Some(*f as i64))
        }
        Cell::Text(s) => parse_iso8601_ms(s).map(Some),
        _ => None,
    }
}

/// Reads a boolean cell: 0/1 (SQLite), or the text `true`/`false`.
pub(crate) fn cell_bool(cell: &Cell) -> Option<Option<bool>> {
    match cell {
        Cell::Null => Some(None),
        Cell::Integer(0) => Some(Some(false)),
        Cell::Integer(1) => Some(Some(true)),
        Cell::Text(s) if s == "0" || s == "false" => Some(Some(false)),
        Cell::Text(s) if s == "1" || s == "true" => Some(Some(true)),
        _ => None,
    }
}

/// Reads an id cell: text, or an integer (Better Auth's serial ids).
pub(crate) fn cell_id(cell: &Cell) -> Option<String> {
    match cell {
        Cell::Integer(n) => Some(n.to_string()),
        other => cell_text(other).flatten(),
    }
}

/// Reads a text cell (a UTF-8 blob counts as text).
pub(crate) fn cell_text(cell: &Cell) -> Option<Option<String>> {
    match cell {
        Cell::Null => Some(None),
        Cell::Text(s) => Some(Some(s.clone())),
        Cell::Blob(b) => String::from_utf8(b.clone()).ok().map(Some),
        _ => None,
    }
}
