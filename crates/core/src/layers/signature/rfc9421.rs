//! RFC 9421 HTTP Message Signatures with `hmac-sha256`, and RFC 9530
//! `Content-Digest`.
//!
//! ```
//! use warden_core::layers::signature::{sign_rfc9421, RequestView, SignParams};
//!
//! let headers = vec![("content-type".to_string(), b"application/json".to_vec())];
//! let request = RequestView {
//!     method: "POST", scheme: "https", authority: "example.com",
//!     path_and_query: "/foo?param=Value&Pet=dog", headers: &headers,
//! };
//! let params = SignParams {
//!     label: "sig1".into(), keyid: "current".into(), created: 1618884473,
//!     expires: None, nonce: Some("n-1".into()), alg: false,
//! };
//! let signed = sign_rfc9421(&request, &["@method", "@authority", "@path"], &params, b"secret").unwrap();
//! assert_eq!(
//!     signed.signature_input,
//!     r#"sig1=("@method" "@authority" "@path");created=1618884473;nonce="n-1";keyid="current""#
//! );
//! assert!(signed.signature.starts_with("sig1=:") && signed.signature.ends_with(":"));
//! ```
//!
//! Verification, in order (everything before the HMAC reads headers only):
//! 1. `Signature-Input` and `Signature` present, else 401 "Missing
//!    authentication headers";
//! 2. both parse strictly as RFC 8941 dictionaries; every `Signature-Input`
//!    member is an inner list of strings with valid parameters;
//! 3. the first `Signature-Input` member (in order) whose `keyid` is
//!    configured is the one verified; its `Signature` member is a byte
//!    sequence; `alg`, if present, is `hmac-sha256`;
//! 4. `created` is required and checked like seed 000's timestamp (`max_age`,
//!    `future_skew`); a passed `expires` is 401 "Signature expired";
//! 5. the origin allowlist, then the nonce's shape;
//! 6. every covered component is supported, lowercase, unique and present
//!    in the request; the route's required components are covered
//!    (`content-digest` only when the request has a body);
//! 7. (body read) the HMAC over the signature base, constant time;
//! 8. a `Content-Digest` header, when present, matches the body received.
//!
//! Component values come from the request as received: `@path` and `@query`
//! are never normalized; `@authority` is the lower-cased authority the host
//! saw. Component parameters (`;sf`, `;key`, `;bs`, `;req`, `;tr`,
//! `@query-param;name`) are not supported and refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::config::DERIVED_COMPONENTS;
use super::content_digest::{self, DigestCheck};
use super::replay::ReplayId;
use super::{
    Failure, KeySlot, Keys, RequestView, Scheme, SignatureRule, TimeWindow, Verified,
    WorkerSettings, check_nonce, hmac_sha256, hmac_verify,
};
use crate::http::structured_fields::{
    BareItem, Dictionary, Item, Member, Parameters, parse_dictionary, serialize_inner_list,
};

/// The only algorithm warden verifies.
pub const ALG: &str = "hmac-sha256";
const SIGNATURE_INPUT: &str = "Signature-Input";
const SIGNATURE: &str = "Signature";
const CONTENT_DIGEST: &str = "content-digest";

/// The parameters of a signature warden signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignParams {
    /// The dictionary label, such as `sig1`.
    pub label: String,
    /// The key id the verifier maps to a secret.
    pub keyid: String,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds after which the signature is invalid.
    pub expires: Option<u64>,
    /// A unique value for the replay cache.
    pub nonce: Option<String>,
    /// Whether to state `alg="hmac-sha256"`.
    pub alg: bool,
}

/// The two header values of a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rfc9421Signature {
    /// The `Signature-Input` value.
    pub signature_input: String,
    /// The `Signature` value.
    pub signature: String,
}

/// Signs `request` over `components`. The request's headers must already
/// hold every covered field, `Content-Digest` included (see
/// [`content_digest::header_value`]).
pub fn sign_rfc9421(
    request: &RequestView<'_>,
    components: &[&str],
    params: &SignParams,
    secret: &[u8],
) -> Result<Rfc9421Signature, String> {
    if !crate::http::structured_fields::is_key(&params.label) {
        return Err("the label must be a structured-field key such as sig1".into());
    }
    let covered: Vec<String> = components.iter().map(|c| c.to_string()).collect();
    check_components(&covered).map_err(|d| reason(&d))?;
    let mut list: Parameters = vec![("created".into(), BareItem::Integer(to_i64(params.created)?))];
    if let Some(expires) = params.expires {
        list.push(("expires".into(), BareItem::Integer(to_i64(expires)?)));
    }
    if let Some(nonce) = &params.nonce {
        list.push(("nonce".into(), BareItem::String(nonce.clone())));
    }
    list.push(("keyid".into(), BareItem::String(params.keyid.clone())));
    if params.alg {
        list.push(("alg".into(), BareItem::String(ALG.into())));
    }
    let items: Vec<Item> = covered
        .iter()
        .map(|c| (BareItem::String(c.clone()), Vec::new()))
        .collect();
    let serialized = serialize_inner_list(&items, &list)
        .ok_or("the key id and nonce must be printable ASCII")?;
    let base = signature_base(request, &covered, &serialized).map_err(|d| reason(&d))?;
    let tag = hmac_sha256(secret, &[&base]);
    Ok(Rfc9421Signature {
        signature_input: format!("{}={serialized}", params.label),
        signature: format!("{}=:{}:", params.label, STANDARD.encode(tag)),
    })
}

