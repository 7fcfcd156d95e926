//! The warden component: a WASI 0.3 HTTP middleware.
//!
//! It exports `wasi:http/handler@0.3.0` and imports the same interface for the
//! inner app ("next"). Spin 4.1+ wires it in front of an app with
//! `dependencies.middleware`; `wac plug warden.wasm --plug app.wasm` composes
//! it ahead of time. What else it imports is its flavour's, a cargo feature
//! (docs/portability.md): Spin's key-value, SQLite and variables by default
//! (`warden.wasm`); `wasi:keyvalue@0.2.0-draft` and `wasi:config@0.2.0-rc.1`
//! with `flavour-wasmcloud`; `wasi:keyvalue` store and batch and
//! `wasi:config` at Spin's versions with `flavour-minimal`. `wit/world.wit`
//! has a world for each.
//!
//! All decisions come from `warden_core`; this crate only adapts the host
//! APIs. From the top down:
//!
//! - [`pipeline`]: the ordered list of stages;
//! - [`stages`]: one file per layer, each a thin adapter from the core's
//!   decision to host calls (some behind cargo features; see Cargo.toml);
//! - below every layer: the request's context ([`ctx`]), warden's own
//!   answers ([`respond`]), the failed-credential throttle the credential
//!   stages share ([`failed_attempts`]), security events with their sampling
//!   and table ([`security_events`]), the request body read once ([`body`]), moving
//!   requests and responses between the client and the inner app
//!   ([`forward`]), the response builders both use ([`response`]);
//! - [`host`]: the only modules that touch Spin's host interfaces (the
//!   stores, variables and configuration, the inner app, clocks, random).

#[cfg(all(feature = "flavour-wasmcloud", feature = "flavour-minimal"))]
compile_error!("pick one flavour: `flavour-wasmcloud` or `flavour-minimal` (neither is Spin's)");

mod body;
mod ctx;
#[cfg(any(feature = "api-key", feature = "jwt", feature = "lockout"))]
mod failed_attempts;
mod forward;
mod host;
mod pipeline;
mod respond;
mod response;
mod security_events;
mod stages;

use spin_sdk::wasip3::http::types::{ErrorCode, Request, Response};

struct Warden;

spin_sdk::wasip3::http::service::export!(Warden);

impl spin_sdk::wasip3::exports::http::handler::Guest for Warden {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        match pipeline::handle(request).await {
            response::Answer::PassedThrough(response) => Ok(response),
            response::Answer::Written(response) => {
                settle_before_returning().await;
                Ok(response)
            }
        }
    }
}

/// A few turns back to the host before a response whose body warden wrote
/// (its own answers, a collected response) is returned, so that the body is
/// pending when the host starts sending the head.
///
/// Measured under Spin 4.1: with none, the head often leaves alone and the
/// body waits ~40 ms for the client's delayed ACK (Spin does not set
/// `TCP_NODELAY`); one turn fixed answers given without an earlier host
/// call, three also those given after one (a store write, a fresh instance's
/// configuration load). The app's own body stream, passed through, needs
/// none. `tests/spin` checks it; see docs/performance.md, "The stall".
async fn settle_before_returning() {
    for _ in 0..3 {
        spin_sdk::wasip3::wit_bindgen::yield_async().await;
    }
}
