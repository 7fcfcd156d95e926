//! The body layer's decisions, as plain functions: the declared length,
//! the content type, the byte count and the JSON shape as the body streams
//! ([`BodyGuard`]), and the `Allow` value of a 405.

use crate::base::denial::{Denial, Rejection};

use super::config::BodyConfig;
use super::json_scan::{JsonLimits, JsonRefusal, Scanner};

/// The status of a body over the limit.
pub const TOO_LARGE_STATUS: u16 = 413;
/// The status of a content type the route does not take.
pub const UNSUPPORTED_STATUS: u16 = 415;
/// The status of malformed JSON or JSON over a limit.
pub const INVALID_JSON_STATUS: u16 = 400;

/// The 413 body, byte for byte the signature layer's `PayloadTooLarge`
/// (one refusal, one body, whichever layer counted the bytes).
pub const TOO_LARGE_BODY: &str =
    r#"{"error":{"code":"PAYLOAD_TOO_LARGE","message":"Request body too large"}}"#;
/// The 415 body.
pub const UNSUPPORTED_BODY: &str =
    r#"{"error":{"code":"UNSUPPORTED_MEDIA_TYPE","message":"Unsupported content type"}}"#;

/// Why the body layer refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefusal {
    /// 413: declared or counted past `limit`.
    TooLarge,
    /// 415: a body whose media type is not in `content_types`.
    UnsupportedMediaType,
    /// 400: the JSON scanner's refusal, with the limits it ran with (for
    /// the message's number).
    Json(JsonRefusal, JsonLimits),
}

impl BodyRefusal {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            BodyRefusal::TooLarge => TOO_LARGE_STATUS,
            BodyRefusal::UnsupportedMediaType => UNSUPPORTED_STATUS,
            BodyRefusal::Json(..) => INVALID_JSON_STATUS,
        }
    }

    /// The machine-readable code: `PAYLOAD_TOO_LARGE`,
    /// `UNSUPPORTED_MEDIA_TYPE`, `INVALID_JSON` (not JSON) or
    /// `JSON_LIMIT_EXCEEDED` (JSON over one of the route's limits).
    pub fn code(&self) -> &'static str {
        match self {
            BodyRefusal::TooLarge => "PAYLOAD_TOO_LARGE",
            BodyRefusal::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            BodyRefusal::Json(JsonRefusal::Malformed, _) => "INVALID_JSON",
            BodyRefusal::Json(..) => "JSON_LIMIT_EXCEEDED",
        }
    }

    /// The public message: it names the limit and its number, never any
    /// of the body.
    pub fn message(&self) -> String {
        match self {
            BodyRefusal::TooLarge => "Request body too large".into(),
            BodyRefusal::UnsupportedMediaType => "Unsupported content type".into(),
            BodyRefusal::Json(refusal, limits) => match refusal {
                JsonRefusal::Depth => format!("JSON nesting deeper than {}", limits.max_depth),
                JsonRefusal::ArrayItems => {
                    format!("JSON array with more than {} items", limits.max_array_items)
                }
                JsonRefusal::StringChars => format!(
                    "JSON string longer than {} characters",
                    limits.max_string_chars
                ),
                JsonRefusal::ObjectKeys => {
                    format!("JSON object with more than {} keys", limits.max_object_keys)
                }
                JsonRefusal::TotalKeys => format!(
                    "JSON document with more than {} keys",
                    limits.max_total_keys.unwrap_or(u64::MAX)
                ),
                JsonRefusal::Nul => "JSON string with a NUL character".into(),
                JsonRefusal::Malformed => "Malformed JSON".into(),
            },
        }
    }

    /// A short name for logs: `too_large`, `unsupported_media_type`, or
    /// `json_` and the scanner's limit name (`json_depth`, `json_malformed`).
    pub fn kind(&self) -> &'static str {
        match self {
            BodyRefusal::TooLarge => "too_large",
            BodyRefusal::UnsupportedMediaType => "unsupported_media_type",
            BodyRefusal::Json(refusal, _) => match refusal {
                JsonRefusal::Depth => "json_depth",
                JsonRefusal::ArrayItems => "json_array_items",
                JsonRefusal::StringChars => "json_string_chars",
                JsonRefusal::ObjectKeys => "json_object_keys",
                JsonRefusal::TotalKeys => "json_total_keys",
                JsonRefusal::Nul => "json_nul",
                JsonRefusal::Malformed => "json_malformed",
            },
        }
    }

    /// The JSON body: `{"error":{"code":"…","message":"…"}}`.
    pub fn body(&self) -> String {
        match self {
            BodyRefusal::TooLarge => TOO_LARGE_BODY.into(),
            BodyRefusal::UnsupportedMediaType => UNSUPPORTED_BODY.into(),
            BodyRefusal::Json(..) => crate::base::log::json(&serde_json::json!({
                "error": { "code": self.code(), "message": self.message() }
            })),
        }
    }
}

