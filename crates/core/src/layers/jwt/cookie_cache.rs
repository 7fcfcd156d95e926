//! Better Auth's session cookie cache signed as a JWT (Better Auth 1.7,
//! `session.cookieCache.strategy = "jwt"` with `jwt({ sessionCookieCache:
//! true })`): a session source that needs no database read. Its trade-off:
//! a revoked session stays valid until the cached cookie expires (Better
//! Auth's `cookieCache.maxAge`, 5 minutes by default).
//!
//! What Better Auth 1.7.25 writes (`dist/plugins/jwt/cookie-cache.mjs`,
//! `dist/cookies/index.mjs`): the cookie `[__Secure-]better-auth.session_data`,
//! split into `name.0`, `name.1`, ... when over about 4 KB; a JWS with header
//! `{alg, kid, typ: "better-auth.session-cache+jwt"}` signed by a key of its
//! `jwks` table; payload `{session, user, updatedAt, version, sid, iat, exp,
//! iss, aud, sub}` where `session` and `user` are the whole (filtered)
//! records, `sid` = `session.token`, `sub` = `user.id`, `aud` =
//! `better-auth:session-cache`, `iss` = the base URL. Its own check allows
//! 15 s of clock skew and refuses a payload whose `sub` or `sid` disagrees
//! with the records; so does this one, and also refuses a cache whose
//! `session.expiresAt` has passed.

use serde_json::{Map, Value};

use crate::base::time::parse_iso8601_ms;

use super::claims::{self, ClaimRules};
use super::jose;
use super::jwk::Keyring;
use super::reason::Reason;

/// The header `typ` Better Auth sets.
pub const TYP: &str = "better-auth.session-cache+jwt";
/// The `aud` Better Auth sets.
pub const AUDIENCE: &str = "better-auth:session-cache";
/// Better Auth's `clockTolerance`, in seconds.
pub const CLOCK_TOLERANCE: u64 = 15;
/// The cookie's name over plain HTTP.
pub const COOKIE_NAME: &str = "better-auth.session_data";
/// The cookie's name over HTTPS.
pub const SECURE_COOKIE_NAME: &str = "__Secure-better-auth.session_data";
/// Most chunks reassembled.
pub const MAX_CHUNKS: usize = 16;
/// Largest reassembled cookie, in bytes.
pub const MAX_BYTES: usize = 16 * 1024;

/// A session read from a verified cookie cache.
#[derive(Clone, PartialEq, Eq)]
pub struct CachedSession {
    /// `user.id` (= `sub`).
    pub user_id: String,
    /// Roles from `user.role` (Better Auth's comma-separated string).
    pub roles: Vec<String>,
    /// `session.token` (= `sid`): a credential, never logged.
    pub session_token: String,
    /// `session.expiresAt`, in unix milliseconds.
    pub session_expires_at: i64,
    /// The cookie's own `exp` (unix seconds).
    pub expires_at: i64,
    /// `session.id` (not a credential), empty when the record has none.
    pub session_id: String,
    /// The user record, as cached.
    pub user: Map<String, Value>,
}

