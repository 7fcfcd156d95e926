//! Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, where
//! each `v1` is hex HMAC-SHA256 of `{t}.{raw body}` keyed with the
//! endpoint's `whsec_…` secret as text.
//!
//! As Stripe's libraries read it: items are split on `,` and each at its
//! first `=`; `v1` items are the candidates (several while Stripe rolls the
//! secret), items of other schemes such as `v0` are ignored. Stricter than
//! the libraries, and never refusing what Stripe sends: exactly one `t`,
//! written as canonical unix seconds, and at most 16 items.

use super::super::replay::hex;
use super::super::{Failure, RequestView, Scheme, SignatureRule, hmac_sha256, parse_unix_seconds};
use super::{MAX_SIGNATURES, Pending, malformed, time_window};
use crate::base::digest::decode_hex;

/// The header Stripe sends.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// The `Stripe-Signature` value for `body` at `timestamp`, as Stripe's
/// `generateTestHeaderString` makes it.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let v1 = hex(&hmac_sha256(secret, &[timestamp.as_bytes(), b".", body]));
    format!("t={timestamp},v1={v1}")
}

pub(crate) fn check_headers(
    rule: &SignatureRule,
    request: &RequestView<'_>,
    now: u64,
) -> Result<Pending, Failure> {
    let Some(value) = request.header(SIGNATURE_HEADER).filter(|v| !v.is_empty()) else {
        return Err(Failure::MissingHeaders {
            required: vec![SIGNATURE_HEADER.to_string()],
        });
    };
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for (n, item) in value.split(',').enumerate() {
        if n >= MAX_SIGNATURES {
            return Err(malformed("Stripe-Signature has too many items"));
        }
        let Some((name, content)) = item.trim_matches([' ', '\t']).split_once('=') else {
            continue;
        };
        match name {
            "t" if timestamp.is_some() => {
                return Err(malformed("Stripe-Signature has more than one t"));
            }
            "t" => timestamp = Some(content.to_string()),
            // A v1 that is not 64 hex digits can match nothing; it is kept
            // out rather than refused, as Stripe's libraries would.
            "v1" => candidates.extend(decode_hex(content, 32)),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return Err(malformed("Stripe-Signature has no t"));
    };
    let t = parse_unix_seconds(&timestamp).ok_or(Failure::InvalidTimestamp)?;
    let time = time_window(rule, t);
    time.check(now)?;
    if candidates.is_empty() && !value.split(',').any(|i| i.trim_start().starts_with("v1=")) {
        return Err(malformed("Stripe-Signature has no v1 signature"));
    }
    let mut prefix = timestamp.into_bytes();
    prefix.push(b'.');
    Ok(Pending {
        scheme: Scheme::Stripe,
        prefix,
        candidates,
        header_id: None,
        time: Some(time),
        window: 2 * rule.webhook.tolerance,
    })
}
