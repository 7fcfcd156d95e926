//! Seed 000's worker-to-worker HMAC.
//!
//! ```
//! use warden_core::layers::signature::sign_worker;
//!
//! // base64(HMAC-SHA256(secret, "{timestamp}:{body}")), timestamp in unix seconds.
//! let sig = sign_worker(b"test-secret-key-at-least-32-chars-long!", "1700000000", br#"{"userId":"123"}"#);
//! assert_eq!(sig.len(), 44);
//! ```
//!
//! Check order (cheap first; the body is read only after step 5):
//! 1. both headers present and non-empty, else 401 "Missing authentication
//!    headers" listing the two configured names;
//! 2. the timestamp is whole unix seconds (digits only), else 401 "Invalid
//!    timestamp format";
//! 3. older than `max_age` → 401 "Request timestamp expired" with `maxAge`
//!    and `age`; more than `future_skew` ahead → 401 "Request timestamp in
//!    future";
//! 4. the `Origin` is on the allowlist (when one is configured), else 403
//!    "Unauthorized origin";
//! 5. an `X-Worker-Nonce`, when sent, is 1–256 printable ASCII characters;
//! 6. (body read, bounded) the HMAC with `worker_secret`, then with
//!    `worker_secret_previous`, compared in constant time, else 401
//!    "Invalid signature".

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};

use super::replay::ReplayId;
use super::{
    Failure, Keys, RequestView, Scheme, TimeWindow, Verified, WorkerSettings, check_nonce,
    hmac_sha256, hmac_verify, parse_unix_seconds,
};

/// Signatures decode with or without `=` padding; both spellings of one
/// signature map to the same replay id.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Signs like the seed's `generateWorkerSignature(payload, secret, timestamp)`.
pub fn sign_worker(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(secret, &[timestamp.as_bytes(), b":", body]))
}

/// A request that passed the header checks.
#[derive(Debug, Clone)]
pub struct Pending {
    timestamp: String,
    /// The decoded signature; `None` when it is not base64 (it then fails
    /// as "Invalid signature" in phase 2, like any wrong signature).
    signature: Option<Vec<u8>>,
    nonce: Option<String>,
    window: u64,
    pub(super) time: TimeWindow,
}

pub(crate) fn check_headers(
    settings: &WorkerSettings,
    request: &RequestView<'_>,
    now: u64,
) -> Result<Pending, Failure> {
    let present = |name: &str| request.header(name).filter(|v| !v.is_empty());
    let (Some(signature), Some(timestamp)) = (
        present(&settings.signature_header),
        present(&settings.timestamp_header),
    ) else {
        return Err(Failure::MissingHeaders {
            required: vec![
                settings.signature_header.clone(),
                settings.timestamp_header.clone(),
            ],
        });
    };
    let t = parse_unix_seconds(&timestamp).ok_or(Failure::InvalidTimestamp)?;
    let time = TimeWindow {
        timestamp: t,
        max_age: settings.max_age,
        future_skew: settings.future_skew,
        expires: None,
    };
    time.check(now)?;
    if !settings.origin_allowed(request.origin().as_deref()) {
        return Err(Failure::UnauthorizedOrigin);
    }
    let nonce = request.header(&settings.nonce_header);
    if let Some(nonce) = &nonce {
        check_nonce(nonce)?;
    }
    Ok(Pending {
        timestamp,
        signature: LENIENT.decode(signature.as_bytes()).ok(),
        nonce,
        window: settings.max_age + settings.future_skew,
        time,
    })
}

