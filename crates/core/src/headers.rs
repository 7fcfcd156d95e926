//! Which headers cross warden, in each direction.
//!
//! ```
//! use warden_core::headers::{connection_listed, strip_request_header};
//!
//! let listed = connection_listed(&["keep-alive, X-Debug"]);
//! assert!(strip_request_header("x-debug", &listed));
//! assert!(strip_request_header("x-warden-user-id", &listed));
//! assert!(!strip_request_header("accept", &listed));
//! ```
//!
//! Hop-by-hop headers describe one connection and must not be forwarded
//! (RFC 9110 §7.6.1); Spin also refuses `host` and `connection` on the request to
//! the inner app. Identity headers (`x-warden-*`) and `x-request-id` are set by
//! warden alone, so a client's copies are always removed: otherwise a client
//! could claim to be any user.

/// Prefix of the identity headers warden sets for the inner app.
pub const IDENTITY_PREFIX: &str = "x-warden-";

/// The request id header; warden forwards only a validated or freshly minted one.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Headers that belong to one connection (plus `host` and `http2-settings`),
/// by lowercase name.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "http2-settings",
];

/// Prefix of headers the Spin host sets itself (`spin-client-addr`, `spin-full-url`,
/// …). A client may not make warden drop them by listing them in `Connection`.
const HOST_SET_PREFIX: &str = "spin-";

/// Whether `name_lower` is a hop-by-hop header.
pub fn is_hop_by_hop(name_lower: &str) -> bool {
    HOP_BY_HOP.contains(&name_lower)
}

/// The header names listed in `Connection` header values, lowercased, without
/// duplicates or empty list elements.
pub fn connection_listed(connection_values: &[&str]) -> Vec<String> {
    let mut listed: Vec<String> = Vec::new();
    for value in connection_values {
        for token in value.split(',') {
            let token = token.trim_matches([' ', '\t']).to_ascii_lowercase();
            if !token.is_empty() && !listed.contains(&token) {
                listed.push(token);
            }
        }
    }
    listed
}

/// Whether a request header must be removed before calling the inner app.
///
/// True for hop-by-hop headers, headers listed in `Connection` (except the
/// `spin-*` headers the host sets, which a client must not be able to remove),
/// every `x-warden-*` header and `x-request-id`; the caller adds its own
/// identity headers and a validated request id afterwards.
pub fn strip_request_header(name_lower: &str, connection_listed: &[String]) -> bool {
    is_hop_by_hop(name_lower)
        || name_lower.starts_with(IDENTITY_PREFIX)
        || name_lower == REQUEST_ID_HEADER
        || (!name_lower.starts_with(HOST_SET_PREFIX)
            && connection_listed.iter().any(|listed| listed == name_lower))
}

/// Whether a response header from the inner app must be removed before the
/// response goes to the client: the hop-by-hop headers (`host` has no meaning
/// on a response and is left alone).
pub fn strip_response_header(name_lower: &str) -> bool {
    name_lower != "host" && is_hop_by_hop(name_lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop() {
        for name in HOP_BY_HOP {
            assert!(is_hop_by_hop(name));
            assert!(strip_request_header(name, &[]));
        }
        for name in [
            "accept",
            "cookie",
            "authorization",
            "content-length",
            "content-type",
        ] {
            assert!(!is_hop_by_hop(name));
            assert!(!strip_request_header(name, &[]));
            assert!(!strip_response_header(name));
        }
        // Names are expected in lowercase; the caller lowercases.
        assert!(!is_hop_by_hop("Connection"));
    }

    #[test]
    fn connection_tokens() {
        assert_eq!(
            connection_listed(&["close", " Keep-Alive ,X-Foo,, ", "x-foo,\tUpgrade"]),
            ["close", "keep-alive", "x-foo", "upgrade"]
        );
        assert!(connection_listed(&[]).is_empty());
        assert!(connection_listed(&["", " , "]).is_empty());
    }

    #[test]
    fn request_stripping() {
        let listed = connection_listed(&["X-Secret-Debug, spin-client-addr, x-warden-role"]);
        assert!(strip_request_header("x-secret-debug", &listed));
        assert!(!strip_request_header("x-other", &listed));
        // Identity and request id headers go whatever Connection says.
        for name in [
            "x-warden-user-id",
            "x-warden-role",
            "x-warden-",
            "x-request-id",
        ] {
            assert!(strip_request_header(name, &[]), "{name}");
            assert!(strip_request_header(name, &listed), "{name}");
        }
        assert!(!strip_request_header("x-wardens", &[]));
        assert!(!strip_request_header("x-request-ids", &[]));
        // The host's own headers cannot be removed by listing them.
        assert!(!strip_request_header("spin-client-addr", &listed));
        assert!(strip_request_header("host", &[]));
        assert!(strip_request_header("connection", &[]));
    }

    #[test]
    fn response_stripping() {
        for name in HOP_BY_HOP.iter().filter(|n| **n != "host") {
            assert!(strip_response_header(name), "{name}");
        }
        assert!(!strip_response_header("host"));
        assert!(!strip_response_header("set-cookie"));
        assert!(!strip_response_header("x-request-id"));
    }
}
