//! The built component against the world in `wit/`, and composition ahead
//! of time (`wac plug`).

use std::collections::BTreeSet;
use warden_tests::*;

/// Every interface the world `name` in `wit/` imports, with what its
/// `include`s bring in.
fn world_imports(name: &str) -> BTreeSet<String> {
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve.push_dir(root().join("wit")).expect("wit/ parses");
    let world = resolve
        .select_world(&[pkg], Some(name))
        .unwrap_or_else(|e| panic!("world {name}: {e}"));
    resolve.worlds[world]
        .imports
        .keys()
        .map(|key| semver_family(&resolve.name_world_key(key)))
        .collect()
}

/// `wasi:io/poll@0.2.6` → `wasi:io/poll@0.2`: hosts link 0.x.y imports to any
/// 0.x.z of the same interface, so the world pins only the family.
fn semver_family(name: &str) -> String {
    match name.split_once('@') {
        Some((iface, version)) if version.starts_with("0.") && !version.contains('-') => {
            let family: Vec<&str> = version.split('.').take(2).collect();
            format!("{iface}@{}", family.join("."))
        }
        _ => name.to_owned(),
    }
}

/// Each flavour's component (docs/portability.md) against its world: a
/// stray import (a `spin:` interface in a flavour for hosts without one)
/// would stop it from starting there.
#[test]
fn each_flavour_matches_its_world() {
    for (file, world) in [
        ("warden", "warden"),
        ("warden-wasmcloud", "warden-wasmcloud"),
        ("warden-minimal", "warden-minimal"),
    ] {
        let bytes = std::fs::read(wasm(file)).unwrap();
        let (imports, exports) = warden_host::component_interfaces(&bytes).unwrap();
        assert_eq!(
            exports,
            vec!["wasi:http/handler@0.3.0".to_string()],
            "{file}"
        );
        assert!(
            imports.contains(&"wasi:http/handler@0.3.0".to_string()),
            "{file}: {imports:?}"
        );
        let allowed = world_imports(world);
        let outside: Vec<&String> = imports
            .iter()
            .filter(|i| !allowed.contains(&semver_family(i)))
            .collect();
        assert!(
            outside.is_empty(),
            "{file}.wasm imports outside world {world}: {outside:?}\nworld: {allowed:?}"
        );
    }
}

/// The flavours differ where their hosts do: the key-value interface and
/// version, atomics, SQLite and where configuration comes from.
#[test]
fn the_flavours_import_their_hosts_interfaces() {
    let imports = |file: &str| {
        warden_host::component_interfaces(&std::fs::read(wasm(file)).unwrap())
            .unwrap()
            .0
    };
    let spin = imports("warden");
    for needed in [
        "spin:sqlite/sqlite@3.1.0",
        "spin:variables/variables@3.0.0",
        "wasi:keyvalue/atomics@0.2.0-draft2",
    ] {
        assert!(
            spin.iter().any(|i| i == needed),
            "warden.wasm lacks {needed}"
        );
    }
    let wasmcloud = imports("warden-wasmcloud");
    for needed in [
        "wasi:keyvalue/store@0.2.0-draft",
        "wasi:keyvalue/atomics@0.2.0-draft",
        "wasi:config/store@0.2.0-rc.1",
    ] {
        assert!(
            wasmcloud.iter().any(|i| i == needed),
            "warden-wasmcloud.wasm lacks {needed}"
        );
    }
    let minimal = imports("warden-minimal");
    for needed in [
        "wasi:keyvalue/store@0.2.0-draft2",
        "wasi:config/store@0.2.0-draft-2024-09-27",
    ] {
        assert!(
            minimal.iter().any(|i| i == needed),
            "warden-minimal.wasm lacks {needed}"
        );
    }
    for (file, list) in [
        ("warden-wasmcloud", &wasmcloud),
        ("warden-minimal", &minimal),
    ] {
        let spin_only: Vec<&String> = list.iter().filter(|i| i.starts_with("spin:")).collect();
        assert!(spin_only.is_empty(), "{file}.wasm imports {spin_only:?}");
    }
    assert!(
        !minimal
            .iter()
            .any(|i| i.starts_with("wasi:keyvalue/atomics")),
        "warden-minimal.wasm must not import atomics: {minimal:?}"
    );
}

