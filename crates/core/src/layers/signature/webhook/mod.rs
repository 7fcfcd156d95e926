//! Third-party webhook signatures: the `stripe`, `github`, `standard`
//! (Standard Webhooks, as Svix sends them) and `slack` schemes of
//! `auth = "worker"` routes, each exactly as its provider documents it.
//!
//! ```
//! use warden_core::layers::signature::webhook::{sign, WebhookMessage};
//! use warden_core::layers::signature::{check_headers, Keys, RequestView, Scheme, WorkerSettings};
//!
//! let secret = b"whsec_test_secret_for_the_docs_0123456789";
//! let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
//! let now = 1_700_000_000;
//! let message = WebhookMessage { timestamp: now, id: None, body };
//! let headers: Vec<(String, Vec<u8>)> = sign(Scheme::Stripe, secret, &message)
//!     .unwrap()
//!     .into_iter()
//!     .map(|(name, value)| (name.to_string(), value.into_bytes()))
//!     .collect();
//! let request = RequestView {
//!     method: "POST", scheme: "https", authority: "api.example.com",
//!     path_and_query: "/hooks/stripe", headers: &headers,
//! };
//! let settings = WorkerSettings::default();
//! let rule = settings.rule_for(&Scheme::Stripe.into());
//! let pending = check_headers(&settings, &rule, &request, now).unwrap();
//! let keys = Keys { current: secret, previous: None };
//! let verified = pending.verify(&request, body, &keys, now).unwrap();
//! assert_eq!(verified.event_id.as_deref(), Some("evt_1"));
//! ```
//!
//! Every provider signs with HMAC-SHA256 over a prefix it builds from its
//! headers followed by the raw body, so one [`Pending`] serves all four:
//!
//! | scheme | headers | signed bytes | signature |
//! |---|---|---|---|
//! | `stripe` | `Stripe-Signature: t=…,v1=…[,v1=…]` | `{t}.{body}` | hex, any `v1` |
//! | `github` | `X-Hub-Signature-256: sha256=…`, `X-GitHub-Delivery` | `{body}` | hex |
//! | `standard` | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,… …` (or `svix-*`) | `{id}.{timestamp}.{body}` | base64, any `v1` |
//! | `slack` | `X-Slack-Signature: v0=…`, `X-Slack-Request-Timestamp` | `v0:{timestamp}:{body}` | hex |
//!
//! The key is the secret's text as the provider shows it (`whsec_…` for
//! Stripe included), except for Standard Webhooks, whose key is the base64
//! after `whsec_` ([`key_bytes`]).
//!
//! Timestamps must be within the route's `tolerance` (default 300 s, every
//! provider's own default) either way, checked when the headers arrive and
//! again once the body is complete. GitHub signs no timestamp: its replay
//! protection is the replay cache alone, for `replay_window` seconds.
//!
//! The replay cache keys on what the provider signed, never on one
//! signature: a provider rolling its secret sends several, and an attacker
//! who drops the one that verified first must not get a second acceptance.
//! Stripe and Slack: the timestamp and the body. Standard Webhooks: the id,
//! the timestamp and the body (a provider's retry of the same message is
//! signed again at a new timestamp, and is let through: the app sees the
//! same `x-warden-webhook-id` and deduplicates). GitHub: the body, and the
//! delivery id as well (the delivery id is not signed, so it alone could be
//! changed by a replayer).

pub mod github;
pub mod slack;
pub mod standard;
pub mod stripe;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

use super::replay::ReplayId;
use super::{Failure, Keys, Scheme, SignatureRule, TimeWindow, Verified};

/// Default `tolerance`: 300 s, Stripe's, Slack's and Standard Webhooks' own.
pub const DEFAULT_TOLERANCE: u64 = 300;
/// Default `replay_window` of `github` routes: one day.
pub const DEFAULT_REPLAY_WINDOW: u64 = 86_400;
/// Longest `replay_window`: 30 days.
pub const MAX_REPLAY_WINDOW: u64 = 30 * 86_400;
/// Most signatures read from one header (a rolling secret sends two).
pub(crate) const MAX_SIGNATURES: usize = 16;
/// Longest id passed on to the app (`webhook-id`, `X-GitHub-Delivery`, an
/// event id from the body).
pub const MAX_ID_LEN: usize = 255;

/// What a webhook scheme signs, for [`sign`].
#[derive(Debug, Clone, Copy)]
pub struct WebhookMessage<'a> {
    /// Unix seconds (ignored by `github`).
    pub timestamp: u64,
    /// The message or delivery id (`standard`, `github`).
    pub id: Option<&'a str>,
    /// The raw body.
    pub body: &'a [u8],
}

