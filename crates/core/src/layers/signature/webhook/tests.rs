//! The four webhook schemes against their providers' published examples,
//! and every refusal of their header parsers.

use super::*;
use crate::layers::signature::{
    Failure, KeySlot, Keys, RequestView, Scheme, SignatureRule, WorkerSettings, check_headers,
    verify,
};

const NOW: u64 = 1_700_000_000;
const STRIPE_SECRET: &[u8] = b"whsec_test_secret_for_the_docs_0123456789";

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect()
}

fn run_rule(
    rule: &SignatureRule,
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
        path_and_query: "/hooks",
        headers: &headers,
    };
    verify(&WorkerSettings::default(), rule, &request, body, keys, now)
}

fn run(
    scheme: Scheme,
    pairs: &[(&str, &str)],
    body: &[u8],
    key: &[u8],
    now: u64,
) -> Result<Verified, Failure> {
    let keys = Keys {
        current: key,
        previous: None,
    };
    run_rule(&SignatureRule::new(scheme), pairs, body, &keys, now)
}

fn malformed_reason(result: Result<Verified, Failure>) -> String {
    match result {
        Err(Failure::InvalidSignatureInput { reason }) => reason,
        other => panic!("expected a malformed-header refusal, got {other:?}"),
    }
}

// --- Published examples ---------------------------------------------------

/// GitHub's "Validating webhook deliveries" example.
#[test]
fn github_documented_example() {
    let secret = b"It's a Secret to Everybody";
    let body = b"Hello, World!";
    let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_eq!(github::sign(secret, body), expected);
    let v = run(
        Scheme::Github,
        &[
            ("X-Hub-Signature-256", expected),
            ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ],
        body,
        secret,
        NOW,
    )
    .unwrap();
    assert_eq!(
        v.event_id.as_deref(),
        Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    );
    assert_eq!(v.window, DEFAULT_REPLAY_WINDOW);
    assert_eq!(v.replay.len(), 2, "the body and the delivery id");
}

/// Slack's "Verifying requests from Slack" example (a slash command).
const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";

#[test]
fn slack_documented_example() {
    let secret = b"8f742231b10e8888abcd99yyyzzz85a5";
    let expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    assert_eq!(
        slack::sign(secret, "1531420618", SLACK_BODY.as_bytes()),
        expected
    );
    let pairs = [
        ("X-Slack-Signature", expected),
        ("X-Slack-Request-Timestamp", "1531420618"),
    ];
    let v = run(
        Scheme::Slack,
        &pairs,
        SLACK_BODY.as_bytes(),
        secret,
        1_531_420_618 + 300,
    )
    .unwrap();
    assert_eq!(v.scheme, Scheme::Slack);
    assert_eq!(v.event_id, None, "a slash command has no event_id");
    // Five minutes and one second later it is stale; as early, too early.
    assert_eq!(
        run(
            Scheme::Slack,
            &pairs,
            SLACK_BODY.as_bytes(),
            secret,
            1_531_420_618 + 301
        ),
        Err(Failure::Expired {
            max_age: 300,
            age: 301
        })
    );
    assert_eq!(
        run(
            Scheme::Slack,
            &pairs,
            SLACK_BODY.as_bytes(),
            secret,
            1_531_420_618 - 301
        ),
        Err(Failure::InFuture)
    );
}

/// The Standard Webhooks specification's example (also Svix's docs').
#[test]
fn standard_webhooks_published_example() {
    let key = key_bytes(Scheme::Standard, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let body = br#"{"test": 2432232314}"#;
    let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert_eq!(
        standard::sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body),
        expected
    );
    for names in [
        ["webhook-id", "webhook-timestamp", "webhook-signature"],
        ["svix-id", "svix-timestamp", "svix-signature"],
    ] {
        let v = run(
            Scheme::Standard,
            &[
                (names[0], "msg_p5jXN8AQM9LWM0D4loKWxJek"),
                (names[1], "1614265330"),
                (names[2], expected),
            ],
            body,
            &key,
            1_614_265_330,
        )
        .unwrap();
        assert_eq!(v.event_id.as_deref(), Some("msg_p5jXN8AQM9LWM0D4loKWxJek"));
        assert_eq!(v.window, 600);
    }
}

