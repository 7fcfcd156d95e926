//! Small helpers for reading policy tables by hand, shared by every section
//! parser (routes, rate limits, security headers, CORS, worker signatures).
//! Every helper reports its problem with the full field path and carries on,
//! so one pass finds every problem. The parsers call them from hundreds of
//! places, so they are kept out of line (`#[inline(never)]`): one copy in the
//! component instead of one per call.

use toml::{Table, Value};

use crate::base::problem::ConfigProblem;

#[inline(never)]
pub(crate) fn add(
    problems: &mut Vec<ConfigProblem>,
    field: impl Into<String>,
    message: impl Into<String>,
) {
    problems.push(ConfigProblem::new(field, message));
}

pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

#[inline(never)]
pub(crate) fn wrong_type(
    problems: &mut Vec<ConfigProblem>,
    field: impl Into<String>,
    expected: &str,
    found: &Value,
) {
    add(
        problems,
        field,
        format!("must be {expected}, found {}", type_name(found)),
    );
}

#[inline(never)]
pub(crate) fn unknown_fields(
    problems: &mut Vec<ConfigProblem>,
    table: &Table,
    prefix: &str,
    allowed: &[&str],
) {
    for key in table.keys() {
        if !allowed.contains(&key.as_str()) {
            add(
                problems,
                format!("{prefix}{key}"),
                format!("unknown field; expected one of: {}", allowed.join(", ")),
            );
        }
    }
}

#[inline(never)]
pub(crate) fn boolean(
    problems: &mut Vec<ConfigProblem>,
    field: &str,
    value: &Value,
) -> Option<bool> {
    match value {
        Value::Boolean(b) => Some(*b),
        other => {
            wrong_type(problems, field, "true or false", other);
            None
        }
    }
}

/// An integer within `min..=max`, or a problem.
#[inline(never)]
pub(crate) fn integer(
    problems: &mut Vec<ConfigProblem>,
    field: &str,
    value: &Value,
    min: i64,
    max: i64,
) -> Option<i64> {
    match value {
        Value::Integer(n) if (min..=max).contains(n) => Some(*n),
        Value::Integer(_) => {
            add(problems, field, format!("must be between {min} and {max}"));
            None
        }
        other => {
            wrong_type(problems, field, "an integer", other);
            None
        }
    }
}

