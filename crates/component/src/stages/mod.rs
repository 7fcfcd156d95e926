//! The layers, one file each: thin adapters from the core's decisions to
//! host calls. Each reads the request's [`crate::ctx::Ctx`], answers through
//! [`crate::respond`] and reaches the host through [`crate::host`]; none
//! imports the pipeline, and they import each other only where one layer
//! dispatches to another (`auth` to `session` and `signature`).
//!
//! This file is the component's registry: the one place a stage is listed
//! (the pipeline then puts it in order), and, for an auth layer, the one
//! line that hands it the modes its core layer serves. A layer behind a
//! cargo feature is not compiled without it; the core refuses at startup a
//! policy that needs it.

#[cfg(feature = "api-key")]
pub mod api_key;
pub mod app_response;
pub mod auth;
#[cfg(feature = "cors")]
pub mod cors;
#[cfg(feature = "jwt")]
pub mod jwt;
#[cfg(feature = "rate-limit")]
pub mod rate_limit;
pub mod ready;
pub mod route;
#[cfg(feature = "security-headers")]
pub mod security_headers;
#[cfg(feature = "session")]
pub mod session;
#[cfg(feature = "signature")]
pub mod signature;

use crate::body::Inbound;
use crate::ctx::Ctx;
use spin_sdk::wasip3::http::types::{Request, Response};
#[allow(unused_imports)]
use warden_core::base::layer::PolicyLayer;
use warden_core::policy::Route;

/// Hands the request to the auth stage that serves the route's mode: its
/// verdict, or the request back when no built stage serves the mode.
#[allow(clippy::needless_return)]
pub async fn authenticate(
    ctx: &mut Ctx<'_>,
    route: &Route,
    request: Request,
) -> Result<Result<Inbound, Response>, Request> {
    let mode = route.auth;
    #[cfg(feature = "session")]
    if warden_core::layers::session::Sessions::AUTH_MODES.contains(&mode) {
        return Ok(session::check(ctx, route, request).await);
    }
    #[cfg(feature = "jwt")]
    if warden_core::layers::jwt::Jwt::AUTH_MODES.contains(&mode) {
        return Ok(jwt::check(ctx, route, request).await);
    }
    #[cfg(feature = "signature")]
    if warden_core::layers::signature::Signatures::AUTH_MODES.contains(&mode) {
        return Ok(signature::check(ctx, route, request).await);
    }
    #[cfg(feature = "api-key")]
    if warden_core::layers::api_key::ApiKeys::AUTH_MODES.contains(&mode) {
        return Ok(api_key::check(ctx, route, request).await);
    }
    let _ = (ctx, mode);
    Err(request)
}