/// Stripe publishes no vector; this one is Python's hmac:
/// `hmac.new(b'whsec_test_secret_for_the_docs_0123456789',
/// b'1700000000.{"id":"evt_1"}', hashlib.sha256).hexdigest()`.
#[test]
fn stripe_known_answer() {
    let body = br#"{"id":"evt_1"}"#;
    let header = stripe::sign(STRIPE_SECRET, "1700000000", body);
    assert_eq!(
        header,
        "t=1700000000,v1=7fe039c14a69cd90bb7935191bf598bcb439f13f84a8261fbf4ca9746aba383d"
    );
    let v = run(
        Scheme::Stripe,
        &[("Stripe-Signature", &header)],
        body,
        STRIPE_SECRET,
        NOW,
    )
    .unwrap();
    assert_eq!(v.event_id.as_deref(), Some("evt_1"));
    assert_eq!(v.key, KeySlot::Current);
    assert_eq!(v.window, 600);
}

// --- Stripe's header ------------------------------------------------------

#[test]
fn stripe_reads_every_v1_and_ignores_other_schemes() {
    let body = br#"{"id":"evt_2","object":"event"}"#;
    let good = stripe::sign(STRIPE_SECRET, "1700000000", body);
    let good_v1 = good.split_once(",v1=").unwrap().1;
    let wrong_v1 = "0".repeat(64);
    for header in [
        format!("t=1700000000,v1={wrong_v1},v1={good_v1}"),
        format!("t=1700000000,v0={good_v1},v1={good_v1}"),
        format!("v1={good_v1},t=1700000000"),
        format!("t=1700000000, v1={good_v1}"),
        format!("t=1700000000,v1=not-hex,v1={good_v1},junk"),
    ] {
        assert!(
            run(
                Scheme::Stripe,
                &[("Stripe-Signature", &header)],
                body,
                STRIPE_SECRET,
                NOW
            )
            .is_ok(),
            "{header}"
        );
    }
    // Only a v0 (Stripe's test-mode legacy scheme) is not a v1.
    let only_v0 = format!("t=1700000000,v0={good_v1}");
    assert_eq!(
        malformed_reason(run(
            Scheme::Stripe,
            &[("Stripe-Signature", &only_v0)],
            body,
            STRIPE_SECRET,
            NOW
        )),
        "Stripe-Signature has no v1 signature"
    );
    // A v1 that is not hex is a wrong signature.
    assert_eq!(
        run(
            Scheme::Stripe,
            &[("Stripe-Signature", "t=1700000000,v1=zz")],
            body,
            STRIPE_SECRET,
            NOW
        ),
        Err(Failure::InvalidSignature)
    );
}

#[test]
fn stripe_header_refusals() {
    let body = b"{}";
    let v1 = stripe::sign(STRIPE_SECRET, "1700000000", body);
    let sig = v1.split_once(",v1=").unwrap().1;
    let cases: Vec<(String, Failure)> = vec![
        (
            format!("v1={sig}"),
            Failure::input("Stripe-Signature has no t"),
        ),
        (
            format!("t=1700000000,t=1700000000,v1={sig}"),
            Failure::input("Stripe-Signature has more than one t"),
        ),
        (format!("t=17e8,v1={sig}"), Failure::InvalidTimestamp),
        (format!("t=,v1={sig}"), Failure::InvalidTimestamp),
        (format!("t=01700000000,v1={sig}"), Failure::InvalidTimestamp),
        (
            format!("t=1699999699,v1={sig}"),
            Failure::Expired {
                max_age: 300,
                age: 301,
            },
        ),
        (format!("t=1700000301,v1={sig}"), Failure::InFuture),
        (
            "t=1700000000".to_string(),
            Failure::input("Stripe-Signature has no v1 signature"),
        ),
        (
            format!("t=1700000000{}", ",v1=00".repeat(16)),
            Failure::input("Stripe-Signature has too many items"),
        ),
    ];
    for (header, expected) in cases {
        assert_eq!(
            run(
                Scheme::Stripe,
                &[("Stripe-Signature", &header)],
                body,
                STRIPE_SECRET,
                NOW
            ),
            Err(expected),
            "{header}"
        );
    }
    assert_eq!(
        run(Scheme::Stripe, &[], body, STRIPE_SECRET, NOW),
        Err(Failure::MissingHeaders {
            required: vec!["Stripe-Signature".into()]
        })
    );
    // Two field lines are read as one list, as HTTP combines them.
    let t = "t=1700000000".to_string();
    let v = format!("v1={sig}");
    assert!(
        run(
            Scheme::Stripe,
            &[("Stripe-Signature", &t), ("stripe-signature", &v)],
            body,
            STRIPE_SECRET,
            NOW
        )
        .is_ok()
    );
}

