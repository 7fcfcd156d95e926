//! Why a request's API key was refused: one typed reason for the log, one
//! public answer for the client.

use crate::base::denial::{Denial, Rejection};

/// The throttle's public body, the same from every credential layer.
pub use crate::base::failed_attempts::THROTTLED_BODY;

/// Why a key was refused. The log says [`Refusal::as_str`]; the client
/// gets only [`Refusal::rejection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No key in the request (on an `api_key` route).
    Missing,
    /// The header appears on more than one line, or the header and a
    /// bearer token carry different keys.
    Conflicting,
    /// Longer than [`crate::layers::api_key::extract::MAX_KEY_LEN`].
    TooLong,
    /// Shorter than [`crate::layers::api_key::extract::MIN_KEY_LEN`].
    TooShort,
    /// A byte outside visible ASCII.
    BadCharacters,
    /// Not one of the configured `prefixes`: refused before any lookup.
    WrongPrefix,
    /// No store has a key with this hash.
    Unknown,
    /// The stored hash differs from the presented key's (a row returned for
    /// another hash: never trusted).
    HashMismatch,
    /// Better Auth's `enabled` is false.
    Disabled,
    /// Warden's `revoked_at` is set.
    Revoked,
    /// `expiresAt` / `expires_at` has passed.
    Expired,
    /// Better Auth's `remaining` is used up and no refill is due.
    Exhausted,
    /// The stored record cannot be read (names a field in the log line
    /// the adapter writes, never a value).
    InvalidRecord,
    /// Too many failed keys from this address: refused before any lookup.
    Throttled,
}

impl Refusal {
    /// The reason's name in log lines.
    pub fn as_str(&self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Conflicting => "conflicting",
            Refusal::TooLong => "too_long",
            Refusal::TooShort => "too_short",
            Refusal::BadCharacters => "bad_characters",
            Refusal::WrongPrefix => "wrong_prefix",
            Refusal::Unknown => "unknown",
            Refusal::HashMismatch => "hash_mismatch",
            Refusal::Disabled => "disabled",
            Refusal::Revoked => "revoked",
            Refusal::Expired => "expired",
            Refusal::Exhausted => "exhausted",
            Refusal::InvalidRecord => "invalid_record",
            Refusal::Throttled => "throttled",
        }
    }

    /// Whether this refusal counts as a failed attempt for the throttle: a
    /// key was presented and it was no good. A missing key is not an attempt.
    pub fn counts_as_failure(&self) -> bool {
        !matches!(self, Refusal::Missing | Refusal::Throttled)
    }

    /// What the client is told: every bad key is the same 401, so that a
    /// guesser learns nothing about which keys exist; the throttle is a 429.
    pub fn denial(&self) -> Denial {
        match self {
            Refusal::Throttled => crate::base::failed_attempts::throttled_denial(),
            _ => Denial::from(Rejection::Unauthorized),
        }
    }
}
