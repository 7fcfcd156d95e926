//! The idempotency layer's readers of outside input: the key header lines
//! (any bytes, repeated, under the header and its alias) and a stored slot
//! value (whatever another version, a corrupt store or an attacker with
//! store access left there). Neither may panic; an accepted key is within
//! its bounds; a decoded entry encodes back to an entry that decodes to
//! itself; the slot decision never panics on any value at any time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::layers::idempotency::decision::{complete_slot, decide_slot};
use warden_core::layers::idempotency::fingerprint::Fingerprinter;
use warden_core::layers::idempotency::key::{MAX_KEY_CHARS, parse_key, presented_key};
use warden_core::layers::idempotency::store::Entry;

const NAMES: [&str; 2] = ["idempotency-key", "x-idempotency-key"];
const SPELLINGS: [&str; 4] = ["Idempotency-Key", "x-idempotency-key", "IDEMPOTENCY-KEY", "other"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if let Ok(key) = parse_key(rest) {
        let k = key.as_str();
        assert!(!k.is_empty() && k.len() <= MAX_KEY_CHARS);
        assert!(k.bytes().all(|b| (0x20..0x7f).contains(&b)));
    }
    // Up to four lines, split at 0x00 bytes, each under a name the selector picks.
    let lines: Vec<(&str, &[u8])> = rest
        .split(|b| *b == 0)
        .take(4)
        .enumerate()
        .map(|(i, v)| (SPELLINGS[usize::from(selector >> (2 * i)) & 3], v))
        .collect();
    let _ = presented_key(&NAMES, &lines);

    if let Some(entry) = Entry::decode(rest) {
        let again = entry.encode();
        assert_eq!(Entry::decode(&again).as_ref(), Some(&entry));
    }
    let fingerprint = Fingerprinter::new("POST", "/a").finish();
    let now = u64::from(selector) << 24;
    let _ = decide_slot(Some(rest), &fingerprint, now);
    let _ = complete_slot(Some(rest), &[selector; 16]);
});