// --- GitHub, Slack and Standard Webhooks headers ----------------------------

#[test]
fn github_header_refusals() {
    let secret = b"a-github-webhook-secret";
    let body = b"{\"zen\":\"Design for failure.\"}";
    let sig = github::sign(secret, body);
    let delivery = ("X-GitHub-Delivery", "d1b2c3");
    let missing = Failure::MissingHeaders {
        required: vec!["X-Hub-Signature-256".into(), "X-GitHub-Delivery".into()],
    };
    assert_eq!(
        run(Scheme::Github, &[delivery], body, secret, NOW),
        Err(missing.clone())
    );
    assert_eq!(
        run(
            Scheme::Github,
            &[("X-Hub-Signature-256", &sig)],
            body,
            secret,
            NOW
        ),
        Err(missing)
    );
    // The SHA-1 header alone is not enough.
    let sha1 = format!("sha1={}", "0".repeat(40));
    assert!(matches!(
        run(
            Scheme::Github,
            &[("X-Hub-Signature", &sha1), delivery],
            body,
            secret,
            NOW
        ),
        Err(Failure::MissingHeaders { .. })
    ));
    let hex = sig.strip_prefix("sha256=").unwrap();
    for bad in [
        hex.to_string(),
        format!("sha1={hex}"),
        format!("sha256={}", &hex[..62]),
        format!("sha256={hex}0"),
        format!("SHA256={hex}"),
        format!("sha256={hex}, sha256={hex}"),
    ] {
        assert_eq!(
            malformed_reason(run(
                Scheme::Github,
                &[("X-Hub-Signature-256", &bad), delivery],
                body,
                secret,
                NOW
            )),
            "X-Hub-Signature-256 is not sha256= and 64 hex digits",
            "{bad}"
        );
    }
    for bad in ["has space", "tab\there", &"x".repeat(256)] {
        assert_eq!(
            malformed_reason(run(
                Scheme::Github,
                &[("X-Hub-Signature-256", &sig), ("X-GitHub-Delivery", bad)],
                body,
                secret,
                NOW
            )),
            "X-GitHub-Delivery is not a delivery id"
        );
    }
    // Upper-case hex is the same signature.
    let upper = format!("sha256={}", hex.to_ascii_uppercase());
    assert!(
        run(
            Scheme::Github,
            &[("X-Hub-Signature-256", &upper), delivery],
            body,
            secret,
            NOW
        )
        .is_ok()
    );
    // A different secret or body fails; no clock is involved.
    assert_eq!(
        run(
            Scheme::Github,
            &[("X-Hub-Signature-256", &sig), delivery],
            b"{}",
            secret,
            NOW
        ),
        Err(Failure::InvalidSignature)
    );
    assert!(
        run(
            Scheme::Github,
            &[("X-Hub-Signature-256", &sig), delivery],
            body,
            secret,
            u64::MAX
        )
        .is_ok()
    );
}

#[test]
fn slack_header_refusals() {
    let secret = b"8f742231b10e8888abcd99yyyzzz85a5";
    let body = b"payload=%7B%7D";
    let sig = slack::sign(secret, "1700000000", body);
    assert_eq!(
        run(
            Scheme::Slack,
            &[("X-Slack-Signature", &sig)],
            body,
            secret,
            NOW
        ),
        Err(Failure::MissingHeaders {
            required: vec![
                "X-Slack-Signature".into(),
                "X-Slack-Request-Timestamp".into()
            ]
        })
    );
    let ts = ("X-Slack-Request-Timestamp", "1700000000");
    for bad in [
        sig.replace("v0=", "v1="),
        sig.replace("v0=", ""),
        format!("{sig}00"),
        format!("{sig}, {sig}"),
    ] {
        assert_eq!(
            malformed_reason(run(
                Scheme::Slack,
                &[("X-Slack-Signature", &bad), ts],
                body,
                secret,
                NOW
            )),
            "X-Slack-Signature is not v0= and 64 hex digits"
        );
    }
    assert_eq!(
        run(
            Scheme::Slack,
            &[
                ("X-Slack-Signature", &sig),
                ("X-Slack-Request-Timestamp", "1700000000.5")
            ],
            body,
            secret,
            NOW
        ),
        Err(Failure::InvalidTimestamp)
    );
    // The signed timestamp cannot be swapped for another.
    assert_eq!(
        run(
            Scheme::Slack,
            &[
                ("X-Slack-Signature", &sig),
                ("X-Slack-Request-Timestamp", "1700000001")
            ],
            body,
            secret,
            NOW
        ),
        Err(Failure::InvalidSignature)
    );
}

