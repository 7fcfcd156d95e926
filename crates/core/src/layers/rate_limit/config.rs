//! Rate-limit rules of a route: the seed presets, custom quotas, tiers and
//! the global `[rate_limit]` settings.
//!
//! ```
//! use warden_core::base::fields::parse_duration;
//! use warden_core::layers::rate_limit::{KeyPart, Preset, RateLimitRule};
//!
//! assert_eq!(Preset::Auth.requests(), 5);
//! assert_eq!(Preset::Auth.window_secs(), 900);
//! assert_eq!(parse_duration("15m"), Ok(900));
//! let RateLimitRule::Limit(limit) = Preset::Streaming.rule(KeyPart::Ip) else { unreachable!() };
//! assert_eq!(limit.quotas[0].requests, 60);
//! assert_eq!(limit.quotas[0].prefix, "rl:stream:");
//! ```

use std::fmt;

use crate::base::denial::Denial;
use crate::base::fail_mode::FailMode;

/// The longest window a rule may use: thirty days. Longer windows keep state
/// alive for so long that the store never gets to sweep it.
pub const MAX_WINDOW_SECS: u64 = 86_400 * 30;

/// The key prefix of every rule except the streaming preset.
pub const DEFAULT_KEY_PREFIX: &str = "rl:";

/// How a route is rate limited. The `Default` is `Off`, what a build
/// without the layer gives every route; a route that says nothing gets
/// [`RateLimitRule::default_for_route`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RateLimitRule {
    /// No limit.
    #[default]
    Off,
    /// One or more quotas per client.
    Limit(RateLimit),
}

impl RateLimitRule {
    /// The default of a route that says nothing: the seed limits everything that
    /// has no other preset with `web`.
    /// `Off` in a build without the rate-limit layer.
    pub fn default_for_route() -> RateLimitRule {
        if !cfg!(feature = "rate-limit") {
            return RateLimitRule::Off;
        }
        Preset::Web.rule(KeyPart::Ip)
    }

    /// The limit, if the route has one.
    pub fn limit(&self) -> Option<&RateLimit> {
        match self {
            RateLimitRule::Off => None,
            RateLimitRule::Limit(limit) => Some(limit),
        }
    }
}

/// A route's rate limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// The quotas every client gets unless a tier says otherwise; a request
    /// must fit all of them. Never empty.
    pub quotas: Vec<Quota>,
    /// Quotas by who is calling; the first tier that applies wins.
    pub tiers: Vec<(Tier, Vec<Quota>)>,
    /// What a client is counted by; parts are joined. Never empty.
    pub key: Vec<KeyPart>,
    /// One bucket per route rule (default) or per normalized path.
    pub scope: Scope,
    pub algorithm: Algorithm,
    /// What happens when the store cannot be reached.
    pub fail: FailMode,
    /// A route's own answer instead of the seed's 429.
    pub deny: Option<Denial>,
    /// Requests this limit does not count.
    pub skip_if: SkipIf,
}

impl RateLimit {
    /// One quota, counted by `key`, with every other setting at its default.
    pub fn single(quota: Quota, key: KeyPart) -> RateLimit {
        RateLimit {
            quotas: vec![quota],
            tiers: Vec::new(),
            key: vec![key],
            scope: Scope::Route,
            algorithm: Algorithm::FixedWindow,
            fail: FailMode::Open,
            deny: None,
            skip_if: SkipIf::default(),
        }
    }

    /// Whether counting needs to know the caller, so it must run after
    /// authentication rather than before it.
    pub fn needs_identity(&self) -> bool {
        !self.tiers.is_empty() || self.key.contains(&KeyPart::User)
    }
}

impl fmt::Display for RateLimitRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateLimitRule::Off => f.write_str("off"),
            RateLimitRule::Limit(limit) => {
                let quotas: Vec<String> = limit
                    .quotas
                    .iter()
                    .map(|q| {
                        let name = q.preset.map_or("custom", |p| p.name());
                        format!("{name}({}/{}s", q.requests, q.window_secs)
                    })
                    .collect();
                let key: Vec<String> = limit.key.iter().map(ToString::to_string).collect();
                write!(f, "{} key={})", quotas.join(" + "), key.join("+"))?;
                if !limit.tiers.is_empty() {
                    write!(f, " tiers={}", limit.tiers.len())?;
                }
                Ok(())
            }
        }
    }
}

/// At most `requests` per `window_secs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// The policy name in the IETF `RateLimit` headers: the preset's name, or
    /// the route's (with the window when a route has several quotas).
    pub name: String,
    /// At least 1.
    pub requests: u32,
    /// From 1 to [`MAX_WINDOW_SECS`].
    pub window_secs: u64,
    /// The preset this quota came from, if any.
    pub preset: Option<Preset>,
    /// Store key prefix; presets with their own prefix count in their own bucket.
    pub prefix: &'static str,
}

