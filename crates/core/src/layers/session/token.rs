//! Finding the session token in a request and checking its signature.
//!
//! ```
//! use warden_core::config::Secret;
//! use warden_core::layers::session::config::SessionConfig;
//! use warden_core::layers::session::token::{extract, sign, Extracted};
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
//! `Authorization: Bearer`, when enabled and present, is the only credential
//! read. Otherwise the configured cookies are candidates, `__Host-` names
//! first, then `__Secure-` names, then the rest, each group in configured
//! order, every occurrence of a name in the order sent ([`credentials`]).
//! The prefixed names come first because a browser accepts them only from a
//! secure origin (and `__Host-` only from the exact host), so a sibling
//! subdomain or an http page can plant an unprefixed cookie but not those.
//! A planted or stale cookie must not shadow a valid one, so a candidate
//! refused here (its signature) or by the lookup is passed over for the
//! next: see `flow::authenticate_first`, which bounds the lookups.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::config::SessionConfig;
use super::cookie::{find_cookies, percent_decode};
use crate::base::environment::Secret;

/// Longest token accepted, in bytes. Better Auth's are 32 characters.
pub const MAX_TOKEN_LEN: usize = 256;

/// Most cookie candidates considered per request; any more are ignored, so
/// a request stuffed with cookies costs a bounded number of HMACs.
pub const MAX_CANDIDATES: usize = 8;

/// Cookie name prefixes a browser only accepts from a secure origin, most
/// trusted first (RFC 6265bis §4.1.3).
const SECURE_PREFIXES: [&str; 2] = ["__Host-", "__Secure-"];

/// Whether a cookie name carries a `__Host-` or `__Secure-` prefix (the
/// prefixes compare case-insensitively, as browsers do).
pub fn is_prefixed_cookie(name: &str) -> bool {
    prefix_rank(name) < SECURE_PREFIXES.len()
}

