//! Origins (RFC 6454) parsed into scheme, host and port, and the patterns a
//! policy allows. Matching is on the parsed parts, never on the text, so
//! `https://evil.workers.dev.attacker.com` and `https://x.workers.dev@evil.com`
//! cannot pass for a subdomain of `workers.dev`.
//!
//! ```
//! use warden_core::http::origin::{Origin, OriginPattern};
//!
//! let pattern = OriginPattern::parse("https://*.workers.dev").unwrap();
//! let ok = Origin::parse("https://app.team.workers.dev").unwrap();
//! assert!(pattern.matches(&ok));
//! let evil = Origin::parse("https://evil.workers.dev.attacker.com").unwrap();
//! assert!(!pattern.matches(&evil));
//! assert!(Origin::parse("https://x.workers.dev@evil.com").is_err());
//! ```

/// A serialized origin: `scheme://host[:port]`, lowercase, the scheme's
/// default port left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// Parses an origin strictly: a scheme, `://`, a host and an optional
    /// port; nothing else (no user info, path, query or fragment, no
    /// percent-escapes, no trailing dot). ASCII case is ignored.
    pub fn parse(text: &str) -> Result<Origin, &'static str> {
        if text.is_empty() {
            return Err("is empty");
        }
        if !text.is_ascii() {
            return Err("must be ASCII (write international domain names in punycode)");
        }
        if text
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ' || b == b'"' || b == b'\'')
        {
            return Err("must not contain spaces, quotes or control characters");
        }
        let lower = text.to_ascii_lowercase();
        let Some((scheme, rest)) = lower.split_once("://") else {
            return Err("must look like scheme://host[:port]");
        };
        let scheme_ok = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
        if !scheme_ok {
            return Err("has an invalid scheme");
        }
        if rest.contains('@') {
            return Err("must not contain user info (@)");
        }
        if rest.ends_with('/') && !rest[..rest.len() - 1].contains(['/', '?', '#']) {
            return Err("has no path: remove the trailing \"/\"");
        }
        if rest.contains(['/', '?', '#', '\\']) {
            return Err("must not have a path, query or fragment");
        }
        if rest.contains('%') {
            return Err("must not contain percent-escapes");
        }
        let (host, port) = split_port(rest)?;
        check_host(host)?;
        let port = match port {
            None => None,
            Some(p) => {
                let valid = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
                let n = if valid { p.parse::<u32>().ok() } else { None };
                match n {
                    Some(n @ 1..=65535) => Some(n as u16),
                    _ => return Err("has an invalid port"),
                }
            }
        };
        let port = port.filter(|p| Some(*p) != default_port(scheme));
        Ok(Origin {
            scheme: scheme.to_string(),
            host: host.to_string(),
            port,
        })
    }

    /// The scheme, lowercase.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host, lowercase (IPv6 in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, `None` for the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// `scheme://host[:port]`.
    pub fn serialize(&self) -> String {
        match self.port {
            Some(port) => format!("{}://{}:{port}", self.scheme, self.host),
            None => format!("{}://{}", self.scheme, self.host),
        }
    }

    /// Whether the host is this machine (`localhost`, `*.localhost`,
    /// `127.0.0.1`, `[::1]`).
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self.host.ends_with(".localhost")
            || self.host == "127.0.0.1"
            || self.host == "[::1]"
    }

    fn is_ip(&self) -> bool {
        self.host.starts_with('[') || self.host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// Splits `host[:port]`, with IPv6 hosts in brackets.
fn split_port(rest: &str) -> Result<(&str, Option<&str>), &'static str> {
    if rest.starts_with('[') {
        let Some(end) = rest.find(']') else {
            return Err("has an unclosed IPv6 address");
        };
        let (host, after) = rest.split_at(end + 1);
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err("has text after the IPv6 address"),
            },
        };
    }
    Ok(match rest.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    })
}

fn check_host(host: &str) -> Result<(), &'static str> {
    if host.is_empty() {
        return Err("has no host");
    }
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').unwrap_or(inner);
        let ok = inner.contains(':')
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        return if ok {
            Ok(())
        } else {
            Err("has an invalid IPv6 address")
        };
    }
    if host.len() > 253 {
        return Err("has a host name longer than 253 characters");
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err("has an empty label in its host name (a trailing or double dot)");
        }
        if label.len() > 63 {
            return Err("has a host label longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err("has an invalid character in its host name");
        }
    }
    Ok(())
}

/// An allowed origin in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPattern {
    /// `*`: every origin (never in production, never with credentials).
    Any,
    /// One origin.
    Exact(Origin),
    /// `scheme://*.suffix[:port]`: every subdomain of `suffix`, at any
    /// depth, with the same scheme and port; not `suffix` itself.
    Subdomains(Origin),
}

impl OriginPattern {
    /// Parses `*`, an origin, or an origin whose host starts with `*.`.
    pub fn parse(text: &str) -> Result<OriginPattern, String> {
        if text == "*" {
            return Ok(OriginPattern::Any);
        }
        if text.eq_ignore_ascii_case("null") {
            return Err("the \"null\" origin is sent by sandboxed frames and local files; allowing it lets any of them in".to_string());
        }
        if let Some((scheme, rest)) = text.split_once("://")
            && let Some(suffix) = rest.strip_prefix("*.")
        {
            if suffix.contains('*') {
                return Err(wildcard_hint());
            }
            let origin =
                Origin::parse(&format!("{scheme}://{suffix}")).map_err(|e| e.to_string())?;
            if origin.is_ip() {
                return Err("a wildcard needs a domain name, not an IP address".to_string());
            }
            if !origin.host.contains('.') {
                return Err(format!(
                    "*.{} would match every site under a top-level domain; name a domain with at least two labels",
                    origin.host
                ));
            }
            return Ok(OriginPattern::Subdomains(origin));
        }
        if text.contains('*') {
            return Err(wildcard_hint());
        }
        Origin::parse(text)
            .map(OriginPattern::Exact)
            .map_err(|e| e.to_string())
    }

