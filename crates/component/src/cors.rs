//! CORS: the adapter around `warden_core::cors`, which makes every decision.
//!
//! [`check`] runs before rate limiting and authentication: a preflight is
//! answered here with 204 and never reaches the inner app, nor counts against
//! the route's rate limit. For other requests it queues the CORS response
//! headers, or refuses a disallowed origin with 403 when the policy says so.

use crate::pipeline::Ctx;
use spin_sdk::wasip3::http::types::{ErrorCode, Fields, Response, Trailers};
use spin_sdk::wasip3::{spawn, wit_future};
use std::borrow::Cow;
use warden_core::config::WardenConfig;
use warden_core::cors::{self, CorsConfig, OriginCheck};
use warden_core::headers::REQUEST_ID_HEADER;
use warden_core::policy::{Layer, Route};

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
    let route = match request_method.filter(|_| preflight) {
        Some(method) => {
            let method = method.trim().to_ascii_uppercase();
            warden
                .policy
                .match_route(&method, &ctx.path)
                .map(|(_, route)| route)
                .or(ctx.route)
        }
        None => ctx.route,
    };
    let Some(config) = config_for(warden, route) else {
        return Ok(());
    };
    let decision = config.check_origin(&origins);

    if preflight {
        let headers = match &decision {
            OriginCheck::Allowed(origin) => config.preflight_headers(origin),
            _ => {
                log_disallowed(ctx, &origins, &config, true);
                if config.reject_disallowed {
                    return Err(refuse(ctx));
                }
                vec![("vary", "Origin, Access-Control-Request-Method".to_owned())]
            }
        };
        return Err(preflight_answer(ctx, headers));
    }

    match decision {
        OriginCheck::Allowed(origin) => queue(ctx, config.actual_headers(Some(&origin))),
        OriginCheck::Absent => queue(ctx, config.actual_headers(None)),
        OriginCheck::Disallowed => {
            log_disallowed(ctx, &origins, &config, false);
            let reject = config.reject_disallowed;
            queue(ctx, config.actual_headers(None));
            if reject {
                return Err(refuse(ctx));
            }
        }
    }
    Ok(())
}

/// Whether warden handles CORS for the request's route (so the app's own
/// `Access-Control-*` headers give way to warden's).
pub fn active(ctx: &Ctx<'_>) -> bool {
    config_for(ctx.config, ctx.route).is_some()
}

/// The route's CORS configuration, if CORS is on for it.
fn config_for<'c>(
    config: &'c WardenConfig,
    route: Option<&'c Route>,
) -> Option<Cow<'c, CorsConfig>> {
    let route = route?;
    if route.skips(Layer::Cors) {
        return None;
    }
    let cors = config.policy.cors.for_route(route.cors.as_ref());
    cors.is_enabled().then_some(cors)
}

fn queue(ctx: &mut Ctx<'_>, headers: Vec<(&'static str, String)>) {
    for (name, value) in headers {
        ctx.to_client.push((name.to_owned(), value.into_bytes()));
    }
}

fn refuse(ctx: &Ctx<'_>) -> Response {
    ctx.answer(cors::REJECTION_STATUS, cors::rejection_body())
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

/// The 204 for a preflight: no body, so no `content-length` or
/// `content-type` (RFC 9110 §8.6), and the headers every answer gets.
fn preflight_answer(ctx: &Ctx<'_>, cors_headers: Vec<(&'static str, String)>) -> Response {
    let headers = Fields::new();
    for (name, value) in &ctx.to_client {
        let _ = headers.append(name, value);
    }
    for (name, value) in cors_headers {
        let _ = headers.append(name, value.as_bytes());
    }
    let _ = headers.set(REQUEST_ID_HEADER, &[ctx.request_id.as_bytes().to_vec()]);
    let (trailers_tx, trailers_rx) =
        wit_future::new::<Result<Option<Trailers>, ErrorCode>>(|| Ok(None));
    let (response, transmitted) = Response::new(headers, None, trailers_rx);
    let _ = response.set_status_code(cors::PREFLIGHT_STATUS);
    spawn(async move {
        let _ = trailers_tx.write(Ok(None)).await;
        let _ = transmitted.await;
    });
    response
}