#[test]
fn standard_header_refusals() {
    let key = [7u8; 32];
    let body = br#"{"type":"user.created"}"#;
    let sig = standard::sign(&key, "msg_1", "1700000000", body);
    let pairs = |id: &str, ts: &str, sig: &str| -> Vec<(String, String)> {
        vec![
            ("webhook-id".into(), id.into()),
            ("webhook-timestamp".into(), ts.into()),
            ("webhook-signature".into(), sig.into()),
        ]
    };
    let go = |p: Vec<(String, String)>, body: &[u8]| {
        let refs: Vec<(&str, &str)> = p.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        run(Scheme::Standard, &refs, body, &key, NOW)
    };
    assert!(go(pairs("msg_1", "1700000000", &sig), body).is_ok());
    // Several signatures, other versions ignored.
    let many = format!("v1a,AAAA v1,{} {sig}", "A".repeat(44));
    assert!(go(pairs("msg_1", "1700000000", &many), body).is_ok());
    assert_eq!(
        malformed_reason(go(pairs("msg_1", "1700000000", "v1a,AAAA"), body)),
        "webhook-signature has no v1 signature"
    );
    assert_eq!(
        go(pairs("msg_1", "1700000000", "v1,!!!not-base64"), body),
        Err(Failure::InvalidSignature)
    );
    let too_many = vec![sig.as_str(); 17].join(" ");
    assert_eq!(
        malformed_reason(go(pairs("msg_1", "1700000000", &too_many), body)),
        "webhook-signature has too many signatures"
    );
    assert_eq!(
        malformed_reason(go(pairs("msg 1", "1700000000", &sig), body)),
        "webhook-id is not 1 to 255 visible ASCII characters"
    );
    assert_eq!(
        go(pairs("msg_1", "soon", &sig), body),
        Err(Failure::InvalidTimestamp)
    );
    // The id and the timestamp are signed.
    assert_eq!(
        go(pairs("msg_2", "1700000000", &sig), body),
        Err(Failure::InvalidSignature)
    );
    assert_eq!(
        go(pairs("msg_1", "1700000000", &sig), b"{}"),
        Err(Failure::InvalidSignature)
    );
    assert_eq!(
        go(vec![("webhook-id".into(), "msg_1".into())], body),
        Err(Failure::MissingHeaders {
            required: vec![
                "webhook-id".into(),
                "webhook-timestamp".into(),
                "webhook-signature".into()
            ]
        })
    );
    // Svix's spelling is named in the refusal when that is what was sent.
    assert_eq!(
        go(vec![("svix-id".into(), "msg_1".into())], body),
        Err(Failure::MissingHeaders {
            required: vec![
                "svix-id".into(),
                "svix-timestamp".into(),
                "svix-signature".into()
            ]
        })
    );
}

// --- Rotation, replay ids and event ids -------------------------------------

