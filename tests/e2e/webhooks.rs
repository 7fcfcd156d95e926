//! Third-party webhooks through the real component: the `stripe`, `github`,
//! `standard` (Standard Webhooks, as Svix sends them) and `slack` schemes of
//! `auth = "worker"` routes. Every request meant to pass is signed by code
//! that shares nothing with warden: the providers' official SDKs (npm
//! `stripe` and `standardwebhooks`, in `tests/interop/webhooks.mjs`) and
//! GitHub's and Slack's documented recipes (`tests/interop/webhooks.py`).
//!
//! For each provider: a valid delivery reaches the app with its exact body,
//! the `x-warden-*` identity headers and its event id (in both reuse modes;
//! Standard Webhooks under Svix's `svix-*` names too), and no event id from
//! a body without a usable one; a tampered body or signed header, a stale
//! or future timestamp, and every malformed header the core tells apart get
//! their exact 401; rotation (several signatures in one header, the
//! `_previous` variable); replays are refused and provider retries let
//! through; identity headers sent by the client never reach the app; a
//! route whose secret variable is unset stops warden serving; bodies over
//! `[worker] body_limit` are 413; a failing replay cache is a 503.

use serde_json::Value;
use std::process::Command;

use warden_core::base::digest::sha256_hex;
use warden_host::{Fault, Op};
use warden_tests::*;

/// The routes of the webhook docs, in `Provider` order, and one unsigned.
const ROUTES: &str = r#"
[[routes]]
name = "stripe"
path = "/hooks/stripe"
auth = "worker"
worker = "stripe"
rate_limit = "off"

[[routes]]
name = "gh"
path = "/hooks/github"
auth = "worker"
worker = { scheme = "github", replay_window = "1h" }
rate_limit = "off"

[[routes]]
name = "std"
path = "/hooks/standard"
auth = "worker"
worker = { scheme = "standard", secret = "svix_secret" }
rate_limit = "off"

[[routes]]
name = "slack"
path = "/hooks/slack"
auth = "worker"
worker = { scheme = "slack", tolerance = 300 }
rate_limit = "off"

[[routes]]
name = "rest"
path = "/*"
rate_limit = "off"
"#;

const INVALID_SIGNATURE: &str = r#"{"error":"Invalid signature"}"#;
const INVALID_TIMESTAMP: &str = r#"{"error":"Invalid timestamp format"}"#;
const IN_FUTURE: &str = r#"{"error":"Request timestamp in future"}"#;
const REPLAYED: &str = r#"{"error":"Request replayed"}"#;
const TOO_LARGE: &str =
    r#"{"error":{"code":"PAYLOAD_TOO_LARGE","message":"Request body too large"}}"#;
const UNAVAILABLE: &str =
    r#"{"error":{"code":"SERVICE_UNAVAILABLE","message":"Service temporarily unavailable"}}"#;

