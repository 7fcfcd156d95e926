//! The payload's claims (RFC 7519 §4.1): times, issuer, audience, exact
//! matches, the subject as the user id, and roles from a configurable claim.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::reason::Reason;

/// Deepest roles path (`realm_access.roles` is 2).
pub const MAX_ROLES_PATH_DEPTH: usize = 8;
/// Most roles taken from a token.
pub const MAX_ROLES: usize = 64;
/// Longest role.
pub const MAX_ROLE_BYTES: usize = 255;
/// Longest `sub`.
pub const MAX_SUBJECT_BYTES: usize = 255;

/// What the claims must say, from the merged `[jwt]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRules<'a> {
    /// Required `iss`, exact.
    pub issuer: Option<&'a str>,
    /// Accepted `aud` values; a token must name one. Empty: not checked.
    pub audience: &'a [String],
    /// Seconds of clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: u64,
    /// Whether a token without `exp` is refused.
    pub require_exp: bool,
    /// Claims that must be present with exactly this value.
    pub exact: &'a [(String, Value)],
    /// The dot path of the roles claim.
    pub roles_claim: &'a str,
    /// Largest `x-warden-jwt-claims` value, in bytes.
    pub max_claims_header: usize,
}

/// The claims, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedClaims {
    /// `sub`.
    pub user_id: String,
    /// Roles from the roles claim.
    pub roles: Vec<String>,
    /// The claims as base64url JSON, for `x-warden-jwt-claims`; `None`
    /// when larger than the limit.
    pub claims_header: Option<String>,
    /// Whether the header was left out for its size.
    pub claims_header_omitted: bool,
    /// `exp`, when the token has one (unix seconds).
    pub expires_at: Option<i64>,
}

/// Checks `claims` at `now` (unix seconds).
pub fn check(
    claims: &Map<String, Value>,
    rules: &ClaimRules<'_>,
    now: i64,
) -> Result<CheckedClaims, Reason> {
    let leeway = i64::try_from(rules.leeway).unwrap_or(i64::MAX);
    let exp = numeric_date(claims, "exp")?;
    match exp {
        None if rules.require_exp => return Err(Reason::MissingExp),
        Some(exp) if now >= exp.saturating_add(leeway) => return Err(Reason::Expired),
        _ => {}
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && now.saturating_add(leeway) < nbf
    {
        return Err(Reason::NotYetValid);
    }
    if let Some(iat) = numeric_date(claims, "iat")?
        && iat > now.saturating_add(leeway)
    {
        return Err(Reason::IssuedInFuture);
    }
    if let Some(issuer) = rules.issuer
        && claims.get("iss").and_then(Value::as_str) != Some(issuer)
    {
        return Err(Reason::IssuerMismatch);
    }
    if !rules.audience.is_empty() && !audience_matches(claims.get("aud"), rules.audience) {
        return Err(Reason::AudienceMismatch);
    }
    for (name, value) in rules.exact {
        if claims.get(name) != Some(value) {
            return Err(Reason::ClaimMismatch);
        }
    }
    let user_id = subject(claims)?;
    let roles = roles(claims, rules.roles_claim)?;
    let (claims_header, claims_header_omitted) = claims_header(claims, rules.max_claims_header);
    Ok(CheckedClaims {
        user_id,
        roles,
        claims_header,
        claims_header_omitted,
        expires_at: exp,
    })
}

/// A NumericDate (RFC 7519 §2): a JSON number of seconds, fractions
/// rounded down.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, Reason> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else {
                match n.as_f64() {
                    Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.floor() as i64)),
                    _ => Err(Reason::BadTimeClaim),
                }
            }
        }
        Some(_) => Err(Reason::BadTimeClaim),
    }
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
fn audience_matches(aud: Option<&Value>, accepted: &[String]) -> bool {
    match aud {
        Some(Value::String(a)) => accepted.contains(a),
        Some(Value::Array(items)) => items
            .iter()
            .any(|i| i.as_str().is_some_and(|a| accepted.iter().any(|x| x == a))),
        _ => false,
    }
}

/// `sub`: 1..=255 visible ASCII characters, so it is safe in a header.
fn subject(claims: &Map<String, Value>) -> Result<String, Reason> {
    match claims.get("sub") {
        None => Err(Reason::MissingSubject),
        Some(Value::String(s))
            if !s.is_empty()
                && s.len() <= MAX_SUBJECT_BYTES
                && s.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(s.clone())
        }
        Some(_) => Err(Reason::BadSubject),
    }
}

/// Roles from the claim at `path` (dots separate members): a string is a
/// list split on commas and spaces (Better Auth's `role` is `"admin,user"`,
/// OAuth's `scope` is `"read write"`), an array a list of strings. A
/// missing claim is no roles.
pub fn roles(claims: &Map<String, Value>, path: &str) -> Result<Vec<String>, Reason> {
    let mut parts = path.split('.');
    let first = parts.next().unwrap_or_default();
    let mut value = claims.get(first);
    for (depth, part) in parts.enumerate() {
        if depth + 1 >= MAX_ROLES_PATH_DEPTH {
            return Err(Reason::BadRoles);
        }
        value = value.and_then(|v| v.get(part));
    }
    let roles: Vec<String> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s
            .split([',', ' '])
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or(Reason::BadRoles))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(Reason::BadRoles),
    };
    let fits = |r: &String| {
        !r.is_empty() && r.len() <= MAX_ROLE_BYTES && r.bytes().all(|b| b.is_ascii_graphic())
    };
    if roles.len() > MAX_ROLES || !roles.iter().all(fits) {
        return Err(Reason::BadRoles);
    }
    Ok(roles)
}

