//! The key a request presents: the `Idempotency-Key` header (or one of its
//! configured aliases), an RFC 8941 sf-string (draft §2.1).
//!
//! ```
//! use warden_core::layers::idempotency::key::{presented_key, KeyRefusal};
//!
//! let names = ["idempotency-key", "x-idempotency-key"];
//! let key = presented_key(&names, &[("Idempotency-Key", b"\"8e03978e-40d5\"".as_slice())]);
//! assert_eq!(key.unwrap().unwrap().as_str(), "8e03978e-40d5");
//! // The value is an sf-string: a bare token is not one.
//! let bare = presented_key(&names, &[("Idempotency-Key", b"abc".as_slice())]);
//! assert_eq!(bare, Err(KeyRefusal::NotAString));
//! // Header and alias with different values: which one would the app see?
//! let two = presented_key(&names, &[
//!     ("idempotency-key", b"\"a\"".as_slice()),
//!     ("x-idempotency-key", b"\"b\"".as_slice()),
//! ]);
//! assert_eq!(two, Err(KeyRefusal::Conflicting));
//! ```
//!
//! The draft leaves the key's format to the server and asks it to publish
//! one and validate against it (§5). Warden's: an sf-string of 1 to
//! [`MAX_KEY_CHARS`] characters (an sf-string is printable ASCII already),
//! parameters ignored as RFC 8941 §2.2 asks of unknown ones. A UUID fits
//! seven times over. The draft forbids more than one field line (§2.1),
//! and an Item has no list form to combine them into, so a repeated header
//! is refused even when its lines agree. The same value under the header
//! and an alias is one key; two different values are refused.

use crate::http::structured_fields::{BareItem, parse_item};

/// The longest key, in characters.
pub const MAX_KEY_CHARS: usize = 255;
/// The longest field value read at all (escapes double a key's length).
pub const MAX_FIELD_BYTES: usize = 2 * MAX_KEY_CHARS + 256;

/// A presented idempotency key: 1..=255 printable ASCII characters.
#[derive(Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl std::fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys are the client's; logs get a fingerprint only.
        write!(
            f,
            "IdempotencyKey({})",
            crate::base::digest::fingerprint(self.0.as_bytes())
        )
    }
}

impl IdempotencyKey {
    /// The key's characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a presented key is refused (each a 400 with its own detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// Not a structured-field item (bad quoting, trailing text, a list).
    Malformed,
    /// A byte outside visible ASCII and space: not an sf-string.
    NotAscii,
    /// An item, but not a string (a bare token, a number).
    NotAString,
    /// The empty string.
    Empty,
    /// Longer than [`MAX_KEY_CHARS`] (or the field longer than [`MAX_FIELD_BYTES`]).
    TooLong,
    /// The same header on more than one field line.
    Repeated,
    /// The header and an alias carry different keys.
    Conflicting,
}

impl KeyRefusal {
    /// The problem's `detail`: what is wrong, never the value.
    pub fn detail(self) -> &'static str {
        match self {
            KeyRefusal::Malformed => {
                "The Idempotency-Key header is not a structured field string such as \"8e03978e-40d5-43e8-bc93-6894a57f9324\" (with the quotes)."
            }
            KeyRefusal::NotAscii => {
                "The Idempotency-Key header may hold printable ASCII characters only."
            }
            KeyRefusal::NotAString => {
                "The Idempotency-Key header must be a quoted string, such as \"8e03978e-40d5-43e8-bc93-6894a57f9324\"."
            }
            KeyRefusal::Empty => "The Idempotency-Key header is an empty string.",
            KeyRefusal::TooLong => "The Idempotency-Key is longer than 255 characters.",
            KeyRefusal::Repeated => "The Idempotency-Key header appears more than once.",
            KeyRefusal::Conflicting => {
                "The Idempotency-Key header and its alias carry different keys."
            }
        }
    }
}

/// Parses one field value as the key.
pub fn parse_key(value: &[u8]) -> Result<IdempotencyKey, KeyRefusal> {
    if value.len() > MAX_FIELD_BYTES {
        return Err(KeyRefusal::TooLong);
    }
    if !value
        .iter()
        .all(|b| (0x20..0x7f).contains(b) || *b == b'\t')
    {
        return Err(KeyRefusal::NotAscii);
    }
    let text = std::str::from_utf8(value).map_err(|_| KeyRefusal::NotAscii)?;
    let (item, _parameters) = parse_item(text).map_err(|_| KeyRefusal::Malformed)?;
    let BareItem::String(key) = item else {
        return Err(KeyRefusal::NotAString);
    };
    match key.len() {
        0 => Err(KeyRefusal::Empty),
        n if n > MAX_KEY_CHARS => Err(KeyRefusal::TooLong),
        _ => Ok(IdempotencyKey(key)),
    }
}

