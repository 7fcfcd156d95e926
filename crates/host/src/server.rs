//! The HTTP side: accepts connections on 127.0.0.1 and hands each request
//! to wasmtime-wasi-http's `ProxyHandler`, which reuses instances the way
//! Spin does (the same handler Spin's WASI 0.3 trigger builds on).

use crate::outbound::{AllowedHosts, Outbound};
use crate::spin::{SpinEnv, SpinView};
use crate::storage::{KeyValue, Sqlite};
use crate::variables::Variables;
use crate::{Faults, GuestLog, HostOptions, Profile, Reuse, cache, compose};
use anyhow::{Context as _, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use wasmtime::component::{GuestTaskId, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreContextMut,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, ProxyHandler, ProxyPre, ShouldAccept, WorkerExpiration, WorkerState,
    WorkerStatus,
};
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Spin's reuse limits for WASI 0.3 components (DESIGN §1).
const MAX_REQUESTS_PER_INSTANCE: usize = 128;
const MAX_CONCURRENT_PER_INSTANCE: usize = 16;
const IDLE_INSTANCE_TTL: Duration = Duration::from_secs(1);

/// A running host. Dropping it stops the listener.
pub struct Host {
    addr: SocketAddr,
    faults: Arc<Faults>,
    guest_log: GuestLog,
    instances: Arc<std::sync::atomic::AtomicU64>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Host {
    /// Compiles and composes the components, prepares storage, and starts
    /// serving. Fails with a message naming the problem (a missing file, a
    /// component that does not fit, a required variable without a value).
    pub async fn start(options: HostOptions) -> Result<Host> {
        let faults = Arc::new(Faults::default());
        std::fs::create_dir_all(&options.state_dir)
            .with_context(|| format!("creating state directory {}", options.state_dir.display()))?;
        let kv = match &options.key_value_redis {
            None => KeyValue::open(&options.state_dir, faults.clone())?,
            Some(url) => KeyValue::redis(url, faults.clone()).await?,
        };
        let sqlite = Sqlite::open(&options.state_dir, faults.clone())?;
        if let Some(path) = &options.migrations {
            let sql = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            sqlite
                .migrate(&sql)
                .with_context(|| format!("migrations in {}", path.display()))?;
        }
        let env_lookup = |name: &str| {
            if options.variables_from_env {
                std::env::var(name).ok()
            } else {
                None
            }
        };
        let variables =
            Variables::resolve(&options.declared_variables, &options.variables, env_lookup)?;
        let env = Arc::new(SpinEnv {
            kv,
            sqlite,
            variables,
        });

        let engine = engine()?;
        let component = load_composed(&engine, &options)?;
        let linker = linker(&engine, options.profile)?;
        let pre = ah(linker.instantiate_pre(&component))
            .with_context(|| unprovided(&engine, &component, options.profile))?;
        let pre =
            ah(ServicePre::new(pre)).context("the app does not export wasi:http/handler@0.3.0")?;

        let instances = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let handler = ProxyHandler::new(AppState {
            engine,
            pre: ProxyPre::P3(pre),
            env,
            reuse: options.reuse,
            guest_log: options.guest_log.clone(),
            instances: instances.clone(),
            faults: faults.clone(),
            stats_endpoint: options.stats_endpoint,
            sets_spin_headers: options.profile != Profile::Wasmcloud,
            outbound: Outbound {
                allowed: Arc::new(
                    AllowedHosts::parse(&options.allowed_outbound_hosts)
                        .context("allowed_outbound_hosts")?,
                ),
                quiet: options.guest_log.is_quiet(),
            },
        });

        let listener = TcpListener::bind(options.listen)
            .await
            .with_context(|| format!("listening on {}", options.listen))?;
        let addr = listener.local_addr()?;
        let (shutdown, mut stop) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(_) => continue,
                    },
                    _ = &mut stop => break,
                };
                // No `TCP_NODELAY`: Spin's HTTP server does not set it, and a
                // response whose head and body leave as two writes must stall
                // here as it stalls there (Nagle against delayed ACKs), so
                // that the tests see it.
                let handler = handler.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| serve(handler.clone(), peer, addr, req));
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });

        Ok(Host {
            addr,
            faults,
            guest_log: options.guest_log,
            instances,
            _shutdown: shutdown,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Fault switches and store operation counts.
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// What the guests have logged.
    pub fn guest_log(&self) -> &GuestLog {
        &self.guest_log
    }

    /// How many instances have been created so far.
    pub fn instances_created(&self) -> u64 {
        self.instances.load(std::sync::atomic::Ordering::Relaxed)
    }
}

type HostBody = http_body_util::combinators::UnsyncBoxBody<Bytes, anyhow::Error>;

async fn serve(
    handler: ProxyHandler<AppState>,
    peer: SocketAddr,
    local: SocketAddr,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<HostBody>, std::convert::Infallible> {
    if handler.state().stats_endpoint && req.uri().path() == STATS_PATH {
        return Ok(stats(handler.state(), req.method() == http::Method::POST));
    }
    if handler.state().stats_endpoint && req.uri().path() == FAULTS_PATH {
        return Ok(faults(handler.state(), &req));
    }
    let (mut parts, body) = req.into_parts();
    // The URI a guest sees is absolute, as Spin gives it.
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_owned();
    let authority = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| local.to_string());
    let full = format!("http://{authority}{path}");
    if let Ok(uri) = full.parse::<http::Uri>() {
        parts.uri = uri;
    }
    // Spin sets these on every request it routes; a client cannot supply
    // them. The wasmcloud profile's hosts set none and pass the client's on.
    let headers = &mut parts.headers;
    let spin_headers = if handler.state().sets_spin_headers {
        vec![
            ("spin-client-addr", peer.to_string()),
            ("spin-full-url", full.clone()),
            ("spin-path-info", parts.uri.path().to_owned()),
            ("spin-matched-route", "/...".to_owned()),
            ("spin-base-path", "/".to_owned()),
            ("spin-raw-component-route", "/...".to_owned()),
            ("spin-component-route", "".to_owned()),
        ]
    } else {
        Vec::new()
    };
    for (name, value) in spin_headers {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    let body = body.map_err(wasmtime_wasi_http::Error::from).boxed_unsync();
    let request = http::Request::from_parts(parts, body);

    match handler.handle((), request).await {
        Ok(response) => {
            Ok(response.map(|b| b.map_err(|e| anyhow::anyhow!("{e:?}")).boxed_unsync()))
        }
        Err(e) => {
            // A trap or an error code from the component: Spin answers 500.
            if !handler.state().guest_log.is_quiet() {
                eprintln!("warden-host: request failed: {e:#}");
            }
            Ok(hyper::Response::builder()
                .status(500)
                .header("content-type", "text/plain")
                .body(
                    Full::new(Bytes::from_static(b"Internal Server Error"))
                        .map_err(|e| match e {})
                        .boxed_unsync(),
                )
                .expect("static response"))
        }
    }
}

/// With `--stats` (benchmarks only; Spin has no such thing): `GET` answers the
/// store operation counts and instances created; `POST` also resets the counts.
pub const STATS_PATH: &str = "/.well-known/warden-host/stats";

/// With `--stats` (tests and spikes only): `POST FAULTS_PATH?SPEC` applies a
/// fault spec ([`Faults::apply_spec`], e.g. `?kv-hang`, `?off`); `GET` (or
/// `POST` with no query) answers the modes now in force, and how many calls
/// are hung and were abandoned.
pub const FAULTS_PATH: &str = "/.well-known/warden-host/faults";

fn faults<B>(state: &AppState, req: &hyper::Request<B>) -> hyper::Response<HostBody> {
    let mut status = http::StatusCode::OK;
    let mut body = String::new();
    if req.method() == http::Method::POST
        && let Some(spec) = req.uri().query()
        && let Err(e) = state.faults.apply_spec(spec)
    {
        status = http::StatusCode::BAD_REQUEST;
        body = format!("{e}\n");
    }
    let f = &state.faults;
    body += &format!(
        "{} hung={} abandoned={}\n",
        f.spec(),
        f.hung_now(),
        f.abandoned()
    );
    hyper::Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(
            Full::new(Bytes::from(body))
                .map_err(|e| match e {})
                .boxed_unsync(),
        )
        .expect("static response")
}

fn stats(state: &AppState, reset: bool) -> hyper::Response<HostBody> {
    let c = state.faults.counts();
    let body = format!(
        "{{\"kv_reads\":{},\"kv_writes\":{},\"sqlite_statements\":{},\"instances\":{}}}",
        c.kv_reads,
        c.kv_writes,
        c.sqlite_statements,
        state.instances.load(std::sync::atomic::Ordering::Relaxed)
    );
    if reset {
        state.faults.reset_counts();
    }
    hyper::Response::builder()
        .header("content-type", "application/json")
        .body(
            Full::new(Bytes::from(body))
                .map_err(|e| match e {})
                .boxed_unsync(),
        )
        .expect("static response")
}

fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model_async(true);
    // `perf record` can name guest functions when the host is built with
    // `--features profiling` and run with WARDEN_HOST_PERFMAP=1 (bench/README).
    #[cfg(feature = "profiling")]
    if std::env::var_os("WARDEN_HOST_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(256);
    pool.total_memories(512);
    pool.total_tables(512);
    pool.total_core_instances(2048);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    ah(Engine::new(&config))
}

/// WASI 0.2 and 0.3, `wasi:http@0.3.0`, and what `profile` adds: the one
/// linker both serving and [`measure`] use.
fn linker(engine: &Engine, profile: Profile) -> Result<Linker<HostState>> {
    let mut linker = Linker::<HostState>::new(engine);
    ah(wasmtime_wasi::p2::add_to_linker_async(&mut linker)).context("linking wasi@0.2")?;
    ah(wasmtime_wasi::p3::add_to_linker(&mut linker)).context("linking wasi@0.3")?;
    ah(wasmtime_wasi_http::p3::add_to_linker(&mut linker)).context("linking wasi:http@0.3")?;
    ah(crate::profiles::add_to_linker(
        &mut linker,
        profile,
        HostState::spin_view,
    ))
    .with_context(|| format!("linking the {profile} profile"))?;
    Ok(linker)
}

/// Why a component does not link: every import the profile lacks that
/// another profile offers, by name (wasmtime's own error, which follows,
/// names only the first import it could not satisfy).
fn unprovided(
    engine: &Engine,
    component: &wasmtime::component::Component,
    profile: Profile,
) -> String {
    let ty = component.component_type();
    let imports: Vec<&str> = ty.imports(engine).map(|(name, _)| name).collect();
    let lacking = profile.lacks(imports);
    if lacking.is_empty() {
        format!("the composed component imports something the {profile} profile does not provide")
    } else {
        format!(
            "the composed component imports {}, which the {profile} profile does not provide",
            lacking.join(", ")
        )
    }
}

/// wasmtime has its own error type; the host reports with anyhow.
pub(crate) fn ah<T>(r: wasmtime::Result<T>) -> Result<T> {
    r.map_err(anyhow::Error::from)
}

fn load_composed(engine: &Engine, options: &HostOptions) -> Result<wasmtime::component::Component> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).with_context(|| format!("reading component {}", p.display()))
    };
    let app = read(&options.app)?;
    let middleware = options
        .middleware
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>>>()?;
    let bytes = if middleware.is_empty() {
        app
    } else {
        compose::compose(&middleware, app).context("composing middleware in front of the app")?
    };
    cache::load(engine, &bytes, options.cache_dir.as_deref())
}

