//! Rate-limit rules of a route: the seed presets and custom limits.
//!
//! ```
//! use warden_core::policy::{parse_duration, Preset, RateLimitKey, RateLimitRule};
//!
//! assert_eq!(Preset::Auth.requests(), 5);
//! assert_eq!(Preset::Auth.window_secs(), 900);
//! assert_eq!(parse_duration("15m"), Ok(900));
//! assert_eq!(
//!     Preset::Streaming.rule(RateLimitKey::Ip),
//!     RateLimitRule::Limit {
//!         requests: 60,
//!         window_secs: 60,
//!         key: RateLimitKey::Ip,
//!         preset: Some(Preset::Streaming),
//!         prefix: "rl:stream:",
//!     }
//! );
//! ```

use std::fmt;

/// The longest window a rule may use: thirty days. Longer windows keep state
/// alive for so long that the store never gets to sweep it.
pub const MAX_WINDOW_SECS: u64 = 86_400 * 30;

/// The key prefix of every rule except the streaming preset.
pub const DEFAULT_KEY_PREFIX: &str = "rl:";

/// How a route is rate limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitRule {
    /// No limit.
    Off,
    /// At most `requests` per `window_secs` for each key.
    Limit {
        /// At least 1.
        requests: u32,
        /// From 1 to [`MAX_WINDOW_SECS`].
        window_secs: u64,
        /// What a client is counted by.
        key: RateLimitKey,
        /// The preset this rule came from, if any (for logs and `explain`).
        preset: Option<Preset>,
        /// Store key prefix; presets with their own prefix count in their own bucket.
        prefix: &'static str,
    },
}

impl RateLimitRule {
    /// The default of a route that says nothing: the seed limits everything that
    /// has no other preset with `web`.
    pub fn default_for_route() -> RateLimitRule {
        Preset::Web.rule(RateLimitKey::Ip)
    }
}

impl fmt::Display for RateLimitRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateLimitRule::Off => f.write_str("off"),
            RateLimitRule::Limit {
                requests,
                window_secs,
                key,
                preset,
                ..
            } => {
                let name = preset.map_or("custom", |p| p.name());
                write!(f, "{name}({requests}/{window_secs}s key={})", key.as_str())
            }
        }
    }
}

/// What a rate limit counts requests by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateLimitKey {
    /// The client address (the seed's default).
    #[default]
    Ip,
    /// The authenticated user.
    User,
}

impl RateLimitKey {
    /// The name used in the policy document.
    pub fn as_str(&self) -> &'static str {
        match self {
            RateLimitKey::Ip => "ip",
            RateLimitKey::User => "user",
        }
    }

    /// Looks a key up by its policy name.
    pub fn from_name(name: &str) -> Option<RateLimitKey> {
        match name {
            "ip" => Some(RateLimitKey::Ip),
            "user" => Some(RateLimitKey::User),
            _ => None,
        }
    }
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
}

impl Preset {
    /// Every preset, in the order the seed lists them.
    pub const ALL: [Preset; 6] = [
        Preset::Auth,
        Preset::Strict,
        Preset::Streaming,
        Preset::Api,
        Preset::Webhook,
        Preset::Web,
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
        }
    }

    /// Window length in seconds.
    pub fn window_secs(self) -> u64 {
        match self {
            Preset::Auth => 15 * 60,
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

    /// The rule this preset stands for, counted by `key`.
    pub fn rule(self, key: RateLimitKey) -> RateLimitRule {
        RateLimitRule::Limit {
            requests: self.requests(),
            window_secs: self.window_secs(),
            key,
            preset: Some(self),
            prefix: self.key_prefix(),
        }
    }
}

/// Parses a duration such as `30s`, `15m`, `1h` or `1d` into whole seconds.
///
/// Strict on purpose: digits then exactly one unit, no sign, no spaces, no
/// fractions, at least one second, no overflow. A typo in a security limit
/// should stop the deployment, not become a different limit.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    const SHAPE: &str = "expected a whole number followed by s, m, h or d, like \"15m\"";
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    if number.is_empty() {
        return Err(SHAPE.to_string());
    }
    let multiplier = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "" => return Err(format!("missing unit; {SHAPE}")),
        _ => return Err(format!("unknown unit; {SHAPE}")),
    };
    let seconds = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| "is too large".to_string())?;
    if seconds == 0 {
        return Err("must be at least 1 second".to_string());
    }
    Ok(seconds)
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
        ];
        assert_eq!(Preset::ALL.len(), expected.len());
        for (preset, (name, requests, window, prefix)) in Preset::ALL.into_iter().zip(expected) {
            assert_eq!(preset.name(), name);
            assert_eq!(preset.requests(), requests, "{name}");
            assert_eq!(preset.window_secs(), window, "{name}");
            assert_eq!(preset.key_prefix(), prefix, "{name}");
            assert_eq!(Preset::from_name(name), Some(preset));
        }
        assert_eq!(Preset::from_name("Web"), None);
        assert_eq!(Preset::from_name("off"), None);
    }

    #[test]
    fn preset_rule_and_default() {
        assert_eq!(
            RateLimitRule::default_for_route(),
            RateLimitRule::Limit {
                requests: 300,
                window_secs: 60,
                key: RateLimitKey::Ip,
                preset: Some(Preset::Web),
                prefix: "rl:",
            }
        );
        match Preset::Auth.rule(RateLimitKey::User) {
            RateLimitRule::Limit { key, .. } => assert_eq!(key, RateLimitKey::User),
            RateLimitRule::Off => panic!("preset rule is off"),
        }
    }

    #[test]
    fn display() {
        assert_eq!(RateLimitRule::Off.to_string(), "off");
        assert_eq!(
            Preset::Api.rule(RateLimitKey::User).to_string(),
            "api(100/60s key=user)"
        );
        let custom = RateLimitRule::Limit {
            requests: 10,
            window_secs: 900,
            key: RateLimitKey::Ip,
            preset: None,
            prefix: DEFAULT_KEY_PREFIX,
        };
        assert_eq!(custom.to_string(), "custom(10/900s key=ip)");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s"), Ok(1));
        assert_eq!(parse_duration("30s"), Ok(30));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("1h"), Ok(3_600));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert_eq!(parse_duration("30d"), Ok(MAX_WINDOW_SECS));
        assert_eq!(parse_duration("007s"), Ok(7));
    }

    #[test]
    fn bad_durations() {
        for bad in [
            "", "0s", "0m", "00d", "-5s", "+5s", "5", "s", "5x", "5 s", " 5s", "5s ", "5ms",
            "1.5h", "5S", "1w", "١s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            parse_duration("5"),
            Err(
                "missing unit; expected a whole number followed by s, m, h or d, like \"15m\""
                    .into()
            )
        );
        assert_eq!(parse_duration("18446744073709551615s"), Ok(u64::MAX));
        assert_eq!(
            parse_duration("18446744073709551616s"),
            Err("is too large".into())
        );
        assert_eq!(
            parse_duration("18446744073709551615d"),
            Err("is too large".into())
        );
        assert_eq!(
            parse_duration("0s"),
            Err("must be at least 1 second".into())
        );
    }

    #[test]
    fn keys() {
        assert_eq!(RateLimitKey::default(), RateLimitKey::Ip);
        assert_eq!(RateLimitKey::from_name("user"), Some(RateLimitKey::User));
        assert_eq!(RateLimitKey::from_name("IP"), None);
        assert_eq!(RateLimitKey::User.as_str(), "user");
    }
}
