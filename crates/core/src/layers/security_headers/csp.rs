//! Content Security Policy: the default directives, the presets, the
//! per-directive merge, validation of every source, and rendering.
//!
//! ```
//! use warden_core::layers::security_headers::csp::{Csp, CspPreset};
//!
//! let mut csp = Csp::defaults();
//! csp.apply_preset(CspPreset::Stripe);
//! let header = csp.render(None);
//! assert!(header.starts_with("default-src 'self'; script-src 'self' https://js.stripe.com; "));
//! // With a nonce, script-src also allows the scripts that carry it.
//! csp.nonce = vec!["script-src"];
//! assert!(csp.render(Some("abc=")).contains("script-src 'self' https://js.stripe.com 'nonce-abc='"));
//! ```
//!
//! Sources are checked one by one: a `;`, `,`, whitespace, a double quote or a
//! stray single quote would end a directive or the header early (or smuggle a
//! directive in), so such a value is a configuration problem, never part of a
//! header.

use base64::Engine;

/// The header that enforces the policy.
pub const HEADER: &str = "content-security-policy";
/// The header that only reports violations.
pub const REPORT_ONLY_HEADER: &str = "content-security-policy-report-only";

/// The default directives, in order: ten that many Express apps set by hand,
/// then `object-src 'none'` (helmet's default and OWASP's advice: no plug-in
/// content). A policy that sets `object-src` replaces it like any directive.
pub const DEFAULT_DIRECTIVES: &[(&str, &[&str])] = &[
    ("default-src", &["'self'"]),
    ("script-src", &["'self'"]),
    ("style-src", &["'self'", "'unsafe-inline'"]),
    ("img-src", &["'self'", "data:", "https:"]),
    ("font-src", &["'self'"]),
    ("connect-src", &["'self'"]),
    ("frame-src", &["'none'"]),
    ("frame-ancestors", &["'none'"]),
    ("base-uri", &["'self'"]),
    ("form-action", &["'self'"]),
    ("object-src", &["'none'"]),
];

/// Directives whose value is a source list.
const SOURCE_LIST: &[&str] = &[
    "default-src",
    "script-src",
    "script-src-elem",
    "script-src-attr",
    "style-src",
    "style-src-elem",
    "style-src-attr",
    "img-src",
    "font-src",
    "connect-src",
    "media-src",
    "object-src",
    "frame-src",
    "child-src",
    "worker-src",
    "manifest-src",
    "fenced-frame-src",
    "base-uri",
    "form-action",
    "frame-ancestors",
];

/// The other directives warden knows (CSP Level 3 and Trusted Types).
const OTHER: &[&str] = &[
    "sandbox",
    "upgrade-insecure-requests",
    "block-all-mixed-content",
    "report-uri",
    "report-to",
    "require-trusted-types-for",
    "trusted-types",
    "webrtc",
];

/// Directives that take no value.
const VALUELESS: &[&str] = &["upgrade-insecure-requests", "block-all-mixed-content"];

/// Keywords that are written in single quotes.
const KEYWORDS: &[&str] = &[
    "self",
    "none",
    "unsafe-inline",
    "unsafe-eval",
    "strict-dynamic",
    "unsafe-hashes",
    "report-sample",
    "unsafe-allow-redirects",
    "wasm-unsafe-eval",
    "inline-speculation-rules",
    "script",
    "allow-duplicates",
    "allow",
    "block",
];

/// Directives to which a per-request nonce can be added.
pub const NONCE_DIRECTIVES: &[&str] = &["script-src", "style-src"];

/// A content security policy: directives in header order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csp {
    /// `(name, values)`; names are lowercase and unique.
    pub directives: Vec<(String, Vec<String>)>,
    /// Send `Content-Security-Policy-Report-Only` instead of enforcing.
    pub report_only: bool,
    /// Directives that get `'nonce-…'` with a fresh nonce per request.
    pub nonce: Vec<&'static str>,
}

/// The seed's CSP presets (`CSP_PRESETS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CspPreset {
    /// Stripe.js and Stripe Elements.
    Stripe,
    /// API-only workers with no frontend: the most restrictive.
    Api,
}

impl CspPreset {
    /// Every preset.
    pub const ALL: [CspPreset; 2] = [CspPreset::Stripe, CspPreset::Api];