impl From<BodyRefusal> for Denial {
    fn from(refusal: BodyRefusal) -> Denial {
        Denial {
            status: refusal.status(),
            body: refusal.body(),
        }
    }
}

/// Before the app is called: a declared `content-length` past the limit.
///
/// ```
/// use warden_core::layers::body::{BodyConfig, BodyRefusal, check_declared_length};
///
/// let config = BodyConfig { limit: 100, ..BodyConfig::default() };
/// assert_eq!(check_declared_length(&config, Some(100)), Ok(()));
/// assert_eq!(check_declared_length(&config, Some(101)), Err(BodyRefusal::TooLarge));
/// assert_eq!(check_declared_length(&config, None), Ok(())); // counted as it streams
/// ```
pub fn check_declared_length(
    config: &BodyConfig,
    content_length: Option<u64>,
) -> Result<(), BodyRefusal> {
    match content_length {
        Some(n) if n > config.limit => Err(BodyRefusal::TooLarge),
        _ => Ok(()),
    }
}

/// The media type of a `Content-Type` value: `type/subtype`, lowercase,
/// without parameters or spaces; `None` when it is not one.
pub fn media_type(value: &str) -> Option<String> {
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim_matches([' ', '\t']);
    let (t, sub) = essence.split_once('/')?;
    let token = |s: &str| !s.is_empty() && s.bytes().all(crate::base::fields::is_tchar);
    (token(t) && token(sub)).then(|| essence.to_ascii_lowercase())
}

/// Before the app is called: a body whose media type the route does not
/// take. `content_types` are the request's `Content-Type` field values;
/// `has_body` is whether it has one (a `content-length` above 0, or a body
/// of unknown length). A request without a body passes; one with a body
/// and no, several or an unreadable `Content-Type` is refused.
///
/// ```
/// use warden_core::layers::body::{BodyConfig, BodyRefusal, check_content_type};
///
/// let config = BodyConfig {
///     content_types: Some(vec!["application/json".into()]),
///     ..BodyConfig::default()
/// };
/// assert_eq!(check_content_type(&config, &["Application/JSON; charset=UTF-8"], true), Ok(()));
/// assert_eq!(check_content_type(&config, &["text/plain"], true), Err(BodyRefusal::UnsupportedMediaType));
/// assert_eq!(check_content_type(&config, &[], false), Ok(()));
/// ```
pub fn check_content_type(
    config: &BodyConfig,
    content_types: &[&str],
    has_body: bool,
) -> Result<(), BodyRefusal> {
    let Some(allowed) = &config.content_types else {
        return Ok(());
    };
    if !has_body {
        return Ok(());
    }
    match content_types {
        [one] if media_type(one).is_some_and(|m| allowed.contains(&m)) => Ok(()),
        _ => Err(BodyRefusal::UnsupportedMediaType),
    }
}

