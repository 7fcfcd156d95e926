//! Idempotency keys (docs/idempotency.md): the adapter of
//! `warden_core::layers::idempotency`.
//!
//! Three steps around the app, each a call from the pipeline:
//!
//! 1. [`admit`]: the route's settings and the request's key header lines
//!    decide whether the request takes part; a missing or invalid key is a
//!    400 before anything is read. A keyed request's body is then read
//!    whole ([`read_body`], within the route's body limit), since the
//!    fingerprint covers it.
//! 2. [`claim`]: the operation's two slots, each taken by compare-and-swap
//!    (`host::kv`), or the answer one of them holds: the stored response
//!    (a replay, the app not called), 409, 422 or 500.
//! 3. [`complete`]: the app's response is collected up to the route's
//!    `max_response_bytes`, recorded in both slots, and only then answered,
//!    so that once a client has the answer a retry finds the record. A
//!    larger response is recorded as "too large to replay" and streams
//!    through. When the app could not be reached, [`release`] gives the
//!    claims up so the client's retry runs at once.
//!
//! A store that cannot be reached or fails is a 503: without the store
//! warden cannot promise the app runs once, so it does not call it.

use crate::body::Inbound;
use crate::ctx::Ctx;
use crate::forward::{self, BrokenFraming};
use crate::host::kv::{self, StoreError};
use crate::host::random;
use crate::host::sweep::Sweep;
use crate::respond;
use crate::response::{Answer, HeaderList, fields, whole_response, with_body};
use crate::stages::app_response;
use spin_sdk::wasip3::http::types::{ErrorCode, Response};
use spin_sdk::wasip3::wit_bindgen::StreamResult;
use spin_sdk::wasip3::{spawn, wit_future, wit_stream};
use std::cell::Cell;
use warden_core::base::denial::{Denial, Rejection};
use warden_core::layers::body::BodyRefusal;
use warden_core::layers::idempotency::IdempotencyConfig;
use warden_core::layers::idempotency::config::for_route;
use warden_core::layers::idempotency::decision::{
    Admission, PROBLEM_CONTENT_TYPE, Problem, REPLAY_HEADER, REPLAY_VALUE, SlotDecision,
    admit as admit_request, complete_slot, decide_slot, new_claim, released_claim, stored_response,
};
use warden_core::layers::idempotency::fingerprint::{Fingerprint, Fingerprinter};
use warden_core::layers::idempotency::key::IdempotencyKey;
use warden_core::layers::idempotency::store::{
    CallerScope, Entry, OperationId, is_expired, slot_keys, sweep_claim_key, takeover_neighbour,
};

/// How long a keyed request's body may take to arrive: the signature
/// layer's default `body_timeout`, for the same reason (a slow client must
/// not hold an instance's memory).
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Compare-and-swap rounds on one slot before answering 409: each lost
/// round means another request for the same operation wrote the slot, and
/// the next read shows its claim or record.
const SWAP_ATTEMPTS: usize = 4;

thread_local! {
    /// When this instance last considered sweeping expired slots.
    static LAST_SWEEP: Cell<u64> = const { Cell::new(0) };
}

/// A request that takes part: the route's settings and its key.
pub struct Keyed {
    config: IdempotencyConfig,
    key: IdempotencyKey,
}

/// The claims a request holds while the app runs.
pub struct Held {
    config: IdempotencyConfig,
    operation: OperationId,
    fingerprint: Fingerprint,
    token: [u8; 16],
    slots: Vec<String>,
}

/// Whether the request takes part. `Ok(None)`: the route has no
/// `idempotency` table, the method is not one of its `methods`, or no key
/// was sent where none is required.
pub fn admit(ctx: &Ctx<'_>) -> Result<Option<Keyed>, Response> {
    let Some(route) = ctx.route else {
        return Ok(None);
    };
    let Some(config) = for_route(
        &ctx.config.policy.sections.idempotency,
        &route.keys.idempotency,
    ) else {
        return Ok(None);
    };
    let lines: Vec<(&str, &[u8])> = ctx
        .incoming
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_slice()))
        .collect();
    let problem = match admit_request(&config, &ctx.method, &lines) {
        Admission::NotApplicable => return Ok(None),
        Admission::Keyed(key) => return Ok(Some(Keyed { config, key })),
        Admission::Missing => Problem::Missing,
        Admission::Invalid(refusal) => Problem::Invalid(refusal),
    };
    ctx.log(
        "idempotency_key_refused",
        &[("reason", problem.detail().into())],
    );
    Err(problem_response(ctx, problem, None, None))
}

