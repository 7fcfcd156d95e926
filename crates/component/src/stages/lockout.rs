//! Failed-login lockout (docs/hardening.md, "Failed-login lockout"): the
//! adapter of `warden_core::layers::lockout`, on routes with a `lockout`
//! table only.
//!
//! Before the app ([`check`], after the per-address rate limit and the
//! route's authentication, before the body rules):
//! 1. when the account is in the body, the body is read whole, at most
//!    64 KiB within 10 s (`body::buffer_request`, the signature stage's
//!    bounded read: 413 over the limit, 408 past the time, 400 for a broken
//!    stream), kept in `Ctx::body` and forwarded byte for byte; a body a
//!    signed route already read is used as it is;
//! 2. the accounts it names are found (none is fine: the address still
//!    counts; more than four distinct is a 400, and so is a `json:` body
//!    that is not one readable JSON object);
//! 3. the lock of the address and of each account is read, one `get` each;
//!    any lock still on refuses the request (429 or 423, `Retry-After` the
//!    longest of them) and the app is not called. A store that cannot be
//!    read refuses it too (503): a lockout that fails open under a store
//!    outage would let a stuffing run through unmetered.
//!
//! After the app ([`count`], as soon as its status is known, before its
//! body is passed on): a failure status increments the address's and each
//! account's counter (the store's atomic `increment`), and those at
//! `max_failures` are locked (`set` of the lock's two buckets); a 2xx
//! naming one account deletes its counter. A store failure here is logged and the
//! app's answer stands.
//!
//! Events: `login_failed` (a counted failure), `login_locked` (a lock set),
//! `login_lock_refused` (a request refused while locked), each with `scope`
//! (`address` or `account`), `account` (8 hex characters of the account's
//! hash, never the account) and `failures` or `retry_after`.
//!
//! Host ports: `body` (the bounded read), `host::kv`, the shared sweep of
//! `failed_attempts`, the clock (through `Ctx`).

use crate::body::{self, BodyRead, Inbound};
use crate::ctx::Ctx;
use crate::failed_attempts;
use crate::forward;
use crate::host::kv;
use crate::respond;
use spin_sdk::wasip3::http::types::Response;
use warden_core::base::denial::Rejection;
use warden_core::layers::lockout::{
    self, AccountId, Accounts, BODY_LIMIT, BODY_TIMEOUT_SECS, LockoutConfig, LoginRefusal, Subject,
};

/// A login attempt on its way to the app: what [`count`] needs once the
/// app has answered.
pub struct Login {
    config: LockoutConfig,
    address: String,
    accounts: Vec<AccountId>,
}

impl Login {
    /// The address first, then each account.
    fn subjects(&self) -> impl Iterator<Item = Subject<'_>> {
        std::iter::once(Subject::Address(&self.address))
            .chain(self.accounts.iter().map(|a| Subject::Account(a.hash())))
    }
}

/// The log fields that name a subject: its scope, and for an account the
/// prefix of its hash.
fn subject_fields<'a>(subject: Subject<'_>, login: &Login) -> Vec<(&'a str, serde_json::Value)> {
    let mut fields = vec![("scope", subject.scope().into())];
    if let Subject::Account(hash) = subject
        && let Some(id) = login.accounts.iter().find(|a| a.hash() == hash)
    {
        fields.push(("account", id.log_prefix().into()));
    }
    fields
}

