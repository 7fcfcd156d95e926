//! Counters, locks and answers: pure functions of the settings, the
//! subject (an address or an account hash) and the time.
//!
//! ```
//! use warden_core::layers::lockout::{LockoutConfig, Subject, lock_value, lock_remaining, locked_denial};
//!
//! let config = LockoutConfig::default(); // 5 failures in 15 min lock for 15 min
//! let now_ms = 1_795_963_429_629;
//! let subject = Subject::Address("203.0.113.7");
//! assert_eq!(
//!     subject.counter_key(&config, now_ms),
//!     "warden:fail:login:addr:203.0.113.7:900:1795962600",
//! );
//! // The fifth failure locks; the lock is written into this bucket and the next.
//! assert!(!config.locks(4) && config.locks(5));
//! let [here, next] = subject.lock_keys(&config, now_ms);
//! assert_eq!(here, "warden:fail:login-lock:addr:203.0.113.7:900:1795962600");
//! assert_eq!(next, "warden:fail:login-lock:addr:203.0.113.7:900:1795963500");
//! let value = lock_value(&config, now_ms);
//! assert_eq!(lock_remaining(&value, now_ms / 1000 + 60), Some(840));
//! assert_eq!(lock_remaining(&value, now_ms / 1000 + 900), None);
//! let denial = locked_denial(&config, 840);
//! assert_eq!((denial.status, denial.body.as_str()), (429,
//!     r#"{"error":{"code":"LOGIN_LOCKED","message":"Too many failed login attempts. Try again in 840 seconds.","retryAfter":840}}"#));
//! ```
//!
//! **Storage.** Everything lives under `base::failed_attempts`'s prefix and
//! key shape (`warden:fail:<subject>:<seconds>:<start>`), so that the sweep
//! every failed-credential counter has deletes these too, by name alone:
//! - a failure counter per subject and fixed window of `window` seconds,
//!   counted with the store's atomic `increment` (exact across concurrent
//!   requests and instances; the new value says whether this failure
//!   locks);
//! - a lock per subject, its end (unix seconds, decimal text) written with
//!   `set` into two buckets of `duration` seconds: the one the lock starts
//!   in and the next. A lock lasts `duration`, so whenever it is still on,
//!   the bucket of "now" holds it, and a check is one `get` per subject.
//!   Concurrent lockers write almost the same end; the last write wins.
//!   Lock keys are never incremented (a counter key is never `set`).
//!
//! The login-failure subjects (`login:addr:…`, `login:acct:…`) are apart
//! from the credential layers' per-address counters: a failed login does
//! not use up an API-key budget, nor the reverse.

use crate::base::denial::Denial;
use crate::base::failed_attempts::Throttle;

use super::config::LockoutConfig;

/// The public body of a locked request's refusal.
pub fn locked_body(retry_after: u64) -> String {
    crate::base::log::json(&serde_json::json!({
        "error": {
            "code": "LOGIN_LOCKED",
            "message": format!("Too many failed login attempts. Try again in {retry_after} seconds."),
            "retryAfter": retry_after,
        }
    }))
}

/// The refusal of a locked address or account: the same for both, so the
/// answer does not say which one is locked. Sent with `Retry-After`.
pub fn locked_denial(config: &LockoutConfig, retry_after: u64) -> Denial {
    Denial {
        status: config.status,
        body: locked_body(retry_after),
    }
}

/// Why a login request was refused while its account was being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefusal {
    /// More than `MAX_ACCOUNTS` distinct accounts: 400.
    Ambiguous,
    /// A `json:` route's body that is not one readable JSON object: 400.
    Unreadable,
    /// The body is over [`BODY_LIMIT`]: 413.
    TooLarge,
    /// The body did not arrive within [`BODY_TIMEOUT_SECS`]: 408.
    TimedOut,
}

impl LoginRefusal {
    /// The log's `reason`.
    pub fn kind(&self) -> &'static str {
        match self {
            LoginRefusal::Ambiguous => "too_many_accounts",
            LoginRefusal::Unreadable => "unreadable_body",
            LoginRefusal::TooLarge => "too_large",
            LoginRefusal::TimedOut => "timed_out",
        }
    }
}

impl From<LoginRefusal> for Denial {
    fn from(refusal: LoginRefusal) -> Denial {
        let (status, body) = match refusal {
            LoginRefusal::Ambiguous => (400, AMBIGUOUS_BODY),
            LoginRefusal::Unreadable => (400, UNREADABLE_BODY),
            LoginRefusal::TooLarge => (413, TOO_LARGE_BODY),
            LoginRefusal::TimedOut => (408, TIMED_OUT_BODY),
        };
        Denial {
            status,
            body: body.to_owned(),
        }
    }
}

