//! Structured security log lines.
//!
//! ```
//! use serde_json::json;
//! use warden_core::base::log::event;
//!
//! let line = event("rate_limited", &[("route", json!("login")), ("retry_after", json!(42))]);
//! assert_eq!(line, r#"{"event":"rate_limited","route":"login","retry_after":42}"#);
//! ```
//!
//! One JSON object per line, `event` first, fields in the order given, so logs
//! can be grepped by eye and parsed by machine. JSON escaping keeps newlines in
//! client data from forging extra lines. Fields whose name suggests a credential
//! are redacted here as a last line of defence; callers should not pass them.

use serde_json::Value;

/// Name fragments of fields whose value is replaced by `[redacted]`.
const SENSITIVE: &[&str] = &[
    "authorization",
    "cookie",
    "password",
    "secret",
    "token",
    "signature",
    "api_key",
    "apikey",
];

/// One JSON log line `{"event":kind, ...fields}`, without a trailing newline.
///
/// A field named `event`, or repeating an earlier name, is dropped so the line
/// stays valid, unambiguous JSON.
pub fn event(kind: &str, fields: &[(&str, Value)]) -> String {
    let mut line = String::from("{\"event\":");
    line.push_str(&json(&Value::from(kind)));
    let mut seen: Vec<&str> = vec!["event"];
    for (name, value) in fields {
        if seen.contains(name) {
            continue;
        }
        seen.push(name);
        line.push(',');
        line.push_str(&json(&Value::from(*name)));
        line.push(':');
        if is_sensitive(name) {
            line.push_str("\"[redacted]\"");
        } else {
            line.push_str(&json(value));
        }
    }
    line.push('}');
    line
}

/// `value` as compact JSON text: what its `Display` writes.
///
/// One serializer for every JSON text warden writes (`Display` would add a
/// second one, and a pretty printer, to the component).
pub fn json(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn is_sensitive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SENSITIVE.iter().any(|s| name.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shape_and_order() {
        assert_eq!(event("start", &[]), r#"{"event":"start"}"#);
        let line = event(
            "denied",
            &[
                ("zeta", json!(1)),
                ("alpha", json!({"b": [1, null]})),
                ("ok", json!(false)),
            ],
        );
        assert_eq!(
            line,
            r#"{"event":"denied","zeta":1,"alpha":{"b":[1,null]},"ok":false}"#
        );
        let parsed: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        assert_eq!(parsed["event"], "denied");
    }

    #[test]
    fn escaping_keeps_one_line() {
        let line = event(
            "bad\"kind\n",
            &[
                ("path", json!("/a\n{\"event\":\"forged\"}")),
                ("we\"ird", json!(1)),
            ],
        );
        assert!(!line.contains('\n'));
        let parsed: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        assert_eq!(parsed["event"], "bad\"kind\n");
        assert_eq!(parsed["path"], "/a\n{\"event\":\"forged\"}");
        assert_eq!(parsed["we\"ird"], 1);
    }

    #[test]
    fn duplicates_dropped() {
        assert_eq!(
            event(
                "e",
                &[("event", json!("x")), ("a", json!(1)), ("a", json!(2))]
            ),
            r#"{"event":"e","a":1}"#
        );
    }

    #[test]
    fn credentials_redacted() {
        let line = event(
            "auth_failed",
            &[
                ("session_token", json!("abc")),
                ("Authorization", json!("Bearer xyz")),
                ("cookie", json!("codex-session=s")),
                ("worker_signature", json!("sig")),
                ("user_id", json!("u1")),
            ],
        );
        assert_eq!(
            line,
            r#"{"event":"auth_failed","session_token":"[redacted]","Authorization":"[redacted]","cookie":"[redacted]","worker_signature":"[redacted]","user_id":"u1"}"#
        );
    }
}