/// Most bytes the release `warden.wasm` (stripped, as `cargo build --release`
/// writes it) may have, so that its size never grows unnoticed.
///
/// The project's target is 512 KiB (524 288 bytes). The component is 676 971
/// bytes (rustc 1.95); this ceiling is that rounded up to the next 16 KiB, so
/// about 150 KiB remain to be cut before the target is met. Lower it whenever
/// the component shrinks; raise it only with a reason in the commit. (Raised
/// from 671 744 for issue 12: the signed-body timer and second window check,
/// trailer cleaning, cookie fallback and the configurable readiness probe
/// added about 14 KB. Raised from 688 128 for issue 18: the layer registry,
/// one refusal shape and one Identity added about 10 KB to the full build;
/// a build with only the layers a policy uses is smaller, e.g. 554 579
/// bytes for security headers, CORS and rate limiting, docs/architecture.md.
/// Raised from 704 512 for issue 19: a deadline needs async store calls,
/// and the async `spin:key-value` bindings and the timer added about 34 KB;
/// making only the liveness check async was 12 KB smaller but cost session
/// lookups a second round trip, docs/stores.md. Raised from 737 280 for
/// issue 17: the four webhook schemes, their per-route secret variables
/// and checks took the full build from 729 882 to 748 274 bytes; the
/// event id is read as a `serde_json::Value` like the session layer's JSON,
/// since a second deserializer cost 11 KB more. Raised from 753 664 for
/// issue 13's jwt layer: measured against the same build without it, the
/// `jwt` feature (JOSE parser, Ed25519 and P-256 verification, HMAC keys,
/// the jwks table cache, Better Auth's cookie cache) adds 82 523 bytes and
/// `jwt-rsa` (RS256/PS256 bignum arithmetic) 31 976 more, 114 499 in all;
/// a build without `jwt-rsa` keeps the 32 KB. Then for issue 13's api_key
/// layer: measured against the same build without it, the `api-key`
/// feature adds 90 503 bytes: the stage's async lookups (throttle, cache,
/// two tables, secondaryStorage) about 25 KB, and serde reading and
/// writing the cached key record and Better Auth's JSON about 30 KB, after
/// the cache entry dropped serde's internally tagged form, which cost 13 KB
/// more. Then for `jwks_url`: the `wasi:http/client` bindings, the bounded
/// fetch and its cache took the full build from 1 001 722 to 1 026 406
/// bytes. The token layers roughly doubled the distance to the 512 KiB
/// target: a build with only the layers a policy uses is the way to a
/// small warden, docs/architecture.md. Raised from 1 032 192 for issue
/// 14's body layer: measured against the same build without it, the `body`
/// feature (the stage, the streaming JSON scanner, the refusal race) adds
/// 16 426 bytes, 1 037 756 to 1 054 182; the chunk check in the request
/// relay, in every build, about 1.1 KB. The build before issue 14's adapter
/// was already 1 036 617 bytes here, over the old ceiling. Raised from
/// 1 064 960 for issue 14's CSRF layer, app timeout and 405: 1 054 532 to
/// 1 071 005 bytes; the `csrf` feature (its stage and decision, the origin
/// parser it shares with CORS) is 5 570 of them, the rest the timeout race
/// around the app call, the `timeout` keys' parsing and the unmatched
/// path's `Allow`.)
/// 1 064 960 for issue 14's lockout layer: measured against the same build
/// without it, the `lockout` feature (the stage with its bounded body read
/// and store calls, the JSON member walk, the form decoder) adds 18 733
/// bytes, 1 056 868 to 1 075 601.)
/// 1 064 960 for issue 14's security events: measured against the same build
/// without them, 1 054 532 to 1 071 159 bytes (16 627): the sampling table,
/// the event head and the table's batched INSERT about 12 KB, the
/// `[security_events]` parser, the credential fingerprints and the client
/// address read once per request the rest.)
/// Then, with all of issue 14 merged (body, idempotency, CSRF and
/// timeouts, lockout, security events): 1 159 921 bytes, raised to
/// 1 167 360. The `idempotency` feature alone is 49 348 of them (1 110 573
/// without it): the stage's compare-and-swap rounds, the response capture,
/// the versioned slot encoding (serde, base64) and the problem documents.
/// Raised from 1 167 360 for issue 15's flavours: 1 159 921 to 1 169 795
/// bytes. The key-value adapter split and the `wasi:config`-ready settings
/// loader are about 1.5 KB; the rest is in every flavour's core: each
/// layer's host needs and their refusals by flavour, the `[rate_limit]
/// approximate` settings (the approximate counters themselves are only in
/// the minimal flavour) and dropping `spin-*` headers off Spin. The other
/// flavours are smaller (no SQLite, no async key-value): 1 108 550 bytes
/// for wasmcloud, 1 116 108 for minimal.
const SIZE_CEILING: u64 = 1_171_456;

