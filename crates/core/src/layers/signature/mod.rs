//! Service-to-service request signatures: verification and signing for the
//! three schemes of `auth = "worker"` routes.
//!
//! ```
//! use warden_core::layers::signature::{check_headers, sign_worker, Keys, RequestView, Scheme, WorkerSettings};
//!
//! let settings = WorkerSettings::default();
//! let rule = settings.rule_for(&Default::default());
//! let secret = b"0123456789abcdef0123456789abcdef";
//! let body = br#"{"userId":"123"}"#;
//! let now = 1_700_000_000;
//! let signature = sign_worker(secret, &now.to_string(), body);
//! let headers = vec![
//!     ("x-worker-signature".to_string(), signature.into_bytes()),
//!     ("x-worker-timestamp".to_string(), now.to_string().into_bytes()),
//! ];
//! let request = RequestView {
//!     method: "POST", scheme: "https", authority: "api.example.com",
//!     path_and_query: "/internal/webhook", headers: &headers,
//! };
//! // Phase 1 needs only the headers; phase 2 the body, the secrets and the
//! // time read again once the body is complete.
//! let pending = check_headers(&settings, &rule, &request, now).unwrap();
//! let keys = Keys { current: secret, previous: None };
//! let verified = pending.verify(&request, body, &keys, now + 1).unwrap();
//! assert_eq!(verified.scheme, Scheme::Worker);
//! ```
//!
//! Schemes:
//! - `worker` (seed 000, the default): `X-Worker-Signature` =
//!   base64(HMAC-SHA256(secret, `{timestamp}:{body}`)), `X-Worker-Timestamp` in
//!   unix seconds; header names configurable. See [`worker`].
//! - `request-nonce` (seed 003): `X-Request-Signature` =
//!   hex(HMAC-SHA256(secret, body + timestamp + nonce)) with
//!   `X-Request-Timestamp` and `X-Request-Nonce`. See [`request_nonce`].
//! - `rfc9421`: HTTP Message Signatures with `hmac-sha256`, with RFC 9530
//!   `Content-Digest`. See [`rfc9421`].
//!
//! Verification runs in two phases so that the cheap checks come first and
//! the body is read only for requests that pass them:
//! 1. [`check_headers`] (headers and `now` only): required headers present,
//!    timestamp format, age, future skew, origin allowlist, nonce shape; for
//!    RFC 9421 also the structured-field parsing, key id, `alg`, `created` /
//!    `expires` and the required components.
//! 2. [`Pending::verify`] (with the body, the secrets and the clock read
//!    again after the body is complete): the time window once more (a body
//!    trickled in slowly must not carry a signature past `max_age` or
//!    `expires`), then the HMAC, in constant time, with the current secret
//!    and then the previous one; for RFC 9421 then the `Content-Digest`.
//!
//! The caller then records [`Verified::replay`] in the replay cache (see
//! [`replay`]) when the cache is on, keyed by that same later time. A refusal is a [`Failure`]: a fixed status
//! and public JSON body (seed 000's exact bodies where the seed has one).
//!
//! - **Owns:** `[worker]`, a route's `worker`, and the `worker` auth mode
//!   ([`Signatures`]).
//! - **Ports:** key-value (the replay cache), through the component.
//! - **Answers:** the seed's `401` bodies, `403` for an origin, `408`, `413`
//!   and `503` ([`Failure`]).

pub mod config;
pub mod content_digest;
pub mod replay;
pub mod request_nonce;
pub mod rfc9421;
pub mod webhook;
pub mod worker;

pub use config::{RouteWorker, SignatureRule, Signatures, WORKER, WebhookRule, WorkerSettings};
pub use request_nonce::sign_request_nonce;
pub use rfc9421::{Rfc9421Signature, SignParams, sign_rfc9421};
pub use worker::sign_worker;

use crate::base::denial::Denial;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use replay::ReplayId;

