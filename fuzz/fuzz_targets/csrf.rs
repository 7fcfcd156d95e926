//! The CSRF check on outside input: any bytes in any number of
//! `Sec-Fetch-Site` and `Origin` lines, any authority, either scheme. It
//! may not panic; a refusal's logged origin is bounded; a pass on an
//! unsafe method is one of the table's passing rows (docs/hardening.md,
//! "CSRF"). Also the `timeout` duration reader on the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::base::fields::parse_duration_ms;
use warden_core::http::origin::{Origin, OriginPattern};
use warden_core::layers::csrf::decision::LOGGED_ORIGIN_CHARS;
use warden_core::layers::csrf::{CsrfGuard, CsrfRequest, check};

const METHODS: [&str; 4] = ["POST", "GET", "DELETE", "PROPFIND"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if let Ok(text) = std::str::from_utf8(rest)
        && let Ok(ms) = parse_duration_ms(text)
    {
        assert!(ms >= 1);
    }
    // Pieces split at 0x00: the first is the authority, then each piece is
    // a Sec-Fetch-Site or an Origin line as the selector's bits say.
    let mut pieces = rest.split(|b| *b == 0);
    let authority = pieces.next().and_then(|a| std::str::from_utf8(a).ok());
    let mut sec_fetch_site = Vec::new();
    let mut origin = Vec::new();
    for (i, piece) in pieces.take(4).enumerate() {
        if selector >> (4 + i) & 1 == 0 {
            sec_fetch_site.push(piece);
        } else {
            origin.push(piece);
        }
    }
    let guard = CsrfGuard {
        trusted: vec![
            OriginPattern::parse("https://app.example.com").unwrap(),
            OriginPattern::parse("https://*.partner.example").unwrap(),
        ],
    };
    let request = CsrfRequest {
        method: METHODS[usize::from(selector & 3)],
        sec_fetch_site,
        origin,
        authority,
        https: selector & 4 != 0,
    };
    match check(&guard, &request) {
        Err(refusal) => assert!(refusal.origin.chars().count() <= LOGGED_ORIGIN_CHARS),
        Ok(()) if request.method == "POST" || request.method == "DELETE" || request.method == "PROPFIND" => {
            assert!(request.sec_fetch_site.len() <= 1 && request.origin.len() <= 1);
            let origin = request.origin.first().map(|o| {
                std::str::from_utf8(o.trim_ascii())
                    .ok()
                    .and_then(|t| Origin::parse(t).ok())
            });
            let site = request.sec_fetch_site.first().map(|s| s.trim_ascii());
            let trusted = |o: &Option<Origin>| {
                o.as_ref()
                    .is_some_and(|o| guard.trusted.iter().any(|p| p.matches(o)))
            };
            match (site, origin) {
                (Some(b"same-origin" | b"none"), _) => {}
                (Some(_), Some(o)) => assert!(trusted(&o), "a cross-site pass from an untrusted origin"),
                (Some(_), None) => panic!("a cross-site pass without an origin"),
                (None, None) => {}
                (None, Some(o)) => assert!(o.is_some(), "a malformed origin passed"),
            }
        }
        Ok(()) => {}
    }
});
