//! The host: the only modules that touch Spin's host interfaces and the WIT
//! imports (key-value, SQLite, variables, the inner app, outbound HTTP,
//! clocks, random).
//! Everything above goes through these, so a port to another host, or a
//! test double, replaces this directory and nothing else.

/// The host flavour this component was built for, from its cargo feature
/// (`flavour-wasmcloud`, `flavour-minimal`; neither: Spin).
pub const FLAVOUR: warden_core::base::host_profile::HostFlavour =
    if cfg!(feature = "flavour-minimal") {
        warden_core::base::host_profile::HostFlavour::Minimal
    } else if cfg!(feature = "flavour-wasmcloud") {
        warden_core::base::host_profile::HostFlavour::Wasmcloud
    } else {
        warden_core::base::host_profile::HostFlavour::Spin
    };

pub mod clock;
pub mod deadline;
pub mod http_client;
pub mod kv;
pub mod next;
pub mod random;
pub mod settings;
pub mod sql;
#[cfg(any(
    feature = "rate-limit",
    feature = "signature",
    feature = "api-key",
    feature = "idempotency",
    feature = "lockout"
))]
pub mod sweep;