/// The body as it streams to the app: its bytes counted against `limit`
/// and, on a route with `json`, every chunk through the scanner. Holds no
/// part of the body.
///
/// ```
/// use warden_core::layers::body::{BodyConfig, BodyGuard, BodyRefusal};
/// use warden_core::layers::body::json_scan::{JsonLimits, JsonRefusal};
///
/// let config = BodyConfig { limit: 16, json: Some(JsonLimits::STRICT), content_types: None };
/// let mut guard = BodyGuard::new(&config);
/// guard.feed(br#"{"a":"#).unwrap();
/// guard.feed(br#"[1,2]}"#).unwrap();
/// assert_eq!(guard.finish(), Ok(()));
///
/// let mut guard = BodyGuard::new(&config);
/// assert_eq!(guard.feed(&[b' '; 17]), Err(BodyRefusal::TooLarge));
/// let mut guard = BodyGuard::new(&config);
/// guard.feed(b"[1,").unwrap();
/// let refused = guard.finish().unwrap_err();
/// assert_eq!(refused, BodyRefusal::Json(JsonRefusal::Malformed, JsonLimits::STRICT));
/// ```
#[derive(Debug, Clone)]
pub struct BodyGuard {
    limit: u64,
    seen: u64,
    json: Option<(Scanner, JsonLimits)>,
}

impl BodyGuard {
    /// A guard for one request's body under the route's merged config.
    pub fn new(config: &BodyConfig) -> BodyGuard {
        BodyGuard {
            limit: config.limit,
            seen: 0,
            json: config.json.map(|limits| (Scanner::new(limits), limits)),
        }
    }

    /// Bytes counted so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The next chunk, before it is passed on. On a refusal the adapter
    /// stops passing the body on (see docs/hardening.md for a refusal
    /// after the app has part of it). The limit is checked first, so a
    /// chunk that crosses it is a 413 whatever JSON it holds.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), BodyRefusal> {
        self.seen = self.seen.saturating_add(chunk.len() as u64);
        if self.seen > self.limit {
            return Err(BodyRefusal::TooLarge);
        }
        if let Some((scanner, limits)) = &mut self.json {
            scanner
                .feed(chunk)
                .map_err(|refusal| BodyRefusal::Json(refusal, *limits))?;
        }
        Ok(())
    }

    /// The end of the body. An empty body on a `json` route passes (a
    /// request without a body, such as a DELETE); a non-empty one must be
    /// one complete JSON value.
    pub fn finish(&mut self) -> Result<(), BodyRefusal> {
        match &mut self.json {
            Some((scanner, limits)) if self.seen > 0 => scanner
                .finish()
                .map_err(|refusal| BodyRefusal::Json(refusal, *limits)),
            _ => Ok(()),
        }
    }
}

/// The `Allow` value of a 405: the methods of the routes whose path
/// matches a request that no route matched, given as each such route's
/// `methods` (`None` for a route that takes any method). `None` when a
/// 405 does not apply: no route has the path, or one takes any method.
/// Uppercase, sorted, without duplicates; `HEAD` is added with `GET`, as
/// route matching treats them.
///
/// ```
/// use warden_core::layers::body::allow_value;
///
/// let get = vec!["GET".to_string()];
/// let post = vec!["POST".to_string(), "GET".to_string()];
/// assert_eq!(allow_value([Some(&get[..]), Some(&post[..])]), Some("GET, HEAD, POST".into()));
/// assert_eq!(allow_value([Some(&get[..]), None]), None);
/// assert_eq!(allow_value(std::iter::empty::<Option<&[String]>>()), None);
/// ```
pub fn allow_value<'a>(
    routes_for_path: impl IntoIterator<Item = Option<&'a [String]>>,
) -> Option<String> {
    let mut methods: Vec<String> = Vec::new();
    let mut any_route = false;
    for route in routes_for_path {
        any_route = true;
        for method in route? {
            let method = method.to_ascii_uppercase();
            if method == "GET" {
                methods.push("HEAD".into());
            }
            methods.push(method);
        }
    }
    if !any_route || methods.is_empty() {
        return None;
    }
    methods.sort();
    methods.dedup();
    Some(methods.join(", "))
}