/// 0 for `__Host-`, 1 for `__Secure-`, 2 for an unprefixed name.
fn prefix_rank(name: &str) -> usize {
    SECURE_PREFIXES
        .iter()
        .position(|prefix| {
            name.get(..prefix.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
        })
        .unwrap_or(SECURE_PREFIXES.len())
}

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

/// The request's first usable session credential: the first of
/// [`credentials`] that passes the shape and signature checks, else the
/// first refused one, else [`Extracted::Missing`]. The session layer tries
/// them all in turn (`flow::authenticate_first`); this is for callers that
/// want one answer.
pub fn extract(
    config: &SessionConfig,
    secret: Option<&Secret>,
    cookies: &[&[u8]],
    authorization: &[&[u8]],
) -> Extracted {
    let all = credentials(config, secret, cookies, authorization, false);
    let token = all.iter().position(|e| matches!(e, Extracted::Token(_)));
    all.into_iter()
        .nth(token.unwrap_or(0))
        .unwrap_or(Extracted::Missing)
}

/// The request's session credentials, most trusted first, each already
/// shape- and signature-checked ([`Extracted::Token`] or
/// [`Extracted::Refused`]; never [`Extracted::Missing`]: no credential is an
/// empty list).
///
/// `cookies` and `authorization` are the values of every `Cookie` and
/// `Authorization` header. With `secret`, a cookie must be signed and its
/// signature must verify; a bearer token must verify when it carries a
/// signature and is refused unsigned only with `bearer_require_signature`
/// (as Better Auth's bearer plugin does). Without `secret`, signatures
/// cannot be checked and only the token part is kept.
///
/// A bearer token, when enabled and sent, is the only credential: the
/// client chose it, and no page can plant one. Otherwise: the cookies
/// named in `config.cookie_names`, `__Host-` names first, then `__Secure-`,
/// then the others (each group in configured order), every occurrence in
/// the order sent, at most [`MAX_CANDIDATES`]. With `only_prefixed`
/// (production over https, unless the policy allows otherwise) unprefixed
/// names are not read at all.
pub fn credentials(
    config: &SessionConfig,
    secret: Option<&Secret>,
    cookies: &[&[u8]],
    authorization: &[&[u8]],
    only_prefixed: bool,
) -> Vec<Extracted> {
    if config.bearer
        && let Some(raw) = authorization.iter().find_map(|v| bearer_value(v))
    {
        return vec![check(
            raw,
            Carrier::Bearer,
            secret,
            config.bearer_require_signature,
        )];
    }
    // Rank by rank, configured order within each (a loop rather than a
    // sort: the list is at most 8 names, and a sort costs the component
    // kilobytes).
    let names = (0..=SECURE_PREFIXES.len())
        .filter(|rank| !only_prefixed || *rank < SECURE_PREFIXES.len())
        .flat_map(|rank| {
            config
                .cookie_names
                .iter()
                .filter(move |name| prefix_rank(name) == rank)
        });
    let mut seen: Vec<&[u8]> = Vec::new();
    let mut out = Vec::new();
    for name in names {
        for raw in find_cookies(cookies, name) {
            if out.len() == MAX_CANDIDATES {
                return out;
            }
            // The same value twice (under two names, or sent twice) is
            // one candidate.
            if seen.contains(&raw) {
                continue;
            }
            seen.push(raw);
            out.push(check(
                raw,
                Carrier::Cookie(name.clone()),
                secret,
                secret.is_some(),
            ));
        }
    }
    out
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
    crate::base::digest::fingerprint(bytes)
}

pub(crate) use crate::base::digest::hex;

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
    fn cookie_order_and_refused_cookies_passed_over() {
        let s = secret();
        let good = sign(&s, TOKEN);
        // A refused codex-session no longer hides a good cookie after it.
        let header = format!("better-auth.session_token={good}; codex-session=bad");
        let e = extract(&config(), Some(&s), &[header.as_bytes()], &[]);
        assert_eq!(
            token_of(e).map(|t| t.1),
            Some(Carrier::Cookie("better-auth.session_token".into()))
        );
        // With nothing usable, the first refusal is the answer.
        let header = "better-auth.session_token=bad2; codex-session=bad";
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
    fn prefixed_names_first_and_every_occurrence() {
        let s = secret();
        let good = sign(&s, TOKEN);
        let other = sign(&s, "AnotherToken123");
        let header = format!(
            "codex-session={other}; __Secure-better-auth.session_token=junk; \
             __Secure-better-auth.session_token={good}; better-auth.session_token={good}"
        );
        let all = credentials(&config(), Some(&s), &[header.as_bytes()], &[], false);
        let summary: Vec<(String, bool)> = all
            .iter()
            .map(|e| match e {
                Extracted::Token(p) => match &p.carrier {
                    Carrier::Cookie(n) => (n.clone(), true),
                    Carrier::Bearer => ("bearer".into(), true),
                },
                Extracted::Refused { carrier, .. } => match carrier {
                    Carrier::Cookie(n) => (n.clone(), false),
                    Carrier::Bearer => ("bearer".into(), false),
                },
                Extracted::Missing => ("missing".into(), false),
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("__Secure-better-auth.session_token".to_string(), false),
                ("__Secure-better-auth.session_token".to_string(), true),
                // The same value again under the plain name is not tried twice.
                ("codex-session".to_string(), true),
            ]
        );
        // Production over https: unprefixed names are not read at all.
        let strict = credentials(&config(), Some(&s), &[header.as_bytes()], &[], true);
        assert_eq!(strict.len(), 2);
        let plain = format!("codex-session={good}");
        assert!(credentials(&config(), Some(&s), &[plain.as_bytes()], &[], true).is_empty());
        // __Host- before __Secure-, whatever the configured order.
        let mut custom = config();
        custom.cookie_names = vec!["__Secure-a".into(), "b".into(), "__host-c".into()];
        let header = format!("b={good}; __Secure-a={good}x; __host-c={other}");
        let order: Vec<String> = credentials(&custom, Some(&s), &[header.as_bytes()], &[], false)
            .iter()
            .filter_map(|e| match e {
                Extracted::Token(Presented {
                    carrier: Carrier::Cookie(n),
                    ..
                })
                | Extracted::Refused {
                    carrier: Carrier::Cookie(n),
                    ..
                } => Some(n.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(order, ["__host-c", "__Secure-a", "b"]);
        assert!(is_prefixed_cookie("__HOST-x") && is_prefixed_cookie("__Secure-x"));
        assert!(!is_prefixed_cookie("_Secure-x") && !is_prefixed_cookie("é"));
        // Stuffing the request with cookies is bounded.
        let many: String = (0..50).map(|i| format!("codex-session=t{i}; ")).collect();
        assert_eq!(
            credentials(&config(), Some(&s), &[many.as_bytes()], &[], false).len(),
            MAX_CANDIDATES
        );
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
