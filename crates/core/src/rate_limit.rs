//! Rate limiting, the pure part: who the client is, which counters a request
//! touches, what a count means, and the headers and 429 body that say so.
//!
//! ```
//! use warden_core::rate_limit::{window_of, Counted, QuotaState};
//! use warden_core::policy::Preset;
//!
//! let quota = Preset::Auth.quota();                 // 5 per 15 minutes
//! let now_ms = 1_700_000_123_000;
//! let window = window_of(&quota, now_ms);
//! assert_eq!(window.end_secs % 900, 0);
//! let state = QuotaState::from_count(&quota, &window, Counted::Exact(6), now_ms);
//! assert!(!state.admitted);
//! assert_eq!(state.remaining, 0);
//! ```
//!
//! The store work (one atomic increment per quota, on a key that names its
//! window) is the component's; this module never does I/O and never reads a
//! clock. Counting is exact: a fixed window admits a request when the
//! counter's value after the increment is at most the limit, so concurrent
//! instances admit exactly the limit between them (no read-then-write).

use crate::policy::{ClientIpSource, KeyPart, Quota, RateLimit, Scope, Tier};
use sha2::{Digest, Sha256};
use std::net::{IpAddr, Ipv6Addr};

/// The window a quota's counter lives in, aligned to multiples of its length
/// so that every instance agrees on it without talking to the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Unix seconds, inclusive.
    pub start_secs: u64,
    /// Unix seconds, exclusive: when the counter resets.
    pub end_secs: u64,
}

/// The window of `quota` that contains `now_ms`.
pub fn window_of(quota: &Quota, now_ms: u64) -> Window {
    let now = now_ms / 1000;
    let start = now - now % quota.window_secs;
    Window {
        start_secs: start,
        end_secs: start + quota.window_secs,
    }
}

/// The store key of one client's counter for one quota in one window:
/// `{prefix}w{window_end}:{window_len}:{digest}`. The window in the key lets a
/// sweep delete expired counters by name alone (Spin's key-value has no TTL); the
/// digest keeps addresses, user ids and header values out of the store and
/// bounds the key length whatever the client sent.
pub fn counter_key(quota: &Quota, window: &Window, bucket: &str) -> String {
    format!(
        "{}w{}:{}:{}",
        quota.prefix, window.end_secs, quota.window_secs, bucket
    )
}

/// The bucket a request counts in: a digest of the route rule (or the
/// normalized path, with `scope = "path"`), the quota, and the client key.
pub fn bucket(route: &str, quota: &Quota, scope: Scope, path: &str, client: &str) -> String {
    let mut h = Sha256::new();
    for part in [route, "\0", &quota.name, "\0"] {
        h.update(part.as_bytes());
    }
    h.update(quota.window_secs.to_le_bytes());
    h.update(quota.requests.to_le_bytes());
    if scope == Scope::Path {
        h.update(b"\0path\0");
        h.update(path.as_bytes());
    }
    h.update(b"\0");
    h.update(client.as_bytes());
    hex32(&h.finalize())
}

fn hex32(bytes: &[u8]) -> String {
    crate::digest::hex(&bytes[..16])
}

/// The prefixes counters live under (the streaming preset counts apart).
pub const COUNTER_PREFIXES: [&str; 2] = ["rl:stream:", "rl:"];

/// Whether the store key `key` is a counter whose window and the one after
/// it have passed at `now_secs` (the sliding window still reads the previous
/// window's counter). Keys that are not counters are never expired.
pub fn counter_expired(key: &str, now_secs: u64) -> bool {
    COUNTER_PREFIXES
        .iter()
        .find_map(|p| parse_counter_key(key, p))
        .is_some_and(|(end, len)| now_secs >= end.saturating_add(len))
}

/// `(window_end, window_len)` of a key made by [`counter_key`].
fn parse_counter_key(key: &str, prefix: &str) -> Option<(u64, u64)> {
    let rest = key.strip_prefix(prefix)?.strip_prefix('w')?;
    let mut parts = rest.splitn(3, ':');
    let end = parts.next()?.parse().ok()?;
    let len = parts.next()?.parse().ok()?;
    let digest = parts.next()?;
    (digest.len() == 32 && digest.bytes().all(|b| b.is_ascii_hexdigit())).then_some((end, len))
}