    /// The name used in the policy document.
    pub fn name(&self) -> &'static str {
        match self {
            CspPreset::Stripe => "stripe",
            CspPreset::Api => "api",
        }
    }

    /// Looks a preset up by name.
    pub fn from_name(name: &str) -> Option<CspPreset> {
        CspPreset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The directives the preset sets, exactly as seed 000 lists them.
    pub fn directives(&self) -> &'static [(&'static str, &'static [&'static str])] {
        match self {
            CspPreset::Stripe => &[
                ("script-src", &["'self'", "https://js.stripe.com"]),
                (
                    "frame-src",
                    &["https://js.stripe.com", "https://hooks.stripe.com"],
                ),
                ("connect-src", &["'self'", "https://api.stripe.com"]),
            ],
            CspPreset::Api => &[
                ("default-src", &["'none'"]),
                ("script-src", &["'none'"]),
                ("style-src", &["'none'"]),
                ("img-src", &["'none'"]),
                ("font-src", &["'none'"]),
                ("connect-src", &["'self'"]),
                ("frame-src", &["'none'"]),
                ("frame-ancestors", &["'none'"]),
                ("base-uri", &["'none'"]),
                ("form-action", &["'none'"]),
            ],
        }
    }
}

impl Csp {
    /// The default directives ([`DEFAULT_DIRECTIVES`]), enforced, without a nonce.
    pub fn defaults() -> Csp {
        Csp {
            directives: DEFAULT_DIRECTIVES
                .iter()
                .map(|(name, values)| (name.to_string(), strings(values)))
                .collect(),
            report_only: false,
            nonce: Vec::new(),
        }
    }

    /// The values of a directive, if present.
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.directives
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Replaces one directive (keeping its place), or appends it: the seed's
    /// merge, where a directive given replaces that directive only.
    pub fn set(&mut self, name: &str, values: Vec<String>) {
        match self.directives.iter_mut().find(|(n, _)| n == name) {
            Some((_, old)) => *old = values,
            None => self.directives.push((name.to_string(), values)),
        }
    }

    /// Removes a directive.
    pub fn remove(&mut self, name: &str) {
        self.directives.retain(|(n, _)| n != name);
    }

    /// Merges a preset's directives in.
    pub fn apply_preset(&mut self, preset: CspPreset) {
        for (name, values) in preset.directives() {
            self.set(name, strings(values));
        }
    }

    /// The header name: enforcing or report-only.
    pub fn header_name(&self) -> &'static str {
        if self.report_only {
            REPORT_ONLY_HEADER
        } else {
            HEADER
        }
    }

    /// The header value. With a nonce, each directive in [`Csp::nonce`] also
    /// allows `'nonce-…'`: a `'none'` there gives way to the nonce alone, and
    /// a directive that is absent starts from `default-src`, which it would
    /// otherwise have fallen back to.
    pub fn render(&self, nonce: Option<&str>) -> String {
        let nonce_source = nonce.map(|n| format!("'nonce-{n}'"));
        let with_nonce = |values: &[String]| -> Vec<String> {
            let mut out: Vec<String> = values
                .iter()
                .filter(|v| v.as_str() != "'none'")
                .cloned()
                .collect();
            out.extend(nonce_source.clone());
            out
        };
        let mut parts: Vec<String> = Vec::with_capacity(self.directives.len() + 2);
        for (name, values) in &self.directives {
            let values = if nonce_source.is_some() && self.nonce.contains(&name.as_str()) {
                with_nonce(values)
            } else {
                values.clone()
            };
            parts.push(directive(name, &values));
        }
        if nonce_source.is_some() {
            for name in &self.nonce {
                if self.get(name).is_none() {
                    let fallback = self.get("default-src").unwrap_or(&[]);
                    parts.push(directive(name, &with_nonce(fallback)));
                }
            }
        }
        parts.join("; ")
    }
}

