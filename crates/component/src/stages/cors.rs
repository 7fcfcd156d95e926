//! CORS: the adapter around `warden_core::layers::cors`, whose `decide`
//! makes every decision; this file picks the route and answers.
//!
//! [`check`] runs before rate limiting and authentication: a preflight is
//! answered here with 204 and never reaches the inner app, nor counts against
//! the route's rate limit. For other requests it queues the CORS response
//! headers, or refuses a disallowed origin with 403 when the policy says so.
//!
//! Reads the route's `cors` settings (merged at load; for a preflight, those
//! of the route the announced method will match). No host port. Answers the
//! preflight's 204 and the disallowed origin's 403 (`respond`); queues the
//! CORS response headers in `Ctx::to_client`. Whether CORS is active on the
//! route (for the app response's merge) is `Ctx::cors_active`.

use crate::ctx::Ctx;
use crate::respond;
use spin_sdk::wasip3::http::types::Response;
use warden_core::config::WardenConfig;
use warden_core::layers::cors::{self, CorsConfig, CorsDecision};

/// Longest origin written to the log.
const LOGGED_ORIGIN_CHARS: usize = 200;

/// Answers a preflight, refuses a disallowed origin (`reject_disallowed`),
/// or queues the CORS headers and lets the request on.
pub fn check(ctx: &mut Ctx<'_>) -> Result<(), Response> {
    let origins: Vec<String> = ctx
        .incoming
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("origin"))
        // A value that is not UTF-8 cannot be an origin: it stays, as "", so
        // that it is refused rather than ignored.
        .map(|(_, value)| String::from_utf8(value.clone()).unwrap_or_default())
        .collect();
    let origins: Vec<&str> = origins.iter().map(String::as_str).collect();
    let request_method = ctx.header("access-control-request-method");
    let preflight = cors::is_preflight(&ctx.method, !origins.is_empty(), request_method.is_some());

    // A preflight asks about the request that would follow: use the route
    // that request will match (a route may list only POST, say).
    let warden: &WardenConfig = ctx.config;
    let settings = match request_method.filter(|_| preflight) {
        Some(method) => {
            let method = method.trim().to_ascii_uppercase();
            warden
                .policy
                .match_route(&method, &ctx.path)
                .map(|(index, _)| &warden.route_settings[index])
                .or(ctx.route_settings)
        }
        None => ctx.route_settings,
    };
    let Some(config) = settings.and_then(|s| s.cors.as_ref()) else {
        return Ok(());
    };
    let (decision, disallowed) = cors::decide(config, &origins, preflight);
    if disallowed {
        log_disallowed(ctx, &origins, config, preflight);
    }
    match decision {
        CorsDecision::AnswerPreflight(headers) => {
            Err(respond::preflight(ctx, cors::PREFLIGHT_STATUS, headers))
        }
        CorsDecision::Refuse(denial, headers) => {
            queue(ctx, headers);
            Err(respond::deny(ctx, denial))
        }
        CorsDecision::Continue(headers) => {
            queue(ctx, headers);
            Ok(())
        }
    }
}

fn queue(ctx: &mut Ctx<'_>, headers: Vec<(&'static str, String)>) {
    for (name, value) in headers {
        ctx.to_client.push((name.to_owned(), value.into_bytes()));
    }
}

fn log_disallowed(ctx: &Ctx<'_>, origins: &[&str], config: &CorsConfig, preflight: bool) {
    let origin: String = origins
        .first()
        .map(|o| o.chars().take(LOGGED_ORIGIN_CHARS).collect())
        .unwrap_or_default();
    ctx.log(
        "cors_origin_disallowed",
        &[
            ("origin", origin.into()),
            ("origin_fields", origins.len().into()),
            ("preflight", preflight.into()),
            ("rejected", config.reject_disallowed.into()),
        ],
    );
}
