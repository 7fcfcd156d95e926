//! The per-request pipeline: the ordered list of stages, nothing else.
//!
//! ```text
//! request id → config → header limits → path + route
//!   → CORS preflight → CSRF (cookie-authenticated routes) → IP rate limit
//!   → declared body length → authentication → user rate limit
//!   → login lockout (a locked address or account refused; the app's
//!     answer counted after it) → idempotency key (a keyed body read whole)
//!   → body limits (declared length, media type; then each chunk as it
//!     streams to the app) → idempotency claim (or a replay)
//!   → inner app, within the route's timeout (→ idempotency record)
//!   → response headers (security, CORS, rate limit, request id)
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
#[cfg(feature = "csrf")]
use crate::stages::csrf;
#[cfg(feature = "idempotency")]
use crate::stages::idempotency;
#[cfg(feature = "lockout")]
use crate::stages::lockout;
#[cfg(feature = "rate-limit")]
use crate::stages::rate_limit::{self, Stage};
use crate::stages::route::{self, Routed};
#[cfg(feature = "security-headers")]
use crate::stages::security_headers;
#[cfg(feature = "session")]
use crate::stages::session;
use crate::stages::{app_response, auth, ready, timeout};
use spin_sdk::wasip3::http::types::{ErrorCode, Method, Request, Response};
use warden_core::base::denial::Rejection;
use warden_core::base::host_profile::Capability;
use warden_core::http::hop_by_hop;
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
    let mut incoming = request.get_headers().copy_all();
    if !crate::host::FLAVOUR.offers(Capability::PeerAddress) {
        // Only Spin sets `spin-*` headers: elsewhere a client sent them, and
        // neither warden nor the app may take them for the host's word.
        incoming.retain(|(name, _)| !hop_by_hop::is_host_set_header(name));
    }
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
        return Err(unmatched(&mut ctx));
    }
    #[cfg(feature = "cors")]
    cors::check(&mut ctx)?;
    // Reads only the head: a cross-site request is refused before any
    // store is asked about it.
    #[cfg(feature = "csrf")]
    csrf::check(&ctx)?;

    // Layers. Each either lets the request on (possibly adding headers for
    // the app or the client) or answers it.
    #[cfg(feature = "rate-limit")]
    rate_limit::check(&mut ctx, Stage::BeforeAuth).await?;
    #[cfg(feature = "body")]
    body::check_declared(&ctx)?;
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

    // A login route: a locked address or account is refused here, after
    // the cheap per-address limit and before the app (the account may be
    // in the body, read here whole and bounded), and before an
    // idempotency key is claimed; the app's answer is
    // counted in `inner_app`.
    #[cfg(feature = "lockout")]
    let (inbound, login) = lockout::check(&mut ctx, inbound).await?;
    #[cfg(not(feature = "lockout"))]
    let login = None::<()>;

    // An idempotency key is read before the body: a missing or invalid
    // one is refused before any byte is read. A keyed request's body is
    // read whole, since the fingerprint covers it (docs/idempotency.md).
    #[cfg(feature = "idempotency")]
    let keyed = idempotency::admit(&ctx)?;
    #[cfg(feature = "idempotency")]
    let inbound = match keyed {
        Some(_) => idempotency::read_body(&mut ctx, inbound).await?,
        None => inbound,
    };

    // Body limits last before the app: a body read whole (by the signature
    // or idempotency stage) is judged here; any other is guarded as it
    // streams (docs/hardening.md).
    #[cfg(feature = "body")]
    let guard = body::check(&ctx, &inbound)?;
    #[cfg(not(feature = "body"))]
    let guard = None::<()>;

    // The claim comes last, once nothing else can refuse the request: a
    // claim taken and then refused would make the client's retry wait.
    #[cfg(feature = "idempotency")]
    let held = match keyed {
        Some(keyed) => Some(idempotency::claim(&ctx, keyed).await?),
        None => None,
    };
    #[cfg(not(feature = "idempotency"))]
    let held = None::<()>;

    inner_app(ctx, inbound, guard, held, login, method, path_with_query).await
}