fn directive(name: &str, values: &[String]) -> String {
    if values.is_empty() {
        name.to_string()
    } else {
        format!("{name} {}", values.join(" "))
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

/// A nonce for `'nonce-…'` from fresh random bytes (the caller's: the core
/// has no randomness): standard base64, as CSP's `base64-value` allows.
pub fn nonce_from_random(random: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(random)
}

/// The canonical (lowercase, dashed) name of a directive given as in the
/// header (`script-src`) or as in the seed and helmet (`scriptSrc`).
pub fn directive_name(input: &str) -> Result<&'static str, String> {
    let mut dashed = String::with_capacity(input.len() + 4);
    for c in input.chars() {
        if c.is_ascii_uppercase() {
            dashed.push('-');
            dashed.push(c.to_ascii_lowercase());
        } else {
            dashed.push(c);
        }
    }
    SOURCE_LIST
        .iter()
        .chain(OTHER)
        .find(|known| **known == dashed)
        .copied()
        .ok_or_else(|| {
            format!(
                "unknown CSP directive {}; expected a directive such as script-src or scriptSrc",
                crate::base::fields::quoted(input)
            )
        })
}

/// Checks a directive's values; `Err` holds `(index, message)` per bad
/// value, or `(None, message)` for a problem of the whole list.
pub fn check_values(name: &str, values: &[String]) -> Result<(), Vec<(Option<usize>, String)>> {
    let mut found = Vec::new();
    if VALUELESS.contains(&name) {
        if !values.is_empty() {
            found.push((None, format!("{name} takes no values; write []")));
        }
    } else if SOURCE_LIST.contains(&name) {
        if values.is_empty() {
            found.push((
                None,
                "must list at least one source; write [\"'none'\"] to allow nothing, or false to drop the directive".to_string(),
            ));
        }
        for (i, v) in values.iter().enumerate() {
            if let Err(message) = check_source(v) {
                found.push((Some(i), message));
            }
        }
        if values.len() > 1 && values.iter().any(|v| v.eq_ignore_ascii_case("'none'")) {
            found.push((
                None,
                "'none' must be the only source of a directive".to_string(),
            ));
        }
    } else {
        match name {
            "report-to" => {
                if values.len() != 1 {
                    found.push((
                        None,
                        "report-to takes exactly one endpoint name".to_string(),
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if !is_endpoint_name(v) {
                        found.push((
                            Some(i),
                            format!(
                                "{} is not an endpoint name: use letters, digits, '-' and '_'",
                                crate::base::fields::quoted(v)
                            ),
                        ));
                    }
                }
            }
            "sandbox" => {
                for (i, v) in values.iter().enumerate() {
                    let ok = v.strip_prefix("allow-").is_some_and(|rest| {
                        !rest.is_empty()
                            && rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                    });
                    if !ok {
                        found.push((
                            Some(i),
                            format!(
                                "{} is not a sandbox flag such as allow-scripts",
                                crate::base::fields::quoted(v)
                            ),
                        ));
                    }
                }
            }
            "require-trusted-types-for" => {
                if values.len() != 1 || values[0] != "'script'" {
                    found.push((None, "must be [\"'script'\"]".to_string()));
                }
            }
            "webrtc" => {
                if values.len() != 1 || !(values[0] == "'allow'" || values[0] == "'block'") {
                    found.push((None, "must be [\"'allow'\"] or [\"'block'\"]".to_string()));
                }
            }
            // report-uri (URI references) and trusted-types (policy names and
            // keywords): the characters must not break the header.
            _ => {
                if name == "report-uri" && values.is_empty() {
                    found.push((None, "must list at least one URI".to_string()));
                }
                for (i, v) in values.iter().enumerate() {
                    if let Err(message) = check_characters(v) {
                        found.push((Some(i), message));
                    } else if v.contains('\'')
                        && !(v.starts_with('\'') && v.ends_with('\'') && v.len() > 2)
                    {
                        found.push((Some(i), stray_quote()));
                    }
                }
            }
        }
    }
    if found.is_empty() { Ok(()) } else { Err(found) }
}

fn is_endpoint_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn stray_quote() -> String {
    "a single quote may only wrap a whole keyword such as 'self'".to_string()
}

/// Characters that could end a directive or the header, or are not ASCII.
fn check_characters(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("must not be empty".to_string());
    }
    if v.contains(';') || v.contains(',') {
        return Err(format!(
            "{} must not contain ';' or ',': give one source per list element",
            crate::base::fields::quoted(v)
        ));
    }
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{} must not contain spaces, newlines or control characters: give one source per list element",
            crate::base::fields::quoted(v)
        ));
    }
    if v.contains('"') {
        return Err(format!(
            "{} must not contain a double quote",
            crate::base::fields::quoted(v)
        ));
    }
    if v.contains('\\') {
        return Err(format!(
            "{} must not contain a backslash",
            crate::base::fields::quoted(v)
        ));
    }
    if !v.is_ascii() {
        return Err(format!(
            "{} must be ASCII (write international domain names in punycode)",
            crate::base::fields::quoted(v)
        ));
    }
    Ok(())
}

