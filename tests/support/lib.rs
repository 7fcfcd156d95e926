//! Test support: start the real components in the local host and talk HTTP
//! to them, as a client would.
//!
//! The components are built by `scripts/test` (`cargo build --target
//! wasm32-wasip2 --release`) before `cargo test` runs; [`wasm`] fails with
//! that hint when they are missing.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
pub use warden_host::{Faults, GuestLog, Host, HostOptions, OpCounts, Profile, Reuse};

pub mod spin;

/// The repository root.
/// The wall clock in unix seconds, as the component reads it.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A built component, `warden` or `echo_app`.
pub fn wasm(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let path = target
        .join("wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run `scripts/test`, which builds the components before the tests",
        path.display()
    );
    path
}

/// A policy that collects small responses whole before passing them on
/// (the opt-in `response_buffer_limit`), with one catch-all route `all`.
pub const COLLECT_SMALL_RESPONSES: &str = r#"
    [settings]
    response_buffer_limit = 65536
    [[routes]]
    name = "all"
    path = "/*"
"#;

/// A policy with `settings` (TOML lines before the routes, may be empty), a
/// route `limited` for `/limited/*` with `rate_limit` (a TOML value), and a
/// catch-all route `open` with no limit.
pub fn limited_policy(rate_limit: &str, settings: &str) -> String {
    format!(
        r#"
        {settings}

        [[routes]]
        name = "limited"
        path = "/limited/*"
        rate_limit = {rate_limit}

        [[routes]]
        name = "open"
        path = "/*"
        rate_limit = "off"
        "#
    )
}

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "warden-test-{}-{}-{}",
            std::process::id(),
            tag,
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How a test wants its host.
pub struct Setup {
    pub variables: HashMap<String, String>,
    pub reuse: Reuse,
    /// Put warden in front of the echo app (otherwise the bare app).
    pub warden: bool,
    /// Which middleware "warden" is: `warden`, a flavour (`warden_wasmcloud`,
    /// `warden_minimal`), or a benchmark floor such as `noop_middleware`.
    pub middleware: &'static str,
    pub migrations: bool,
    /// The `allowed_outbound_hosts` warden inherits (none by default, as in
    /// the demo's spin.toml).
    pub allowed_outbound_hosts: Vec<String>,
    /// Which host's interfaces the host links (Spin by default).
    pub profile: Profile,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            variables: HashMap::new(),
            reuse: Reuse::Spin,
            warden: true,
            middleware: "warden",
            migrations: true,
            allowed_outbound_hosts: Vec::new(),
            profile: Profile::Spin,
        }
    }
}

impl Setup {
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.variables.insert(name.to_owned(), value.to_owned());
        self
    }
    pub fn policy(self, policy: &str) -> Self {
        self.var("policy", policy)
    }
    /// The demo of `spin.toml`: its variables' defaults (the demo policy and
    /// its DEV ONLY secrets), as `scripts/demo` serves it.
    pub fn demo() -> Self {
        let declared = warden_host::manifest::declared_variables(&root().join("spin.toml"))
            .expect("spin.toml declares its variables");
        let mut setup = Setup::default();
        for (name, value) in declared {
            if let Some(value) = value {
                setup = setup.var(&name, &value);
            }
        }
        setup
    }
    pub fn reuse(mut self, reuse: Reuse) -> Self {
        self.reuse = reuse;
        self
    }
    /// Runs on the host `profile` stands in for (its interfaces only).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }
    /// Grants outbound HTTP to `origin` (`http://127.0.0.1:PORT`), as the
    /// app's `allowed_outbound_hosts` inherited by warden.
    pub fn allow_outbound(mut self, origin: &str) -> Self {
        self.allowed_outbound_hosts.push(origin.to_owned());
        self
    }
}

/// A host serving on a free port, with its own state directory.
pub struct TestHost {
    pub host: Host,
    pub client: Client<HttpConnector, Full<Bytes>>,
    _state: TempDir,
}

/// Both reuse modes: every end-to-end test runs in each.
pub const MODES: [Reuse; 2] = [Reuse::Spin, Reuse::PerRequest];

impl TestHost {
    pub async fn start(setup: Setup) -> TestHost {
        TestHost::try_start(setup).await.expect("host starts")
    }

    pub async fn try_start(setup: Setup) -> anyhow::Result<TestHost> {
        let state = TempDir::new("state");
        let options = HostOptions {
            app: wasm("echo_app"),
            middleware: if setup.warden {
                vec![wasm(setup.middleware)]
            } else {
                vec![]
            },
            listen: "127.0.0.1:0".parse().unwrap(),
            state_dir: state.path().to_owned(),
            migrations: setup.migrations.then(|| root().join("migrations.sql")),
            declared_variables: HashMap::new(),
            variables: setup.variables,
            variables_from_env: false,
            reuse: setup.reuse,
            cache_dir: Some(root().join("target/warden-host-cache")),
            guest_log: GuestLog::quiet(),
            key_value_redis: None,
            stats_endpoint: false,
            allowed_outbound_hosts: setup.allowed_outbound_hosts,
            profile: setup.profile,
        };
        let host = Host::start(options).await?;
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(TestHost {
            host,
            client,
            _state: state,
        })
    }

    /// The host's state directory (`sqlite_key_value.db`, `sqlite_db.db`).
    pub fn state_dir(&self) -> &Path {
        self._state.path()
    }