fn malformed(reason: &str) -> String {
    format!(r#"{{"error":"Invalid signature input","reason":"{reason}"}}"#)
}

fn missing(required: &[&str]) -> String {
    let names: Vec<String> = required.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        r#"{{"error":"Missing authentication headers","required":[{}]}}"#,
        names.join(",")
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Stripe,
    Github,
    Standard,
    Slack,
}
use Provider::{Github, Slack, Standard, Stripe};

/// In the order of `ROUTES`.
const PROVIDERS: [Provider; 4] = [Stripe, Github, Standard, Slack];

impl Provider {
    /// The scheme, as the policy and `x-warden-worker-scheme` name it.
    fn scheme(self) -> &'static str {
        match self {
            Stripe => "stripe",
            Github => "github",
            Standard => "standard",
            Slack => "slack",
        }
    }

    /// The route's index in `ROUTES`, its name and its path.
    fn route(self) -> (usize, &'static str, &'static str) {
        match self {
            Stripe => (0, "stripe", "/hooks/stripe"),
            Github => (1, "gh", "/hooks/github"),
            Standard => (2, "std", "/hooks/standard"),
            Slack => (3, "slack", "/hooks/slack"),
        }
    }

    /// The route's secret variable; `{variable}_previous` holds the old one.
    fn variable(self) -> &'static str {
        match self {
            Stripe => "stripe_webhook_secret",
            Github => "github_webhook_secret",
            Standard => "svix_secret",
            Slack => "slack_signing_secret",
        }
    }

    /// The current secret, the previous one, and one warden does not know.
    /// Test-only values (the environment is development); Standard
    /// Webhooks' are `whsec_` and base64 of 35 to 37 bytes.
    fn secrets(self) -> [&'static str; 3] {
        match self {
            Stripe => [
                "whsec_e2e-stripe-secret-0123456789abcdef",
                "whsec_e2e-stripe-previous-fedcba9876543210",
                "whsec_e2e-stripe-stranger-0000000000000000",
            ],
            Github => [
                "e2e-github-webhook-secret-0123456789",
                "e2e-github-previous-secret-9876543210",
                "e2e-github-stranger-secret-0000000000",
            ],
            Standard => [
                "whsec_d2FyZGVuIGUyZSBzdGFuZGFyZCB3ZWJob29rcyBrZXkgMDE=",
                "whsec_d2FyZGVuIGUyZSBzdGFuZGFyZCB3ZWJob29rcyBvbGQga2V5",
                "whsec_d2FyZGVuIGUyZSBzdGFuZGFyZCB3ZWJob29rcyBzdHJhbmdlcg==",
            ],
            Slack => [
                "e2e-slack-signing-secret-0123456789ab",
                "e2e-slack-previous-secret-9876543210",
                "e2e-slack-stranger-secret-0000000000",
            ],
        }
    }

    /// The header that carries the signature(s).
    fn signature_header(self) -> &'static str {
        match self {
            Stripe => "Stripe-Signature",
            Github => "X-Hub-Signature-256",
            Standard => "webhook-signature",
            Slack => "X-Slack-Signature",
        }
    }

    /// A fresh delivery like the provider's own, made unique by `tag`
    /// (visible ASCII): the tag is in the body and in the event id.
    fn delivery(self, tag: &str) -> Delivery {
        let (body, id) = match self {
            Stripe => (
                format!(
                    r#"{{"id":"evt_{tag}","object":"event","type":"invoice.paid","data":{{"object":{{"amount_paid":4200,"customer_name":"Zoë Café ✓"}}}}}}"#
                ),
                format!("evt_{tag}"),
            ),
            Github => (
                format!(
                    r#"{{"zen":"Design for failure.","hook_id":"{tag}","hook":{{"events":["push"]}}}}"#
                ),
                format!("72d3162e-cc78-11e3-{tag}"),
            ),
            Standard => (
                format!(r#"{{"type":"user.created","data":{{"id":"user_{tag}","name":"Zoë"}}}}"#),
                format!("msg_{tag}"),
            ),
            Slack => (
                format!(
                    r#"{{"token":"e2e","type":"event_callback","event_id":"Ev{tag}","event":{{"type":"app_mention","text":"<@U1> héllo"}}}}"#
                ),
                format!("Ev{tag}"),
            ),
        };
        Delivery {
            body,
            event_id: Some(id.clone()),
            id,
            timestamp: unix_now(),
        }
    }

    /// The headers the provider sends for `d`, signed with the current secret.
    fn signed(self, d: &Delivery) -> Headers {
        self.sign_with(self.secrets()[0], d)
    }

    fn sign_with(self, secret: &str, d: &Delivery) -> Headers {
        reference_signer(self, secret, d, false)
    }
}

/// What a provider signs: the body, the id it sends in a header
/// (`X-GitHub-Delivery`, `webhook-id`; ignored by the others) and the
/// timestamp (ignored by GitHub), with the event id the app should get.
#[derive(Debug, Clone)]
struct Delivery {
    body: String,
    id: String,
    timestamp: u64,
    event_id: Option<String>,
}

impl Delivery {
    fn at(self, timestamp: u64) -> Delivery {
        Delivery { timestamp, ..self }
    }