/// Checks one source expression of a source list.
pub fn check_source(v: &str) -> Result<(), String> {
    check_characters(v)?;
    if let Some(inner) = v.strip_prefix('\'') {
        let Some(inner) = inner
            .strip_suffix('\'')
            .filter(|i| !i.is_empty() && !i.contains('\''))
        else {
            return Err(stray_quote());
        };
        let lower = inner.to_ascii_lowercase();
        if lower.starts_with("nonce-") {
            return Err(
                "a fixed nonce defeats its purpose; set nonce = true for a fresh nonce per request"
                    .to_string(),
            );
        }
        for hash in ["sha256-", "sha384-", "sha512-"] {
            if let Some(value) = lower.strip_prefix(hash) {
                let b64 = &inner[hash.len()..];
                let ok = !value.is_empty()
                    && b64.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'=')
                    });
                return if ok {
                    Ok(())
                } else {
                    Err(format!("{v} is not a valid hash source ('{hash}<base64>')"))
                };
            }
        }
        if KEYWORDS.contains(&lower.as_str()) {
            return Ok(());
        }
        return Err(format!(
            "unknown keyword {v}; expected one such as 'self', 'none', 'unsafe-inline', 'strict-dynamic' or a 'sha256-…' hash"
        ));
    }
    if v.contains('\'') {
        return Err(stray_quote());
    }
    let lower = v.to_ascii_lowercase();
    if KEYWORDS.contains(&lower.as_str()) {
        return Err(format!(
            "keywords need single quotes: write \"'{lower}'\" (without them, {v} means a host named {v})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT_HEADER: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
        img-src 'self' data: https:; font-src 'self'; connect-src 'self'; frame-src 'none'; \
        frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

    #[test]
    fn default_renders_ten_directives_and_object_src_none() {
        let csp = Csp::defaults();
        assert_eq!(csp.directives.len(), 11);
        assert_eq!(csp.render(None), DEFAULT_HEADER);
        assert_eq!(csp.header_name(), "content-security-policy");
    }

    #[test]
    fn presets_merge_per_directive() {
        let mut csp = Csp::defaults();
        csp.apply_preset(CspPreset::Stripe);
        assert_eq!(
            csp.render(None),
            "default-src 'self'; script-src 'self' https://js.stripe.com; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data: https:; font-src 'self'; connect-src 'self' https://api.stripe.com; \
             frame-src https://js.stripe.com https://hooks.stripe.com; frame-ancestors 'none'; \
             base-uri 'self'; form-action 'self'; object-src 'none'"
        );
        let mut csp = Csp::defaults();
        csp.apply_preset(CspPreset::Api);
        assert_eq!(
            csp.render(None),
            "default-src 'none'; script-src 'none'; style-src 'none'; img-src 'none'; font-src 'none'; \
             connect-src 'self'; frame-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; \
             object-src 'none'"
        );
        assert_eq!(CspPreset::from_name("api"), Some(CspPreset::Api));
        assert_eq!(CspPreset::from_name("Stripe"), None);
    }

    #[test]
    fn set_keeps_order_and_appends_new() {
        let mut csp = Csp::defaults();
        csp.set("img-src", vec!["'self'".into()]);
        csp.set("upgrade-insecure-requests", vec![]);
        csp.remove("frame-src");
        let rendered = csp.render(None);
        assert!(rendered.contains("font-src 'self'; connect-src 'self'; frame-ancestors"));
        assert!(rendered.contains("; img-src 'self'; font-src"));
        assert!(
            rendered.ends_with("form-action 'self'; object-src 'none'; upgrade-insecure-requests")
        );
    }

    #[test]
    fn nonce_rendering() {
        let mut csp = Csp::defaults();
        csp.nonce = vec!["script-src"];
        let r = csp.render(Some("AAAA"));
        assert!(r.contains("script-src 'self' 'nonce-AAAA';"), "{r}");
        assert!(r.contains("style-src 'self' 'unsafe-inline';"), "{r}");
        // Without a nonce the nonce list changes nothing.
        assert_eq!(csp.render(None), DEFAULT_HEADER);

        csp.nonce = vec!["script-src", "style-src"];
        let r = csp.render(Some("AAAA"));
        assert!(
            r.contains("style-src 'self' 'unsafe-inline' 'nonce-AAAA';"),
            "{r}"
        );

        // 'none' gives way to the nonce; an absent directive starts from default-src.
        let mut api = Csp::defaults();
        api.apply_preset(CspPreset::Api);
        api.nonce = vec!["script-src"];
        assert!(api.render(Some("n")).contains("script-src 'nonce-n';"));
        let mut csp = Csp::defaults();
        csp.remove("script-src");
        csp.nonce = vec!["script-src"];
        assert!(
            csp.render(Some("n"))
                .ends_with("; script-src 'self' 'nonce-n'")
        );
    }

    #[test]
    fn nonce_encoding() {
        assert_eq!(nonce_from_random(&[0u8; 16]), "AAAAAAAAAAAAAAAAAAAAAA==");
        assert_eq!(nonce_from_random(&[0xfb; 3]), "+/v7");
    }

    #[test]
    fn directive_names() {
        assert_eq!(directive_name("script-src"), Ok("script-src"));
        assert_eq!(directive_name("scriptSrc"), Ok("script-src"));
        assert_eq!(directive_name("frameAncestors"), Ok("frame-ancestors"));
        assert_eq!(
            directive_name("upgradeInsecureRequests"),
            Ok("upgrade-insecure-requests")
        );
        for bad in ["script_src", "script-src;", "scripts-src", "", "Script-Src"] {
            assert!(directive_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sources() {
        for ok in [
            "'self'",
            "'none'",
            "'unsafe-inline'",
            "'strict-dynamic'",
            "'SELF'",
            "'sha256-abc+/=='",
            "data:",
            "https:",
            "*",
            "https://js.stripe.com",
            "*.example.com",
            "https://example.com:8443/path/",
            "wss://socket.example.com",
        ] {
            assert_eq!(check_source(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("'self'; script-src *", "';' or ','"),
            ("a,b", "';' or ','"),
            ("https://a.com\nscript-src *", "newlines"),
            ("https://a.com https://b.com", "spaces"),
            ("\"self\"", "double quote"),
            ("'self", "single quote"),
            ("self'", "single quote"),
            ("'se'lf'", "single quote"),
            ("''", "single quote"),
            ("'nonce-abc'", "nonce = true"),
            ("'sha256-'", "hash source"),
            ("'sha256-a b'", "spaces"),
            ("'selfish'", "unknown keyword"),
            ("self", "single quotes"),
            ("unsafe-inline", "single quotes"),
            ("https://exämple.com", "ASCII"),
            ("https://a.com\\x", "backslash"),
            ("", "empty"),
        ];
        for (bad, hint) in cases {
            let err = check_source(bad).expect_err(bad);
            assert!(err.contains(hint), "{bad:?}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn value_lists() {
        let s = |v: &[&str]| strings(v);
        assert!(check_values("script-src", &s(&["'self'", "https://a.com"])).is_ok());
        assert_eq!(
            check_values("script-src", &s(&["'none'", "https://a.com"])).unwrap_err()[0].0,
            None
        );
        assert!(check_values("script-src", &[]).is_err());
        assert!(check_values("upgrade-insecure-requests", &[]).is_ok());
        assert!(check_values("upgrade-insecure-requests", &s(&["x"])).is_err());
        assert!(check_values("report-to", &s(&["csp-endpoint"])).is_ok());
        assert!(check_values("report-to", &s(&["a", "b"])).is_err());
        assert_eq!(
            check_values("report-to", &s(&["a;b"])).unwrap_err()[0].0,
            Some(0)
        );
        assert!(check_values("report-uri", &s(&["https://r.example.com/csp"])).is_ok());
        assert!(
            check_values(
                "report-uri",
                &s(&["https://r.example.com/csp; script-src *"])
            )
            .is_err()
        );
        assert!(check_values("sandbox", &s(&["allow-scripts", "allow-forms"])).is_ok());
        assert!(check_values("sandbox", &[]).is_ok());
        assert!(check_values("sandbox", &s(&["allow-"])).is_err());
        assert!(check_values("require-trusted-types-for", &s(&["'script'"])).is_ok());
        assert!(check_values("webrtc", &s(&["'block'"])).is_ok());
        assert!(check_values("trusted-types", &s(&["my-policy", "'allow-duplicates'"])).is_ok());
        assert!(check_values("trusted-types", &s(&["my'policy"])).is_err());
    }
}
