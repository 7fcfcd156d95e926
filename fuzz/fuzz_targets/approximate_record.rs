//! The approximate rate limiter's store record (the minimal flavour), fed
//! arbitrary bytes as another instance (or anyone with store access) might
//! have written them: the parser and the counters that merge it must never
//! panic, keep records bounded, and never lose the merged instance's count.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::layers::rate_limit::approximate::{
    ApproximateCounters, ApproximateSettings, InstanceId, MAX_RECORD_ENTRIES, Plan, encode_record,
    parse_record,
};

fuzz_target!(|data: &[u8]| {
    let entries = parse_record(data);
    assert!(entries.len() <= MAX_RECORD_ENTRIES);
    for (id, _) in &entries {
        assert_eq!(id.len(), 16);
    }
    // What is written reads back the same.
    let encoded = encode_record(&entries);
    assert!(encoded.len() <= MAX_RECORD_ENTRIES * 40);
    let mut again = parse_record(&encoded);
    let mut sorted = entries.clone();
    sorted.sort();
    again.sort();
    assert_eq!(again, sorted);

    // Merged by an instance: a read, then a sync; the record it writes is
    // bounded and holds its own count.
    let mut counters = ApproximateCounters::new(
        InstanceId::from_bytes(data),
        ApproximateSettings::default(),
        0,
    );
    let read = counters.count("k", 60, Plan::Read, Some(data), 0);
    assert!(read.write.is_none());
    let plan = counters.plan("k", 100, 1_000);
    let synced = counters.count("k", 60, plan, Some(data), 1_000);
    assert!(synced.estimate >= synced.local);
    if let Some(record) = synced.write {
        assert!(record.len() <= MAX_RECORD_ENTRIES * 40);
        let own = counters.instance().as_str().to_owned();
        let written = parse_record(&record);
        assert!(written.len() <= MAX_RECORD_ENTRIES);
        assert!(
            written
                .iter()
                .any(|(id, n)| (*id == own && *n >= synced.local) || id == "0000000000000000")
        );
    }
});
