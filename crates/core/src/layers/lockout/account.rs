//! The account a login request names, from its body or a header: found
//! defensively, normalized, and kept only as a domain-separated hash.
//!
//! ```
//! use warden_core::layers::lockout::{AccountSource, Accounts, accounts};
//!
//! let json = AccountSource::Json("email".into());
//! let found = accounts(&json, &[], br#"{"email":"  Alice@Example.COM ","password":"x"}"#);
//! let Accounts::Named(ids) = found else { panic!() };
//! // Trimmed and ASCII-lowercased before hashing: the same account.
//! let again = accounts(&json, &[], br#"{"password":"y","email":"alice@example.com"}"#);
//! assert_eq!(again, Accounts::Named(ids.clone()));
//! assert_eq!(ids[0].hash().len(), 32);
//! assert!(!ids[0].hash().contains("alice"));
//! // No body names no account: the failure counts by address only.
//! assert_eq!(accounts(&json, &[], b""), Accounts::Unnamed);
//! // A body that is not one readable object is refused (400): the app's
//! // parser might find an account in it that warden would not count.
//! assert_eq!(accounts(&json, &[], b"{\"email\":"), Accounts::Unreadable);
//! ```
//!
//! **Normalization**, on bytes (no UTF-8 needed, so no value is lost to an
//! encoding error): ASCII whitespace (space, tab, CR, LF, FF) trimmed from
//! both ends, then ASCII letters lowercased. Nothing else: no Unicode case
//! folding or normalization form, no removal of `+tags` or dots in e-mail
//! local parts. An empty value names no account.
//!
//! **Hash**: the first 128 bits of SHA-256 over `warden/lockout/account/v1`,
//! a NUL, and the normalized bytes, as hex. Only this reaches the store (in
//! a key) and the log (its first 8 characters). It keeps raw identifiers out
//! of both, but it is not keyed: whoever can read the store and guesses an
//! identifier can confirm it by hashing it the same way.
//!
//! **Where the account comes from** (`account` in the policy):
//! - `json:FIELD`: every top-level member named FIELD of a JSON object body
//!   (names compare after JSON unescaping), when its value is a string. A
//!   leading UTF-8 byte-order mark is skipped. An empty (or all
//!   whitespace) body names no account. A body that is not one well-formed
//!   JSON object (malformed, truncated, not UTF-8, an array at the top, a
//!   form) is [`Accounts::Unreadable`], which the component refuses (400):
//!   a lenient app parser (`JSON.parse` takes lone surrogates, Node decodes
//!   bad UTF-8 leniently, Express takes a form too) could read an account
//!   from it, and warden would then count the guess against the address
//!   only.
//! - `form:FIELD`: every `FIELD=value` pair of an
//!   `application/x-www-form-urlencoded` body (split on `&` and the first
//!   `=`, `+` as space, `%XX` decoded; an invalid escape is kept as it is,
//!   as the WHATWG parser does).
//! - `header:NAME`: every field line of the header.
//!
//! Either body form is read whatever the request's `content-type` says.
//!
//! **Repeated names.** Parsers disagree on which of two `email` members or
//! form fields counts (JavaScript and serde take the last, Go's `FormValue`
//! the first), so warden does not guess: every distinct value is an account
//! of the request, each is checked for a lock and each is charged a
//! failure. More than [`MAX_ACCOUNTS`] distinct values is
//! [`Accounts::TooMany`], which the component refuses (400) rather than
//! choose which to count.

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use sha2::{Digest, Sha256};

use crate::base::digest::{hex, hex_value};

use super::config::AccountSource;

/// The most distinct accounts one request may name.
pub const MAX_ACCOUNTS: usize = 4;

/// What separates these hashes from any other SHA-256 of the same bytes.
const DOMAIN: &[u8] = b"warden/lockout/account/v1\0";

/// One account, as its hash only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountId(String);

impl AccountId {
    /// The account named by `raw`, normalized; `None` when nothing is left.
    pub fn from_raw(raw: &[u8]) -> Option<AccountId> {
        let normalized = normalize(raw)?;
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN);
        hasher.update(&normalized);
        let digest = hasher.finalize();
        Some(AccountId(hex(&digest[..16])))
    }

    /// 32 lower-case hex characters: the store's name for the account.
    pub fn hash(&self) -> &str {
        &self.0
    }

    /// The first 8 characters of the hash: enough to follow one account
    /// through the log.
    pub fn log_prefix(&self) -> String {
        self.0.chars().take(8).collect()
    }
}