/// A list of strings, each checked by `check`; problems name the element.
pub(crate) fn strings<T>(
    problems: &mut Vec<ConfigProblem>,
    field: &str,
    value: &Value,
    mut check: impl FnMut(&str) -> Result<T, String>,
) -> Option<Vec<T>> {
    let Value::Array(items) = value else {
        wrong_type(problems, field, "an array of strings", value);
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (k, item) in items.iter().enumerate() {
        let element = format!("{field}[{k}]");
        match item {
            Value::String(s) => match check(s) {
                Ok(v) => out.push(v),
                Err(message) => {
                    add(problems, element, message);
                    ok = false;
                }
            },
            other => {
                wrong_type(problems, element, "a string", other);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// RFC 9110 §5.6.2 `tchar`: the bytes of a token (header names, methods).
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An RFC 9110 token (`tchar`s only, at least one): header and method names.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// A value quoted for a message, with control characters escaped so that a
/// problem always stays on one line.
pub(crate) fn quoted(s: &str) -> String {
    format!("{s:?}")
}

/// The problem list being built, with helpers for the common messages:
/// what every section parser writes its problems to.
#[derive(Default)]
pub struct Problems(pub Vec<ConfigProblem>);

impl Problems {
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        add(&mut self.0, field, message);
    }

    pub(crate) fn wrong_type(&mut self, field: impl Into<String>, expected: &str, found: &Value) {
        wrong_type(&mut self.0, field, expected, found);
    }

    pub(crate) fn unknown_fields(&mut self, table: &Table, prefix: &str, allowed: &[&str]) {
        unknown_fields(&mut self.0, table, prefix, allowed);
    }

    /// An integer within `min..=max`, or a problem.
    pub(crate) fn integer(
        &mut self,
        field: &str,
        value: &Value,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        integer(&mut self.0, field, value, min, max)
    }

    /// One of `choices` (a string), or a problem naming them.
    pub(crate) fn choice<'c>(
        &mut self,
        field: &str,
        value: &Value,
        choices: &[&'c str],
    ) -> Option<&'c str> {
        let Some(text) = value.as_str() else {
            self.wrong_type(field, "a string", value);
            return None;
        };
        let found = choices.iter().find(|c| **c == text).copied();
        if found.is_none() {
            let quoted: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
            self.add(field, format!("must be {}", quoted.join(" or ")));
        }
        found
    }

    /// A duration string such as `"15m"` ([`parse_duration`]) within
    /// `min..=max` seconds, or a problem. (Some older sections also take
    /// plain integer seconds, with their own readers.)
    pub(crate) fn duration(
        &mut self,
        field: &str,
        value: &Value,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let Some(text) = value.as_str() else {
            self.wrong_type(field, "a duration such as \"15m\"", value);
            return None;
        };
        match parse_duration(text) {
            Ok(secs) if (min..=max).contains(&secs) => Some(secs),
            Ok(_) => {
                self.add(field, format!("must be between {min}s and {max}s"));
                None
            }
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    /// A list of strings, each checked by `check`; problems name the element.
    pub(crate) fn strings<T>(
        &mut self,
        field: &str,
        value: &Value,
        check: impl FnMut(&str) -> Result<T, String>,
    ) -> Option<Vec<T>> {
        strings(&mut self.0, field, value, check)
    }
}

/// Parses a duration such as `30s`, `15m`, `1h` or `1d` into whole seconds.
///
/// Strict on purpose: digits then exactly one unit, no sign, no spaces, no
/// fractions, at least one second, no overflow. A typo in a security limit
/// should stop the deployment, not become a different limit.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    const SHAPE: &str = "expected a whole number followed by s, m, h or d, like \"15m\"";
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    if number.is_empty() {
        return Err(SHAPE.to_string());
    }
    let multiplier = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "" => return Err(format!("missing unit; {SHAPE}")),
        _ => return Err(format!("unknown unit; {SHAPE}")),
    };
    let seconds = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| "is too large".to_string())?;
    if seconds == 0 {
        return Err("must be at least 1 second".to_string());
    }
    Ok(seconds)
}

/// Parses a duration in milliseconds: `ms` besides [`parse_duration`]'s
/// units (`"300ms"`, `"30s"`, `"2m"`), with the same strictness; at least
/// 1 ms.
pub fn parse_duration_ms(s: &str) -> Result<u64, String> {
    const SHAPE: &str = "expected a whole number followed by ms, s, m, h or d, like \"30s\"";
    if let Some(number) = s.strip_suffix("ms") {
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SHAPE.to_string());
        }
        return match number.parse::<u64>() {
            Ok(0) => Err("must be at least 1 millisecond".to_string()),
            Ok(ms) => Ok(ms),
            Err(_) => Err("is too large".to_string()),
        };
    }
    let seconds = parse_duration(s).map_err(|e| {
        if e.contains("expected") {
            e.replace(
                "s, m, h or d, like \"15m\"",
                "ms, s, m, h or d, like \"30s\"",
            )
        } else {
            e
        }
    })?;
    seconds
        .checked_mul(1000)
        .ok_or_else(|| "is too large".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_milliseconds() {
        assert_eq!(parse_duration_ms("300ms"), Ok(300));
        assert_eq!(parse_duration_ms("1ms"), Ok(1));
        assert_eq!(parse_duration_ms("30s"), Ok(30_000));
        assert_eq!(parse_duration_ms("2m"), Ok(120_000));
        for bad in [
            "", "0ms", "ms", "-1ms", "1.5ms", "5 ms", "5", "5MS", "0s", "1w",
        ] {
            assert!(parse_duration_ms(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            parse_duration_ms("5"),
            Err(
                "missing unit; expected a whole number followed by ms, s, m, h or d, like \"30s\""
                    .into()
            )
        );
        assert_eq!(
            parse_duration_ms("99999999999999999999ms"),
            Err("is too large".into())
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s"), Ok(1));
        assert_eq!(parse_duration("30s"), Ok(30));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("1h"), Ok(3_600));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert_eq!(parse_duration("30d"), Ok(30 * 86_400));
        assert_eq!(parse_duration("007s"), Ok(7));
    }

    #[test]
    fn bad_durations() {
        for bad in [
            "", "0s", "0m", "00d", "-5s", "+5s", "5", "s", "5x", "5 s", " 5s", "5s ", "5ms",
            "1.5h", "5S", "1w", "١s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            parse_duration("18446744073709551616s"),
            Err("is too large".into())
        );
    }
}
