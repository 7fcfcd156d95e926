//! Request path normalization for route matching.
//!
//! ```
//! use warden_core::http::path::normalize_path;
//!
//! let path = normalize_path("/API//%61dmin/?x=1").unwrap();
//! assert_eq!(path.as_str(), "/api/admin");
//! assert!(normalize_path("/api/%2e%2e/admin").is_err());
//! assert!(normalize_path("/api/admin;x/panel").is_err());
//! assert!(normalize_path("/api/%2561dmin/panel").is_err());
//! ```
//!
//! The policy must apply to every spelling of a path that an inner app might route
//! the same way: `/Admin`, `//admin` and `/%61dmin` all have to meet the rules
//! written for `/admin`. Spellings whose meaning depends on the app (dot segments,
//! encoded slashes, backslashes, control characters, `;` matrix parameters, and
//! a percent-encoded `%` that an app decoding twice would read as another
//! escape) are refused rather than guessed. The last two can be allowed with
//! [`PathOptions`] (`[settings] path_semicolons` / `path_double_encoding`) for
//! apps known to treat them as plain characters. The normalized form is used
//! only to pick a route; the inner app still receives the original path.

use std::fmt;

use crate::base::digest::hex_value;

/// A request path in the canonical form that route patterns are matched against:
/// percent-decoded, lowercased (ASCII), without empty segments, query or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchPath {
    text: String,
    segments: Vec<String>,
}

impl MatchPath {
    /// The decoded, lowercased segments; empty for the root.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The canonical text, `/` followed by the segments joined with `/`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for MatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a request path was refused. The reason is fixed text and never echoes
/// the path, so it is safe to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRejection {
    /// The path does not start with `/`.
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    InvalidEscape,
    /// Percent-decoding produced bytes that are not UTF-8.
    InvalidUtf8,
    /// A `.` or `..` segment (raw or encoded).
    DotSegment,
    /// `%2F` inside a segment: some apps split on it, some do not.
    EncodedSlash,
    /// A backslash: some servers treat it as a separator.
    Backslash,
    /// A NUL byte.
    NulByte,
    /// Any other control character.
    ControlChar,
    /// A `;` (raw or `%3B`) in a segment: Tomcat, Jetty and Spring cut a
    /// segment at `;` (matrix parameters), most other routers do not.
    Semicolon,
    /// `%25`, a percent-encoded `%`: an app that decodes twice reads
    /// `%2561` as `a`, one that decodes once as `%61`.
    DoubleEncoding,
}

/// Which app-dependent spellings the normalizer lets through
/// (`[settings] path_semicolons` and `path_double_encoding`). By default
/// both are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PathOptions {
    /// Treat `;` in a segment as a plain character.
    pub allow_semicolons: bool,
    /// Treat a decoded `%` (from `%25`) as a plain character.
    pub allow_double_encoding: bool,
}

impl PathRejection {
    /// A short, non-secret reason for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            PathRejection::NotAbsolute => "path does not start with /",
            PathRejection::InvalidEscape => "invalid percent escape",
            PathRejection::InvalidUtf8 => "percent escapes are not UTF-8",
            PathRejection::DotSegment => "dot segment",
            PathRejection::EncodedSlash => "encoded slash",
            PathRejection::Backslash => "backslash",
            PathRejection::NulByte => "NUL byte",
            PathRejection::ControlChar => "control character",
            PathRejection::Semicolon => "semicolon in a segment",
            PathRejection::DoubleEncoding => "percent-encoded percent sign",
        }
    }
}

impl fmt::Display for PathRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for PathRejection {}

/// Normalizes a request target (`/path?query`) for route matching, with the
/// default [`PathOptions`] (everything ambiguous refused).
pub fn normalize_path(path_with_query: &str) -> Result<MatchPath, PathRejection> {
    normalize_path_with(path_with_query, PathOptions::default())
}

/// Normalizes a request target (`/path?query`) for route matching.
///
/// Drops the query and fragment, requires a leading `/` (an empty target counts as
/// `/`), percent-decodes each segment, refuses ambiguous segments (see
/// [`PathRejection`]), collapses empty segments and lowercases ASCII letters.
pub fn normalize_path_with(
    path_with_query: &str,
    options: PathOptions,
) -> Result<MatchPath, PathRejection> {
    let end = path_with_query
        .find(['?', '#'])
        .unwrap_or(path_with_query.len());
    let raw = &path_with_query[..end];
    let rest = if raw.is_empty() {
        ""
    } else if let Some(rest) = raw.strip_prefix('/') {
        rest
    } else {
        return Err(PathRejection::NotAbsolute);
    };

    let mut segments = Vec::new();
    for raw_segment in rest.split('/') {
        if raw_segment.is_empty() {
            continue;
        }
        let mut segment = decode_segment(raw_segment, options)?;
        segment.make_ascii_lowercase();
        segments.push(segment);
    }

    let mut text = String::with_capacity(raw.len().max(1));
    if segments.is_empty() {
        text.push('/');
    }
    for segment in &segments {
        text.push('/');
        text.push_str(segment);
    }
    Ok(MatchPath { text, segments })
}

