//! Which headers cross warden, in each direction.
//!
//! ```
//! use warden_core::http::hop_by_hop::{connection_listed, strip_request_header};
//!
//! let listed = connection_listed(&["keep-alive, X-Debug"]);
//! assert!(strip_request_header("x-debug", &listed));
//! assert!(strip_request_header("x-warden-user-id", &listed));
//! // CGI/WSGI-style bridges map `_` onto `-`: the variants go too.
//! assert!(strip_request_header("x_warden_user_id", &listed));
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

/// Whether `name` is one of warden's own headers in any spelling an app may
/// read as one: `x-warden-…` with `-` or `_` at either separator, in any
/// case (`x_warden_user_id`, `X-Warden_User-Id`). CGI and WSGI bridges map
/// `_` and `-` onto the same variable (`HTTP_X_WARDEN_USER_ID`), so a
/// variant the app never sees from warden would still read as warden's.
/// Works on any case, so callers need not lowercase first.
pub fn is_identity_header(name: &str) -> bool {
    separator_insensitive_prefix(name, IDENTITY_PREFIX)
}

/// Whether `name` is the request id header in any spelling an app may read
/// as it (`x_request_id`, `X-Request_Id`), by the same rule as
/// [`is_identity_header`].
pub fn is_request_id_header(name: &str) -> bool {
    name.len() == REQUEST_ID_HEADER.len() && separator_insensitive_prefix(name, REQUEST_ID_HEADER)
}

/// `name` starts with `prefix`, ASCII case ignored and `-`/`_` equal.
fn separator_insensitive_prefix(name: &str, prefix: &str) -> bool {
    let fold = |b: u8| {
        if b == b'_' {
            b'-'
        } else {
            b.to_ascii_lowercase()
        }
    };
    let (name, prefix) = (name.as_bytes(), prefix.as_bytes());
    name.len() >= prefix.len() && name.iter().zip(prefix).all(|(n, p)| fold(*n) == fold(*p))
}

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

/// Whether `name` (any case, `_` for `-` as apps that fold them read it)
/// is one of the `spin-*` headers Spin sets on every request. Only Spin
/// sets them: a component on another host drops them as they arrive, since
/// any there came from the client (a forged `spin-client-addr` would choose
/// its own rate-limit bucket).
pub fn is_host_set_header(name: &str) -> bool {
    let name = name.as_bytes();
    name.len() >= HOST_SET_PREFIX.len()
        && name[..HOST_SET_PREFIX.len() - 1].eq_ignore_ascii_case(b"spin")
        && matches!(name[HOST_SET_PREFIX.len() - 1], b'-' | b'_')
}

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
/// every `x-warden-*` header and `x-request-id` in any spelling
/// ([`is_identity_header`], [`is_request_id_header`]); the caller adds its
/// own identity headers and a validated request id afterwards.
pub fn strip_request_header(name_lower: &str, connection_listed: &[String]) -> bool {
    is_hop_by_hop(name_lower)
        || is_identity_header(name_lower)
        || is_request_id_header(name_lower)
        // The underscore spelling of a host's header, which no host sets:
        // an app that folds `_` into `-` would read it as the host's.
        || (is_host_set_header(name_lower) && !name_lower.starts_with(HOST_SET_PREFIX))
        || (!name_lower.starts_with(HOST_SET_PREFIX)
            && connection_listed.iter().any(|listed| listed == name_lower))
}

/// Whether a request **trailer** field must be removed before the trailers
/// reach the inner app: the same identity and request-id names as for
/// headers (an app that merges trailers into its headers must not find a
/// forged identity there) and the hop-by-hop fields, which have no meaning
/// in trailers (RFC 9110 §6.5.1), and `spin-*` fields, which only the host
/// sets and only as headers. `Connection` does not apply to trailers.
pub fn strip_request_trailer(name_lower: &str) -> bool {
    // Hosts set `spin-*` headers, never trailers: any such trailer is the
    // client's, on every flavour.
    strip_request_header(name_lower, &[]) || is_host_set_header(name_lower)
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
        assert!(is_host_set_header("Spin-Client-Addr") && is_host_set_header("spin-full-url"));
        assert!(
            !is_host_set_header("spin")
                && !is_host_set_header("x-spin-client-addr")
                && !is_host_set_header("é")
        );
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
        assert!(!strip_request_header("x-request-i", &[]));
        // The host's own headers cannot be removed by listing them.
        assert!(!strip_request_header("spin-client-addr", &listed));
        assert!(strip_request_header("host", &[]));
        assert!(strip_request_header("connection", &[]));
    }

    /// Hosts set `spin-*` headers, never trailers, and none but Spin sets
    /// them at all: a `spin-*` trailer, or an underscore spelling of one
    /// (which apps that fold `_` into `-` read as the host's), came from
    /// the client.
    #[test]
    fn forged_host_fields_are_recognised_in_every_spelling_and_never_trailers() {
        for name in [
            "spin-client-addr",
            "spin_client_addr",
            "SPIN_Full-Url",
            "spin_",
        ] {
            assert!(is_host_set_header(name), "{name}");
            assert!(strip_request_trailer(&name.to_ascii_lowercase()), "{name}");
        }
        // On Spin the host's own headers pass; their underscore spelling,
        // which no host sets, never does.
        assert!(!strip_request_header("spin-client-addr", &[]));
        assert!(strip_request_header("spin_client_addr", &[]));
        assert!(strip_request_header("spin_full-url", &[]));
        for name in ["spin", "spinx-a", "x-spin-client-addr", "x_spin_a"] {
            assert!(!is_host_set_header(name), "{name}");
            assert!(!strip_request_trailer(name), "{name}");
        }
    }

    #[test]
    fn identity_variants() {
        for name in [
            "x-warden-user-id",
            "x_warden_user_id",
            "X-Warden_User-Id",
            "X_WARDEN-USER_ID",
            "x-warden_",
            "x_warden-",
            "x_warden_",
        ] {
            assert!(is_identity_header(name), "{name}");
            assert!(
                strip_request_header(&name.to_ascii_lowercase(), &[]),
                "{name}"
            );
            assert!(strip_request_trailer(&name.to_ascii_lowercase()), "{name}");
        }
        for name in [
            "x-warden",
            "x_warden",
            "xwarden-user",
            "x-wardens-user",
            "x--warden-user",
            "x.warden.user",
            "y-warden-user",
            "x-wardén-user",
            "",
        ] {
            assert!(!is_identity_header(name), "{name}");
        }
        for name in ["x-request-id", "x_request_id", "X-Request_ID"] {
            assert!(is_request_id_header(name), "{name}");
        }
        assert!(!is_request_id_header("x_request_ids"));
        // Trailers lose the same names and the hop-by-hop fields.
        assert!(strip_request_trailer("transfer-encoding"));
        assert!(strip_request_trailer("x_request_id"));
        assert!(!strip_request_trailer("x-checksum"));
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
