//! The other hosts' flavours (docs/portability.md), each served on the local
//! host's profile for its host, which links only what that host offers: the
//! layers each flavour has work end to end, and a policy that needs what
//! its host lacks is refused at startup, naming the field and the flavour.

use crate::session::{cookie, get_as, hmac_base64, identity_of, iso, kv_put, now_ms, token};
use serde_json::json;
use warden_host::Profile;
use warden_tests::*;

const SESSION_SECRET: &str = crate::session::SESSION_SECRET;
const WORKER_SECRET: &str = "worker-secret-for-the-flavour-tests-0123456789";
const JWT_SECRET: &str = "jwt-secret-for-the-flavour-tests-0123456789";
const DAY: i64 = 86_400_000;

/// An HS256 token for `sub`, valid for ten minutes.
fn hs256(sub: &str) -> String {
    use base64::Engine;
    use hmac::Mac;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let now = unix_now();
    let head = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = b64(json!({"sub": sub, "iat": now, "exp": now + 600})
        .to_string()
        .as_bytes());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(JWT_SECRET.as_bytes()).unwrap();
    mac.update(format!("{head}.{claims}").as_bytes());
    format!("{head}.{claims}.{}", b64(&mac.finalize().into_bytes()))
}

/// What the flavours share: headers on every answer, a small exact or
/// approximate limit, a signed route, sessions from Better Auth's
/// `secondaryStorage`.
const POLICY: &str = r#"
[cors]
origins = ["https://app.example.com"]

[session]
source = "secondary-storage"

[jwt]
hmac_secret_variable = "jwt_secret"

[[routes]]
name = "limited"
path = "/limited/*"
rate_limit = { requests = 3, window = "1h" }

[[routes]]
name = "me"
path = "/me/*"
auth = "required"
rate_limit = "off"

[[routes]]
name = "hook"
methods = ["POST"]
path = "/hook"
auth = "worker"
rate_limit = "off"

[[routes]]
name = "jwt"
path = "/jwt/*"
auth = "jwt"
rate_limit = "off"

[[routes]]
name = "upload"
path = "/upload"
rate_limit = "off"
body = { limit = "1KiB", json = "strict" }

[[routes]]
name = "open"
path = "/*"
rate_limit = "off"
"#;

fn flavour(file: &'static str, profile: Profile, policy: &str) -> Setup {
    let mut setup = Setup::default()
        .policy(policy)
        .var("session_secret", SESSION_SECRET)
        .var("worker_secret", WORKER_SECRET)
        .var("jwt_secret", JWT_SECRET)
        .profile(profile);
    setup.middleware = file;
    setup
}

/// wasmCloud and `wasmtime serve` pass no client address, so the policy
/// names the header a proxy in front sets (the tests play that proxy).
const PROXY: &str = "[rate_limit]\nclient_ip = \"x-real-ip\"\n";

async fn wasmcloud(policy: &str) -> TestHost {
    let policy = format!("{PROXY}{policy}");
    TestHost::start(flavour("warden-wasmcloud", Profile::Wasmcloud, &policy)).await
}

async fn minimal(policy: &str) -> TestHost {
    TestHost::start(flavour("warden-minimal", Profile::Minimal, policy)).await
}

/// A session as Better Auth's `secondaryStorage` keeps it, under its token.
fn store_session(host: &TestHost, user: &str) -> String {
    let t = token(user);
    let now = now_ms();
    let stored = json!({
        "session": {"id": format!("sess-{user}"), "token": t, "userId": user,
                    "expiresAt": iso(now + DAY), "createdAt": iso(now), "updatedAt": iso(now),
                    "ipAddress": "", "userAgent": ""},
        "user": {"id": user, "name": "Sam", "email": "sam@example.com", "emailVerified": true,
                 "image": null, "createdAt": iso(now - DAY), "updatedAt": iso(now - DAY)}
    });
    kv_put(host, &t, stored.to_string().as_bytes());
    t
}

