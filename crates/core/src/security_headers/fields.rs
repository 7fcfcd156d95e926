//! Small helpers for reading policy tables by hand, shared by every section
//! parser (routes, rate limits, security headers, CORS, worker signatures).
//! Every helper reports its problem with the full field path and carries on,
//! so one pass finds every problem. The parsers call them from hundreds of
//! places, so they are kept out of line (`#[inline(never)]`): one copy in the
//! component instead of one per call.

use toml::{Table, Value};

use crate::config::ConfigProblem;

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

/// An RFC 9110 token (`tchar`s only, at least one): header and method names.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A value quoted for a message, with control characters escaped so that a
/// problem always stays on one line.
pub(crate) fn quoted(s: &str) -> String {
    format!("{s:?}")
}
