//! The rate-limit decision: client keys, counter keys and windows, what a
//! count means, and the headers and 429 body that say so.

use super::config::{ClientIpSource, KeyPart, Quota, RateLimit, Scope, Tier};
use crate::base::denial::{Denial, Rejection};
use crate::base::fail_mode::FailMode;
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
    crate::base::digest::hex(&bytes[..16])
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

/// The header the host sets to the connection's peer address.
pub const PEER_ADDRESS_HEADER: &str = "spin-client-addr";

/// The client's address as the policy counts it, and whether the configured
/// source had to be passed over for the peer address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress {
    /// The address (IPv6 cut to its prefix); `None` when not even the peer
    /// address is usable.
    pub address: Option<String>,
    /// Why the configured header gave no trustworthy address, so the peer
    /// address was used instead. Worth a log line; never carries a value.
    pub fallback: Option<AddressFallback>,
}

/// Why a configured client-address header was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressFallback {
    /// The request has no line of that header.
    Missing,
    /// A single-value header (`x-real-ip`, `cf-connecting-ip`) came as more
    /// than one field line: one of them is not the proxy's.
    RepeatedField,
    /// A field line is not UTF-8.
    NotUtf8,
    /// `X-Forwarded-For` has fewer entries than `x_forwarded_for = N`.
    TooFewEntries,
    /// The chosen entry is not an IP address.
    NotAnAddress,
}

impl AddressFallback {
    /// A short fixed reason for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            AddressFallback::Missing => "header missing",
            AddressFallback::RepeatedField => "single-value header sent more than once",
            AddressFallback::NotUtf8 => "header not UTF-8",
            AddressFallback::TooFewEntries => "fewer x-forwarded-for entries than configured",
            AddressFallback::NotAnAddress => "entry is not an IP address",
        }
    }
}

/// The client's address as the policy counts it: the peer from
/// `spin-client-addr` by default, or what a trusted proxy says. IPv6
/// addresses are cut to `ipv6_prefix` bits, so one subscriber's /64 cannot
/// mint fresh buckets.
///
/// `headers` are the request's field lines as received. `X-Forwarded-For`
/// is read from all of its lines, combined in order (RFC 9110 §5.3), before
/// counting from the right: a proxy may append its own line after the
/// client's. When the configured header gives no trustworthy address (see
/// [`AddressFallback`]), the peer address is used, so that clients are never
/// pooled into one shared bucket (or handed a fresh one) by what they send.
pub fn client_address(
    source: &ClientIpSource,
    ipv6_prefix: u8,
    headers: &[(String, Vec<u8>)],
) -> ClientAddress {
    let (ip, fallback) = client_ip(source, headers);
    ClientAddress {
        address: ip.map(|ip| counted_address(ip, ipv6_prefix)),
        fallback,
    }
}

/// The client's IP address as [`client_address`] resolves it, uncut (for
/// security events, which name its own, shorter prefix), and why the
/// configured source was passed over, if it was.
pub fn client_ip(
    source: &ClientIpSource,
    headers: &[(String, Vec<u8>)],
) -> (Option<IpAddr>, Option<AddressFallback>) {
    let from_header = match source {
        ClientIpSource::Peer => None,
        ClientIpSource::Header(name) => Some(single_value_address(headers, name)),
        ClientIpSource::ForwardedFor(n) => Some(forwarded_for_address(headers, *n)),
    };
    let fallback = match from_header {
        Some(Ok(ip)) => return (Some(ip), None),
        Some(Err(why)) => Some(why),
        None => None,
    };
    let peer = match crate::base::text::field_lines(headers, PEER_ADDRESS_HEADER).as_slice() {
        [line] => std::str::from_utf8(line)
            .ok()
            .and_then(|v| parse_ip(v.trim())),
        _ => None,
    };
    (peer, fallback)
}

/// A header that carries one address: exactly one line, UTF-8, an address.
fn single_value_address(
    headers: &[(String, Vec<u8>)],
    name: &str,
) -> Result<IpAddr, AddressFallback> {
    match crate::base::text::field_lines(headers, name).as_slice() {
        [] => Err(AddressFallback::Missing),
        [line] => {
            let text = std::str::from_utf8(line).map_err(|_| AddressFallback::NotUtf8)?;
            parse_ip(text.trim()).ok_or(AddressFallback::NotAnAddress)
        }
        _ => Err(AddressFallback::RepeatedField),
    }
}

