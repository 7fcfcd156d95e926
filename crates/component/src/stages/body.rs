//! Body limits and JSON shape (docs/hardening.md): the adapter of
//! `warden_core::layers::body`.
//!
//! Before the app is called, [`check`] refuses a declared `content-length`
//! over the route's limit (413) and a media type the route does not take
//! (415) on a body it declares; a body of unknown length with such a type
//! is refused at its first byte, since the host does not say whether one
//! is coming. A body a layer already read whole (a signed route's, held in
//! `Ctx::body` by the signature stage, which runs first as part of auth)
//! goes through the guard there and then, so the signature layer's
//! buffering and this layer stay independent: the order is "signature
//! buffers and verifies, then the body rules judge the same bytes".
//!
//! Any other body is guarded as it streams: [`inspector`] gives
//! `forward::request` a check for each chunk on its way to the app
//! ([`warden_core::layers::body::BodyGuard`], never buffering the body).
//! When a chunk breaks a rule, forwarding stops there and the app's body
//! ends with an error, not a clean end; [`race`] then answers the client
//! with the refusal if the app has not answered yet, or lets the app's
//! response through and logs the refusal if it has.

use crate::body::Inbound;
use crate::ctx::{self, Ctx};
use crate::forward::{self, Inspect};
use crate::respond;
use spin_sdk::wasip3::http::types::{ErrorCode, Response};
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::task::{Poll, Waker};
use warden_core::base::overlay::Section;
use warden_core::layers::body::{
    BodyGuard, BodyRefusal, check_content_type, check_declared_length,
};

/// A body to be checked as it streams to the app.
pub struct Streamed {
    guard: BodyGuard,
    /// A body of unknown length whose media type the route does not take:
    /// refused (415) at its first byte, before any reaches the app. The
    /// host hands warden no `transfer-encoding`, so whether there is a
    /// body at all is known only by reading.
    unsupported: bool,
}

/// A declared `content-length` over the route's limit, refused (413)
/// before authentication: the client's own header says the request cannot
/// pass, so no credential is checked and no store touched for it.
pub fn check_declared(ctx: &Ctx<'_>) -> Result<(), Response> {
    let config = route_config(ctx);
    let declared = forward::content_length(&ctx.incoming).ok().flatten();
    check_declared_length(&config, declared).map_err(|refusal| refuse(ctx, refusal, 0, false))
}

/// The route's body settings over `[body]`.
pub fn route_config<'a>(
    ctx: &Ctx<'a>,
) -> std::borrow::Cow<'a, warden_core::layers::body::BodyConfig> {
    let section = &ctx.config.policy.sections.body;
    match ctx.route {
        Some(route) => section.for_route(route.keys.body.as_ref()),
        None => std::borrow::Cow::Borrowed(section),
    }
}

/// The checks before the app is called. `Ok(Some(_))`: the body is to be
/// checked as it streams; `Ok(None)`: nothing left to check.
pub fn check(ctx: &Ctx<'_>, inbound: &Inbound) -> Result<Option<Streamed>, Response> {
    let config = route_config(ctx);
    // A malformed or repeated length is the host's to refuse; here it is
    // only "not declared", and the body is counted as it streams.
    let declared = forward::content_length(&ctx.incoming).ok().flatten();
    let content_types: Vec<&str> = ctx
        .incoming
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| std::str::from_utf8(value).unwrap_or(""))
        .collect();
    let buffered = ctx.body.as_deref();
    // `None`: not known until the body is read (no declared length).
    let has_body = match buffered {
        Some(bytes) => Some(!bytes.is_empty()),
        None => declared.map(|n| n > 0),
    };
    let type_ok = check_content_type(&config, &content_types, true).is_ok();
    let before = check_declared_length(&config, declared).and(match has_body {
        Some(true) if !type_ok => Err(BodyRefusal::UnsupportedMediaType),
        _ => Ok(()),
    });
    if let Err(refusal) = before {
        return Err(refuse(ctx, refusal, 0, false));
    }
    if let Some(bytes) = buffered {
        let mut guard = BodyGuard::new(&config);
        if let Err(refusal) = guard.feed(bytes).and_then(|()| guard.finish()) {
            return Err(refuse(ctx, refusal, bytes.len() as u64, false));
        }
        return Ok(None);
    }
    match inbound {
        // A declared length within the limit is enforced by the host's
        // framing: only a JSON route needs to see the bytes.
        Inbound::Streaming(_) if declared.is_some() && config.json.is_none() => Ok(None),
        Inbound::Streaming(_) => Ok(Some(Streamed {
            guard: BodyGuard::new(&config),
            unsupported: has_body.is_none() && !type_ok,
        })),
        #[allow(unreachable_patterns)]
        _ => Ok(None),
    }
}

