//! Which host warden was built for, and what that host's stores can do.
//!
//! The component ships in three flavours, one cargo feature each, because
//! the hosts differ in what their stores offer:
//!
//! | flavour | component | SQLite | key-value increment | key-value compare-and-swap |
//! |---|---|---|---|---|
//! | [`HostFlavour::Spin`] | `warden.wasm` | yes | yes | yes |
//! | [`HostFlavour::Wasmcloud`] | `warden-wasmcloud.wasm` | no | yes | no |
//! | [`HostFlavour::Minimal`] | `warden-minimal.wasm` | no | no | no |
//!
//! Every layer says which of these capabilities its configuration needs
//! ([`crate::base::layer::PolicyLayer::host_needs`]); building the
//! configuration refuses each need the flavour lacks, naming the field,
//! the capability and a flavour that has it. A policy never silently
//! loses a guarantee because the host cannot keep it.
//!
//! ```
//! use warden_core::base::host_profile::{Capability, HostFlavour};
//!
//! assert!(HostFlavour::Spin.offers(Capability::KeyValueCompareAndSwap));
//! assert!(HostFlavour::Wasmcloud.offers(Capability::KeyValueIncrement));
//! assert!(!HostFlavour::Minimal.offers(Capability::KeyValueIncrement));
//! assert_eq!(HostFlavour::Minimal.component(), "warden-minimal.wasm");
//! ```

use std::fmt;

/// A store capability some configuration needs and some hosts lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// The SQLite database `default` (Better Auth's tables, `jwks`,
    /// `api_keys`, `security_events`).
    Sqlite,
    /// An atomic key-value increment (`wasi:keyvalue/atomics.increment`):
    /// exact counters, replay detection, failure counts, sweep claims.
    KeyValueIncrement,
    /// An atomic key-value compare-and-swap (`wasi:keyvalue/atomics.cas`):
    /// idempotency slots, the session cache's per-user index.
    KeyValueCompareAndSwap,
    /// The client's address, set by the host (Spin's `spin-client-addr`):
    /// `client_ip = "peer"` for rate limits, lockout and the failed-credential
    /// throttles. Other hosts set no such header, so there any value of it
    /// came from the client.
    PeerAddress,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 4] = [
        Capability::Sqlite,
        Capability::KeyValueIncrement,
        Capability::KeyValueCompareAndSwap,
        Capability::PeerAddress,
    ];

    /// The capability as messages say it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Capability::Sqlite => "SQLite",
            Capability::KeyValueIncrement => "key-value increment",
            Capability::KeyValueCompareAndSwap => "key-value compare-and-swap",
            Capability::PeerAddress => "the client's address from the host (spin-client-addr)",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The host a component was built for (its cargo feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostFlavour {
    /// Spin (`warden.wasm`): SQLite, key-value with increment and
    /// compare-and-swap. Everything works.
    #[default]
    Spin,
    /// wasmCloud (`warden-wasmcloud.wasm`): key-value with increment, no
    /// compare-and-swap, no SQLite.
    Wasmcloud,
    /// Hosts with plain key-value only (`warden-minimal.wasm`, for Fermyon
    /// and Akamai Functions): get, set, delete, list; no atomics, no
    /// SQLite. Rate limits are approximate there
    /// (`layers::rate_limit::approximate`).
    Minimal,
}

impl HostFlavour {
    /// Every flavour, the fullest first.
    pub const ALL: [HostFlavour; 3] = [
        HostFlavour::Spin,
        HostFlavour::Wasmcloud,
        HostFlavour::Minimal,
    ];

    /// The flavour's name, as messages and the cargo feature
    /// (`flavour-<name>`, except Spin's, the default build) say it.
    pub fn name(&self) -> &'static str {
        match self {
            HostFlavour::Spin => "spin",
            HostFlavour::Wasmcloud => "wasmcloud",
            HostFlavour::Minimal => "minimal",
        }
    }

    /// The host platform, for "use … on …".
    fn platform(&self) -> &'static str {
        match self {
            HostFlavour::Spin => "Spin",
            HostFlavour::Wasmcloud => "wasmCloud",
            HostFlavour::Minimal => "Fermyon or Akamai Functions",
        }
    }

    /// The component file built for the flavour.
    pub fn component(&self) -> &'static str {
        match self {
            HostFlavour::Spin => "warden.wasm",
            HostFlavour::Wasmcloud => "warden-wasmcloud.wasm",
            HostFlavour::Minimal => "warden-minimal.wasm",
        }
    }

    /// Whether the flavour's host offers `capability`.
    pub fn offers(&self, capability: Capability) -> bool {
        match (self, capability) {
            (HostFlavour::Spin, _) => true,
            (HostFlavour::Wasmcloud, Capability::KeyValueIncrement) => true,
            (HostFlavour::Wasmcloud, _) => false,
            // Fermyon and Akamai Functions run Spin, which sets it.
            (HostFlavour::Minimal, Capability::PeerAddress) => true,
            (HostFlavour::Minimal, _) => false,
        }
    }

    /// Whether rate limits count with the approximate limiter (no atomic
    /// increment) rather than exactly.
    pub fn approximate_rate_limits(&self) -> bool {
        !self.offers(Capability::KeyValueIncrement)
    }

    /// The problem for `need` on this flavour, or `None` when it has it.
    pub fn refuse(&self, need: &HostNeed) -> Option<crate::base::problem::ConfigProblem> {
        if self.offers(need.capability) {
            return None;
        }
        let with: Vec<String> = HostFlavour::ALL
            .iter()
            .filter(|f| f.offers(need.capability))
            .map(|f| format!("{} on {}", f.component(), f.platform()))
            .collect();
        let instead = match need.capability {
            // A proxy in front of those hosts can say who the client is.
            Capability::PeerAddress => {
                ", or set it to the header your proxy sets (\"x-forwarded-for\", \"x-real-ip\", …)"
            }
            _ => "",
        };
        Some(crate::base::problem::ConfigProblem::new(
            need.field.clone(),
            format!(
                "needs {}, which the {} flavour ({}) does not have; use {}{instead}",
                need.capability,
                self.name(),
                self.component(),
                with.join(" or ")
            ),
        ))
    }
}

