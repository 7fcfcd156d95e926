//! The per-request pipeline: the ordered list of stages, nothing else.
//!
//! ```text
//! request id → config → header limits → path + route
//!   → CORS preflight → IP rate limit → authentication → user rate limit
//!   → body limits (declared length, media type; then each chunk as it
//!     streams to the app) → inner app → response headers (security, CORS, rate limit, request id)
//! ```
//!
//! Cheap checks run before expensive ones (DESIGN §6): the per-IP limit runs
//! before any session lookup or signature check. Every answer, warden's own
//! refusals included ([`crate::respond`]), carries the layers' response
//! headers (`Ctx::to_client`), so a 401, a 429 or a 502 has the same
//! security, CORS and rate-limit headers as a 200.
//!
//! Each stage either lets the request on (possibly adding headers for the
//! app or the client) or answers it: `Err(response)` below. A stage whose
//! cargo feature is off is not compiled and not run; the core refuses, at
//! startup, a policy that needs it, so no request passes a missing layer.

use crate::body::Inbound;
use crate::ctx::{self, Ctx};
use crate::forward::{self, BrokenFraming};
use crate::host::{next, settings};
use crate::respond;
use crate::response::Answer;
use crate::security_events;
#[cfg(feature = "body")]
use crate::stages::body;
#[cfg(feature = "cors")]
use crate::stages::cors;
#[cfg(feature = "rate-limit")]
use crate::stages::rate_limit::{self, Stage};
use crate::stages::route::{self, Routed};
#[cfg(feature = "security-headers")]
use crate::stages::security_headers;
#[cfg(feature = "session")]
use crate::stages::session;
use crate::stages::{app_response, auth, ready};
use spin_sdk::wasip3::http::types::{ErrorCode, Method, Request, Response};
use warden_core::base::denial::Rejection;
use warden_core::policy::Unmatched;

/// The header that tells the inner app which policy route matched.
const ROUTE_HEADER: &str = "x-warden-route";

pub async fn handle(request: Request) -> Answer {
    let answer = match run(request).await {
        Ok(answer) => answer,
        Err(response) => Answer::Written(response),
    };
    // A due batch of security events goes to their table now, in the
    // request, rather than in a task the host could drop with the instance
    // (nothing happens when none is due).
    security_events::write_due().await;
    answer
}

async fn run(request: Request) -> Result<Answer, Response> {
    let incoming = request.get_headers().copy_all();
    let (request_id, spare_random) = ctx::request_id(&incoming);

    let loaded = settings::get().await;
    let Ok(config) = loaded.as_ref() else {
        return Err(respond::early_deny(Rejection::ConfigInvalid, &request_id));
    };
    // Security-event summaries whose window is over are written, and a
    // table batch that has waited long enough becomes due (nothing is read
    // when nothing waits).
    security_events::tick();

    let Routed {
        mut ctx,
        ready,
        method,
        path_with_query,
    } = route::begin(config, &request, incoming, request_id, spare_random)?;

    if ready {
        #[cfg(feature = "rate-limit")]
        rate_limit::check(&mut ctx, Stage::BeforeAuth).await?;
        return Ok(Answer::Written(ready::check(&ctx).await));
    }

    // Security and CORS headers first, so that every answer below carries
    // them; a CORS preflight is answered here, before any rate limit or
    // authentication, and never reaches the app.
    #[cfg(feature = "security-headers")]
    security_headers::prepare(&mut ctx);
    if ctx.route.is_none() && config.policy.settings.unmatched == Unmatched::Deny {
        ctx.log(
            "unmatched_denied",
            &[("method", ctx.method.as_str().into())],
        );
        return Err(respond::deny(&ctx, Rejection::NotFound));
    }
    #[cfg(feature = "cors")]
    cors::check(&mut ctx)?;

    // Layers. Each either lets the request on (possibly adding headers for
    // the app or the client) or answers it.
    #[cfg(feature = "rate-limit")]
    rate_limit::check(&mut ctx, Stage::BeforeAuth).await?;
    let inbound = auth::check(&mut ctx, request).await?;
    #[cfg(feature = "rate-limit")]
    rate_limit::check(&mut ctx, Stage::AfterAuth).await?;

    // Session revocation is answered by warden itself, only past the route's
    // layers (the policy requires a worker route for it).
    #[cfg(feature = "session")]
    if is_revoke(&ctx) {
        drop(inbound);
        return Ok(Answer::Written(session::revoke(&ctx).await));
    }

    // Body limits last before the app: a signed route's body, read whole
    // by the signature stage, is judged here; any other is guarded as it
    // streams (docs/hardening.md).
    #[cfg(feature = "body")]
    let guard = body::check(&ctx, &inbound)?;
    #[cfg(not(feature = "body"))]
    let guard = None::<()>;

    inner_app(ctx, inbound, guard, method, path_with_query).await
}

