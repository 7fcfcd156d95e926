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
#[cfg(feature = "body")]
pub mod body;
#[cfg(feature = "cors")]
pub mod cors;
#[cfg(feature = "csrf")]
pub mod csrf;
#[cfg(feature = "idempotency")]
pub mod idempotency;
#[cfg(feature = "jwt")]
pub mod jwt;
#[cfg(feature = "lockout")]
pub mod lockout;
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
pub mod timeout;

use crate::body::Inbound;
use crate::ctx::Ctx;
use spin_sdk::wasip3::http::types::{Request, Response};
use warden_core::base::auth_mode::AuthMode;
#[allow(unused_imports)]
use warden_core::base::layer::PolicyLayer;
use warden_core::policy::Route;

/// Hands the request to the auth stage that serves the route's mode: its
/// verdict, or the request back when no built stage serves the mode. A
/// route that accepts several credentials (`auth = [...]`) goes to the
/// stage of the first one the request presents; a presented credential
/// that fails is refused by its stage, never passed on to the next kind.
#[allow(clippy::needless_return)]
pub async fn authenticate(
    ctx: &mut Ctx<'_>,
    route: &Route,
    request: Request,
) -> Result<Result<Inbound, Response>, Request> {
    let mode = presented(ctx, route);
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

/// The route's mode whose credential the request presents first (in the
/// route's order); the route's first mode when it presents none, so that
/// stage answers the 401. One line per auth stage that can share a route.
#[allow(unused_variables)]
fn presented(ctx: &Ctx<'_>, route: &Route) -> AuthMode {
    if route.also.is_empty() {
        return route.auth;
    }
    let presents = |mode: AuthMode| -> bool {
        #[cfg(feature = "session")]
        if warden_core::layers::session::Sessions::AUTH_MODES.contains(&mode) {
            return session::presents(ctx);
        }
        #[cfg(feature = "jwt")]
        if warden_core::layers::jwt::Jwt::AUTH_MODES.contains(&mode) {
            let settings = ctx.config.policy.sections.jwt.for_route(&route.keys.jwt);
            let cookies = jwt::cookie_pairs(&ctx.incoming);
            return warden_core::layers::jwt::find_token(
                &settings.token_sources,
                |name| ctx.header(name),
                |name| cookies.iter().find(|(n, _)| *n == name).map(|(_, v)| *v),
            )
            .is_some();
        }
        #[cfg(feature = "api-key")]
        if warden_core::layers::api_key::ApiKeys::AUTH_MODES.contains(&mode) {
            // A malformed key is a presented one: its stage refuses it.
            let config = &ctx.config.policy.sections.api_keys;
            return !matches!(
                warden_core::layers::api_key::extract::extract(config, &ctx.incoming),
                Ok(None)
            );
        }
        false
    };
    route
        .auth_modes()
        .find(|mode| presents(*mode))
        .unwrap_or(route.auth)
}