/// Both secrets verify (current first); the replay id is the same whichever
/// signature matched, so dropping one of a rolled pair cannot replay.
#[test]
fn rotation_and_replay_ids() {
    let old = b"whsec_the_previous_secret_0123456789abcd";
    let body = br#"{"id":"evt_3"}"#;
    let new_v1 = stripe::sign(STRIPE_SECRET, "1700000000", body);
    let old_v1 = stripe::sign(old, "1700000000", body);
    let both = format!("{new_v1},v1={}", old_v1.split_once(",v1=").unwrap().1);
    let keys = Keys {
        current: STRIPE_SECRET,
        previous: Some(old),
    };
    let rule = SignatureRule::new(Scheme::Stripe);
    let with_both = run_rule(&rule, &[("Stripe-Signature", &both)], body, &keys, NOW).unwrap();
    let with_old = run_rule(&rule, &[("Stripe-Signature", &old_v1)], body, &keys, NOW).unwrap();
    assert_eq!(with_both.key, KeySlot::Current);
    assert_eq!(with_old.key, KeySlot::Previous);
    assert_eq!(with_both.replay, with_old.replay);
    // Only the old secret configured: the new signature alone fails.
    let old_only = Keys {
        current: old,
        previous: None,
    };
    assert_eq!(
        run_rule(
            &rule,
            &[("Stripe-Signature", &new_v1)],
            body,
            &old_only,
            NOW
        ),
        Err(Failure::InvalidSignature)
    );
    // A new timestamp (a retry) is a new message to the cache.
    let retry = stripe::sign(STRIPE_SECRET, "1700000001", body);
    let retried = run_rule(&rule, &[("Stripe-Signature", &retry)], body, &keys, NOW).unwrap();
    assert_ne!(retried.replay, with_both.replay);
}

