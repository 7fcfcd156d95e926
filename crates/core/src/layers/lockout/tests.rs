//! The lockout layer's tests: configuration (every invalid value named by
//! field), account extraction on hostile bodies, keys and locks.

use super::*;
use crate::base::failed_attempts::is_expired;
use crate::policy::parse_policy;

fn problems(doc: &str) -> Vec<String> {
    parse_policy(doc)
        .unwrap_err()
        .iter()
        .map(|p| p.to_string())
        .collect()
}

fn route(keys: &str) -> String {
    format!("[[routes]]\nname = \"login\"\npath = \"/login\"\nlockout = {{ {keys} }}\n")
}

fn named(source: &AccountSource, headers: &[(String, Vec<u8>)], body: &[u8]) -> Vec<AccountId> {
    match accounts(source, headers, body) {
        Accounts::Named(ids) => ids,
        other => panic!("{other:?}"),
    }
}

#[test]
fn defaults_follow_the_seed() {
    let policy = parse_policy(&route("")).unwrap();
    let login = for_route(&policy.sections.lockout, &policy.routes[0].keys.lockout).unwrap();
    assert_eq!(login, LockoutConfig::default());
    assert_eq!(
        (login.max_failures, login.window_secs, login.duration_secs),
        (5, 900, 900)
    );
    assert_eq!(login.failure_statuses, [401, 403]);
    assert_eq!((login.status, login.account), (429, None));
    // A route without `lockout` is no login route.
    let plain = parse_policy("[[routes]]\nname = \"a\"\npath = \"/*\"\n").unwrap();
    assert_eq!(
        for_route(&plain.sections.lockout, &plain.routes[0].keys.lockout),
        None
    );
}

#[test]
fn the_section_sets_defaults_and_the_route_overrides_them() {
    let doc = format!(
        "[lockout]\nmax_failures = 3\nstatus = 423\naccount = \"header:X-Login\"\n{}",
        route("window = \"1m\", failure_statuses = [401]")
    );
    let policy = parse_policy(&doc).unwrap();
    let login = for_route(&policy.sections.lockout, &policy.routes[0].keys.lockout).unwrap();
    assert_eq!(login.max_failures, 3);
    assert_eq!(login.status, 423);
    assert_eq!(login.window_secs, 60);
    assert_eq!(login.failure_statuses, [401]);
    assert_eq!(login.account, Some(AccountSource::Header("x-login".into())));
    assert!(policy.stores_used().key_value);
}

#[test]
fn every_invalid_value_is_named_by_field() {
    let cases = [
        (
            "max_failures = 0",
            "routes[0].lockout.max_failures: must be between 1 and 1000",
        ),
        (
            "max_failures = \"5\"",
            "routes[0].lockout.max_failures: must be an integer, found a string",
        ),
        (
            "window = \"15\"",
            "routes[0].lockout.window: missing unit; expected a whole number followed by s, m, h or d, like \"15m\"",
        ),
        (
            "duration = \"2d\"",
            "routes[0].lockout.duration: must be at most 1d",
        ),
        (
            "duration = 900",
            "routes[0].lockout.duration: must be a duration like \"15m\", found an integer",
        ),
        (
            "status = 403",
            "routes[0].lockout.status: must be 429 or 423, found 403",
        ),
        (
            "failure_statuses = []",
            "routes[0].lockout.failure_statuses: must list at least one status (400 to 599)",
        ),
        (
            "failure_statuses = [200]",
            "routes[0].lockout.failure_statuses[0]: must be between 400 and 599",
        ),
        (
            "failure_statuses = [401, 401]",
            "routes[0].lockout.failure_statuses[1]: repeats 401",
        ),
        (
            "account = \"email\"",
            "routes[0].lockout.account: \"email\" has no source; expected \"json:FIELD\", \"form:FIELD\" or \"header:NAME\"",
        ),
        (
            "account = \"xml:email\"",
            "routes[0].lockout.account: unknown source \"xml\"; expected \"json:FIELD\", \"form:FIELD\" or \"header:NAME\"",
        ),
        (
            "account = \"json:\"",
            "routes[0].lockout.account: \"json:\" needs a name of 1 to 128 bytes; expected \"json:FIELD\", \"form:FIELD\" or \"header:NAME\"",
        ),
        (
            "account = \"header:x y\"",
            "routes[0].lockout.account: \"x y\" is not a header name",
        ),
        (
            "account = 1",
            "routes[0].lockout.account: must be a string, found an integer",
        ),
        (
            "tries = 5",
            "routes[0].lockout.tries: unknown field; expected one of: account, failure_statuses, max_failures, window, duration, status",
        ),
    ];
    for (keys, expected) in cases {
        assert_eq!(problems(&route(keys)), [expected], "{keys}");
    }
    assert_eq!(
        problems(&format!("[lockout]\nmax_failures = 1001\n{}", route(""))),
        ["lockout.max_failures: must be between 1 and 1000"]
    );
    assert_eq!(
        problems("[[routes]]\nname = \"login\"\npath = \"/login\"\nlockout = true\n"),
        ["routes[0].lockout: must be a table, found a boolean"]
    );
}