async fn signed_post(host: &TestHost, body: &str, ts: u64) -> Reply {
    let ts = ts.to_string();
    let signature = hmac_base64(WORKER_SECRET, &format!("{ts}:{body}"));
    host.send(
        "POST",
        "/hook",
        &[
            ("content-type", b"application/json"),
            ("x-worker-timestamp", ts.as_bytes()),
            ("x-worker-signature", signature.as_bytes()),
        ],
        body.as_bytes(),
    )
    .await
}

/// The layers both flavours have: security headers, a session read from
/// key-value, and the configuration itself, read through `wasi:config`.
async fn assert_common_layers(host: &TestHost, name: &str) {
    let plain = host.get("/anything").await;
    assert_eq!(plain.status, 200, "{name}: {}", text(&plain));
    assert_eq!(
        plain.header("x-content-type-options"),
        Some("nosniff"),
        "{name}"
    );
    assert!(plain.header("content-security-policy").is_some(), "{name}");

    let t = store_session(host, &format!("user-{name}"));
    let me = get_as(host, "/me/profile", &cookie(&t)).await;
    assert_eq!(me.status, 200, "{name}: {}", text(&me));
    assert_eq!(
        identity_of(&me).as_deref(),
        Some(format!("user-{name}").as_str())
    );
    let anonymous = host.get("/me/profile").await;
    assert_eq!(anonymous.status, 401, "{name}: {}", text(&anonymous));

    // CORS and body limits: no store, the same on every host.
    let preflight = host
        .send(
            "OPTIONS",
            "/anything",
            &[
                ("origin", b"https://app.example.com"),
                ("access-control-request-method", b"POST"),
            ],
            b"",
        )
        .await;
    assert_eq!(preflight.status, 204, "{name}: {}", text(&preflight));
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let json = [("content-type", &b"application/json"[..])];
    let big = host.send("POST", "/upload", &json, &[b' '; 2048]).await;
    assert_eq!(big.status, 413, "{name}: {}", text(&big));
    let bad = host.send("POST", "/upload", &json, b"{\"a\":").await;
    assert_eq!(bad.status, 400, "{name}: {}", text(&bad));

    // A JWT verified with the HMAC secret read through wasi:config.
    let bearer = format!("Bearer {}", hs256(&format!("jwt-{name}")));
    let jwt = host.get_with("/jwt/x", &[("authorization", &bearer)]).await;
    assert_eq!(jwt.status, 200, "{name}: {}", text(&jwt));
    assert_eq!(
        identity_of(&jwt).as_deref(),
        Some(format!("jwt-{name}").as_str())
    );
    let forged = host
        .get_with("/jwt/x", &[("authorization", "Bearer e30.e30.AAAA")])
        .await;
    assert_eq!(forged.status, 401, "{name}: {}", text(&forged));
}

/// Requests from `client` to the limited route until the first 429: how
/// many were admitted.
async fn admitted_before_429(host: &TestHost, client: &str, most: usize) -> usize {
    for n in 0..most {
        let reply = host.get_with("/limited/x", &[("x-real-ip", client)]).await;
        match reply.status {
            200 => continue,
            429 => {
                assert!(reply.header("retry-after").is_some());
                assert_eq!(reply.header("x-ratelimit-limit"), Some("3"));
                return n;
            }
            other => panic!("unexpected {other}: {}", text(&reply)),
        }
    }
    panic!("no 429 in {most} requests")
}

