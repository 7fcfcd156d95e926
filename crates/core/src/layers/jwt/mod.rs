//! Bearer JWTs (`auth = "jwt"`): compact JWS verified against pinned keys,
//! and Better Auth's JWT session cookie cache. Pure: the component's stage
//! finds the token, loads the keys (variables, Better Auth's `jwks` table,
//! a fetched `jwks_url`) and passes the clock; everything decided is here.
//!
//! Owns `[jwt]` and a route's `jwt` key. Ports asked through the component:
//! variables (secret, JWK Set), SQLite (`jwks` table: `id`, `publicKey`,
//! `alg`; never `privateKey`), key-value and outbound HTTP (`jwks_url`).
//! Answers 401 with `WWW-Authenticate: Bearer ...` ([`www_authenticate`])
//! and, for a missing role, 403 with `error="insufficient_scope"`.
//!
//! ```
//! use warden_core::layers::jwt::{self, JwtSettings, Key, Keyring, Algorithm, Reason};
//!
//! // RFC 7515 A.1: an HS256 token (whose exp, 1300819380, is long past).
//! let secret = jwt::testing::rfc7515_a1_secret();
//! let mut keys = Keyring::new();
//! keys.push(Key::hmac(&secret, Algorithm::Hs256, None).unwrap()).unwrap();
//! let settings = JwtSettings::default();
//! let token = jwt::testing::RFC7515_A1_TOKEN;
//! assert_eq!(jwt::verify_bearer(&settings, &keys, token, 1_300_819_000).unwrap_err(), Reason::MissingSubject);
//! assert_eq!(jwt::verify_bearer(&settings, &keys, token, 1_400_000_000).unwrap_err(), Reason::Expired);
//! assert_eq!(
//!     jwt::www_authenticate("warden", Some(Reason::Expired)),
//!     r#"Bearer realm="warden", error="invalid_token""#
//! );
//! ```

mod algorithms;
mod claims;
pub mod config;
pub mod cookie_cache;
mod jose;
mod jwk;
mod reason;
#[cfg(test)]
mod tests;
pub mod variables;

pub use algorithms::{Algorithm, Material};
pub use claims::{CheckedClaims, ClaimRules};
pub use config::{JWT, Jwt, JwtSettings, RouteJwt, TokenSource};
pub use jose::{Header, Jws, MAX_HEADER_BYTES, parse};
pub use jwk::{JwksOrigin, Key, KeyProblem, Keyring, LoadOptions, Loaded, SkippedKey};
pub use reason::Reason;

/// The header the verified claims go to the app in (base64url JSON).
pub const CLAIMS_HEADER: &str = "x-warden-jwt-claims";

/// A token that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The algorithm it was signed with.
    pub alg: Algorithm,
    /// The `kid` of the key that verified it, if it has one.
    pub kid: Option<String>,
    /// `sub`, roles, the claims header.
    pub claims: CheckedClaims,
}

/// Verifies a bearer token with `settings` (already merged with the
/// route's `jwt`) and `keys`, at `now` (unix seconds). Cheap checks first:
/// size, shape, header, allowlist, key; then the signature; then claims.
pub fn verify_bearer(
    settings: &JwtSettings,
    keys: &Keyring,
    token: &str,
    now: i64,
) -> Result<VerifiedToken, Reason> {
    let jws = jose::parse(token, settings.max_token_bytes)?;
    if !settings.algorithms.contains(&jws.header.alg) {
        return Err(Reason::AlgNotAllowed);
    }
    if let Some(required) = &settings.typ
        && !typ_matches(jws.header.typ.as_deref(), required)
    {
        return Err(Reason::WrongType);
    }
    let key = keys.select(jws.header.alg, jws.header.kid.as_deref())?;
    algorithms::verify(
        jws.header.alg,
        &key.material,
        jws.signing_input.as_bytes(),
        &jws.signature,
    )?;
    let rules = ClaimRules {
        issuer: settings.issuer.as_deref(),
        audience: &settings.audience,
        leeway: settings.leeway,
        require_exp: settings.require_exp,
        exact: &settings.claims,
        roles_claim: &settings.roles_claim,
        max_claims_header: settings.max_claims_header_bytes,
    };
    Ok(VerifiedToken {
        alg: jws.header.alg,
        kid: key.kid.clone(),
        claims: claims::check(&jws.claims, &rules, now)?,
    })
}

/// `typ` compared as a media type (RFC 7515 §4.1.9): case-insensitively,
/// with the `application/` prefix optional.
fn typ_matches(found: Option<&str>, required: &str) -> bool {
    let short = |t: &str| {
        let lower = t.to_ascii_lowercase();
        match lower.strip_prefix("application/") {
            Some(rest) => rest.to_owned(),
            None => lower,
        }
    };
    found.is_some_and(|f| short(f) == short(required))
}

/// The token from the first of `sources` that the request has: `header`
/// looks a request header up by lower-case name, `cookie` a cookie by name.
/// `Authorization` counts only with the `Bearer` scheme (any case) and one
/// token after it.
pub fn find_token<'r>(
    sources: &[TokenSource],
    header: impl Fn(&str) -> Option<&'r str>,
    cookie: impl Fn(&str) -> Option<&'r str>,
) -> Option<&'r str> {
    sources.iter().find_map(|source| match source {
        TokenSource::Authorization => header("authorization").and_then(bearer_token),
        TokenSource::Cookie(name) => cookie(name).filter(|t| !t.is_empty()),
        TokenSource::Header(name) => header(name).map(str::trim).filter(|t| !t.is_empty()),
    })
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1).
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains([' ', '\t']))
        .then_some(token)
}

/// What a 401 or 403 says in `WWW-Authenticate` (RFC 6750 §3): no `error`
/// for a request without a token, `invalid_token` for a refused one.
pub fn www_authenticate(realm: &str, refused: Option<Reason>) -> String {
    match refused {
        Some(r) if !r.is_missing() => format!(r#"Bearer realm="{realm}", error="invalid_token""#),
        _ => format!(r#"Bearer realm="{realm}""#),
    }
}

/// `WWW-Authenticate` of a 403 for a token without a required role.
pub fn www_authenticate_insufficient_scope(realm: &str) -> String {
    format!(r#"Bearer realm="{realm}", error="insufficient_scope""#)
}

/// Known-answer material for examples and tests.
#[doc(hidden)]
pub mod testing {
    /// RFC 7515 A.1's compact JWS (HS256).
    pub const RFC7515_A1_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    /// RFC 7515 A.1's HMAC key (its JWK `k`, decoded).
    pub fn rfc7515_a1_secret() -> Vec<u8> {
        super::jose::decode_segment(
            "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
        )
        .unwrap_or_default()
    }
}