#[test]
fn json_accounts_are_found_defensively() {
    let json = AccountSource::Json("email".into());
    let alice = AccountId::from_raw(b"alice@example.com").unwrap();
    for body in [
        &br#"{"email":"alice@example.com"}"#[..],
        br#"  {"password":"x","email":" ALICE@example.com\t"}  "#,
        b"\xEF\xBB\xBF{\"email\":\"alice@example.com\"}",
        br#"{"em\u0061il":"alice@example.com","nested":{"email":"bob"}}"#,
        br#"{"email":"alice@example.com","email":"ALICE@EXAMPLE.COM"}"#,
    ] {
        assert_eq!(
            named(&json, &[], body),
            std::slice::from_ref(&alice),
            "{body:?}"
        );
    }
    // An object without a usable member, or no body: failures count by
    // address only.
    for body in [
        &b""[..],
        b" \r\n",
        b"{\"email\":1}",
        b"{\"email\":null}",
        b"{\"email\":[\"a\"]}",
        b"{\"email\":\"   \"}",
        b"{\"user\":{\"email\":\"a\"}}",
    ] {
        assert_eq!(accounts(&json, &[], body), Accounts::Unnamed, "{body:?}");
    }
    // A body warden cannot read as one object is refused, not counted by
    // address only: the app's parser may well read an account from it.
    for body in [
        &b"{"[..],
        b"{\"email\":",
        b"[{\"email\":\"a\"}]",
        b"\"alice\"",
        b"{\"email\":\"a\"} trailing",
        b"{\"email\":\"a\"}{\"email\":\"b\"}",
        b"{\"email\":\"\\ud800\"}",
        b"{\"email\":\"\xff\xfe\"}",
        b"email=alice",
    ] {
        assert_eq!(accounts(&json, &[], body), Accounts::Unreadable, "{body:?}");
    }
    // Deep nesting is refused by serde_json's recursion limit, not the stack.
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(accounts(&json, &[], deep.as_bytes()), Accounts::Unnamed);
    // A skipped member nested past 128 levels is still read past: the
    // account is found.
    let deep = format!(
        r#"{{"email":"alice@example.com","x":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert_eq!(
        named(&json, &[], deep.as_bytes()),
        std::slice::from_ref(&alice)
    );
}

/// Attack: a body the app's JSON parser reads but serde_json does not (a
/// lone surrogate or a byte that is not UTF-8 in another member's name,
/// which `JSON.parse` and Node's lenient decoding take; a form body on a
/// JSON route whose app takes forms too) used to name no account, so a
/// password guess for a named victim was counted against the address only
/// and a run spread over many addresses never locked the account.
#[test]
fn a_body_the_app_may_read_but_warden_cannot_is_unreadable_not_unnamed() {
    let json = AccountSource::Json("email".into());
    for body in [
        &br#"{"\ud800":1,"email":"victim@example.com","password":"guess"}"#[..],
        b"{\"\xff\":1,\"email\":\"victim@example.com\",\"password\":\"guess\"}",
        b"email=victim%40example.com&password=guess",
    ] {
        assert_eq!(accounts(&json, &[], body), Accounts::Unreadable, "{body:?}");
    }
}