/// The client's address as the policy counts it: the peer from
/// `spin-client-addr` by default, or what a trusted proxy says. IPv6
/// addresses are cut to `ipv6_prefix` bits, so one subscriber's /64 cannot
/// mint fresh buckets. `None` when the source gives nothing usable.
pub fn client_address(
    source: &ClientIpSource,
    ipv6_prefix: u8,
    header: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let raw = match source {
        ClientIpSource::Peer => header("spin-client-addr")?,
        ClientIpSource::Header(name) => header(name)?,
        ClientIpSource::ForwardedFor(n) => {
            let list = header("x-forwarded-for")?;
            let entries: Vec<&str> = list.split(',').map(str::trim).collect();
            let index = entries.len().checked_sub(usize::from(*n))?;
            entries[index].to_owned()
        }
    };
    let ip = parse_ip(raw.trim())?;
    Some(match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("{}/{}", mask_v6(v6, ipv6_prefix), ipv6_prefix),
        },
    })
}

/// Accepts `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]:5678` and `[::1]`.
fn parse_ip(s: &str) -> Option<IpAddr> {
    if s.len() > 64 {
        return None;
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

fn mask_v6(ip: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let bits = u128::from(ip);
    let prefix = u32::from(prefix.min(128));
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    Ipv6Addr::from(bits & mask)
}

/// What the caller is, for tiers and user keys.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'a> {
    pub user_id: Option<&'a str>,
    pub roles: &'a [String],
}

/// The client key: the key parts joined. A `user` part falls back to the
/// address when nobody is authenticated; a missing header counts as empty.
/// `None` when an address is needed and there is none (counted as unknown
/// clients together rather than not at all).
pub fn client_key(
    limit: &RateLimit,
    address: Option<&str>,
    caller: Caller<'_>,
    header: impl Fn(&str) -> Option<String>,
) -> String {
    let mut parts = Vec::with_capacity(limit.key.len());
    for part in &limit.key {
        parts.push(match part {
            KeyPart::Ip => format!("ip={}", address.unwrap_or("unknown")),
            KeyPart::User => match caller.user_id {
                Some(id) => format!("user={id}"),
                None => format!("ip={}", address.unwrap_or("unknown")),
            },
            KeyPart::Header(name) => {
                let mut v = header(name).unwrap_or_default();
                v.truncate(256);
                format!("h:{name}={v}")
            }
        });
    }
    parts.join("\u{1f}")
}

/// The quotas that apply to this caller: the first matching tier's, else the
/// route's own.
pub fn quotas_for<'a>(limit: &'a RateLimit, caller: Caller<'_>) -> &'a [Quota] {
    for (tier, quotas) in &limit.tiers {
        let applies = match tier {
            Tier::Anonymous => caller.user_id.is_none(),
            Tier::Authenticated => caller.user_id.is_some(),
            Tier::Role(role) => caller.user_id.is_some() && caller.roles.iter().any(|r| r == role),
        };
        if applies {
            return quotas;
        }
    }
    &limit.quotas
}

/// What a store told us about one quota.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Counted {
    /// The fixed-window counter after this request's increment.
    Exact(i64),
    /// The sliding-window estimate after this request's increment.
    Estimate(f64),
}

/// The sliding-window estimate: this window's count plus the previous
/// window's, weighted by the share of the previous window still inside the
/// sliding window that ends now.
pub fn sliding_estimate(previous: i64, current: i64, window: &Window, now_ms: u64) -> f64 {
    let len_ms = (window.end_secs - window.start_secs) as f64 * 1000.0;
    let into = (now_ms.saturating_sub(window.start_secs * 1000)) as f64;
    let overlap = (1.0 - into / len_ms).clamp(0.0, 1.0);
    previous.max(0) as f64 * overlap + current.max(0) as f64
}

/// One quota's verdict for this request.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaState {
    pub name: String,
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the counter resets.
    pub reset_secs: u64,
    /// Seconds from now until then, at least 1.
    pub reset_in: u64,
    pub window_secs: u64,
    pub admitted: bool,
}

impl QuotaState {
    pub fn from_count(quota: &Quota, window: &Window, count: Counted, now_ms: u64) -> QuotaState {
        let used = match count {
            Counted::Exact(n) => n.max(0) as f64,
            Counted::Estimate(x) => x,
        };
        let limit = f64::from(quota.requests);
        let remaining = (limit - used).floor().clamp(0.0, limit) as u32;
        QuotaState {
            name: quota.name.clone(),
            limit: quota.requests,
            remaining,
            reset_secs: window.end_secs,
            reset_in: seconds_until(window.end_secs, now_ms),
            window_secs: quota.window_secs,
            admitted: used <= limit,
        }
    }