/// A keyed request's body, read whole within the route's body limit (a
/// signed route's is already in `Ctx::body`). The bytes go on to the body
/// rules and the app from `Ctx::body`.
pub async fn read_body(ctx: &mut Ctx<'_>, inbound: Inbound) -> Result<Inbound, Response> {
    let request = match inbound {
        Inbound::Streaming(request) if ctx.body.is_none() => request,
        other => return Ok(other),
    };
    let limit = crate::stages::body::route_config(ctx).limit;
    let declared = forward::content_length(&ctx.incoming).ok().flatten();
    match crate::body::buffer_request(request, declared, limit, BODY_READ_TIMEOUT).await {
        crate::body::BodyRead::Whole(buffered, body) => {
            ctx.body = Some(body);
            Ok(Inbound::Buffered(buffered))
        }
        crate::body::BodyRead::TooLarge => Err(respond::deny(ctx, BodyRefusal::TooLarge)),
        // The signature layer's 408 for the same case.
        crate::body::BodyRead::TimedOut => Err(respond::deny(
            ctx,
            Denial {
                status: 408,
                body: r#"{"error":{"code":"REQUEST_TIMEOUT","message":"Request body timed out"}}"#
                    .into(),
            },
        )),
        crate::body::BodyRead::Failed(error) => {
            ctx.log("idempotency_body_failed", &[("error", error.into())]);
            Err(respond::deny(ctx, Rejection::BadRequest))
        }
    }
}

/// Takes the operation's slots, or answers from them.
pub async fn claim(ctx: &Ctx<'_>, keyed: Keyed) -> Result<Held, Response> {
    let Keyed { config, key } = keyed;
    let now = ctx.now_ms() / 1000;
    let user = ctx.identity.as_ref().map(|i| i.user_id.as_str());
    let scope = CallerScope::resolve(config.scope, user, client_address(ctx).as_deref());
    let operation = OperationId::new(ctx.route_name(), &scope, key.as_str());
    let fingerprint = fingerprint(ctx);
    let token: [u8; 16] = random::bytes(16).try_into().unwrap_or([0; 16]);
    let claim = new_claim(token, fingerprint, now, config.claim_ttl).encode();
    sweep(ctx, now, config.ttl);

    let mut held = Held {
        config,
        operation,
        fingerprint,
        token,
        slots: Vec::with_capacity(2),
    };
    let slots = slot_keys(&held.operation, now, held.config.ttl);
    for (index, slot) in slots.into_iter().enumerate() {
        match take_slot(ctx, &held, &slot, index, now, &claim).await {
            Ok(None) => held.slots.push(slot),
            Ok(Some(decision)) => {
                release(ctx, &held).await;
                return Err(answer_from_slot(ctx, &held, decision));
            }
            Err(error) => {
                ctx.log(
                    "idempotency_store_failed",
                    &[
                        ("operation", held.operation.fingerprint().into()),
                        ("error", error.to_string().into()),
                    ],
                );
                release(ctx, &held).await;
                return Err(respond::deny(ctx, Rejection::ServiceUnavailable));
            }
        }
    }
    Ok(held)
}

/// One slot: `Ok(None)` when this request's claim is in it, else what it
/// holds instead (docs/idempotency.md, "A request, step by step").
async fn take_slot(
    ctx: &Ctx<'_>,
    held: &Held,
    slot: &str,
    index: usize,
    now: u64,
    claim: &[u8],
) -> Result<Option<SlotDecision>, StoreError> {
    let calls = ctx.config.policy.stores.key_value;
    for _ in 0..SWAP_ATTEMPTS {
        let (current, pending) = kv::compare_and_swap(&calls, slot).await?;
        let decision = match decide_slot(current.as_deref(), &held.fingerprint, now) {
            SlotDecision::TakeOver => {
                // The dead request may have completed in the neighbour slot.
                let neighbour = takeover_neighbour(&held.operation, now, held.config.ttl, index);
                let there = kv::get(&calls, &neighbour).await?;
                match decide_slot(there.as_deref(), &held.fingerprint, now) {
                    SlotDecision::Claim | SlotDecision::TakeOver => SlotDecision::Claim,
                    other => other,
                }
            }
            other => other,
        };
        match decision {
            SlotDecision::Claim => {
                if kv::swap(&calls, pending, claim).await? {
                    return Ok(None);
                }
            }
            other => return Ok(Some(other)),
        }
    }
    Ok(Some(SlotDecision::Conflict { retry_after: 1 }))
}