/// Logs a refusal and builds warden's answer to it.
fn refuse(ctx: &Ctx<'_>, refusal: BodyRefusal, seen: u64, app_answered: bool) -> Response {
    ctx.log(
        "body_refused",
        &[
            ("kind", refusal.kind().into()),
            ("bytes", seen.into()),
            ("app_answered", app_answered.into()),
        ],
    );
    respond::deny(ctx, refusal)
}

/// What the chunk check and the pipeline share about one request's body.
#[derive(Default)]
struct State {
    /// The refusal and the bytes counted when it was made.
    refusal: Option<(BodyRefusal, u64)>,
    /// The pipeline's task, waiting in [`race`].
    waker: Option<Waker>,
    /// The app answered before any refusal: a later one is only logged.
    app_answered: bool,
}

/// The pipeline's side of a guarded body.
pub struct Watch(Rc<RefCell<State>>);

/// The check `forward::request` runs on each chunk (`Some`) and at the end
/// of the client's body (`None`), with the [`Watch`] that hears of its
/// refusal.
pub fn inspector(ctx: &Ctx<'_>, streamed: Streamed) -> (Inspect, Watch) {
    let Streamed {
        mut guard,
        unsupported,
    } = streamed;
    let state = Rc::new(RefCell::new(State::default()));
    let shared = state.clone();
    let request_id = ctx.request_id.clone();
    let route = ctx.route_name().to_owned();
    let client = ctx.client_prefix();
    let inspect: Inspect = Box::new(move |chunk: Option<&[u8]>| {
        let verdict = match chunk {
            Some(_) if unsupported => Err(BodyRefusal::UnsupportedMediaType),
            Some(chunk) => guard.feed(chunk),
            None => guard.finish(),
        };
        let Err(refusal) = verdict else {
            return Ok(());
        };
        let seen = guard.seen();
        let mut state = shared.borrow_mut();
        if state.app_answered {
            // Too late to change the answer: the app's response goes on.
            ctx::log_early(
                "body_refused",
                &request_id,
                &[
                    ("route", route.as_str().into()),
                    ("client", client.clone().into()),
                    ("kind", refusal.kind().into()),
                    ("bytes", seen.into()),
                    ("app_answered", true.into()),
                ],
            );
        } else {
            state.refusal = Some((refusal, seen));
            if let Some(waker) = state.waker.take() {
                waker.wake();
            }
        }
        Err(match refusal {
            BodyRefusal::TooLarge => ErrorCode::HttpRequestBodySize(Some(seen)),
            other => ErrorCode::InternalError(Some(format!(
                "request body refused by warden: {}",
                other.kind()
            ))),
        })
    });
    (inspect, Watch(state))
}

/// Waits for the app's answer or a refusal of the body it is reading,
/// whichever comes first. On a refusal the client gets warden's answer
/// (`Err`); the app's handler runs on to its end in a task of its own and
/// whatever it answers is dropped (its error, such as the body error it
/// saw, is logged).
pub async fn race<F>(
    ctx: &Ctx<'_>,
    watch: Watch,
    app: F,
) -> Result<Result<Response, ErrorCode>, Response>
where
    F: Future<Output = Result<Response, ErrorCode>> + 'static,
{
    let mut app = Box::pin(app);
    let state = watch.0;
    let first = std::future::poll_fn(|cx| {
        if let Poll::Ready(answer) = app.as_mut().poll(cx) {
            return Poll::Ready(Ok(answer));
        }
        let mut state = state.borrow_mut();
        match state.refusal.take() {
            Some(refused) => Poll::Ready(Err(refused)),
            None => {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
    .await;
    match first {
        Ok(answer) => {
            let late = {
                let mut state = state.borrow_mut();
                state.app_answered = true;
                state.waker = None;
                state.refusal.take()
            };
            // Refused in the same turn the app answered: the answer stands.
            if let Some((refusal, seen)) = late {
                ctx.log(
                    "body_refused",
                    &[
                        ("kind", refusal.kind().into()),
                        ("bytes", seen.into()),
                        ("app_answered", true.into()),
                    ],
                );
            }
            Ok(answer)
        }
        Err((refusal, seen)) => {
            let request_id = ctx.request_id.clone();
            spin_sdk::wasip3::spawn(async move {
                if let Err(e) = app.await {
                    ctx::log_early(
                        "inner_app_failed",
                        &request_id,
                        &[
                            ("error", format!("{e:?}").into()),
                            ("after", "body_refused".into()),
                        ],
                    );
                }
            });
            Err(refuse(ctx, refusal, seen, false))
        }
    }
}
