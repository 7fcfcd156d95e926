//! Seed 003's `request-nonce` profile.
//!
//! ```
//! use warden_core::layers::signature::sign_request_nonce;
//!
//! // hex(HMAC-SHA256(secret, body + timestamp + nonce)), timestamp in unix seconds.
//! let sig = sign_request_nonce(b"0123456789abcdef0123456789abcdef", b"{}", "1700000000", "n-1");
//! assert_eq!(sig.len(), 64);
//! ```
//!
//! Headers `X-Request-Signature`, `X-Request-Timestamp`, `X-Request-Nonce`
//! (fixed names, as in the seed). The window is symmetric: a timestamp more
//! than `max_age` seconds (default 300, the seed's 5 minutes) away from
//! `now`, either way, is refused. Check order: the three headers present →
//! timestamp format → expired / in future → origin allowlist → nonce shape →
//! (body read) HMAC, current then previous secret, constant time. The nonce
//! is covered by the signature, so it alone is the replay id.

use super::replay::{ReplayId, hex};
use super::{
    Failure, Keys, RequestView, Scheme, TimeWindow, Verified, WorkerSettings, check_nonce,
    hmac_sha256, hmac_verify, parse_unix_seconds,
};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Request-Signature";
/// The timestamp header (unix seconds).
pub const TIMESTAMP_HEADER: &str = "X-Request-Timestamp";
/// The nonce header.
pub const NONCE_HEADER: &str = "X-Request-Nonce";

/// Signs like the seed's `_create_signature(body, timestamp, nonce)`.
pub fn sign_request_nonce(secret: &[u8], body: &[u8], timestamp: &str, nonce: &str) -> String {
    hex(&hmac_sha256(
        secret,
        &[body, timestamp.as_bytes(), nonce.as_bytes()],
    ))
}

/// A request that passed the header checks.
#[derive(Debug, Clone)]
pub struct Pending {
    timestamp: String,
    signature: Option<Vec<u8>>,
    nonce: String,
    window: u64,
    pub(super) time: TimeWindow,
}

pub(crate) fn check_headers(
    settings: &WorkerSettings,
    request: &RequestView<'_>,
    now: u64,
) -> Result<Pending, Failure> {
    let present = |name: &str| request.header(name).filter(|v| !v.is_empty());
    let (Some(signature), Some(timestamp), Some(nonce)) = (
        present(SIGNATURE_HEADER),
        present(TIMESTAMP_HEADER),
        present(NONCE_HEADER),
    ) else {
        return Err(Failure::MissingHeaders {
            required: [SIGNATURE_HEADER, TIMESTAMP_HEADER, NONCE_HEADER]
                .map(String::from)
                .to_vec(),
        });
    };
    let t = parse_unix_seconds(&timestamp).ok_or(Failure::InvalidTimestamp)?;
    // Seed 003's window is symmetric: `max_age` either way.
    let time = TimeWindow {
        timestamp: t,
        max_age: settings.max_age,
        future_skew: settings.max_age,
        expires: None,
    };
    time.check(now)?;
    if !settings.origin_allowed(request.origin().as_deref()) {
        return Err(Failure::UnauthorizedOrigin);
    }
    check_nonce(&nonce)?;
    Ok(Pending {
        timestamp,
        signature: decode_hex(&signature),
        nonce,
        window: 2 * settings.max_age,
        time,
    })
}

impl Pending {
    pub(crate) fn verify(&self, body: &[u8], keys: &Keys<'_>) -> Result<Verified, Failure> {
        let signature = self.signature.as_deref().ok_or(Failure::InvalidSignature)?;
        let parts: [&[u8]; 3] = [body, self.timestamp.as_bytes(), self.nonce.as_bytes()];
        let key = keys
            .in_order()
            .find(|(_, key)| hmac_verify(key, &parts, signature))
            .map(|(slot, _)| slot)
            .ok_or(Failure::InvalidSignature)?;
        Ok(Verified {
            scheme: Scheme::RequestNonce,
            key,
            keyid: None,
            replay: vec![ReplayId::new("request-nonce", &[self.nonce.as_bytes()])],
            window: self.window,
            event_id: None,
        })
    }
}