    /// A JSON body grown to exactly `len` bytes with a `pad` member.
    fn padded(mut self, len: usize) -> Delivery {
        assert_eq!(self.body.pop(), Some('}'));
        let pad = len - self.body.len() - r#","pad":""}"#.len();
        self.body
            .push_str(&format!(r#","pad":"{}"}}"#, "x".repeat(pad)));
        assert_eq!(self.body.len(), len);
        self
    }
}

/// A Slack slash command: a form body, so no event id for the app.
fn slash_command(tag: &str) -> Delivery {
    Delivery {
        body: format!(
            "token=e2e&team_id=T1DC2JH3J&command=%2Fdeploy&text={tag}&trigger_id=398738663015.47445629121"
        ),
        id: String::new(),
        timestamp: unix_now(),
        event_id: None,
    }
}

type Headers = Vec<(String, String)>;

fn h(pairs: &[(&str, &str)]) -> Headers {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn header<'a>(headers: &'a Headers, name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
}

/// `headers` with `name` set to `value`.
fn with(headers: &Headers, name: &str, value: &str) -> Headers {
    let mut out: Headers = headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case(name))
        .cloned()
        .collect();
    out.push((name.to_string(), value.to_string()));
    out
}

/// Runs the provider's reference signer (its SDK for Stripe and Standard
/// Webhooks, its documented recipe for GitHub and Slack) and returns the
/// headers it prints. `svix` asks for Svix's `svix-*` names.
fn reference_signer(provider: Provider, secret: &str, d: &Delivery, svix: bool) -> Headers {
    let dir = TempDir::new("webhook-body");
    let file = dir.path().join("body");
    std::fs::write(&file, &d.body).expect("body file");
    let (program, script) = match provider {
        Stripe | Standard => ("node", "webhooks.mjs"),
        Github | Slack => ("python3", "webhooks.py"),
    };
    let mut command = Command::new(program);
    command
        .arg(root().join("tests/interop").join(script))
        .args(["--provider", provider.scheme()])
        .args(["--secret-env", "E2E_WEBHOOK_SECRET", "--body-file"])
        .arg(&file)
        .args(["--timestamp", &d.timestamp.to_string()])
        .env("E2E_WEBHOOK_SECRET", secret);
    if !d.id.is_empty() {
        command.args(["--id", &d.id]);
    }
    if svix {
        command.arg("--svix");
    }
    let out = command.output().unwrap_or_else(|e| {
        panic!("{program} runs (the webhook tests need it; `bash scripts/setup`): {e}")
    });
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON from the signer");
    json["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_string(),
                pair[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `current`'s headers with `other`'s signature added first, as a provider
/// rolling its secret sends both (Stripe: another `v1`; Standard Webhooks:
/// another space-separated `v1,…`).
fn two_signatures(provider: Provider, other: &Headers, current: &Headers) -> Headers {
    let name = provider.signature_header();
    let value = match provider {
        // t=T,v1=OTHER + ,v1=CURRENT
        Stripe => format!(
            "{},{}",
            header(other, name),
            header(current, name).split_once(',').unwrap().1
        ),
        Standard => format!("{} {}", header(other, name), header(current, name)),
        Github | Slack => unreachable!("one signature per header"),
    };
    with(current, name, &value)
}

/// A host with every webhook secret and its `_previous` set, except the
/// variables in `unset`, and `[worker]` set to `section` (TOML lines).
fn setup(mode: Reuse, section: &str, unset: &[&str]) -> Setup {
    let mut setup = Setup::default()
        .policy(&format!("[worker]\n{section}\n{ROUTES}"))
        .reuse(mode);
    for p in PROVIDERS {
        let [current, previous, _] = p.secrets();
        for (name, value) in [
            (p.variable().to_string(), current),
            (format!("{}_previous", p.variable()), previous),
        ] {
            if !unset.contains(&name.as_str()) {
                setup = setup.var(&name, value);
            }
        }
    }
    setup
}

async fn start(mode: Reuse) -> TestHost {
    TestHost::start(setup(mode, "", &[])).await
}

/// POSTs `body` with `headers` to the provider's route.
async fn deliver(host: &TestHost, provider: Provider, headers: &Headers, body: &str) -> Reply {
    let refs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    host.send("POST", provider.route().2, &refs, body.as_bytes())
        .await
}

/// `d` signed with the current secret, delivered.
async fn send_signed(host: &TestHost, provider: Provider, d: &Delivery) -> Reply {
    deliver(host, provider, &provider.signed(d), &d.body).await
}

/// A refusal by warden: exact status and body, JSON, with a request id.
fn assert_refused(reply: &Reply, status: u16, body: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", text(reply));
    assert_eq!(text(reply), body, "{what}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{what}"
    );
    assert!(reply.header("x-request-id").is_some(), "{what}");
}

/// The echo app answered: it got exactly `d`'s body, and warden's identity
/// headers, each once (a client's own would show as "theirs, ours").
fn assert_delivered(reply: &Reply, provider: Provider, d: &Delivery, key: &str, what: &str) {
    assert_eq!(reply.status, 200, "{what}: {}", text(reply));
    let echo = reply.json();
    assert_eq!(echo["path"], provider.route().2, "{what}");
    assert_eq!(echo["body_len"], d.body.len(), "{what}");
    assert_eq!(
        echo["body_sha256"],
        sha256_hex(d.body.as_bytes()),
        "{what}: the app got other bytes than were signed"
    );
    let seen = reply.echoed_headers();
    let got = |name: &str| seen.get(name).and_then(Value::as_str);
    assert_eq!(got("x-warden-auth"), Some("worker"), "{what}: {seen:?}");
    assert_eq!(got("x-warden-route"), Some(provider.route().1), "{what}");
    assert_eq!(
        got("x-warden-worker-scheme"),
        Some(provider.scheme()),
        "{what}"
    );
    assert_eq!(got("x-warden-worker-key"), Some(key), "{what}");
    assert_eq!(
        got("x-warden-webhook-provider"),
        Some(provider.scheme()),
        "{what}"
    );
    assert_eq!(
        got("x-warden-webhook-id"),
        d.event_id.as_deref(),
        "{what}: {seen:?}"
    );
}

#[tokio::test]
async fn a_signed_delivery_reaches_the_app_with_its_body_and_event_id() {
    for mode in MODES {
        let host = start(mode).await;
        for p in PROVIDERS {
            let d = p.delivery("valid-1");
            let reply = send_signed(&host, p, &d).await;
            assert_delivered(&reply, p, &d, "current", &format!("{mode:?} {p:?}"));
            // A second event on the same instance.
            let d = p.delivery("valid-2");
            let reply = send_signed(&host, p, &d).await;
            assert_delivered(&reply, p, &d, "current", &format!("{mode:?} {p:?} again"));
        }
        // A Slack slash command: a form body, which has no event id.
        let d = slash_command("valid");
        let reply = send_signed(&host, Slack, &d).await;
        assert_delivered(&reply, Slack, &d, "current", &format!("{mode:?} slash"));
    }
}

#[tokio::test]
async fn event_ids_come_from_the_verified_body_only_when_usable() {
    let host = start(Reuse::Spin).await;
    let deep = format!(
        r#"{{"a":{}1{},"id":"evt_deep"}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    for (p, body, event_id) in [
        (Stripe, r#"["evt_in_an_array"]"#.to_string(), None),
        (Stripe, r#"{"id":42,"object":"event"}"#.into(), None),
        (Stripe, r#"{"id":"evt has space"}"#.into(), None),
        (Stripe, format!(r#"{{"id":"{}"}}"#, "e".repeat(256)), None),
        (Stripe, r#"{"data":{"id":"evt_nested"}}"#.into(), None),
        // Deeper than serde_json's nesting limit: no id, no failure.
        (Stripe, deep, None),
        // A repeated member: the last, as Stripe's SDK (JSON.parse) reads it.
        (
            Stripe,
            r#"{"id":"evt_first","id":"evt_last"}"#.into(),
            Some("evt_last"),
        ),
        (
            Slack,
            r#"{"type":"event_callback","id":"Ev_no"}"#.into(),
            None,
        ),
    ] {
        let d = Delivery {
            body,
            id: String::new(),
            timestamp: unix_now(),
            event_id: event_id.map(String::from),
        };
        let reply = send_signed(&host, p, &d).await;
        assert_delivered(&reply, p, &d, "current", &format!("{p:?} {}", d.body));
    }
}

#[tokio::test]
async fn a_tampered_body_or_signed_header_is_an_invalid_signature() {
    let host = start(Reuse::Spin).await;
    for p in PROVIDERS {
        let d = p.delivery("tamper");
        let headers = p.signed(&d);
        let what = |case: &str| format!("{p:?} {case}");

        let tampered = d.body.replacen("tamper", "tamp3r", 1);
        assert_ne!(tampered, d.body);
        let reply = deliver(&host, p, &headers, &tampered).await;
        assert_refused(&reply, 401, INVALID_SIGNATURE, &what("body"));

        // The signed headers other than the signature, changed.
        let t = d.timestamp.to_string();
        let earlier = (d.timestamp - 1).to_string();
        let moved = match p {
            Stripe => vec![with(
                &headers,
                "Stripe-Signature",
                &header(&headers, "Stripe-Signature")
                    .replace(&format!("t={t}"), &format!("t={earlier}")),
            )],
            Standard => vec![
                with(&headers, "webhook-timestamp", &earlier),
                with(&headers, "webhook-id", "msg_other"),
            ],
            Slack => vec![with(&headers, "X-Slack-Request-Timestamp", &earlier)],
            // GitHub signs the body alone.
            Github => vec![],
        };
        for headers in moved {
            let reply = deliver(&host, p, &headers, &d.body).await;
            assert_refused(&reply, 401, INVALID_SIGNATURE, &what("signed header"));
        }

        let other = p.delivery("stranger");
        let reply = deliver(&host, p, &p.sign_with(p.secrets()[2], &other), &other.body).await;
        assert_refused(&reply, 401, INVALID_SIGNATURE, &what("unknown secret"));

        // The refusals recorded nothing: the original still passes.
        let reply = deliver(&host, p, &headers, &d.body).await;
        assert_delivered(&reply, p, &d, "current", &what("original"));
    }
    let log = host.log();
    assert!(log.contains(r#""reason":"invalid_signature""#), "{log}");
}

#[tokio::test]
async fn stale_and_future_timestamps_are_refused_within_the_tolerance() {
    let host = start(Reuse::Spin).await;
    // GitHub signs no timestamp; the others allow 300 s either way.
    for p in [Stripe, Standard, Slack] {
        let d = p.delivery("stale").at(unix_now() - 400);
        let reply = send_signed(&host, p, &d).await;
        assert_eq!(reply.status, 401, "{p:?}: {}", text(&reply));
        assert!(
            text(&reply).starts_with(r#"{"error":"Request timestamp expired","maxAge":300,"age":"#),
            "{p:?}: {}",
            text(&reply)
        );
        let age = reply.json()["age"].as_u64().expect("age is a number");
        assert!((400..=403).contains(&age), "{p:?}: age {age}");

        let d = p.delivery("future").at(unix_now() + 400);
        let reply = send_signed(&host, p, &d).await;
        assert_refused(&reply, 401, IN_FUTURE, &format!("{p:?} future"));

        // Inside the tolerance, either way.
        for (tag, timestamp) in [("old", unix_now() - 280), ("early", unix_now() + 280)] {
            let d = p.delivery(tag).at(timestamp);
            let reply = send_signed(&host, p, &d).await;
            assert_delivered(&reply, p, &d, "current", &format!("{p:?} {tag}"));
        }
    }
}

#[tokio::test]
async fn rotation_several_signatures_and_the_previous_secret() {
    for mode in MODES {
        let host = start(mode).await;
        for p in PROVIDERS {
            let d = p.delivery("previous");
            let reply = deliver(&host, p, &p.sign_with(p.secrets()[1], &d), &d.body).await;
            assert_delivered(
                &reply,
                p,
                &d,
                "previous",
                &format!("{mode:?} {p:?} previous"),
            );
        }
        // Rotation is over when this stops being logged.
        let log = host.log();
        assert!(
            log.contains(r#""event":"worker_previous_secret_used""#),
            "{log}"
        );

        for p in [Stripe, Standard] {
            let what = |case: &str| format!("{mode:?} {p:?} {case}");
            // One signature from a secret warden does not know, then a valid one.
            let d = p.delivery("rolled");
            let valid = p.signed(&d);
            let rolled = two_signatures(p, &p.sign_with(p.secrets()[2], &d), &valid);
            assert_ne!(
                header(&rolled, p.signature_header()),
                header(&valid, p.signature_header())
            );
            let reply = deliver(&host, p, &rolled, &d.body).await;
            assert_delivered(&reply, p, &d, "current", &what("unknown, then current"));
            // Dropping the other signature does not make the message new.
            let reply = deliver(&host, p, &valid, &d.body).await;
            assert_refused(&reply, 401, REPLAYED, &what("one of a pair"));

            // What the provider sends while rolling: previous and current.
            let d = p.delivery("both");
            let both = two_signatures(p, &p.sign_with(p.secrets()[1], &d), &p.signed(&d));
            let reply = deliver(&host, p, &both, &d.body).await;
            assert_delivered(&reply, p, &d, "current", &what("previous, then current"));

            // Two signatures, neither valid.
            let d = p.delivery("neither");
            let stranger = p.sign_with(p.secrets()[2], &d);
            let neither = two_signatures(p, &stranger, &stranger);
            let reply = deliver(&host, p, &neither, &d.body).await;
            assert_refused(&reply, 401, INVALID_SIGNATURE, &what("neither"));
        }
    }
}

#[tokio::test]
async fn replays_are_refused_and_provider_retries_accepted() {
    for mode in MODES {
        let host = start(mode).await;
        for p in [Stripe, Standard, Slack] {
            let what = |case: &str| format!("{mode:?} {p:?} {case}");
            let d = p.delivery("once");
            let headers = p.signed(&d);
            let reply = deliver(&host, p, &headers, &d.body).await;
            assert_delivered(&reply, p, &d, "current", &what("first"));
            let reply = deliver(&host, p, &headers, &d.body).await;
            assert_refused(&reply, 401, REPLAYED, &what("identical"));
            // The provider's retry: the same event signed again later. The
            // app sees the same event id and deduplicates.
            let retry = d.clone().at(d.timestamp + 5);
            let reply = send_signed(&host, p, &retry).await;
            assert_delivered(&reply, p, &retry, "current", &what("retry"));
            let reply = send_signed(&host, p, &retry).await;
            assert_refused(&reply, 401, REPLAYED, &what("retry replayed"));
        }

        // GitHub signs the body alone: the delivery id, unsigned, cannot
        // make a captured body new, and a delivery id is used once.
        let what = |case: &str| format!("{mode:?} github {case}");
        let d = Github.delivery("once");
        let reply = send_signed(&host, Github, &d).await;
        assert_delivered(&reply, Github, &d, "current", &what("first"));
        let reply = send_signed(&host, Github, &d).await;
        assert_refused(&reply, 401, REPLAYED, &what("identical"));
        let redelivered = Delivery {
            id: "72d3162e-cc78-11e3-another".into(),
            ..d.clone()
        };
        let reply = send_signed(&host, Github, &redelivered).await;
        assert_refused(&reply, 401, REPLAYED, &what("same body, new delivery id"));
        let other_body = Delivery {
            body: Github.delivery("other-body").body,
            ..d.clone()
        };
        let reply = send_signed(&host, Github, &other_body).await;
        assert_refused(&reply, 401, REPLAYED, &what("same delivery id, new body"));
        let fresh = Github.delivery("fresh");
        let reply = send_signed(&host, Github, &fresh).await;
        assert_delivered(&reply, Github, &fresh, "current", &what("a new delivery"));

        assert!(host.log().contains(r#""event":"worker_replay""#));
    }
}

#[tokio::test]
async fn malformed_and_missing_headers_get_the_documented_refusals() {
    let host = start(Reuse::Spin).await;
    let t = unix_now().to_string();
    let delivery = |p: Provider| p.delivery("malformed");
    // A valid signature of each provider, to build broken headers around.
    let stripe = Stripe.signed(&delivery(Stripe));
    let stripe_hex = header(&stripe, "Stripe-Signature")
        .split_once(",v1=")
        .unwrap()
        .1;
    let github = Github.signed(&delivery(Github));
    let github_sig = header(&github, "X-Hub-Signature-256");
    let github_hex = github_sig.strip_prefix("sha256=").unwrap();
    let standard = Standard.signed(&delivery(Standard));
    let standard_sig = header(&standard, "webhook-signature");
    let slack = Slack.signed(&delivery(Slack));
    let slack_sig = header(&slack, "X-Slack-Signature");
    let slack_t = header(&slack, "X-Slack-Request-Timestamp");
    let delivery_id = "72d3162e-cc78-11e3-malformed";

    let mut cases: Vec<(Provider, Headers, String)> = Vec::new();

    // Stripe-Signature values.
    for (value, expected) in [
        (
            format!("v1={stripe_hex}"),
            malformed("Stripe-Signature has no t"),
        ),
        (
            format!("t={t},t={t},v1={stripe_hex}"),
            malformed("Stripe-Signature has more than one t"),
        ),
        (
            format!("t={t}"),
            malformed("Stripe-Signature has no v1 signature"),
        ),
        (
            format!("t={t},v0={stripe_hex}"),
            malformed("Stripe-Signature has no v1 signature"),
        ),
        (
            format!("t={t}{}", ",v1=00".repeat(16)),
            malformed("Stripe-Signature has too many items"),
        ),
        (format!("t=17e8,v1={stripe_hex}"), INVALID_TIMESTAMP.into()),
        (format!("t=,v1={stripe_hex}"), INVALID_TIMESTAMP.into()),
        (format!("t=0{t},v1={stripe_hex}"), INVALID_TIMESTAMP.into()),
        // A v1 that is not hex can match nothing.
        (format!("t={t},v1=zz"), INVALID_SIGNATURE.into()),
        (String::new(), missing(&["Stripe-Signature"])),
    ] {
        cases.push((Stripe, h(&[("Stripe-Signature", &value)]), expected));
    }
    cases.push((Stripe, h(&[]), missing(&["Stripe-Signature"])));

    // GitHub: X-Hub-Signature-256 and X-GitHub-Delivery values.
    let github_missing = missing(&["X-Hub-Signature-256", "X-GitHub-Delivery"]);
    let not_sha256 = malformed("X-Hub-Signature-256 is not sha256= and 64 hex digits");
    let not_delivery = malformed("X-GitHub-Delivery is not a delivery id");
    for (signature, delivery, expected) in [
        (github_hex.to_string(), delivery_id.to_string(), &not_sha256),
        (
            format!("sha1={github_hex}"),
            delivery_id.into(),
            &not_sha256,
        ),
        (
            format!("sha256={}", &github_hex[..62]),
            delivery_id.into(),
            &not_sha256,
        ),
        (
            format!("sha256={github_hex}0"),
            delivery_id.into(),
            &not_sha256,
        ),
        (
            format!("SHA256={github_hex}"),
            delivery_id.into(),
            &not_sha256,
        ),
        (
            format!("{github_sig}, {github_sig}"),
            delivery_id.into(),
            &not_sha256,
        ),
        (github_sig.to_string(), "has space".into(), &not_delivery),
        (github_sig.to_string(), "x".repeat(256), &not_delivery),
        (github_sig.to_string(), String::new(), &github_missing),
        (String::new(), delivery_id.into(), &github_missing),
    ] {
        let headers = h(&[
            ("X-Hub-Signature-256", &signature),
            ("X-GitHub-Delivery", &delivery),
        ]);
        cases.push((Github, headers, expected.clone()));
    }
    // GitHub's SHA-1 header is not enough.
    let sha1 = format!("sha1={}", "0".repeat(40));
    let headers = h(&[
        ("X-Hub-Signature", &sha1),
        ("X-GitHub-Delivery", delivery_id),
    ]);
    cases.push((Github, headers, github_missing.clone()));

    // Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature.
    let webhook_missing = missing(&["webhook-id", "webhook-timestamp", "webhook-signature"]);
    let bad_id = malformed("webhook-id is not 1 to 255 visible ASCII characters");
    let many = vec![standard_sig; 17].join(" ");
    for (id, timestamp, signature, expected) in [
        (
            "msg_malformed",
            "soon",
            standard_sig,
            INVALID_TIMESTAMP.to_string(),
        ),
        (
            "msg_malformed",
            &t,
            "v1a,AAAA",
            malformed("webhook-signature has no v1 signature"),
        ),
        (
            "msg_malformed",
            &t,
            &many,
            malformed("webhook-signature has too many signatures"),
        ),
        ("msg malformed", &t, standard_sig, bad_id.clone()),
        (&"m".repeat(256), &t, standard_sig, bad_id),
        // Base64 that does not decode can match nothing.
        (
            "msg_malformed",
            &t,
            "v1,!!!not-base64",
            INVALID_SIGNATURE.into(),
        ),
        ("msg_malformed", &t, "", webhook_missing.clone()),
    ] {
        let headers = h(&[
            ("webhook-id", id),
            ("webhook-timestamp", timestamp),
            ("webhook-signature", signature),
        ]);
        cases.push((Standard, headers, expected));
    }
    cases.push((
        Standard,
        h(&[("webhook-id", "msg_malformed")]),
        webhook_missing,
    ));
    // Svix's names are listed when that is what was sent.
    cases.push((
        Standard,
        h(&[("svix-id", "msg_malformed")]),
        missing(&["svix-id", "svix-timestamp", "svix-signature"]),
    ));

    // Slack: X-Slack-Signature and X-Slack-Request-Timestamp values.
    let slack_missing = missing(&["X-Slack-Signature", "X-Slack-Request-Timestamp"]);
    let not_v0 = malformed("X-Slack-Signature is not v0= and 64 hex digits");
    for (signature, timestamp, expected) in [
        (
            slack_sig.replace("v0=", "v1="),
            slack_t.to_string(),
            &not_v0,
        ),
        (slack_sig.replace("v0=", ""), slack_t.into(), &not_v0),
        (format!("{slack_sig}00"), slack_t.into(), &not_v0),
        (format!("{slack_sig}, {slack_sig}"), slack_t.into(), &not_v0),
        (
            slack_sig.into(),
            format!("{slack_t}.5"),
            &INVALID_TIMESTAMP.to_string(),
        ),
        (slack_sig.into(), String::new(), &slack_missing),
        (String::new(), slack_t.into(), &slack_missing),
    ] {
        let headers = h(&[
            ("X-Slack-Signature", &signature),
            ("X-Slack-Request-Timestamp", &timestamp),
        ]);
        cases.push((Slack, headers, expected.clone()));
    }

    for (p, headers, expected) in &cases {
        let reply = deliver(&host, *p, headers, &delivery(*p).body).await;
        assert_refused(&reply, 401, expected, &format!("{p:?} {headers:?}"));
    }
    // The reason is logged as the refusal's detail.
    let log = host.log();
    assert!(
        log.contains(r#""detail":"Stripe-Signature has more than one t""#),
        "{log}"
    );
    // Still serving, and none of the refusals recorded a message.
    for p in PROVIDERS {
        let d = delivery(p);
        let reply = send_signed(&host, p, &d).await;
        assert_delivered(&reply, p, &d, "current", &format!("{p:?} after"));
    }
}

#[tokio::test]
async fn svix_header_names_are_accepted() {
    for mode in MODES {
        let host = start(mode).await;
        let d = Standard.delivery("svix");
        let svix = reference_signer(Standard, Standard.secrets()[0], &d, true);
        assert!(svix.iter().all(|(n, _)| n.starts_with("svix-")), "{svix:?}");
        let reply = deliver(&host, Standard, &svix, &d.body).await;
        assert_delivered(&reply, Standard, &d, "current", &format!("{mode:?} svix"));
        // The same message under the other names is the same message.
        let reply = send_signed(&host, Standard, &d).await;
        assert_refused(&reply, 401, REPLAYED, &format!("{mode:?} renamed"));

        let d = Standard.delivery("svix-tampered");
        let svix = reference_signer(Standard, Standard.secrets()[0], &d, true);
        let reply = deliver(&host, Standard, &svix, "{}").await;
        assert_refused(
            &reply,
            401,
            INVALID_SIGNATURE,
            &format!("{mode:?} svix tampered"),
        );
        // Signed with the previous secret, under Svix's names.
        let d = Standard.delivery("svix-previous");
        let svix = reference_signer(Standard, Standard.secrets()[1], &d, true);
        let reply = deliver(&host, Standard, &svix, &d.body).await;
        assert_delivered(
            &reply,
            Standard,
            &d,
            "previous",
            &format!("{mode:?} svix previous"),
        );
    }
}

#[tokio::test]
async fn spoofed_identity_headers_never_reach_the_app() {
    let spoof = h(&[
        ("x-warden-webhook-id", "evt_spoofed"),
        ("x-warden-webhook-provider", "spoofed"),
        ("x-warden-worker-scheme", "spoofed"),
        ("x-warden-worker-key", "previous"),
        ("x-warden-auth", "spoofed"),
    ]);
    for mode in MODES {
        let host = start(mode).await;
        for p in PROVIDERS {
            let d = p.delivery("spoof");
            let mut headers = p.signed(&d);
            headers.extend(spoof.iter().cloned());
            let reply = deliver(&host, p, &headers, &d.body).await;
            // Each exactly warden's value: a client's too would read "a, b".
            assert_delivered(&reply, p, &d, "current", &format!("{mode:?} {p:?}"));
        }
        // No event id of its own: the client's is not passed on either.
        let d = slash_command("spoof");
        let mut headers = Slack.signed(&d);
        headers.extend(spoof.iter().cloned());
        let reply = deliver(&host, Slack, &headers, &d.body).await;
        assert_delivered(&reply, Slack, &d, "current", &format!("{mode:?} slash"));
        // Nor on a route that is not signed.
        let refs: Vec<(&str, &[u8])> = spoof
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let reply = host.send("POST", "/public", &refs, b"{}").await;
        assert_eq!(reply.status, 200, "{}", text(&reply));
        let seen = reply.echoed_headers();
        for (name, _) in &spoof {
            assert!(!seen.contains_key(name), "{mode:?} {name}: {seen:?}");
        }
    }
}

#[tokio::test]
async fn a_route_whose_secret_variable_is_unset_stops_warden_serving() {
    for p in PROVIDERS {
        // The previous secret alone does not count.
        let host = TestHost::start(setup(Reuse::Spin, "", &[p.variable()])).await;
        let d = p.delivery("unset");
        let reply = send_signed(&host, p, &d).await;
        assert_eq!(reply.status, 500, "{p:?}: {}", text(&reply));
        assert_eq!(host.get("/public").await.status, 500, "{p:?}");
        let (index, name, _) = p.route();
        let log = host.log();
        let expected = format!(
            "routes[{index}].worker.secret: route \"{name}\" verifies {} webhooks with the variable {}, which is not set",
            p.scheme(),
            p.variable()
        );
        // The log is JSON: its quotes are escaped.
        assert!(
            log.contains(&expected) || log.contains(&expected.replace('"', "\\\"")),
            "{p:?}: {log}"
        );
        for q in PROVIDERS {
            for secret in &q.secrets()[..2] {
                assert!(!log.contains(secret), "a secret in the log: {log}");
            }
        }
    }
    // A Standard Webhooks secret must be whsec_ and base64 of 24 to 64 bytes.
    let short = "whsec_dG9vIHNob3J0IGtleQ==";
    let host = TestHost::start(setup(Reuse::Spin, "", &[]).var("svix_secret", short)).await;
    assert_eq!(host.get("/public").await.status, 500);
    let log = host.log();
    assert!(
        log.contains("svix_secret: must decode to 24 to 64 bytes"),
        "{log}"
    );
    assert!(
        !log.contains("dG9vIHNob3J0IGtleQ"),
        "the secret in the log: {log}"
    );
}

#[tokio::test]
async fn bodies_over_the_body_limit_are_refused() {
    let host = TestHost::start(setup(Reuse::Spin, "body_limit = 1024", &[])).await;
    for p in PROVIDERS {
        let big = p.delivery("big").padded(4096);
        let reply = send_signed(&host, p, &big).await;
        assert_refused(&reply, 413, TOO_LARGE, &format!("{p:?} over the limit"));
        let exact = p.delivery("exact").padded(1024);
        let reply = send_signed(&host, p, &exact).await;
        assert_delivered(&reply, p, &exact, "current", &format!("{p:?} at the limit"));
    }
    assert!(host.log().contains(r#""reason":"payload_too_large""#));
}

#[tokio::test]
async fn a_failing_replay_cache_fails_closed() {
    let host = start(Reuse::Spin).await;
    for p in PROVIDERS {
        let d = p.delivery("store-down");
        let headers = p.signed(&d);
        // The replay cache's atomic increment is a key-value write.
        host.host.faults().set(Op::KvWrite, Fault::Error);
        let reply = deliver(&host, p, &headers, &d.body).await;
        assert_refused(&reply, 503, UNAVAILABLE, &format!("{p:?} store down"));
        // A bad signature is still a 401: the store is not consulted for it.
        let reply = deliver(&host, p, &headers, "{}").await;
        assert_refused(
            &reply,
            401,
            INVALID_SIGNATURE,
            &format!("{p:?} bad, store down"),
        );
        host.host.faults().set(Op::KvWrite, Fault::None);
        // Nothing was recorded: the same delivery passes once the store is back.
        let reply = deliver(&host, p, &headers, &d.body).await;
        assert_delivered(&reply, p, &d, "current", &format!("{p:?} store back"));
    }
    assert!(
        host.log()
            .contains(r#""event":"worker_replay_cache_failed""#)
    );
}
