//! The policy document and settings, fed arbitrary text: configuration
//! comes from variables and files an operator (or a compromised deployment
//! pipeline) controls. It must be refused with problems, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::base::host_profile::HostFlavour;
use warden_core::config::{RawSettings, WardenConfig};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the flavour, so each flavour's host checks see
    // every policy too.
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let flavour = HostFlavour::ALL[usize::from(pick) % HostFlavour::ALL.len()];
    let doc = String::from_utf8_lossy(rest).into_owned();
    let _ = WardenConfig::build(RawSettings {
        policy: Some(doc),
        environment: Some("production".into()),
        worker_secret: Some("fuzz-only-worker-secret-0123456789abcdef".into()),
        flavour,
        ..RawSettings::default()
    });
});
