//! The pure core's hot functions, as named workloads: what each layer's
//! decision costs without any host around it. `benches/core.rs` times them
//! natively with criterion (`cargo bench -p warden-micro`); the
//! `warden-micro` binary times the same workloads with a plain loop, built
//! natively or for wasm32-wasip2 and run by `warden-host run`, so the two
//! can be compared (bench/micro/run).

use std::hint::black_box;
use warden_core::config::{RawSettings, Secret, WardenConfig};
use warden_core::http::path::normalize_path;
use warden_core::layers::rate_limit::Preset;
use warden_core::layers::rate_limit::{
    Counted, QuotaState, Verdict, bucket, client_address, counter_key, window_of,
};
use warden_core::layers::security_headers::csp::Csp;
use warden_core::layers::session::token;
use warden_core::layers::signature::{self, Keys, RequestView};

const SECRET: &str = "bench-only-worker-secret-0123456789abcdef";

/// One workload: its name and one iteration of it.
pub type Workload = (&'static str, Box<dyn FnMut()>);

fn demo_config() -> WardenConfig {
    let manifest = include_str!("../../../spin.toml");
    let start = manifest
        .find("policy = { default = '''")
        .expect("demo policy")
        + 24;
    let end = start + manifest[start..].find("'''").expect("end of policy");
    WardenConfig::build(RawSettings {
        policy: Some(manifest[start..end].to_owned()),
        worker_secret: Some(SECRET.into()),
        session_secret: Some(SECRET.into()),
        ..RawSettings::default()
    })
    .expect("the demo policy is valid")
}

/// Every workload, ready to run (set up outside the timed part).
pub fn workloads() -> Vec<Workload> {
    // Leaked once: the workloads borrow it for the life of the process.
    let config: &'static WardenConfig = Box::leak(Box::new(demo_config()));
    let policy = &config.policy;
    let mut out: Vec<Workload> = Vec::new();

    out.push((
        "policy: normalize + match /api/x (7 routes)",
        Box::new(move || {
            let path = normalize_path(black_box("/api/things/42?x=1")).unwrap();
            black_box(policy.match_route("GET", &path).map(|(i, _)| i));
        }),
    ));

    // Once per instance (DESIGN §1: up to 128 requests each under Spin): the
    // first request of every instance pays for it.
    out.push((
        "config: load the demo policy and secrets (once per instance)",
        Box::new(|| {
            black_box(demo_config());
        }),
    ));

    let csp = Csp::defaults();
    out.push((
        "csp: render the seed default with a nonce",
        Box::new(move || {
            black_box(csp.render(Some(black_box("TMpHqq/3T1DenGpVNkjr2A=="))));
        }),
    ));

    // A route's full set of security headers with a nonce in script-src:
    // rendered from the settings per request (as warden did) and from the
    // form prepared at configuration load (as it does now).
    let mut headers = warden_core::layers::security_headers::HeadersConfig::default();
    headers.csp.as_mut().unwrap().nonce = vec!["script-src"];
    let env = warden_core::config::Environment::Production;
    let prepared = headers.prepare(env);
    out.push((
        "headers: render a route's headers per request, with a nonce",
        Box::new(move || {
            black_box(headers.headers(env, Some(black_box("TMpHqq/3T1DenGpVNkjr2A=="))));
        }),
    ));
    out.push((
        "headers: a route's prepared headers, with a nonce",
        Box::new(move || {
            black_box(prepared.headers(Some(black_box("TMpHqq/3T1DenGpVNkjr2A=="))));
        }),
    ));

    let secret = Secret::new(SECRET.into());
    let tok = "N7Qr2kS9vXbL4mPz8cWj1tYh6uDf3GaE";
    // URL-encoded `token.signature`, as Better Auth sets the cookie.
    let signed = token::sign(&secret, tok)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let cookie = format!("theme=dark; better-auth.session_token={signed}");
    // Measure the path a valid cookie takes, not an early refusal.
    assert!(matches!(
        token::extract(
            &policy.sections.session,
            Some(&secret),
            &[cookie.as_bytes()],
            &[]
        ),
        token::Extracted::Token(_)
    ));
    out.push((
        "session: cookie parse + HMAC verify",
        Box::new(move || {
            black_box(token::extract(
                &policy.sections.session,
                Some(&secret),
                &[black_box(cookie.as_bytes())],
                &[],
            ));
        }),
    ));

    let body = vec![b'x'; 1024];
    let now = 1_795_364_495u64;
    let ts = now.to_string();
    let sig = signature::worker::sign_worker(SECRET.as_bytes(), &ts, &body);
    let signed_headers = vec![
        ("x-worker-signature".to_string(), sig.into_bytes()),
        ("x-worker-timestamp".to_string(), ts.into_bytes()),
    ];
    let rule = policy
        .sections
        .worker
        .rule_for(&policy.routes[5].keys.worker);
    let keys = Keys {
        current: SECRET.as_bytes(),
        previous: None,
    };
    fn view(headers: &[(String, Vec<u8>)]) -> RequestView<'_> {
        RequestView {
            method: "POST",
            scheme: "http",
            authority: "127.0.0.1:3000",
            path_and_query: "/internal/hook",
            headers,
        }
    }
    assert!(
        signature::verify(
            &policy.sections.worker,
            &rule,
            &view(&signed_headers),
            &body,
            &keys,
            now
        )
        .is_ok()
    );
    out.push((
        "worker signature: verify over 1 KiB",
        Box::new(move || {
            let view = view(&signed_headers);
            black_box(
                signature::verify(
                    &policy.sections.worker,
                    &rule,
                    &view,
                    black_box(&body),
                    &keys,
                    now,
                )
                .is_ok(),
            );
        }),
    ));

    let quota = Preset::Api.quota();
    let settings = &policy.sections.rate_limit;
    let peer_headers = vec![(
        "spin-client-addr".to_string(),
        b"203.0.113.9:51234".to_vec(),
    )];
    out.push((
        "rate limit: client key + bucket + verdict + headers",
        Box::new(move || {
            let address =
                client_address(&settings.client_ip, settings.ipv6_prefix, &peer_headers).address;
            let window = window_of(&quota, now * 1000);
            let key = counter_key(
                &quota,
                &window,
                &bucket(
                    "api",
                    &quota,
                    Default::default(),
                    "/api/x",
                    address.as_deref().unwrap_or(""),
                ),
            );
            let verdict = Verdict {
                quotas: vec![QuotaState::from_count(
                    &quota,
                    &window,
                    Counted::Exact(42),
                    now * 1000,
                )],
            };
            black_box((key, verdict.headers(true, true)));
        }),
    ));
    out
}