/// The headers a provider would send for `message`, signed with `key` (for
/// `standard`, the key bytes after decoding; see [`key_bytes`]). `None` for
/// the non-webhook schemes, and for `standard` and `github` without an id.
pub fn sign(
    scheme: Scheme,
    key: &[u8],
    message: &WebhookMessage<'_>,
) -> Option<Vec<(&'static str, String)>> {
    let t = message.timestamp.to_string();
    match scheme {
        Scheme::Stripe => Some(vec![(
            stripe::SIGNATURE_HEADER,
            stripe::sign(key, &t, message.body),
        )]),
        Scheme::Github => Some(vec![
            (github::SIGNATURE_HEADER, github::sign(key, message.body)),
            (github::DELIVERY_HEADER, message.id?.to_owned()),
        ]),
        Scheme::Standard => {
            let id = message.id?;
            Some(vec![
                (standard::ID_HEADERS[0], id.to_owned()),
                (standard::TIMESTAMP_HEADERS[0], t.clone()),
                (
                    standard::SIGNATURE_HEADERS[0],
                    standard::sign(key, id, &t, message.body),
                ),
            ])
        }
        Scheme::Slack => Some(vec![
            (slack::TIMESTAMP_HEADER, t.clone()),
            (slack::SIGNATURE_HEADER, slack::sign(key, &t, message.body)),
        ]),
        Scheme::Worker | Scheme::RequestNonce | Scheme::Rfc9421 => None,
    }
}

/// The HMAC key a secret variable's text stands for: for `standard`, the
/// base64 after an optional `whsec_`, 24 to 64 bytes as the specification
/// requires; for the others, the text itself. The error never contains the
/// secret.
pub fn key_bytes(scheme: Scheme, text: &str) -> Result<Vec<u8>, String> {
    match scheme {
        Scheme::Standard => {
            let encoded = text.strip_prefix("whsec_").unwrap_or(text);
            match STANDARD.decode(encoded.trim()) {
                Ok(key) if (24..=64).contains(&key.len()) => Ok(key),
                Ok(key) => Err(format!(
                    "must decode to 24 to 64 bytes (Standard Webhooks secrets are whsec_ and base64), not {}",
                    key.len()
                )),
                Err(_) => Err(
                    "must be whsec_ followed by base64, as the provider's dashboard shows it"
                        .to_string(),
                ),
            }
        }
        _ if text.is_empty() => Err("must not be empty".to_string()),
        _ => Ok(text.as_bytes().to_vec()),
    }
}

/// A webhook whose headers passed: what its HMAC covers and the candidate
/// signatures, decoded; [`Pending::verify`] finishes with the body.
#[derive(Debug, Clone)]
pub struct Pending {
    pub(super) scheme: Scheme,
    /// The signed bytes before the body.
    prefix: Vec<u8>,
    /// Every signature offered for the scheme's version; any one verifies.
    candidates: Vec<Vec<u8>>,
    /// The id the provider put in a header (`webhook-id`, `X-GitHub-Delivery`).
    header_id: Option<String>,
    /// `None` for `github`, which signs no timestamp.
    pub(super) time: Option<TimeWindow>,
    /// Seconds the replay cache remembers the message.
    window: u64,
}

impl Pending {
    /// HMAC-SHA256 of prefix ‖ body with each configured secret (current
    /// first), compared in constant time with every candidate.
    pub(crate) fn verify(&self, body: &[u8], keys: &Keys<'_>) -> Result<Verified, Failure> {
        let parts: [&[u8]; 2] = [&self.prefix, body];
        let key = keys
            .in_order()
            .find(|(_, key)| {
                let expected = super::hmac_sha256(key, &parts);
                // Every candidate is compared, so the time taken does not
                // say which one matched.
                self.candidates
                    .iter()
                    .fold(subtle::Choice::from(0), |any, c| any | expected.ct_eq(c))
                    .into()
            })
            .map(|(slot, _)| slot)
            .ok_or(Failure::InvalidSignature)?;
        let mut replay = vec![ReplayId::new(self.scheme.as_str(), &parts)];
        if let (Scheme::Github, Some(delivery)) = (self.scheme, &self.header_id) {
            replay.push(ReplayId::new("github-delivery", &[delivery.as_bytes()]));
        }
        let event_id = match self.scheme {
            Scheme::Stripe => body_id(body, "id"),
            Scheme::Slack => body_id(body, "event_id"),
            _ => self.header_id.clone(),
        };
        Ok(Verified {
            scheme: self.scheme,
            key,
            keyid: None,
            replay,
            window: self.window,
            event_id,
        })
    }
}

