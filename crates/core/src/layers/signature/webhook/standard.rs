//! Standard Webhooks (the specification Svix wrote and other providers
//! adopted): `webhook-id`, `webhook-timestamp` and `webhook-signature`, a
//! space-separated list of `v1,<base64 HMAC-SHA256>` over
//! `{id}.{timestamp}.{raw body}`, keyed with the base64 after `whsec_`.
//! Svix's `svix-id`, `svix-timestamp` and `svix-signature` are read when
//! no `webhook-id` is sent.
//!
//! Signatures of other versions (`v1a`, asymmetric) are ignored, as the
//! specification says; at least one `v1` is required.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::super::{Failure, RequestView, Scheme, SignatureRule, hmac_sha256, parse_unix_seconds};
use super::{MAX_SIGNATURES, Pending, is_header_safe_id, malformed, time_window};

/// `webhook-id`, then Svix's spelling.
pub const ID_HEADERS: [&str; 2] = ["webhook-id", "svix-id"];
/// `webhook-timestamp`, then Svix's spelling.
pub const TIMESTAMP_HEADERS: [&str; 2] = ["webhook-timestamp", "svix-timestamp"];
/// `webhook-signature`, then Svix's spelling.
pub const SIGNATURE_HEADERS: [&str; 2] = ["webhook-signature", "svix-signature"];

/// The `webhook-signature` value for a message, with the decoded key.
pub fn sign(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> String {
    let mac = hmac_sha256(
        key,
        &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    );
    format!("v1,{}", STANDARD.encode(mac))
}

pub(crate) fn check_headers(
    rule: &SignatureRule,
    request: &RequestView<'_>,
    now: u64,
) -> Result<Pending, Failure> {
    // One spelling for all three: Svix's only when no webhook-id is sent.
    let svix = request.header(ID_HEADERS[0]).is_none() && request.header(ID_HEADERS[1]).is_some();
    let spelling = usize::from(svix);
    let present = |names: [&str; 2]| request.header(names[spelling]).filter(|v| !v.is_empty());
    let (Some(id), Some(timestamp), Some(signatures)) = (
        present(ID_HEADERS),
        present(TIMESTAMP_HEADERS),
        present(SIGNATURE_HEADERS),
    ) else {
        return Err(Failure::MissingHeaders {
            required: [ID_HEADERS, TIMESTAMP_HEADERS, SIGNATURE_HEADERS]
                .iter()
                .map(|names| names[spelling].to_string())
                .collect(),
        });
    };
    let t = parse_unix_seconds(&timestamp).ok_or(Failure::InvalidTimestamp)?;
    let time = time_window(rule, t);
    time.check(now)?;
    if !is_header_safe_id(&id) {
        return Err(malformed(
            "webhook-id is not 1 to 255 visible ASCII characters",
        ));
    }
    let mut candidates = Vec::new();
    let mut versions = 0;
    for entry in signatures.split(' ').filter(|e| !e.is_empty()) {
        versions += 1;
        if versions > MAX_SIGNATURES {
            return Err(malformed("webhook-signature has too many signatures"));
        }
        if let Some(encoded) = entry.strip_prefix("v1,") {
            // Undecodable base64 matches nothing, like a wrong signature.
            candidates.push(STANDARD.decode(encoded).unwrap_or_default());
        }
    }
    if candidates.is_empty() {
        return Err(malformed("webhook-signature has no v1 signature"));
    }
    Ok(Pending {
        scheme: Scheme::Standard,
        prefix: [id.as_bytes(), b".", timestamp.as_bytes(), b"."].concat(),
        candidates,
        header_id: Some(id),
        time: Some(time),
        window: 2 * rule.webhook.tolerance,
    })
}
