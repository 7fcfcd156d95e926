//! Warden's own refusals: one shape, [`Denial`], for every layer.
//!
//! ```
//! use warden_core::base::denial::{Denial, Rejection};
//!
//! assert_eq!(Rejection::BadRequest.status(), 400);
//! assert_eq!(
//!     Rejection::BadRequest.body(),
//!     r#"{"error":{"code":"BAD_REQUEST","message":"Malformed request"}}"#
//! );
//! let denial = Denial::from(Rejection::Unauthorized);
//! assert_eq!(denial.status, 401);
//! assert_eq!(denial.body, Rejection::Unauthorized.body());
//! ```
//!
//! A denial has a fixed status and a fixed public body, as in axum-core's
//! rejections: the client learns what class of failure happened, never the
//! detail, which goes to the log. [`Rejection`] is the catalogue of the
//! refusals every layer shares; a layer with wire-format bodies of its own
//! (the seed's 429 and worker-signature bodies, CORS) builds its [`Denial`]
//! in its folder. The component answers every denial in one place, with the
//! same response headers as any other answer.

/// A request refused: the status and the public JSON body the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// 400..=599.
    pub status: u16,
    /// A JSON document; never carries detail (that goes to the log).
    pub body: String,
}

impl From<Rejection> for Denial {
    fn from(rejection: Rejection) -> Denial {
        Denial {
            status: rejection.status(),
            body: rejection.body(),
        }
    }
}

/// A request refused, or failed, by warden itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The request could not be understood (for example an ambiguous path).
    BadRequest,
    /// No policy route matches and `[settings] unmatched = "deny"`.
    NotFound,
    /// A request header is longer than `settings.max_header_bytes`.
    HeaderTooLarge,
    /// A method warden's own endpoint does not answer (the readiness
    /// probe answers `GET` and `HEAD`); sent with `Allow`.
    MethodNotAllowed,
    /// Warden's configuration is invalid, so it refuses everything.
    ConfigInvalid,
    /// The inner app failed.
    BadGateway,
    /// The inner app did not answer in time (its route's `timeout`).
    GatewayTimeout,
    /// Anything else.
    Internal,
    /// No valid identity where the route requires one (seed 000's exact
    /// body for `requireAuth`).
    Unauthorized,
    /// An identity without one of the route's roles.
    Forbidden,
    /// A dependency warden needs to decide (the rate-limit store) is down
    /// and the route fails closed.
    ServiceUnavailable,
}

impl Rejection {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::BadRequest => 400,
            Rejection::NotFound => 404,
            Rejection::HeaderTooLarge => 431,
            Rejection::MethodNotAllowed => 405,
            Rejection::ConfigInvalid => 500,
            Rejection::BadGateway => 502,
            Rejection::GatewayTimeout => 504,
            Rejection::Internal => 500,
            Rejection::Unauthorized => 401,
            Rejection::Forbidden => 403,
            Rejection::ServiceUnavailable => 503,
        }
    }

    /// The machine-readable code in the body.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::BadRequest => "BAD_REQUEST",
            Rejection::NotFound => "NOT_FOUND",
            Rejection::HeaderTooLarge => "REQUEST_HEADER_FIELDS_TOO_LARGE",
            Rejection::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Rejection::ConfigInvalid => "CONFIGURATION_ERROR",
            Rejection::BadGateway => "BAD_GATEWAY",
            // Seed 004's code for a timeout.
            Rejection::GatewayTimeout => "TIMEOUT",
            Rejection::Internal => "INTERNAL_ERROR",
            Rejection::Unauthorized => "UNAUTHORIZED",
            Rejection::Forbidden => "FORBIDDEN",
            Rejection::ServiceUnavailable => "SERVICE_UNAVAILABLE",
        }
    }

    /// The fixed public message in the body.
    pub fn message(&self) -> &'static str {
        match self {
            Rejection::BadRequest => "Malformed request",
            Rejection::NotFound => "Not found",
            Rejection::HeaderTooLarge => "Request header too large",
            Rejection::MethodNotAllowed => "Method not allowed",
            Rejection::ConfigInvalid => "Service is misconfigured",
            Rejection::BadGateway => "Upstream application failed",
            Rejection::GatewayTimeout => "Upstream application timed out",
            Rejection::Internal => "Internal error",
            Rejection::Unauthorized => "Authentication required",
            Rejection::Forbidden => "Insufficient permissions",
            Rejection::ServiceUnavailable => "Service temporarily unavailable",
        }
    }

    /// The JSON body: `{"error":{"code":"…","message":"…"}}`.
    pub fn body(&self) -> String {
        crate::base::log::json(&serde_json::json!({
            "error": { "code": self.code(), "message": self.message() }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_responses() {
        let cases = [
            (
                Rejection::Unauthorized,
                401,
                r#"{"error":{"code":"UNAUTHORIZED","message":"Authentication required"}}"#,
            ),
            (
                Rejection::Forbidden,
                403,
                r#"{"error":{"code":"FORBIDDEN","message":"Insufficient permissions"}}"#,
            ),
            (
                Rejection::ServiceUnavailable,
                503,
                r#"{"error":{"code":"SERVICE_UNAVAILABLE","message":"Service temporarily unavailable"}}"#,
            ),
            (
                Rejection::BadRequest,
                400,
                r#"{"error":{"code":"BAD_REQUEST","message":"Malformed request"}}"#,
            ),
            (
                Rejection::NotFound,
                404,
                r#"{"error":{"code":"NOT_FOUND","message":"Not found"}}"#,
            ),
            (
                Rejection::HeaderTooLarge,
                431,
                r#"{"error":{"code":"REQUEST_HEADER_FIELDS_TOO_LARGE","message":"Request header too large"}}"#,
            ),
            (
                Rejection::MethodNotAllowed,
                405,
                r#"{"error":{"code":"METHOD_NOT_ALLOWED","message":"Method not allowed"}}"#,
            ),
            (
                Rejection::ConfigInvalid,
                500,
                r#"{"error":{"code":"CONFIGURATION_ERROR","message":"Service is misconfigured"}}"#,
            ),
            (
                Rejection::BadGateway,
                502,
                r#"{"error":{"code":"BAD_GATEWAY","message":"Upstream application failed"}}"#,
            ),
            (
                Rejection::GatewayTimeout,
                504,
                r#"{"error":{"code":"TIMEOUT","message":"Upstream application timed out"}}"#,
            ),
            (
                Rejection::Internal,
                500,
                r#"{"error":{"code":"INTERNAL_ERROR","message":"Internal error"}}"#,
            ),
        ];
        for (rejection, status, body) in cases {
            assert_eq!(rejection.status(), status, "{rejection:?}");
            assert_eq!(rejection.body(), body, "{rejection:?}");
        }
    }
}
