//! Everything warden parses from a request, fed arbitrary bytes: the path
//! (with every spelling option), cookies and bearer tokens, origins, client
//! addresses from repeated header lines, timestamps, the signature headers
//! of all three schemes (with the body), a revocation body and a cached
//! session record. None of it may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use warden_core::config::{RawSettings, Secret, WardenConfig};
use warden_core::http::origin::{Origin, OriginPattern};
use warden_core::http::path::{PathOptions, normalize_path, normalize_path_with};
use warden_core::layers::rate_limit::ClientIpSource;
use warden_core::layers::rate_limit::client_address;
use warden_core::layers::session::{revoke, time, token};
use warden_core::http::structured_fields;
use warden_core::layers::signature::{self, Keys, RequestView};

const SECRET: &str = "fuzz-only-worker-secret-0123456789abcdef";

fn config() -> &'static WardenConfig {
    static CONFIG: OnceLock<WardenConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        WardenConfig::build(RawSettings {
            policy: Some(
                "[session]\nbearer = true\n\
                 [[routes]]\nname = \"w\"\npath = \"/w/*\"\nauth = \"worker\"\n\
                 [[routes]]\nname = \"n\"\npath = \"/n/*\"\nauth = \"worker\"\nworker = { scheme = \"request-nonce\" }\n\
                 [[routes]]\nname = \"r\"\npath = \"/r/*\"\nauth = \"worker\"\nworker = { scheme = \"rfc9421\" }\n\
                 [[routes]]\nname = \"all\"\npath = \"/*\"\nauth = \"optional\"\n"
                    .into(),
            ),
            worker_secret: Some(SECRET.into()),
            session_secret: Some(SECRET.into()),
            ..RawSettings::default()
        })
        .expect("fuzz policy is valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let config = config();
    let policy = &config.policy;
    // Split the input into a few fields at 0xff bytes.
    let mut parts = data.split(|b| *b == 0xff);
    let mut next = || parts.next().unwrap_or(&[]);
    let (a, b, c, d, body) = (next(), next(), next(), next(), next());
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();

    if let Ok(path) = normalize_path(&text(a)) {
        let _ = policy.match_route("GET", &path);
        assert!(!path.as_str().contains([';', '%']), "refused by default");
    }
    let everything = PathOptions {
        allow_semicolons: true,
        allow_double_encoding: true,
    };
    if let Ok(path) = normalize_path_with(&text(a), everything) {
        let _ = policy.match_route("GET", &path);
    }
    let secret = Secret::new(SECRET.into());
    let _ = token::extract(&policy.sections.session, Some(&secret), &[b, c], &[c, b]);
    let _ = token::extract(&policy.sections.session, None, &[b], &[]);
    let _ = token::credentials(&policy.sections.session, Some(&secret), &[b, c, d], &[], true);
    let _ = warden_core::http::hop_by_hop::strip_request_header(&text(a).to_ascii_lowercase(), &[]);
    let _ = warden_core::http::hop_by_hop::is_identity_header(&text(b));
    let _ = Origin::parse(&text(a));
    let _ = OriginPattern::parse(&text(b));
    // Client addresses from repeated (and non-UTF-8) lines of each header.
    let lines: Vec<(String, Vec<u8>)> = c
        .split(|b| *b == b'\n')
        .zip(
            [
                "x-forwarded-for",
                "X-Forwarded-For",
                "x-real-ip",
                "spin-client-addr",
                "cf-connecting-ip",
            ]
            .iter()
            .cycle(),
        )
        .map(|(v, n)| (n.to_string(), v.to_vec()))
        .collect();
    for source in [
        ClientIpSource::Peer,
        ClientIpSource::Header("x-real-ip".into()),
        ClientIpSource::Header("cf-connecting-ip".into()),
        ClientIpSource::ForwardedFor(1),
        ClientIpSource::ForwardedFor(3),
    ] {
        let _ = client_address(&source, 64, &lines);
    }
    if let Some(t) = signature::parse_unix_seconds(&text(d)) {
        assert_eq!(t.to_string(), text(d), "one spelling per timestamp");
    }
    let _ = time::parse_iso8601_ms(&text(d));
    let _ = revoke::parse_revoke(body);
    let _ = structured_fields::parse_dictionary(&text(c));
    let _ = structured_fields::parse_item(&text(d));

    let headers: Vec<(String, Vec<u8>)> = [
        "x-worker-signature",
        "x-worker-timestamp",
        "x-worker-nonce",
        "x-request-signature",
        "x-request-timestamp",
        "x-request-nonce",
        "signature-input",
        "signature",
        "content-digest",
        "origin",
    ]
    .iter()
    .zip([a, b, c, d, a, b, c, d, b, a].iter())
    .map(|(n, v)| (n.to_string(), v.to_vec()))
    .collect();
    let keys = Keys {
        current: SECRET.as_bytes(),
        previous: Some(b"previous-fuzz-secret-0123456789abcdef"),
    };
    for route in &policy.routes[..3] {
        let rule = policy.sections.worker.rule_for(&route.keys.worker);
        let view = RequestView {
            method: "POST",
            scheme: "https",
            authority: "example.com",
            path_and_query: "/w/hook?x=1",
            headers: &headers,
        };
        let _ = signature::verify(&policy.sections.worker, &rule, &view, body, &keys, 1_795_364_495);
        // The second window check, with the body complete later (or the
        // clock gone back).
        if let Ok(pending) = signature::check_headers(&policy.sections.worker, &rule, &view, 1_795_364_495) {
            let later = 1_795_364_495 + u64::from(body.first().copied().unwrap_or(0));
            let _ = pending.verify(&view, body, &keys, later);
            let _ = pending.verify(&view, body, &keys, 0);
        }
    }
});