/// Who a tier applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tier {
    /// No identity established.
    Anonymous,
    /// Any authenticated caller.
    Authenticated,
    /// An authenticated caller with this role.
    Role(String),
    /// A caller whose credential carries this tier (an API key's `tier`).
    ApiKey(String),
}

impl Tier {
    /// The tier's name in the policy (`anonymous`, `authenticated`, `role:admin`, `apikey:free`).
    pub fn name(&self) -> String {
        match self {
            Tier::Anonymous => "anonymous".into(),
            Tier::Authenticated => "authenticated".into(),
            Tier::Role(role) => format!("role:{role}"),
            Tier::ApiKey(tier) => format!("apikey:{tier}"),
        }
    }
}

/// One part of the key a client is counted by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    /// The client address (the seed's default); IPv6 by prefix.
    Ip,
    /// The authenticated user; the client address when anonymous.
    User,
    /// The value of a request header (lower-case name); empty when absent.
    Header(String),
}

impl fmt::Display for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPart::Ip => f.write_str("ip"),
            KeyPart::User => f.write_str("user"),
            KeyPart::Header(name) => write!(f, "header:{name}"),
        }
    }
}

impl KeyPart {
    /// Parses `ip`, `user` or `header:NAME`.
    pub fn parse(s: &str) -> Result<KeyPart, String> {
        match s {
            "ip" => Ok(KeyPart::Ip),
            "user" => Ok(KeyPart::User),
            _ => match s.strip_prefix("header:") {
                Some(name)
                    if !name.is_empty()
                        && name.len() <= 64
                        && name.bytes().all(crate::base::fields::is_tchar) =>
                {
                    Ok(KeyPart::Header(name.to_ascii_lowercase()))
                }
                _ => Err("must be \"ip\", \"user\" or \"header:NAME\"".into()),
            },
        }
    }
}

/// Where a bucket's boundary lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// One bucket per route rule and client: `/auth/login`, `/AUTH/login/`
    /// and `/auth/login?x` all count together.
    #[default]
    Route,
    /// One bucket per normalized path and client (the seed's `rl:{ip}:{path}`).
    Path,
}

/// How requests in a window are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// An exact counter per window (one atomic increment per request).
    #[default]
    FixedWindow,
    /// The current window's exact counter plus the previous window's,
    /// weighted by how much of it still overlaps: smoother at window edges,
    /// one extra read per request, an estimate rather than an exact count.
    SlidingWindow,
}

/// Requests a limit does not count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SkipIf {
    /// Upper-case methods.
    pub methods: Vec<String>,
    /// Header name (lower-case) and the exact value it must have.
    pub headers: Vec<(String, String)>,
}

/// Global `[rate_limit]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Where the client address comes from.
    pub client_ip: ClientIpSource,
    /// IPv6 clients are counted by this prefix length (a /64 is one subscriber).
    pub ipv6_prefix: u8,
    /// `X-RateLimit-Limit/-Remaining/-Reset` on limited routes.
    pub legacy_headers: bool,
    /// IETF `RateLimit-Policy` and `RateLimit` on limited routes.
    pub ietf_headers: bool,
    /// How often expired counters are swept from the store.
    pub sweep_interval_secs: u64,
    /// The approximate limiter's reconciliation (the minimal flavour only).
    pub approximate: super::approximate::ApproximateSettings,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            client_ip: ClientIpSource::Peer,
            ipv6_prefix: 64,
            legacy_headers: true,
            ietf_headers: true,
            sweep_interval_secs: 60,
            approximate: super::approximate::ApproximateSettings::default(),
        }
    }
}

/// Where the client address is read from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClientIpSource {
    /// The connection's peer, from the host's `spin-client-addr`. Never a
    /// header the client could write.
    #[default]
    Peer,
    /// A header set by a trusted proxy in front (`cf-connecting-ip`, `x-real-ip`).
    Header(String),
    /// The Nth entry from the right of `x-forwarded-for` (1 = the address the
    /// nearest trusted proxy saw).
    ForwardedFor(u8),
}

/// The seed's rate-limit presets, with its exact numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Login and similar: 5 per 15 minutes.
    Auth,
    /// Sensitive operations: 20 per minute.
    Strict,
    /// Streaming endpoints: 60 per minute, in their own bucket.
    Streaming,
    /// General API: 100 per minute.
    Api,
    /// Webhook receivers: 1000 per minute.
    Webhook,
    /// Everything else: 300 per minute.
    Web,
    /// Seed 001's free API tier: 1000 per day.
    Free,
    /// Seed 001's paid API tier: 100000 per day.
    Paid,
}