#[tokio::test]
async fn the_wasmcloud_flavour_serves_its_layers_on_its_hosts_interfaces() {
    let host = wasmcloud(POLICY).await;
    assert_common_layers(&host, "wasmcloud").await;

    // Exact limits: atomic increments on the shared store, one bucket per
    // client address as the proxy's header says.
    assert_eq!(admitted_before_429(&host, "198.51.100.7", 10).await, 3);
    assert_eq!(admitted_before_429(&host, "198.51.100.8", 10).await, 3);

    // Only Spin sets spin-* headers: here one came from the client, so it
    // neither picks a bucket nor reaches the app.
    let forged = host
        .get_with("/anything", &[("spin-client-addr", "203.0.113.9:1")])
        .await;
    assert_eq!(forged.status, 200, "{}", text(&forged));
    assert!(!forged.echoed_headers().contains_key("spin-client-addr"));
    // Nor in the spelling apps that fold `_` into `-` read as the host's.
    let forged = host
        .get_with("/anything", &[("spin_client_addr", "203.0.113.9:1")])
        .await;
    assert_eq!(forged.status, 200, "{}", text(&forged));
    assert!(!forged.echoed_headers().contains_key("spin_client_addr"));

    // Signatures with the replay cache (its increment).
    let ts = unix_now();
    let first = signed_post(&host, r#"{"n":1}"#, ts).await;
    assert_eq!(first.status, 200, "{}", text(&first));
    let again = signed_post(&host, r#"{"n":1}"#, ts).await;
    assert_eq!(
        (again.status, text(&again).as_str()),
        (401, r#"{"error":"Request replayed"}"#)
    );
    let forged = host
        .send(
            "POST",
            "/hook",
            &[
                ("x-worker-timestamp", ts.to_string().as_bytes()),
                ("x-worker-signature", b"AAAA"),
            ],
            b"{}",
        )
        .await;
    assert_eq!(forged.status, 401, "{}", text(&forged));
}

#[tokio::test]
async fn the_minimal_flavour_serves_its_layers_without_atomics() {
    // No atomic increment: no replay cache and no failed-token throttle,
    // each said in the policy (the flavour refuses them otherwise).
    let policy = format!("{POLICY}\n[worker]\nreplay = false\n").replace(
        "hmac_secret_variable = \"jwt_secret\"\n",
        "hmac_secret_variable = \"jwt_secret\"\nfailure_limit = 0\n",
    );
    let host = minimal(&policy).await;
    assert_common_layers(&host, "minimal").await;

    // One instance (reuse on, one request at a time) counts exactly in
    // memory; across instances the count is approximate (the bound is
    // measured in redis_store.rs).
    // (Spin sets the peer address here: the x-real-ip header is not read.)
    assert_eq!(admitted_before_429(&host, "198.51.100.7", 10).await, 3);

    // One instance per request: each counts its request in the store at
    // once (while its write budget lasts), so sequential requests are
    // limited exactly even though no instance sees a second one.
    let per_request = TestHost::start(
        flavour("warden-minimal", Profile::Minimal, &policy).reuse(Reuse::PerRequest),
    )
    .await;
    assert_eq!(
        admitted_before_429(&per_request, "198.51.100.7", 10).await,
        3
    );

    // Signatures without a replay cache: the same signed request is
    // accepted twice (within its timestamp window), as `replay = false` says.
    let ts = unix_now();
    for attempt in ["first", "repeat"] {
        let ok = signed_post(&host, r#"{"n":2}"#, ts).await;
        assert_eq!(ok.status, 200, "{attempt}: {}", text(&ok));
    }
}

/// A refused configuration: every request is a 500 with no detail, and the
/// log names each problem.
async fn assert_refused(host: &TestHost, wanted: &[(&str, &str)]) {
    let reply = host.get("/anything").await;
    assert_eq!(reply.status, 500, "{}", text(&reply));
    let problems = host.config_problems();
    for (field, flavour) in wanted {
        assert!(
            problems
                .iter()
                .any(|p| p.contains(field) && p.contains(&format!("{flavour} flavour"))),
            "no problem naming {field} and the {flavour} flavour in {problems:#?}"
        );
    }
}

#[tokio::test]
async fn each_flavour_refuses_what_its_host_cannot_back_naming_field_and_flavour() {
    let sqlite_session = "[session]\nsource = \"sqlite\"\n[[routes]]\nname = \"me\"\npath = \"/*\"\nauth = \"required\"\n";
    let idempotent =
        "[[routes]]\nname = \"orders\"\npath = \"/*\"\nidempotency = { required = true }\n";
    let lockout =
        "[[routes]]\nname = \"login\"\npath = \"/*\"\nlockout = { account = \"json:email\" }\n";
    let signed = "[[routes]]\nname = \"hook\"\npath = \"/*\"\nauth = \"worker\"\n";

    let host = wasmcloud(sqlite_session).await;
    assert_refused(&host, &[("session", "wasmcloud")]).await;
    // Counting by address with no address from the host: one bucket for
    // every client, so refused unless the policy names a proxy's header.
    let by_address = TestHost::start(flavour("warden-wasmcloud", Profile::Wasmcloud, POLICY)).await;
    assert_refused(&by_address, &[("rate_limit.client_ip", "wasmcloud")]).await;
    let host = wasmcloud(idempotent).await;
    assert_refused(&host, &[("routes[0].idempotency", "wasmcloud")]).await;

    let host = minimal(sqlite_session).await;
    assert_refused(&host, &[("session", "minimal")]).await;
    let host = minimal(idempotent).await;
    assert_refused(&host, &[("routes[0].idempotency", "minimal")]).await;
    let host = minimal(lockout).await;
    assert_refused(&host, &[("routes[0].lockout", "minimal")]).await;
    let host = minimal(signed).await;
    assert_refused(&host, &[("worker", "minimal")]).await;

    // The same policies are fine for the Spin flavour on Spin's profile.
    for policy in [sqlite_session, idempotent, lockout, signed] {
        let host = TestHost::start(
            Setup::default()
                .policy(policy)
                .var("session_secret", SESSION_SECRET)
                .var("worker_secret", WORKER_SECRET),
        )
        .await;
        host.get("/x").await;
        assert_eq!(host.config_problems(), Vec::<String>::new(), "{policy}");
    }
}

#[tokio::test]
async fn a_flavour_cannot_start_on_a_host_that_lacks_its_imports() {
    // The Spin flavour needs spin:*; the wasmcloud flavour the draft
    // key-value with atomics, which the minimal (Fermyon) profile lacks.
    for (file, profile, missing) in [
        ("warden", Profile::Wasmcloud, "spin:"),
        ("warden", Profile::Minimal, "spin:"),
        ("warden-wasmcloud", Profile::Minimal, "@0.2.0-draft"),
        (
            "warden-wasmcloud",
            Profile::Spin,
            "wasi:config/store@0.2.0-rc.1",
        ),
        ("warden-minimal", Profile::Wasmcloud, "draft"),
    ] {
        let mut setup = Setup::default().profile(profile);
        setup.middleware = file;
        let error = match TestHost::try_start(setup).await {
            Ok(_) => panic!("{file}.wasm started on {profile:?}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(error.contains(missing), "{file} on {profile:?}: {error}");
    }
}

/// Lockout on the wasmcloud flavour: its counters are atomic increments, its
/// locks key-value writes, on the draft interface.
#[tokio::test]
async fn the_wasmcloud_flavour_locks_out_failed_logins() {
    use crate::lockout::{POLICY as LOCKOUT, assert_locked, attempt, email};
    let host = TestHost::start(flavour("warden-wasmcloud", Profile::Wasmcloud, LOCKOUT)).await;
    let body = email("ada@example.com");
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        let failed = attempt(&host, "/auth/login", ip, &body, true, &[]).await;
        assert_eq!(failed.status, 401, "{}", text(&failed));
    }
    let locked = attempt(&host, "/auth/login", "198.51.100.4", &body, false, &[]).await;
    assert_locked(&locked, 429);
    let other = attempt(
        &host,
        "/auth/login",
        "198.51.100.4",
        &email("bob@example.com"),
        false,
        &[],
    )
    .await;
    assert_eq!(other.status, 200, "{}", text(&other));
}