    /// A client this instance already knows to be over the limit until the
    /// window ends: denied without asking the store.
    pub fn known_over(quota: &Quota, window: &Window, now_ms: u64) -> QuotaState {
        QuotaState {
            name: quota.name.clone(),
            limit: quota.requests,
            remaining: 0,
            reset_secs: window.end_secs,
            reset_in: seconds_until(window.end_secs, now_ms),
            window_secs: quota.window_secs,
            admitted: false,
        }
    }
}

fn seconds_until(end_secs: u64, now_ms: u64) -> u64 {
    (end_secs * 1000)
        .saturating_sub(now_ms)
        .div_ceil(1000)
        .max(1)
}

/// The verdict over every quota of the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub quotas: Vec<QuotaState>,
}

impl Verdict {
    pub fn admitted(&self) -> bool {
        self.quotas.iter().all(|q| q.admitted)
    }

    /// The quota closest to refusing: the one the `X-RateLimit-*` headers
    /// describe.
    pub fn tightest(&self) -> Option<&QuotaState> {
        self.quotas
            .iter()
            .filter(|q| !q.admitted)
            .max_by_key(|q| q.reset_in)
            .or_else(|| self.quotas.iter().min_by_key(|q| (q.remaining, q.reset_in)))
    }

    /// Seconds until every refusing quota has reset: `Retry-After`.
    pub fn retry_after(&self) -> u64 {
        self.quotas
            .iter()
            .filter(|q| !q.admitted)
            .map(|q| q.reset_in)
            .max()
            .unwrap_or(1)
    }

    /// The response headers: the seed's `X-RateLimit-*` and the IETF
    /// structured fields (draft-ietf-httpapi-ratelimit-headers), each family
    /// when enabled; `Retry-After` when refused.
    pub fn headers(&self, legacy: bool, ietf: bool) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(t) = self.tightest()
            && legacy
        {
            out.push(("x-ratelimit-limit".into(), t.limit.to_string()));
            out.push(("x-ratelimit-remaining".into(), t.remaining.to_string()));
            out.push(("x-ratelimit-reset".into(), t.reset_secs.to_string()));
        }
        if ietf && !self.quotas.is_empty() {
            let policy: Vec<String> = self
                .quotas
                .iter()
                .map(|q| format!("\"{}\";q={};w={}", q.name, q.limit, q.window_secs))
                .collect();
            let state: Vec<String> = self
                .quotas
                .iter()
                .map(|q| format!("\"{}\";r={};t={}", q.name, q.remaining, q.reset_in))
                .collect();
            out.push(("ratelimit-policy".into(), policy.join(", ")));
            out.push(("ratelimit".into(), state.join(", ")));
        }
        if !self.admitted() {
            out.push(("retry-after".into(), self.retry_after().to_string()));
        }
        out
    }
}

/// A short, non-reversible label for a client key in logs (addresses and
/// user ids stay out of log lines).
pub fn fingerprint(client: &str) -> String {
    crate::digest::fingerprint(client.as_bytes())
}

/// The seed's exact 429 body.
pub fn too_many_requests_body(retry_after: u64) -> String {
    crate::log::json(&serde_json::json!({
        "error": "Too many requests",
        "message": format!("Rate limit exceeded. Try again in {retry_after} seconds."),
        "retryAfter": retry_after,
    }))
}

