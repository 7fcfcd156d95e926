//! Who a request was authenticated as, and the headers that tell the app.
//!
//! ```
//! use warden_core::layers::session::identity::{SessionUser, USER_ID_HEADER, USER_HEADER};
//! # use warden_core::layers::session::record::*;
//! # let record = SessionRecord {
//! #     session: SessionData { id: "s1".into(), user_id: "u1".into(), expires_at: 2, created_at: 0,
//! #         updated_at: 0, ip_address: None, user_agent: None },
//! #     user: UserData { id: "u1".into(), email: "ada@example.com".into(), name: "Ada".into(),
//! #         email_verified: true, image: None, role: Some("admin, creator".into()),
//! #         created_at: 0, updated_at: 0 },
//! #     ban: Ban::default(),
//! # };
//! let identity = SessionUser::from_record(&record);
//! assert!(identity.identity().has_any_role(&["creator".to_string()]));
//! assert!(!identity.identity().has_any_role(&["editor".to_string()]));
//! let headers = identity.headers();
//! assert_eq!(headers[0], (USER_ID_HEADER.to_string(), b"u1".to_vec()));
//! assert!(headers.iter().any(|(name, _)| name == USER_HEADER));
//! ```
//!
//! Every header starts with `x-warden-`, the prefix warden strips from every
//! incoming request, so the app can trust them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::record::{SessionRecord, UserData};
use crate::base::identity::{AuthMethod, Identity};

/// The user's id.
pub const USER_ID_HEADER: &str = "x-warden-user-id";
/// The user's email address.
pub const USER_EMAIL_HEADER: &str = "x-warden-user-email";
/// The user's display name.
pub const USER_NAME_HEADER: &str = "x-warden-user-name";
/// The user's role column as stored (`admin` or `admin,creator`); absent
/// when the user has none.
pub const USER_ROLE_HEADER: &str = "x-warden-user-role";
/// The session's id (never its token).
pub const SESSION_ID_HEADER: &str = "x-warden-session-id";
/// How the request was authenticated: `session`.
pub const AUTH_HEADER: &str = "x-warden-auth";
/// The seed's full `UserData` as JSON, base64url without padding.
pub const USER_HEADER: &str = "x-warden-user";

/// Longest `image` put into [`USER_HEADER`]; a longer one (a data: URL) is
/// sent as `null`.
pub const MAX_HEADER_IMAGE_LEN: usize = 2048;

/// A user authenticated by a session: the record's user and session id, for
/// the app's headers; [`SessionUser::identity`] is what later layers read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub user_id: String,
    pub session_id: String,
    pub user: UserData,
}

impl SessionUser {
    pub fn from_record(record: &SessionRecord) -> SessionUser {
        SessionUser {
            user_id: record.user.id.clone(),
            session_id: record.session.id.clone(),
            user: record.user.clone(),
        }
    }

    /// The user's roles: the role column split on commas, trimmed.
    pub fn roles(&self) -> impl Iterator<Item = &str> {
        self.user
            .role
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
    }

    /// Who this is, as every layer after authentication sees it.
    pub fn identity(&self) -> Identity {
        Identity {
            user_id: self.user_id.clone(),
            roles: self.roles().map(str::to_owned).collect(),
            method: AuthMethod::Session,
            tier: None,
        }
    }

    /// The headers for the inner app. A text field containing control
    /// characters cannot be a header value and is left out; the full record
    /// is always in [`USER_HEADER`].
    pub fn headers(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::with_capacity(7);
        let mut add = |name: &str, value: &str| {
            if !value.chars().any(|c| c.is_control() && c != '\t') {
                out.push((name.to_string(), value.as_bytes().to_vec()));
            }
        };
        add(USER_ID_HEADER, &self.user_id);
        add(USER_EMAIL_HEADER, &self.user.email);
        add(USER_NAME_HEADER, &self.user.name);
        if let Some(role) = &self.user.role {
            add(USER_ROLE_HEADER, role);
        }
        add(SESSION_ID_HEADER, &self.session_id);
        add(AUTH_HEADER, AuthMethod::Session.as_str());
        let json = crate::base::log::json(&self.user.to_json(Some(MAX_HEADER_IMAGE_LEN)));
        add(USER_HEADER, &URL_SAFE_NO_PAD.encode(json));
        out
    }
}
