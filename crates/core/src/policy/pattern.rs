//! Route path patterns.
//!
//! ```
//! use warden_core::http::path::normalize_path;
//! use warden_core::policy::PathPattern;
//!
//! let api = PathPattern::parse("/api/*").unwrap();
//! assert!(api.matches(&normalize_path("/api").unwrap()));
//! assert!(api.matches(&normalize_path("/API/v1/users").unwrap()));
//! assert!(!api.matches(&normalize_path("/apix").unwrap()));
//! ```
//!
//! Patterns are deliberately simple (literals and `*`, no regex) so that what a
//! route covers can be read off the policy and so that one route shadowing
//! another can be detected when the policy is loaded.

use std::fmt;

use crate::http::path::MatchPath;

/// A parsed route pattern, matched against a [`MatchPath`].
///
/// Literal segments compare ASCII case-insensitively; a `*` segment in a non-final
/// position matches exactly one segment; a final `*` matches zero or more
/// segments; a trailing `/` is insignificant; `/` matches only the root and `*`
/// alone matches everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    text: String,
    segments: Vec<Segment>,
    /// Whether the pattern ends in `*` (zero or more further segments).
    tail: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Lowercased literal text.
    Literal(String),
    /// Exactly one segment, whatever it is.
    One,
}

impl PathPattern {
    /// Parses a pattern such as `/api/*`, `/users/*/posts` or `*`.
    ///
    /// Refuses anything a normalized request path can never contain (empty, dot
    /// or encoded segments, `?`, `#`, whitespace, control characters) and `*`
    /// inside a segment, so a pattern never silently matches nothing.
    pub fn parse(s: &str) -> Result<PathPattern, String> {
        if s == "*" {
            return Ok(PathPattern {
                text: s.to_string(),
                segments: Vec::new(),
                tail: true,
            });
        }
        let Some(rest) = s.strip_prefix('/') else {
            return Err("must start with \"/\" (or be \"*\" for every path)".to_string());
        };
        let mut raw: Vec<&str> = rest.split('/').collect();
        if raw.last() == Some(&"") {
            raw.pop();
        }
        let mut segments = Vec::with_capacity(raw.len());
        let mut tail = false;
        let count = raw.len();
        for (i, segment) in raw.into_iter().enumerate() {
            if segment.is_empty() {
                return Err("must not contain an empty segment (\"//\")".to_string());
            }
            if segment == "*" {
                if i + 1 == count {
                    tail = true;
                } else {
                    segments.push(Segment::One);
                }
                continue;
            }
            if segment == "." || segment == ".." {
                return Err("must not contain \".\" or \"..\" segments".to_string());
            }
            if let Some(c) = segment.chars().find(|&c| forbidden_in_pattern(c)) {
                return Err(match c {
                    '*' => "\"*\" must be a whole segment (\"/a/*\", not \"/a*\")".to_string(),
                    c if c.is_control() => "must not contain control characters".to_string(),
                    c if c.is_whitespace() => "must not contain whitespace".to_string(),
                    c => format!("must not contain {c:?}"),
                });
            }
            segments.push(Segment::Literal(segment.to_ascii_lowercase()));
        }
        Ok(PathPattern {
            text: s.to_string(),
            segments,
            tail,
        })
    }

    /// `/*`: every path, for the built-in catch-all route.
    pub(crate) fn everything() -> PathPattern {
        PathPattern {
            text: "/*".to_string(),
            segments: Vec::new(),
            tail: true,
        }
    }

    /// The pattern as written in the policy.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this pattern matches the normalized request path.
    pub fn matches(&self, path: &MatchPath) -> bool {
        let path = path.segments();
        let fits = if self.tail {
            path.len() >= self.segments.len()
        } else {
            path.len() == self.segments.len()
        };
        fits && self
            .segments
            .iter()
            .zip(path)
            .all(|(pattern, segment)| match pattern {
                Segment::One => true,
                Segment::Literal(literal) => literal.eq_ignore_ascii_case(segment),
            })
    }

    /// Whether this pattern matches every path (`*` or `/*`).
    pub fn matches_everything(&self) -> bool {
        self.tail && self.segments.is_empty()
    }

    /// Whether every path that `other` matches is also matched by `self`; used to
    /// report routes that a route before them always shadows.
    pub(crate) fn covers(&self, other: &PathPattern) -> bool {
        let fits = match (self.tail, other.tail) {
            (false, true) => false,
            (true, _) => self.segments.len() <= other.segments.len(),
            (false, false) => self.segments.len() == other.segments.len(),
        };
        fits && self
            .segments
            .iter()
            .zip(&other.segments)
            .all(|(mine, theirs)| match (mine, theirs) {
                (Segment::One, _) => true,
                (Segment::Literal(a), Segment::Literal(b)) => a == b,
                (Segment::Literal(_), Segment::One) => false,
            })
    }