/// A signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheme {
    /// Seed 000's worker HMAC (the default).
    #[default]
    Worker,
    /// Seed 003's hex HMAC over body, timestamp and nonce.
    RequestNonce,
    /// RFC 9421 HTTP Message Signatures, `hmac-sha256`.
    Rfc9421,
    /// Stripe's `Stripe-Signature` webhooks.
    Stripe,
    /// GitHub's `X-Hub-Signature-256` webhooks.
    Github,
    /// Standard Webhooks (`webhook-*`, and Svix's `svix-*`).
    Standard,
    /// Slack's `X-Slack-Signature` requests.
    Slack,
}

impl Scheme {
    /// Every scheme.
    pub const ALL: [Scheme; 7] = [
        Scheme::Worker,
        Scheme::RequestNonce,
        Scheme::Rfc9421,
        Scheme::Stripe,
        Scheme::Github,
        Scheme::Standard,
        Scheme::Slack,
    ];

    /// The name in the policy and the CLI.
    pub fn as_str(&self) -> &'static str {
        match self {
            Scheme::Worker => "worker",
            Scheme::RequestNonce => "request-nonce",
            Scheme::Rfc9421 => "rfc9421",
            Scheme::Stripe => "stripe",
            Scheme::Github => "github",
            Scheme::Standard => "standard",
            Scheme::Slack => "slack",
        }
    }

    /// Whether this is a third-party webhook scheme ([`webhook`]): keyed by
    /// its own secret variable, not `worker_secret`, and without the
    /// `[worker]` headers, window and origin allowlist.
    pub fn is_webhook(&self) -> bool {
        matches!(
            self,
            Scheme::Stripe | Scheme::Github | Scheme::Standard | Scheme::Slack
        )
    }

    /// The secret variable a webhook route reads when it names none
    /// (`stripe_webhook_secret`, …; Slack calls it the signing secret).
    pub fn default_secret_variable(&self) -> Option<&'static str> {
        match self {
            Scheme::Stripe => Some("stripe_webhook_secret"),
            Scheme::Github => Some("github_webhook_secret"),
            Scheme::Standard => Some("standard_webhook_secret"),
            Scheme::Slack => Some("slack_signing_secret"),
            Scheme::Worker | Scheme::RequestNonce | Scheme::Rfc9421 => None,
        }
    }

    /// The header whose value identifies the signature in refusal logs (as
    /// a fingerprint); the worker scheme's is configurable, so `None`.
    pub fn signature_header(&self) -> Option<&'static str> {
        match self {
            Scheme::Worker => None,
            Scheme::RequestNonce => Some(request_nonce::SIGNATURE_HEADER),
            Scheme::Rfc9421 => Some("signature"),
            Scheme::Stripe => Some(webhook::stripe::SIGNATURE_HEADER),
            Scheme::Github => Some(webhook::github::SIGNATURE_HEADER),
            Scheme::Standard => Some(webhook::standard::SIGNATURE_HEADERS[0]),
            Scheme::Slack => Some(webhook::slack::SIGNATURE_HEADER),
        }
    }

    /// Looks a scheme up by name.
    pub fn from_name(name: &str) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// Which configured secret verified a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySlot {
    /// `worker_secret`.
    Current,
    /// `worker_secret_previous`, accepted during a rotation.
    Previous,
}

impl KeySlot {
    /// A short name for logs and the `x-warden-worker-key` header.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeySlot::Current => "current",
            KeySlot::Previous => "previous",
        }
    }
}

/// The secrets, as bytes (a secret's UTF-8 bytes are its HMAC key).
#[derive(Clone, Copy)]
pub struct Keys<'a> {
    /// `worker_secret`.
    pub current: &'a [u8],
    /// `worker_secret_previous`, if set.
    pub previous: Option<&'a [u8]>,
}

impl std::fmt::Debug for Keys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys([redacted])")
    }
}

impl<'a> Keys<'a> {
    /// The secret in `slot`, if set.
    pub fn get(&self, slot: KeySlot) -> Option<&'a [u8]> {
        match slot {
            KeySlot::Current => Some(self.current),
            KeySlot::Previous => self.previous,
        }
    }

    /// The current secret, then the previous one.
    fn in_order(&self) -> impl Iterator<Item = (KeySlot, &'a [u8])> {
        [
            (KeySlot::Current, Some(self.current)),
            (KeySlot::Previous, self.previous),
        ]
        .into_iter()
        .filter_map(|(slot, key)| key.map(|k| (slot, k)))
    }
}

