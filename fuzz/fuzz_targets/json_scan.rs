//! The body layer's JSON scanner, fed arbitrary bytes: it never panics, and
//! the verdict never depends on how the body was chunked. The first byte
//! picks the limits (strict, tight or loose) and the split points come
//! from the next bytes, so libFuzzer explores both. serde_json is the
//! reference for what is JSON, in both directions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::layers::body::json_scan::{JsonLimits, JsonRefusal, Scanner};

fn verdict(limits: JsonLimits, chunks: &[&[u8]]) -> Result<(), JsonRefusal> {
    let mut scanner = Scanner::new(limits);
    for chunk in chunks {
        scanner.feed(chunk)?;
    }
    scanner.finish()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let limits = match selector % 3 {
        0 => JsonLimits::STRICT,
        1 => JsonLimits {
            max_depth: 3,
            max_array_items: 4,
            max_string_chars: 5,
            max_object_keys: 3,
            max_total_keys: Some(6),
            refuse_nul: true,
        },
        _ => JsonLimits {
            max_depth: 100, // under serde_json's recursion limit (128)
            max_array_items: u64::MAX,
            max_string_chars: u64::MAX,
            max_object_keys: u64::MAX,
            max_total_keys: None,
            refuse_nul: false,
        },
    };
    // Up to four split points from the next bytes, the rest is the document.
    let cuts = usize::from(selector / 3 % 5).min(rest.len());
    let (points, document) = rest.split_at(cuts);
    let whole = verdict(limits, &[document]);

    let mut at: Vec<usize> = points
        .iter()
        .map(|p| usize::from(*p) * document.len() / 255)
        .collect();
    at.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in at {
        chunks.push(&document[start..cut]);
        start = cut;
    }
    chunks.push(&document[start..]);
    assert_eq!(verdict(limits, &chunks), whole, "split at {chunks:?}");

    // One byte at a time.
    let bytes: Vec<&[u8]> = document.chunks(1).collect();
    assert_eq!(verdict(limits, &bytes), whole, "byte by byte");

    // What the scanner accepts, serde_json accepts (it is no stricter than
    // RFC 8259, save for lone surrogates, which the scanner also refuses).
    // And the other way: with the loose limits, what serde_json reads into
    // a Value (it refuses lone surrogates, raw control characters and bad
    // UTF-8 as well), the scanner accepts.
    if selector % 3 == 2 && serde_json::from_slice::<serde_json::Value>(document).is_ok() {
        assert_eq!(whole, Ok(()), "refused what serde_json accepts");
    }
    if whole.is_ok() {
        assert!(
            serde_json::from_slice::<serde::de::IgnoredAny>(document).is_ok(),
            "accepted what serde_json refuses"
        );
    }
});
