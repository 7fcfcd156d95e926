//! The lockout layer's account extraction, fed arbitrary bodies and header
//! lines: malformed, truncated, deeply nested or repeated JSON, urlencoded
//! forms with broken escapes, bytes that are not UTF-8. None of it may
//! panic; at most `MAX_ACCOUNTS` accounts come out, each only as a 32-hex
//! hash that never contains the raw value; the same input always gives the
//! same accounts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::layers::lockout::{AccountSource, Accounts, MAX_ACCOUNTS, accounts};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the field name (a one-letter one matches often,
    // an escaped one never should); header lines are the body split at 0xff.
    let Some((first, body)) = data.split_first() else {
        return;
    };
    let name = ["email", "a", "user name", "e%6Dail"][usize::from(*first) % 4];
    let headers: Vec<(String, Vec<u8>)> = body
        .split(|b| *b == 0xff)
        .map(|line| ("x-login".to_string(), line.to_vec()))
        .collect();
    for source in [
        AccountSource::Json(name.into()),
        AccountSource::Form(name.into()),
        AccountSource::Header("x-login".into()),
    ] {
        let found = accounts(&source, &headers, body);
        assert_eq!(found, accounts(&source, &headers, body));
        if let Accounts::Named(ids) = found {
            assert!(!ids.is_empty() && ids.len() <= MAX_ACCOUNTS);
            for id in &ids {
                assert_eq!(id.hash().len(), 32);
                assert!(id.hash().bytes().all(|b| b.is_ascii_hexdigit()));
            }
        }
    }
});
