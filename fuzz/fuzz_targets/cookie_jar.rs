//! The session cookie jar, fed arbitrary `Cookie` header lines and cookie
//! names: finding a cookie and percent-decoding its value must never panic,
//! and a value found never spans two cookies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::layers::session::cookie::{find_cookie, percent_decode};

fuzz_target!(|data: &[u8]| {
    // The first line (up to 0xff) is the cookie name; the rest are lines of
    // the `Cookie` header.
    let mut parts = data.split(|b| *b == 0xff);
    let name = String::from_utf8_lossy(parts.next().unwrap_or(&[])).into_owned();
    let lines: Vec<&[u8]> = parts.collect();
    for wanted in [
        name.as_str(),
        "codex-session",
        "__Secure-better-auth.session_token",
        "better-auth.session_token",
    ] {
        if let Some(value) = find_cookie(&lines, wanted) {
            assert!(!value.contains(&b';'), "a value never spans two cookies");
            if let Some(decoded) = percent_decode(value) {
                assert!(decoded.len() <= value.len());
            }
        }
    }
    for line in &lines {
        let _ = percent_decode(line);
    }
});