fn to_i64(n: u64) -> Result<i64, String> {
    i64::try_from(n).map_err(|_| "timestamp out of range".to_string())
}

fn reason(denial: &Failure) -> String {
    match denial {
        Failure::InvalidSignatureInput { reason } => reason.clone(),
        other => other.kind().to_string(),
    }
}

/// A request that passed the header checks.
#[derive(Debug, Clone)]
pub struct Pending {
    keyid: String,
    slot: KeySlot,
    signature: Vec<u8>,
    base: Vec<u8>,
    nonce: Option<String>,
    digest_covered: bool,
    digest_required_with_body: bool,
    window: u64,
    pub(super) time: TimeWindow,
}

pub(crate) fn check_headers(
    settings: &WorkerSettings,
    rule: &SignatureRule,
    request: &RequestView<'_>,
    now: u64,
) -> Result<Pending, Failure> {
    let present = |name: &str| request.header_bytes(name).filter(|v| !v.is_empty());
    let (Some(input), Some(signature)) = (present(SIGNATURE_INPUT), present(SIGNATURE)) else {
        return Err(Failure::MissingHeaders {
            required: vec![SIGNATURE_INPUT.into(), SIGNATURE.into()],
        });
    };
    let inputs = dictionary(&input).ok_or_else(|| {
        Failure::input("Signature-Input is not a valid structured-field dictionary")
    })?;
    let signatures = dictionary(&signature)
        .ok_or_else(|| Failure::input("Signature is not a valid structured-field dictionary"))?;

    // Every member must be well-formed, not only the one verified.
    let mut chosen: Option<(&str, &Vec<Item>, &Parameters, String, KeySlot)> = None;
    for (label, member) in &inputs {
        let Member::InnerList(items, params) = member else {
            return Err(Failure::input(
                "Signature-Input members must be inner lists",
            ));
        };
        if items
            .iter()
            .any(|(bare, _)| !matches!(bare, BareItem::String(_)))
        {
            return Err(Failure::input("covered components must be strings"));
        }
        let parsed = SigParams::read(params)?;
        if chosen.is_none()
            && let Some(keyid) = parsed.keyid
            && let Some(slot) = settings.key_for(keyid)
        {
            chosen = Some((label, items, params, keyid.to_string(), slot));
        }
    }
    let Some((label, items, params, keyid, slot)) = chosen else {
        return Err(Failure::input("no signature with a known keyid"));
    };
    let signature = match signatures.iter().find(|(l, _)| l == label) {
        Some((_, Member::Item((BareItem::ByteSequence(bytes), _)))) => bytes.clone(),
        Some(_) => return Err(Failure::input("Signature members must be byte sequences")),
        None => return Err(Failure::input("no Signature for the selected label")),
    };
    let parsed = SigParams::read(params)?;
    if parsed.alg.is_some_and(|alg| alg != ALG) {
        return Err(Failure::input("unsupported alg; expected hmac-sha256"));
    }
    let created = parsed
        .created
        .ok_or_else(|| Failure::input("created parameter is required"))?;
    let time = TimeWindow {
        timestamp: created,
        max_age: settings.max_age,
        future_skew: settings.future_skew,
        expires: parsed.expires,
    };
    time.check(now)?;
    if !settings.origin_allowed(request.origin().as_deref()) {
        return Err(Failure::UnauthorizedOrigin);
    }
    if let Some(nonce) = parsed.nonce {
        check_nonce(nonce)?;
    }

    let covered: Vec<String> = items
        .iter()
        .map(|(bare, component_params)| match bare {
            BareItem::String(name) if component_params.is_empty() => Ok(name.clone()),
            _ => Err(Failure::input("component parameters are not supported")),
        })
        .collect::<Result<_, _>>()?;
    check_components(&covered)?;
    for required in &rule.components {
        if required != CONTENT_DIGEST && !covered.contains(required) {
            return Err(Failure::input(format!(
                "required component not covered: {required}"
            )));
        }
    }
    let serialized = serialize_inner_list(items, params)
        .ok_or_else(|| Failure::input("Signature-Input is not serializable"))?;
    let base = signature_base(request, &covered, &serialized)?;
    Ok(Pending {
        keyid,
        slot,
        signature,
        base,
        nonce: parsed.nonce.map(str::to_owned),
        digest_covered: covered.iter().any(|c| c == CONTENT_DIGEST),
        digest_required_with_body: rule.components.iter().any(|c| c == CONTENT_DIGEST),
        window: settings.max_age + settings.future_skew,
        time,
    })
}

