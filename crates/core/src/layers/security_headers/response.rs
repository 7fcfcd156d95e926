//! How the headers the layers queued meet the inner app's own response
//! headers: insert modes, removals, `Vary` merging and `Cache-Control` on
//! authenticated responses.
//!
//! ```
//! use warden_core::layers::security_headers::{Edit, HeadersConfig, app_response_edits};
//!
//! let config = HeadersConfig::default();
//! let queued = vec![("x-frame-options".to_string(), b"DENY".to_vec())];
//! let app = vec![
//!     ("X-Frame-Options".to_string(), b"ALLOWALL".to_vec()),
//!     ("X-Powered-By".to_string(), b"Express".to_vec()),
//! ];
//! let edits = app_response_edits(Some(&config), false, &queued, &app, false);
//! assert_eq!(edits, [
//!     Edit::Delete("x-powered-by".into()),
//!     Edit::Set("x-frame-options".into(), b"DENY".to_vec()),
//! ]);
//! ```

use super::{HeadersConfig, InsertMode};

/// One change to the app's response headers, applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Remove every field with this (lowercase) name.
    Delete(String),
    /// Replace every field with this name by one with this value.
    Set(String, Vec<u8>),
    /// Add a field, keeping those already there.
    Append(String, Vec<u8>),
}

