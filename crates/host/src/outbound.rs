//! Outbound HTTP (`wasi:http/client@0.3.0` `send`), gated the way Spin
//! gates it for a middleware: only destinations in the granted
//! `allowed_outbound_hosts` are reached; every other request fails with
//! `HttpRequestDenied` and the same two lines Spin prints (measured with
//! Spin 4.1.0-pre, docs/outbound.md).
//!
//! Under Spin a middleware has no grants of its own: it gets the app
//! component's `allowed_outbound_hosts` only when its
//! `dependencies.middleware` entry names `"allowed_outbound_hosts"` in
//! `inherit_configuration` (or says `true`). [`crate::manifest::
//! inherited_outbound_hosts`] reads exactly that from a `spin.toml`.
//!
//! Where it differs from Spin (also in the README):
//! - the host composes middleware and app into one component with one
//!   store, so one list applies to both; Spin checks each against its own
//!   grants (the app its own list, the middleware the inherited one);
//! - without any grant Spin fails the middleware's `send` with
//!   `InternalError("\"wasi:http/client\" is not permitted")`, from the
//!   deny adapter it composes in front of it; this host answers
//!   `HttpRequestDenied` for that case too;
//! - grant syntax: `scheme://host[:port]` with `*` for the scheme, the host
//!   or the port, `*.domain` hosts, and `insecure:allow-all`; Spin's port
//!   ranges, CIDR blocks, `self`, `*.spin.internal` service chaining and
//!   `{{ variable }}` templates are refused at start;
//! - only `http://` is sent (plain HTTP/1.1 over TCP): an allowed
//!   `https://` destination fails with `InternalError("local host: only
//!   http:// is supported for outbound requests")`, as the host carries no
//!   TLS stack; no proxy, no connection pooling, no timeouts beyond the
//!   guest's own deadline and the request options' connect timeout.

use anyhow::{Result, bail};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::sync::Arc;
pub use wasmtime_wasi_http::{Error, WasiBody};
use wasmtime_wasi_http::{RequestOptions, WasiHttpHooks};

/// One entry of `allowed_outbound_hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Grant {
    /// `None` for `*`.
    scheme: Option<String>,
    host: HostPattern,
    /// `None` for `*`; otherwise the port, or the scheme's default when the
    /// entry names none.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.example.com`: any subdomain, not the domain itself.
    Subdomain(String),
    Exact(String),
}

/// The destinations a component may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    all: bool,
    grants: Vec<Grant>,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl AllowedHosts {
    /// Nothing allowed (Spin's default for a middleware).
    pub fn none() -> Self {
        AllowedHosts::default()
    }

    /// Parses `allowed_outbound_hosts` entries; an entry this host cannot
    /// honour exactly as Spin would is an error, never silently widened.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self> {
        let mut out = AllowedHosts::default();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry == "insecure:allow-all" {
                out.all = true;
                continue;
            }
            out.grants.push(parse_grant(entry)?);
        }
        Ok(out)
    }

    /// Whether `scheme://host:port` may be reached (`host` lowercased,
    /// without brackets handling beyond exact match).
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        if self.all {
            return true;
        }
        self.grants.iter().any(|g| {
            g.scheme.as_deref().is_none_or(|s| s == scheme)
                && g.port.is_none_or(|p| p == port)
                && match &g.host {
                    HostPattern::Any => true,
                    HostPattern::Exact(h) => h == host,
                    HostPattern::Subdomain(domain) => host
                        .strip_suffix(domain.as_str())
                        .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
                }
        })
    }
}

fn parse_grant(entry: &str) -> Result<Grant> {
    if entry.contains("{{") {
        bail!("allowed_outbound_hosts {entry:?}: templates are not supported by the local host");
    }
    let Some((scheme, rest)) = entry.split_once("://") else {
        bail!("allowed_outbound_hosts {entry:?}: expected scheme://host[:port]");
    };
    let scheme = scheme.to_ascii_lowercase();
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') {
        bail!(
            "allowed_outbound_hosts {entry:?}: paths are not allowed (CIDR blocks are not supported by the local host)"
        );
    }
    let (host, port) = match rest.rsplit_once(':') {
        // A bare IPv6 address has colons but no port.
        Some((h, _)) if !h.ends_with(']') && h.contains(':') => (rest, None),
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let host = host.to_ascii_lowercase();
    if host.is_empty() {
        bail!("allowed_outbound_hosts {entry:?}: no host");
    }
    if host == "self" || host.ends_with(".spin.internal") {
        bail!(
            "allowed_outbound_hosts {entry:?}: self-requests and service chaining are not supported by the local host"
        );
    }
    let host = if host == "*" {
        HostPattern::Any
    } else if let Some(domain) = host.strip_prefix("*.") {
        HostPattern::Subdomain(domain.to_owned())
    } else if host.contains('*') {
        bail!("allowed_outbound_hosts {entry:?}: a wildcard host is `*` or `*.domain`");
    } else {
        HostPattern::Exact(host)
    };
    let scheme = if scheme == "*" { None } else { Some(scheme) };
    let port = match port {
        Some("*") => None,
        Some(p) => match p.parse::<u16>() {
            Ok(p) => Some(p),
            Err(_) => bail!(
                "allowed_outbound_hosts {entry:?}: port {p:?} is not a number or `*` (port ranges are not supported by the local host)"
            ),
        },
        None => match scheme.as_deref().and_then(default_port) {
            Some(p) => Some(p),
            None => bail!("allowed_outbound_hosts {entry:?}: a port is required for this scheme"),
        },
    };
    Ok(Grant { scheme, host, port })
}