/// Gives up the claims `held` still holds (the app was not reached, or a
/// later slot answered): a retry then runs at once instead of waiting out
/// `claim_ttl`. Failures are logged; the claims then expire by themselves.
pub async fn release(ctx: &Ctx<'_>, held: &Held) {
    let released = released_claim(held.token, held.fingerprint).encode();
    write_own_slots(ctx, held, &released, "idempotency_release_failed").await;
}

/// Swaps `value` into each slot that still holds this request's claim.
async fn write_own_slots(ctx: &Ctx<'_>, held: &Held, value: &[u8], failure_event: &str) {
    let calls = ctx.config.policy.stores.key_value;
    for slot in &held.slots {
        let outcome = async {
            let (current, pending) = kv::compare_and_swap(&calls, slot).await?;
            if !complete_slot(current.as_deref(), &held.token) {
                return Ok(false);
            }
            kv::swap(&calls, pending, value).await
        }
        .await;
        match outcome {
            Ok(true) => {}
            // The claim expired and another request took the slot over:
            // its record wins.
            Ok(false) => ctx.log(
                "idempotency_claim_lost",
                &[("operation", held.operation.fingerprint().into())],
            ),
            Err(error) => ctx.log(
                failure_event,
                &[
                    ("operation", held.operation.fingerprint().into()),
                    ("error", error.to_string().into()),
                ],
            ),
        }
    }
}

/// The app answered: its response is collected up to `max_response_bytes`,
/// recorded, and answered. `app_headers` are the app's own (what a replay
/// gives back), `headers` the same after warden's edits (what goes out now).
pub async fn complete(
    ctx: &Ctx<'_>,
    held: Held,
    inner: Response,
    app_headers: &HeaderList,
    headers: HeaderList,
) -> Result<Answer, BrokenFraming> {
    let status = inner.get_status_code();
    let limit = held.config.max_response_bytes;
    let declared = forward::content_length(&headers).ok().flatten();
    let (done_tx, done_rx) = wit_future::new::<Result<(), ErrorCode>>(|| Ok(()));
    let (mut contents, trailers) = Response::consume_body(inner, done_rx);
    let mut body = Vec::new();
    let ended = loop {
        let room = (limit as usize + 1)
            .saturating_sub(body.len())
            .clamp(1, 64 * 1024);
        let (result, chunk) = contents.read(Vec::with_capacity(room)).await;
        body.extend_from_slice(&chunk);
        if body.len() as u64 > limit {
            break Some(false);
        }
        match result {
            StreamResult::Complete(_) => continue,
            StreamResult::Dropped => break Some(true),
            StreamResult::Cancelled => break None,
        }
    };
    let app_lines: Vec<(&str, &[u8])> = app_headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_slice()))
        .collect();
    let broken = match ended {
        None => true,
        Some(true) => declared.is_some_and(|len| len != body.len() as u64),
        Some(false) => declared.is_some_and(|len| len < body.len() as u64),
    };
    if broken {
        // No complete response to record: give the claims up (the
        // operation may have happened; docs/idempotency.md says so).
        ctx.log(
            "idempotency_response_broken",
            &[("operation", held.operation.fingerprint().into())],
        );
        release(ctx, &held).await;
        return Err(BrokenFraming);
    }
    let whole = ended == Some(true);
    let stored = stored_response(status, &app_lines, whole.then_some(&body[..]), limit);
    let record = Entry::Done(stored, held.fingerprint).encode();
    write_own_slots(ctx, &held, &record, "idempotency_record_failed").await;

    if whole {
        drop(contents);
        drop(done_tx);
        return Ok(Answer::Written(with_body(
            status,
            fields(&headers),
            body,
            trailers,
        )));
    }
    // Too large to store: what was read goes first, the rest streams on.
    let (mut out_tx, out_rx) = wit_stream::new::<u8>();
    spawn(async move {
        if !out_tx.write_all(body).await.is_empty() {
            return;
        }
        loop {
            let (result, chunk) = contents.read(Vec::with_capacity(64 * 1024)).await;
            if !chunk.is_empty() && !out_tx.write_all(chunk).await.is_empty() {
                break;
            }
            if !matches!(result, StreamResult::Complete(_)) {
                break;
            }
        }
        drop(contents);
        drop(done_tx);
    });
    let (response, _transmitted) = Response::new(fields(&headers), Some(out_rx), trailers);
    let _ = response.set_status_code(status);
    Ok(Answer::PassedThrough(response))
}

