//! Finding the session token in a request and checking its signature.
//!
//! ```
//! use warden_core::config::Secret;
//! use warden_core::session::config::SessionConfig;
//! use warden_core::session::token::{extract, sign, Extracted};
//!
//! let secret = Secret::new("better-auth-secret".into());
//! let config = SessionConfig::default();
//! let token = "Zx8kP2mQ9rT4vW7yA1bC3dE5fG6hJ0nL";
//! // Better Auth's cookie value: URL-encoded `token.base64(HMAC-SHA256(secret, token))`.
//! let cookie = format!("better-auth.session_token={}", sign(&secret, token).replace('=', "%3D"));
//! match extract(&config, Some(&secret), &[cookie.as_bytes()], &[]) {
//!     Extracted::Token(found) => assert_eq!(found.token, token),
//!     other => panic!("{other:?}"),
//! }
//! // Without the signature the same token is no session at all.
//! let unsigned = format!("better-auth.session_token={token}");
//! assert!(matches!(
//!     extract(&config, Some(&secret), &[unsigned.as_bytes()], &[]),
//!     Extracted::Refused { .. }
//! ));
//! ```
//!
//! Exactly one credential is read: `Authorization: Bearer` when enabled and
//! present, else the first configured cookie that is present. A refused
//! credential is never replaced by another one, so an attacker cannot make
//! warden try several values, and a request never costs more than one
//! lookup.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::config::SessionConfig;
use super::cookie::{find_cookie, percent_decode};
use crate::config::Secret;

/// Longest token accepted, in bytes. Better Auth's are 32 characters.
pub const MAX_TOKEN_LEN: usize = 256;

/// Where a credential came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carrier {
    /// The named cookie.
    Cookie(String),
    /// `Authorization: Bearer`.
    Bearer,
}

impl Carrier {
    /// A short label for logs: `cookie` or `bearer`.
    pub fn kind(&self) -> &'static str {
        match self {
            Carrier::Cookie(_) => "cookie",
            Carrier::Bearer => "bearer",
        }
    }
}

/// A token that passed the shape and signature checks; it still has to be
/// looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub token: String,
    pub carrier: Carrier,
}

/// Why a presented credential is treated as no session, before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Bad percent-encoding, wrong characters, empty or too long.
    Malformed,
    /// No signature where one is required.
    Unsigned,
    /// A signature that does not verify.
    BadSignature,
}

impl Refusal {
    /// The reason logged.
    pub fn as_str(&self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::Unsigned => "unsigned",
            Refusal::BadSignature => "bad_signature",
        }
    }
}

/// What [`extract`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extracted {
    /// No session credential in the request.
    Missing,
    /// A well-formed (and, where required, correctly signed) token.
    Token(Presented),
    /// A credential that is treated as no session.
    Refused {
        carrier: Carrier,
        reason: Refusal,
        /// [`fingerprint`] of what was presented, for the log.
        fingerprint: String,
    },
}

/// Finds the one session credential of a request.
///
/// `cookies` and `authorization` are the values of every `Cookie` and
/// `Authorization` header. With `secret`, a cookie must be signed and its
/// signature must verify; a bearer token must verify when it carries a
/// signature and is refused unsigned only with `bearer_require_signature`
/// (as Better Auth's bearer plugin does). Without `secret`, signatures
/// cannot be checked and only the token part is kept.
pub fn extract(
    config: &SessionConfig,
    secret: Option<&Secret>,
    cookies: &[&[u8]],
    authorization: &[&[u8]],
) -> Extracted {
    if config.bearer
        && let Some(raw) = authorization.iter().find_map(|v| bearer_value(v))
    {
        return check(
            raw,
            Carrier::Bearer,
            secret,
            config.bearer_require_signature,
        );
    }
    for name in &config.cookie_names {
        if let Some(raw) = find_cookie(cookies, name) {
            return check(raw, Carrier::Cookie(name.clone()), secret, secret.is_some());
        }
    }
    Extracted::Missing
}

