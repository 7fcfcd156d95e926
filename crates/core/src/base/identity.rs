//! Who a request was authenticated as: the one identity every layer after
//! authentication reads (roles, per-user rate limits, `Cache-Control`),
//! whichever auth layer established it.
//!
//! ```
//! use warden_core::base::identity::{AuthMethod, Identity};
//!
//! let caller = Identity {
//!     user_id: "u1".into(),
//!     roles: vec!["admin".into(), "creator".into()],
//!     method: AuthMethod::Session,
//!     tier: None,
//! };
//! assert!(caller.has_any_role(&["creator".to_string()]));
//! assert!(!caller.has_any_role(&["editor".to_string()]));
//! assert!(caller.has_any_role(&[]));
//! assert_eq!(caller.method.as_str(), "session");
//! ```

/// How a request was authenticated; the value of `x-warden-auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A Better Auth session (cookie or bearer token).
    Session,
    /// A service-to-service signature (`auth = "worker"`).
    Worker,
    /// A bearer JWT (`auth = "jwt"`).
    Jwt,
    /// A hashed API key (`auth = "api_key"`).
    ApiKey,
}

impl AuthMethod {
    /// The name in `x-warden-auth` and in log lines.
    pub fn as_str(&self) -> &'static str {
        match self {
            AuthMethod::Session => "session",
            AuthMethod::Worker => "worker",
            AuthMethod::Jwt => "jwt",
            AuthMethod::ApiKey => "api_key",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user id (sessions) or the key id (worker signatures).
    pub user_id: String,
    /// Roles, each compared exactly.
    pub roles: Vec<String>,
    /// How it was established.
    pub method: AuthMethod,
    /// The rate-limit tier the credential itself carries (an API key's
    /// `tier`, matched by a route's `tiers = { "apikey:NAME" = … }`); `None`
    /// for credentials without one.
    pub tier: Option<String>,
}

impl Identity {
    /// Whether the caller holds at least one of `required` (true when
    /// `required` is empty).
    pub fn has_any_role(&self, required: &[String]) -> bool {
        required.is_empty() || self.roles.iter().any(|r| required.contains(r))
    }
}
