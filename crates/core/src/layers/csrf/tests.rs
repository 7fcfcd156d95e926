//! The decision table, every refusal, and the route key's parsing.

use super::*;
use crate::http::origin::OriginPattern;
use crate::policy::parse_policy;

fn guard(trusted: &[&str]) -> CsrfGuard {
    CsrfGuard {
        trusted: trusted
            .iter()
            .map(|t| OriginPattern::parse(t).unwrap())
            .collect(),
    }
}

fn request<'a>(
    method: &'a str,
    site: &[&'a str],
    origin: &[&'a str],
    authority: &'a str,
    https: bool,
) -> CsrfRequest<'a> {
    CsrfRequest {
        method,
        sec_fetch_site: site.iter().map(|s| s.as_bytes()).collect(),
        origin: origin.iter().map(|s| s.as_bytes()).collect(),
        authority: Some(authority),
        https,
    }
}

fn verdict(guard: &CsrfGuard, r: &CsrfRequest<'_>) -> Result<(), Reason> {
    check(guard, r).map_err(|refusal| refusal.reason)
}

const OWN: &str = "api.example.com";

/// One row: method, `Sec-Fetch-Site` lines, `Origin` lines, verdict.
type Row = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    Result<(), Reason>,
);

#[test]
fn the_decision_table() {
    let g = guard(&["https://app.example.com", "https://*.partner.example"]);
    let cases: &[Row] = &[
        // Safe methods are never checked, whatever they carry.
        ("GET", &["cross-site"], &["https://evil.example"], Ok(())),
        ("HEAD", &["cross-site", "cross-site"], &["null"], Ok(())),
        (
            "OPTIONS",
            &["cross-site"],
            &["https://evil.example"],
            Ok(()),
        ),
        ("TRACE", &["cross-site"], &["https://evil.example"], Ok(())),
        // Fetch Metadata.
        (
            "POST",
            &["same-origin"],
            &["https://api.example.com"],
            Ok(()),
        ),
        ("POST", &["same-origin"], &[], Ok(())),
        ("POST", &["none"], &[], Ok(())),
        ("POST", &[" same-origin\t"], &[], Ok(())),
        (
            "POST",
            &["cross-site"],
            &["https://app.example.com"],
            Ok(()),
        ),
        (
            "PUT",
            &["cross-site"],
            &["https://a.b.partner.example"],
            Ok(()),
        ),
        (
            "DELETE",
            &["same-site"],
            &["https://app.example.com"],
            Ok(()),
        ),
        (
            "POST",
            &["cross-site"],
            &["https://evil.example"],
            Err(Reason::CrossSite),
        ),
        ("POST", &["cross-site"], &[], Err(Reason::CrossSite)),
        (
            "PATCH",
            &["same-site"],
            &["https://www.example.com"],
            Err(Reason::SameSite),
        ),
        ("POST", &["cross-site"], &["null"], Err(Reason::CrossSite)),
        (
            "POST",
            &["Same-Origin"],
            &[],
            Err(Reason::UnknownSecFetchSite),
        ),
        (
            "POST",
            &["same-origin, none"],
            &[],
            Err(Reason::UnknownSecFetchSite),
        ),
        ("POST", &["bogus"], &["https://app.example.com"], Ok(())),
        (
            "POST",
            &["same-origin", "same-origin"],
            &[],
            Err(Reason::RepeatedSecFetchSite),
        ),
        // The request's own origin only counts without Fetch Metadata: a
        // browser that says cross-site is believed.
        (
            "POST",
            &["cross-site"],
            &["https://api.example.com"],
            Err(Reason::CrossSite),
        ),
        // No Sec-Fetch-Site: the Origin against the request's own and the trusted.
        ("POST", &[], &[], Ok(())),
        ("POST", &[], &["https://api.example.com"], Ok(())),
        ("POST", &[], &["https://API.example.com:443"], Ok(())),
        ("POST", &[], &["https://app.example.com"], Ok(())),
        (
            "POST",
            &[],
            &["https://evil.example"],
            Err(Reason::OriginMismatch),
        ),
        (
            "POST",
            &[],
            &["https://api.example.com.evil.example"],
            Err(Reason::OriginMismatch),
        ),
        (
            "POST",
            &[],
            &["https://api.example.com:8443"],
            Err(Reason::OriginMismatch),
        ),
        (
            "POST",
            &[],
            &["http://api.example.com"],
            Err(Reason::OriginMismatch),
        ),
        ("POST", &[], &["null"], Err(Reason::NullOrigin)),
        (
            "POST",
            &[],
            &["https://api.example.com/path"],
            Err(Reason::MalformedOrigin),
        ),
        (
            "POST",
            &[],
            &["https://user@api.example.com"],
            Err(Reason::MalformedOrigin),
        ),
        ("POST", &[], &[""], Err(Reason::MalformedOrigin)),
        (
            "POST",
            &[],
            &["https://api.example.com", "https://api.example.com"],
            Err(Reason::RepeatedOrigin),
        ),
        (
            "POST",
            &["same-origin"],
            &["https://api.example.com", "https://evil.example"],
            Err(Reason::RepeatedOrigin),
        ),
        // Any other method is unsafe, whatever its name.
        (
            "PROPFIND",
            &["cross-site"],
            &["https://evil.example"],
            Err(Reason::CrossSite),
        ),
    ];
    for (method, site, origin, expected) in cases {
        let r = request(method, site, origin, OWN, true);
        assert_eq!(verdict(&g, &r), *expected, "{method} {site:?} {origin:?}");
    }
}

