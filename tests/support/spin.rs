//! Real Spin for the end-to-end tests: `spin up` of a manifest, talked to
//! over HTTP like [`crate::TestHost`].
//!
//! Used only where Spin 4.1+ is available: `scripts/test` finds `spin` on
//! the PATH (CI puts `../shared/bin` there) and sets `WARDEN_TEST_SPIN` to
//! it; without it the real-Spin suite is skipped with one line.

use crate::{HttpTarget, TempDir, root};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `spin` binary the suite runs, from `WARDEN_TEST_SPIN`. `None` (with
/// the reason printed once by `scripts/test`) when it is not set.
pub fn binary() -> Option<PathBuf> {
    std::env::var_os("WARDEN_TEST_SPIN").map(PathBuf::from)
}

/// How a test wants its `spin up`.
pub struct SpinSetup {
    /// The manifest; the demo's `spin.toml` by default.
    pub manifest: PathBuf,
    /// Values for the manifest's variables (`--variable k=v`).
    pub variables: Vec<(String, String)>,
    /// A runtime configuration file's text (`--runtime-config-file`), e.g.
    /// a Redis key-value store.
    pub runtime_config: Option<String>,
    /// `--max-instance-reuse-count 1`: one instance per request.
    pub instance_per_request: bool,
    /// `--sqlite @migrations.sql` (Better Auth's tables).
    pub migrations: bool,
}

impl Default for SpinSetup {
    fn default() -> Self {
        SpinSetup {
            manifest: root().join("spin.toml"),
            variables: Vec::new(),
            runtime_config: None,
            instance_per_request: false,
            migrations: true,
        }
    }
}

impl SpinSetup {
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.variables.push((name.to_owned(), value.to_owned()));
        self
    }
    pub fn runtime_config(mut self, text: &str) -> Self {
        self.runtime_config = Some(text.to_owned());
        self
    }
    pub fn instance_per_request(mut self, yes: bool) -> Self {
        self.instance_per_request = yes;
        self
    }
}

/// A running `spin up`, with its own state directory (key-value and SQLite
/// files, logs); stopped when dropped.
pub struct SpinHost {
    child: Child,
    addr: String,
    pub client: Client<HttpConnector, Full<Bytes>>,
    state: TempDir,
}

impl Drop for SpinHost {
    /// Stops `spin up` and the `spin trigger` process it started (killing
    /// `spin up` alone would leave the trigger serving): both are in a
    /// process group of their own. Interrupted first, so that Spin removes
    /// its temporary directory; killed if it has not exited within 2 s.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let signal = |name: &str| {
            let _ = Command::new("kill")
                .args(["-s", name, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        signal("INT");
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal("KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound, then released for Spin to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl SpinHost {
    /// Starts `spin` (with the demo's migrations unless `setup` says
    /// otherwise) and waits until it answers.
    pub async fn start(spin: &Path, setup: SpinSetup) -> SpinHost {
        let state = TempDir::new("spin");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(spin);
        cmd.arg("up")
            .arg("--from")
            .arg(&setup.manifest)
            .arg("--listen")
            .arg(&addr)
            .arg("--state-dir")
            .arg(state.path());
        if setup.migrations {
            cmd.arg("--sqlite")
                .arg(format!("@{}", root().join("migrations.sql").display()));
        }
        for (name, value) in &setup.variables {
            cmd.arg("--variable").arg(format!("{name}={value}"));
        }
        if let Some(text) = &setup.runtime_config {
            let file = state.path().join("runtime-config.toml");
            std::fs::write(&file, text).expect("runtime config");
            cmd.arg("--runtime-config-file").arg(file);
        }
        if setup.instance_per_request {
            cmd.args(["--max-instance-reuse-count", "1"]);
        }
        let out = std::fs::File::create(state.path().join("spin.out")).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = cmd
            .process_group(0)
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spin starts");
        let host = SpinHost {
            child,
            addr,
            client: Client::builder(TokioExecutor::new()).build_http(),
            state,
        };
        host.wait_ready().await;
        host
    }

    /// Waits until Spin serves (it compiles the components first).
    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let probe = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        loop {
            let req = hyper::Request::get(self.url("/.well-known/spin-probe"))
                .body(Full::new(Bytes::new()))
                .unwrap();
            if probe.request(req).await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "spin did not start in 120 s:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Everything `spin` and the components printed so far (Spin passes
    /// component stderr through).
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.state.path().join("spin.out")).unwrap_or_default()
    }

    /// The state directory: `sqlite_db.db`, `sqlite_key_value.db`, `logs/`.
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }
}

impl HttpTarget for SpinHost {
    fn client(&self) -> &Client<HttpConnector, Full<Bytes>> {
        &self.client
    }
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}