    /// Whether a (parsed) request origin is allowed by this pattern.
    pub fn matches(&self, origin: &Origin) -> bool {
        match self {
            OriginPattern::Any => true,
            OriginPattern::Exact(allowed) => allowed == origin,
            OriginPattern::Subdomains(base) => {
                base.scheme == origin.scheme
                    && base.port == origin.port
                    && origin.host.len() > base.host.len() + 1
                    && origin.host.ends_with(&base.host)
                    && origin.host.as_bytes()[origin.host.len() - base.host.len() - 1] == b'.'
            }
        }
    }

    /// The pattern's origin (`None` for `*`).
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            OriginPattern::Any => None,
            OriginPattern::Exact(o) | OriginPattern::Subdomains(o) => Some(o),
        }
    }
}

fn wildcard_hint() -> String {
    "a wildcard may only stand for subdomains, as in https://*.example.com, or be \"*\" alone"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(s: &str) -> Origin {
        Origin::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_and_normalizes() {
        let o = origin("HTTPS://App.Example.COM:443");
        assert_eq!(o.serialize(), "https://app.example.com");
        assert_eq!(o.port(), None);
        assert_eq!(
            origin("http://localhost:3000").serialize(),
            "http://localhost:3000"
        );
        assert_eq!(
            origin("http://localhost:80").serialize(),
            "http://localhost"
        );
        assert_eq!(
            origin("https://[::1]:8443").serialize(),
            "https://[::1]:8443"
        );
        assert_eq!(
            origin("chrome-extension://abcdef").scheme(),
            "chrome-extension"
        );
        assert!(origin("http://127.0.0.1:8080").is_loopback());
        assert!(origin("http://app.localhost").is_loopback());
        assert!(!origin("https://localhost.example.com").is_loopback());
    }

    #[test]
    fn refuses_anything_but_an_origin() {
        for bad in [
            "",
            "example.com",
            "https://",
            "https://x.workers.dev@evil.com",
            "https://user:pass@example.com",
            "https://example.com/",
            "https://example.com/path",
            "https://example.com?q",
            "https://example.com#f",
            "https://example.com.",
            "https://exa..mple.com",
            "https://example.com:",
            "https://example.com:0",
            "https://example.com:65536",
            "https://example.com:+80",
            "https://example.com:80:80",
            "https://ex%61mple.com",
            "https://exämple.com",
            "https://exa mple.com",
            "https://example.com\r\n",
            "https://example.com\\@evil.com",
            "1https://example.com",
            "https://[::1",
            "https://[zz::1]",
            "null",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            Origin::parse("https://example.com/"),
            Err("has no path: remove the trailing \"/\"")
        );
    }

    #[test]
    fn exact_patterns() {
        let p = OriginPattern::parse("https://app.example.com").unwrap();
        assert!(p.matches(&origin("https://app.example.com")));
        assert!(p.matches(&origin("https://APP.example.com:443")));
        for other in [
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://example.com",
            "https://x.app.example.com",
            "https://app.example.com.evil.com",
        ] {
            assert!(!p.matches(&origin(other)), "{other}");
        }
    }

    #[test]
    fn subdomain_patterns() {
        let p = OriginPattern::parse("https://*.workers.dev").unwrap();
        for ok in [
            "https://a.workers.dev",
            "https://my-app.team.workers.dev",
            "https://A.Workers.Dev",
        ] {
            assert!(p.matches(&origin(ok)), "{ok}");
        }
        for bad in [
            "https://workers.dev",
            "https://evil.workers.dev.attacker.com",
            "https://evilworkers.dev",
            "http://a.workers.dev",
            "https://a.workers.dev:8443",
            "https://a.workers.dev.",
        ] {
            if let Ok(o) = Origin::parse(bad) {
                assert!(!p.matches(&o), "{bad}");
            }
        }
        let p = OriginPattern::parse("http://*.example.com:8080").unwrap();
        assert!(p.matches(&origin("http://a.example.com:8080")));
        assert!(!p.matches(&origin("http://a.example.com")));
    }

    #[test]
    fn pattern_problems() {
        for (bad, hint) in [
            ("https://*.dev", "top-level domain"),
            ("https://*.127.0.0.1", "IP address"),
            ("https://a.*.example.com", "subdomains"),
            ("https://*example.com", "subdomains"),
            ("*.example.com", "subdomains"),
            ("https://*.*.example.com", "subdomains"),
            ("null", "sandboxed"),
            ("https://example.com/", "trailing"),
            ("https://*.example.com/", "trailing"),
        ] {
            let err = OriginPattern::parse(bad).expect_err(bad);
            assert!(err.contains(hint), "{bad}: {err}");
        }
        assert_eq!(OriginPattern::parse("*"), Ok(OriginPattern::Any));
    }
}