/// Percent-decodes one non-empty segment and refuses what an app could read
/// differently from us.
fn decode_segment(raw: &str, options: PathOptions) -> Result<String, PathRejection> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|&h| hex_value(h));
            let lo = bytes.get(i + 2).and_then(|&l| hex_value(l));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                _ => return Err(PathRejection::InvalidEscape),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).map_err(|_| PathRejection::InvalidUtf8)?;
    for c in decoded.chars() {
        match c {
            '/' => return Err(PathRejection::EncodedSlash),
            '\\' => return Err(PathRejection::Backslash),
            '\0' => return Err(PathRejection::NulByte),
            c if c.is_control() => return Err(PathRejection::ControlChar),
            ';' if !options.allow_semicolons => return Err(PathRejection::Semicolon),
            '%' if !options.allow_double_encoding => return Err(PathRejection::DoubleEncoding),
            _ => {}
        }
    }
    if decoded == "." || decoded == ".." {
        return Err(PathRejection::DotSegment);
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(p: &str) -> String {
        match normalize_path(p) {
            Ok(m) => m.as_str().to_string(),
            Err(e) => panic!("{p:?} rejected: {e}"),
        }
    }

    fn rejected(p: &str) -> PathRejection {
        match normalize_path(p) {
            Ok(m) => panic!("{p:?} accepted as {m}"),
            Err(e) => e,
        }
    }

    #[test]
    fn root_and_empty() {
        assert_eq!(norm(""), "/");
        assert_eq!(norm("/"), "/");
        assert_eq!(norm("//"), "/");
        assert_eq!(norm("/?a=b"), "/");
        assert!(normalize_path("/").unwrap().segments().is_empty());
    }

    #[test]
    fn every_spelling_of_admin_is_the_same() {
        for p in [
            "/api/admin",
            "/API/Admin",
            "//api//admin",
            "/api/admin/",
            "/api/%61dmin",
            "/api/%41DMIN",
            "/%61%70%69/admin",
            "/api/admin?x=/../y",
            "/api/admin#frag",
        ] {
            assert_eq!(norm(p), "/api/admin", "{p}");
            assert_eq!(
                normalize_path(p).unwrap().segments(),
                ["api".to_string(), "admin".to_string()]
            );
        }
    }

    #[test]
    fn dot_segments_are_refused() {
        assert_eq!(rejected("/api/./admin"), PathRejection::DotSegment);
        assert_eq!(rejected("/api/../admin"), PathRejection::DotSegment);
        assert_eq!(rejected("/api/%2e%2e/x"), PathRejection::DotSegment);
        assert_eq!(rejected("/api/%2E/x"), PathRejection::DotSegment);
        assert_eq!(rejected("/api/.%2e"), PathRejection::DotSegment);
        assert_eq!(rejected("/.."), PathRejection::DotSegment);
        // Not dot segments: ordinary names that contain dots.
        assert_eq!(norm("/a/.well-known/x"), "/a/.well-known/x");
        assert_eq!(norm("/a/.../b"), "/a/.../b");
        assert_eq!(norm("/file.txt"), "/file.txt");
    }

    #[test]
    fn separators_in_disguise_are_refused() {
        assert_eq!(rejected("/api%2fadmin"), PathRejection::EncodedSlash);
        assert_eq!(rejected("/api%2Fadmin"), PathRejection::EncodedSlash);
        assert_eq!(rejected("/a\\b"), PathRejection::Backslash);
        assert_eq!(rejected("/a%5cb"), PathRejection::Backslash);
    }

    #[test]
    fn control_bytes_are_refused() {
        assert_eq!(rejected("/a%00b"), PathRejection::NulByte);
        assert_eq!(rejected("/a\0b"), PathRejection::NulByte);
        assert_eq!(rejected("/a%0ab"), PathRejection::ControlChar);
        assert_eq!(rejected("/a%0d%0aSet-Cookie:x"), PathRejection::ControlChar);
        assert_eq!(rejected("/a\tb"), PathRejection::ControlChar);
        assert_eq!(rejected("/a%7f"), PathRejection::ControlChar);
        assert_eq!(rejected("/a%c2%85"), PathRejection::ControlChar);
    }

    #[test]
    fn bad_escapes_are_refused() {
        assert_eq!(rejected("/a%zz"), PathRejection::InvalidEscape);
        assert_eq!(rejected("/a%"), PathRejection::InvalidEscape);
        assert_eq!(rejected("/a%4"), PathRejection::InvalidEscape);
        assert_eq!(rejected("/a%4g"), PathRejection::InvalidEscape);
        assert_eq!(rejected("/%ff"), PathRejection::InvalidUtf8);
        assert_eq!(rejected("/%c3"), PathRejection::InvalidUtf8);
        // A bad escape in the query is not our concern: the query is dropped.
        assert_eq!(norm("/a?q=%zz"), "/a");
    }

    #[test]
    fn relative_targets_are_refused() {
        assert_eq!(rejected("api/admin"), PathRejection::NotAbsolute);
        assert_eq!(rejected("*"), PathRejection::NotAbsolute);
        assert_eq!(
            rejected("http://example.com/admin"),
            PathRejection::NotAbsolute
        );
    }

    #[test]
    fn utf8_is_kept_and_only_ascii_lowercased() {
        assert_eq!(norm("/%C3%89T%C3%A9"), "/Été");
        assert_eq!(norm("/caf%c3%a9"), "/café");
        assert_eq!(norm("/a%20b"), "/a b");
    }

    /// A small deterministic fuzz: no input panics, and accepted paths keep the
    /// invariants route matching relies on.
    #[test]
    fn arbitrary_inputs_keep_invariants() {
        const PIECES: &[&str] = &[
            "/", "//", "%", "%2", "%2e", "%2E", "%2f", "%5c", "%00", "%ff", "%c3", "%a9", ".",
            "..", "a", "A", "é", "\\", "\0", "\t", "?", "#", "%zz", "%25", " ", "*", ";", "%3b",
            "%2561",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = next() % 8;
            let mut input = String::new();
            for _ in 0..len {
                let index = usize::try_from(next() % PIECES.len() as u64).unwrap_or(0);
                input.push_str(PIECES[index]);
            }
            if let Ok(path) = normalize_path(&input) {
                assert!(path.as_str().starts_with('/'), "{input:?}");
                for segment in path.segments() {
                    assert!(!segment.is_empty(), "{input:?}");
                    assert!(segment != "." && segment != "..", "{input:?}");
                    assert!(!segment.contains(['/', '\\', ';', '%']), "{input:?}");
                    assert!(!segment.chars().any(|c| c.is_control()), "{input:?}");
                    assert!(
                        !segment.chars().any(|c| c.is_ascii_uppercase()),
                        "{input:?}"
                    );
                }
            }
            let _ = crate::policy::PathPattern::parse(&input);
            let _ = crate::policy::parse_policy(&input);
        }
    }

    /// The review's two bypasses of `/api/admin/*` in the demo policy: an
    /// app that strips matrix parameters, or decodes twice, routes them to
    /// admin, while warden matched them as other segments.
    #[test]
    fn matrix_parameters_and_double_encoding_are_refused() {
        assert_eq!(rejected("/api/admin;x/panel"), PathRejection::Semicolon);
        assert_eq!(rejected("/api/admin;/panel"), PathRejection::Semicolon);
        assert_eq!(rejected("/api/;/panel"), PathRejection::Semicolon);
        assert_eq!(rejected("/api/admin%3bx"), PathRejection::Semicolon);
        assert_eq!(
            rejected("/api/%2561dmin/panel"),
            PathRejection::DoubleEncoding
        );
        assert_eq!(rejected("/api/%25"), PathRejection::DoubleEncoding);
        assert_eq!(rejected("/api/%252e%252e/x"), PathRejection::DoubleEncoding);
        // In the query they are the app's business.
        assert_eq!(norm("/api/admin?a=1;b=%25"), "/api/admin");
        // A raw `%` is still an invalid escape, whatever the options.
        let all = PathOptions {
            allow_semicolons: true,
            allow_double_encoding: true,
        };
        assert_eq!(
            normalize_path_with("/a%zz", all),
            Err(PathRejection::InvalidEscape)
        );
    }

    #[test]
    fn options_allow_each_spelling_alone() {
        let semicolons = PathOptions {
            allow_semicolons: true,
            ..PathOptions::default()
        };
        assert_eq!(
            normalize_path_with("/api/admin;x/panel", semicolons)
                .unwrap()
                .as_str(),
            "/api/admin;x/panel"
        );
        assert_eq!(
            normalize_path_with("/api/%2561dmin", semicolons),
            Err(PathRejection::DoubleEncoding)
        );
        let double = PathOptions {
            allow_double_encoding: true,
            ..PathOptions::default()
        };
        // Decoded once, as the request line says: `%61dmin` is not `admin`.
        assert_eq!(
            normalize_path_with("/api/%2561dmin", double)
                .unwrap()
                .as_str(),
            "/api/%61dmin"
        );
        assert_eq!(
            normalize_path_with("/api/a;b", double),
            Err(PathRejection::Semicolon)
        );
    }

    #[test]
    fn reasons_are_fixed_text() {
        assert_eq!(rejected("/%2e%2e").reason(), "dot segment");
        assert_eq!(rejected("/a%2fb").to_string(), "encoded slash");
    }
}
