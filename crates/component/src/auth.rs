//! Authentication: who is calling, per the route's `auth` mode.
//!
//! Fails closed: a route whose mode needs an identity is refused unless a
//! verifier established one. `optional` proceeds anonymously when there is
//! no valid identity, as seed 000's `optionalAuth` does.

use crate::forward::Inbound;
use crate::pipeline::Ctx;
use crate::{session, worker};
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
        AuthMode::Optional | AuthMode::Required => session::check(ctx, route)
            .await
            .map(|()| streaming(request)),
        AuthMode::Worker => worker::check(ctx, route, request).await,
    }
}