/// What each store holds.
pub struct HostState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Outbound,
    env: Arc<SpinEnv>,
}

impl HostState {
    fn spin_view(&mut self) -> SpinView<'_> {
        SpinView {
            env: &self.env,
            table: &mut self.table,
        }
    }

    fn http_view(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpView::http(self)
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

struct AppState {
    engine: Engine,
    pre: ProxyPre<HostState>,
    env: Arc<SpinEnv>,
    reuse: Reuse,
    guest_log: GuestLog,
    instances: Arc<std::sync::atomic::AtomicU64>,
    faults: Arc<Faults>,
    stats_endpoint: bool,
    outbound: Outbound,
    /// Whether the host sets Spin's `spin-*` request headers: Spin's hosts
    /// do (the spin and minimal profiles); wasmCloud and `wasmtime serve`
    /// do not, and pass on whatever the client sent.
    sets_spin_headers: bool,
}

impl HandlerState for AppState {
    type StoreData = HostState;
    type WorkerExpiration = IdleExpiration;
    type WorkerState = Limits;

    async fn instantiate(
        &self,
    ) -> Result<Instance<HostState, IdleExpiration, Limits>, wasmtime::Error> {
        let wasi = WasiCtx::builder()
            .stdout(self.guest_log.clone())
            .stderr(self.guest_log.clone())
            .build();
        let mut store = Store::new(
            &self.engine,
            HostState {
                table: ResourceTable::new(),
                wasi,
                http: WasiHttpCtx::new(),
                hooks: self.outbound.clone(),
                env: self.env.clone(),
            },
        );
        let proxy = self.pre.instantiate_async(&mut store).await?;
        self.instances
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Instance {
            store,
            proxy,
            view: HostState::http_view,
            expiration: IdleExpiration {
                ttl: match self.reuse {
                    Reuse::Spin => IDLE_INSTANCE_TTL,
                    Reuse::PerRequest => Duration::ZERO,
                },
                timer: None,
            },
            state: Limits {
                reuse: self.reuse,
                quiet: self.guest_log.is_quiet(),
            },
        })
    }
}