/// Every flavour stays under the ceiling (the other two are smaller, having
/// fewer host interfaces to bind).
#[test]
fn the_component_stays_under_its_size_ceiling() {
    for flavour in ["warden", "warden-wasmcloud", "warden-minimal"] {
        let size = std::fs::metadata(wasm(flavour)).unwrap().len();
        assert!(
            size <= SIZE_CEILING,
            "{flavour}.wasm is {size} bytes, over its ceiling of {SIZE_CEILING} (target: 512 KiB); \
             see where the bytes went with `twiggy top` on a build without `strip`"
        );
    }
}

#[tokio::test]
async fn a_component_composed_ahead_of_time_serves() {
    let dir = TempDir::new("composed");
    let composed = dir.path().join("composed.wasm");
    let bytes = warden_host::compose::plug(
        std::fs::read(wasm("warden")).unwrap(),
        std::fs::read(wasm("echo_app")).unwrap(),
    )
    .unwrap();
    std::fs::write(&composed, &bytes).unwrap();
    // One component again, serving `wasi:http/handler`. (It still imports
    // `wasi:http/handler@0.3.0` too: that is the app's outbound HTTP, which
    // spin-sdk's `http` feature binds to the same interface.)
    let (_, exports) = warden_host::component_interfaces(&bytes).unwrap();
    assert_eq!(exports, vec!["wasi:http/handler@0.3.0".to_string()]);

    let state = TempDir::new("state");
    let host = Host::start(HostOptions {
        app: composed,
        middleware: vec![],
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: state.path().to_owned(),
        cache_dir: None,
        guest_log: GuestLog::quiet(),
        variables_from_env: false,
        ..HostOptions::default()
    })
    .await
    .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let resp = client
        .get(format!("http://{}/hello", host.addr()).parse().unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers().contains_key("x-request-id"),
        "warden answered"
    );
}

/// The build with only security headers, CORS and rate limiting
/// (`scripts/build`): it serves those layers, and refuses at startup, by
/// name, a policy that needs a layer it was built without, rather than
/// letting requests past that layer.
#[tokio::test]
async fn a_build_without_a_layer_refuses_a_policy_that_needs_it() {
    const SLIM: &str = "warden_headers_cors_rate_limit";
    let served = r#"
        [cors]
        origins = ["https://app.example.com"]
        [[routes]]
        name = "app"
        path = "/*"
        rate_limit = { requests = 2, window = "1m" }
    "#;
    let mut setup = Setup::default().policy(served);
    setup.middleware = SLIM;
    let host = TestHost::start(setup).await;
    let origin: &[(&str, &[u8])] = &[("origin", b"https://app.example.com")];
    let first = host.send("GET", "/x", origin, b"").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-frame-options"), Some("DENY"));
    assert_eq!(
        first.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(host.get("/x").await.status, 200);
    assert_eq!(host.get("/x").await.status, 429);

    for (policy, field, feature) in [
        ("auth = \"required\"", "routes[0].auth", "session"),
        ("auth = \"worker\"", "routes[0].auth", "signature"),
    ] {
        let mut setup = Setup::default()
            .policy(&format!(
                "[[routes]]\nname = \"app\"\npath = \"/*\"\n{policy}\n"
            ))
            .var(
                "worker_secret",
                "hostile-input-tests-worker-secret-0123456789",
            );
        setup.middleware = SLIM;
        let host = TestHost::start(setup).await;
        let reply = host.get("/x").await;
        assert_eq!(reply.status, 500, "{policy}");
        assert_eq!(reply.json()["error"]["code"], "CONFIGURATION_ERROR");
        let log = host.log();
        let expected = format!(
            "{field}: needs the {} layer, which this warden was built without (cargo feature \\\"{feature}\\\")",
            if feature == "session" {
                "session"
            } else {
                "worker signature"
            }
        );
        assert!(log.contains(&expected), "{policy}: {log}");
    }
    // The full build takes the same policy.
    let host = TestHost::start(
        Setup::default().policy("[[routes]]\nname = \"app\"\npath = \"/*\"\nauth = \"optional\"\n"),
    )
    .await;
    assert_eq!(host.get("/x").await.status, 200);
}

/// The smaller build is smaller: the layers left out are not in it.
#[test]
fn the_build_without_sessions_and_signatures_is_smaller() {
    let full = std::fs::metadata(wasm("warden")).unwrap().len();
    let slim = std::fs::metadata(wasm("warden_headers_cors_rate_limit"))
        .unwrap()
        .len();
    assert!(
        slim + 100_000 < full,
        "{slim} bytes is not much under {full}"
    );
}