/// `Authorization: Bearer <credentials>`; the scheme is case-insensitive.
fn bearer_value(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || !rest.starts_with(b" ") {
        return None;
    }
    let start = rest.iter().position(|b| *b != b' ')?;
    let rest = &rest[start..];
    let end = rest.iter().rposition(|b| *b != b' ').map_or(0, |e| e + 1);
    Some(&rest[..end])
}

fn check(raw: &[u8], carrier: Carrier, secret: Option<&Secret>, require_signed: bool) -> Extracted {
    let refuse = |reason, presented: &[u8]| Extracted::Refused {
        carrier: carrier.clone(),
        reason,
        fingerprint: fingerprint_bytes(presented),
    };
    let Some(value) = percent_decode(raw) else {
        return refuse(Refusal::Malformed, raw);
    };
    let (token, signature) = match value.split_once('.') {
        Some((token, signature)) => (token, Some(signature)),
        None => (value.as_str(), None),
    };
    let signature_shape = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=-_".contains(&b))
    };
    if !is_token(token) || signature.is_some_and(|s| !signature_shape(s)) {
        return refuse(Refusal::Malformed, value.as_bytes());
    }
    match (signature, secret) {
        (Some(signature), Some(secret)) if !verify(secret, token, signature) => {
            refuse(Refusal::BadSignature, token.as_bytes())
        }
        (None, _) if require_signed => refuse(Refusal::Unsigned, token.as_bytes()),
        _ => Extracted::Token(Presented {
            token: token.to_string(),
            carrier,
        }),
    }
}

/// Letters, digits and `-_~+/=`, 1 to [`MAX_TOKEN_LEN`] bytes: what token
/// generators write, and safe in a key-value key.
pub fn is_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_~+/=".contains(&b))
}

/// Whether `signature` is base64(HMAC-SHA256(secret, token)), compared in
/// constant time. Standard base64 with or without padding and URL-safe
/// base64 without padding are all read (Better Auth writes the first, its
/// bearer plugin accepts the others).
pub fn verify(secret: &Secret, token: &str, signature: &str) -> bool {
    let decoded = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(signature).ok());
    let Some(decoded) = decoded.filter(|d| d.len() == 32) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        return false;
    };
    mac.update(token.as_bytes());
    mac.verify_slice(&decoded).is_ok()
}