impl Pending {
    pub(crate) fn verify(
        &self,
        request: &RequestView<'_>,
        body: &[u8],
        keys: &Keys<'_>,
    ) -> Result<Verified, Failure> {
        if !body.is_empty() && self.digest_required_with_body && !self.digest_covered {
            return Err(Failure::input(
                "required component not covered: content-digest",
            ));
        }
        let key = keys
            .get(self.slot)
            .ok_or_else(|| Failure::input("no signature with a known keyid"))?;
        if !hmac_verify(key, &[&self.base], &self.signature) {
            return Err(Failure::InvalidSignature);
        }
        if let Some(field) = request.header_bytes(CONTENT_DIGEST) {
            let field = String::from_utf8_lossy(&field);
            match content_digest::check(&field, body) {
                DigestCheck::Match => {}
                DigestCheck::Mismatch => return Err(Failure::DigestMismatch),
                DigestCheck::NoSupportedAlgorithm => {
                    return Err(Failure::input(
                        "Content-Digest has no sha-256 or sha-512 digest",
                    ));
                }
                DigestCheck::Malformed => {
                    return Err(Failure::input("Content-Digest is malformed"));
                }
            }
        }
        let replay = match &self.nonce {
            Some(nonce) => {
                ReplayId::new("rfc9421-nonce", &[self.keyid.as_bytes(), nonce.as_bytes()])
            }
            None => ReplayId::new("rfc9421-signature", &[&self.signature]),
        };
        Ok(Verified {
            scheme: Scheme::Rfc9421,
            key: self.slot,
            keyid: Some(self.keyid.clone()),
            replay: vec![replay],
            window: self.window,
            event_id: None,
        })
    }
}

/// The parameters of one `Signature-Input` member, type-checked.
struct SigParams<'a> {
    created: Option<u64>,
    expires: Option<u64>,
    nonce: Option<&'a str>,
    alg: Option<&'a str>,
    keyid: Option<&'a str>,
}

impl<'a> SigParams<'a> {
    fn read(params: &'a Parameters) -> Result<SigParams<'a>, Failure> {
        let mut out = SigParams {
            created: None,
            expires: None,
            nonce: None,
            alg: None,
            keyid: None,
        };
        for (key, value) in params {
            match (key.as_str(), value) {
                ("created", BareItem::Integer(n)) if *n >= 0 => {
                    out.created = Some(n.unsigned_abs())
                }
                ("expires", BareItem::Integer(n)) if *n >= 0 => {
                    out.expires = Some(n.unsigned_abs())
                }
                ("nonce", BareItem::String(s)) => out.nonce = Some(s),
                ("alg", BareItem::String(s)) => out.alg = Some(s),
                ("keyid", BareItem::String(s)) => out.keyid = Some(s),
                ("tag", BareItem::String(_)) => {}
                ("created" | "expires", _) => {
                    return Err(Failure::input(
                        "created and expires must be non-negative integers",
                    ));
                }
                ("nonce" | "alg" | "keyid" | "tag", _) => {
                    return Err(Failure::input("nonce, alg, keyid and tag must be strings"));
                }
                // Parameters this verifier does not know are covered by the
                // signature (they are in @signature-params) and otherwise ignored.
                _ => {}
            }
        }
        Ok(out)
    }
}

fn dictionary(bytes: &[u8]) -> Option<Dictionary> {
    parse_dictionary(std::str::from_utf8(bytes).ok()?).ok()
}

/// Covered components: supported, lowercase field names or derived ones,
/// each at most once.
fn check_components(covered: &[String]) -> Result<(), Failure> {
    for (i, name) in covered.iter().enumerate() {
        if name.starts_with('@') {
            if !DERIVED_COMPONENTS.contains(&name.as_str()) {
                return Err(Failure::input("unsupported derived component"));
            }
        } else if name.is_empty()
            || !name
                .bytes()
                .all(|b| crate::base::fields::is_tchar(b) && !b.is_ascii_uppercase())
        {
            return Err(Failure::input(
                "component names must be lowercase header names",
            ));
        }
        if covered[..i].contains(name) {
            return Err(Failure::input("duplicate covered component"));
        }
    }
    Ok(())
}

/// The signature base (RFC 9421 §2.5): one line per covered component, then
/// the `@signature-params` line, joined by `\n` with no trailing newline.
fn signature_base(
    request: &RequestView<'_>,
    covered: &[String],
    serialized_params: &str,
) -> Result<Vec<u8>, Failure> {
    let mut base = Vec::new();
    for name in covered {
        let value = if name.starts_with('@') {
            derived(name, request).into_bytes()
        } else {
            request
                .header_bytes(name)
                .ok_or_else(|| Failure::input("a covered header is absent from the request"))?
        };
        if value.iter().any(|&b| b == b'\n' || b == b'\r') {
            return Err(Failure::input("a covered value contains a line break"));
        }
        base.push(b'"');
        base.extend_from_slice(name.as_bytes());
        base.extend_from_slice(b"\": ");
        base.extend_from_slice(&value);
        base.push(b'\n');
    }
    base.extend_from_slice(b"\"@signature-params\": ");
    base.extend_from_slice(serialized_params.as_bytes());
    Ok(base)
}

/// `@authority`: lower-cased, without the scheme's default port (RFC 9421
/// §2.2.3 via RFC 9110 §4.2.3).
fn authority(request: &RequestView<'_>) -> String {
    let authority = request.authority.to_ascii_lowercase();
    let default_port = match request.scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return authority,
    };
    match authority.strip_suffix(default_port) {
        Some(host) if !host.is_empty() && !host.ends_with(':') => host.to_string(),
        _ => authority,
    }
}

