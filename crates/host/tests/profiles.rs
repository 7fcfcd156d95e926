//! Host profiles against the built components: each profile links only its
//! host's interfaces, so the Spin flavour of warden starts on `spin` and is
//! refused at start on `wasmcloud` and `minimal`, naming what is missing;
//! and a middleware that needs nothing beyond `wasi:http` is composed and
//! served, with the stats endpoint, on every profile.
//!
//! The components are built by `scripts/build` (run by `scripts/test`)
//! before `cargo test`.

use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warden_host::{GuestLog, Host, HostOptions, Profile};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn wasm(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let path = target.join(format!("wasm32-wasip2/release/{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run `scripts/build` first",
        path.display()
    );
    path
}

/// A state directory removed when dropped.
struct State(PathBuf);

impl State {
    fn new(tag: &str) -> State {
        let dir =
            std::env::temp_dir().join(format!("warden-host-profiles-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        State(dir)
    }
}

impl Drop for State {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start(middleware: &str, profile: Profile, state: &State) -> anyhow::Result<Host> {
    Host::start(HostOptions {
        app: wasm("echo_app"),
        middleware: vec![wasm(middleware)],
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: state.0.clone(),
        variables_from_env: false,
        cache_dir: Some(root().join("target/warden-host-cache")),
        guest_log: GuestLog::quiet(),
        stats_endpoint: true,
        profile,
        ..HostOptions::default()
    })
    .await
}

/// One HTTP/1.1 request, the whole response as text.
async fn request(host: &Host, method: &str, path: &str) -> String {
    let mut conn = tokio::net::TcpStream::connect(host.addr()).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        host.addr()
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    conn.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn the_spin_flavour_starts_on_spin_only() {
    let state = State::new("spin-flavour");
    start("warden", Profile::Spin, &state)
        .await
        .expect("warden.wasm starts on the spin profile");

    // warden.wasm imports spin:* and wasi:keyvalue draft2 atomics; the
    // other profiles offer neither, and say which import is missing.
    let lacking: &[(Profile, &[&str])] = &[
        (
            Profile::Wasmcloud,
            &[
                "spin:key-value/key-value@3.0.0",
                "spin:sqlite/sqlite@3.1.0",
                "spin:variables/variables@3.0.0",
                "wasi:keyvalue/store@0.2.0-draft2",
                "wasi:keyvalue/atomics@0.2.0-draft2",
            ],
        ),
        (
            Profile::Minimal,
            &[
                "spin:key-value/key-value@3.0.0",
                "spin:sqlite/sqlite@3.1.0",
                "spin:variables/variables@3.0.0",
                "wasi:keyvalue/atomics@0.2.0-draft2",
            ],
        ),
    ];
    for (profile, missing) in lacking {
        let err = match start("warden", *profile, &state).await {
            Ok(_) => panic!("warden.wasm started on the {profile} profile"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            err.contains(&format!("the {profile} profile does not provide")),
            "{err}"
        );
        for name in *missing {
            assert!(err.contains(name), "{profile}: {name} not named: {err}");
        }
    }
}

#[tokio::test]
async fn every_profile_composes_and_serves_a_wasi_http_only_middleware() {
    for profile in Profile::ALL {
        let state = State::new(profile.name());
        let host = start("noop_middleware", profile, &state)
            .await
            .unwrap_or_else(|e| panic!("{profile}: {e:#}"));
        let resp = request(&host, "GET", "/hello").await;
        assert!(resp.starts_with("HTTP/1.1 200"), "{profile}: {resp}");
        let stats = request(&host, "GET", warden_host::server::STATS_PATH).await;
        assert!(stats.contains("\"kv_writes\":0"), "{profile}: {stats}");
        let faults = request(
            &host,
            "POST",
            &format!("{}?kv-error", warden_host::server::FAULTS_PATH),
        )
        .await;
        assert!(faults.starts_with("HTTP/1.1 200"), "{profile}: {faults}");
    }
}

#[test]
fn profile_names_round_trip() {
    for profile in Profile::ALL {
        assert_eq!(profile.name().parse::<Profile>().unwrap(), profile);
    }
    assert_eq!(Profile::default(), Profile::Spin);
    assert!("Spin".parse::<Profile>().is_err());
}