/// The request hook: the allowlist, then plain HTTP/1.1.
#[derive(Clone, Debug, Default)]
pub struct Outbound {
    pub allowed: Arc<AllowedHosts>,
    /// Print Spin's warning for a denied destination (off for quiet test
    /// hosts, whose guest output is captured instead).
    pub quiet: bool,
}

/// What a `send` gives back: the response (its body streams from the
/// server) and a future for the request's transmission.
pub type SendResult = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>;

impl Outbound {
    /// Sends `request` exactly as a guest's `wasi:http/client` `send`
    /// reaches it (the allowlist, then the exchange).
    pub async fn send(&self, request: http::Request<WasiBody>) -> SendResult {
        send(self.clone(), request, None).await
    }

    /// Whether `uri` may be reached; prints Spin's lines when it may not.
    pub fn check(&self, uri: &http::Uri) -> Result<(String, String, u16), Error> {
        let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let host = uri
            .host()
            .ok_or(Error::HttpRequestUriInvalid)?
            .to_ascii_lowercase();
        let port = uri
            .port_u16()
            .or_else(|| default_port(&scheme))
            .ok_or(Error::HttpRequestUriInvalid)?;
        if self.allowed.allows(&scheme, &host, port) {
            return Ok((scheme, host, port));
        }
        if !self.quiet {
            let origin = format!("{scheme}://{host}:{port}");
            eprintln!(
                "ERROR spin_runtime_factors: Outbound network destination not allowed: {origin}"
            );
            eprintln!(
                "Warning: A component tried to make an outbound network connection to disallowed destination '{origin}'.\nTo allow this request, add 'allowed_outbound_hosts = [\"{origin}\"]' to the manifest component section."
            );
        }
        Err(Error::HttpRequestDenied)
    }
}

async fn send(
    outbound: Outbound,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> SendResult {
    let (scheme, host, port) = outbound.check(request.uri())?;
    if scheme != "http" {
        return Err(Error::InternalError(Some(
            "local host: only http:// is supported for outbound requests".into(),
        )));
    }
    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(std::time::Duration::from_secs(600));
    let host_for_connect = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let stream = match tokio::time::timeout(
        connect_timeout,
        tokio::net::TcpStream::connect((host_for_connect.as_str(), port)),
    )
    .await
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(Error::ConnectionRefused);
        }
        Ok(Err(e)) => return Err(Error::Connect(e)),
        Err(_) => return Err(Error::ConnectionTimeout),
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Error::InternalError(Some(format!("handshake: {e}"))))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    // Origin form on the wire; the authority travels in `host`, which
    // wasmtime-wasi-http has already set.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    *request.uri_mut() = path.parse().map_err(|_| Error::HttpRequestUriInvalid)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| Error::InternalError(Some(format!("send: {e}"))))?;
    let response = response.map(|body| {
        body.map_err(|e| Error::InternalError(Some(format!("body: {e}"))))
            .map_frame(|f: hyper::body::Frame<Bytes>| f)
            .boxed_unsync()
    });
    Ok((
        response,
        Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
    ))
}

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        Box::new(send(self.clone(), request, options))
    }
}

#[cfg(test)]
mod tests {
    use super::AllowedHosts;

    #[test]
    fn exact_origins() {
        let a =
            AllowedHosts::parse(&["http://127.0.0.1:8080", "https://auth.example.com"]).unwrap();
        assert!(a.allows("http", "127.0.0.1", 8080));
        assert!(!a.allows("http", "127.0.0.1", 8081));
        assert!(!a.allows("https", "127.0.0.1", 8080));
        assert!(!a.allows("http", "localhost", 8080));
        assert!(a.allows("https", "auth.example.com", 443));
        assert!(!a.allows("https", "auth.example.com", 8443));
        assert!(!a.allows("http", "auth.example.com", 80));
    }

    #[test]
    fn no_port_means_the_default_port_only() {
        let a = AllowedHosts::parse(&["http://127.0.0.1"]).unwrap();
        assert!(a.allows("http", "127.0.0.1", 80));
        assert!(!a.allows("http", "127.0.0.1", 18081));
    }

    #[test]
    fn wildcards() {
        let a =
            AllowedHosts::parse(&["https://*.example.com", "*://h:*", "http://*:9000"]).unwrap();
        assert!(a.allows("https", "a.example.com", 443));
        assert!(a.allows("https", "a.b.example.com", 443));
        assert!(!a.allows("https", "example.com", 443));
        assert!(!a.allows("https", "badexample.com", 443));
        assert!(a.allows("http", "h", 1));
        assert!(a.allows("https", "h", 65535));
        assert!(a.allows("http", "anything", 9000));
        assert!(
            AllowedHosts::parse(&["insecure:allow-all"])
                .unwrap()
                .allows("http", "x", 1)
        );
        assert!(!AllowedHosts::none().allows("http", "127.0.0.1", 80));
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        for bad in [
            "127.0.0.1:80",
            "http://self",
            "http://*.spin.internal",
            "http://127.0.0.1:8000..8002",
            "http://10.0.0.0/8",
            "https://{{ host }}",
            "http://a*b.com",
            "*://h",
        ] {
            assert!(AllowedHosts::parse(&[bad]).is_err(), "{bad}");
        }
    }
}
