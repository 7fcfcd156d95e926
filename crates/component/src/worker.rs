//! Service-to-service request signatures: not built yet.
//!
//! Until they are, no signature can be verified, so every request to a
//! `worker` route is refused (fail closed).

use crate::pipeline::Ctx;
use spin_sdk::wasip3::http::types::{Request, Response};
use warden_core::policy::Route;
use warden_core::reject::Rejection;

pub async fn check(
    ctx: &mut Ctx<'_>,
    _route: &Route,
    _request: Request,
) -> Result<Request, Response> {
    ctx.log("auth_failed", &[("reason", "no_verifier".into())]);
    Err(ctx.reject(Rejection::Unauthorized))
}