/// Whether a request is exempt from the limit by its method or headers.
pub fn skipped(limit: &RateLimit, method: &str, header: impl Fn(&str) -> Option<String>) -> bool {
    limit.skip_if.methods.iter().any(|m| m == method)
        || limit.skip_if.headers.iter().any(|(name, value)| {
            header(name).is_some_and(|v| constant_time_eq(v.as_bytes(), value.as_bytes()))
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Reads a counter written by `increment`: Spin's default store keeps 8
/// little-endian bytes, its Redis store a decimal string (DESIGN §2).
pub fn decode_counter(bytes: &[u8]) -> Option<i64> {
    if let Ok(b) = <[u8; 8]>::try_from(bytes) {
        // Eight ASCII digits are a decimal string, not a counter near 2^62.
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Some(i64::from_le_bytes(b));
        }
    }
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Preset, RateLimitRule, parse_policy};

    fn limit(rate_limit: &str) -> RateLimit {
        let doc = format!(
            "[[routes]]\nname = \"r\"\npath = \"/*\"\nauth = \"optional\"\nrate_limit = {rate_limit}\n"
        );
        match parse_policy(&doc).unwrap().routes.remove(0).rate_limit {
            RateLimitRule::Limit(l) => l,
            RateLimitRule::Off => panic!(),
        }
    }

    #[test]
    fn windows_align_and_keys_name_them() {
        let q = Preset::Api.quota();
        let w = window_of(&q, 1_700_000_059_999);
        assert_eq!((w.start_secs, w.end_secs), (1_700_000_040, 1_700_000_100));
        let key = counter_key(&q, &w, &bucket("r", &q, Scope::Route, "/x", "ip=1.2.3.4"));
        assert!(key.starts_with("rl:w1700000100:60:"), "{key}");
        assert!(!counter_expired(&key, 1_700_000_159));
        assert!(counter_expired(&key, 1_700_000_160));
        assert!(!counter_expired("rl:w5:abc", u64::MAX));
        assert!(!counter_expired("session:abc", u64::MAX));
        assert!(!counter_expired("rl:sweep:5", u64::MAX));
        let s = Preset::Streaming.quota();
        let skey = counter_key(&s, &w, "0".repeat(32).as_str());
        assert!(skey.starts_with("rl:stream:w1700000100:60:"), "{skey}");
        assert!(counter_expired(&skey, 1_700_000_160));
    }

    #[test]
    fn buckets_separate_routes_quotas_paths_and_clients_but_not_spellings() {
        let q = Preset::Auth.quota();
        let a = bucket("login", &q, Scope::Route, "/auth/login", "ip=1.1.1.1");
        assert_eq!(
            a,
            bucket("login", &q, Scope::Route, "/auth/other", "ip=1.1.1.1")
        );
        assert_ne!(
            a,
            bucket("other", &q, Scope::Route, "/auth/login", "ip=1.1.1.1")
        );
        assert_ne!(
            a,
            bucket("login", &q, Scope::Route, "/auth/login", "ip=1.1.1.2")
        );
        let p = bucket("login", &q, Scope::Path, "/auth/login", "ip=1.1.1.1");
        assert_ne!(
            p,
            bucket("login", &q, Scope::Path, "/auth/other", "ip=1.1.1.1")
        );
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn client_addresses() {
        let peer =
            |v: &'static str| move |h: &str| (h == "spin-client-addr").then(|| v.to_string());
        let src = ClientIpSource::Peer;
        assert_eq!(
            client_address(&src, 64, peer("10.0.0.7:5555")).as_deref(),
            Some("10.0.0.7")
        );
        assert_eq!(
            client_address(&src, 64, peer("[2001:db8:1:2:3:4:5:6]:443")).as_deref(),
            Some("2001:db8:1:2::/64")
        );
        assert_eq!(
            client_address(&src, 64, peer("2001:db8:1:2:ffff::1")),
            client_address(&src, 64, peer("2001:db8:1:2::9")),
            "one /64, one client"
        );
        assert_ne!(
            client_address(&src, 64, peer("2001:db8:1:3::1")),
            client_address(&src, 64, peer("2001:db8:1:2::1"))
        );
        assert_eq!(
            client_address(&src, 48, peer("2001:db8:1:2::1")).as_deref(),
            Some("2001:db8:1::/48")
        );
        assert_eq!(
            client_address(&src, 64, peer("::ffff:1.2.3.4")).as_deref(),
            Some("1.2.3.4")
        );
        assert_eq!(client_address(&src, 64, peer("garbage")), None);
        assert_eq!(client_address(&src, 64, |_: &str| None), None);

        // The default never reads client-supplied headers.
        let spoof = |h: &str| match h {
            "spin-client-addr" => Some("10.0.0.7:1".to_string()),
            "x-forwarded-for" | "x-real-ip" | "cf-connecting-ip" => Some("6.6.6.6".to_string()),
            _ => None,
        };
        assert_eq!(client_address(&src, 64, spoof).as_deref(), Some("10.0.0.7"));
        let xff = |h: &str| {
            (h == "x-forwarded-for").then(|| "6.6.6.6, 203.0.113.9, 10.0.0.1".to_string())
        };
        assert_eq!(
            client_address(&ClientIpSource::ForwardedFor(1), 64, xff).as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            client_address(&ClientIpSource::ForwardedFor(2), 64, xff).as_deref(),
            Some("203.0.113.9")
        );
        assert_eq!(
            client_address(&ClientIpSource::ForwardedFor(4), 64, xff),
            None
        );
        let real = |h: &str| (h == "x-real-ip").then(|| "198.51.100.4".to_string());
        assert_eq!(
            client_address(&ClientIpSource::Header("x-real-ip".into()), 64, real).as_deref(),
            Some("198.51.100.4")
        );
    }

    #[test]
    fn counts_and_verdicts() {
        let q = Preset::Auth.quota();
        let now = 1_700_000_000_500;
        let w = window_of(&q, now);
        let fifth = QuotaState::from_count(&q, &w, Counted::Exact(5), now);
        assert!(fifth.admitted);
        assert_eq!(fifth.remaining, 0);
        let sixth = QuotaState::from_count(&q, &w, Counted::Exact(6), now);
        assert!(!sixth.admitted);
        let v = Verdict {
            quotas: vec![sixth.clone()],
        };
        assert_eq!(v.retry_after(), sixth.reset_in);
        assert_eq!(
            sixth.reset_in,
            w.end_secs - now / 1000,
            "ceil of the time left"
        );
        let headers = v.headers(true, true);
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("x-ratelimit-limit"), "5");
        assert_eq!(get("x-ratelimit-remaining"), "0");
        assert_eq!(get("x-ratelimit-reset"), w.end_secs.to_string());
        assert_eq!(get("ratelimit-policy"), "\"auth\";q=5;w=900");
        assert_eq!(
            get("ratelimit"),
            format!("\"auth\";r=0;t={}", sixth.reset_in)
        );
        assert_eq!(get("retry-after"), sixth.reset_in.to_string());
        assert!(
            Verdict {
                quotas: vec![fifth]
            }
            .headers(false, false)
            .is_empty()
        );
    }

    #[test]
    fn the_seed_body() {
        assert_eq!(
            too_many_requests_body(45),
            r#"{"error":"Too many requests","message":"Rate limit exceeded. Try again in 45 seconds.","retryAfter":45}"#
        );
    }

    #[test]
    fn sliding_window_weights_the_previous_window() {
        let q = Preset::Api.quota();
        let w = window_of(&q, 1_700_000_040_000);
        assert_eq!(sliding_estimate(100, 10, &w, 1_700_000_040_000), 110.0);
        assert_eq!(sliding_estimate(100, 10, &w, 1_700_000_070_000), 60.0);
        assert_eq!(sliding_estimate(-3, 1, &w, 1_700_000_070_000), 1.0);
    }

    #[test]
    fn tiers_keys_and_skips() {
        let l = limit(
            r#"{ preset = "api", key = ["user", "header:x-tenant"], tiers = { anonymous = "strict", "role:admin" = "webhook" },
                skip_if = { methods = ["OPTIONS"], headers = { "x-probe" = "secret-value" } } }"#,
        );
        let roles = vec!["admin".to_string()];
        let anon = Caller::default();
        let admin = Caller {
            user_id: Some("u1"),
            roles: &roles,
        };
        let plain = Caller {
            user_id: Some("u2"),
            roles: &[],
        };
        assert_eq!(quotas_for(&l, anon)[0].requests, 20);
        assert_eq!(quotas_for(&l, admin)[0].requests, 1000);
        assert_eq!(quotas_for(&l, plain)[0].requests, 100);
        let tenant = |h: &str| (h == "x-tenant").then(|| "acme".to_string());
        assert_eq!(
            client_key(&l, Some("1.2.3.4"), plain, tenant),
            "user=u2\u{1f}h:x-tenant=acme"
        );
        assert_eq!(
            client_key(&l, Some("1.2.3.4"), anon, |_: &str| None),
            "ip=1.2.3.4\u{1f}h:x-tenant="
        );
        assert!(skipped(&l, "OPTIONS", |_: &str| None));
        assert!(skipped(&l, "GET", |h: &str| (h == "x-probe")
            .then(|| "secret-value".to_string())));
        assert!(!skipped(&l, "GET", |h: &str| (h == "x-probe")
            .then(|| "secret-valuf".to_string())));
    }

    #[test]
    fn counters_in_either_encoding() {
        assert_eq!(decode_counter(&7i64.to_le_bytes()), Some(7));
        assert_eq!(decode_counter(b"42"), Some(42));
        assert_eq!(decode_counter(b"12345678"), Some(12_345_678));
        assert_eq!(decode_counter(b"{}"), None);
    }
}