/// The key among a request's header lines: `names` are the header and its
/// aliases (lowercase), `lines` every request header line in order.
/// `Ok(None)` when none of them is present.
pub fn presented_key(
    names: &[&str],
    lines: &[(&str, &[u8])],
) -> Result<Option<IdempotencyKey>, KeyRefusal> {
    let mut found: Option<IdempotencyKey> = None;
    for name in names {
        let mut values = lines
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v);
        let Some(value) = values.next() else { continue };
        if values.next().is_some() {
            return Err(KeyRefusal::Repeated);
        }
        let key = parse_key(value)?;
        match &found {
            Some(other) if *other != key => return Err(KeyRefusal::Conflicting),
            _ => found = Some(key),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 2] = ["idempotency-key", "x-idempotency-key"];

    fn one(value: &[u8]) -> Result<IdempotencyKey, KeyRefusal> {
        parse_key(value)
    }

    #[test]
    fn valid_keys() {
        assert_eq!(one(b"\"a\"").unwrap().as_str(), "a");
        assert_eq!(one(b"  \"with space\" ").unwrap().as_str(), "with space");
        assert_eq!(
            one(br#""quote \" and \\ backslash""#).unwrap().as_str(),
            "quote \" and \\ backslash"
        );
        // Parameters are ignored (RFC 8941 §2.2).
        assert_eq!(one(b"\"k\";v=1").unwrap().as_str(), "k");
        let longest = format!("\"{}\"", "x".repeat(MAX_KEY_CHARS));
        assert_eq!(one(longest.as_bytes()).unwrap().as_str().len(), 255);
        // 255 escaped characters still fit the field bound.
        let escaped = format!("\"{}\"", "\\\\".repeat(MAX_KEY_CHARS));
        assert_eq!(one(escaped.as_bytes()).unwrap().as_str().len(), 255);
    }

    #[test]
    fn refused_keys() {
        let long = format!("\"{}\"", "x".repeat(MAX_KEY_CHARS + 1));
        let huge = "x".repeat(MAX_FIELD_BYTES + 1);
        for (value, why) in [
            (b"".as_slice(), KeyRefusal::Malformed),
            (b"\"", KeyRefusal::Malformed),
            (b"\"a\" junk", KeyRefusal::Malformed),
            (b"\"a\", \"b\"", KeyRefusal::Malformed),
            (b"\"a\\x\"", KeyRefusal::Malformed),
            (b"\"tab\there\"", KeyRefusal::Malformed),
            (b"abc", KeyRefusal::NotAString),
            (b"*abc", KeyRefusal::NotAString),
            (b"42", KeyRefusal::NotAString),
            (b"?1", KeyRefusal::NotAString),
            (b":AAAA:", KeyRefusal::NotAString),
            (b"\"\"", KeyRefusal::Empty),
            (long.as_bytes(), KeyRefusal::TooLong),
            (huge.as_bytes(), KeyRefusal::TooLong),
            ("\"é\"".as_bytes(), KeyRefusal::NotAscii),
            (b"\"a\x00\"", KeyRefusal::NotAscii),
            (b"\"a\r\n\"", KeyRefusal::NotAscii),
            (b"\"\x7f\"", KeyRefusal::NotAscii),
            (b"\"\xff\"", KeyRefusal::NotAscii),
        ] {
            assert_eq!(one(value), Err(why), "{:?}", String::from_utf8_lossy(value));
        }
    }

    #[test]
    fn header_lines() {
        let k = |v: &'static str| (NAMES[0], v.as_bytes());
        let alias = |v: &'static str| (NAMES[1], v.as_bytes());
        assert_eq!(presented_key(&NAMES, &[("accept", b"*/*")]), Ok(None));
        assert_eq!(presented_key(&NAMES, &[]), Ok(None));
        // Any case of the name; the alias alone; both agreeing.
        let upper = presented_key(&NAMES, &[("IDEMPOTENCY-KEY", b"\"a\"")])
            .unwrap()
            .unwrap();
        assert_eq!(upper.as_str(), "a");
        assert_eq!(
            presented_key(&NAMES, &[alias("\"a\"")]).unwrap(),
            Some(upper.clone())
        );
        assert_eq!(
            presented_key(&NAMES, &[alias("\"a\""), k("\"a\"")]).unwrap(),
            Some(upper)
        );
        // Repeated lines, even identical ones; differing header and alias.
        assert_eq!(
            presented_key(&NAMES, &[k("\"a\""), k("\"a\"")]),
            Err(KeyRefusal::Repeated)
        );
        assert_eq!(
            presented_key(&NAMES, &[alias("\"a\""), alias("\"b\"")]),
            Err(KeyRefusal::Repeated)
        );
        assert_eq!(
            presented_key(&NAMES, &[k("\"a\""), alias("\"b\"")]),
            Err(KeyRefusal::Conflicting)
        );
        // A malformed alias fails even when the header is fine.
        assert_eq!(
            presented_key(&NAMES, &[k("\"a\""), alias("a")]),
            Err(KeyRefusal::NotAString)
        );
        // A name that only starts like the header is another header.
        assert_eq!(
            presented_key(&NAMES, &[("idempotency-key-2", b"\"a\"")]),
            Ok(None)
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = one(b"\"secret-ish\"").unwrap();
        assert!(!format!("{key:?}").contains("secret"));
    }
}
