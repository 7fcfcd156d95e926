//! Request ids: validating the client's and minting new ones.
//!
//! ```
//! use warden_core::http::request_id::{format_request_id, is_valid_request_id};
//!
//! assert!(is_valid_request_id("req-42.a~b=c_d"));
//! assert!(!is_valid_request_id("id with spaces"));
//! assert_eq!(format_request_id([0; 16]), "00000000-0000-4000-8000-000000000000");
//! ```
//!
//! A client-supplied `x-request-id` is kept only if it is short and made of
//! characters that cannot split a log line or a header, so it can be echoed and
//! logged verbatim. The core has no randomness: callers pass 16 random bytes in.

/// Longest accepted request id, in bytes.
pub const MAX_REQUEST_ID_LEN: usize = 255;

/// Whether `s` is 1 to 255 characters of `A-Z a-z 0-9 . _ ~ = -`.
pub fn is_valid_request_id(s: &str) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'=' | b'-'))
}

/// Formats 16 random bytes as a lowercase UUID version 4 (RFC 9562), setting the
/// version and variant bits.
pub fn format_request_id(random: [u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = random;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        assert!(!is_valid_request_id(""));
        assert!(is_valid_request_id("a"));
        assert!(is_valid_request_id(&"a".repeat(255)));
        assert!(!is_valid_request_id(&"a".repeat(256)));
    }

    #[test]
    fn characters() {
        assert!(is_valid_request_id("ABCxyz019._~=-"));
        assert!(is_valid_request_id("550e8400-e29b-41d4-a716-446655440000"));
        assert!(is_valid_request_id("dGVzdA=="));
        for bad in [
            " ",
            "a b",
            "a\tb",
            "a\nb",
            "a\r\nSet-Cookie: x",
            "a\0",
            "a/b",
            "a+b",
            "a,b",
            "a;b",
            "a:b",
            "a\"b",
            "a'b",
            "a<b>",
            "a%20",
            "é",
            "a\u{7f}",
            "{}",
        ] {
            assert!(!is_valid_request_id(bad), "{bad:?} accepted");
        }
        // 255 bytes of multi-byte characters are not 255 allowed characters.
        assert!(!is_valid_request_id(&"é".repeat(100)));
    }

    #[test]
    fn uuid_v4_format() {
        assert_eq!(
            format_request_id([0; 16]),
            "00000000-0000-4000-8000-000000000000"
        );
        assert_eq!(
            format_request_id([0xff; 16]),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
        let id = format_request_id([
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x0f, 0xed, 0xcb, 0xa9, 0x87, 0x65,
            0x43, 0x21,
        ]);
        assert_eq!(id, "12345678-9abc-4ef0-8fed-cba987654321");
        assert_eq!(id.len(), 36);
        assert!(is_valid_request_id(&id));
        for (i, c) in id.char_indices() {
            if matches!(i, 8 | 13 | 18 | 23) {
                assert_eq!(c, '-');
            } else {
                assert!(c.is_ascii_digit() || ('a'..='f').contains(&c), "{id}");
            }
        }
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }
}
