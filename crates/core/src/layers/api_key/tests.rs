//! The layer's tests: every refusal, both row formats and Better Auth's
//! JSON, the hashes against values computed independently (Python's
//! hashlib, and a key Better Auth 1.7.5 itself created and stored), the
//! cache round trip, the throttle and the policy section.

use super::cache::{CacheEntry, cache_key, touch_due};
use super::config::ApiKeyConfig;
use super::extract::{MAX_KEY_LEN, Presented, extract};
use super::hash::{better_auth_hash, hashes_equal, warden_hash};
use super::record::{
    Cell, KeyRecord, Refill, Source, decide, record_from_better_auth_json,
    record_from_better_auth_row, record_from_warden_row,
};
use super::refusal::Refusal;
use super::sql::{BETTER_AUTH_COLUMNS, Lookup, WARDEN_COLUMNS, WARDEN_LOOKUP, lookup_plan};
use super::throttle::{counter_key, is_throttled};
use crate::base::identity::AuthMethod;
use crate::policy::parse_policy;

/// A key Better Auth 1.7.5 created (`auth.api.createApiKey`, prefix `ba_`),
/// and the `key` column it stored.
const BA_KEY: &str = "ba_PzuRQOywOHsSRPZikPslpfhfnnGdXXXqnMvHtvgTdUTgUQyyhKNhBjGkEYWiMFBH";
const BA_STORED: &str = "KonfiqgfWw6lSzlCP6ybip6U-gkoEXPQY9Ykcd4UmCU";

/// A warden key (`wk_` + the hex of bytes 0..32) and, from Python
/// (`hashlib.sha256(k).hexdigest()`, `urlsafe_b64encode(...).rstrip("=")`),
/// its two hashes.
const WK_KEY: &str = "wk_000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const WK_HEX: &str = "2cd1920991ffde554c26aa64915900b302af42d96f47c302940190de342caf7d";
const WK_B64: &str = "LNGSCZH_3lVMJqpkkVkAswKvQtlvR8MClAGQ3jQsr30";

/// 2026-11-27T22:34:11.281Z, when Better Auth created `BA_KEY`.
const CREATED: u64 = 1_795_818_851_281;