impl Pending {
    pub(crate) fn verify(&self, body: &[u8], keys: &Keys<'_>) -> Result<Verified, Failure> {
        let signature = self.signature.as_deref().ok_or(Failure::InvalidSignature)?;
        let parts: [&[u8]; 3] = [self.timestamp.as_bytes(), b":", body];
        let key = keys
            .in_order()
            .find(|(_, key)| hmac_verify(key, &parts, signature))
            .map(|(slot, _)| slot)
            .ok_or(Failure::InvalidSignature)?;
        // The seed's signature does not cover X-Worker-Nonce, so a nonce
        // alone cannot stop a replay (anyone could change it): the signature
        // is always recorded, the nonce in addition.
        let mut replay = vec![ReplayId::new("worker-signature", &[signature])];
        if let Some(nonce) = &self.nonce {
            replay.push(ReplayId::new("worker-nonce", &[nonce.as_bytes()]));
        }
        Ok(Verified {
            scheme: Scheme::Worker,
            key,
            keyid: None,
            replay,
            window: self.window,
            event_id: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::signature::{KeySlot, check_headers as check, verify};

    const SECRET: &[u8] = b"test-secret-key-at-least-32-chars-long!";
    const OLD: &[u8] = b"the-previous-secret-also-32-chars-long";
    const NOW: u64 = 1_700_000_000;

    fn keys() -> Keys<'static> {
        Keys {
            current: SECRET,
            previous: None,
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    fn run(
        settings: &WorkerSettings,
        pairs: &[(&str, &str)],
        body: &[u8],
        keys: &Keys<'_>,
        now: u64,
    ) -> Result<Verified, Failure> {
        let headers = headers(pairs);
        let request = RequestView {
            method: "POST",
            scheme: "https",
            authority: "api.example.com",
            path_and_query: "/internal/webhook",
            headers: &headers,
        };
        let rule = settings.rule_for(&Default::default());
        verify(settings, &rule, &request, body, keys, now)
    }

    fn signed(ts: u64, body: &[u8]) -> (String, String) {
        (sign_worker(SECRET, &ts.to_string(), body), ts.to_string())
    }

    #[test]
    fn known_answer() {
        // Computed independently: python3 -c "import hmac,hashlib,base64;
        // print(base64.b64encode(hmac.new(b'test-secret-key-at-least-32-chars-long!',
        // b'1700000000:{\"userId\":\"123\"}', hashlib.sha256).digest()).decode())"
        assert_eq!(
            sign_worker(SECRET, "1700000000", br#"{"userId":"123"}"#),
            "oc2tLEYSb7a4uha8QMcymlv3lGUt+KY4Qfv5oZkG5ak="
        );
    }

    #[test]
    fn valid_request_verifies() {
        let body = br#"{"userId":"123","action":"login"}"#;
        let (sig, ts) = signed(NOW - 10, body);
        let s = WorkerSettings::default();
        let v = run(
            &s,
            &[("X-Worker-Signature", &sig), ("X-Worker-Timestamp", &ts)],
            body,
            &keys(),
            NOW,
        )
        .unwrap();
        assert_eq!(v.scheme, Scheme::Worker);
        assert_eq!(v.key, KeySlot::Current);
        assert_eq!(v.replay.len(), 1);
        assert_eq!(v.window, 360);
        // Header names are case-insensitive; padding is optional.
        let unpadded = sig.trim_end_matches('=');
        let v2 = run(
            &s,
            &[
                ("x-worker-signature", unpadded),
                ("x-worker-timestamp", &ts),
            ],
            body,
            &keys(),
            NOW,
        )
        .unwrap();
        assert_eq!(v2.replay, v.replay, "both spellings are one replay id");
    }

    #[test]
    fn the_six_seed_errors_in_order() {
        let s = WorkerSettings {
            allowed_origins: vec![
                crate::http::origin::OriginPattern::parse("https://auth.example.com").unwrap(),
            ],
            ..WorkerSettings::default()
        };
        let body = b"{}";
        let (sig, ts) = signed(NOW, body);
        let origin = ("Origin", "https://auth.example.com");
        let missing = Failure::MissingHeaders {
            required: vec!["X-Worker-Signature".into(), "X-Worker-Timestamp".into()],
        };
        assert_eq!(run(&s, &[origin], body, &keys(), NOW), Err(missing.clone()));
        assert_eq!(
            run(
                &s,
                &[("X-Worker-Signature", &sig), origin],
                body,
                &keys(),
                NOW
            ),
            Err(missing.clone())
        );
        assert_eq!(
            run(
                &s,
                &[("X-Worker-Signature", ""), ("X-Worker-Timestamp", &ts)],
                body,
                &keys(),
                NOW
            ),
            Err(missing)
        );
        // Missing headers win over a bad origin; a bad timestamp over a bad signature.
        assert_eq!(
            run(
                &s,
                &[
                    ("X-Worker-Signature", "nope"),
                    ("X-Worker-Timestamp", "soon"),
                    origin
                ],
                body,
                &keys(),
                NOW
            ),
            Err(Failure::InvalidTimestamp)
        );
        for bad in ["1700000000.5", "-5", "1e9", "17000000000000000"] {
            assert_eq!(
                run(
                    &s,
                    &[
                        ("X-Worker-Signature", &sig),
                        ("X-Worker-Timestamp", bad),
                        origin
                    ],
                    body,
                    &keys(),
                    NOW
                ),
                Err(Failure::InvalidTimestamp),
                "{bad}"
            );
        }
        let (old_sig, old_ts) = signed(NOW - 450, body);
        assert_eq!(
            run(
                &s,
                &[
                    ("X-Worker-Signature", &old_sig),
                    ("X-Worker-Timestamp", &old_ts),
                    origin
                ],
                body,
                &keys(),
                NOW
            ),
            Err(Failure::Expired {
                max_age: 300,
                age: 450
            })
        );
        let (f_sig, f_ts) = signed(NOW + 61, body);
        assert_eq!(
            run(
                &s,
                &[
                    ("X-Worker-Signature", &f_sig),
                    ("X-Worker-Timestamp", &f_ts),
                    origin
                ],
                body,
                &keys(),
                NOW
            ),
            Err(Failure::InFuture)
        );
        let (ok_sig, ok_ts) = signed(NOW + 60, body);
        assert!(
            run(
                &s,
                &[
                    ("X-Worker-Signature", &ok_sig),
                    ("X-Worker-Timestamp", &ok_ts),
                    origin
                ],
                body,
                &keys(),
                NOW
            )
            .is_ok()
        );
        // A valid signature from the wrong origin: 403 before any HMAC.
        for origin in [None, Some("https://evil.example.com")] {
            let mut pairs = vec![
                ("X-Worker-Signature", sig.as_str()),
                ("X-Worker-Timestamp", ts.as_str()),
            ];
            pairs.extend(origin.map(|o| ("Origin", o)));
            assert_eq!(
                run(&s, &pairs, body, &keys(), NOW),
                Err(Failure::UnauthorizedOrigin)
            );
        }
        assert_eq!(
            run(
                &s,
                &[
                    ("X-Worker-Signature", "invalid-signature"),
                    ("X-Worker-Timestamp", &ts),
                    origin
                ],
                body,
                &keys(),
                NOW
            ),
            Err(Failure::InvalidSignature)
        );
    }

    #[test]
    fn tampering_fails() {
        let body = br#"{"amount":100}"#;
        let (sig, ts) = signed(NOW, body);
        let s = WorkerSettings::default();
        let ok = [
            ("X-Worker-Signature", sig.as_str()),
            ("X-Worker-Timestamp", ts.as_str()),
        ];
        assert!(run(&s, &ok, body, &keys(), NOW).is_ok());
        assert_eq!(
            run(&s, &ok, br#"{"amount":900}"#, &keys(), NOW),
            Err(Failure::InvalidSignature)
        );
        let later = (NOW + 1).to_string();
        assert_eq!(
            run(
                &s,
                &[("X-Worker-Signature", &sig), ("X-Worker-Timestamp", &later)],
                body,
                &keys(),
                NOW
            ),
            Err(Failure::InvalidSignature)
        );
        // A zero-padded timestamp is refused as a format error, even when
        // correctly signed: each instant has one spelling.
        let padded = format!("0{ts}");
        let padded_sig = sign_worker(SECRET, &padded, body);
        for signature in [&sig, &padded_sig] {
            assert_eq!(
                run(
                    &s,
                    &[
                        ("X-Worker-Signature", signature),
                        ("X-Worker-Timestamp", &padded)
                    ],
                    body,
                    &keys(),
                    NOW
                ),
                Err(Failure::InvalidTimestamp)
            );
        }
        // A signature of the right length with one flipped bit.
        let mut raw = STANDARD.decode(&sig).unwrap();
        raw[0] ^= 1;
        let flipped = STANDARD.encode(raw);
        assert_eq!(
            run(
                &s,
                &[
                    ("X-Worker-Signature", &flipped),
                    ("X-Worker-Timestamp", &ts)
                ],
                body,
                &keys(),
                NOW
            ),
            Err(Failure::InvalidSignature)
        );
        // Truncated, hex instead of base64, or two signature headers.
        let half = &sig[..20];
        let hex = crate::layers::signature::replay::hex(&STANDARD.decode(&sig).unwrap());
        for bad in [half, hex.as_str()] {
            assert_eq!(
                run(
                    &s,
                    &[("X-Worker-Signature", bad), ("X-Worker-Timestamp", &ts)],
                    body,
                    &keys(),
                    NOW
                ),
                Err(Failure::InvalidSignature)
            );
        }
        assert_eq!(
            run(
                &s,
                &[
                    ("X-Worker-Signature", &sig),
                    ("X-Worker-Signature", &sig),
                    ("X-Worker-Timestamp", &ts)
                ],
                body,
                &keys(),
                NOW
            ),
            Err(Failure::InvalidSignature)
        );
    }

    #[test]
    fn rotation_accepts_the_previous_secret() {
        let body = b"payload";
        let ts = NOW.to_string();
        let old_sig = sign_worker(OLD, &ts, body);
        let s = WorkerSettings::default();
        let pairs = [
            ("X-Worker-Signature", old_sig.as_str()),
            ("X-Worker-Timestamp", ts.as_str()),
        ];
        assert_eq!(
            run(&s, &pairs, body, &keys(), NOW),
            Err(Failure::InvalidSignature)
        );
        let rotating = Keys {
            current: SECRET,
            previous: Some(OLD),
        };
        assert_eq!(
            run(&s, &pairs, body, &rotating, NOW).unwrap().key,
            KeySlot::Previous
        );
    }

    #[test]
    fn configured_header_names() {
        let s = WorkerSettings {
            signature_header: "X-Sig".into(),
            timestamp_header: "X-Ts".into(),
            ..WorkerSettings::default()
        };
        let (sig, ts) = signed(NOW, b"");
        assert!(run(&s, &[("x-sig", &sig), ("x-ts", &ts)], b"", &keys(), NOW).is_ok());
        assert_eq!(
            run(
                &s,
                &[("X-Worker-Signature", &sig), ("X-Worker-Timestamp", &ts)],
                b"",
                &keys(),
                NOW
            ),
            Err(Failure::MissingHeaders {
                required: vec!["X-Sig".into(), "X-Ts".into()]
            })
        );
    }

    #[test]
    fn nonce_adds_a_replay_id() {
        let (sig, ts) = signed(NOW, b"");
        let s = WorkerSettings::default();
        let base = [
            ("X-Worker-Signature", sig.as_str()),
            ("X-Worker-Timestamp", ts.as_str()),
        ];
        let a = run(
            &s,
            &[base[0], base[1], ("X-Worker-Nonce", "n-1")],
            b"",
            &keys(),
            NOW,
        )
        .unwrap();
        let b = run(
            &s,
            &[base[0], base[1], ("X-Worker-Nonce", "n-2")],
            b"",
            &keys(),
            NOW,
        )
        .unwrap();
        assert_eq!(a.replay.len(), 2);
        assert_eq!(
            a.replay[0], b.replay[0],
            "the signature is recorded whatever the nonce"
        );
        assert_ne!(a.replay[1], b.replay[1]);
        for bad in ["has space", &"n".repeat(257)] {
            assert_eq!(
                run(
                    &s,
                    &[base[0], base[1], ("X-Worker-Nonce", bad)],
                    b"",
                    &keys(),
                    NOW
                ),
                Err(Failure::InvalidNonce)
            );
        }
    }

    #[test]
    fn header_phase_does_not_need_the_body() {
        let s = WorkerSettings::default();
        let headers = headers(&[("X-Worker-Signature", "x"), ("X-Worker-Timestamp", "1")]);
        let request = RequestView {
            method: "POST",
            scheme: "http",
            authority: "h",
            path_and_query: "/",
            headers: &headers,
        };
        let rule = s.rule_for(&Default::default());
        assert!(matches!(
            check(&s, &rule, &request, NOW),
            Err(Failure::Expired { .. })
        ));
    }
}