/// Drops an instance once it has been idle for its time to live.
struct IdleExpiration {
    ttl: Duration,
    timer: Option<(Instant, Pin<Box<tokio::time::Sleep>>)>,
}

impl WorkerExpiration for IdleExpiration {
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        status: WorkerStatus,
        start: Instant,
    ) -> Poll<()> {
        if !matches!(status, WorkerStatus::Idle) {
            self.timer = None;
            return Poll::Pending;
        }
        let deadline = start + self.ttl;
        if Instant::now() >= deadline {
            return Poll::Ready(());
        }
        let timer = match &mut self.timer {
            Some((at, timer)) if *at == deadline => timer,
            slot => {
                *slot = Some((
                    deadline,
                    Box::pin(tokio::time::sleep_until(deadline.into())),
                ));
                &mut slot.as_mut().expect("just set").1
            }
        };
        timer.as_mut().poll(cx)
    }
}

/// How many requests an instance takes.
struct Limits {
    reuse: Reuse,
    quiet: bool,
}

impl WorkerState for Limits {
    type StoreData = HostState;
    type RequestData = ();

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        let (max_total, max_concurrent) = match self.reuse {
            Reuse::Spin => (MAX_REQUESTS_PER_INSTANCE, MAX_CONCURRENT_PER_INSTANCE),
            Reuse::PerRequest => (1, 1),
        };
        if total >= max_total {
            ShouldAccept::Never
        } else if concurrent >= max_concurrent {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        _: StoreContextMut<'_, HostState>,
        _: (),
        _: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + 'static + Send + Sync>> {
        // Like `spin up`, no request deadline.
        Box::pin(std::future::pending())
    }

