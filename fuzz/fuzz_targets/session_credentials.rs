//! Session credentials from the cookie jar: `Cookie` header values of arbitrary bytes, split into
//! several headers, read for the session cookies (every occurrence, prefix
//! ranking, signature checks), decoded, and checked against properties
//! that must hold for any input. None of it may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::config::Secret;
use warden_core::layers::session::SessionConfig;
use warden_core::layers::session::cookie::{find_cookie, find_cookies, percent_decode};
use warden_core::layers::session::token::{self, Extracted, MAX_CANDIDATES};

fuzz_target!(|data: &[u8]| {
    // Several `Cookie` header values, split at 0xff bytes.
    let headers: Vec<&[u8]> = data.split(|b| *b == 0xff).take(8).collect();
    let mut config = SessionConfig::default();
    config.cookie_names.push("__Host-sid".into());
    let secret = Secret::new("fuzz-only-session-secret-0123456789abcdef".into());

    for name in &config.cookie_names {
        let all: Vec<&[u8]> = find_cookies(&headers, name).collect();
        assert_eq!(find_cookie(&headers, name), all.first().copied());
        for raw in all {
            let _ = percent_decode(raw);
        }
    }
    for only_prefixed in [false, true] {
        for key in [Some(&secret), None] {
            let found = token::credentials(&config, key, &headers, &[], only_prefixed);
            assert!(found.len() <= MAX_CANDIDATES);
            for credential in &found {
                match credential {
                    Extracted::Token(presented) => {
                        assert!(token::is_token(&presented.token));
                        if let token::Carrier::Cookie(name) = &presented.carrier {
                            assert!(!only_prefixed || token::is_prefixed_cookie(name));
                        }
                    }
                    Extracted::Refused { .. } => {}
                    Extracted::Missing => panic!("credentials never lists Missing"),
                }
            }
        }
    }
    let _ = token::extract(&config, Some(&secret), &headers, &headers);
});