#[test]
fn event_ids_come_from_verified_json_objects_only() {
    assert_eq!(
        body_id(br#"{"id":"evt_1","data":{"id":"x"}}"#, "id").as_deref(),
        Some("evt_1")
    );
    assert_eq!(
        body_id(br#" {"event_id":"Ev01"}"#, "event_id").as_deref(),
        Some("Ev01")
    );
    for body in [
        &br#"["evt_1"]"#[..],
        br#"{"id":1}"#,
        br#"{"id":"has space"}"#,
        br#"{"id":""}"#,
        b"not json",
        b"",
    ] {
        assert_eq!(
            body_id(body, "id"),
            None,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let deep = format!(
        "{{\"a\":{}1{}, \"id\":\"x\"}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    // Deeper than serde_json's limit (128): no id, and no crash.
    assert_eq!(body_id(deep.as_bytes(), "id"), None);
    // A repeated member reads as JavaScript's JSON.parse reads it: the last.
    assert_eq!(
        body_id(br#"{"id":"a","id":"b"}"#, "id").as_deref(),
        Some("b")
    );
}

#[test]
fn keys_from_secret_text() {
    assert_eq!(
        key_bytes(Scheme::Stripe, "whsec_abc").unwrap(),
        b"whsec_abc"
    );
    assert!(key_bytes(Scheme::Github, "").is_err());
    let std = key_bytes(Scheme::Standard, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    assert_eq!(std.len(), 24);
    assert_eq!(
        key_bytes(Scheme::Standard, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
        std
    );
    for bad in ["whsec_not base64!", "whsec_QUJDRA==", "whsec_"] {
        let err = key_bytes(Scheme::Standard, bad).unwrap_err();
        let secret_part = &bad["whsec_".len()..];
        assert!(
            secret_part.is_empty() || !err.contains(secret_part),
            "{err}"
        );
    }
}

/// Phase 1 alone: a webhook route never reads `[worker]`'s own headers,
/// window or origin allowlist.
#[test]
fn worker_settings_do_not_apply_to_webhooks() {
    let settings = WorkerSettings {
        max_age: 1,
        future_skew: 0,
        allowed_origins: vec![
            crate::http::origin::OriginPattern::parse("https://only.example").unwrap(),
        ],
        ..WorkerSettings::default()
    };
    let body = b"{}";
    let headers = headers(&[(
        "Stripe-Signature",
        &stripe::sign(STRIPE_SECRET, "1700000000", body),
    )]);
    let request = RequestView {
        method: "POST",
        scheme: "https",
        authority: "a",
        path_and_query: "/",
        headers: &headers,
    };
    let rule = settings.rule_for(&Scheme::Stripe.into());
    assert!(check_headers(&settings, &rule, &request, NOW + 200).is_ok());
}

// --- Configuration ----------------------------------------------------------

mod configuration {
    use crate::config::{RawSettings, WardenConfig};

    const POLICY: &str = r#"
        [[routes]]
        name = "stripe"
        path = "/hooks/stripe"
        auth = "worker"
        worker = "stripe"
        [[routes]]
        name = "connect"
        path = "/hooks/connect"
        auth = "worker"
        worker = { scheme = "stripe", secret = "stripe_connect_secret", tolerance = "10m" }
        [[routes]]
        name = "svix"
        path = "/hooks/svix"
        auth = "worker"
        worker = "standard"
    "#;

    fn raw(secrets: &[(&str, &str)]) -> RawSettings {
        RawSettings {
            policy: Some(POLICY.into()),
            policy_secrets: secrets
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..RawSettings::default()
        }
    }

    #[test]
    fn the_host_reads_exactly_the_variables_the_routes_name() {
        assert_eq!(
            raw(&[]).policy_variables(),
            [
                "stripe_webhook_secret",
                "stripe_webhook_secret_previous",
                "stripe_connect_secret",
                "stripe_connect_secret_previous",
                "standard_webhook_secret",
                "standard_webhook_secret_previous",
            ]
        );
        assert!(RawSettings::default().policy_variables().is_empty());
    }

    #[test]
    fn webhook_routes_need_their_own_secret_not_worker_secret() {
        let config = WardenConfig::build(raw(&[
            ("stripe_webhook_secret", "whsec_one"),
            ("stripe_connect_secret", "whsec_two"),
            ("stripe_connect_secret_previous", "whsec_old"),
            (
                "standard_webhook_secret",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ),
        ]))
        .unwrap();
        assert!(config.worker_secret.is_none());
        let connect = config
            .webhook_keys_for("stripe_connect_secret")
            .unwrap()
            .keys();
        assert_eq!(connect.current, b"whsec_two");
        assert_eq!(connect.previous, Some(&b"whsec_old"[..]));
        assert_eq!(
            config
                .webhook_keys_for("standard_webhook_secret")
                .unwrap()
                .keys()
                .current
                .len(),
            24
        );
        assert!(
            !format!("{config:?}").contains("whsec_two"),
            "Debug redacts the keys"
        );
    }

    #[test]
    fn every_missing_or_malformed_secret_is_named() {
        let problems: Vec<String> = WardenConfig::build(raw(&[
            ("stripe_connect_secret", "whsec_two"),
            ("standard_webhook_secret", "whsec_too-short"),
            ("stripe_connect_secret_previous", " "),
        ]))
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            problems,
            [
                "routes[0].worker.secret: route \"stripe\" verifies stripe webhooks with the variable stripe_webhook_secret, which is not set",
                "standard_webhook_secret: must be whsec_ followed by base64, as the provider's dashboard shows it",
            ]
        );
    }

    #[test]
    fn production_refuses_short_and_published_webhook_secrets() {
        let mut settings = raw(&[
            ("stripe_webhook_secret", "whsec_short"),
            (
                "stripe_connect_secret",
                "whsec_test_secret_for_the_docs_0123456789",
            ),
            (
                "standard_webhook_secret",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ),
        ]);
        settings.environment = Some("production".into());
        let fields: Vec<String> = WardenConfig::build(settings)
            .unwrap_err()
            .0
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(
            fields,
            [
                "stripe_webhook_secret",
                "stripe_connect_secret",
                "standard_webhook_secret"
            ]
        );
    }

    #[test]
    fn webhook_keys_only_where_they_apply() {
        let doc = r#"
            [[routes]]
            name = "a"
            path = "/a"
            auth = "worker"
            worker = { scheme = "github", tolerance = 60 }
            [[routes]]
            name = "b"
            path = "/b"
            auth = "worker"
            worker = { scheme = "stripe", replay_window = "1h", secret = "Stripe-Secret" }
            [[routes]]
            name = "c"
            path = "/c"
            auth = "worker"
            worker = { secret = "policy" }
        "#;
        let problems: Vec<String> = crate::policy::parse_policy(doc)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            problems,
            [
                // A route key that does not parse is not checked further.
                "routes[1].worker.secret: must be a variable name: 1 to 64 lowercase letters, digits and single underscores, starting with a letter (the secret's value is never written in the policy)",
                "routes[2].worker.secret: \"policy\" holds configuration, not a secret; name the variable that holds the webhook secret",
                "routes[0].worker.tolerance: applies only to the stripe, standard and slack schemes (github signs no timestamp) (this route uses \"github\")",
            ]
        );
    }
}