    /// Whether some path is matched by both patterns.
    pub(crate) fn overlaps(&self, other: &PathPattern) -> bool {
        let (a, b) = (self.segments.len(), other.segments.len());
        let lengths_fit = match (self.tail, other.tail) {
            (false, false) => a == b,
            (true, false) => b >= a,
            (false, true) => a >= b,
            (true, true) => true,
        };
        lengths_fit
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(x), Segment::Literal(y)) => x == y,
                    _ => true,
                })
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn forbidden_in_pattern(c: char) -> bool {
    matches!(c, '*' | '%' | '?' | '#' | '\\') || c.is_whitespace() || c.is_control()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::path::normalize_path;

    fn pattern(s: &str) -> PathPattern {
        match PathPattern::parse(s) {
            Ok(p) => p,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    fn hits(p: &str, path: &str) -> bool {
        let path = match normalize_path(path) {
            Ok(m) => m,
            Err(e) => panic!("{path:?}: {e}"),
        };
        pattern(p).matches(&path)
    }

    #[test]
    fn exact_literals() {
        assert!(hits("/health", "/health"));
        assert!(hits("/health", "/HEALTH"));
        assert!(hits("/Health", "/health"));
        assert!(!hits("/health", "/healthz"));
        assert!(!hits("/health", "/health/x"));
        assert!(!hits("/health", "/"));
        assert!(hits("/a/b", "/a/b"));
        assert!(!hits("/a/b", "/a"));
    }

    #[test]
    fn trailing_slash_is_insignificant() {
        assert!(hits("/health/", "/health"));
        assert!(hits("/health", "/health/"));
        assert!(hits("/health/", "/health/"));
        assert_eq!(pattern("/health/").as_str(), "/health/");
    }

    #[test]
    fn root_matches_only_root() {
        assert!(hits("/", "/"));
        assert!(hits("/", ""));
        assert!(hits("/", "/?x"));
        assert!(!hits("/", "/a"));
    }

    #[test]
    fn final_star_matches_zero_or_more() {
        assert!(hits("/api/*", "/api"));
        assert!(hits("/api/*", "/api/"));
        assert!(hits("/api/*", "/api/x"));
        assert!(hits("/api/*", "/api/x/y"));
        assert!(!hits("/api/*", "/apix"));
        assert!(!hits("/api/*", "/"));
        assert!(hits("/*", "/"));
        assert!(hits("/*", "/anything/at/all"));
        assert!(hits("*", "/"));
        assert!(hits("*", "/a/b"));
        assert!(pattern("*").matches_everything());
        assert!(pattern("/*").matches_everything());
        assert!(!pattern("/a/*").matches_everything());
        assert_eq!(PathPattern::everything(), pattern("/*"));
    }

    #[test]
    fn middle_star_matches_exactly_one() {
        assert!(hits("/users/*/posts", "/users/42/posts"));
        assert!(!hits("/users/*/posts", "/users/posts"));
        assert!(!hits("/users/*/posts", "/users/1/2/posts"));
        assert!(hits("/users/*/*", "/users/1/2/3"));
        assert!(hits("/users/*/*", "/users/1"));
        assert!(!hits("/users/*/*", "/users"));
    }

    #[test]
    fn bad_patterns() {
        for bad in [
            "", "api", "//", "/a//b", "/a/./b", "/a/../b", "/a*b", "/a/b*", "/**", "/a%2fb",
            "/a?x", "/a#x", "/a b", "/a\tb", "/a\\b", "/a\u{0}",
        ] {
            assert!(PathPattern::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn coverage() {
        assert!(pattern("/*").covers(&pattern("/admin")));
        assert!(pattern("/api/*").covers(&pattern("/api/users/*")));
        assert!(pattern("/api/*").covers(&pattern("/API")));
        assert!(pattern("/a/*/c").covers(&pattern("/a/b/c")));
        assert!(!pattern("/a/b/c").covers(&pattern("/a/*/c")));
        assert!(!pattern("/api").covers(&pattern("/api/*")));
        assert!(!pattern("/api/users/*").covers(&pattern("/api/*")));
        assert!(!pattern("/a/*/*").covers(&pattern("/a/*")));
        assert!(pattern("/a/*").covers(&pattern("/a/*/*")));
    }
}