impl std::fmt::Debug for CachedSession {
    /// Never the session token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedSession")
            .field("user_id", &self.user_id)
            .field("roles", &self.roles)
            .field("session_token", &"redacted")
            .field("session_expires_at", &self.session_expires_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The cookie `name`'s value from the request's cookies (name, value
/// pairs in request order): the whole cookie, or its chunks `name.0` ..
/// `name.N` joined in index order. `None` when there is neither; refused
/// when the cookie is sent twice, or its chunks repeat, leave a gap, are
/// more than [`MAX_CHUNKS`] or longer than [`MAX_BYTES`] together.
pub fn reassemble(cookies: &[(&str, &str)], name: &str) -> Result<Option<String>, Reason> {
    let mut whole = cookies.iter().filter(|(n, _)| *n == name);
    match (whole.next(), whole.next()) {
        (Some(_), Some(_)) => return Err(Reason::BadChunks),
        (Some((_, value)), None) if value.len() > MAX_BYTES => return Err(Reason::TooLarge),
        (Some((_, value)), None) => return Ok(Some((*value).to_owned())),
        (None, _) => {}
    }
    let mut chunks: Vec<(usize, &str)> = Vec::new();
    for (cookie, value) in cookies {
        let Some(index) = cookie
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(chunk_index)
        else {
            continue;
        };
        if chunks.len() == MAX_CHUNKS || chunks.iter().any(|(i, _)| *i == index) {
            return Err(Reason::BadChunks);
        }
        chunks.push((index, value));
    }
    if chunks.is_empty() {
        return Ok(None);
    }
    chunks.sort_by_key(|(i, _)| *i);
    if chunks.iter().enumerate().any(|(k, (i, _))| k != *i) {
        return Err(Reason::BadChunks);
    }
    if chunks.iter().map(|(_, v)| v.len()).sum::<usize>() > MAX_BYTES {
        return Err(Reason::BadChunks);
    }
    Ok(Some(chunks.iter().map(|(_, v)| *v).collect()))
}

/// A chunk suffix as Better Auth writes it: a decimal index without
/// leading zeros.
fn chunk_index(suffix: &str) -> Option<usize> {
    let canonical = !suffix.is_empty()
        && suffix.len() <= 2
        && suffix.bytes().all(|b| b.is_ascii_digit())
        && (suffix == "0" || !suffix.starts_with('0'));
    canonical.then(|| suffix.parse().ok()).flatten()
}

/// Verifies the cookie cache among `cookies` (see [`reassemble`]) with
/// the `jwks` table's keys, for the app at `issuer` (Better Auth's base
/// URL), at `now`. `Err(Reason::Missing)` when the request has no such
/// cookie, so that the caller can fall back to the database lookup.
pub fn verify_session_cookie(
    cookies: &[(&str, &str)],
    cookie_name: &str,
    issuer: &str,
    keys: &Keyring,
    now: i64,
) -> Result<CachedSession, Reason> {
    let token = reassemble(cookies, cookie_name)?.ok_or(Reason::Missing)?;
    let jws = jose::parse(&token, MAX_BYTES)?;
    if jws.header.typ.as_deref() != Some(TYP) {
        return Err(Reason::WrongType);
    }
    // Better Auth finds the key by kid only, and signs with its own
    // asymmetric keys: never an HMAC secret.
    let kid = jws.header.kid.as_deref().ok_or(Reason::UnknownKid)?;
    let key = keys.select(jws.header.alg, Some(kid))?;
    if key.kid.as_deref() != Some(kid) {
        return Err(Reason::UnknownKid);
    }
    if key.alg.is_hmac() {
        return Err(Reason::AlgMismatch);
    }
    super::algorithms::verify(
        jws.header.alg,
        &key.material,
        jws.signing_input.as_bytes(),
        &jws.signature,
    )?;
    let audience = [AUDIENCE.to_string()];
    let rules = ClaimRules {
        issuer: Some(issuer),
        audience: &audience,
        leeway: CLOCK_TOLERANCE,
        require_exp: true,
        exact: &[],
        roles_claim: "user.role",
        max_claims_header: 0,
    };
    let checked = claims::check(&jws.claims, &rules, now)?;
    let record = |name: &str| match jws.claims.get(name) {
        Some(Value::Object(m)) => Ok(m),
        _ => Err(Reason::BadSessionPayload),
    };
    let (session, user) = (record("session")?, record("user")?);
    let text =
        |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    let (Some(user_id), Some(session_token)) = (text(user, "id"), text(session, "token")) else {
        return Err(Reason::BadSessionPayload);
    };
    let sid = jws.claims.get("sid").and_then(Value::as_str);
    let updated = jws.claims.get("updatedAt").is_some_and(Value::is_number);
    if user_id != checked.user_id || sid != Some(session_token.as_str()) || !updated {
        return Err(Reason::BadSessionPayload);
    }
    // The session itself may end before the cookie does; Better Auth writes
    // the date as ISO 8601 text (JSON of a Date), a Drizzle setup as ms.
    let session_expires_at = match session.get("expiresAt") {
        Some(Value::String(t)) => parse_iso8601_ms(t),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    }
    .ok_or(Reason::BadSessionPayload)?;
    if session_expires_at <= now.saturating_mul(1000) {
        return Err(Reason::Expired);
    }
    Ok(CachedSession {
        user_id,
        roles: checked.roles,
        session_token,
        session_expires_at,
        expires_at: checked.expires_at.unwrap_or(now),
        session_id: text(session, "id").unwrap_or_default(),
        user: user.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_joined_in_index_order() {
        let n = COOKIE_NAME;
        let c = |i: &str| format!("{n}.{i}");
        let (c0, c1, c2) = (c("0"), c("1"), c("2"));
        let cookies = [
            (c1.as_str(), "bb"),
            ("other", "x"),
            (c0.as_str(), "aa"),
            (c2.as_str(), "c"),
        ];
        assert_eq!(reassemble(&cookies, n).unwrap().as_deref(), Some("aabbc"));
        assert_eq!(
            reassemble(&[(n, "whole")], n).unwrap().as_deref(),
            Some("whole")
        );
        assert_eq!(reassemble(&[("x", "y")], n).unwrap(), None);
    }

    #[test]
    fn bad_chunks_are_refused() {
        let n = COOKIE_NAME;
        let c = |i: usize| format!("{n}.{i}");
        let names: Vec<String> = (0..20).map(c).collect();
        let gap = [(names[0].as_str(), "a"), (names[2].as_str(), "c")];
        assert_eq!(reassemble(&gap, n), Err(Reason::BadChunks));
        let dup = [(names[0].as_str(), "a"), (names[0].as_str(), "b")];
        assert_eq!(reassemble(&dup, n), Err(Reason::BadChunks));
        let many: Vec<(&str, &str)> = names.iter().map(|s| (s.as_str(), "a")).collect();
        assert_eq!(reassemble(&many, n), Err(Reason::BadChunks));
        let big = "a".repeat(9000);
        let large = [
            (names[0].as_str(), big.as_str()),
            (names[1].as_str(), big.as_str()),
        ];
        assert_eq!(reassemble(&large, n), Err(Reason::BadChunks));
        assert_eq!(reassemble(&[(n, "a"), (n, "b")], n), Err(Reason::BadChunks));
        // A leading zero is not Better Auth's; without a .0 the rest is a gap.
        let odd = format!("{n}.01");
        assert_eq!(reassemble(&[(odd.as_str(), "a")], n), Ok(None));
        assert_eq!(
            reassemble(&[(names[1].as_str(), "a")], n),
            Err(Reason::BadChunks)
        );
    }
}
