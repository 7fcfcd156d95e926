//! How a route authenticates requests: the `auth` key of a route.
//!
//! `none` is the policy's own; every other mode belongs to the auth layer
//! that serves it, which declares it (`PolicyLayer::AUTH_MODES`), so a new
//! auth layer brings its modes along with its folder.
//!
//! ```
//! use warden_core::base::auth_mode::AuthMode;
//!
//! const TOKEN: AuthMode = AuthMode::new("token", true, true);
//! assert_eq!(TOKEN.as_str(), "token");
//! assert!(TOKEN.identifies_users() && TOKEN.refuses_anonymous());
//! assert_eq!(AuthMode::default(), AuthMode::NONE);
//! assert!(!AuthMode::NONE.refuses_anonymous());
//! ```

/// How a route authenticates requests: a mode name and what it promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthMode {
    name: &'static str,
    identifies_users: bool,
    refuses_anonymous: bool,
}

impl AuthMode {
    /// No authentication: every request passes, anonymously.
    pub const NONE: AuthMode = AuthMode::new("none", false, false);

    /// A mode called `name` in the policy, which identifies users (so that
    /// `roles` and per-user rate limits mean something) or not, and refuses
    /// requests it cannot authenticate or lets them on anonymously.
    pub const fn new(
        name: &'static str,
        identifies_users: bool,
        refuses_anonymous: bool,
    ) -> AuthMode {
        AuthMode {
            name,
            identifies_users,
            refuses_anonymous,
        }
    }

    /// The name used in the policy document.
    pub fn as_str(&self) -> &'static str {
        self.name
    }

    /// Whether this mode identifies users, so that roles and per-user limits
    /// mean something.
    pub fn identifies_users(&self) -> bool {
        self.identifies_users
    }

    /// Whether a request this mode cannot authenticate is refused (rather
    /// than let on anonymously).
    pub fn refuses_anonymous(&self) -> bool {
        self.refuses_anonymous
    }
}

impl Default for AuthMode {
    fn default() -> AuthMode {
        AuthMode::NONE
    }
}