/// What verification needs to know about a request, as received.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The method, as received (`POST`).
    pub method: &'a str,
    /// `http` or `https`.
    pub scheme: &'a str,
    /// The authority (host and optional port) the request was sent to.
    pub authority: &'a str,
    /// The path and query exactly as sent, never normalized.
    pub path_and_query: &'a str,
    /// Every header as received; names compare case-insensitively.
    pub headers: &'a [(String, Vec<u8>)],
}

impl RequestView<'_> {
    /// All values of a header, each trimmed of surrounding spaces and tabs,
    /// joined with `", "` as HTTP combines repeated fields; `None` if absent.
    pub fn header_bytes(&self, name: &str) -> Option<Vec<u8>> {
        crate::base::text::combined_field(self.headers, name)
    }

    /// [`Self::header_bytes`] as text; a value that is not UTF-8 is never
    /// valid for any scheme, so it reads with replacement characters.
    pub fn header(&self, name: &str) -> Option<String> {
        self.header_bytes(name)
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    /// The `Origin` header, if there is exactly one.
    fn origin(&self) -> Option<String> {
        let mut found = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("origin"));
        let first = found.next()?;
        if found.next().is_some() {
            return None;
        }
        std::str::from_utf8(crate::base::text::trim_ows(&first.1))
            .ok()
            .map(str::to_owned)
    }
}

/// Why a signed request was refused; [`Denial::from`] gives the status
/// and the public JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 401: a required header is absent or empty; lists the header names.
    MissingHeaders {
        /// The names the scheme requires, as configured.
        required: Vec<String>,
    },
    /// 401: the timestamp is not whole unix seconds.
    InvalidTimestamp,
    /// 401: the timestamp is older than `max_age`.
    Expired {
        /// The configured maximum age, seconds.
        max_age: u64,
        /// How old the timestamp is, seconds.
        age: u64,
    },
    /// 401: the timestamp is further in the future than allowed.
    InFuture,
    /// 401: no configured secret produces this signature.
    InvalidSignature,
    /// 403: the `Origin` is not on the allowlist.
    UnauthorizedOrigin,
    /// 401: the nonce is empty, too long or not printable ASCII.
    InvalidNonce,
    /// 401: this signature or nonce was already accepted within its window.
    Replayed,
    /// 401: RFC 9421 signature headers that are malformed or do not meet
    /// the route's requirements; the reason is a fixed phrase.
    InvalidSignatureInput {
        /// What is wrong.
        reason: String,
    },
    /// 401: an RFC 9421 signature past its `expires`.
    SignatureExpired,
    /// 401: `Content-Digest` does not match the body received.
    DigestMismatch,
    /// 413: the body is larger than `body_limit`.
    PayloadTooLarge,
    /// 408: the body did not arrive within `body_timeout`.
    BodyTimeout,
    /// 503: the replay cache could not be consulted (fails closed).
    Unavailable,
}

impl From<Failure> for Denial {
    fn from(failure: Failure) -> Denial {
        Denial {
            status: failure.status(),
            body: failure.body(),
        }
    }
}

