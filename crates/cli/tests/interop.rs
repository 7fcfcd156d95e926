//! `warden sign` for the webhook schemes, checked by code that shares
//! nothing with warden: the providers' official SDKs for Stripe and
//! Standard Webhooks (tests/interop/webhooks.mjs, npm `stripe` and
//! `standardwebhooks`), and GitHub's and Slack's documented verification
//! for theirs (tests/interop/webhooks.py). Without Node.js or the npm
//! packages (`scripts/setup` installs them) the SDK tests say they were
//! skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The variable the secret travels in, to warden and to the verifiers.
const SECRET_ENV: &str = "WARDEN_INTEROP_SECRET";

/// A body with bytes a careless signer would change: non-ASCII, spaces
/// around separators, and no final newline.
const BODY: &str = r#"{"id": "evt_1", "type":"invoice.paid", "note": "café ☕"}"#;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of its own holding `contents`, in the system's temporary directory.
fn body_file(contents: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "warden-cli-interop-{}-{}.body",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, contents).expect("write the body file");
    path
}

/// `warden sign --scheme SCHEME` for the body in `file`: the header lines.
fn warden_sign(scheme: &str, secret: &str, file: &Path, extra: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["sign", "--scheme", scheme, "--secret-env", SECRET_ENV])
        .arg("--body-file")
        .arg(file)
        .args(extra)
        .env(SECRET_ENV, secret)
        .output()
        .expect("warden runs");
    assert!(
        out.status.success(),
        "warden sign --scheme {scheme}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8 headers")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The reference verifier `program script` on warden's headers.
fn verify(
    program: &str,
    script: &str,
    provider: &str,
    secret: &str,
    file: &Path,
    headers: &[String],
    extra: &[&str],
) -> Output {
    let mut command = Command::new(program);
    command
        .arg(root().join("tests/interop").join(script))
        .args(["--provider", provider, "--secret-env", SECRET_ENV])
        .arg("--body-file")
        .arg(file)
        .arg("--verify")
        .args(extra)
        .env(SECRET_ENV, secret);
    for header in headers {
        command.args(["--header", header]);
    }
    command
        .output()
        .unwrap_or_else(|e| panic!("{program} {script} runs: {e}"))
}

fn assert_accepted(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: refused: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_refused(out: &Output, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether Node.js and the SDKs are here; says so when they are not.
fn node_sdks_present() -> bool {
    let installed = root().join("tests/interop/node_modules/stripe").is_dir()
        && root()
            .join("tests/interop/node_modules/standardwebhooks")
            .is_dir();
    let node = Command::new("node").arg("--version").output().is_ok();
    if !(installed && node) {
        eprintln!("SKIPPED: no node or no tests/interop/node_modules (run scripts/setup)");
    }
    installed && node
}

/// Stripe's SDK (`constructEvent`) and Standard Webhooks' (`Webhook.verify`)
/// accept what warden signs now, and refuse it for another body.
#[test]
fn the_sdks_accept_stripe_and_standard_signatures() {
    if !node_sdks_present() {
        return;
    }
    let file = body_file(BODY);
    let other = body_file(&BODY.replace("paid", "void"));
    for (provider, secret, extra) in [
        ("stripe", "whsec_interop_stripe_secret_0123456789", &[][..]),
        (
            "standard",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            &["--id", "msg_interop_1"][..],
        ),
        (
            "standard",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            &[][..],
        ),
    ] {
        let headers = warden_sign(provider, secret, &file, extra);
        let what = format!("{provider} {extra:?}: {headers:?}");
        let js = |file: &Path, extra: &[&str]| {
            verify(
                "node",
                "webhooks.mjs",
                provider,
                secret,
                file,
                &headers,
                extra,
            )
        };
        assert_accepted(&js(&file, &[]), &what);
        assert_refused(&js(&other, &[]), &what);
    }
    // A fixed timestamp, checked without the SDKs' five-minute window.
    let headers = warden_sign(
        "standard",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        &file,
        &[
            "--timestamp",
            "1614265330",
            "--id",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
        ],
    );
    let js = |extra: &[&str]| {
        verify(
            "node",
            "webhooks.mjs",
            "standard",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            &file,
            &headers,
            extra,
        )
    };
    assert_accepted(&js(&["--timestamp-free"]), "standard at 1614265330");
    assert_refused(&js(&[]), "standard at 1614265330 is stale");
    for path in [file, other] {
        let _ = std::fs::remove_file(path);
    }
}

/// GitHub's and Slack's documented checks accept what warden signs, and
/// refuse it with another secret.
#[test]
fn the_documented_checks_accept_github_and_slack_signatures() {
    let file = body_file(BODY);
    for (provider, secret) in [
        ("github", "It's a Secret to Everybody"),
        ("slack", "8f742231b10e8888abcd99yyyzzz85a5"),
    ] {
        let headers = warden_sign(provider, secret, &file, &[]);
        let what = format!("{provider}: {headers:?}");
        let py = |secret: &str| {
            verify(
                "python3",
                "webhooks.py",
                provider,
                secret,
                &file,
                &headers,
                &[],
            )
        };
        assert_accepted(&py(secret), &what);
        assert_refused(&py("another secret"), &what);
    }
    let _ = std::fs::remove_file(file);
}
