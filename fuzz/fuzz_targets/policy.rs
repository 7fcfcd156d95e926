//! The policy document and settings, fed arbitrary text: configuration
//! comes from variables and files an operator (or a compromised deployment
//! pipeline) controls. It must be refused with problems, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::config::{RawSettings, WardenConfig};

fuzz_target!(|data: &[u8]| {
    let doc = String::from_utf8_lossy(data).into_owned();
    let _ = WardenConfig::build(RawSettings {
        policy: Some(doc),
        environment: Some("production".into()),
        worker_secret: Some("fuzz-only-worker-secret-0123456789abcdef".into()),
        ..RawSettings::default()
    });
});