/// Trims ASCII whitespace and lowercases ASCII letters; `None` if empty.
pub fn normalize(raw: &[u8]) -> Option<Vec<u8>> {
    let trimmed = raw.trim_ascii();
    (!trimmed.is_empty()).then(|| trimmed.to_ascii_lowercase())
}

/// The accounts a request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accounts {
    /// No account (none configured, none found, or an unreadable body):
    /// failures count by address only.
    Unnamed,
    /// One to [`MAX_ACCOUNTS`] distinct accounts.
    Named(Vec<AccountId>),
    /// More distinct accounts than [`MAX_ACCOUNTS`].
    TooMany,
    /// A `json:` source and a non-empty body that is not one JSON object
    /// serde_json reads.
    Unreadable,
}

/// The accounts `source` finds in the request's `headers` or `body`. Never
/// panics, whatever the bytes.
pub fn accounts(source: &AccountSource, headers: &[(String, Vec<u8>)], body: &[u8]) -> Accounts {
    let raw: Vec<Vec<u8>> = match source {
        AccountSource::Header(name) => crate::base::text::field_lines(headers, name)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect(),
        AccountSource::Json(field) => match json_members(body, field) {
            Some(found) => found,
            None => return Accounts::Unreadable,
        },
        AccountSource::Form(field) => form_fields(body, field.as_bytes()),
    };
    let mut ids: Vec<AccountId> = Vec::new();
    for id in raw.iter().filter_map(|r| AccountId::from_raw(r)) {
        if ids.contains(&id) {
            continue;
        }
        if ids.len() == MAX_ACCOUNTS {
            return Accounts::TooMany;
        }
        ids.push(id);
    }
    if ids.is_empty() {
        Accounts::Unnamed
    } else {
        Accounts::Named(ids)
    }
}

/// The string values of every top-level member `field` of a JSON object;
/// empty for an empty body, `None` unless `body` is exactly one well-formed
/// object.
fn json_members(body: &[u8], field: &str) -> Option<Vec<Vec<u8>>> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.trim_ascii().is_empty() {
        return Some(Vec::new());
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let seed = TopLevel { field };
    seed.deserialize(&mut deserializer)
        .and_then(|found| deserializer.end().map(|()| found))
        .ok()
}

/// Walks one JSON object's members, keeping the string values of `field`
/// and skipping everything else without building it.
struct TopLevel<'f> {
    field: &'f str,
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_> {
    type Value = Vec<Vec<u8>>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = Vec<Vec<u8>>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == self.field {
                if let Some(text) = map.next_value::<StringOrSkip>()?.0 {
                    found.push(text.into_bytes());
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// A JSON value: its text when a string, `None` (skipped) otherwise.
struct StringOrSkip(Option<String>);

impl<'de> serde::Deserialize<'de> for StringOrSkip {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringOrSkip;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StringOrSkip, E> {
                Ok(StringOrSkip(Some(v.to_owned())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<StringOrSkip, E> {
                Ok(StringOrSkip(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<StringOrSkip, E> {
                Ok(StringOrSkip(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<StringOrSkip, E> {
                Ok(StringOrSkip(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<StringOrSkip, E> {
                Ok(StringOrSkip(None))
            }
            fn visit_unit<E>(self) -> Result<StringOrSkip, E> {
                Ok(StringOrSkip(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<StringOrSkip, A::Error> {
                IgnoredAny.visit_seq(seq).map(|_| StringOrSkip(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StringOrSkip, A::Error> {
                IgnoredAny.visit_map(map).map(|_| StringOrSkip(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The decoded values of every `field=value` pair of a urlencoded body.
fn form_fields(body: &[u8], field: &[u8]) -> Vec<Vec<u8>> {
    body.split(|b| *b == b'&')
        .filter_map(|pair| {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let name = form_decode(parts.next()?);
            (name == field).then(|| form_decode(parts.next().unwrap_or_default()))
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding of one name or value: `+`
/// is a space, `%XX` a byte, and an invalid escape stays as it is.
fn form_decode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter().copied();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let mut ahead = bytes.clone();
                match (
                    ahead.next().and_then(hex_value),
                    ahead.next().and_then(hex_value),
                ) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        bytes = ahead;
                    }
                    _ => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
    }
    out
}