impl fmt::Display for HostFlavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One thing a policy needs of its host: the field that asks for it, and
/// the capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostNeed {
    /// The policy field, as problems name it (`routes[2].idempotency`,
    /// `session.source`).
    pub field: String,
    /// What it needs.
    pub capability: Capability,
}

impl HostNeed {
    /// `field` needs `capability`.
    pub fn new(field: impl Into<String>, capability: Capability) -> HostNeed {
        HostNeed {
            field: field.into(),
            capability,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flavour_offers_what_its_host_has() {
        use Capability::*;
        let table: Vec<(HostFlavour, Vec<bool>)> = HostFlavour::ALL
            .iter()
            .map(|f| (*f, Capability::ALL.iter().map(|c| f.offers(*c)).collect()))
            .collect();
        assert_eq!(
            table,
            [
                (HostFlavour::Spin, vec![true, true, true, true]),
                (HostFlavour::Wasmcloud, vec![false, true, false, false]),
                (HostFlavour::Minimal, vec![false, false, false, true]),
            ]
        );
        assert_eq!(HostFlavour::default(), HostFlavour::Spin);
        assert!(HostFlavour::Minimal.approximate_rate_limits());
        assert!(!HostFlavour::Wasmcloud.approximate_rate_limits());
        assert_eq!(Sqlite.to_string(), "SQLite");
    }

    #[test]
    fn a_refusal_names_the_field_the_capability_the_flavour_and_who_has_it() {
        let need = HostNeed::new("routes[2].idempotency", Capability::KeyValueCompareAndSwap);
        assert_eq!(HostFlavour::Spin.refuse(&need), None);
        assert_eq!(
            HostFlavour::Wasmcloud.refuse(&need).unwrap().to_string(),
            "routes[2].idempotency: needs key-value compare-and-swap, which the wasmcloud flavour (warden-wasmcloud.wasm) does not have; use warden.wasm on Spin"
        );
        let need = HostNeed::new("lockout", Capability::KeyValueIncrement);
        assert_eq!(
            HostFlavour::Minimal.refuse(&need).unwrap().message,
            "needs key-value increment, which the minimal flavour (warden-minimal.wasm) does not have; use warden.wasm on Spin or warden-wasmcloud.wasm on wasmCloud"
        );
    }
}