#[cfg(feature = "body")]
type Guard = Option<body::Streamed>;
#[cfg(not(feature = "body"))]
type Guard = Option<()>;

/// The last stage: the request goes to the inner app, and its response
/// comes back with warden's headers. An app that fails, or breaks its own
/// framing, is answered 502 by warden, with the headers every answer gets.
async fn inner_app(
    mut ctx: Ctx<'_>,
    inbound: Inbound,
    guard: Guard,
    method: Method,
    path_with_query: Option<String>,
) -> Result<Answer, Response> {
    let mut to_app = std::mem::take(&mut ctx.to_app);
    to_app.push((
        ROUTE_HEADER.to_owned(),
        ctx.route_name().as_bytes().to_vec(),
    ));
    let outgoing = forward::Outgoing {
        method,
        scheme: ctx.scheme.clone(),
        authority: ctx.authority.clone(),
        path_with_query,
        // No layer reads the client's headers past this point.
        headers: forward::forwarded_headers(
            std::mem::take(&mut ctx.incoming),
            &ctx.request_id,
            to_app,
        ),
    };
    #[cfg(feature = "body")]
    let (inspect, watch) = match guard {
        Some(guard) => {
            let (inspect, watch) = body::inspector(&ctx, guard);
            (Some(inspect), Some(watch))
        }
        None => (None, None),
    };
    #[cfg(not(feature = "body"))]
    let inspect: Option<forward::Inspect> = guard.and(None);
    let forwarded = match forward::request(inbound, ctx.body.take(), outgoing, inspect) {
        Ok(forwarded) => forwarded,
        Err(e) => {
            ctx.log("forward_failed", &[("error", format!("{e:?}").into())]);
            return Err(respond::deny(&ctx, Rejection::BadRequest));
        }
    };

    #[cfg(feature = "body")]
    let answered = match watch {
        Some(watch) => body::race(&ctx, watch, next::handle(forwarded)).await?,
        None => next::handle(forwarded).await,
    };
    #[cfg(not(feature = "body"))]
    let answered = next::handle(forwarded).await;
    let inner = match answered {
        Ok(response) => response,
        Err(e) => {
            ctx.log("inner_app_failed", &[("error", format!("{e:?}").into())]);
            return Err(respond::deny(&ctx, Rejection::BadGateway));
        }
    };
    let mut headers = inner.get_headers().copy_all();
    // The one check spin-sdk's response conversion made that the host does
    // not, with its messages (warden calls the import directly; see
    // `host::next`).
    if let Err(e) = forward::content_length(&headers) {
        ctx.log(
            "inner_app_failed",
            &[(
                "error",
                format!("{:?}", ErrorCode::InternalError(Some(e))).into(),
            )],
        );
        return Err(respond::deny(&ctx, Rejection::BadGateway));
    }
    app_response::prepare(&ctx, &mut headers);
    let head = ctx.method == "HEAD";
    let buffer_limit = ctx.config.policy.settings.response_buffer_limit;
    match forward::response(inner, headers, buffer_limit, head).await {
        Ok(answer) => Ok(answer),
        Err(BrokenFraming) => Err(respond::deny(&ctx, Rejection::BadGateway)),
    }
}

/// `POST <[session] revoke_path>`: warden's own endpoint.
#[cfg(feature = "session")]
fn is_revoke(ctx: &Ctx<'_>) -> bool {
    ctx.method == "POST"
        && ctx.config.policy.sections.session.revoke_path.as_ref() == Some(&ctx.path)
}
