//! Authentication: who is calling, per the route's `auth` mode.
//!
//! Fails closed: a route whose mode needs an identity is refused unless a
//! verifier established one. `optional` proceeds anonymously when there is
//! no valid identity, as seed 000's `optionalAuth` does.
//!
//! Reads the route's `auth` (and `skip`); dispatches to the session layer
//! (`optional`, `required`) or the signature layer (`worker`), which use
//! the host ports. Answers what they answer, or a 500 when the mode's layer
//! was not built into this warden (features `session`, `signature`).

use crate::body::Inbound;
use crate::ctx::Ctx;
#[cfg(not(all(feature = "session", feature = "signature")))]
use crate::respond;
#[cfg(feature = "session")]
use crate::stages::session;
#[cfg(feature = "signature")]
use crate::stages::signature;
use spin_sdk::wasip3::http::types::{Request, Response};
use warden_core::policy::{AuthMode, Layer};

/// Lets the request on (with its body read into `ctx.body`, when a verifier
/// needed the bytes) or answers it.
pub async fn check(ctx: &mut Ctx<'_>, request: Request) -> Result<Inbound, Response> {
    let streaming = Inbound::Streaming;
    let Some(route) = ctx.route else {
        return Ok(streaming(request));
    };
    if route.skips(Layer::Auth) {
        return Ok(streaming(request));
    }
    match route.auth {
        AuthMode::None => Ok(streaming(request)),
        #[cfg(feature = "session")]
        AuthMode::Optional | AuthMode::Required => session::check(ctx, route)
            .await
            .map(|()| streaming(request)),
        #[cfg(not(feature = "session"))]
        AuthMode::Optional | AuthMode::Required => Err(respond::layer_not_built(ctx, "session")),
        #[cfg(feature = "signature")]
        AuthMode::Worker => signature::check(ctx, route, request).await,
        #[cfg(not(feature = "signature"))]
        AuthMode::Worker => Err(respond::layer_not_built(ctx, "signature")),
    }
}
