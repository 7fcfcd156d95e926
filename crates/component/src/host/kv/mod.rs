//! The key-value store: the one place warden calls it, in the shape every
//! layer uses (get, set, delete, the sweep's listing, increment,
//! compare-and-swap), whichever host interface the flavour imports.
//!
//! - [`spin`] (`warden.wasm`): Spin's async `spin:key-value@3.0.0`, with
//!   `wasi:keyvalue@0.2.0-draft2` atomics behind an async probe;
//! - [`sync`] (`warden-wasmcloud.wasm`, `warden-minimal.wasm`): the sync
//!   `wasi:keyvalue` those hosts offer (`@0.2.0-draft` with `increment`, or
//!   `@0.2.0-draft2` store and batch only).
//!
//! A call a flavour cannot make (compare-and-swap without atomics) answers
//! [`StoreError::Failed`]; the policy refuses at startup every setting that
//! would make it (`warden_core::base::host_profile`), so no request reaches
//! one.

#[cfg(not(any(feature = "flavour-wasmcloud", feature = "flavour-minimal")))]
mod spin;
#[cfg(not(any(feature = "flavour-wasmcloud", feature = "flavour-minimal")))]
pub use spin::*;

#[cfg(any(feature = "flavour-wasmcloud", feature = "flavour-minimal"))]
mod sync;
#[cfg(any(feature = "flavour-wasmcloud", feature = "flavour-minimal"))]
pub use sync::*;