/// 64 hex digits, either case.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    crate::base::digest::decode_hex(text, 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::signature::{KeySlot, verify};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: u64 = 1_700_000_000;

    fn settings() -> WorkerSettings {
        WorkerSettings {
            scheme: Scheme::RequestNonce,
            ..WorkerSettings::default()
        }
    }

    fn run(pairs: &[(&str, &str)], body: &[u8], keys: &Keys<'_>) -> Result<Verified, Failure> {
        let headers: Vec<(String, Vec<u8>)> = pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect();
        let request = RequestView {
            method: "POST",
            scheme: "https",
            authority: "api.example.com",
            path_and_query: "/process-clips",
            headers: &headers,
        };
        let s = settings();
        let rule = s.rule_for(&Default::default());
        verify(&s, &rule, &request, body, keys, NOW)
    }

    fn keys() -> Keys<'static> {
        Keys {
            current: SECRET,
            previous: None,
        }
    }

    #[test]
    fn known_answer() {
        // python3 -c "import hmac,hashlib; print(hmac.new(b'0123456789abcdef0123456789abcdef',
        //   b'{\"clip_ids\":[\"clip123\"]}' + b'1700000000' + b'abc123', hashlib.sha256).hexdigest())"
        assert_eq!(
            sign_request_nonce(
                SECRET,
                br#"{"clip_ids":["clip123"]}"#,
                "1700000000",
                "abc123"
            ),
            "8289a740ea7a20933f9dae25f0cd7dd2bf06b3bff323b005630300784f7049d1"
        );
    }

    /// Seed 003 signs `body ‖ timestamp ‖ nonce` with no separators: with a
    /// zero-padded timestamp, a body's last digit could move into the
    /// timestamp under the same signature. Padding is refused outright.
    #[test]
    fn digits_cannot_move_between_body_and_timestamp() {
        let ts = NOW.to_string();
        let sig = sign_request_nonce(SECRET, b"amount=10", &ts, "n-1");
        let ok = [
            ("X-Request-Signature", sig.as_str()),
            ("X-Request-Timestamp", ts.as_str()),
            ("X-Request-Nonce", "n-1"),
        ];
        assert!(run(&ok, b"amount=10", &keys()).is_ok());
        // The same signed bytes, split differently: body `amount=1`, then
        // `0` + the timestamp. The HMAC matches; the spelling is what is refused.
        let moved = format!("0{ts}");
        assert_eq!(
            sign_request_nonce(SECRET, b"amount=1", &moved, "n-1"),
            sig,
            "the malleability this test is about"
        );
        assert_eq!(
            run(
                &[ok[0], ("X-Request-Timestamp", &moved), ok[2]],
                b"amount=1",
                &keys()
            ),
            Err(Failure::InvalidTimestamp)
        );
        // `0` itself is a (very old) timestamp, not a format error.
        assert!(matches!(
            run(&[ok[0], ("X-Request-Timestamp", "0"), ok[2]], b"", &keys()),
            Err(Failure::Expired { .. })
        ));
    }

    #[test]
    fn valid_and_tampered() {
        let body = br#"{"clip_ids":["clip123"]}"#;
        let ts = NOW.to_string();
        let sig = sign_request_nonce(SECRET, body, &ts, "n-1");
        let pairs = [
            ("X-Request-Signature", sig.as_str()),
            ("X-Request-Timestamp", ts.as_str()),
            ("X-Request-Nonce", "n-1"),
        ];
        let v = run(&pairs, body, &keys()).unwrap();
        assert_eq!(
            (v.scheme, v.key, v.window),
            (Scheme::RequestNonce, KeySlot::Current, 600)
        );
        assert_eq!(v.replay, vec![ReplayId::new("request-nonce", &[b"n-1"])]);
        // Upper-case hex is the same signature.
        let upper = sig.to_ascii_uppercase();
        assert!(
            run(
                &[("X-Request-Signature", &upper), pairs[1], pairs[2]],
                body,
                &keys()
            )
            .is_ok()
        );
        // Body, timestamp and nonce are all covered.
        assert_eq!(run(&pairs, b"{}", &keys()), Err(Failure::InvalidSignature));
        let other_ts = (NOW - 1).to_string();
        assert_eq!(
            run(
                &[pairs[0], ("X-Request-Timestamp", &other_ts), pairs[2]],
                body,
                &keys()
            ),
            Err(Failure::InvalidSignature)
        );
        assert_eq!(
            run(
                &[pairs[0], pairs[1], ("X-Request-Nonce", "n-2")],
                body,
                &keys()
            ),
            Err(Failure::InvalidSignature)
        );
        // base64 is not this profile's encoding.
        let b64 = crate::layers::signature::sign_worker(SECRET, &ts, body);
        assert_eq!(
            run(
                &[("X-Request-Signature", &b64), pairs[1], pairs[2]],
                body,
                &keys()
            ),
            Err(Failure::InvalidSignature)
        );
    }

    #[test]
    fn errors() {
        let missing = Err(Failure::MissingHeaders {
            required: vec![
                "X-Request-Signature".into(),
                "X-Request-Timestamp".into(),
                "X-Request-Nonce".into(),
            ],
        });
        let ts = NOW.to_string();
        assert_eq!(
            run(
                &[("X-Request-Signature", "ab"), ("X-Request-Timestamp", &ts)],
                b"",
                &keys()
            ),
            missing
        );
        let nonce = ("X-Request-Nonce", "n");
        assert_eq!(
            run(
                &[
                    ("X-Request-Signature", "ab"),
                    ("X-Request-Timestamp", "later"),
                    nonce
                ],
                b"",
                &keys()
            ),
            Err(Failure::InvalidTimestamp)
        );
        // Five minutes either way.
        for (offset, ok) in [(-300i64, true), (-301, false), (300, true), (301, false)] {
            let t = (NOW as i64 + offset).to_string();
            let sig = sign_request_nonce(SECRET, b"", &t, "n");
            let result = run(
                &[
                    ("X-Request-Signature", &sig),
                    ("X-Request-Timestamp", &t),
                    nonce,
                ],
                b"",
                &keys(),
            );
            assert_eq!(result.is_ok(), ok, "{offset}: {result:?}");
            if offset == -301 {
                assert_eq!(
                    result,
                    Err(Failure::Expired {
                        max_age: 300,
                        age: 301
                    })
                );
            }
            if offset == 301 {
                assert_eq!(result, Err(Failure::InFuture));
            }
        }
        let sig = sign_request_nonce(SECRET, b"", &ts, "bad nonce");
        assert_eq!(
            run(
                &[
                    ("X-Request-Signature", &sig),
                    ("X-Request-Timestamp", &ts),
                    ("X-Request-Nonce", "bad nonce")
                ],
                b"",
                &keys()
            ),
            Err(Failure::InvalidNonce)
        );
    }

    #[test]
    fn hex_decoding() {
        assert_eq!(decode_hex(&"0f".repeat(32)), Some(vec![15; 32]));
        assert_eq!(decode_hex(&"0F".repeat(32)), Some(vec![15; 32]));
        assert_eq!(decode_hex(&"0g".repeat(32)), None);
        assert_eq!(decode_hex(&"0f".repeat(31)), None);
        assert_eq!(decode_hex(&"é".repeat(32)), None);
    }
}