#[test]
fn repeated_names_count_every_distinct_account_up_to_four() {
    let json = AccountSource::Json("email".into());
    let two = named(&json, &[], br#"{"email":"a","email":"b","email":"A"}"#);
    assert_eq!(
        two,
        [
            AccountId::from_raw(b"a").unwrap(),
            AccountId::from_raw(b"b").unwrap()
        ]
    );
    let five = br#"{"email":"a","email":"b","email":"c","email":"d","email":"e"}"#;
    assert_eq!(accounts(&json, &[], five), Accounts::TooMany);
    let form = AccountSource::Form("user".into());
    assert_eq!(
        accounts(&form, &[], b"user=a&user=b&user=c&user=d&user=e"),
        Accounts::TooMany
    );
    let header = AccountSource::Header("x-login".into());
    let headers = vec![
        ("X-Login".to_string(), b"a".to_vec()),
        ("x-login".to_string(), b"b".to_vec()),
    ];
    assert_eq!(named(&header, &headers, b"").len(), 2);
}

#[test]
fn form_accounts_are_decoded() {
    let form = AccountSource::Form("email".into());
    let alice = AccountId::from_raw(b"alice@example.com").unwrap();
    for body in [
        &b"email=alice%40example.com&password=x"[..],
        b"password=x&email=+Alice@Example.com+",
        b"e%6Dail=alice@example.com",
        b"&&email=alice@example.com&",
    ] {
        assert_eq!(
            named(&form, &[], body),
            std::slice::from_ref(&alice),
            "{body:?}"
        );
    }
    // Invalid escapes stay as they are; bytes need not be UTF-8.
    assert_eq!(
        named(&form, &[], b"email=a%zz%4"),
        [AccountId::from_raw(b"a%zz%4").unwrap()]
    );
    assert_eq!(named(&form, &[], b"email=%ff%00").len(), 1);
    for body in [
        &b""[..],
        b"email",
        b"email=",
        b"emails=a",
        b"{\"email\":\"a\"}",
    ] {
        assert_eq!(accounts(&form, &[], body), Accounts::Unnamed, "{body:?}");
    }
}

#[test]
fn header_accounts_and_normalization() {
    let header = AccountSource::Header("x-login".into());
    let headers = vec![("X-LOGIN".to_string(), b" Bob \xff".to_vec())];
    assert_eq!(
        named(&header, &headers, b""),
        [AccountId::from_raw(b"bob \xff").unwrap()]
    );
    assert_eq!(accounts(&header, &[], b""), Accounts::Unnamed);
    assert_eq!(normalize(b" \t\r\nMiXeD\x0c"), Some(b"mixed".to_vec()));
    // Non-ASCII letters are kept as they are.
    assert_eq!(
        normalize("  ÉCOLE ".as_bytes()),
        Some("École".as_bytes().to_vec())
    );
    assert_eq!(normalize(b" \t "), None);
    let id = AccountId::from_raw(b"alice").unwrap();
    assert_eq!(id.hash().len(), 32);
    assert!(id.hash().bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(id.log_prefix().len(), 8);
    // Domain-separated: not the plain SHA-256 of the account.
    let plain = crate::base::digest::sha256_hex(b"alice");
    assert!(!plain.starts_with(id.hash()));
}

#[test]
fn keys_locks_and_the_sweep() {
    let config = LockoutConfig {
        window_secs: 60,
        duration_secs: 120,
        ..LockoutConfig::default()
    };
    let now_ms = 1_000_030_000;
    let account = Subject::Account("0123456789abcdef0123456789abcdef");
    assert_eq!(account.scope(), "account");
    assert_eq!(Subject::Address("::1").scope(), "address");
    let counter = account.counter_key(&config, now_ms);
    assert_eq!(
        counter,
        "warden:fail:login:acct:0123456789abcdef0123456789abcdef:60:1000020"
    );
    let [here, next] = account.lock_keys(&config, now_ms);
    assert_eq!(
        here,
        "warden:fail:login-lock:acct:0123456789abcdef0123456789abcdef:120:999960"
    );
    assert_eq!(
        next,
        "warden:fail:login-lock:acct:0123456789abcdef0123456789abcdef:120:1000080"
    );
    // Every check while the lock lasts reads a key the locker wrote.
    let value = lock_value(&config, now_ms);
    for later in [0, 1, 60, 119] {
        let at = now_ms + later * 1000;
        let [read, _] = account.lock_keys(&config, at);
        assert!(read == here || read == next, "{later}");
        assert!(lock_remaining(&value, at / 1000).is_some(), "{later}");
    }
    assert_eq!(lock_remaining(&value, now_ms / 1000 + 120), None);
    assert_eq!(lock_remaining(b"garbage", 0), None);
    assert_eq!(lock_remaining(&[1, 0, 0, 0, 0, 0, 0, 0], 0), None);
    // The shared sweep deletes them once no check can read them.
    assert!(!is_expired(&counter, 1_000_079) && is_expired(&counter, 1_000_080));
    assert!(!is_expired(&next, 1_000_199) && is_expired(&next, 1_000_200));
    assert!(config.is_failure(401) && config.is_failure(403) && !config.is_failure(500));
    assert!(is_success(204) && !is_success(302) && !is_success(401));
}

#[test]
fn answers() {
    let config = LockoutConfig {
        status: 423,
        ..LockoutConfig::default()
    };
    let denial = locked_denial(&config, 7);
    assert_eq!(denial.status, 423);
    assert_eq!(
        denial.body,
        r#"{"error":{"code":"LOGIN_LOCKED","message":"Too many failed login attempts. Try again in 7 seconds.","retryAfter":7}}"#
    );
    for (refusal, status, body) in [
        (LoginRefusal::Ambiguous, 400, AMBIGUOUS_BODY),
        (LoginRefusal::TooLarge, 413, TOO_LARGE_BODY),
        (LoginRefusal::TimedOut, 408, TIMED_OUT_BODY),
    ] {
        let denial = crate::base::denial::Denial::from(refusal);
        assert_eq!((denial.status, denial.body.as_str()), (status, body));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["error"]["code"].is_string() && v["error"]["message"].is_string());
    }
}