#[test]
fn the_scheme_counts_only_when_the_request_is_known_to_be_https() {
    let g = guard(&[]);
    // Behind a proxy that ends TLS, warden sees http while the page is https.
    let proxied = request("POST", &[], &["https://api.example.com"], OWN, false);
    assert_eq!(verdict(&g, &proxied), Ok(()));
    let plain = request("POST", &[], &["http://api.example.com"], OWN, false);
    assert_eq!(verdict(&g, &plain), Ok(()));
    let downgrade = request("POST", &[], &["http://api.example.com"], OWN, true);
    assert_eq!(verdict(&g, &downgrade), Err(Reason::OriginMismatch));
    // A port written out on either side.
    let local = request(
        "POST",
        &[],
        &["http://127.0.0.1:3000"],
        "127.0.0.1:3000",
        false,
    );
    assert_eq!(verdict(&g, &local), Ok(()));
    let other_port = request(
        "POST",
        &[],
        &["http://127.0.0.1:3001"],
        "127.0.0.1:3000",
        false,
    );
    assert_eq!(verdict(&g, &other_port), Err(Reason::OriginMismatch));
    let written = request(
        "POST",
        &[],
        &["http://example.com"],
        "example.com:80",
        false,
    );
    assert_eq!(verdict(&g, &written), Ok(()));
    // No authority: only trusted origins pass.
    let mut none = request("POST", &[], &["https://api.example.com"], OWN, true);
    none.authority = None;
    assert_eq!(verdict(&g, &none), Err(Reason::OriginMismatch));
}

#[test]
fn hostile_bytes_are_refused_not_trusted() {
    let g = guard(&["https://app.example.com"]);
    for origin in [
        &b"https://app.example.com\xff"[..],
        b"\xc3\x28",
        b"https://app.example.com\r\nx: y",
        b"https://app.example.com\0",
    ] {
        let r = CsrfRequest {
            method: "POST",
            sec_fetch_site: vec![b"cross-site"],
            origin: vec![origin],
            authority: Some(OWN),
            https: true,
        };
        assert_eq!(verdict(&g, &r), Err(Reason::CrossSite), "{origin:?}");
        let r = CsrfRequest {
            sec_fetch_site: vec![],
            ..r
        };
        assert_eq!(verdict(&g, &r), Err(Reason::MalformedOrigin), "{origin:?}");
    }
    let r = CsrfRequest {
        method: "POST",
        sec_fetch_site: vec![b"\xffsame-origin"],
        origin: vec![],
        authority: Some(OWN),
        https: true,
    };
    assert_eq!(verdict(&g, &r), Err(Reason::UnknownSecFetchSite));
}

