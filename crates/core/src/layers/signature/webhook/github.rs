//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, hex HMAC-SHA256 of the raw
//! body keyed with the webhook's secret as text, and `X-GitHub-Delivery`,
//! the delivery's GUID.
//!
//! GitHub signs no timestamp, so a captured delivery verifies forever: the
//! replay cache (on by default) is the only protection, for the route's
//! `replay_window`. It keys on the body and on the delivery id, so a
//! redelivery from GitHub's dashboard within the window is refused as a
//! replay too (see the docs' recipe). The older SHA-1 `X-Hub-Signature` is
//! not accepted.

use super::super::replay::hex;
use super::super::{Failure, RequestView, Scheme, SignatureRule, hmac_sha256};
use super::{Pending, is_header_safe_id, malformed};
use crate::base::digest::decode_hex;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// The delivery id header.
pub const DELIVERY_HEADER: &str = "X-GitHub-Delivery";

/// The `X-Hub-Signature-256` value for `body`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex(&hmac_sha256(secret, &[body])))
}

pub(crate) fn check_headers(
    rule: &SignatureRule,
    request: &RequestView<'_>,
) -> Result<Pending, Failure> {
    let present = |name: &str| request.header(name).filter(|v| !v.is_empty());
    let (Some(signature), Some(delivery)) = (present(SIGNATURE_HEADER), present(DELIVERY_HEADER))
    else {
        return Err(Failure::MissingHeaders {
            required: vec![SIGNATURE_HEADER.to_string(), DELIVERY_HEADER.to_string()],
        });
    };
    let Some(tag) = signature
        .strip_prefix("sha256=")
        .and_then(|hex| decode_hex(hex, 32))
    else {
        return Err(malformed(
            "X-Hub-Signature-256 is not sha256= and 64 hex digits",
        ));
    };
    if !is_header_safe_id(&delivery) {
        return Err(malformed("X-GitHub-Delivery is not a delivery id"));
    }
    Ok(Pending {
        scheme: Scheme::Github,
        prefix: Vec::new(),
        candidates: vec![tag],
        header_id: Some(delivery),
        time: None,
        window: rule.webhook.replay_window,
    })
}