#[cfg(feature = "idempotency")]
type Held = Option<idempotency::Held>;
#[cfg(not(feature = "idempotency"))]
type Held = Option<()>;

#[cfg(feature = "body")]
type Guard = Option<body::Streamed>;
#[cfg(not(feature = "body"))]
type Guard = Option<()>;
#[cfg(feature = "lockout")]
type LoginAttempt = Option<lockout::Login>;
#[cfg(not(feature = "lockout"))]
type LoginAttempt = Option<()>;

/// The last stage: the request goes to the inner app, and its response
/// comes back with warden's headers. An app that fails, or breaks its own
/// framing, is answered 502 by warden, with the headers every answer gets.
async fn inner_app(
    mut ctx: Ctx<'_>,
    inbound: Inbound,
    guard: Guard,
    held: Held,
    login: LoginAttempt,
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

    // Within the route's timeout: past it the call is dropped (the app's
    // task cancelled) and the client gets a 504. One future either way, so
    // the race is compiled once.
    let app = async {
        #[cfg(feature = "body")]
        if let Some(watch) = watch {
            return body::race(&ctx, watch, next::handle(forwarded)).await;
        }
        Ok(next::handle(forwarded).await)
    };
    let answered = timeout::race(&ctx, app).await??;
    let inner = match answered {
        Ok(response) => response,
        Err(e) => {
            ctx.log("inner_app_failed", &[("error", format!("{e:?}").into())]);
            // The app was not reached or failed before answering: a
            // retry with the same key runs at once.
            #[cfg(feature = "idempotency")]
            if let Some(held) = &held {
                idempotency::release(&ctx, held).await;
            }
            return Err(respond::deny(&ctx, Rejection::BadGateway));
        }
    };
    // A login route counts the app's answer as soon as its status is known.
    #[cfg(feature = "lockout")]
    if let Some(login) = &login {
        lockout::count(&ctx, login, inner.get_status_code()).await;
    }
    #[cfg(not(feature = "lockout"))]
    let _ = login;
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
        #[cfg(feature = "idempotency")]
        if let Some(held) = &held {
            idempotency::release(&ctx, held).await;
        }
        return Err(respond::deny(&ctx, Rejection::BadGateway));
    }
    #[cfg(feature = "idempotency")]
    let app_headers = held.is_some().then(|| headers.clone());
    app_response::prepare(&ctx, &mut headers);
    #[cfg(feature = "idempotency")]
    if let (Some(held), Some(app_headers)) = (held, app_headers) {
        return idempotency::complete(&ctx, held, inner, &app_headers, headers)
            .await
            .map_err(|BrokenFraming| respond::deny(&ctx, Rejection::BadGateway));
    }
    #[cfg(not(feature = "idempotency"))]
    let _ = held;
    let head = ctx.method == "HEAD";
    let buffer_limit = ctx.config.policy.settings.response_buffer_limit;
    match forward::response(inner, headers, buffer_limit, head).await {
        Ok(answer) => Ok(answer),
        Err(BrokenFraming) => Err(respond::deny(&ctx, Rejection::BadGateway)),
    }
}

/// A request no route matches, with `[settings] unmatched = "deny"`: 405
/// with `Allow` when routes take the path with other methods, else 404.
fn unmatched(ctx: &mut Ctx<'_>) -> Response {
    let allow = ctx.config.policy.allow_for_path(&ctx.path);
    ctx.log(
        "unmatched_denied",
        &[
            ("method", ctx.method.as_str().into()),
            ("allow", allow.as_deref().into()),
        ],
    );
    match allow {
        Some(allow) => {
            let (denial, (name, value)) = warden_core::layers::body::method_not_allowed(allow);
            ctx.to_client.push((name.to_owned(), value.into_bytes()));
            respond::deny(ctx, denial)
        }
        None => respond::deny(ctx, Rejection::NotFound),
    }
}

/// `POST <[session] revoke_path>`: warden's own endpoint.
#[cfg(feature = "session")]
fn is_revoke(ctx: &Ctx<'_>) -> bool {
    ctx.method == "POST"
        && ctx.config.policy.sections.session.revoke_path.as_ref() == Some(&ctx.path)
}