    fn drop(&self, _store: Store<HostState>, result: Result<(), wasmtime::Error>) {
        // A trap ends the instance (the request already got its 500). The
        // handler also reports "worker panicked" for workers cut off when the
        // runtime shuts down, which is routine in tests: quiet hosts skip it.
        if let Err(e) = result
            && !self.quiet
        {
            eprintln!("warden-host: instance ended: {e:#}");
        }
    }
}

pub(crate) async fn measure(
    app: &std::path::Path,
    middleware: &[std::path::PathBuf],
    profile: Profile,
) -> Result<(f64, f64)> {
    let options = HostOptions {
        app: app.to_owned(),
        middleware: middleware.to_vec(),
        cache_dir: None,
        profile,
        ..HostOptions::default()
    };
    let engine = engine()?;
    let started = Instant::now();
    let component = load_composed(&engine, &options)?;
    let compile_ms = started.elapsed().as_secs_f64() * 1000.0;
    let linker = linker(&engine, profile)?;
    let pre = ProxyPre::P3(ah(ServicePre::new(
        ah(linker.instantiate_pre(&component))?,
    ))?);
    let dir = std::env::temp_dir().join(format!("warden-measure-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let faults = Arc::new(Faults::default());
    let env = Arc::new(SpinEnv {
        kv: KeyValue::open(&dir, faults.clone())?,
        sqlite: Sqlite::open(&dir, faults)?,
        variables: Variables::default(),
    });
    let rounds = 200;
    let started = Instant::now();
    for _ in 0..rounds {
        let mut store = Store::new(
            &engine,
            HostState {
                table: ResourceTable::new(),
                wasi: WasiCtx::builder().build(),
                http: WasiHttpCtx::new(),
                hooks: Outbound::default(),
                env: env.clone(),
            },
        );
        ah(pre.instantiate_async(&mut store).await)?;
    }
    let instantiate_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    let _ = std::fs::remove_dir_all(&dir);
    Ok((compile_ms, instantiate_us))
}