/// `token.signature`, the value Better Auth puts in its cookie (before URL
/// encoding). For tests, demos and tools.
pub fn sign(secret: &Secret, token: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => return token.to_string(),
    };
    mac.update(token.as_bytes());
    format!("{token}.{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Lowercase hex SHA-256 of the token: the only form in which a token is
/// ever stored by warden or named in a revocation request.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// The first 8 hex characters of the token's SHA-256: enough to correlate
/// log lines, useless to an attacker.
pub fn fingerprint(token: &str) -> String {
    fingerprint_bytes(token.as_bytes())
}

fn fingerprint_bytes(bytes: &[u8]) -> String {
    crate::digest::fingerprint(bytes)
}

pub(crate) use crate::digest::hex;

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "Zx8kP2mQ9rT4vW7yA1bC3dE5fG6hJ0nL";

    fn secret() -> Secret {
        Secret::new("a-better-auth-secret-of-32-chars!".into())
    }

    fn config() -> SessionConfig {
        SessionConfig::default()
    }

    fn token_of(e: Extracted) -> Option<(String, Carrier)> {
        match e {
            Extracted::Token(p) => Some((p.token, p.carrier)),
            _ => None,
        }
    }

    fn refusal(e: &Extracted) -> Option<Refusal> {
        match e {
            Extracted::Refused { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    fn cookie(name: &str, value: &str) -> String {
        format!("{name}={value}")
    }

    #[test]
    fn known_signature() {
        // HMAC-SHA256("secret", "abc") in base64, computed independently:
        // printf abc | openssl dgst -sha256 -hmac secret -binary | base64
        let s = Secret::new("secret".into());
        assert_eq!(
            sign(&s, "abc"),
            "abc.mUba1OAOkT/Ivo5dP34RCkqegy+D+wnDRShdeGONig4="
        );
        assert!(verify(
            &s,
            "abc",
            "mUba1OAOkT/Ivo5dP34RCkqegy+D+wnDRShdeGONig4="
        ));
        assert!(verify(
            &s,
            "abc",
            "mUba1OAOkT/Ivo5dP34RCkqegy+D+wnDRShdeGONig4"
        ));
        assert!(verify(
            &s,
            "abc",
            "mUba1OAOkT_Ivo5dP34RCkqegy-D-wnDRShdeGONig4"
        ));
        assert!(!verify(
            &s,
            "abd",
            "mUba1OAOkT/Ivo5dP34RCkqegy+D+wnDRShdeGONig4="
        ));
        assert!(!verify(
            &s,
            "abc",
            "mUba1OAOkT/Ivo5dP34RCkqegy+D+wnDRShdeGONig5="
        ));
        assert!(!verify(&s, "abc", ""));
        assert!(!verify(&s, "abc", "AAAA"));
    }

    #[test]
    fn signed_cookie_with_secret() {
        let s = secret();
        let signed = sign(&s, TOKEN);
        // Better Auth URL-encodes the whole value.
        let encoded = signed
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        for value in [signed.as_str(), encoded.as_str()] {
            let header = cookie("better-auth.session_token", value);
            let found = token_of(extract(&config(), Some(&s), &[header.as_bytes()], &[]));
            assert_eq!(
                found,
                Some((
                    TOKEN.to_string(),
                    Carrier::Cookie("better-auth.session_token".into())
                ))
            );
        }
        // Quoted values are unwrapped.
        let header = cookie("codex-session", &format!("\"{encoded}\""));
        assert!(token_of(extract(&config(), Some(&s), &[header.as_bytes()], &[])).is_some());
    }

    #[test]
    fn unsigned_and_tampered_with_secret() {
        let s = secret();
        let unsigned = cookie("codex-session", TOKEN);
        let e = extract(&config(), Some(&s), &[unsigned.as_bytes()], &[]);
        assert_eq!(refusal(&e), Some(Refusal::Unsigned));

        let other = sign(&Secret::new("another-secret".into()), TOKEN);
        let forged = cookie("codex-session", &other);
        let e = extract(&config(), Some(&s), &[forged.as_bytes()], &[]);
        assert_eq!(refusal(&e), Some(Refusal::BadSignature));
        if let Extracted::Refused {
            fingerprint: fp, ..
        } = e
        {
            assert_eq!(fp, fingerprint(TOKEN));
        }

        // A different token under a valid signature of another token.
        let sig = sign(&s, TOKEN);
        let swapped = sig.replacen(TOKEN, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1);
        let header = cookie("codex-session", &swapped);
        let e = extract(&config(), Some(&s), &[header.as_bytes()], &[]);
        assert_eq!(refusal(&e), Some(Refusal::BadSignature));
    }

    #[test]
    fn without_secret_the_token_part_is_used() {
        for value in [
            TOKEN.to_string(),
            sign(&secret(), TOKEN),
            format!("{TOKEN}.garbage"),
        ] {
            let header = cookie("better-auth.session_token", &value);
            let found = token_of(extract(&config(), None, &[header.as_bytes()], &[]));
            assert_eq!(found.map(|f| f.0), Some(TOKEN.to_string()), "{value}");
        }
    }

    #[test]
    fn malformed_values() {
        for value in [
            "",
            ".sig",
            "%zz",
            "%FF",
            "tok en",
            "tok%3Ben",
            "a.b.c",
            "tok\u{e9}n",
            &"a".repeat(MAX_TOKEN_LEN + 1),
        ] {
            let header = cookie("codex-session", value);
            let e = extract(&config(), None, &[header.as_bytes()], &[]);
            assert_eq!(refusal(&e), Some(Refusal::Malformed), "{value:?}");
        }
        let longest = "a".repeat(MAX_TOKEN_LEN);
        let header = cookie("codex-session", &longest);
        assert!(token_of(extract(&config(), None, &[header.as_bytes()], &[])).is_some());
    }

    #[test]
    fn cookie_order_and_first_present_only() {
        let s = secret();
        let good = sign(&s, TOKEN);
        // codex-session comes first in the default list, even when later in the header.
        let header = format!("better-auth.session_token={good}; codex-session=bad");
        let e = extract(&config(), Some(&s), &[header.as_bytes()], &[]);
        assert_eq!(refusal(&e), Some(Refusal::Unsigned));
        if let Extracted::Refused { carrier, .. } = e {
            assert_eq!(carrier, Carrier::Cookie("codex-session".into()));
        }
        let header = format!("other=1; __Secure-better-auth.session_token={good}");
        assert_eq!(
            token_of(extract(&config(), Some(&s), &[header.as_bytes()], &[])).map(|t| t.1),
            Some(Carrier::Cookie("__Secure-better-auth.session_token".into()))
        );
        let mut custom = config();
        custom.cookie_names = vec!["sid".into()];
        assert_eq!(
            extract(&custom, Some(&s), &[header.as_bytes()], &[]),
            Extracted::Missing
        );
        assert_eq!(extract(&config(), Some(&s), &[], &[]), Extracted::Missing);
    }

    #[test]
    fn bearer() {
        let s = secret();
        let signed = sign(&s, TOKEN);
        let mut on = config();
        on.bearer = true;
        let auth = format!("Bearer {signed}");
        // Off by default: the header is the app's business.
        assert_eq!(
            extract(&config(), Some(&s), &[], &[auth.as_bytes()]),
            Extracted::Missing
        );
        assert_eq!(
            token_of(extract(&on, Some(&s), &[], &[auth.as_bytes()])),
            Some((TOKEN.to_string(), Carrier::Bearer))
        );
        // Better Auth's set-auth-token header is the URL-encoded cookie value.
        let encoded = format!("bearer  {}  ", signed.replace('=', "%3D"));
        assert!(token_of(extract(&on, Some(&s), &[], &[encoded.as_bytes()])).is_some());
        // Bearer wins over cookies.
        let cookie_header = cookie("codex-session", "x");
        assert_eq!(
            token_of(extract(
                &on,
                Some(&s),
                &[cookie_header.as_bytes()],
                &[auth.as_bytes()]
            ))
            .map(|t| t.1),
            Some(Carrier::Bearer)
        );
        // Raw tokens, as Better Auth's bearer plugin accepts by default...
        let raw = format!("Bearer {TOKEN}");
        assert!(token_of(extract(&on, Some(&s), &[], &[raw.as_bytes()])).is_some());
        // ...unless signatures are required.
        on.bearer_require_signature = true;
        let e = extract(&on, Some(&s), &[], &[raw.as_bytes()]);
        assert_eq!(refusal(&e), Some(Refusal::Unsigned));
        // A bad signature is refused either way.
        let bad = format!("Bearer {TOKEN}.{}", "A".repeat(43) + "=");
        let e = extract(&on, Some(&s), &[], &[bad.as_bytes()]);
        assert_eq!(refusal(&e), Some(Refusal::BadSignature));
        // Other schemes are not session credentials.
        for other in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearerx abc", ""] {
            assert_eq!(
                extract(&on, Some(&s), &[], &[other.as_bytes()]),
                Extracted::Missing,
                "{other:?}"
            );
        }
    }

    #[test]
    fn hashes() {
        // sha256("abc")
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(fingerprint("abc"), "ba7816bf");
    }
}