/// Warden's answer from what a slot holds.
fn answer_from_slot(ctx: &Ctx<'_>, held: &Held, decision: SlotDecision) -> Response {
    let operation = held.operation.fingerprint();
    let (problem, original_status, retry_after) = match decision {
        SlotDecision::Replay(stored) => {
            ctx.log(
                "idempotency_replayed",
                &[
                    ("operation", operation.into()),
                    ("status", stored.status.into()),
                ],
            );
            let mut headers: HeaderList = stored.headers;
            app_response::prepare(ctx, &mut headers);
            headers.push((REPLAY_HEADER.to_owned(), REPLAY_VALUE.as_bytes().to_vec()));
            return whole_response(stored.status, headers, stored.body.unwrap_or_default());
        }
        SlotDecision::TooLargeToReplay { status } => {
            (Problem::TooLargeToReplay, Some(status), None)
        }
        SlotDecision::Conflict { retry_after } => {
            ctx.log(
                "idempotency_conflict",
                &[
                    ("operation", operation.into()),
                    ("retry_after", retry_after.into()),
                ],
            );
            (Problem::Conflict, None, Some(retry_after.max(1)))
        }
        SlotDecision::Mismatch => {
            ctx.log("idempotency_mismatch", &[("operation", operation.into())]);
            (Problem::Mismatch, None, None)
        }
        SlotDecision::Unreadable => {
            ctx.log("idempotency_unreadable", &[("operation", operation.into())]);
            (Problem::Unreadable, None, None)
        }
        // Never returned by `take_slot` (it swaps its claim in).
        SlotDecision::Claim | SlotDecision::TakeOver => (Problem::Conflict, None, Some(1)),
    };
    problem_response(ctx, problem, original_status, retry_after)
}

/// A problem+json answer, with `Retry-After` for a 409 of a running request.
fn problem_response(
    ctx: &Ctx<'_>,
    problem: Problem,
    original_status: Option<u16>,
    retry_after: Option<u64>,
) -> Response {
    let extra: HeaderList = retry_after
        .map(|seconds| ("retry-after".to_owned(), seconds.to_string().into_bytes()))
        .into_iter()
        .collect();
    respond::typed(
        ctx,
        problem.status(),
        PROBLEM_CONTENT_TYPE,
        problem.body(original_status),
        &extra,
    )
}

/// The request's fingerprint: method, normalized path with the raw query,
/// and the body read by [`read_body`].
fn fingerprint(ctx: &Ctx<'_>) -> Fingerprint {
    let mut target = ctx.path.as_str().to_owned();
    if let Some((_, query)) = ctx.raw_path.split_once('?') {
        target.push('?');
        target.push_str(query);
    }
    let mut fingerprinter = Fingerprinter::new(&ctx.method, &target);
    fingerprinter.update(ctx.body.as_deref().unwrap_or_default());
    fingerprinter.finish()
}

/// The client's address as the rate limiter resolves it (`None` without
/// that layer: every anonymous caller is then the one scope `unknown`).
fn client_address(ctx: &Ctx<'_>) -> Option<String> {
    #[cfg(feature = "rate-limit")]
    {
        let rate = &ctx.config.policy.sections.rate_limit;
        warden_core::layers::rate_limit::client_address(
            &rate.client_ip,
            rate.ipv6_prefix,
            &ctx.incoming,
        )
        .address
    }
    #[cfg(not(feature = "rate-limit"))]
    {
        let _ = ctx;
        None
    }
}

/// Deletes expired slots, once per `ttl` per instance and by one instance
/// fleet-wide, after the response.
fn sweep(ctx: &Ctx<'_>, now: u64, ttl: u64) {
    Sweep {
        last: &LAST_SWEEP,
        event: "idempotency_slots_swept",
    }
    .maybe(
        ctx.config.policy.stores.key_value,
        now,
        ttl,
        sweep_claim_key(now, ttl),
        move |key| is_expired(key, now),
    );
}