#[test]
fn a_refusal_carries_the_origin_for_the_log_cut_short() {
    let g = guard(&[]);
    let long = format!("https://{}.example", "a".repeat(500));
    let refused = check(&g, &request("POST", &["cross-site"], &[&long], OWN, true)).unwrap_err();
    assert_eq!(
        refused.origin.chars().count(),
        decision::LOGGED_ORIGIN_CHARS
    );
    let refused = check(&g, &request("POST", &["cross-site"], &[], OWN, true)).unwrap_err();
    assert_eq!(refused.origin, "");
    assert_eq!(refused.reason.as_str(), "cross_site");
    let denial = crate::base::denial::Denial::from(refused);
    assert_eq!(denial.status, 403);
    assert_eq!(
        denial.body,
        r#"{"error":{"code":"CSRF_REJECTED","message":"Cross-site request refused"}}"#
    );
    let _: serde_json::Value = serde_json::from_str(REJECTION_BODY).unwrap();
}

#[test]
fn the_guard_of_a_route() {
    let cors = [
        OriginPattern::Any,
        OriginPattern::parse("https://app.example.com").unwrap(),
    ];
    // "*" is never trusted: reading is not acting.
    let default = CsrfGuard::for_route(&CsrfSetting::Default, true, &cors).unwrap();
    assert_eq!(default.trusted, vec![cors[1].clone()]);
    assert_eq!(
        CsrfGuard::for_route(&CsrfSetting::Default, false, &cors),
        None
    );
    assert_eq!(CsrfGuard::for_route(&CsrfSetting::Off, true, &cors), None);
    let extra = OriginPattern::parse("https://partner.example").unwrap();
    let on = CsrfSetting::On {
        trusted_origins: vec![extra.clone()],
    };
    let guard = CsrfGuard::for_route(&on, false, &cors).unwrap();
    assert_eq!(guard.trusted, vec![cors[1].clone(), extra]);
}

fn route_keys(value: &str) -> Result<CsrfSetting, Vec<String>> {
    let doc =
        format!("[[routes]]\nname = \"a\"\npath = \"/*\"\nauth = \"optional\"\ncsrf = {value}\n");
    parse_policy(&doc)
        .map(|p| p.routes[0].keys.csrf.clone())
        .map_err(|problems| problems.iter().map(|p| p.to_string()).collect())
}

#[test]
fn the_route_key() {
    let none = parse_policy("[[routes]]\nname = \"a\"\npath = \"/*\"\n").unwrap();
    assert_eq!(none.routes[0].keys.csrf, CsrfSetting::Default);
    assert_eq!(
        route_keys("true"),
        Ok(CsrfSetting::On {
            trusted_origins: vec![]
        })
    );
    assert_eq!(route_keys("false"), Ok(CsrfSetting::Off));
    assert_eq!(
        route_keys("{ trusted_origins = [\"https://a.example\", \"https://*.b.example\"] }"),
        Ok(CsrfSetting::On {
            trusted_origins: vec![
                OriginPattern::parse("https://a.example").unwrap(),
                OriginPattern::parse("https://*.b.example").unwrap(),
            ]
        })
    );
    assert_eq!(
        route_keys("{}"),
        Ok(CsrfSetting::On {
            trusted_origins: vec![]
        })
    );
}

#[test]
fn every_invalid_value_names_its_field() {
    let cases: &[(&str, &[&str])] = &[
        (
            "\"on\"",
            &["routes[0].csrf: must be true, false or a table { trusted_origins }, found a string"],
        ),
        (
            "1",
            &[
                "routes[0].csrf: must be true, false or a table { trusted_origins }, found an integer",
            ],
        ),
        (
            "{ trusted = [] }",
            &["routes[0].csrf.trusted: unknown field; expected one of: trusted_origins"],
        ),
        (
            "{ trusted_origins = [] }",
            &[
                "routes[0].csrf.trusted_origins: must list at least one origin (write csrf = true to trust none)",
            ],
        ),
        (
            "{ trusted_origins = \"https://a.example\" }",
            &["routes[0].csrf.trusted_origins: must be an array of strings, found a string"],
        ),
        (
            "{ trusted_origins = [\"*\"] }",
            &[
                "routes[0].csrf.trusted_origins[0]: \"*\" would trust every origin, which turns CSRF protection off; write csrf = false instead",
            ],
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(
            route_keys(value),
            Err(expected.iter().map(|s| s.to_string()).collect()),
            "{value}"
        );
    }
    let found = route_keys("{ trusted_origins = [\"https://a.example/\", 5] }").unwrap_err();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].starts_with("routes[0].csrf.trusted_origins[0]: "),
        "{found:?}"
    );
    assert!(
        found[1].starts_with("routes[0].csrf.trusted_origins[1]: must be a string"),
        "{found:?}"
    );
}