impl Preset {
    /// Every preset, in the order the seed lists them.
    pub const ALL: [Preset; 8] = [
        Preset::Auth,
        Preset::Strict,
        Preset::Streaming,
        Preset::Api,
        Preset::Webhook,
        Preset::Web,
        Preset::Free,
        Preset::Paid,
    ];

    /// Requests allowed per window.
    pub fn requests(self) -> u32 {
        match self {
            Preset::Auth => 5,
            Preset::Strict => 20,
            Preset::Streaming => 60,
            Preset::Api => 100,
            Preset::Webhook => 1000,
            Preset::Web => 300,
            Preset::Free => 1000,
            Preset::Paid => 100_000,
        }
    }

    /// Window length in seconds.
    pub fn window_secs(self) -> u64 {
        match self {
            Preset::Auth => 15 * 60,
            Preset::Free | Preset::Paid => 86_400,
            _ => 60,
        }
    }

    /// The name used in the policy document.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Auth => "auth",
            Preset::Strict => "strict",
            Preset::Streaming => "streaming",
            Preset::Api => "api",
            Preset::Webhook => "webhook",
            Preset::Web => "web",
            Preset::Free => "free",
            Preset::Paid => "paid",
        }
    }

    /// Store key prefix; streaming counts separately from everything else.
    pub fn key_prefix(self) -> &'static str {
        match self {
            Preset::Streaming => "rl:stream:",
            _ => DEFAULT_KEY_PREFIX,
        }
    }

    /// Looks a preset up by its policy name.
    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// This preset as a quota.
    pub fn quota(self) -> Quota {
        Quota {
            name: self.name().to_owned(),
            requests: self.requests(),
            window_secs: self.window_secs(),
            preset: Some(self),
            prefix: self.key_prefix(),
        }
    }

    /// The rule this preset stands for, counted by `key`.
    pub fn rule(self, key: KeyPart) -> RateLimitRule {
        RateLimitRule::Limit(RateLimit::single(self.quota(), key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_numbers_are_the_seeds() {
        let expected = [
            ("auth", 5, 900, "rl:"),
            ("strict", 20, 60, "rl:"),
            ("streaming", 60, 60, "rl:stream:"),
            ("api", 100, 60, "rl:"),
            ("webhook", 1000, 60, "rl:"),
            ("web", 300, 60, "rl:"),
            ("free", 1000, 86_400, "rl:"),
            ("paid", 100_000, 86_400, "rl:"),
        ];
        assert_eq!(Preset::ALL.len(), expected.len());
        for (preset, (name, requests, window, prefix)) in Preset::ALL.into_iter().zip(expected) {
            assert_eq!(preset.name(), name);
            assert_eq!(preset.requests(), requests, "{name}");
            assert_eq!(preset.window_secs(), window, "{name}");
            assert_eq!(preset.key_prefix(), prefix, "{name}");
            assert_eq!(Preset::from_name(name), Some(preset));
            let q = preset.quota();
            assert_eq!(
                (q.requests, q.window_secs, q.prefix),
                (requests, window, prefix)
            );
        }
        assert_eq!(Preset::from_name("Web"), None);
        assert_eq!(Preset::from_name("off"), None);
    }

    #[test]
    fn preset_rule_and_default() {
        let RateLimitRule::Limit(limit) = RateLimitRule::default_for_route() else {
            panic!("default is off")
        };
        assert_eq!(limit.quotas, vec![Preset::Web.quota()]);
        assert_eq!(limit.key, vec![KeyPart::Ip]);
        assert_eq!(limit.fail, FailMode::Open);
        assert!(!limit.needs_identity());
        let RateLimitRule::Limit(user) = Preset::Auth.rule(KeyPart::User) else {
            panic!()
        };
        assert!(user.needs_identity());
    }

    #[test]
    fn display() {
        assert_eq!(RateLimitRule::Off.to_string(), "off");
        assert_eq!(
            Preset::Api.rule(KeyPart::User).to_string(),
            "api(100/60s key=user)"
        );
    }

    #[test]
    fn key_parts() {
        assert_eq!(KeyPart::parse("ip"), Ok(KeyPart::Ip));
        assert_eq!(KeyPart::parse("user"), Ok(KeyPart::User));
        assert_eq!(
            KeyPart::parse("header:X-Tenant"),
            Ok(KeyPart::Header("x-tenant".into()))
        );
        for bad in ["IP", "header:", "header:a b", "cookie:x", ""] {
            assert!(KeyPart::parse(bad).is_err(), "{bad:?}");
        }
    }
}
