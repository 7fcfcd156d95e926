//! How long a fetched document may be kept, from its `Cache-Control`
//! response header (RFC 9111 §5.2): the JWKS fetched from a `jwks_url`
//! is kept in key-value for that long, clamped by the caller.
//!
//! [`max_age`] reads the field value (all `Cache-Control` lines joined with
//! `, `, as RFC 9110 §5.3 allows) and answers:
//! - `Some(0)` for `no-store` or `no-cache` anywhere in the value (the
//!   document must not be reused without asking again): the caller keeps it
//!   for its minimum;
//! - `Some(n)` for one `max-age=n` (the token form of RFC 9111 §1.2.2:
//!   ASCII digits only, a value past `u64` saturates, as §1.2.2 asks);
//! - `None` when there is no usable freshness: no `max-age`, a quoted
//!   `max-age="60"` (§5.2: a sender must use the token form, and a
//!   recipient is free to refuse the quoted one; we do), an empty or
//!   non-numeric value, or **two `max-age` directives that disagree**
//!   (§4.2.1 leaves conflicting directives to the cache; treating the
//!   document as carrying no lifetime, so the caller's default applies, is
//!   the choice that never extends a lifetime an attacker could inflate).
//!   Two equal `max-age` directives count as one.
//!
//! Directive names are case-insensitive; `s-maxage` (a shared-cache
//! directive) and every other directive are ignored. Pure: no I/O.

/// The freshness lifetime, in seconds, that `cache_control` grants; see the
/// module documentation for each case.
pub fn max_age(cache_control: &str) -> Option<u64> {
    let mut found: Option<u64> = None;
    let mut conflict = false;
    let mut refuse_reuse = false;
    for directive in split_directives(cache_control) {
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (directive.trim(), None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            refuse_reuse = true;
        } else if name.eq_ignore_ascii_case("max-age") {
            match value.and_then(delta_seconds) {
                Some(seconds) => match found {
                    Some(earlier) if earlier != seconds => conflict = true,
                    _ => found = Some(seconds),
                },
                None => conflict = true,
            }
        }
    }
    if refuse_reuse {
        Some(0)
    } else if conflict {
        None
    } else {
        found
    }
}

/// The directives of a `Cache-Control` value, split on commas outside
/// quoted strings (a quoted value may hold a comma, e.g. `no-cache="a, b"`).
fn split_directives(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
        } else if c == '"' {
            quoted = true;
        } else if c == ',' {
            out.push(&value[start..i]);
            start = i + 1;
        }
    }
    out.push(&value[start..]);
    out.into_iter().filter(|d| !d.trim().is_empty()).collect()
}

/// RFC 9111 §1.2.2 `delta-seconds = 1*DIGIT`, saturating at `u64::MAX`.
fn delta_seconds(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse::<u64>().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::max_age;

    #[test]
    fn reads_max_age() {
        assert_eq!(max_age("max-age=300"), Some(300));
        assert_eq!(max_age("public, max-age=600, must-revalidate"), Some(600));
        assert_eq!(max_age("MAX-AGE=7"), Some(7));
        assert_eq!(max_age(" max-age = 12 "), Some(12));
        assert_eq!(max_age("max-age=0"), Some(0));
    }

    #[test]
    fn no_lifetime_without_max_age() {
        assert_eq!(max_age(""), None);
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("s-maxage=60"), None);
        assert_eq!(max_age("private, must-revalidate"), None);
    }

    #[test]
    fn no_store_and_no_cache_mean_zero() {
        assert_eq!(max_age("no-store"), Some(0));
        assert_eq!(max_age("max-age=600, no-cache"), Some(0));
        assert_eq!(max_age("No-Store, max-age=600"), Some(0));
        assert_eq!(max_age(r#"no-cache="set-cookie, x", max-age=60"#), Some(0));
    }

    #[test]
    fn refuses_quoted_and_malformed_values() {
        assert_eq!(max_age(r#"max-age="60""#), None);
        assert_eq!(max_age("max-age="), None);
        assert_eq!(max_age("max-age"), None);
        assert_eq!(max_age("max-age=-1"), None);
        assert_eq!(max_age("max-age=1.5"), None);
        assert_eq!(max_age("max-age=+5"), None);
        assert_eq!(max_age("max-age=6O"), None);
    }

    #[test]
    fn conflicting_duplicates_give_no_lifetime() {
        assert_eq!(max_age("max-age=60, max-age=3600"), None);
        assert_eq!(max_age("max-age=60, max-age=\"60\""), None);
        assert_eq!(max_age("max-age=60, max-age=60"), Some(60));
    }

    #[test]
    fn saturates_huge_values() {
        assert_eq!(max_age("max-age=99999999999999999999999"), Some(u64::MAX));
    }

    #[test]
    fn commas_inside_quotes_do_not_split() {
        assert_eq!(max_age(r#"private="a,max-age=5", max-age=9"#), Some(9));
    }
}
