//! The warden component: a WASI 0.3 HTTP middleware.
//!
//! It exports `wasi:http/handler@0.3.0` and imports the same interface for the
//! inner app ("next"). Spin 4.1+ wires it in front of an app with
//! `dependencies.middleware`; `wac plug warden.wasm --plug app.wasm` composes
//! it ahead of time. Either way it imports Spin's key-value, SQLite and
//! variables interfaces, so it runs where those exist (Spin, the project's
//! local host), not on every WASI 0.3 host.
//!
//! All decisions come from `warden_core`; this crate only adapts the host
//! APIs: it reads configuration ([`settings`]), moves requests and responses
//! between the client and the inner app ([`forward`]), and answers with
//! warden's own JSON errors ([`respond`]).

mod auth;
mod cors;
mod forward;
mod headers;
mod next;
mod pipeline;
mod rate_limit;
mod ready;
mod respond;
mod session;
mod settings;
mod sweep;
mod worker;

use spin_sdk::wasip3::http::types::{ErrorCode, Request, Response};

struct Warden;

spin_sdk::wasip3::http::service::export!(Warden);

impl spin_sdk::wasip3::exports::http::handler::Guest for Warden {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        match pipeline::handle(request).await {
            forward::Answer::PassedThrough(response) => Ok(response),
            forward::Answer::Written(response) => {
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