/// The 405 for a method no route on the path takes, with its `Allow`.
pub fn method_not_allowed(allow: String) -> (Denial, (&'static str, String)) {
    (Rejection::MethodNotAllowed.into(), ("allow", allow))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(limit: u64, json: Option<JsonLimits>) -> BodyConfig {
        BodyConfig {
            limit,
            json,
            content_types: None,
        }
    }

    #[test]
    fn exact_bodies() {
        let cases = [
            (
                BodyRefusal::TooLarge,
                413,
                r#"{"error":{"code":"PAYLOAD_TOO_LARGE","message":"Request body too large"}}"#,
            ),
            (
                BodyRefusal::UnsupportedMediaType,
                415,
                r#"{"error":{"code":"UNSUPPORTED_MEDIA_TYPE","message":"Unsupported content type"}}"#,
            ),
            (
                BodyRefusal::Json(JsonRefusal::Malformed, JsonLimits::STRICT),
                400,
                r#"{"error":{"code":"INVALID_JSON","message":"Malformed JSON"}}"#,
            ),
            (
                BodyRefusal::Json(JsonRefusal::Depth, JsonLimits::STRICT),
                400,
                r#"{"error":{"code":"JSON_LIMIT_EXCEEDED","message":"JSON nesting deeper than 10"}}"#,
            ),
            (
                BodyRefusal::Json(JsonRefusal::ArrayItems, JsonLimits::STRICT),
                400,
                r#"{"error":{"code":"JSON_LIMIT_EXCEEDED","message":"JSON array with more than 1000 items"}}"#,
            ),
            (
                BodyRefusal::Json(JsonRefusal::StringChars, JsonLimits::STRICT),
                400,
                r#"{"error":{"code":"JSON_LIMIT_EXCEEDED","message":"JSON string longer than 10000 characters"}}"#,
            ),
            (
                BodyRefusal::Json(JsonRefusal::ObjectKeys, JsonLimits::STRICT),
                400,
                r#"{"error":{"code":"JSON_LIMIT_EXCEEDED","message":"JSON object with more than 100 keys"}}"#,
            ),
            (
                BodyRefusal::Json(
                    JsonRefusal::TotalKeys,
                    JsonLimits {
                        max_total_keys: Some(500),
                        ..JsonLimits::STRICT
                    },
                ),
                400,
                r#"{"error":{"code":"JSON_LIMIT_EXCEEDED","message":"JSON document with more than 500 keys"}}"#,
            ),
            (
                BodyRefusal::Json(JsonRefusal::Nul, JsonLimits::STRICT),
                400,
                r#"{"error":{"code":"JSON_LIMIT_EXCEEDED","message":"JSON string with a NUL character"}}"#,
            ),
        ];
        for (refusal, status, body) in cases {
            let denial = Denial::from(refusal);
            assert_eq!(
                (denial.status, denial.body.as_str()),
                (status, body),
                "{refusal:?}"
            );
            let parsed: serde_json::Value = serde_json::from_str(&denial.body).unwrap();
            assert_eq!(parsed["error"]["code"], refusal.code());
        }
    }

    #[test]
    fn declared_length_at_the_limit() {
        let c = config(10 << 20, None);
        assert_eq!(check_declared_length(&c, Some(10 << 20)), Ok(()));
        assert_eq!(
            check_declared_length(&c, Some((10 << 20) + 1)),
            Err(BodyRefusal::TooLarge)
        );
        assert_eq!(
            check_declared_length(&c, Some(u64::MAX)),
            Err(BodyRefusal::TooLarge)
        );
        assert_eq!(check_declared_length(&config(0, None), Some(0)), Ok(()));
        assert_eq!(
            check_declared_length(&config(0, None), Some(1)),
            Err(BodyRefusal::TooLarge)
        );
    }

    #[test]
    fn counted_limit_at_the_edge_across_chunks() {
        let c = config(10, None);
        let mut g = BodyGuard::new(&c);
        for _ in 0..10 {
            g.feed(b"x").unwrap();
        }
        assert_eq!(g.seen(), 10);
        assert_eq!(g.finish(), Ok(()));
        assert_eq!(g.feed(b"x"), Err(BodyRefusal::TooLarge));
        let mut g = BodyGuard::new(&c);
        g.feed(b"12345").unwrap();
        assert_eq!(g.feed(b"678901"), Err(BodyRefusal::TooLarge));
        // Empty chunks cost nothing.
        let mut g = BodyGuard::new(&config(0, None));
        g.feed(b"").unwrap();
        assert_eq!(g.finish(), Ok(()));
    }

    #[test]
    fn the_limit_wins_over_json_in_the_same_chunk() {
        let c = config(4, Some(JsonLimits::STRICT));
        let mut g = BodyGuard::new(&c);
        assert_eq!(g.feed(b"xxxxx"), Err(BodyRefusal::TooLarge));
        let mut g = BodyGuard::new(&c);
        assert_eq!(
            g.feed(b"x"),
            Err(BodyRefusal::Json(
                JsonRefusal::Malformed,
                JsonLimits::STRICT
            ))
        );
    }

    #[test]
    fn json_routes_scan_bodies_and_let_empty_ones_through() {
        let c = config(1 << 20, Some(JsonLimits::STRICT));
        let mut g = BodyGuard::new(&c);
        assert_eq!(g.finish(), Ok(()));
        let mut g = BodyGuard::new(&c);
        g.feed(b"  ").unwrap();
        assert_eq!(
            g.finish(),
            Err(BodyRefusal::Json(
                JsonRefusal::Malformed,
                JsonLimits::STRICT
            ))
        );
        let mut g = BodyGuard::new(&c);
        g.feed(br#"{"items":["#).unwrap();
        g.feed(br#"1,2,3]}"#).unwrap();
        assert_eq!(g.finish(), Ok(()));
        // Without json, anything goes.
        let mut g = BodyGuard::new(&config(1 << 20, None));
        g.feed(b"\x00\xff not json").unwrap();
        assert_eq!(g.finish(), Ok(()));
    }

    #[test]
    fn media_types() {
        assert_eq!(
            media_type("application/json"),
            Some("application/json".into())
        );
        assert_eq!(
            media_type(" Application/JSON ; charset=utf-8"),
            Some("application/json".into())
        );
        assert_eq!(
            media_type("application/vnd.api+json;x=1"),
            Some("application/vnd.api+json".into())
        );
        for bad in [
            "",
            "json",
            "application/",
            "/json",
            "application/json/x",
            "a b/c",
            ";a/b",
        ] {
            assert_eq!(media_type(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn content_types_are_compared_without_parameters_or_case() {
        let c = BodyConfig {
            content_types: Some(vec!["application/json".into()]),
            ..BodyConfig::default()
        };
        for ok in [
            "application/json",
            "APPLICATION/JSON",
            "application/json; charset=utf-8",
        ] {
            assert_eq!(check_content_type(&c, &[ok], true), Ok(()), "{ok}");
        }
        for bad in [
            &["text/plain"][..],
            &["application/jsonx"][..],
            &["application/json-patch+json"][..],
            &["json"][..],
            &[][..],
            &["application/json", "application/json"][..],
        ] {
            assert_eq!(
                check_content_type(&c, bad, true),
                Err(BodyRefusal::UnsupportedMediaType),
                "{bad:?}"
            );
        }
        // No body, nothing to refuse; no list, any type.
        assert_eq!(check_content_type(&c, &["text/plain"], false), Ok(()));
        assert_eq!(
            check_content_type(&BodyConfig::default(), &["x/y"], true),
            Ok(())
        );
    }

    #[test]
    fn allow_values() {
        let m = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let a = m(&["post", "DELETE"]);
        let b = m(&["GET", "POST"]);
        assert_eq!(
            allow_value([Some(&a[..]), Some(&b[..])]),
            Some("DELETE, GET, HEAD, POST".into())
        );
        assert_eq!(allow_value([Some(&a[..]), None]), None);
        let (denial, header) = method_not_allowed("GET, HEAD".into());
        assert_eq!(denial.status, 405);
        assert_eq!(
            denial.body,
            r#"{"error":{"code":"METHOD_NOT_ALLOWED","message":"Method not allowed"}}"#
        );
        assert_eq!(header, ("allow", "GET, HEAD".to_string()));
    }
}
