//! How a route authenticates requests: the `auth` key of a route.

/// How a route authenticates requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// No authentication.
    #[default]
    None,
    /// Identify the user when a session is present; let others through.
    Optional,
    /// A valid session is required (401 otherwise).
    Required,
    /// A valid worker-to-worker signature is required.
    Worker,
}

impl AuthMode {
    /// Every mode, in policy-document order.
    pub const ALL: [AuthMode; 4] = [
        AuthMode::None,
        AuthMode::Optional,
        AuthMode::Required,
        AuthMode::Worker,
    ];

    /// The name used in the policy document.
    pub fn as_str(&self) -> &'static str {
        match self {
            AuthMode::None => "none",
            AuthMode::Optional => "optional",
            AuthMode::Required => "required",
            AuthMode::Worker => "worker",
        }
    }

    /// Looks a mode up by its policy name.
    pub fn from_name(name: &str) -> Option<AuthMode> {
        AuthMode::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Whether this mode identifies users, so that roles and per-user limits mean
    /// something.
    pub fn identifies_users(&self) -> bool {
        matches!(self, AuthMode::Optional | AuthMode::Required)
    }
}