/// The `n`th entry from the right of every `X-Forwarded-For` line combined,
/// empty list elements ignored (RFC 9110 §5.6.1).
fn forwarded_for_address(headers: &[(String, Vec<u8>)], n: u8) -> Result<IpAddr, AddressFallback> {
    let lines = crate::base::text::field_lines(headers, "x-forwarded-for");
    if lines.is_empty() {
        return Err(AddressFallback::Missing);
    }
    let mut entries = Vec::new();
    for line in lines {
        let text = std::str::from_utf8(line).map_err(|_| AddressFallback::NotUtf8)?;
        entries.extend(
            text.split(',')
                .map(|e| e.trim_matches([' ', '\t']))
                .filter(|e| !e.is_empty()),
        );
    }
    let index = entries
        .len()
        .checked_sub(usize::from(n))
        .ok_or(AddressFallback::TooFewEntries)?;
    parse_ip(entries[index]).ok_or(AddressFallback::NotAnAddress)
}

/// The address as counted: IPv4-mapped IPv6 as IPv4, other IPv6 cut to
/// its prefix.
fn counted_address(ip: IpAddr, ipv6_prefix: u8) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("{}/{}", mask_v6(v6, ipv6_prefix), ipv6_prefix),
        },
    }
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
    /// The tier the caller's credential carries (`Identity::tier`).
    pub tier: Option<&'a str>,
}

/// The longest header value a `header:NAME` key part keeps, in bytes.
pub const MAX_KEY_HEADER_BYTES: usize = 256;

/// The client key: the key parts joined. A `user` part falls back to the
/// address when nobody is authenticated; a missing header counts as empty.
/// `None` when an address is needed and there is none (counted as unknown
/// clients together rather than not at all).
///
/// A `header:NAME` part is the header's lines combined (RFC 9110 §5.3),
/// read as UTF-8 with replacement characters, and cut at a character
/// boundary to at most [`MAX_KEY_HEADER_BYTES`]: whatever the client sends,
/// building the key never panics.
pub fn client_key(
    limit: &RateLimit,
    address: Option<&str>,
    caller: Caller<'_>,
    headers: &[(String, Vec<u8>)],
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
                let value = crate::base::text::combined_field(headers, name).unwrap_or_default();
                let value = String::from_utf8_lossy(&value);
                let value =
                    crate::base::text::truncate_at_char_boundary(&value, MAX_KEY_HEADER_BYTES);
                format!("h:{name}={value}")
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
            Tier::ApiKey(tier) => caller.user_id.is_some() && caller.tier == Some(tier.as_str()),
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
    crate::base::digest::fingerprint(client.as_bytes())
}

/// What a limit answers when its store fails: nothing (serve and log) when
/// it fails open, 503 when it fails closed.
pub fn on_store_failure(limit: &RateLimit) -> Option<Denial> {
    match limit.fail {
        FailMode::Open => None,
        FailMode::Closed => Some(Denial::from(Rejection::ServiceUnavailable)),
    }
}

/// The prefix of the keys that elect, per sweep period, the one instance
/// that deletes expired counters.
const SWEEP_CLAIM_PREFIX: &str = "rl:sweep:";

/// The key whose first increment elects the instance that sweeps expired
/// counters in the sweep period containing `now_secs`.
pub fn sweep_claim_key(now_secs: u64, interval_secs: u64) -> String {
    format!("{SWEEP_CLAIM_PREFIX}{}", now_secs / interval_secs.max(1))
}

/// Whether the sweep deletes `key` at `now_secs`: an expired counter, or
/// the claim key of an earlier sweep period.
pub fn swept(key: &str, now_secs: u64, interval_secs: u64) -> bool {
    let period = now_secs / interval_secs.max(1);
    let stale_claim = key
        .strip_prefix(SWEEP_CLAIM_PREFIX)
        .and_then(|p| p.parse::<u64>().ok())
        .is_some_and(|p| p < period);
    stale_claim || counter_expired(key, now_secs)
}

/// The seed's 429: [`too_many_requests_body`] (a route's `deny` replaces it).
pub fn too_many_requests(retry_after: u64) -> Denial {
    Denial {
        status: 429,
        body: too_many_requests_body(retry_after),
    }
}