/// The verified claims as base64url JSON, unless longer than `limit`.
fn claims_header(claims: &Map<String, Value>, limit: usize) -> (Option<String>, bool) {
    let json = serde_json::to_vec(claims).unwrap_or_default();
    if json.len().div_ceil(3) * 4 > limit {
        return (None, true);
    }
    (Some(URL_SAFE_NO_PAD.encode(json)), false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn rules<'a>(audience: &'a [String], exact: &'a [(String, Value)]) -> ClaimRules<'a> {
        ClaimRules {
            issuer: Some("https://auth.example.com"),
            audience,
            leeway: 60,
            require_exp: true,
            exact,
            roles_claim: "role",
            max_claims_header: 4096,
        }
    }

    #[test]
    fn a_good_token_gives_its_subject_and_roles() {
        let aud = vec!["api".to_string()];
        let c = claims(
            json!({"sub":"u1","iss":"https://auth.example.com","aud":["x","api"],
            "exp": NOW + 10, "nbf": NOW, "iat": NOW, "role":"admin,user"}),
        );
        let checked = check(&c, &rules(&aud, &[]), NOW).unwrap();
        assert_eq!(checked.user_id, "u1");
        assert_eq!(checked.roles, ["admin", "user"]);
        let header = checked.claims_header.unwrap();
        let back: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(back["sub"], "u1");
    }

    #[test]
    fn every_claim_refusal() {
        let aud = vec!["api".to_string()];
        let exact = vec![("tenant".to_string(), json!("acme"))];
        let base = json!({"sub":"u1","iss":"https://auth.example.com","aud":"api","exp": NOW + 10,"tenant":"acme"});
        let with = |k: &str, v: Value| {
            let mut c = claims(base.clone());
            if v.is_null() {
                c.remove(k);
            } else {
                c.insert(k.into(), v);
            }
            c
        };
        let cases = [
            (with("exp", Value::Null), Reason::MissingExp),
            (with("exp", json!(NOW - 60)), Reason::Expired),
            (with("exp", json!("soon")), Reason::BadTimeClaim),
            (with("nbf", json!(NOW + 61)), Reason::NotYetValid),
            (with("iat", json!(NOW + 61)), Reason::IssuedInFuture),
            (
                with("iss", json!("https://evil.example.com")),
                Reason::IssuerMismatch,
            ),
            (with("iss", Value::Null), Reason::IssuerMismatch),
            (with("aud", json!("other")), Reason::AudienceMismatch),
            (with("aud", json!(["other", 1])), Reason::AudienceMismatch),
            (with("aud", Value::Null), Reason::AudienceMismatch),
            (with("tenant", json!("evil")), Reason::ClaimMismatch),
            (with("sub", Value::Null), Reason::MissingSubject),
            (with("sub", json!("")), Reason::BadSubject),
            (with("sub", json!("a b")), Reason::BadSubject),
            (with("sub", json!("x".repeat(256))), Reason::BadSubject),
            (with("sub", json!(7)), Reason::BadSubject),
            (with("role", json!(7)), Reason::BadRoles),
            (with("role", json!(["a", 1])), Reason::BadRoles),
        ];
        for (c, reason) in cases {
            assert_eq!(
                check(&c, &rules(&aud, &exact), NOW).err(),
                Some(reason),
                "{c:?}"
            );
        }
        // Within the leeway, and exp optional when so configured.
        assert!(check(&with("exp", json!(NOW - 59)), &rules(&aud, &exact), NOW).is_ok());
        let mut lax = rules(&aud, &exact);
        lax.require_exp = false;
        assert!(check(&with("exp", Value::Null), &lax, NOW).is_ok());
        assert!(check(&with("exp", json!(NOW as f64 + 0.5)), &lax, NOW).is_ok());
    }

    #[test]
    fn roles_from_each_shape() {
        let c = claims(
            json!({"roles":["a","b"],"scope":"read write","realm_access":{"roles":["r"]},"n":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":"x"}}}}}}}}}),
        );
        assert_eq!(roles(&c, "roles").unwrap(), ["a", "b"]);
        assert_eq!(roles(&c, "scope").unwrap(), ["read", "write"]);
        assert_eq!(roles(&c, "realm_access.roles").unwrap(), ["r"]);
        assert_eq!(roles(&c, "role").unwrap(), Vec::<String>::new());
        assert_eq!(roles(&c, "n.a.b.c.d.e.f.g.h"), Err(Reason::BadRoles));
        let many = claims(json!({"roles": vec!["r"; 65]}));
        assert_eq!(roles(&many, "roles"), Err(Reason::BadRoles));
    }

    #[test]
    fn an_oversized_claims_header_is_left_out_and_flagged() {
        let aud: Vec<String> = Vec::new();
        let c = claims(json!({"sub":"u1","exp": NOW + 10,"pad":"x".repeat(5000)}));
        let mut r = rules(&aud, &[]);
        r.issuer = None;
        let checked = check(&c, &r, NOW).unwrap();
        assert_eq!(
            (checked.claims_header, checked.claims_header_omitted),
            (None, true)
        );
    }
}