    /// Every key in the default key-value store, read from its file.
    pub fn kv_keys(&self) -> Vec<String> {
        let db = rusqlite::Connection::open(self.state_dir().join("sqlite_key_value.db"))
            .expect("kv file");
        let mut stmt = db
            .prepare("SELECT key FROM spin_key_value WHERE store = 'default' ORDER BY key")
            .expect("query");
        stmt.query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("keys")
    }

    pub fn log(&self) -> String {
        self.host.guest_log().contents()
    }

    /// The guest log's JSON lines whose `event` is `kind`, parsed.
    pub fn log_events(&self, kind: &str) -> Vec<serde_json::Value> {
        self.log()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|event| event["event"] == kind)
            .collect()
    }

    /// The problems the instance logged for an invalid configuration.
    pub fn config_problems(&self) -> Vec<String> {
        self.log_events("config_invalid")
            .iter()
            .flat_map(|event| {
                event["problems"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
            })
            .collect()
    }

    pub fn counts(&self) -> OpCounts {
        self.host.faults().counts()
    }
}

/// A server the tests talk HTTP to: the local host ([`TestHost`]) or real
/// Spin ([`spin::SpinHost`]).
#[allow(async_fn_in_trait)] // only these tests implement and call it
pub trait HttpTarget {
    fn client(&self) -> &Client<HttpConnector, Full<Bytes>>;
    /// The absolute URL of `path` on this server.
    fn url(&self, path: &str) -> String;

    /// Sends a request and reads the whole response.
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) -> Reply {
        send(self.client(), &self.url(path), method, headers, body).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], b"").await
    }

    async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
        self.send("GET", path, &headers, b"").await
    }
}

impl HttpTarget for TestHost {
    fn client(&self) -> &Client<HttpConnector, Full<Bytes>> {
        &self.client
    }
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.host.addr(), path)
    }
}

/// Sends one request with `client` and reads the whole response.
pub async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    method: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Reply {
    let mut req = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("valid test request");
    let resp = client.request(req).await.expect("response");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

/// A reply's body as text (lossy: a test's message shows what came back,
/// whatever it is).
pub fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

/// A response as the client saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The headers the echo app says it received.
    pub fn echoed_headers(&self) -> serde_json::Map<String, serde_json::Value> {
        self.json()["headers"]
            .as_object()
            .cloned()
            .unwrap_or_default()
    }
}

/// `Date.prototype.toISOString()` of unix milliseconds: the text Better Auth
/// (Kysely) stores for dates. Written here, not taken from warden's core, so
/// the tests write sessions the way the other side does.
pub fn iso8601_ms(ms: i64) -> String {
    const DAY: i64 = 86_400_000;
    let (days, in_day) = (ms.div_euclid(DAY), ms.rem_euclid(DAY));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// One piece of a raw request: wait `after`, then write `bytes`.
pub struct Piece {
    pub after: std::time::Duration,
    pub bytes: Vec<u8>,
}

impl Piece {
    pub fn now(bytes: impl Into<Vec<u8>>) -> Piece {
        Piece {
            after: std::time::Duration::ZERO,
            bytes: bytes.into(),
        }
    }
    pub fn after(ms: u64, bytes: impl Into<Vec<u8>>) -> Piece {
        Piece {
            after: std::time::Duration::from_millis(ms),
            bytes: bytes.into(),
        }
    }
}

impl TestHost {
    /// Writes a request as raw bytes over one TCP connection, piece by
    /// piece (a body trickled in, chunked trailers: what an HTTP client
    /// library will not send), and reads the response meanwhile, so an
    /// answer that comes before the request is complete is seen. The
    /// response must carry a `content-length`.
    pub async fn send_raw(&self, pieces: Vec<Piece>) -> Reply {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let stream = tokio::net::TcpStream::connect(self.host.addr())
            .await
            .expect("connect");
        let (mut reader, mut writer) = stream.into_split();
        let writing = tokio::spawn(async move {
            for piece in pieces {
                tokio::time::sleep(piece.after).await;
                // The server may have answered and closed already.
                if writer.write_all(&piece.bytes).await.is_err() {
                    return;
                }
            }
            // Keep the connection half open until the answer is read.
            std::future::pending::<()>().await;
        });
        let mut buf = Vec::new();
        let reply = loop {
            if let Some(reply) = parse_response(&buf) {
                break reply;
            }
            let mut chunk = [0u8; 8192];
            let n =
                tokio::time::timeout(std::time::Duration::from_secs(30), reader.read(&mut chunk))
                    .await
                    .expect("a response within 30 s")
                    .expect("read");
            assert!(
                n > 0,
                "connection closed before a whole response: {}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
        };
        writing.abort();
        reply
    }
}

/// A complete HTTP/1.1 response with a `content-length`, if `buf` holds one.
fn parse_response(buf: &[u8]) -> Option<Reply> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut headers = http::HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.append(
            http::HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
            http::HeaderValue::from_str(value.trim()).ok()?,
        );
    }
    let length: usize = headers.get("content-length")?.to_str().ok()?.parse().ok()?;
    let body = buf.get(end + 4..end + 4 + length)?;
    Some(Reply {
        status,
        headers,
        body: Bytes::copy_from_slice(body),
    })
}

/// Waits until the host's store operation counts stop changing: work a
/// request spawned after its response (a sweep) has finished.
pub async fn settle(host: &TestHost) {
    let mut last = host.counts();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = host.counts();
        if now == last {
            return;
        }
        last = now;
    }
}