/// The seed's exact 429 body.
pub fn too_many_requests_body(retry_after: u64) -> String {
    crate::base::log::json(&serde_json::json!({
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

    #[test]
    fn the_sweep_deletes_expired_counters_and_earlier_claims_only() {
        let interval = 60;
        let now = 1_700_000_030;
        let claim = sweep_claim_key(now, interval);
        assert_eq!(claim, format!("rl:sweep:{}", now / 60));
        assert!(!swept(&claim, now, interval));
        assert!(swept(&sweep_claim_key(now - 60, interval), now, interval));
        assert!(!swept("rl:sweep:not-a-number", now, interval));
        assert!(!swept("session:abc", now, interval));
    }

    #[test]
    fn a_failed_store_fails_as_the_limit_says() {
        let policy = crate::policy::parse_policy(
            "[[routes]]\nname = \"a\"\npath = \"/a\"\nrate_limit = { preset = \"api\", fail = \"closed\" }\n\
             [[routes]]\nname = \"b\"\npath = \"/b\"\nrate_limit = \"api\"\n",
        )
        .unwrap();
        let closed = policy.routes[0].keys.rate_limit.limit().unwrap();
        let denial = on_store_failure(closed).unwrap();
        assert_eq!(denial.status, 503);
        assert_eq!(
            on_store_failure(policy.routes[1].keys.rate_limit.limit().unwrap()),
            None
        );
    }
    use super::super::{Preset, RateLimitRule};
    use crate::policy::parse_policy;

    fn limit(rate_limit: &str) -> RateLimit {
        let doc = format!(
            "[[routes]]\nname = \"r\"\npath = \"/*\"\nauth = \"optional\"\nrate_limit = {rate_limit}\n"
        );
        match parse_policy(&doc).unwrap().routes.remove(0).keys.rate_limit {
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

    fn lines(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    fn address(source: &ClientIpSource, prefix: u8, pairs: &[(&str, &str)]) -> Option<String> {
        client_address(source, prefix, &lines(pairs)).address
    }

    #[test]
    fn client_addresses() {
        let peer = |v: &str| vec![("spin-client-addr".to_string(), v.as_bytes().to_vec())];
        let src = ClientIpSource::Peer;
        let at = |v: &str, prefix: u8| client_address(&src, prefix, &peer(v)).address;
        assert_eq!(at("10.0.0.7:5555", 64).as_deref(), Some("10.0.0.7"));
        assert_eq!(
            at("[2001:db8:1:2:3:4:5:6]:443", 64).as_deref(),
            Some("2001:db8:1:2::/64")
        );
        assert_eq!(
            at("2001:db8:1:2:ffff::1", 64),
            at("2001:db8:1:2::9", 64),
            "one /64, one client"
        );
        assert_ne!(at("2001:db8:1:3::1", 64), at("2001:db8:1:2::1", 64));
        assert_eq!(
            at("2001:db8:1:2::1", 48).as_deref(),
            Some("2001:db8:1::/48")
        );
        assert_eq!(at("::ffff:1.2.3.4", 64).as_deref(), Some("1.2.3.4"));
        assert_eq!(at("garbage", 64), None);
        assert_eq!(client_address(&src, 64, &[]).address, None);

        // The default never reads client-supplied headers.
        let spoof = [
            ("spin-client-addr", "10.0.0.7:1"),
            ("x-forwarded-for", "6.6.6.6"),
            ("x-real-ip", "6.6.6.6"),
            ("cf-connecting-ip", "6.6.6.6"),
        ];
        assert_eq!(address(&src, 64, &spoof).as_deref(), Some("10.0.0.7"));
        let xff = [("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.1")];
        assert_eq!(
            address(&ClientIpSource::ForwardedFor(1), 64, &xff).as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            address(&ClientIpSource::ForwardedFor(2), 64, &xff).as_deref(),
            Some("203.0.113.9")
        );
        let real = [("x-real-ip", "198.51.100.4")];
        assert_eq!(
            address(&ClientIpSource::Header("x-real-ip".into()), 64, &real).as_deref(),
            Some("198.51.100.4")
        );
    }

    /// A proxy that appends its own `X-Forwarded-For` line after the
    /// client's: the lines combine in order before counting from the right,
    /// so whatever the client wrote, it is counted by what the proxy saw.
    #[test]
    fn forwarded_for_reads_every_line() {
        let src = ClientIpSource::ForwardedFor(1);
        for client_line in ["1.1.1.1", "2.2.2.2, 3.3.3.3", "garbage", "", " , ,"] {
            let got = client_address(
                &src,
                64,
                &lines(&[
                    ("spin-client-addr", "10.0.0.1:443"),
                    ("X-Forwarded-For", client_line),
                    ("x-forwarded-for", "198.51.100.7"),
                ]),
            );
            assert_eq!(
                got,
                ClientAddress {
                    address: Some("198.51.100.7".into()),
                    fallback: None
                },
                "{client_line:?}"
            );
        }
        // Two proxies, each adding a line: the second from the right.
        assert_eq!(
            address(
                &ClientIpSource::ForwardedFor(2),
                64,
                &[
                    ("x-forwarded-for", "6.6.6.6"),
                    ("x-forwarded-for", "203.0.113.9"),
                    ("x-forwarded-for", "10.0.0.1"),
                ]
            )
            .as_deref(),
            Some("203.0.113.9")
        );
        // Empty list elements are ignored, not counted.
        assert_eq!(
            address(&src, 64, &[("x-forwarded-for", "203.0.113.9,, ,")]).as_deref(),
            Some("203.0.113.9")
        );
    }

    /// When the configured header is no trustworthy source, the peer
    /// address counts, never a shared "unknown" bucket or a value the client
    /// picked.
    #[test]
    fn untrustworthy_headers_fall_back_to_the_peer() {
        let real = ClientIpSource::Header("x-real-ip".into());
        let xff = ClientIpSource::ForwardedFor(2);
        let peer = ("spin-client-addr", "192.0.2.1:1234");
        type Case<'a> = (&'a ClientIpSource, Vec<(String, Vec<u8>)>, AddressFallback);
        let cases: Vec<Case<'_>> = vec![
            (&real, lines(&[peer]), AddressFallback::Missing),
            (
                &real,
                lines(&[peer, ("x-real-ip", "6.6.6.6"), ("X-Real-IP", "7.7.7.7")]),
                AddressFallback::RepeatedField,
            ),
            (
                &real,
                lines(&[peer, ("x-real-ip", "not an address")]),
                AddressFallback::NotAnAddress,
            ),
            (
                &real,
                vec![
                    ("spin-client-addr".into(), b"192.0.2.1:1234".to_vec()),
                    ("x-real-ip".into(), b"\xff\xfe".to_vec()),
                ],
                AddressFallback::NotUtf8,
            ),
            (
                &xff,
                vec![
                    ("spin-client-addr".into(), b"192.0.2.1:1234".to_vec()),
                    ("x-forwarded-for".into(), b"6.6.6.6, \xff".to_vec()),
                    ("x-forwarded-for".into(), b"10.0.0.1".to_vec()),
                ],
                AddressFallback::NotUtf8,
            ),
            (
                &xff,
                lines(&[peer, ("x-forwarded-for", "10.0.0.1")]),
                AddressFallback::TooFewEntries,
            ),
            (&xff, lines(&[peer]), AddressFallback::Missing),
        ];
        for (source, headers, why) in cases {
            assert_eq!(
                client_address(source, 64, &headers),
                ClientAddress {
                    address: Some("192.0.2.1".into()),
                    fallback: Some(why)
                },
                "{why:?}"
            );
            assert!(!why.reason().is_empty());
        }
        // Two non-UTF-8 values from two clients are still two clients.
        let from = |peer: &str| {
            client_address(
                &real,
                64,
                &[
                    ("spin-client-addr".into(), peer.as_bytes().to_vec()),
                    ("x-real-ip".into(), b"\xff".to_vec()),
                ],
            )
            .address
        };
        assert_ne!(from("192.0.2.1:1"), from("192.0.2.2:1"));
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
    fn an_api_keys_tier_selects_its_quotas_before_roles() {
        let l = limit(
            r#"{ preset = "api", key = ["user"], tiers = { "role:admin" = "webhook", "apikey:free" = "free", "apikey:paid" = "paid" } }"#,
        );
        let roles = vec!["admin".to_string()];
        let free = Caller {
            user_id: Some("u1"),
            roles: &roles,
            tier: Some("free"),
        };
        let paid = Caller {
            tier: Some("paid"),
            ..free
        };
        let other = Caller {
            tier: Some("gold"),
            ..free
        };
        let quota = |c| quotas_for(&l, c)[0].clone();
        assert_eq!(
            (quota(free).requests, quota(free).window_secs),
            (1000, 86_400)
        );
        assert_eq!(
            (quota(paid).requests, quota(paid).window_secs),
            (100_000, 86_400)
        );
        assert_eq!(
            quota(other).requests,
            1000,
            "an unlisted tier falls to the role"
        );
        // A tier without an identity is never trusted.
        let anonymous = Caller {
            user_id: None,
            roles: &[],
            tier: Some("paid"),
        };
        assert_eq!(quota(anonymous).requests, 100);
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
            tier: None,
        };
        let plain = Caller {
            user_id: Some("u2"),
            roles: &[],
            tier: None,
        };
        assert_eq!(quotas_for(&l, anon)[0].requests, 20);
        assert_eq!(quotas_for(&l, admin)[0].requests, 1000);
        assert_eq!(quotas_for(&l, plain)[0].requests, 100);
        let tenant = lines(&[("X-Tenant", "acme")]);
        assert_eq!(
            client_key(&l, Some("1.2.3.4"), plain, &tenant),
            "user=u2\u{1f}h:x-tenant=acme"
        );
        assert_eq!(
            client_key(&l, Some("1.2.3.4"), anon, &[]),
            "ip=1.2.3.4\u{1f}h:x-tenant="
        );
        // Repeated lines combine, so a second line makes another client.
        let two = lines(&[("x-tenant", "acme"), ("x-tenant", "evil")]);
        assert_eq!(
            client_key(&l, Some("1.2.3.4"), plain, &two),
            "user=u2\u{1f}h:x-tenant=acme, evil"
        );
        assert!(skipped(&l, "OPTIONS", |_: &str| None));
        assert!(skipped(&l, "GET", |h: &str| (h == "x-probe")
            .then(|| "secret-value".to_string())));
        assert!(!skipped(&l, "GET", |h: &str| (h == "x-probe")
            .then(|| "secret-valuf".to_string())));
    }

    /// Header-keyed limits take any header value, multi-byte characters
    /// across the cut included, without panicking (with `panic = "abort"`
    /// a panic here would take down the whole instance).
    #[test]
    fn header_keys_never_panic_and_stay_bounded() {
        let l = limit(r#"{ preset = "api", key = ["ip", "header:x-key"] }"#);
        let check = |value: &[u8]| {
            let headers = vec![("x-key".to_string(), value.to_vec())];
            let key = client_key(&l, Some("1.2.3.4"), Caller::default(), &headers);
            let kept = key
                .strip_prefix("ip=1.2.3.4\u{1f}h:x-key=")
                .expect("key shape");
            assert!(kept.len() <= MAX_KEY_HEADER_BYTES, "{value:?}");
            let text = String::from_utf8_lossy(value);
            let trimmed = text.trim_matches([' ', '\t']);
            assert!(trimmed.starts_with(kept), "{value:?}");
        };
        // Every width of character straddling every byte around the cut.
        for c in ['é', '€', '𝄞', '\u{fffd}'] {
            for pad in 248..=260 {
                for tail in 0..4 {
                    let value = format!(
                        "{}{}{}",
                        "a".repeat(pad),
                        c.to_string().repeat(tail + 1),
                        "z".repeat(tail)
                    );
                    check(value.as_bytes());
                }
            }
        }
        // Arbitrary UTF-8 (and some not), from a fixed-seed generator.
        const ALPHABET: &[char] = &[
            'a', ' ', '\t', ',', 'é', 'ß', '€', '中', '𝄞', '😀', '\u{7f}', '\0',
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..5_000 {
            let len = (next() % 400) as usize;
            let mut value = String::new();
            for _ in 0..len {
                value.push(ALPHABET[(next() % ALPHABET.len() as u64) as usize]);
            }
            check(value.as_bytes());
            let mut bytes = value.into_bytes();
            if !bytes.is_empty() {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] = 0xff;
            }
            check(&bytes);
        }
    }

    #[test]
    fn counters_in_either_encoding() {
        assert_eq!(decode_counter(&7i64.to_le_bytes()), Some(7));
        assert_eq!(decode_counter(b"42"), Some(42));
        assert_eq!(decode_counter(b"12345678"), Some(12_345_678));
        assert_eq!(decode_counter(b"{}"), None);
    }
}
