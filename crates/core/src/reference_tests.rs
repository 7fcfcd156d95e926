//! `docs/reference.md` documents every key the policy parser accepts, and no
//! key it refuses. The key lists are the parsers' own (the lists their
//! unknown-field checks use), so a key added to a parser without a row in
//! the reference fails here.

use crate::layers::api_key::config as api_keys;
use crate::layers::body::config as body;
use crate::layers::cors;
use crate::layers::csrf::config as csrf;
use crate::layers::idempotency::config as idempotency;
use crate::layers::jwt::config as jwt;
use crate::layers::lockout::config as lockout;
use crate::layers::rate_limit::parse as rate_limit_parse;
use crate::layers::security_headers::{HeaderKey, parse as headers};
use crate::layers::session::config as session;
use crate::layers::signature::config as worker;
use crate::policy::{parse, ready, security_events, stores};

const REFERENCE: &str = include_str!("../../../docs/reference.md");

/// Each section of the reference (its exact heading line) and the keys the
/// parser accepts there.
fn sections() -> Vec<(&'static str, Vec<&'static str>)> {
    let (session_fields, user_fields) = session::column_keys();
    let header_keys = HeaderKey::ALL
        .iter()
        .map(HeaderKey::key)
        .chain(headers::OTHER_FIELDS.iter().copied())
        .collect();
    vec![
        ("## Top level", parse::top_fields()),
        ("## `[settings]`", parse::SETTINGS_FIELDS.to_vec()),
        ("### `[settings] ready` as a table", ready::FIELDS.to_vec()),
        ("## `[[routes]]`", parse::route_fields()),
        (
            "### A route's `rate_limit` as a table",
            rate_limit_parse::RATE_LIMIT_FIELDS.to_vec(),
        ),
        (
            "### `rate_limit.limits` (each quota)",
            rate_limit_parse::QUOTA_FIELDS.to_vec(),
        ),
        (
            "### `rate_limit.deny`",
            rate_limit_parse::DENY_FIELDS.to_vec(),
        ),
        (
            "### `rate_limit.skip_if`",
            rate_limit_parse::SKIP_IF_FIELDS.to_vec(),
        ),
        (
            "## `[rate_limit]`",
            rate_limit_parse::SETTINGS_FIELDS.to_vec(),
        ),
        (
            "### `[rate_limit] client_ip` as a table",
            rate_limit_parse::CLIENT_IP_FIELDS.to_vec(),
        ),
        (
            "### `[rate_limit] approximate`",
            rate_limit_parse::APPROXIMATE_FIELDS.to_vec(),
        ),
        ("## `[headers]`", header_keys),
        (
            "### `headers.content_security_policy`",
            headers::CSP_FIELDS.to_vec(),
        ),
        (
            "### `headers.strict_transport_security`",
            headers::HSTS_FIELDS.to_vec(),
        ),
        ("## `[cors]`", cors::FIELDS.to_vec()),
        ("## `[stores]`", stores::FIELDS.to_vec()),
        (
            "### `[stores.key_value]` and `[stores.sqlite]`",
            stores::STORE_FIELDS.to_vec(),
        ),
        (
            "### `stores.<store>.breaker`",
            stores::BREAKER_FIELDS.to_vec(),
        ),
        ("## `[session]`", session::FIELDS.to_vec()),
        ("### `[session.session_fields]`", session_fields),
        ("### `[session.user_fields]`", user_fields),
        ("## `[worker]`", worker::FIELDS.to_vec()),
        ("## `[api_keys]`", api_keys::FIELDS.to_vec()),
        (
            "### A route's `worker` as a table",
            worker::ROUTE_FIELDS.to_vec(),
        ),
        ("## `[jwt]`", jwt::FIELDS.to_vec()),
        ("### A route's `jwt` as a table", jwt::ROUTE_FIELDS.to_vec()),
        ("## `[body]`", body::FIELDS.to_vec()),
        ("### `body.json` as a table", body::JSON_FIELDS.to_vec()),
        ("## `[idempotency]`", idempotency::FIELDS.to_vec()),
        ("### A route's `csrf` as a table", csrf::FIELDS.to_vec()),
        ("## `[lockout]`", lockout::FIELDS.to_vec()),
        ("## `[security_events]`", security_events::FIELDS.to_vec()),
    ]
}

/// The keys of the table rows (`` | `key` | … ``) under `heading`, up to the
/// next heading; `None` when the heading is missing.
fn documented_keys(doc: &str, heading: &str) -> Option<Vec<String>> {
    let mut lines = doc.lines();
    lines.by_ref().find(|line| *line == heading)?;
    Some(
        lines
            .take_while(|line| !line.starts_with('#'))
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split_once('`').map(|(key, _)| key.to_string()))
            .collect(),
    )
}

#[test]
fn docs_reference_lists_every_policy_key() {
    let mut problems = Vec::new();
    for (heading, keys) in sections() {
        let Some(documented) = documented_keys(REFERENCE, heading) else {
            problems.push(format!("missing section {heading:?}"));
            continue;
        };
        for key in &keys {
            if !documented.iter().any(|d| d == key) {
                problems.push(format!("{heading}: no row for `{key}`"));
            }
        }
        for key in &documented {
            if !keys.contains(&key.as_str()) {
                problems.push(format!(
                    "{heading}: row for `{key}`, which the parser refuses"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "docs/reference.md is out of date:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_reference_check_notices_a_missing_row() {
    let trimmed: String = REFERENCE
        .lines()
        .filter(|line| !line.starts_with("| `max_header_bytes` |"))
        .map(|line| format!("{line}\n"))
        .collect();
    let documented = documented_keys(&trimmed, "## `[settings]`").unwrap();
    assert!(!documented.iter().any(|k| k == "max_header_bytes"));
    assert!(documented.iter().any(|k| k == "response_buffer_limit"));
}