/// The rule's window: the timestamp within `tolerance` either way.
fn time_window(rule: &SignatureRule, timestamp: u64) -> TimeWindow {
    TimeWindow {
        timestamp,
        max_age: rule.webhook.tolerance,
        future_skew: rule.webhook.tolerance,
        expires: None,
    }
}

/// A verified body's top-level string member `name` (Stripe's event `id`,
/// Slack's `event_id`), if the body is a JSON object that has one that is
/// safe to pass on as a header value.
fn body_id(body: &[u8], name: &str) -> Option<String> {
    // Parsed as a `Value`, as the session layer parses its JSON: one
    // deserializer in the component rather than another (about 20 KB).
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let id = value.as_object()?.get(name)?.as_str()?;
    is_header_safe_id(id).then(|| id.to_owned())
}

/// 1 to [`MAX_ID_LEN`] visible ASCII characters: an id that can go into a
/// header for the app, and into a log, unchanged.
pub(crate) fn is_header_safe_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Refusal for a header that is present but not in the provider's format.
fn malformed(reason: &str) -> Failure {
    Failure::InvalidSignatureInput {
        reason: reason.to_string(),
    }
}

/// A secret's key bytes; `Debug` never shows them.
#[derive(Clone)]
pub struct KeyBytes(Vec<u8>);

impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The keys of one webhook secret variable and its `_previous` companion.
#[derive(Debug, Clone)]
pub struct WebhookKeys {
    /// The variable, as the routes name it.
    pub variable: String,
    current: KeyBytes,
    previous: Option<KeyBytes>,
}

impl WebhookKeys {
    /// The keys, current first, for [`super::Pending::verify`].
    pub fn keys(&self) -> Keys<'_> {
        Keys {
            current: &self.current.0,
            previous: self.previous.as_ref().map(|k| k.0.as_slice()),
        }
    }
}

/// A signed route, as [`load_keys`] sees it: its index, name and rule.
pub struct SignedRoute<'a> {
    /// The route's index in `routes`.
    pub index: usize,
    /// The route's name.
    pub name: &'a str,
    /// What it verifies.
    pub rule: SignatureRule,
}

/// The secret variables the webhook routes read: each route's `secret` and
/// its `_previous` companion, without repeats, in route order.
pub fn secret_variables(routes: &[SignedRoute<'_>]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for route in routes.iter().filter(|r| r.rule.scheme.is_webhook()) {
        for name in [
            route.rule.webhook.secret.clone(),
            route.rule.webhook.previous_secret(),
        ] {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// Reads the webhook routes' secrets from `values` (variable, value; unset
/// variables absent) and checks each: present for every route that reads
/// it, a `_previous` only beside its current secret, and in the form the
/// scheme needs ([`key_bytes`]). Problems name the route's
/// `worker.secret` or the variable, never a value.
pub fn load_keys(
    routes: &[SignedRoute<'_>],
    values: &[(String, String)],
    problems: &mut Vec<crate::base::problem::ConfigProblem>,
) -> Vec<WebhookKeys> {
    use crate::base::problem::ConfigProblem;
    let value = |name: &str| {
        values
            .iter()
            .find(|(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    };
    let mut loaded: Vec<WebhookKeys> = Vec::new();
    for route in routes.iter().filter(|r| r.rule.scheme.is_webhook()) {
        let rule = &route.rule;
        let variable = &rule.webhook.secret;
        if loaded.iter().any(|k| &k.variable == variable) {
            continue;
        }
        let Some(current) = value(variable) else {
            problems.push(ConfigProblem::new(
                format!("routes[{}].worker.secret", route.index),
                format!(
                    "route \"{}\" verifies {} webhooks with the variable {variable}, which is not set",
                    route.name,
                    rule.scheme.as_str()
                ),
            ));
            continue;
        };
        let previous_name = rule.webhook.previous_secret();
        let decode = |name: &str, text: &str, problems: &mut Vec<ConfigProblem>| {
            key_bytes(rule.scheme, text)
                .map_err(|message| problems.push(ConfigProblem::new(name, message)))
                .ok()
                .map(KeyBytes)
        };
        let current = decode(variable, current, problems);
        let previous = value(&previous_name).and_then(|p| decode(&previous_name, p, problems));
        if let Some(current) = current {
            loaded.push(WebhookKeys {
                variable: variable.clone(),
                current,
                previous,
            });
        }
    }
    loaded
}

#[cfg(test)]
mod tests;