/// A derived component's value (RFC 9421 §2.2), from the request as received.
fn derived(name: &str, request: &RequestView<'_>) -> String {
    let (path, query) = match request.path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (request.path_and_query, None),
    };
    let path = if path.is_empty() { "/" } else { path };
    match name {
        "@method" => request.method.to_string(),
        "@authority" => authority(request),
        "@scheme" => request.scheme.to_ascii_lowercase(),
        "@target-uri" => format!(
            "{}://{}{}",
            request.scheme.to_ascii_lowercase(),
            authority(request),
            request.path_and_query
        ),
        "@request-target" => request.path_and_query.to_string(),
        "@path" => path.to_string(),
        "@query" => format!("?{}", query.unwrap_or("")),
        // check_components admits only the names above.
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::signature::content_digest::{Algorithm, header_value};
    use crate::layers::signature::{RouteWorker, verify};

    /// RFC 9421 B.1.5: the shared secret `test-shared-secret`.
    const B15_KEY: &str =
        "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==";
    const B2_BODY: &[u8] = br#"{"hello": "world"}"#;
    const B25_INPUT: &str = r#"sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret""#;
    const B25_SIGNATURE: &str = "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:";
    const B25_BASE: &str = "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\
\"@authority\": example.com\n\
\"content-type\": application/json\n\
\"@signature-params\": (\"date\" \"@authority\" \"content-type\");created=1618884473;keyid=\"test-shared-secret\"";

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: u64 = 1_700_000_000;

    /// The RFC's B.2 test request.
    fn b2_headers() -> Vec<(String, Vec<u8>)> {
        [
            ("Host", "example.com"),
            ("Date", "Tue, 20 Apr 2021 02:07:55 GMT"),
            ("Content-Type", "application/json"),
            (
                "Content-Digest",
                "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
            ),
            ("Content-Length", "18"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect()
    }

    fn b2_request(headers: &[(String, Vec<u8>)]) -> RequestView<'_> {
        RequestView {
            method: "POST",
            scheme: "https",
            authority: "example.com",
            path_and_query: "/foo?param=Value&Pet=dog",
            headers,
        }
    }

    fn b25_settings() -> (WorkerSettings, SignatureRule) {
        let settings = WorkerSettings {
            keyids: vec![("test-shared-secret".into(), KeySlot::Current)],
            ..WorkerSettings::default()
        };
        let rule = settings.rule_for(&RouteWorker {
            scheme: Some(Scheme::Rfc9421),
            components: Some(vec![
                "date".into(),
                "@authority".into(),
                "content-type".into(),
            ]),
            ..RouteWorker::default()
        });
        (settings, rule)
    }

    #[test]
    fn rfc_9421_b_2_5_signature_base_and_signing() {
        let key = STANDARD.decode(B15_KEY).unwrap();
        let headers = b2_headers();
        let request = b2_request(&headers);
        let covered: Vec<String> = ["date", "@authority", "content-type"]
            .map(String::from)
            .to_vec();
        let params = B25_INPUT.strip_prefix("sig-b25=").unwrap();
        assert_eq!(
            String::from_utf8(signature_base(&request, &covered, params).unwrap()).unwrap(),
            B25_BASE
        );
        let signed = sign_rfc9421(
            &request,
            &["date", "@authority", "content-type"],
            &SignParams {
                label: "sig-b25".into(),
                keyid: "test-shared-secret".into(),
                created: 1_618_884_473,
                expires: None,
                nonce: None,
                alg: false,
            },
            &key,
        )
        .unwrap();
        assert_eq!(signed.signature_input, B25_INPUT);
        assert_eq!(signed.signature, B25_SIGNATURE);
    }

    #[test]
    fn rfc_9421_b_2_5_verifies() {
        let key = STANDARD.decode(B15_KEY).unwrap();
        let mut headers = b2_headers();
        headers.push(("Signature-Input".into(), B25_INPUT.as_bytes().to_vec()));
        headers.push(("Signature".into(), B25_SIGNATURE.as_bytes().to_vec()));
        let request = b2_request(&headers);
        let (settings, rule) = b25_settings();
        let keys = Keys {
            current: &key,
            previous: None,
        };
        let now = 1_618_884_473 + 5;
        let v = verify(&settings, &rule, &request, B2_BODY, &keys, now).unwrap();
        assert_eq!(v.scheme, Scheme::Rfc9421);
        assert_eq!(v.keyid.as_deref(), Some("test-shared-secret"));
        // The B.2 Content-Digest (sha-512) is checked against the body too.
        assert_eq!(
            verify(
                &settings,
                &rule,
                &request,
                br#"{"hello": "world!"}"#,
                &keys,
                now
            ),
            Err(Failure::DigestMismatch)
        );
        // The same signature once its time has passed.
        assert_eq!(
            verify(&settings, &rule, &request, B2_BODY, &keys, now + 301),
            Err(Failure::Expired {
                max_age: 300,
                age: 306
            })
        );
        // A different key.
        let wrong = Keys {
            current: SECRET,
            previous: None,
        };
        assert_eq!(
            verify(&settings, &rule, &request, B2_BODY, &wrong, now),
            Err(Failure::InvalidSignature)
        );
    }

    struct Signed {
        headers: Vec<(String, Vec<u8>)>,
    }

    fn sign(
        components: &[&str],
        body: &[u8],
        params: SignParams,
        extra: &[(&str, &str)],
    ) -> Signed {
        let mut headers: Vec<(String, Vec<u8>)> = extra
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect();
        if components.contains(&CONTENT_DIGEST) {
            headers.push((
                "Content-Digest".into(),
                header_value(body, Algorithm::Sha256).into_bytes(),
            ));
        }
        let signed = sign_rfc9421(&request(&headers), components, &params, SECRET).unwrap();
        headers.push((
            "Signature-Input".into(),
            signed.signature_input.into_bytes(),
        ));
        headers.push(("Signature".into(), signed.signature.into_bytes()));
        Signed { headers }
    }

    fn request(headers: &[(String, Vec<u8>)]) -> RequestView<'_> {
        RequestView {
            method: "POST",
            scheme: "http",
            authority: "api.example.com",
            path_and_query: "/internal/hook?x=1",
            headers,
        }
    }

    fn params() -> SignParams {
        SignParams {
            label: "sig1".into(),
            keyid: "current".into(),
            created: NOW,
            expires: None,
            nonce: Some("nonce-1".into()),
            alg: true,
        }
    }

    fn run(headers: &[(String, Vec<u8>)], body: &[u8]) -> Result<Verified, Failure> {
        run_with(&WorkerSettings::default(), headers, body)
    }

    fn run_with(
        settings: &WorkerSettings,
        headers: &[(String, Vec<u8>)],
        body: &[u8],
    ) -> Result<Verified, Failure> {
        let rule = settings.rule_for(&RouteWorker {
            scheme: Some(Scheme::Rfc9421),
            components: None,
            ..RouteWorker::default()
        });
        let keys = Keys {
            current: SECRET,
            previous: None,
        };
        verify(settings, &rule, &request(headers), body, &keys, NOW)
    }

    const DEFAULT: [&str; 4] = ["@method", "@authority", "@path", "content-digest"];

    fn set(headers: &mut [(String, Vec<u8>)], name: &str, value: &str) {
        for (n, v) in headers.iter_mut() {
            if n.eq_ignore_ascii_case(name) {
                *v = value.as_bytes().to_vec();
            }
        }
    }

    #[test]
    fn default_components_verify() {
        let body = br#"{"event":"paid"}"#;
        let s = sign(&DEFAULT, body, params(), &[]);
        let v = run(&s.headers, body).unwrap();
        assert_eq!(v.keyid.as_deref(), Some("current"));
        assert_eq!(v.key, KeySlot::Current);
        assert_eq!(
            v.replay,
            vec![ReplayId::new("rfc9421-nonce", &[b"current", b"nonce-1"])]
        );
        // Without a body, content-digest is not required.
        let s = sign(&["@method", "@authority", "@path"], b"", params(), &[]);
        assert!(run(&s.headers, b"").is_ok());
        // Without a nonce the signature is the replay id.
        let s = sign(
            &DEFAULT,
            body,
            SignParams {
                nonce: None,
                ..params()
            },
            &[],
        );
        let v = run(&s.headers, body).unwrap();
        assert_eq!(v.replay.len(), 1);
        assert_ne!(
            v.replay[0],
            ReplayId::new("rfc9421-nonce", &[b"current", b"nonce-1"])
        );
    }

    #[test]
    fn missing_required_components() {
        let body = b"{}";
        let s = sign(
            &["@method", "@authority", "content-digest"],
            body,
            params(),
            &[],
        );
        assert_eq!(
            run(&s.headers, body),
            Err(Failure::input("required component not covered: @path"))
        );
        let s = sign(&["@method", "@authority", "@path"], body, params(), &[]);
        assert_eq!(
            run(&s.headers, body),
            Err(Failure::input(
                "required component not covered: content-digest"
            ))
        );
        // A route's own list replaces the default.
        let settings = WorkerSettings {
            components: vec!["@method".into(), "@target-uri".into()],
            ..WorkerSettings::default()
        };
        let s = sign(&["@method", "@target-uri"], body, params(), &[]);
        assert!(run_with(&settings, &s.headers, body).is_ok());
    }

    #[test]
    fn tampering() {
        let body = br#"{"amount":1}"#;
        let s = sign(&DEFAULT, body, params(), &[]);
        // Body changed, digest header left alone: the signature holds, the digest does not.
        assert_eq!(
            run(&s.headers, br#"{"amount":9}"#),
            Err(Failure::DigestMismatch)
        );
        // Digest header recomputed for the new body: the signature breaks.
        let mut h = s.headers.clone();
        set(
            &mut h,
            "content-digest",
            &header_value(br#"{"amount":9}"#, Algorithm::Sha256),
        );
        assert_eq!(run(&h, br#"{"amount":9}"#), Err(Failure::InvalidSignature));
        // Another path or method.
        let keys = Keys {
            current: SECRET,
            previous: None,
        };
        let settings = WorkerSettings::default();
        let rule = settings.rule_for(&RouteWorker {
            scheme: Some(Scheme::Rfc9421),
            components: None,
            ..RouteWorker::default()
        });
        let other = RequestView {
            path_and_query: "/internal/other",
            ..request(&s.headers)
        };
        assert_eq!(
            verify(&settings, &rule, &other, body, &keys, NOW),
            Err(Failure::InvalidSignature)
        );
        let other = RequestView {
            method: "PUT",
            ..request(&s.headers)
        };
        assert_eq!(
            verify(&settings, &rule, &other, body, &keys, NOW),
            Err(Failure::InvalidSignature)
        );
        // Changing created breaks the signature (it is in @signature-params).
        let mut h = s.headers.clone();
        let input = String::from_utf8(
            h.iter()
                .find(|(n, _)| n == "Signature-Input")
                .unwrap()
                .1
                .clone(),
        )
        .unwrap();
        set(
            &mut h,
            "signature-input",
            &input.replace(&NOW.to_string(), &(NOW - 1).to_string()),
        );
        assert_eq!(run(&h, body), Err(Failure::InvalidSignature));
    }

    #[test]
    fn time_checks() {
        let body = b"";
        let comps = ["@method", "@authority", "@path"];
        let s = sign(
            &comps,
            body,
            SignParams {
                created: NOW - 301,
                ..params()
            },
            &[],
        );
        assert_eq!(
            run(&s.headers, body),
            Err(Failure::Expired {
                max_age: 300,
                age: 301
            })
        );
        let s = sign(
            &comps,
            body,
            SignParams {
                created: NOW + 61,
                ..params()
            },
            &[],
        );
        assert_eq!(run(&s.headers, body), Err(Failure::InFuture));
        let s = sign(
            &comps,
            body,
            SignParams {
                expires: Some(NOW - 1),
                ..params()
            },
            &[],
        );
        assert_eq!(run(&s.headers, body), Err(Failure::SignatureExpired));
        let s = sign(
            &comps,
            body,
            SignParams {
                expires: Some(NOW),
                ..params()
            },
            &[],
        );
        assert!(run(&s.headers, body).is_ok());
    }

    fn with(input: &str, signature: &str) -> Vec<(String, Vec<u8>)> {
        vec![
            ("Signature-Input".into(), input.as_bytes().to_vec()),
            ("Signature".into(), signature.as_bytes().to_vec()),
        ]
    }

    #[test]
    fn malformations_are_401_with_a_reason() {
        let good_sig = "sig1=:AAAA:";
        let cases: &[(&str, &str, &str)] = &[
            (
                "sig1=(\"@method\"",
                good_sig,
                "Signature-Input is not a valid structured-field dictionary",
            ),
            (
                "sig1=(\"@method\");created=1700000000;keyid=\"current\"",
                "sig1=AAAA",
                "Signature members must be byte sequences",
            ),
            (
                "sig1=(\"@method\");created=1700000000;keyid=\"current\"",
                "sig1=:AA AA:",
                "Signature is not a valid structured-field dictionary",
            ),
            (
                "sig1=\"@method\";keyid=\"current\"",
                good_sig,
                "Signature-Input members must be inner lists",
            ),
            (
                "sig1=(@method);keyid=\"current\"",
                good_sig,
                "Signature-Input is not a valid structured-field dictionary",
            ),
            (
                "sig1=(method);keyid=\"current\"",
                good_sig,
                "covered components must be strings",
            ),
            (
                "sig1=(\"@method\");created=\"1\";keyid=\"current\"",
                good_sig,
                "created and expires must be non-negative integers",
            ),
            (
                "sig1=(\"@method\");created=-1;keyid=\"current\"",
                good_sig,
                "created and expires must be non-negative integers",
            ),
            (
                "sig1=(\"@method\");created=1700000000;keyid=current",
                good_sig,
                "nonce, alg, keyid and tag must be strings",
            ),
            (
                "sig1=(\"@method\");created=1700000000;keyid=\"other\"",
                good_sig,
                "no signature with a known keyid",
            ),
            (
                "sig1=(\"@method\");created=1700000000;keyid=\"current\"",
                "sig2=:AAAA:",
                "no Signature for the selected label",
            ),
            (
                "sig1=(\"@method\");created=1700000000;keyid=\"current\";alg=\"rsa-v1_5-sha256\"",
                good_sig,
                "unsupported alg; expected hmac-sha256",
            ),
            (
                "sig1=(\"@method\");keyid=\"current\"",
                good_sig,
                "created parameter is required",
            ),
            (
                "sig1=(\"@method\" \"@status\");created=1700000000;keyid=\"current\"",
                good_sig,
                "unsupported derived component",
            ),
            (
                "sig1=(\"@query-param\";name=\"x\");created=1700000000;keyid=\"current\"",
                good_sig,
                "component parameters are not supported",
            ),
            (
                "sig1=(\"content-type\";sf);created=1700000000;keyid=\"current\"",
                good_sig,
                "component parameters are not supported",
            ),
            (
                "sig1=(\"Content-Type\");created=1700000000;keyid=\"current\"",
                good_sig,
                "component names must be lowercase header names",
            ),
            (
                "sig1=(\"@method\" \"@method\");created=1700000000;keyid=\"current\"",
                good_sig,
                "duplicate covered component",
            ),
            (
                "sig1=(\"@method\" \"@authority\" \"@path\" \"x-absent\");created=1700000000;keyid=\"current\"",
                good_sig,
                "a covered header is absent from the request",
            ),
            (
                "sig1=(\"@method\" \"@authority\");created=1700000000;keyid=\"current\"",
                good_sig,
                "required component not covered: @path",
            ),
        ];
        for (input, signature, reason) in cases {
            let result = run(&with(input, signature), b"");
            assert_eq!(
                result,
                Err(Failure::input(*reason)),
                "{input} / {signature}"
            );
            assert_eq!(result.unwrap_err().status(), 401);
        }
        assert_eq!(
            run(&with("", good_sig), b""),
            Err(Failure::MissingHeaders {
                required: vec!["Signature-Input".into(), "Signature".into()]
            })
        );
        assert!(matches!(
            run(
                &with(
                    "sig1=(\"@method\");created=1700000000;keyid=\"current\";nonce=\"a b\"",
                    good_sig
                ),
                b""
            ),
            Err(Failure::InvalidNonce)
        ));
        // A well-formed but wrong signature.
        let input =
            "sig1=(\"@method\" \"@authority\" \"@path\");created=1700000000;keyid=\"current\"";
        assert_eq!(
            run(&with(input, good_sig), b""),
            Err(Failure::InvalidSignature)
        );
        // Non-UTF-8 bytes in the header.
        let mut h = with(input, good_sig);
        h[0].1.push(0xff);
        assert!(matches!(
            run(&h, b""),
            Err(Failure::InvalidSignatureInput { .. })
        ));
    }

    #[test]
    fn digest_problems() {
        let body = b"{}";
        let comps = ["@method", "@authority", "@path", "content-digest"];
        for (digest, expected) in [
            (
                "md5=:AAAA:",
                Failure::input("Content-Digest has no sha-256 or sha-512 digest"),
            ),
            ("sha-256=abc", Failure::input("Content-Digest is malformed")),
        ] {
            let s = sign(&comps, body, params(), &[]);
            let mut h = s.headers;
            // Re-sign over the odd digest value, so only the digest is wrong.
            h.retain(|(n, _)| !n.starts_with("Signature"));
            set(&mut h, "content-digest", digest);
            let signed = sign_rfc9421(&request(&h), &comps, &params(), SECRET).unwrap();
            h.push((
                "Signature-Input".into(),
                signed.signature_input.into_bytes(),
            ));
            h.push(("Signature".into(), signed.signature.into_bytes()));
            assert_eq!(run(&h, body), Err(expected));
        }
        // sha-512 works as well as sha-256.
        let mut h = vec![(
            "Content-Digest".to_string(),
            header_value(body, Algorithm::Sha512).into_bytes(),
        )];
        let signed = sign_rfc9421(&request(&h), &comps, &params(), SECRET).unwrap();
        h.push((
            "Signature-Input".into(),
            signed.signature_input.into_bytes(),
        ));
        h.push(("Signature".into(), signed.signature.into_bytes()));
        assert!(run(&h, body).is_ok());
    }

    #[test]
    fn chooses_the_first_known_keyid_and_uses_its_secret() {
        let settings = WorkerSettings {
            keyids: vec![
                ("svc-old".into(), KeySlot::Previous),
                ("svc".into(), KeySlot::Current),
            ],
            ..WorkerSettings::default()
        };
        let old: &[u8] = b"fedcba9876543210fedcba9876543210";
        let comps = ["@method", "@authority", "@path"];
        let mut h: Vec<(String, Vec<u8>)> = Vec::new();
        let foreign = "proxy=(\"@method\");created=1700000000;keyid=\"someone-else\"";
        let signed = sign_rfc9421(
            &request(&h),
            &comps,
            &SignParams {
                keyid: "svc-old".into(),
                ..params()
            },
            old,
        )
        .unwrap();
        h.push((
            "Signature-Input".into(),
            format!("{foreign}, {}", signed.signature_input).into_bytes(),
        ));
        h.push((
            "Signature".into(),
            format!("proxy=:AAAA:, {}", signed.signature).into_bytes(),
        ));
        let rule = settings.rule_for(&RouteWorker {
            scheme: Some(Scheme::Rfc9421),
            components: None,
            ..RouteWorker::default()
        });
        let rotating = Keys {
            current: SECRET,
            previous: Some(old),
        };
        let v = verify(&settings, &rule, &request(&h), b"", &rotating, NOW).unwrap();
        assert_eq!(
            (v.key, v.keyid.as_deref()),
            (KeySlot::Previous, Some("svc-old"))
        );
        // The keyid selects the secret: the current one does not stand in.
        let only_current = Keys {
            current: old,
            previous: None,
        };
        assert_eq!(
            verify(&settings, &rule, &request(&h), b"", &only_current, NOW),
            Err(Failure::input("no signature with a known keyid"))
        );
    }

    #[test]
    fn derived_values() {
        let headers = Vec::new();
        let r = RequestView {
            method: "GET",
            scheme: "HTTPS",
            authority: "Example.COM:8443",
            path_and_query: "/a%2Fb//c?x=1&y",
            headers: &headers,
        };
        assert_eq!(derived("@method", &r), "GET");
        assert_eq!(derived("@authority", &r), "example.com:8443");
        assert_eq!(derived("@scheme", &r), "https");
        assert_eq!(
            derived("@target-uri", &r),
            "https://example.com:8443/a%2Fb//c?x=1&y"
        );
        assert_eq!(derived("@request-target", &r), "/a%2Fb//c?x=1&y");
        assert_eq!(derived("@path", &r), "/a%2Fb//c");
        assert_eq!(derived("@query", &r), "?x=1&y");
        let default_port = RequestView {
            authority: "Example.com:443",
            ..r
        };
        assert_eq!(derived("@authority", &default_port), "example.com");
        assert_eq!(
            derived("@target-uri", &default_port),
            "https://example.com/a%2Fb//c?x=1&y"
        );
        let http = RequestView {
            scheme: "http",
            authority: "h:80",
            ..r
        };
        assert_eq!(derived("@authority", &http), "h");
        let other = RequestView {
            scheme: "http",
            authority: "h:8080",
            ..r
        };
        assert_eq!(derived("@authority", &other), "h:8080");
        let bare = RequestView {
            path_and_query: "",
            ..r
        };
        assert_eq!(derived("@path", &bare), "/");
        assert_eq!(derived("@query", &bare), "?");
    }

    #[test]
    fn signing_refuses_what_it_cannot_express() {
        let h = Vec::new();
        let r = request(&h);
        assert!(sign_rfc9421(&r, &["@status"], &params(), SECRET).is_err());
        assert!(sign_rfc9421(&r, &["x-absent"], &params(), SECRET).is_err());
        assert!(
            sign_rfc9421(
                &r,
                &["@path"],
                &SignParams {
                    label: "Sig".into(),
                    ..params()
                },
                SECRET
            )
            .is_err()
        );
        assert!(
            sign_rfc9421(
                &r,
                &["@path"],
                &SignParams {
                    keyid: "é".into(),
                    ..params()
                },
                SECRET
            )
            .is_err()
        );
    }
}