impl Failure {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Failure::UnauthorizedOrigin => 403,
            Failure::PayloadTooLarge => 413,
            Failure::BodyTimeout => 408,
            Failure::Unavailable => 503,
            _ => 401,
        }
    }

    /// The public JSON body, byte for byte (key order as in seed 000).
    pub fn body(&self) -> String {
        let s = |v: &str| crate::base::log::json(&serde_json::Value::from(v));
        match self {
            Failure::MissingHeaders { required } => {
                let names: Vec<String> = required.iter().map(|n| s(n)).collect();
                format!(
                    r#"{{"error":"Missing authentication headers","required":[{}]}}"#,
                    names.join(",")
                )
            }
            Failure::InvalidTimestamp => r#"{"error":"Invalid timestamp format"}"#.into(),
            Failure::Expired { max_age, age } => format!(
                r#"{{"error":"Request timestamp expired","maxAge":{max_age},"age":{age}}}"#
            ),
            Failure::InFuture => r#"{"error":"Request timestamp in future"}"#.into(),
            Failure::InvalidSignature => r#"{"error":"Invalid signature"}"#.into(),
            Failure::UnauthorizedOrigin => r#"{"error":"Unauthorized origin"}"#.into(),
            Failure::InvalidNonce => r#"{"error":"Invalid nonce"}"#.into(),
            Failure::Replayed => r#"{"error":"Request replayed"}"#.into(),
            Failure::InvalidSignatureInput { reason } => format!(
                r#"{{"error":"Invalid signature input","reason":{}}}"#,
                s(reason)
            ),
            Failure::SignatureExpired => r#"{"error":"Signature expired"}"#.into(),
            Failure::DigestMismatch => r#"{"error":"Content digest mismatch"}"#.into(),
            Failure::PayloadTooLarge => {
                r#"{"error":{"code":"PAYLOAD_TOO_LARGE","message":"Request body too large"}}"#
                    .into()
            }
            Failure::BodyTimeout => {
                r#"{"error":{"code":"REQUEST_TIMEOUT","message":"Request body timed out"}}"#.into()
            }
            Failure::Unavailable => {
                r#"{"error":{"code":"SERVICE_UNAVAILABLE","message":"Service temporarily unavailable"}}"#
                    .into()
            }
        }
    }

    /// A short machine name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::MissingHeaders { .. } => "missing_headers",
            Failure::InvalidTimestamp => "invalid_timestamp",
            Failure::Expired { .. } => "timestamp_expired",
            Failure::InFuture => "timestamp_in_future",
            Failure::InvalidSignature => "invalid_signature",
            Failure::UnauthorizedOrigin => "unauthorized_origin",
            Failure::InvalidNonce => "invalid_nonce",
            Failure::Replayed => "replayed",
            Failure::InvalidSignatureInput { .. } => "invalid_signature_input",
            Failure::SignatureExpired => "signature_expired",
            Failure::DigestMismatch => "digest_mismatch",
            Failure::PayloadTooLarge => "payload_too_large",
            Failure::BodyTimeout => "body_timeout",
            Failure::Unavailable => "replay_cache_unavailable",
        }
    }

    fn input(reason: impl Into<String>) -> Failure {
        Failure::InvalidSignatureInput {
            reason: reason.into(),
        }
    }
}

/// A request whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The scheme it used.
    pub scheme: Scheme,
    /// The secret that verified it.
    pub key: KeySlot,
    /// The RFC 9421 key id it named.
    pub keyid: Option<String>,
    /// Ids to record in the replay cache (all must be new).
    pub replay: Vec<ReplayId>,
    /// Seconds during which the same request could verify again: the
    /// replay cache remembers the ids this long.
    pub window: u64,
    /// Webhooks: the provider's event or delivery id, when it has one
    /// ([`webhook::MAX_ID_LEN`] visible ASCII characters at most).
    pub event_id: Option<String>,
}

/// A request that passed the header checks; [`Pending::verify`] finishes.
#[derive(Debug, Clone)]
pub enum Pending {
    /// Seed 000.
    Worker(worker::Pending),
    /// Seed 003.
    RequestNonce(request_nonce::Pending),
    /// RFC 9421.
    Rfc9421(Box<rfc9421::Pending>),
    /// A third-party webhook.
    Webhook(webhook::Pending),
}

/// Phase 1: everything that needs only the headers and `now` (unix seconds).
pub fn check_headers(
    settings: &WorkerSettings,
    rule: &SignatureRule,
    request: &RequestView<'_>,
    now: u64,
) -> Result<Pending, Failure> {
    match rule.scheme {
        Scheme::Worker => worker::check_headers(settings, request, now).map(Pending::Worker),
        Scheme::RequestNonce => {
            request_nonce::check_headers(settings, request, now).map(Pending::RequestNonce)
        }
        Scheme::Rfc9421 => rfc9421::check_headers(settings, rule, request, now)
            .map(|p| Pending::Rfc9421(Box::new(p))),
        Scheme::Stripe => webhook::stripe::check_headers(rule, request, now).map(Pending::Webhook),
        Scheme::Github => webhook::github::check_headers(rule, request).map(Pending::Webhook),
        Scheme::Standard => {
            webhook::standard::check_headers(rule, request, now).map(Pending::Webhook)
        }
        Scheme::Slack => webhook::slack::check_headers(rule, request, now).map(Pending::Webhook),
    }
}

