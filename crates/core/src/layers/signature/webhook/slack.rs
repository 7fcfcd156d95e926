//! Slack: `X-Slack-Signature: v0=<hex>`, hex HMAC-SHA256 of
//! `v0:{X-Slack-Request-Timestamp}:{raw body}` keyed with the app's
//! signing secret as text; the timestamp within five minutes of the clock.

use super::super::replay::hex;
use super::super::{Failure, RequestView, Scheme, SignatureRule, hmac_sha256, parse_unix_seconds};
use super::{Pending, malformed, time_window};
use crate::base::digest::decode_hex;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Slack-Signature";
/// The timestamp header (unix seconds).
pub const TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";

/// The `X-Slack-Signature` value for `body` at `timestamp`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let base = [b"v0:", timestamp.as_bytes(), b":", body];
    format!("v0={}", hex(&hmac_sha256(secret, &base)))
}

pub(crate) fn check_headers(
    rule: &SignatureRule,
    request: &RequestView<'_>,
    now: u64,
) -> Result<Pending, Failure> {
    let present = |name: &str| request.header(name).filter(|v| !v.is_empty());
    let (Some(signature), Some(timestamp)) = (present(SIGNATURE_HEADER), present(TIMESTAMP_HEADER))
    else {
        return Err(Failure::MissingHeaders {
            required: vec![SIGNATURE_HEADER.to_string(), TIMESTAMP_HEADER.to_string()],
        });
    };
    let t = parse_unix_seconds(&timestamp).ok_or(Failure::InvalidTimestamp)?;
    let time = time_window(rule, t);
    time.check(now)?;
    let Some(tag) = signature
        .strip_prefix("v0=")
        .and_then(|hex| decode_hex(hex, 32))
    else {
        return Err(malformed("X-Slack-Signature is not v0= and 64 hex digits"));
    };
    Ok(Pending {
        scheme: Scheme::Slack,
        prefix: [b"v0:", timestamp.as_bytes(), b":"].concat(),
        candidates: vec![tag],
        header_id: None,
        time: Some(time),
        window: 2 * rule.webhook.tolerance,
    })
}