/// A request naming more than `MAX_ACCOUNTS` distinct accounts (400).
pub const AMBIGUOUS_BODY: &str =
    r#"{"error":{"code":"AMBIGUOUS_LOGIN","message":"The request names more than one account"}}"#;
/// A `json:` login body that is not one JSON object warden can read (400).
pub const UNREADABLE_BODY: &str =
    r#"{"error":{"code":"UNREADABLE_LOGIN","message":"The login body is not a JSON object"}}"#;
/// A login body over the account-reading limit (413), in the body layer's
/// words.
pub const TOO_LARGE_BODY: &str =
    r#"{"error":{"code":"PAYLOAD_TOO_LARGE","message":"Request body too large"}}"#;
/// A login body that did not arrive in time (408), in the signature
/// layer's words.
pub const TIMED_OUT_BODY: &str =
    r#"{"error":{"code":"REQUEST_TIMEOUT","message":"Request body timed out"}}"#;

/// How much of a login body is read to find the account: 64 KiB, far more
/// than any login form, small enough to hold in memory.
pub const BODY_LIMIT: u64 = 64 * 1024;
/// How long the whole login body may take to arrive.
pub const BODY_TIMEOUT_SECS: u64 = 10;

/// Whose failures are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// The client address as the rate limiter resolves it (`unknown` when
    /// there is none).
    Address(&'a str),
    /// An account, by its hash (`AccountId::hash`).
    Account(&'a str),
}

impl Subject<'_> {
    /// `address` or `account`: the log's `scope`.
    pub fn scope(&self) -> &'static str {
        match self {
            Subject::Address(_) => "address",
            Subject::Account(_) => "account",
        }
    }

    fn name(&self, kind: &str) -> String {
        match self {
            Subject::Address(address) => format!("{kind}:addr:{address}"),
            Subject::Account(hash) => format!("{kind}:acct:{hash}"),
        }
    }

    /// The failure counter of the window containing `now_ms`.
    pub fn counter_key(&self, config: &LockoutConfig, now_ms: u64) -> String {
        let window = Throttle {
            limit: config.max_failures,
            window_secs: config.window_secs,
        };
        window
            .counter_key(Some(&self.name("login")), now_ms)
            .unwrap_or_default()
    }

    /// The lock's keys: the bucket of `now_ms` (the one a check reads) and
    /// the next one (written with it when locking).
    pub fn lock_keys(&self, config: &LockoutConfig, now_ms: u64) -> [String; 2] {
        let bucket = Throttle {
            limit: 1,
            window_secs: config.duration_secs,
        };
        let name = self.name("login-lock");
        let next_ms = now_ms.saturating_add(config.duration_secs.max(1).saturating_mul(1000));
        [
            bucket.counter_key(Some(&name), now_ms).unwrap_or_default(),
            bucket.counter_key(Some(&name), next_ms).unwrap_or_default(),
        ]
    }
}

impl LockoutConfig {
    /// Whether the app's `status` counts as a failed login.
    pub fn is_failure(&self, status: u16) -> bool {
        self.failure_statuses.contains(&status)
    }

    /// Whether `failures` counted in this window lock the subject.
    pub fn locks(&self, failures: i64) -> bool {
        failures >= i64::from(self.max_failures)
    }

    /// The `Throttle` of the failure counters, for the shared sweep.
    pub fn throttle(&self) -> Throttle {
        Throttle {
            limit: self.max_failures,
            window_secs: self.window_secs,
        }
    }
}

/// A 2xx from the app: a successful login, which resets the account's
/// count.
pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The value of a lock set at `now_ms`: its end in unix seconds.
pub fn lock_value(config: &LockoutConfig, now_ms: u64) -> Vec<u8> {
    (now_ms / 1000)
        .saturating_add(config.duration_secs)
        .to_string()
        .into_bytes()
}

/// Seconds left of the lock stored as `value` at `now_secs` (at least 1);
/// `None` when it has ended or the value is not a lock's.
pub fn lock_remaining(value: &[u8], now_secs: u64) -> Option<u64> {
    let until: u64 = std::str::from_utf8(value).ok()?.parse().ok()?;
    (until > now_secs).then(|| until - now_secs)
}