impl Pending {
    /// Phase 2: the time window again at `now`, the clock read after the
    /// body is complete (unix seconds), then the signature over the body
    /// with the configured secrets.
    ///
    /// Phase 1 checked the window when the headers arrived; a client that
    /// trickles the body in could otherwise present a captured signature
    /// long after `max_age` (or its RFC 9421 `expires`). The refusals are
    /// phase 1's: "Request timestamp expired", "… in future", "Signature
    /// expired".
    pub fn verify(
        &self,
        request: &RequestView<'_>,
        body: &[u8],
        keys: &Keys<'_>,
        now: u64,
    ) -> Result<Verified, Failure> {
        if let Some(time) = self.time_window() {
            time.check(now)?;
        }
        match self {
            Pending::Worker(p) => p.verify(body, keys),
            Pending::RequestNonce(p) => p.verify(body, keys),
            Pending::Rfc9421(p) => p.verify(request, body, keys),
            Pending::Webhook(p) => p.verify(body, keys),
        }
    }

    /// `None` for GitHub, which signs no timestamp.
    fn time_window(&self) -> Option<&TimeWindow> {
        match self {
            Pending::Worker(p) => Some(&p.time),
            Pending::RequestNonce(p) => Some(&p.time),
            Pending::Rfc9421(p) => Some(&p.time),
            Pending::Webhook(p) => p.time.as_ref(),
        }
    }
}

/// When a signed request may be accepted: its timestamp (RFC 9421:
/// `created`) within `max_age` behind and `future_skew` ahead of the clock,
/// and not past its `expires`, if it has one. Checked when the headers
/// arrive and again when the body is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeWindow {
    pub(crate) timestamp: u64,
    pub(crate) max_age: u64,
    pub(crate) future_skew: u64,
    pub(crate) expires: Option<u64>,
}

impl TimeWindow {
    pub(crate) fn check(&self, now: u64) -> Result<(), Failure> {
        check_window(self.timestamp, now, self.max_age, self.future_skew)?;
        if self.expires.is_some_and(|expires| now > expires) {
            return Err(Failure::SignatureExpired);
        }
        Ok(())
    }
}

/// Both phases at once, at one time `now`.
pub fn verify(
    settings: &WorkerSettings,
    rule: &SignatureRule,
    request: &RequestView<'_>,
    body: &[u8],
    keys: &Keys<'_>,
    now: u64,
) -> Result<Verified, Failure> {
    check_headers(settings, rule, request, now)?.verify(request, body, keys, now)
}

/// A fingerprint of a credential for logs: the first 8 hex characters of
/// its SHA-256. Never log the credential itself.
pub fn fingerprint(secret_or_token: &[u8]) -> String {
    crate::base::digest::fingerprint(secret_or_token)
}

/// HMAC-SHA256 of the concatenated parts.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = new_mac(key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Whether `tag` is the HMAC of the parts under `key`, in constant time.
fn hmac_verify(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    let mut mac = new_mac(key);
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(tag).is_ok()
}

fn new_mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this cannot fail.
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

/// Whole unix seconds written the one canonical way: 1 to 15 ASCII digits,
/// nothing else, and no leading zero (except `0` itself).
///
/// One spelling per instant matters because the timestamp's text is what is
/// signed: seed 003 signs `body ‖ timestamp ‖ nonce` with no separators, so
/// with `0`-padding allowed a digit could move from the end of the body to
/// the front of the timestamp under the same signature. The worker and
/// request-nonce schemes both read their timestamps here, and refuse with
/// their invalid-timestamp error. (RFC 9421's `created`/`expires` are
/// structured-field integers, re-serialized canonically into the signature
/// base, so their spelling cannot change what was signed.)
pub fn parse_unix_seconds(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.is_empty()
        || bytes.len() > 15
        || !bytes.iter().all(u8::is_ascii_digit)
        || (bytes.len() > 1 && bytes[0] == b'0')
    {
        return None;
    }
    text.parse().ok()
}