/// Refuses a locked address or account before the app; on a login route,
/// hands back the request (its body read when the account is in it) and
/// the [`Login`] to count after the app.
pub async fn check(
    ctx: &mut Ctx<'_>,
    inbound: Inbound,
) -> Result<(Inbound, Option<Login>), Response> {
    let Some(config) = ctx.route.and_then(|route| {
        lockout::for_route(&ctx.config.policy.sections.lockout, &route.keys.lockout)
    }) else {
        return Ok((inbound, None));
    };
    let mut inbound = inbound;
    let found = match &config.account {
        None => Accounts::Unnamed,
        Some(source) if source.reads_body() => {
            inbound = read_body(ctx, inbound).await?;
            lockout::accounts(
                source,
                &ctx.incoming,
                ctx.body.as_deref().unwrap_or_default(),
            )
        }
        Some(source) => lockout::accounts(source, &ctx.incoming, &[]),
    };
    let accounts = match found {
        Accounts::Unnamed => Vec::new(),
        Accounts::Named(ids) => ids,
        Accounts::TooMany => return Err(refuse(ctx, LoginRefusal::Ambiguous)),
        Accounts::Unreadable => return Err(refuse(ctx, LoginRefusal::Unreadable)),
    };
    let login = Login {
        address: failed_attempts::address(ctx).unwrap_or_else(|| "unknown".into()),
        accounts,
        config,
    };

    let now_ms = ctx.now_ms();
    failed_attempts::sweep(ctx, login.config.throttle(), now_ms);
    let calls = ctx.config.policy.stores.key_value;
    // The longest lock on any subject, so that a client told to come back
    // does not come back into another lock.
    let mut locked: Option<(Subject<'_>, u64)> = None;
    for subject in login.subjects() {
        let [key, _] = subject.lock_keys(&login.config, now_ms);
        let value = match kv::get(&calls, &key).await {
            Ok(value) => value,
            Err(error) => {
                ctx.log(
                    "login_lock_check_failed",
                    &[("error", error.to_string().into())],
                );
                return Err(respond::deny(ctx, Rejection::ServiceUnavailable));
            }
        };
        let remaining = value
            .as_deref()
            .and_then(|v| lockout::lock_remaining(v, now_ms / 1000));
        if let Some(remaining) = remaining
            && locked.is_none_or(|(_, longest)| remaining > longest)
        {
            locked = Some((subject, remaining));
        }
    }
    if let Some((subject, retry_after)) = locked {
        let mut fields = subject_fields(subject, &login);
        fields.push(("retry_after", retry_after.into()));
        ctx.log("login_lock_refused", &fields);
        ctx.to_client
            .push(("retry-after".into(), retry_after.to_string().into_bytes()));
        let denial = lockout::locked_denial(&login.config, retry_after);
        return Err(respond::deny(ctx, denial));
    }
    Ok((inbound, Some(login)))
}

/// The request with its body read into `Ctx::body` (bounded), unless a
/// layer already read it.
async fn read_body(ctx: &mut Ctx<'_>, inbound: Inbound) -> Result<Inbound, Response> {
    let Inbound::Streaming(request) = inbound else {
        // Already read whole (a signed route): the bytes are in `Ctx::body`.
        return Ok(inbound);
    };
    let declared = forward::content_length(&ctx.incoming).ok().flatten();
    let timeout = std::time::Duration::from_secs(BODY_TIMEOUT_SECS);
    match body::buffer_request(request, declared, BODY_LIMIT, timeout).await {
        BodyRead::Whole(buffered, bytes) => {
            ctx.body = Some(bytes);
            Ok(Inbound::Buffered(buffered))
        }
        BodyRead::TooLarge => Err(refuse(ctx, LoginRefusal::TooLarge)),
        BodyRead::TimedOut => Err(refuse(ctx, LoginRefusal::TimedOut)),
        BodyRead::Failed(error) => {
            ctx.log("login_body_failed", &[("error", error.into())]);
            Err(respond::deny(ctx, Rejection::BadRequest))
        }
    }
}

/// Logs a refusal made while reading the account, and answers it.
fn refuse(ctx: &Ctx<'_>, refusal: LoginRefusal) -> Response {
    ctx.log("login_refused", &[("reason", refusal.kind().into())]);
    respond::deny(ctx, refusal)
}

/// Counts the app's answer to a login attempt: a failure against the
/// address and every account (locking those that reach `max_failures`), a
/// success by clearing the accounts' counters.
pub async fn count(ctx: &Ctx<'_>, login: &Login, status: u16) {
    let calls = ctx.config.policy.stores.key_value;
    let now_ms = ctx.now_ms();
    if lockout::is_success(status) {
        // Only a success naming one account clears its count: with two,
        // warden cannot tell which one the app logged in, and an attacker
        // would add a victim beside their own account to reset the
        // victim's count between guesses.
        let [account] = login.accounts.as_slice() else {
            return;
        };
        let key = Subject::Account(account.hash()).counter_key(&login.config, now_ms);
        if let Err(error) = kv::delete(&calls, &key).await {
            ctx.log("login_count_failed", &[("error", error.to_string().into())]);
        }
        return;
    }
    if !login.config.is_failure(status) {
        return;
    }
    for subject in login.subjects() {
        let key = subject.counter_key(&login.config, now_ms);
        let failures = match kv::increment(&calls, &key, 1).await {
            Ok(failures) => failures,
            Err(error) => {
                ctx.log("login_count_failed", &[("error", error.to_string().into())]);
                continue;
            }
        };
        let mut fields = subject_fields(subject, login);
        fields.push(("failures", failures.into()));
        ctx.log("login_failed", &fields);
        if !login.config.locks(failures) {
            continue;
        }
        let value = lockout::lock_value(&login.config, now_ms);
        let mut set = Ok(());
        for key in subject.lock_keys(&login.config, now_ms) {
            set = set.and(kv::set(&calls, &key, &value).await);
        }
        match set {
            Ok(()) => {
                fields.push(("retry_after", login.config.duration_secs.into()));
                ctx.log("login_locked", &fields);
            }
            Err(error) => {
                ctx.log("login_count_failed", &[("error", error.to_string().into())]);
            }
        }
    }
}
