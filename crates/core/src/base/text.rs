//! Small text helpers for input that comes from outside.
//!
//! ```
//! use warden_core::base::text::truncate_at_char_boundary;
//!
//! // "é" is two bytes: cutting at byte 2 would split it, so the cut moves back.
//! assert_eq!(truncate_at_char_boundary("aéb", 2), "a");
//! ```
//!
//! The component is built with `panic = "abort"`: one panic on a client's
//! bytes aborts the whole instance and every request in flight on it. Slicing
//! a `str` at a byte offset panics when the offset falls inside a multi-byte
//! character, so outside text is cut only through [`truncate_at_char_boundary`]
//! (or handled as bytes).
//!
//! A field may arrive as several field lines (`X-Forwarded-For` appended to
//! by each proxy); [`field_lines`] and [`combined_field`] see all of them, so
//! no layer reads the first line and misses the rest.

/// The longest prefix of `text` that is at most `max_bytes` long and ends on
/// a character boundary. Never panics, whatever `max_bytes` is.
pub fn truncate_at_char_boundary(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    // A UTF-8 character is at most 4 bytes, so a boundary is at most 3 back.
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Every field line of `name` in `headers`, in the order received (names
/// compare case-insensitively).
pub fn field_lines<'h>(headers: &'h [(String, Vec<u8>)], name: &str) -> Vec<&'h [u8]> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
        .collect()
}

/// The field's value as RFC 9110 §5.3 combines repeated field lines: each
/// line trimmed of surrounding spaces and tabs, joined in order with `", "`.
/// `None` when there is no line of that name.
pub fn combined_field(headers: &[(String, Vec<u8>)], name: &str) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    for line in field_lines(headers, name) {
        let line = trim_ows(line);
        match &mut out {
            None => out = Some(line.to_vec()),
            Some(all) => {
                all.extend_from_slice(b", ");
                all.extend_from_slice(line);
            }
        }
    }
    out
}

/// `bytes` without leading and trailing spaces and tabs (HTTP's OWS).
pub fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_combine_in_order() {
        let headers = vec![
            ("X-A".to_string(), b" one ".to_vec()),
            ("accept".to_string(), b"*/*".to_vec()),
            ("x-a".to_string(), b"two\t".to_vec()),
        ];
        assert_eq!(field_lines(&headers, "x-a"), [&b" one "[..], b"two\t"]);
        assert_eq!(combined_field(&headers, "X-A").unwrap(), b"one, two");
        assert_eq!(combined_field(&headers, "accept").unwrap(), b"*/*");
        assert_eq!(combined_field(&headers, "none"), None);
        assert!(field_lines(&headers, "none").is_empty());
    }

    #[test]
    fn cuts_never_split_a_character() {
        assert_eq!(truncate_at_char_boundary("", 0), "");
        assert_eq!(truncate_at_char_boundary("abc", 0), "");
        assert_eq!(truncate_at_char_boundary("abc", 2), "ab");
        assert_eq!(truncate_at_char_boundary("abc", 256), "abc");
        // 1, 2, 3 and 4 bytes long characters straddling every cut.
        for c in ['a', 'é', '€', '𝄞'] {
            for pad in 0..8 {
                let text = format!("{}{c}{c}", "x".repeat(pad));
                for max in 0..=text.len() + 1 {
                    let cut = truncate_at_char_boundary(&text, max);
                    assert!(cut.len() <= max, "{text:?} {max}");
                    assert!(text.starts_with(cut));
                    // Nothing longer would have fitted.
                    let next = text[cut.len()..].chars().next();
                    assert!(next.is_none_or(|n| cut.len() + n.len_utf8() > max));
                }
            }
        }
    }
}
