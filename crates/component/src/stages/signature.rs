//! Service-to-service request signatures (`auth = "worker"` routes).
//!
//! The decisions are `warden_core::layers::signature`'s; this adapter supplies the
//! request, the clock, the secrets and the store. In order:
//! 1. the header checks (no body read yet; see the core's docs for the
//!    order per scheme);
//! 2. the body, read into memory up to `[worker] body_limit` (413 above it,
//!    and nothing is forwarded) within `[worker] body_timeout` (408 after
//!    it) — only on signed routes;
//! 3. with the clock read again now that the body is complete, the time
//!    window once more (a body trickled in must not stretch `max_age` or
//!    `expires`), then the HMAC (and for RFC 9421 the `Content-Digest`) over
//!    those bytes;
//! 4. the replay cache, when on, keyed by that later time: one atomic
//!    `increment` per key on `wasi:keyvalue/atomics`, exact across
//!    instances; a store failure refuses the request (503: authentication
//!    fails closed);
//! 5. the exact bytes received are kept in `ctx.body`, to be forwarded (and
//!    read by warden's own endpoints), and `x-warden-auth: worker`
//!    plus the scheme and key are queued for the app.
//!
//! Expired replay keys are deleted by one instance per window (it claims the
//! window with an atomic increment), after the response, since Spin's
//! key-value store has no TTL.
//!
//! Reads the route's `worker` rule and `[worker]` (schemes, headers, body
//! limit and timeout, replay), and the worker secrets. Host ports: the
//! request body (`body`), the clock (through `Ctx`), the key-value store
//! (`host::kv`) and the sweep (`host::sweep`). Answers the failures' 401,
//! 408, 413 and 503 and a 400 for a body that failed; on success the
//! request goes on with its body in `Ctx::body`.

use crate::body::{self, BodyRead, Inbound};
use crate::ctx::Ctx;
use crate::host::kv;
use crate::host::sweep::Sweep;
use crate::respond;
use spin_sdk::wasip3::http::types::{Request, Response, Scheme as HttpScheme};
use std::cell::Cell;
use warden_core::base::denial::Rejection;
use warden_core::base::identity::{AuthMethod, Identity};
use warden_core::base::security_event::{CREDENTIAL_FP, credential_fingerprint};
use warden_core::layers::signature::replay::{ReplayId, is_expired, replay_keys, sweep_claim_key};
use warden_core::layers::signature::{self, Failure, KeySlot, Keys, RequestView, SignatureRule};
use warden_core::policy::Route;
use warden_core::policy::stores::StoreCalls;

thread_local! {
    /// When this instance last considered sweeping, in unix seconds.
    static LAST_SWEEP: Cell<u64> = const { Cell::new(0) };
}

