//! CSRF on cookie-authenticated routes: the adapter of
//! `warden_core::layers::csrf`, whose `check` makes the decision.
//!
//! Runs after CORS (a preflight is answered there and never reaches here)
//! and before the rate limit and authentication: it reads only the
//! request's head, so a cross-site request is refused before any store is
//! asked about it. The route's guard (on by default where its auth reads a
//! cookie; its trusted origins) was built with the configuration
//! (`RouteSettings::csrf`). No host port. Answers 403 `CSRF_REJECTED` and
//! logs `csrf_refused` with the `reason` and the `origin` (not a secret).

use crate::ctx::Ctx;
use crate::respond;
use spin_sdk::wasip3::http::types::{Response, Scheme};
use warden_core::layers::csrf::{self, CsrfRequest};

/// Refuses a cross-site request with an unsafe method on a guarded route.
pub fn check(ctx: &Ctx<'_>) -> Result<(), Response> {
    let Some(guard) = ctx.route_settings.and_then(|s| s.csrf.as_ref()) else {
        return Ok(());
    };
    if csrf::is_safe_method(&ctx.method) {
        return Ok(());
    }
    // Every line of each field, so that a repeated one is seen.
    let lines = |name: &str| -> Vec<&[u8]> {
        ctx.incoming
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .collect()
    };
    let request = CsrfRequest {
        method: &ctx.method,
        sec_fetch_site: lines("sec-fetch-site"),
        origin: lines("origin"),
        authority: ctx.authority.as_deref(),
        https: matches!(ctx.scheme, Some(Scheme::Https)),
    };
    csrf::check(guard, &request).map_err(|refusal| {
        ctx.log(
            "csrf_refused",
            &[
                ("reason", refusal.reason.as_str().into()),
                ("origin", refusal.origin.as_str().into()),
            ],
        );
        respond::deny(ctx, refusal)
    })
}