/// The seed's age window: older than `max_age` is expired, more than
/// `future_skew` ahead is in the future.
fn check_window(timestamp: u64, now: u64, max_age: u64, future_skew: u64) -> Result<(), Failure> {
    if now > timestamp && now - timestamp > max_age {
        return Err(Failure::Expired {
            max_age,
            age: now - timestamp,
        });
    }
    if timestamp > now && timestamp - now > future_skew {
        return Err(Failure::InFuture);
    }
    Ok(())
}

/// A nonce: 1 to 256 printable ASCII characters without spaces.
fn check_nonce(nonce: &str) -> Result<(), Failure> {
    if nonce.is_empty() || nonce.len() > 256 || !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(Failure::InvalidNonce);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_bodies_are_exact() {
        let required = vec![
            "X-Worker-Signature".to_string(),
            "X-Worker-Timestamp".to_string(),
        ];
        let cases = [
            (
                Failure::MissingHeaders { required },
                401,
                r#"{"error":"Missing authentication headers","required":["X-Worker-Signature","X-Worker-Timestamp"]}"#,
            ),
            (
                Failure::InvalidTimestamp,
                401,
                r#"{"error":"Invalid timestamp format"}"#,
            ),
            (
                Failure::Expired {
                    max_age: 300,
                    age: 450,
                },
                401,
                r#"{"error":"Request timestamp expired","maxAge":300,"age":450}"#,
            ),
            (
                Failure::InFuture,
                401,
                r#"{"error":"Request timestamp in future"}"#,
            ),
            (
                Failure::InvalidSignature,
                401,
                r#"{"error":"Invalid signature"}"#,
            ),
            (
                Failure::UnauthorizedOrigin,
                403,
                r#"{"error":"Unauthorized origin"}"#,
            ),
        ];
        for (denial, status, body) in cases {
            assert_eq!(denial.status(), status);
            assert_eq!(denial.body(), body);
            let _: serde_json::Value = serde_json::from_str(&denial.body()).unwrap();
        }
    }

    #[test]
    fn other_bodies_are_json() {
        for denial in [
            Failure::InvalidNonce,
            Failure::Replayed,
            Failure::input("a \"quoted\" reason"),
            Failure::SignatureExpired,
            Failure::DigestMismatch,
            Failure::PayloadTooLarge,
            Failure::BodyTimeout,
            Failure::Unavailable,
        ] {
            let v: serde_json::Value = serde_json::from_str(&denial.body()).unwrap();
            assert!(v.get("error").is_some(), "{v}");
            assert!(!denial.kind().is_empty());
        }
        assert_eq!(Failure::PayloadTooLarge.status(), 413);
        assert_eq!(Failure::BodyTimeout.status(), 408);
        assert_eq!(
            Failure::BodyTimeout.body(),
            r#"{"error":{"code":"REQUEST_TIMEOUT","message":"Request body timed out"}}"#
        );
        assert_eq!(Failure::Unavailable.status(), 503);
        assert_eq!(
            Failure::input("x").body(),
            r#"{"error":"Invalid signature input","reason":"x"}"#
        );
    }

    #[test]
    fn window_edges() {
        assert_eq!(check_window(1000, 1300, 300, 60), Ok(()));
        assert_eq!(
            check_window(1000, 1301, 300, 60),
            Err(Failure::Expired {
                max_age: 300,
                age: 301
            })
        );
        assert_eq!(check_window(1060, 1000, 300, 60), Ok(()));
        assert_eq!(check_window(1061, 1000, 300, 60), Err(Failure::InFuture));
        assert_eq!(check_window(1000, 1000, 1, 0), Ok(()));
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_unix_seconds("1700000000"), Some(1_700_000_000));
        assert_eq!(parse_unix_seconds("0"), Some(0));
        for bad in [
            "",
            "-1",
            "+1",
            "1.5",
            "1e9",
            " 1",
            "12abc",
            "0x10",
            "1234567890123456",
            "١٢",
            "00",
            "01",
            "01700000000",
            "0001700000000",
        ] {
            assert_eq!(parse_unix_seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn headers_combine_like_http() {
        let headers = vec![
            ("X-A".to_string(), b" one ".to_vec()),
            ("x-a".to_string(), b"two\t".to_vec()),
            ("origin".to_string(), b"https://a.example".to_vec()),
        ];
        let view = RequestView {
            method: "GET",
            scheme: "http",
            authority: "h",
            path_and_query: "/",
            headers: &headers,
        };
        assert_eq!(view.header("x-a").as_deref(), Some("one, two"));
        assert_eq!(view.header("x-b"), None);
        assert_eq!(view.origin().as_deref(), Some("https://a.example"));
        let twice = vec![
            ("origin".to_string(), b"https://a.example".to_vec()),
            ("Origin".to_string(), b"https://b.example".to_vec()),
        ];
        let view = RequestView {
            headers: &twice,
            ..view
        };
        assert_eq!(view.origin(), None, "two origins are no origin");
    }

    /// A body that completes after the window closed is refused with the
    /// header phase's own errors, in every scheme: the time is read again.
    #[test]
    fn the_window_is_checked_again_when_the_body_is_complete() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = Keys {
            current: secret,
            previous: None,
        };
        let settings = WorkerSettings {
            max_age: 2,
            future_skew: 1,
            ..WorkerSettings::default()
        };
        let body = b"slow body";
        let t: u64 = 1_700_000_000;
        let ts = t.to_string();
        let worker_headers = vec![
            (
                "X-Worker-Signature".to_string(),
                sign_worker(secret, &ts, body).into_bytes(),
            ),
            ("X-Worker-Timestamp".to_string(), ts.clone().into_bytes()),
        ];
        let nonce_headers = vec![
            (
                "X-Request-Signature".to_string(),
                sign_request_nonce(secret, body, &ts, "n-1").into_bytes(),
            ),
            ("X-Request-Timestamp".to_string(), ts.clone().into_bytes()),
            ("X-Request-Nonce".to_string(), b"n-1".to_vec()),
        ];
        let view = |headers| RequestView {
            method: "POST",
            scheme: "https",
            authority: "api.example.com",
            path_and_query: "/internal/hook",
            headers,
        };
        for (scheme, headers) in [
            (Scheme::Worker, &worker_headers),
            (Scheme::RequestNonce, &nonce_headers),
        ] {
            let rule = SignatureRule::new(scheme);
            let request = view(headers);
            let pending = check_headers(&settings, &rule, &request, t).unwrap();
            assert!(pending.verify(&request, body, &keys, t + 2).is_ok());
            assert_eq!(
                pending.verify(&request, body, &keys, t + 3),
                Err(Failure::Expired { max_age: 2, age: 3 }),
                "{scheme:?}"
            );
            // A clock that went back past the skew refuses too.
            assert_eq!(
                pending.verify(&request, body, &keys, t - 3),
                Err(Failure::InFuture),
                "{scheme:?}"
            );
        }

        // RFC 9421: `expires` as well as `created`.
        let headers: Vec<(String, Vec<u8>)> = Vec::new();
        let base = view(&headers);
        let params = SignParams {
            label: "sig1".into(),
            keyid: "current".into(),
            created: t,
            expires: Some(t + 1),
            nonce: Some("n-2".into()),
            alg: false,
        };
        let signed = sign_rfc9421(&base, &["@method", "@path"], &params, secret).unwrap();
        let headers = vec![
            (
                "Signature-Input".to_string(),
                signed.signature_input.into_bytes(),
            ),
            ("Signature".to_string(), signed.signature.into_bytes()),
        ];
        let request = view(&headers);
        let rule = SignatureRule {
            components: vec!["@method".into(), "@path".into()],
            ..SignatureRule::new(Scheme::Rfc9421)
        };
        let pending = check_headers(&settings, &rule, &request, t).unwrap();
        assert!(pending.verify(&request, b"", &keys, t + 1).is_ok());
        assert_eq!(
            pending.verify(&request, b"", &keys, t + 2),
            Err(Failure::SignatureExpired)
        );
    }

    #[test]
    fn keys_debug_is_redacted() {
        let keys = Keys {
            current: b"super-secret-value-0123456789abcdef",
            previous: None,
        };
        assert_eq!(format!("{keys:?}"), "Keys([redacted])");
        assert_eq!(fingerprint(b"abc"), "ba7816bf");
    }
}