/// Verifies the request's signature; on success keeps its body bytes in
/// `ctx.body` for forwarding, and queues the identity headers for the app.
pub async fn check(
    ctx: &mut Ctx<'_>,
    route: &Route,
    request: Request,
) -> Result<Inbound, Response> {
    let config = ctx.config;
    let settings = &config.policy.sections.worker;
    let rule = settings.rule_for(&route.keys.worker);
    let keys = if rule.scheme.is_webhook() {
        config
            .webhook_keys_for(&rule.webhook.secret)
            .map(|keys| keys.keys())
    } else {
        config.worker_secret.as_ref().map(|current| Keys {
            current: current.expose().as_bytes(),
            previous: config
                .worker_secret_previous
                .as_ref()
                .map(|s| s.expose().as_bytes()),
        })
    };
    let Some(keys) = keys else {
        // Configuration refuses signed routes without a secret; never open.
        ctx.log("worker_auth_failed", &[("reason", "no_secret".into())]);
        return Err(respond::deny(ctx, Rejection::Unauthorized));
    };
    let now = ctx.now_ms() / 1000;
    let scheme = match &ctx.scheme {
        Some(HttpScheme::Https) => "https".to_owned(),
        Some(HttpScheme::Other(other)) => other.to_ascii_lowercase(),
        Some(HttpScheme::Http) | None => "http".to_owned(),
    };
    let authority = ctx
        .authority
        .clone()
        .or_else(|| ctx.header("host").map(str::to_owned))
        .unwrap_or_default();

    let pending = {
        let view = view(ctx, &scheme, &authority);
        signature::check_headers(settings, &rule, &view, now)
    };
    let pending = match pending {
        Ok(pending) => pending,
        Err(failure) => return Err(deny(ctx, &rule, failure)),
    };

    let declared = ctx
        .incoming
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .filter_map(|(_, v)| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok())
        .max();
    let timeout = std::time::Duration::from_secs(settings.body_timeout);
    let (buffered, body) =
        match body::buffer_request(request, declared, settings.body_limit, timeout).await {
            BodyRead::Whole(buffered, body) => (buffered, body),
            BodyRead::TooLarge => return Err(deny(ctx, &rule, Failure::PayloadTooLarge)),
            BodyRead::TimedOut => return Err(deny(ctx, &rule, Failure::BodyTimeout)),
            BodyRead::Failed(error) => {
                ctx.log(
                    "worker_body_failed",
                    &[
                        ("error", error.into()),
                        ("scheme", rule.scheme.as_str().into()),
                    ],
                );
                return Err(respond::deny(ctx, Rejection::BadRequest));
            }
        };

    // The time the request is complete: the window is checked against it
    // again, replay keys are bucketed by it, and later layers see it.
    let now = ctx.refresh_now_ms() / 1000;
    let verified = {
        let view = view(ctx, &scheme, &authority);
        pending.verify(&view, &body, &keys, now)
    };
    let verified = match verified {
        Ok(verified) => verified,
        Err(failure) => return Err(deny(ctx, &rule, failure)),
    };

    if settings.replay {
        match record(
            &config.policy.stores.key_value,
            &verified.replay,
            now,
            verified.window,
        )
        .await
        {
            Ok(None) => {}
            Ok(Some(seen)) => {
                ctx.log("worker_replay", &[("replay_fp", seen.fingerprint().into())]);
                return Err(deny(ctx, &rule, Failure::Replayed));
            }
            Err(error) => {
                ctx.log("worker_replay_cache_failed", &[("error", error.into())]);
                return Err(deny(ctx, &rule, Failure::Unavailable));
            }
        }
        let window = verified.window.max(1);
        Sweep {
            last: &LAST_SWEEP,
            event: "worker_replay_swept",
        }
        .maybe(
            config.policy.stores.key_value,
            now,
            window,
            sweep_claim_key(now, window),
            move |key| is_expired(key, now),
        );
    }

    if verified.key == KeySlot::Previous {
        // Rotation is done when this stops appearing.
        ctx.log(
            "worker_previous_secret_used",
            &[("scheme", verified.scheme.as_str().into())],
        );
    }
    let key_name = match &verified.keyid {
        Some(keyid) => keyid.clone(),
        None if verified.scheme.is_webhook() => verified.scheme.as_str().to_owned(),
        None => verified.key.as_str().to_owned(),
    };
    ctx.to_app
        .push(("x-warden-auth".into(), b"worker".to_vec()));
    ctx.to_app.push((
        "x-warden-worker-scheme".into(),
        verified.scheme.as_str().as_bytes().to_vec(),
    ));
    ctx.to_app.push((
        "x-warden-worker-key".into(),
        verified.key.as_str().as_bytes().to_vec(),
    ));
    if let Some(keyid) = &verified.keyid {
        ctx.to_app
            .push(("x-warden-worker-keyid".into(), keyid.as_bytes().to_vec()));
    }
    if verified.scheme.is_webhook() {
        // The provider, and its event or delivery id for the app's own
        // deduplication (a provider's retry is a new signed message).
        ctx.to_app.push((
            "x-warden-webhook-provider".into(),
            verified.scheme.as_str().as_bytes().to_vec(),
        ));
        if let Some(id) = &verified.event_id {
            ctx.to_app
                .push(("x-warden-webhook-id".into(), id.as_bytes().to_vec()));
        }
    }
    ctx.identity = Some(Identity {
        user_id: key_name,
        roles: Vec::new(),
        method: AuthMethod::Worker,
        tier: None,
    });

    // The app gets exactly the verified bytes (forwarded from the context),
    // and so do warden's own endpoints behind a worker route: a component
    // cannot read back a stream it wrote.
    ctx.body = Some(body);
    Ok(Inbound::Buffered(buffered))
}

fn view<'c>(ctx: &'c Ctx<'_>, scheme: &'c str, authority: &'c str) -> RequestView<'c> {
    RequestView {
        method: &ctx.method,
        scheme,
        authority,
        path_and_query: &ctx.raw_path,
        headers: &ctx.incoming,
    }
}

/// Logs the refusal (with a fingerprint of the signature, never the value)
/// and answers with the failure's status and body.
fn deny(ctx: &Ctx<'_>, rule: &SignatureRule, failure: Failure) -> Response {
    let signature_header = rule
        .scheme
        .signature_header()
        .unwrap_or(ctx.config.policy.sections.worker.signature_header.as_str());
    let mut fields = vec![
        ("reason", failure.kind().into()),
        ("scheme", rule.scheme.as_str().into()),
    ];
    if let Some(value) = ctx
        .incoming
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(signature_header))
    {
        fields.push(("sig_fp", signature::fingerprint(&value.1).into()));
        fields.push((
            CREDENTIAL_FP,
            credential_fingerprint("worker", &value.1).into(),
        ));
    }
    if let Failure::InvalidSignatureInput { reason } = &failure {
        fields.push(("detail", reason.as_str().into()));
    }
    ctx.log("worker_auth_failed", &fields);
    respond::deny(ctx, failure)
}

/// Records the ids, key by key, each with one atomic increment, and stops
/// at the first count above 1: the id was seen before within its window.
/// Returns that id, if any.
///
/// Stopping there matters: a request accepted needs every increment to
/// return 1, so of two sightings that share a key only the one that
/// incremented it first can be accepted, and a refused request never
/// touches (and so never poisons) a key an earlier sighting still needs.
async fn record(
    calls: &StoreCalls,
    ids: &[ReplayId],
    now: u64,
    window: u64,
) -> Result<Option<ReplayId>, String> {
    for id in ids {
        for key in replay_keys(id, now, window) {
            let count = kv::increment(calls, &key, 1)
                .await
                .map_err(|e| format!("increment: {e}"))?;
            if count > 1 {
                return Ok(Some(id.clone()));
            }
        }
    }
    Ok(None)
}
