//! Authentication: who is calling, per the route's `auth` mode.
//!
//! Fails closed: a route whose mode needs an identity is refused unless a
//! verifier established one. `optional` proceeds anonymously when there is
//! no valid identity, as seed 000's `optionalAuth` does.

use crate::pipeline::Ctx;
use spin_sdk::wasip3::http::types::{Request, Response};
use warden_core::policy::{AuthMode, Layer};
use warden_core::reject::Rejection;

/// Lets the request on (perhaps rebuilt, when a verifier read its body) or
/// answers it.
pub async fn check(ctx: &mut Ctx<'_>, request: Request) -> Result<Request, Response> {
    let Some(route) = ctx.route else {
        return Ok(request);
    };
    if route.skips(Layer::Auth) {
        return Ok(request);
    }
    match route.auth {
        AuthMode::None | AuthMode::Optional => Ok(request),
        // No verifier in this build yet: nobody can be authenticated.
        AuthMode::Required | AuthMode::Worker => {
            ctx.log("auth_failed", &[("reason", "no_verifier".into())]);
            Err(ctx.reject(Rejection::Unauthorized))
        }
    }
}
