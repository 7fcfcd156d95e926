//! The rate-limit key builder and the client address, fed arbitrary header
//! lines: repeated, empty, not UTF-8, multi-byte characters anywhere (one
//! across byte 256 of a keyed header once aborted the whole instance). None
//! of it may panic, and the key stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use warden_core::config::{RawSettings, WardenConfig};
use warden_core::layers::rate_limit::{ClientIpSource, RateLimit};
use warden_core::layers::rate_limit::{
    Caller, MAX_KEY_HEADER_BYTES, bucket, client_address, client_key, counter_key, quotas_for,
    window_of,
};

/// Names a line can have: every header the key builder or the address
/// source reads, in two spellings.
const NAMES: [&str; 8] = [
    "x-forwarded-for",
    "X-Forwarded-For",
    "x-real-ip",
    "cf-connecting-ip",
    "spin-client-addr",
    "x-key",
    "X-KEY",
    "x-other",
];

fn limit() -> &'static RateLimit {
    static CONFIG: OnceLock<WardenConfig> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        WardenConfig::build(RawSettings {
            policy: Some(
                "[[routes]]\nname = \"k\"\npath = \"/*\"\nauth = \"optional\"\n\
                 rate_limit = { requests = 5, window = \"1m\", key = [\"ip\", \"header:x-key\", \"user\"] }\n"
                    .into(),
            ),
            ..RawSettings::default()
        })
        .expect("fuzz policy is valid")
    });
    config.policy.routes[0]
        .keys.rate_limit
        .limit()
        .expect("the route is limited")
}

fuzz_target!(|data: &[u8]| {
    // Lines separated by 0xff; each line's first byte picks its name.
    let headers: Vec<(String, Vec<u8>)> = data
        .split(|b| *b == 0xff)
        .filter_map(|line| {
            let (first, value) = line.split_first()?;
            Some((
                NAMES[usize::from(*first) % NAMES.len()].to_string(),
                value.to_vec(),
            ))
        })
        .collect();
    let limit = limit();
    let user = headers
        .iter()
        .find(|(n, _)| n == "x-other")
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
    let caller = Caller {
        user_id: user.as_deref(),
        roles: &[],
    };
    for source in [
        ClientIpSource::Peer,
        ClientIpSource::Header("x-real-ip".into()),
        ClientIpSource::Header("cf-connecting-ip".into()),
        ClientIpSource::ForwardedFor(1),
        ClientIpSource::ForwardedFor(2),
        ClientIpSource::ForwardedFor(255),
    ] {
        let resolved = client_address(&source, 64, &headers);
        if let Some(address) = &resolved.address {
            assert!(address.len() <= 64, "{address}");
        }
        let key = client_key(limit, resolved.address.as_deref(), caller, &headers);
        let header_part = key
            .split('\u{1f}')
            .find_map(|part| part.strip_prefix("h:x-key="))
            .expect("the header part");
        assert!(header_part.len() <= MAX_KEY_HEADER_BYTES);
        for quota in quotas_for(limit, caller) {
            let window = window_of(quota, 1_795_364_495_000);
            let counter = counter_key(quota, &window, &bucket("k", quota, limit.scope, "/x", &key));
            assert!(counter.len() < 128, "{counter}");
        }
    }
});
