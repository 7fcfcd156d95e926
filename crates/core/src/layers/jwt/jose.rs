//! Compact JWS (RFC 7515 §7.1), read strictly: three base64url segments
//! without padding, a header and a payload that are JSON objects with no
//! member named twice, a known `alg` that is not `none`, and no `crit`.
//! Only the header's `alg`, `kid` and `typ` are read; keys a token carries
//! or points to (`jwk`, `jku`, `x5c`, `x5u`) are never used.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::algorithms::Algorithm;
use super::reason::Reason;

/// Largest decoded header: a real one is well under 200 bytes.
pub const MAX_HEADER_BYTES: usize = 1024;

/// The protected header members warden reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The signing algorithm (never `none`).
    pub alg: Algorithm,
    /// The key id, if the token names one.
    pub kid: Option<String>,
    /// The media type of the token, if it says.
    pub typ: Option<String>,
}

/// A compact JWS, parsed but not yet verified.
#[derive(Debug, Clone)]
pub struct Jws<'t> {
    /// The protected header.
    pub header: Header,
    /// The payload's claims.
    pub claims: Map<String, Value>,
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`: what was signed.
    pub signing_input: &'t str,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

/// Parses a compact JWS of at most `max_bytes` bytes.
pub fn parse(token: &str, max_bytes: usize) -> Result<Jws<'_>, Reason> {
    if token.len() > max_bytes {
        return Err(Reason::TooLarge);
    }
    if token.split('.').count() != 3 {
        return Err(Reason::Malformed);
    }
    let (signing_input, signature) = token.rsplit_once('.').ok_or(Reason::Malformed)?;
    let (header, payload) = signing_input.split_once('.').ok_or(Reason::Malformed)?;
    // The header is bounded before it is decoded.
    if header.len() > MAX_HEADER_BYTES.div_ceil(3) * 4 {
        return Err(Reason::HeaderTooLarge);
    }
    let header = parse_header(&decode_segment(header)?)?;
    let claims = object(&decode_segment(payload)?)?;
    Ok(Jws {
        header,
        claims,
        signing_input,
        signature: decode_segment(signature)?,
    })
}

/// Strict base64url (RFC 7515 §2): the URL-safe alphabet only, no padding,
/// no whitespace, no stray bits in the last character.
pub fn decode_segment(segment: &str) -> Result<Vec<u8>, Reason> {
    if !segment
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Reason::BadBase64);
    }
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Reason::BadBase64)
}

fn parse_header(bytes: &[u8]) -> Result<Header, Reason> {
    let header = object(bytes)?;
    if header.contains_key("crit") {
        // RFC 7515 §4.1.11: a recipient that does not understand every
        // listed extension must refuse; warden implements none.
        return Err(Reason::CritUnsupported);
    }
    let alg = match header.get("alg") {
        None => return Err(Reason::MissingAlg),
        Some(Value::String(name)) if name == "none" => return Err(Reason::AlgNone),
        Some(Value::String(name)) => Algorithm::from_name(name).ok_or(Reason::UnsupportedAlg)?,
        Some(_) => return Err(Reason::BadHeader),
    };
    let text = |name: &str| match header.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Reason::BadHeader),
    };
    Ok(Header {
        alg,
        kid: text("kid")?,
        typ: text("typ")?,
    })
}

/// A JSON object with no member named twice at any depth (serde_json's own
/// `Value` silently keeps the last, which lets two readers of one token
/// disagree about what it says).
pub fn object(bytes: &[u8]) -> Result<Map<String, Value>, Reason> {
    match strict_json(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err(Reason::NotJsonObject),
    }
}

/// Any JSON text, refused when an object names a member twice.
pub fn strict_json(bytes: &[u8]) -> Result<Value, Reason> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = match deserializer.deserialize_any(StrictVisitor) {
        Ok(v) => v,
        Err(e) if e.to_string().starts_with(DUPLICATE) => return Err(Reason::DuplicateMember),
        Err(_) => return Err(Reason::NotJsonObject),
    };
    deserializer.end().map_err(|_| Reason::NotJsonObject)?;
    Ok(value)
}

const DUPLICATE: &str = "duplicate member";

/// Builds a `Value` like serde_json's, but refuses duplicate members.
struct StrictVisitor;

/// One nested value, read by the same visitor.
struct Strict(Value);

impl<'de> de::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Strict, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let Strict(value) = access.next_value()?;
            if map.insert(key, value).is_some() {
                return Err(de::Error::custom(DUPLICATE));
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64(payload))
    }

    #[test]
    fn a_well_formed_token_parses() {
        let t = token(
            r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#,
            r#"{"sub":"u1"}"#,
        );
        let jws = parse(&t, 8192).unwrap();
        assert_eq!(jws.header.alg, Algorithm::Hs256);
        assert_eq!(jws.header.kid.as_deref(), Some("k1"));
        assert_eq!(jws.header.typ.as_deref(), Some("JWT"));
        assert_eq!(jws.claims["sub"], "u1");
        assert_eq!(jws.signature, b"sig");
        assert_eq!(jws.signing_input.matches('.').count(), 1);
    }

    #[test]
    fn every_shape_error_has_its_reason() {
        let h = r#"{"alg":"HS256"}"#;
        let p = r#"{"sub":"u1"}"#;
        let good = token(h, p);
        let cases: Vec<(String, Reason)> = vec![
            ("a.b".into(), Reason::Malformed),
            ("a.b.c.d".into(), Reason::Malformed),
            (format!("{good}."), Reason::Malformed),
            (format!("{}=.{}.c2ln", b64(h), b64(p)), Reason::BadBase64),
            (format!("{}.{}.c2ln=", b64(h), b64(p)), Reason::BadBase64),
            (format!("{}.{}+.c2ln", b64(h), b64(p)), Reason::BadBase64),
            (format!("{}.{}.c2l/", b64(h), b64(p)), Reason::BadBase64),
            (format!("{}.{} .c2ln", b64(h), b64(p)), Reason::BadBase64),
            // A last character with stray low bits ("si" is "c2k").
            (format!("{}.{}.c2l", b64(h), b64(p)), Reason::BadBase64),
            (format!("{}.{}.c", b64(h), b64(p)), Reason::BadBase64),
            (token(h, "[1]"), Reason::NotJsonObject),
            (token(h, "{} x"), Reason::NotJsonObject),
            (token("{", p), Reason::NotJsonObject),
            (
                token(r#"{"alg":"HS256","alg":"none"}"#, p),
                Reason::DuplicateMember,
            ),
            (
                token(h, r#"{"sub":"a","sub":"b"}"#),
                Reason::DuplicateMember,
            ),
            (token(h, r#"{"x":{"a":1,"a":2}}"#), Reason::DuplicateMember),
            (
                token(h, r#"{"x":[{"a":1,"a":2}]}"#),
                Reason::DuplicateMember,
            ),
            (token(r#"{"typ":"JWT"}"#, p), Reason::MissingAlg),
            (token(r#"{"alg":"none"}"#, p), Reason::AlgNone),
            (token(r#"{"alg":"None"}"#, p), Reason::UnsupportedAlg),
            (token(r#"{"alg":"HS1"}"#, p), Reason::UnsupportedAlg),
            (token(r#"{"alg":256}"#, p), Reason::BadHeader),
            (token(r#"{"alg":"HS256","kid":7}"#, p), Reason::BadHeader),
            (
                token(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#, p),
                Reason::CritUnsupported,
            ),
            (
                token(r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#, p),
                Reason::CritUnsupported,
            ),
            (
                token(
                    &format!(r#"{{"alg":"HS256","x":"{}"}}"#, "a".repeat(2000)),
                    p,
                ),
                Reason::HeaderTooLarge,
            ),
        ];
        for (t, reason) in cases {
            assert_eq!(parse(&t, 8192).err(), Some(reason), "{t}");
        }
        assert_eq!(parse(&good, good.len() - 1).err(), Some(Reason::TooLarge));
        assert!(parse(&good, good.len()).is_ok());
    }

    #[test]
    fn the_reason_never_holds_the_token() {
        let reason = parse("secret.token.here", 8192).unwrap_err();
        assert!(!format!("{reason:?} {reason}").contains("secret"));
    }

    #[test]
    fn strict_json_keeps_what_serde_json_keeps() {
        let text = br#"{"a":[1,-2,3.5,true,null,"x"],"b":{"c":{}}}"#;
        let ours = strict_json(text).unwrap();
        let theirs: Value = serde_json::from_slice(text).unwrap();
        assert_eq!(ours, theirs);
    }
}
