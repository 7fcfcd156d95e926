//! Session authentication (Better Auth sessions): not built yet.
//!
//! Until it is, no session can be verified: `required` routes are refused
//! (fail closed) and `optional` routes proceed anonymously.

use crate::pipeline::Ctx;
use spin_sdk::wasip3::http::types::Response;
use warden_core::policy::{AuthMode, Route};
use warden_core::reject::Rejection;

pub async fn check(ctx: &mut Ctx<'_>, route: &Route) -> Result<(), Response> {
    match route.auth {
        AuthMode::Required => {
            ctx.log("auth_failed", &[("reason", "no_verifier".into())]);
            Err(ctx.reject(Rejection::Unauthorized))
        }
        _ => Ok(()),
    }
}
