//! Authentication: who is calling, per the route's `auth` mode.
//!
//! Fails closed: a route whose mode needs an identity is refused unless a
//! verifier established one. `optional` proceeds anonymously when there is
//! no valid identity, as seed 000's `optionalAuth` does.
//!
//! Reads the route's `auth` (and `skip`) and hands the request to the auth
//! stage that serves the mode: each auth layer of the core declares its
//! modes (`PolicyLayer::AUTH_MODES`), and [`crate::stages::authenticate`]
//! lists the auth stages. Answers what they answer.

use crate::body::Inbound;
use crate::ctx::Ctx;
use crate::respond;
use spin_sdk::wasip3::http::types::{Request, Response};
use warden_core::base::auth_mode::AuthMode;
use warden_core::base::denial::Rejection;
use warden_core::base::layer::Layer;

/// Lets the request on (with its body read into `ctx.body`, when a verifier
/// needed the bytes) or answers it.
pub async fn check(ctx: &mut Ctx<'_>, request: Request) -> Result<Inbound, Response> {
    let Some(route) = ctx.route else {
        return Ok(Inbound::Streaming(request));
    };
    if route.skips(Layer::Auth) || route.auth == AuthMode::NONE {
        return Ok(Inbound::Streaming(request));
    }
    let request = match crate::stages::authenticate(ctx, route, request).await {
        Ok(verdict) => return verdict,
        Err(request) => request,
    };
    drop(request);
    // The core refuses a policy whose mode no built layer serves, so this
    // is never reached; if it were, refuse rather than pass.
    ctx.log(
        "auth_mode_not_built",
        &[("mode", route.auth.as_str().into())],
    );
    Err(respond::deny(ctx, Rejection::Internal))
}
