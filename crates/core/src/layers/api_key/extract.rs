//! Finding the one API key a request presents: the key header
//! (`x-api-key` unless configured otherwise) or `Authorization: Bearer`.
//!
//! ```
//! use warden_core::layers::api_key::config::ApiKeyConfig;
//! use warden_core::layers::api_key::extract::extract;
//! use warden_core::layers::api_key::refusal::Refusal;
//!
//! let config = ApiKeyConfig::default();
//! let line = |n: &str, v: &str| (n.to_string(), v.as_bytes().to_vec());
//! let key = "wk_0123456789abcdef0123456789abcdef";
//! let found = extract(&config, &[line("X-Api-Key", key)]).unwrap().unwrap();
//! assert_eq!(found.display_prefix(), "wk_01234");
//! // The same key twice is one key; two different keys are refused.
//! let bearer = format!("Bearer {key}");
//! assert!(extract(&config, &[line("x-api-key", key), line("authorization", &bearer)]).is_ok());
//! let other = "Bearer wk_ffffffffffffffffffffffffffffffff";
//! assert_eq!(
//!     extract(&config, &[line("x-api-key", key), line("authorization", other)]).unwrap_err(),
//!     Refusal::Conflicting
//! );
//! assert_eq!(extract(&config, &[]), Ok(None));
//! ```
//!
//! A key is visible ASCII (`!`..=`~`), [`MIN_KEY_LEN`] to [`MAX_KEY_LEN`]
//! bytes. A header on two lines, or a header and a bearer token that
//! disagree, are refused rather than one of them picked: a proxy and the app
//! might pick differently.

use super::config::ApiKeyConfig;
use super::hash::{better_auth_hash, warden_hash};
use super::refusal::Refusal;

/// Longest key accepted, in bytes (warden's keys are 67, Better Auth's 64
/// plus a prefix of at most 32).
pub const MAX_KEY_LEN: usize = 256;

/// Shortest key accepted, in bytes: anything shorter is not a random secret.
pub const MIN_KEY_LEN: usize = 16;

/// How many characters of a key are shown in logs and listings (warden's
/// `prefix` column, Better Auth's `start`).
pub const DISPLAY_LEN: usize = 8;

/// A key as the request presented it. Its `Debug` shows only the display
/// prefix and a fingerprint, so it cannot leak into a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Presented {
    key: String,
    /// Where it came from (for the log).
    pub from: Carrier,
}

/// Which part of the request carried the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// The configured key header.
    Header,
    /// `Authorization: Bearer`.
    Bearer,
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("prefix", &self.display_prefix())
            .field("fingerprint", &self.fingerprint())
            .field("from", &self.from)
            .finish()
    }
}

impl Presented {
    /// A key checked as [`extract`] checks it (for tests and the CLI).
    pub fn new(key: &str) -> Result<Presented, Refusal> {
        check_key(key.as_bytes()).map(|key| Presented {
            key,
            from: Carrier::Header,
        })
    }

    /// The key itself: only for hashing. Never log it.
    pub fn secret(&self) -> &str {
        &self.key
    }

    /// The first [`DISPLAY_LEN`] characters: what logs and listings show.
    pub fn display_prefix(&self) -> String {
        self.key.chars().take(DISPLAY_LEN).collect()
    }

    /// Eight hex characters of the key's SHA-256: correlates log lines,
    /// useless for finding the key or its stored hash.
    pub fn fingerprint(&self) -> String {
        crate::base::digest::fingerprint(self.key.as_bytes())
    }

    /// The key's fingerprint in security events: domain-separated, so it
    /// matches no prefix of the key's stored hash.
    pub fn credential_fp(&self) -> String {
        crate::base::security_event::credential_fingerprint("api_key", self.key.as_bytes())
    }

    /// Warden's stored hash of this key.
    pub fn sha256_hex(&self) -> String {
        warden_hash(&self.key)
    }

    /// Better Auth's stored hash of this key.
    pub fn better_auth_hash(&self) -> String {
        better_auth_hash(&self.key)
    }

    /// Whether the key starts with one of `prefixes` (any key when empty).
    pub fn has_prefix(&self, prefixes: &[String]) -> bool {
        prefixes.is_empty() || prefixes.iter().any(|p| self.key.starts_with(p.as_str()))
    }
}

/// The request's key: `Ok(None)` when it carries none, a [`Refusal`] when it
/// carries one that cannot be a key (or two that disagree).
///
/// `headers` are the request's lines, names in any case. With `bearer` on,
/// an `Authorization` header with another scheme is not a key (it may be
/// meant for the app); with `bearer` off it is ignored entirely.
pub fn extract(
    config: &ApiKeyConfig,
    headers: &[(String, Vec<u8>)],
) -> Result<Option<Presented>, Refusal> {
    let mut from_header = None;
    let mut from_bearer = None;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case(&config.header) {
            if from_header.is_some() {
                return Err(Refusal::Conflicting);
            }
            from_header = Some(check_key(trim(value))?);
        } else if config.bearer && name.eq_ignore_ascii_case("authorization") {
            let Some(token) = bearer_token(value) else {
                continue;
            };
            if from_bearer.is_some() {
                return Err(Refusal::Conflicting);
            }
            from_bearer = Some(check_key(token)?);
        }
    }
    let presented = match (from_header, from_bearer) {
        (Some(a), Some(b)) if a != b => return Err(Refusal::Conflicting),
        (Some(key), _) => Presented {
            key,
            from: Carrier::Header,
        },
        (None, Some(key)) => Presented {
            key,
            from: Carrier::Bearer,
        },
        (None, None) => return Ok(None),
    };
    if !presented.has_prefix(&config.prefixes) {
        return Err(Refusal::WrongPrefix);
    }
    Ok(Some(presented))
}

/// The token of `Bearer <token>` (scheme case-insensitive, RFC 9110
/// §11.1), or `None` for another scheme.
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let value = trim(value);
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.strip_prefix(b" ")?;
    Some(trim(token))
}

/// The value without surrounding spaces and tabs (RFC 9110 field OWS).
fn trim(value: &[u8]) -> &[u8] {
    value.trim_ascii()
}

/// A key's bytes checked: bounded and visible ASCII.
fn check_key(bytes: &[u8]) -> Result<String, Refusal> {
    if bytes.len() > MAX_KEY_LEN {
        return Err(Refusal::TooLong);
    }
    if !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return Err(Refusal::BadCharacters);
    }
    if bytes.len() < MIN_KEY_LEN {
        return Err(Refusal::TooShort);
    }
    // All visible ASCII, so always UTF-8.
    String::from_utf8(bytes.to_vec()).map_err(|_| Refusal::BadCharacters)
}
