//! A small local host that runs warden (or any WASI 0.3 HTTP middleware) in
//! front of an app the way Spin 4.1+ does, for the demo and the tests.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let host = warden_host::Host::start(warden_host::HostOptions {
//!     app: "target/wasm32-wasip2/release/echo_app.wasm".into(),
//!     middleware: vec!["target/wasm32-wasip2/release/warden.wasm".into()],
//!     ..warden_host::HostOptions::default()
//! })
//! .await?;
//! println!("serving on http://{}", host.addr());
//! # Ok(()) }
//! ```
//!
//! What it shares with Spin (DESIGN §1, §2, §5): middleware composed in front
//! of the app with wac-graph; instances reused for up to 128 requests, 16 at a
//! time, kept 1 s when idle (or one instance per request); the default
//! key-value store and database as SQLite files in the state directory;
//! `increment` counters as 8 little-endian bytes; variables from
//! `SPIN_VARIABLE_*`; the `spin-client-addr` header; outbound HTTP only to
//! the inherited `allowed_outbound_hosts`, denied otherwise with Spin's
//! `HttpRequestDenied` ([`outbound`]). CONTRIBUTING.md lists where it differs.
//!
//! A [`Profile`] picks which host it stands in for, and links only that
//! host's interfaces beyond WASI and `wasi:http`: `Spin` (the Spin
//! interfaces and `wasi:config@0.2.0-draft-2024-09-27`), `Wasmcloud`
//! (`wasi:keyvalue@0.2.0-draft`, `wasi:config@0.2.0-rc.1`) or `Minimal`
//! (`wasi:keyvalue@0.2.0-draft2` store and batch, `wasi:config` 2024-09-27).
//! All reach one `default` key-value store (the draft also opens it as `""`,
//! as `wasmtime serve` names it) and `wasi:config` reads the same variables
//! as `spin:variables` ([`wasi_keyvalue`], [`wasi_config`]).

pub mod cache;
pub mod command;
pub mod compose;
pub mod faults;
pub mod guest_log;
pub mod manifest;
pub mod outbound;
pub mod profiles;
mod redis_kv;
pub mod server;
pub mod spin;
pub mod storage;
#[cfg(test)]
mod test_env;
pub mod variables;
pub mod wasi_config;
pub mod wasi_keyvalue;

pub use faults::{Fault, Faults, Op, OpCounts};
pub use guest_log::GuestLog;
pub use profiles::Profile;
pub use server::Host;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// How instances are reused across requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// As Spin does for WASI 0.3 components: up to 128 requests per
    /// instance, at most 16 at once, an idle instance kept for 1 s.
    Spin,
    /// A fresh instance for every request (Spin's
    /// `--max-instance-reuse-count 1`).
    PerRequest,
}

/// Everything needed to start a host.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The app component (it exports `wasi:http/handler@0.3.0`).
    pub app: PathBuf,
    /// Middleware components, outermost first, as in
    /// `dependencies.middleware`.
    pub middleware: Vec<PathBuf>,
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Holds `sqlite_key_value.db` and `sqlite_db.db`, like Spin's `.spin/`.
    pub state_dir: PathBuf,
    /// An SQL file run on every start (`spin up --sqlite @file`).
    pub migrations: Option<PathBuf>,
    /// Variables declared in the manifest, with their defaults.
    pub declared_variables: HashMap<String, Option<String>>,
    /// `--variable name=value` pairs.
    pub variables: HashMap<String, String>,
    /// Read `SPIN_VARIABLE_*` from the process environment.
    pub variables_from_env: bool,
    pub reuse: Reuse,
    /// Where compiled components are cached; `None` compiles every start.
    pub cache_dir: Option<PathBuf>,
    /// Guest output; [`GuestLog::default`] echoes to stderr.
    pub guest_log: GuestLog,
    /// The default key-value store: `None` for Spin's default SQLite file in
    /// the state directory, or a `redis://` URL.
    pub key_value_redis: Option<String>,
    /// Serve store operation counts at [`server::STATS_PATH`] (benchmarks).
    pub stats_endpoint: bool,
    /// The `allowed_outbound_hosts` the middleware inherits from the app
    /// (`inherit_configuration = [..., "allowed_outbound_hosts"]`): the only
    /// destinations `wasi:http/client` may reach. Empty denies every
    /// outbound request, as Spin does for a middleware without the grant
    /// ([`outbound`] lists the differences from Spin).
    pub allowed_outbound_hosts: Vec<String>,
    /// Which host's interfaces to link ([`Profile`]): a component importing
    /// one the profile lacks fails to start.
    pub profile: Profile,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            app: PathBuf::new(),
            middleware: Vec::new(),
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            state_dir: PathBuf::from(".spin"),
            migrations: None,
            declared_variables: HashMap::new(),
            variables: HashMap::new(),
            variables_from_env: true,
            reuse: Reuse::Spin,
            cache_dir: Some(PathBuf::from(".spin/cache")),
            guest_log: GuestLog::default(),
            key_value_redis: None,
            stats_endpoint: false,
            allowed_outbound_hosts: Vec::new(),
            profile: Profile::Spin,
        }
    }
}

/// The names of a component's imports and exports (`wasi:http/handler@0.3.0`
/// and so on), as a host sees them: what `wasm-tools component wit` lists.
pub fn component_interfaces(bytes: &[u8]) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model_async(true);
    let engine = server::ah(wasmtime::Engine::new(&config))?;
    let component = server::ah(wasmtime::component::Component::new(&engine, bytes))?;
    let ty = component.component_type();
    let imports = ty
        .imports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let exports = ty
        .exports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    Ok((imports, exports))
}

/// Compile and instantiate costs of `app` behind `middleware`: the time to
/// compile the composed component (no cache) in milliseconds, and the mean
/// time to instantiate it in a fresh store, in microseconds, on a host with
/// `profile`'s interfaces.
pub async fn measure(
    app: &std::path::Path,
    middleware: &[PathBuf],
    profile: Profile,
) -> anyhow::Result<(f64, f64)> {
    server::measure(app, middleware, profile).await
}
