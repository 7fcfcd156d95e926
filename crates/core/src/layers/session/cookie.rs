//! Reading one cookie out of `Cookie` request headers (RFC 6265 §4.2).
//!
//! ```
//! use warden_core::layers::session::cookie::{find_cookie, percent_decode};
//!
//! let headers: [&[u8]; 2] = [b"theme=dark; better-auth.session_token=abc.s%2Fg%3D", b"x=1"];
//! let raw = find_cookie(&headers, "better-auth.session_token").unwrap();
//! assert_eq!(raw, b"abc.s%2Fg%3D");
//! assert_eq!(percent_decode(raw).unwrap(), "abc.s/g=");
//! assert_eq!(find_cookie(&headers, "missing"), None);
//! ```
//!
//! Parsing is defensive: any bytes at all are accepted and never trap; a
//! pair without `=` is skipped; names compare exactly (cookie names are case
//! sensitive); a value wrapped in double quotes is unwrapped. When the same
//! name appears more than once, the first occurrence wins, as browsers send
//! the cookie with the most specific path first.

use crate::base::digest::hex_value;

/// The raw (still percent-encoded) value of the first cookie called `name`
/// across every `Cookie` header value, in order.
pub fn find_cookie<'a>(headers: &[&'a [u8]], name: &str) -> Option<&'a [u8]> {
    find_cookies(headers, name).next()
}

/// Every raw value of the cookies called `name`, in the order sent. A
/// browser sends several when cookies of one name were set for different
/// paths or domains, one of them possibly planted by a sibling subdomain.
pub fn find_cookies<'a, 'n>(
    headers: &'n [&'a [u8]],
    name: &'n str,
) -> impl Iterator<Item = &'a [u8]> + 'n {
    headers
        .iter()
        .flat_map(|header| header.split(|b| *b == b';'))
        .filter_map(move |pair| {
            let eq = pair.iter().position(|b| *b == b'=')?;
            let (n, v) = (&pair[..eq], &pair[eq + 1..]);
            (trim(n) == name.as_bytes()).then_some(v)
        })
        .map(|v| unquote(trim(v)))
}

/// Decodes `%XX` escapes, as JavaScript's `decodeURIComponent` does (a `+`
/// stays a `+`). `None` for a broken escape or a result that is not UTF-8.
pub fn percent_decode(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hi = hex_value(*raw.get(i + 1)?)?;
            let lo = hex_value(*raw.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !matches!(c, b' ' | b'\t'));
    let end = b.iter().rposition(|c| !matches!(c, b' ' | b'\t'));
    match (start, end) {
        (Some(s), Some(e)) => &b[s..=e],
        _ => &[],
    }
}

fn unquote(b: &[u8]) -> &[u8] {
    match b {
        [b'"', inner @ .., b'"'] => inner,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_among_many() {
        let h: [&[u8]; 1] = [b"a=1;b=2 ;  c = 3 ;d=\"4\";e=;f"];
        assert_eq!(find_cookie(&h, "a"), Some(&b"1"[..]));
        assert_eq!(find_cookie(&h, "b"), Some(&b"2"[..]));
        assert_eq!(find_cookie(&h, "c"), Some(&b"3"[..]));
        assert_eq!(find_cookie(&h, "d"), Some(&b"4"[..]));
        assert_eq!(find_cookie(&h, "e"), Some(&b""[..]));
        assert_eq!(find_cookie(&h, "f"), None);
        assert_eq!(find_cookie(&h, "A"), None, "names are case sensitive");
        assert_eq!(find_cookie(&h, ""), None);
    }

    #[test]
    fn first_occurrence_and_several_headers() {
        let h: [&[u8]; 2] = [b"x=1; s=first", b"s=second"];
        assert_eq!(find_cookie(&h, "s"), Some(&b"first"[..]));
        let h: [&[u8]; 2] = [b"x=1", b"s=second"];
        assert_eq!(find_cookie(&h, "s"), Some(&b"second"[..]));
        assert_eq!(find_cookie(&[], "s"), None);
        let h: [&[u8]; 2] = [b"s=1; x=2; s=\"3\"", b"s=4"];
        let all: Vec<&[u8]> = find_cookies(&h, "s").collect();
        assert_eq!(all, [&b"1"[..], b"3", b"4"]);
    }

    #[test]
    fn names_with_dots_and_prefixes() {
        let h: [&[u8]; 1] = [b"better-auth.session_token=a; __Secure-better-auth.session_token=b"];
        assert_eq!(
            find_cookie(&h, "better-auth.session_token"),
            Some(&b"a"[..])
        );
        assert_eq!(
            find_cookie(&h, "__Secure-better-auth.session_token"),
            Some(&b"b"[..])
        );
    }

    #[test]
    fn hostile_bytes_never_trap() {
        let junk: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let h: [&[u8]; 3] = [&junk, b";;;===;\"", b"\xff\xfe=\x00"];
        let _ = find_cookie(&h, "s");
        let _ = percent_decode(&junk);
        assert_eq!(find_cookie(&[b"\"=\""], "\""), Some(&b"\""[..]));
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode(b"a%2Bb+c%3d").as_deref(), Some("a+b+c="));
        assert_eq!(percent_decode(b"%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode(b""), Some(String::new()));
        for bad in [&b"%"[..], b"%4", b"%zz", b"%C3", b"\xff", b"%%41"] {
            assert_eq!(percent_decode(bad), None, "{bad:?}");
        }
    }
}