/// The edits that turn the app's response headers into what the client gets.
///
/// - `headers`: the route's security headers, or `None` when the route skips
///   them: then nothing is removed and no `Cache-Control` is added.
/// - `cors_active`: warden handles CORS on this route, so the app's own
///   `Access-Control-*` headers are removed and warden's replace them.
/// - `queued`: what the layers queued for every answer, in order. A security
///   header follows its insert mode; `Vary` is merged token by token; other
///   headers (the rate limit's, say) are appended.
/// - `app`: the app's response headers (names in any case).
/// - `authenticated`: the request carried a verified identity, so the
///   configured `Cache-Control` is added unless the app sent one (or, with
///   mode `override`, always).
pub fn app_response_edits(
    headers: Option<&HeadersConfig>,
    cors_active: bool,
    queued: &[(String, Vec<u8>)],
    app: &[(String, Vec<u8>)],
    authenticated: bool,
) -> Vec<Edit> {
    let app_names: Vec<String> = app.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    let app_has = |name: &str| app_names.iter().any(|n| n == name);
    let mut edits = Vec::new();

    let mut deleted: Vec<String> = Vec::new();
    if let Some(config) = headers {
        for name in &config.remove {
            if app_has(name) && !deleted.contains(name) {
                deleted.push(name.clone());
            }
        }
    }
    if cors_active {
        for name in &app_names {
            if name.starts_with("access-control-") && !deleted.contains(name) {
                deleted.push(name.clone());
            }
        }
    }
    edits.extend(deleted.iter().cloned().map(Edit::Delete));

    // Vary tokens already present, lowercase; "*" covers everything.
    let mut vary: Vec<String> = app
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("vary"))
        .filter_map(|(_, v)| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let mut written: Vec<String> = Vec::new();
    for (name, value) in queued {
        let lower = name.to_ascii_lowercase();
        if lower == "vary" {
            let tokens: Vec<String> = std::str::from_utf8(value)
                .unwrap_or_default()
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .filter(|t| {
                    !vary
                        .iter()
                        .any(|have| have == "*" || have.eq_ignore_ascii_case(t))
                })
                .collect();
            if !tokens.is_empty() {
                vary.extend(tokens.iter().map(|t| t.to_ascii_lowercase()));
                edits.push(Edit::Append(lower, tokens.join(", ").into_bytes()));
            }
            continue;
        }
        let mode = if cors_active && lower.starts_with("access-control-") {
            Some(InsertMode::Override)
        } else {
            headers.and_then(|c| c.mode_for_header(&lower))
        };
        let edit = match mode {
            // Warden's value replaces the app's; a second queued value of
            // the same name joins the first.
            Some(InsertMode::Override) if written.contains(&lower) => {
                Edit::Append(lower.clone(), value.clone())
            }
            Some(InsertMode::Override) => Edit::Set(lower.clone(), value.clone()),
            Some(InsertMode::Fill) if app_has(&lower) && !deleted.contains(&lower) => continue,
            Some(InsertMode::Fill) | None => Edit::Append(lower.clone(), value.clone()),
        };
        written.push(lower);
        edits.push(edit);
    }

    if let Some(config) = headers
        && authenticated
        && let Some(value) = &config.authenticated_cache_control
    {
        let key = super::HeaderKey::AuthenticatedCacheControl;
        let name = key.header().to_string();
        match config.mode(key) {
            InsertMode::Override => edits.push(Edit::Set(name, value.clone().into_bytes())),
            InsertMode::Fill if app_has(&name) => {}
            InsertMode::Fill => edits.push(Edit::Set(name, value.clone().into_bytes())),
        }
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::security_headers::HeaderKey;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    fn set(n: &str, v: &str) -> Edit {
        Edit::Set(n.into(), v.as_bytes().to_vec())
    }

    fn append(n: &str, v: &str) -> Edit {
        Edit::Append(n.into(), v.as_bytes().to_vec())
    }

    #[test]
    fn override_and_fill() {
        let config = HeadersConfig::default();
        let queued = h(&[
            ("content-security-policy", "default-src 'self'"),
            ("cross-origin-resource-policy", "same-origin"),
            ("cross-origin-opener-policy", "same-origin"),
            ("x-ratelimit-limit", "100"),
        ]);
        let app = h(&[
            ("Content-Security-Policy", "default-src *"),
            ("Cross-Origin-Resource-Policy", "cross-origin"),
            ("content-type", "text/html"),
        ]);
        let edits = app_response_edits(Some(&config), false, &queued, &app, false);
        assert_eq!(
            edits,
            [
                set("content-security-policy", "default-src 'self'"),
                append("cross-origin-opener-policy", "same-origin"),
                append("x-ratelimit-limit", "100"),
            ]
        );

        let mut config = HeadersConfig::default();
        config.set_mode(HeaderKey::ContentSecurityPolicy, InsertMode::Fill);
        config.set_mode(HeaderKey::CrossOriginResourcePolicy, InsertMode::Override);
        let edits = app_response_edits(Some(&config), false, &queued, &app, false);
        assert_eq!(
            edits,
            [
                set("cross-origin-resource-policy", "same-origin"),
                append("cross-origin-opener-policy", "same-origin"),
                append("x-ratelimit-limit", "100"),
            ]
        );
    }

    #[test]
    fn removals() {
        let config = HeadersConfig::default();
        let app = h(&[
            ("X-Powered-By", "PHP"),
            ("Server", "nginx"),
            ("x-other", "1"),
        ]);
        let edits = app_response_edits(Some(&config), false, &[], &app, false);
        assert_eq!(
            edits,
            [
                Edit::Delete("x-powered-by".into()),
                Edit::Delete("server".into())
            ]
        );
        // A route that skips the headers layer leaves the app's headers alone.
        assert!(app_response_edits(None, false, &[], &app, false).is_empty());
    }

    #[test]
    fn cache_control_on_authenticated_responses() {
        let config = HeadersConfig::default();
        assert_eq!(
            app_response_edits(Some(&config), false, &[], &[], true),
            [set("cache-control", "no-store")]
        );
        assert!(app_response_edits(Some(&config), false, &[], &[], false).is_empty());
        let app = h(&[("Cache-Control", "private, max-age=60")]);
        assert!(app_response_edits(Some(&config), false, &[], &app, true).is_empty());
        let mut config = HeadersConfig::default();
        config.set_mode(HeaderKey::AuthenticatedCacheControl, InsertMode::Override);
        assert_eq!(
            app_response_edits(Some(&config), false, &[], &app, true),
            [set("cache-control", "no-store")]
        );
        config.authenticated_cache_control = None;
        assert!(app_response_edits(Some(&config), false, &[], &app, true).is_empty());
    }

    #[test]
    fn cors_headers_replace_the_apps_and_vary_merges() {
        let queued = h(&[
            ("access-control-allow-origin", "https://a.example"),
            ("vary", "Origin"),
        ]);
        let app = h(&[
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Credentials", "true"),
            ("Vary", "Accept-Encoding"),
        ]);
        assert_eq!(
            app_response_edits(None, true, &queued, &app, false),
            [
                Edit::Delete("access-control-allow-origin".into()),
                Edit::Delete("access-control-allow-credentials".into()),
                set("access-control-allow-origin", "https://a.example"),
                append("vary", "Origin"),
            ]
        );
        // Origin already varied on (in any case), or "*": nothing to add.
        for have in ["accept-encoding, ORIGIN", "*"] {
            let app = h(&[("vary", have)]);
            assert_eq!(
                app_response_edits(None, true, &queued, &app, false),
                [set("access-control-allow-origin", "https://a.example")]
            );
        }
        // Without CORS on the route, the app's CORS headers stay.
        let app = h(&[("Access-Control-Allow-Origin", "*")]);
        assert_eq!(
            app_response_edits(None, false, &[], &app, false),
            Vec::<Edit>::new()
        );
    }
}