fn lines(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect()
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

/// The row Better Auth 1.7.5 wrote for `BA_KEY` (read back with
/// better-sqlite3), in `BETTER_AUTH_LOOKUP`'s column order.
fn better_auth_row() -> Vec<Cell> {
    vec![
        text("iQlREiER2fY8h3feyIv0pkb7PREBNMmf"),
        text(BA_STORED),
        text("g3MQZdcgv5IXTREG8GnZY45DrIJ8HToN"),
        text("ci"),
        text("ba_Pzu"),
        text("ba_"),
        text("default"),
        Cell::Integer(1),
        text("2026-11-28T22:34:11.281Z"),
        Cell::Null,
        Cell::Null,
        Cell::Null,
        Cell::Null,
        text("2026-11-27T22:34:11.281Z"),
        text(r#"{"files":["read","write"]}"#),
        text(r#"{"plan":"pro","tier":"paid"}"#),
        Cell::Null,
    ]
}

/// A row of warden's table, as `warden apikey create` writes it.
fn warden_row() -> Vec<Cell> {
    vec![
        text("k_01"),
        text(WK_HEX),
        text("user-7"),
        text("ci deploys"),
        text("wk_00010"),
        text(r#"["deployer","reader"]"#),
        Cell::Null,
        text("free"),
        text("2026-11-27T22:34:11.281Z"),
        text("2027-02-25T22:34:11.281Z"),
        Cell::Null,
        Cell::Null,
    ]
}

#[test]
fn hashes_match_python_and_better_auth() {
    assert_eq!(warden_hash(WK_KEY), WK_HEX);
    assert_eq!(better_auth_hash(WK_KEY), WK_B64);
    assert_eq!(better_auth_hash(BA_KEY), BA_STORED);
    assert!(hashes_equal(WK_HEX, &warden_hash(WK_KEY)));
    assert!(!hashes_equal(WK_HEX, &warden_hash(BA_KEY)));
    assert!(
        !hashes_equal(WK_HEX, &WK_HEX[..63]),
        "a shorter hash never equals"
    );
}

#[test]
fn extraction_from_the_header_or_bearer() {
    let config = ApiKeyConfig::default();
    let from_header = extract(&config, &lines(&[("X-API-KEY", WK_KEY)]))
        .unwrap()
        .unwrap();
    assert_eq!(from_header.secret(), WK_KEY);
    let bearer = format!("bearer   {WK_KEY} ");
    let from_bearer = extract(&config, &lines(&[("Authorization", &bearer)]))
        .unwrap()
        .unwrap();
    assert_eq!(from_bearer.secret(), WK_KEY);
    // Another Authorization scheme is not a key; bearer off ignores it.
    assert_eq!(
        extract(&config, &lines(&[("authorization", "Basic dXNlcjpwYXNz")])),
        Ok(None)
    );
    let no_bearer = ApiKeyConfig {
        bearer: false,
        ..ApiKeyConfig::default()
    };
    assert_eq!(
        extract(&no_bearer, &lines(&[("authorization", &bearer)])),
        Ok(None)
    );
    // A configured header name.
    let custom = ApiKeyConfig {
        header: "x-key".into(),
        ..ApiKeyConfig::default()
    };
    assert!(
        extract(&custom, &lines(&[("x-key", WK_KEY)]))
            .unwrap()
            .is_some()
    );
    assert_eq!(extract(&custom, &lines(&[("x-api-key", WK_KEY)])), Ok(None));
}

#[test]
fn every_extraction_refusal() {
    let config = ApiKeyConfig::default();
    let refused = |pairs: &[(&str, &str)]| extract(&config, &lines(pairs)).unwrap_err();
    assert_eq!(
        refused(&[("x-api-key", WK_KEY), ("x-api-key", WK_KEY)]),
        Refusal::Conflicting,
        "a repeated header line, even with the same value"
    );
    let other = format!("Bearer {BA_KEY}");
    assert_eq!(
        refused(&[("x-api-key", WK_KEY), ("authorization", &other)]),
        Refusal::Conflicting
    );
    let twice = format!("Bearer {WK_KEY}");
    assert_eq!(
        refused(&[("authorization", &twice), ("authorization", &twice)]),
        Refusal::Conflicting
    );
    let long = "k".repeat(MAX_KEY_LEN + 1);
    assert_eq!(refused(&[("x-api-key", &long)]), Refusal::TooLong);
    assert!(extract(&config, &lines(&[("x-api-key", &"k".repeat(MAX_KEY_LEN))])).is_ok());
    assert_eq!(refused(&[("x-api-key", "short")]), Refusal::TooShort);
    assert_eq!(refused(&[("x-api-key", "")]), Refusal::TooShort);
    assert_eq!(
        refused(&[("x-api-key", "wk_0001 0203040506070809")]),
        Refusal::BadCharacters
    );
    assert_eq!(
        refused(&[("x-api-key", "wk_0001020304050607é")]),
        Refusal::BadCharacters
    );
    let mut bytes = lines(&[("x-api-key", WK_KEY)]);
    bytes[0].1[5] = 0x7f;
    assert_eq!(
        extract(&config, &bytes).unwrap_err(),
        Refusal::BadCharacters
    );
    let prefixed = ApiKeyConfig {
        prefixes: vec!["wk_".into()],
        ..ApiKeyConfig::default()
    };
    assert!(extract(&prefixed, &lines(&[("x-api-key", WK_KEY)])).is_ok());
    assert_eq!(
        extract(&prefixed, &lines(&[("x-api-key", BA_KEY)])).unwrap_err(),
        Refusal::WrongPrefix
    );
    // Every bad key is the same public 401; only the throttle differs.
    for refusal in [
        Refusal::Conflicting,
        Refusal::TooLong,
        Refusal::Unknown,
        Refusal::Revoked,
    ] {
        assert_eq!(refusal.denial().status, 401, "{}", refusal.as_str());
        assert!(refusal.counts_as_failure());
    }
    assert_eq!(Refusal::Throttled.denial().status, 429);
    assert!(!Refusal::Missing.counts_as_failure());
}

#[test]
fn presented_keys_never_show_in_debug() {
    let presented = Presented::new(WK_KEY).unwrap();
    let debug = format!("{presented:?}");
    assert!(!debug.contains(WK_KEY) && !debug.contains(WK_HEX) && !debug.contains(WK_B64));
    assert!(debug.contains("wk_00010"));
    assert_eq!(presented.fingerprint(), &WK_HEX[..8]);
}

#[test]
fn better_auth_row_as_better_auth_wrote_it() {
    let record = record_from_better_auth_row(&better_auth_row()).unwrap();
    assert_eq!(record.source, Source::BetterAuth);
    assert_eq!(record.owner, "g3MQZdcgv5IXTREG8GnZY45DrIJ8HToN");
    assert_eq!(record.display_prefix.as_deref(), Some("ba_Pzu"));
    assert_eq!(record.config_id.as_deref(), Some("default"));
    assert_eq!(record.expires_at, Some(CREATED as i64 + 86_400_000));
    assert_eq!(record.tier.as_deref(), Some("paid"));
    let config = ApiKeyConfig::default();
    let presented = Presented::new(BA_KEY).unwrap();
    let granted = decide(&config, &presented, &record, CREATED + 1000).unwrap();
    assert_eq!(granted.identity.user_id, "g3MQZdcgv5IXTREG8GnZY45DrIJ8HToN");
    assert_eq!(granted.identity.roles, ["files:read", "files:write"]);
    assert_eq!(granted.identity.method, AuthMethod::ApiKey);
    assert_eq!(granted.identity.method.as_str(), "api_key");
    assert_eq!(granted.identity.tier.as_deref(), Some("paid"));
    let plain = ApiKeyConfig {
        permissions_as_roles: false,
        ..ApiKeyConfig::default()
    };
    assert!(
        decide(&plain, &presented, &record, CREATED)
            .unwrap()
            .identity
            .roles
            .is_empty()
    );
    // Expired one millisecond after expiresAt (Better Auth: now > expiresAt).
    let expires = CREATED + 86_400_000;
    assert!(decide(&config, &presented, &record, expires).is_ok());
    assert_eq!(
        decide(&config, &presented, &record, expires + 1),
        Err(Refusal::Expired)
    );
}

#[test]
fn better_auth_rows_refused() {
    let config = ApiKeyConfig::default();
    let presented = Presented::new(BA_KEY).unwrap();
    let with = |i: usize, cell: Cell| {
        let mut row = better_auth_row();
        row[i] = cell;
        row
    };
    let decided = |row: Vec<Cell>| {
        decide(
            &config,
            &presented,
            &record_from_better_auth_row(&row).unwrap(),
            CREATED,
        )
    };
    assert_eq!(decided(with(7, Cell::Integer(0))), Err(Refusal::Disabled));
    assert_eq!(decided(with(7, text("false"))), Err(Refusal::Disabled));
    assert!(
        decided(with(7, Cell::Null)).is_ok(),
        "enabled defaults to true"
    );
    assert_eq!(decided(with(9, Cell::Integer(0))), Err(Refusal::Exhausted));
    assert!(decided(with(9, Cell::Integer(3))).is_ok());
    // Exhausted with a refill: refused until the interval has passed since creation.
    let mut refill = with(9, Cell::Integer(0));
    refill[10] = Cell::Integer(100);
    refill[11] = Cell::Integer(60_000);
    let record = record_from_better_auth_row(&refill).unwrap();
    assert_eq!(
        record.refill,
        Some(Refill {
            amount: 100,
            interval_ms: 60_000,
            last_refill_at: None
        })
    );
    assert_eq!(
        decide(&config, &presented, &record, CREATED + 60_000),
        Err(Refusal::Exhausted)
    );
    assert!(decide(&config, &presented, &record, CREATED + 60_001).is_ok());
    // Another key's row (a hash that does not match) is never trusted.
    assert_eq!(decided(with(1, text(WK_B64))), Err(Refusal::HashMismatch));
    let wrong = Presented::new(WK_KEY).unwrap();
    let record = record_from_better_auth_row(&better_auth_row()).unwrap();
    assert_eq!(
        decide(&config, &wrong, &record, CREATED),
        Err(Refusal::HashMismatch)
    );
    // Integer-millisecond dates (Drizzle) read too.
    let ms = with(8, Cell::Integer(CREATED as i64 - 1));
    assert_eq!(decided(ms), Err(Refusal::Expired));
}

#[test]
fn unreadable_better_auth_rows_name_the_column() {
    let with = |i: usize, cell: Cell| {
        let mut row = better_auth_row();
        row[i] = cell;
        record_from_better_auth_row(&row).unwrap_err().0
    };
    assert_eq!(
        with(8, text("tomorrow")),
        "expiresAt is not an ISO-8601 date"
    );
    assert_eq!(with(7, Cell::Integer(2)), "enabled is not a boolean");
    assert_eq!(with(14, text("{not json")), "permissions is not JSON");
    assert_eq!(
        with(14, text(r#"{"files":"read"}"#)),
        "permissions is not a JSON object of string arrays"
    );
    assert_eq!(
        with(15, text(r#"{"tier":7}"#)),
        "metadata has a tier that is not text"
    );
    assert_eq!(with(2, Cell::Null), "referenceId is missing");
    assert_eq!(
        with(0, text("")),
        "id is not a usable id (1 to 255 bytes, no control characters)"
    );
    assert_eq!(
        with(14, text(r#"{"files":["read all"]}"#)),
        "permissions are not usable names"
    );
    assert_eq!(
        record_from_better_auth_row(&better_auth_row()[..16])
            .unwrap_err()
            .0,
        "row has the wrong number of columns"
    );
    assert_eq!(BETTER_AUTH_COLUMNS.len(), 17);
}

#[test]
fn better_auth_secondary_storage_json() {
    // As the plugin's serializeApiKey writes it: the adapter's record,
    // dates as ISO text, booleans as JSON, metadata an object.
    let json = format!(
        r#"{{"id":"iQlREiER2fY8h3feyIv0pkb7PREBNMmf","configId":"default","name":"ci","start":"ba_Pzu",
        "referenceId":"g3MQZdcgv5IXTREG8GnZY45DrIJ8HToN","prefix":"ba_","key":"{BA_STORED}",
        "refillInterval":null,"refillAmount":null,"lastRefillAt":null,"enabled":true,
        "rateLimitEnabled":true,"rateLimitTimeWindow":86400000,"rateLimitMax":10,"requestCount":0,
        "remaining":null,"lastRequest":null,"expiresAt":"2026-11-28T22:34:11.281Z",
        "createdAt":"2026-11-27T22:34:11.281Z","updatedAt":"2026-11-27T22:34:11.281Z",
        "permissions":"{{\"files\":[\"read\"]}}","metadata":{{"tier":"free"}}}}"#
    );
    let record = record_from_better_auth_json(json.as_bytes()).unwrap();
    let from_row = record_from_better_auth_row(&better_auth_row()).unwrap();
    assert_eq!(record.id, from_row.id);
    assert_eq!(record.stored_hash, from_row.stored_hash);
    assert_eq!(record.expires_at, from_row.expires_at);
    assert_eq!(record.tier.as_deref(), Some("free"));
    let config = ApiKeyConfig::default();
    let presented = Presented::new(BA_KEY).unwrap();
    let granted = decide(&config, &presented, &record, CREATED).unwrap();
    assert_eq!(granted.identity.roles, ["files:read"]);
    // Older records name the owner userId; double-stringified metadata reads through.
    let old = json.replace("\"referenceId\"", "\"userId\"").replace(
        r#""metadata":{"tier":"free"}"#,
        r#""metadata":"{\"tier\":\"free\"}""#,
    );
    let record = record_from_better_auth_json(old.as_bytes()).unwrap();
    assert_eq!(record.owner, "g3MQZdcgv5IXTREG8GnZY45DrIJ8HToN");
    assert_eq!(record.tier.as_deref(), Some("free"));
    let disabled = json.replace("\"enabled\":true", "\"enabled\":false");
    let record = record_from_better_auth_json(disabled.as_bytes()).unwrap();
    assert_eq!(
        decide(&config, &presented, &record, CREATED),
        Err(Refusal::Disabled)
    );
    for (bad, problem) in [
        ("[]", "value is not a JSON object"),
        ("nope", "value is not JSON"),
        (r#"{"id":"a","key":"b"}"#, "referenceId is missing"),
        (
            r#"{"id":"a","referenceId":"u","key":"b","expiresAt":"soon"}"#,
            "expiresAt is not an ISO-8601 date",
        ),
    ] {
        assert_eq!(
            record_from_better_auth_json(bad.as_bytes()).unwrap_err().0,
            problem
        );
    }
}

#[test]
fn warden_row_and_its_refusals() {
    let record = record_from_warden_row(&warden_row()).unwrap();
    assert_eq!(record.source, Source::Warden);
    let config = ApiKeyConfig::default();
    let presented = Presented::new(WK_KEY).unwrap();
    let granted = decide(&config, &presented, &record, CREATED).unwrap();
    assert_eq!(granted.identity.user_id, "user-7");
    assert_eq!(granted.identity.roles, ["deployer", "reader"]);
    assert_eq!(granted.identity.tier.as_deref(), Some("free"));
    assert_eq!(granted.key_id, "k_01");
    let with = |i: usize, cell: Cell| {
        let mut row = warden_row();
        row[i] = cell;
        record_from_warden_row(&row)
    };
    let revoked = with(10, text("2026-11-27T23:00:00.000Z")).unwrap();
    assert_eq!(
        decide(&config, &presented, &revoked, CREATED),
        Err(Refusal::Revoked)
    );
    let expired = with(9, text("2026-11-27T22:34:11.280Z")).unwrap();
    assert_eq!(
        decide(&config, &presented, &expired, CREATED),
        Err(Refusal::Expired)
    );
    // Permissions in the warden table map like Better Auth's.
    let permitted = with(6, text(r#"{"files":["read"],"reports":["export"]}"#)).unwrap();
    assert_eq!(
        decide(&config, &presented, &permitted, CREATED)
            .unwrap()
            .identity
            .roles,
        ["deployer", "reader", "files:read", "reports:export"]
    );
    assert_eq!(
        with(5, text(r#"{"a":1}"#)).unwrap_err().0,
        "roles is not a JSON array of strings"
    );
    assert_eq!(
        with(5, text(r#"["has space"]"#)).unwrap_err().0,
        "roles are not usable role names"
    );
    assert_eq!(with(1, Cell::Null).unwrap_err().0, "key_hash is missing");
    assert_eq!(with(7, Cell::Integer(3)).unwrap_err().0, "tier is not text");
    // A Better Auth hash in warden's table is a mismatch, not a match.
    let other = with(1, text(WK_B64)).unwrap();
    assert_eq!(
        decide(&config, &presented, &other, CREATED),
        Err(Refusal::HashMismatch)
    );
    assert_eq!(WARDEN_COLUMNS.len(), warden_row().len());
}

#[test]
fn the_lookup_plan_follows_the_stores() {
    let presented = Presented::new(WK_KEY).unwrap();
    let only_warden = ApiKeyConfig {
        better_auth: false,
        ..ApiKeyConfig::default()
    };
    assert_eq!(
        lookup_plan(&only_warden, &presented),
        [Lookup::Sql {
            sql: WARDEN_LOOKUP,
            param: WK_HEX.into()
        }]
    );
    let only_kv = ApiKeyConfig {
        better_auth: false,
        warden_table: false,
        secondary_storage: true,
        ..ApiKeyConfig::default()
    };
    assert_eq!(
        lookup_plan(&only_kv, &presented),
        [Lookup::KeyValue {
            key: format!("api-key:{WK_B64}")
        }]
    );
    let plan = lookup_plan(&ApiKeyConfig::default(), &presented);
    assert_eq!(plan.len(), 2);
    assert_eq!(plan[0].source(), Source::Warden);
    assert_eq!(plan[1].source(), Source::BetterAuth);
    assert!(plan[0].read_row(&warden_row()).is_ok());
    assert!(plan[1].read_row(&better_auth_row()).is_ok());
    // The key never appears in a statement or a parameter.
    for lookup in plan {
        assert!(!format!("{lookup:?}").contains(WK_KEY));
    }
}

#[test]
fn cache_round_trip_freshness_and_keys() {
    let presented = Presented::new(WK_KEY).unwrap();
    assert_eq!(cache_key(&presented), format!("warden:apikey:{WK_HEX}"));
    let config = ApiKeyConfig::default();
    let record = record_from_warden_row(&warden_row()).unwrap();
    let entry = CacheEntry::Found {
        cached_at: CREATED as i64,
        record: Box::new(record.clone()),
    };
    let bytes = entry.to_bytes();
    assert!(!String::from_utf8_lossy(&bytes).contains(WK_KEY));
    assert_eq!(CacheEntry::from_slice(&bytes), Ok(entry.clone()));
    assert!(entry.is_fresh(&config, CREATED));
    assert!(entry.is_fresh(&config, CREATED + 59_999));
    assert!(!entry.is_fresh(&config, CREATED + 60_000));
    assert!(
        !entry.is_fresh(&config, CREATED - 1),
        "an entry from the future is stale"
    );
    assert_eq!(entry.ttl_secs(&config), 60);
    let unknown = CacheEntry::Unknown {
        cached_at: CREATED as i64,
    };
    assert_eq!(
        CacheEntry::from_slice(&unknown.to_bytes()),
        Ok(unknown.clone())
    );
    assert!(!unknown.is_fresh(&config, CREATED + 10_000));
    assert!(CacheEntry::caches_unknown(&config));
    let no_negative = ApiKeyConfig {
        negative_cache_ttl_secs: 0,
        ..ApiKeyConfig::default()
    };
    assert!(!CacheEntry::caches_unknown(&no_negative));
    // A cached record is outside input: checked again.
    let tampered = String::from_utf8(bytes).unwrap().replace("user-7", "");
    assert!(CacheEntry::from_slice(tampered.as_bytes()).is_err());
    assert!(CacheEntry::from_slice(b"{\"kind\":\"found\"}").is_err());
    assert!(CacheEntry::from_slice(b"\xff").is_err());
    // A cached revoked key is still refused.
    let mut revoked = record;
    revoked.revoked_at = Some(CREATED as i64);
    let entry = CacheEntry::Found {
        cached_at: CREATED as i64,
        record: Box::new(revoked),
    };
    let CacheEntry::Found { record, .. } = CacheEntry::from_slice(&entry.to_bytes()).unwrap()
    else {
        panic!("found");
    };
    assert_eq!(
        decide(&config, &presented, &record, CREATED),
        Err(Refusal::Revoked)
    );
}

#[test]
fn last_used_is_written_at_most_once_per_interval() {
    let record = record_from_warden_row(&warden_row()).unwrap();
    assert!(
        !touch_due(&ApiKeyConfig::default(), &record, CREATED),
        "off by default"
    );
    let config = ApiKeyConfig {
        last_used_interval_secs: Some(900),
        ..ApiKeyConfig::default()
    };
    assert!(touch_due(&config, &record, CREATED), "never used");
    let mut used = record.clone();
    used.last_used_at = Some(CREATED as i64);
    assert!(!touch_due(&config, &used, CREATED + 899_999));
    assert!(touch_due(&config, &used, CREATED + 900_000));
    let better_auth = record_from_better_auth_row(&better_auth_row()).unwrap();
    assert!(
        !touch_due(&config, &better_auth, CREATED),
        "Better Auth's lastRequest is its own"
    );
}

#[test]
fn failed_attempts_throttle_an_address() {
    let config = ApiKeyConfig::default();
    let now = 1_795_963_429_629;
    assert_eq!(
        counter_key(&config, None, now).as_deref(),
        Some("warden:fail:unknown:300:1795963200")
    );
    assert_eq!(
        counter_key(&config, Some("2001:db8::1"), now + 300_000).as_deref(),
        Some("warden:fail:2001:db8::1:300:1795963500")
    );
    assert!(!is_throttled(&config, 0));
    assert!(is_throttled(&config, 20));
    let off = ApiKeyConfig {
        failure_limit: 0,
        ..ApiKeyConfig::default()
    };
    assert_eq!(counter_key(&off, Some("1.2.3.4"), now), None);
    assert!(!is_throttled(&off, 1_000_000));
}

#[test]
fn the_policy_section_and_every_problem() {
    let policy = parse_policy(
        "[[routes]]\nname = \"k\"\npath = \"/api/keys/*\"\nauth = \"api_key\"\nroles = [\"files:read\"]\n",
    )
    .unwrap();
    assert_eq!(policy.sections.api_keys, ApiKeyConfig::default());
    assert!(policy.stores_used().sqlite && policy.stores_used().key_value);
    let problems = parse_policy(
        r#"
        [api_keys]
        header = "authorization"
        bearer = "yes"
        prefixes = ["", "wk_"]
        cache_ttl = "0s"
        negative_cache_ttl = -1
        failure_limit = 1000000
        failure_window = "2d"
        last_used_interval = "10s"
        colour = "blue"

        [[routes]]
        name = "k"
        path = "/k"
        auth = "api_key"
        "#,
    )
    .unwrap_err()
    .iter()
    .map(|p| p.to_string())
    .collect::<Vec<_>>()
    .join("\n");
    for field in [
        "api_keys.header",
        "api_keys.bearer",
        "api_keys.prefixes[0]",
        "api_keys.cache_ttl",
        "api_keys.negative_cache_ttl",
        "api_keys.failure_limit",
        "api_keys.failure_window",
        "api_keys.last_used_interval",
        "api_keys.colour",
    ] {
        assert!(
            problems.contains(field),
            "{field} not named in:\n{problems}"
        );
    }
    let no_store = parse_policy(
        "[api_keys]\nbetter_auth = false\nwarden_table = false\n[[routes]]\nname = \"k\"\npath = \"/k\"\nauth = \"api_key\"\n",
    )
    .unwrap_err()
    .iter()
    .map(|p| p.to_string())
    .collect::<Vec<_>>()
    .join("\n");
    assert!(no_store.contains("needs a store"), "{no_store}");
    let off = parse_policy(
        "[api_keys]\ncache = false\nfailure_limit = 0\nwarden_table = false\n[[routes]]\nname = \"k\"\npath = \"/k\"\nauth = \"api_key\"\nrate_limit = \"off\"\n",
    )
    .unwrap();
    assert!(off.stores_used().sqlite && !off.stores_used().key_value);
    let last_used = parse_policy(
        "[api_keys]\nlast_used_interval = \"15m\"\n[[routes]]\nname = \"k\"\npath = \"/k\"\n",
    )
    .unwrap();
    assert_eq!(
        last_used.sections.api_keys.last_used_interval_secs,
        Some(900)
    );
}

#[test]
fn a_record_built_by_hand_decides_like_a_read_one() {
    let presented = Presented::new(WK_KEY).unwrap();
    let mut record = KeyRecord::new(Source::Warden, "k", WK_HEX, "u");
    record.roles = vec!["a".into(), "a".into()];
    let granted = decide(&ApiKeyConfig::default(), &presented, &record, 0).unwrap();
    assert_eq!(granted.identity.roles, ["a"], "duplicates collapse");
}

#[test]
fn a_secondary_storage_value_better_auth_wrote() {
    // Better Auth 1.7.5 with `apiKey({ storage: "secondary-storage" })`:
    // the key it returned, and the value it stored under `api-key:<hash>`.
    let key = "OYXqgNAftmXcAUULrLjNNQqfOJhdbpDcBPMHJnBUZVbtZwOSFxYBDiLSqHumCXeV";
    let stored = r#"{"configId":"default","createdAt":"2026-11-27T22:45:44.026Z","updatedAt":"2026-11-27T22:45:44.026Z","name":"ci","prefix":null,"start":"OYXqgN","key":"TWX88tSrI57puKARh5Gx9aYDPQRy66B3lbMufZQAXcg","enabled":true,"expiresAt":null,"referenceId":"QYiS7PR91OBXSYApcPsapvyxHQULpSw2","lastRefillAt":null,"lastRequest":null,"metadata":{"tier":"free"},"rateLimitMax":10,"rateLimitTimeWindow":86400000,"remaining":null,"refillAmount":null,"refillInterval":null,"rateLimitEnabled":true,"requestCount":0,"permissions":"{\"files\":[\"read\"]}","id":"w23v595WFJHS6uiRhlmJHveE6nK29kfP"}"#;
    let presented = Presented::new(key).unwrap();
    let config = ApiKeyConfig {
        secondary_storage: true,
        ..ApiKeyConfig::default()
    };
    assert!(
        lookup_plan(&config, &presented).contains(&Lookup::KeyValue {
            key: "api-key:TWX88tSrI57puKARh5Gx9aYDPQRy66B3lbMufZQAXcg".into()
        })
    );
    let record = record_from_better_auth_json(stored.as_bytes()).unwrap();
    let granted = decide(&config, &presented, &record, CREATED + 200_000_000).unwrap();
    assert_eq!(granted.identity.user_id, "QYiS7PR91OBXSYApcPsapvyxHQULpSw2");
    assert_eq!(granted.identity.roles, ["files:read"]);
    assert_eq!(granted.identity.tier.as_deref(), Some("free"));
}
