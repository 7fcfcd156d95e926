//! Loading warden's configuration from the host's variables (Spin's
//! `spin:variables`, or `wasi:config` in the other flavours) and
//! `/warden.toml`.
//!
//! Instances are reused for many requests (DESIGN §1), so the validated
//! configuration is built once per instance and kept. Invalid configuration is
//! kept too, as the list of problems: every request is then refused with a
//! 500 that carries no detail, and the problems are logged once per instance.

use std::sync::{Arc, OnceLock};
use warden_core::config::{ConfigErrors, ConfigProblem, RawSettings, WardenConfig};

/// Where a mounted policy file is looked for.
pub const POLICY_FILE: &str = "/warden.toml";

pub type Loaded = Arc<Result<WardenConfig, ConfigErrors>>;

static CONFIG: OnceLock<Loaded> = OnceLock::new();

/// The configuration of this instance, loaded on first use.
pub async fn get() -> Loaded {
    if let Some(loaded) = CONFIG.get() {
        return loaded.clone();
    }
    let loaded = Arc::new(load().await);
    if let Ok(config) = loaded.as_ref() {
        eprintln!(
            "{}",
            warden_core::base::log::event(
                "config_loaded",
                &[
                    ("environment", config.environment.as_str().into()),
                    ("policy_source", config.policy_source.as_str().into()),
                    ("routes", config.policy.routes.len().into()),
                ],
            )
        );
    }
    if let Err(errors) = loaded.as_ref() {
        let problems: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
        eprintln!(
            "{}",
            warden_core::base::log::event(
                "config_invalid",
                &[("problems", serde_json::Value::from(problems))],
            )
        );
    }
    // Another request of this instance may have won the race; use its copy.
    CONFIG.get_or_init(|| loaded).clone()
}

/// The configuration if this instance has loaded it already, for code that
/// runs without a request's context (a log line from a body inspector).
pub fn loaded() -> Option<Loaded> {
    CONFIG.get().cloned()
}

async fn load() -> Result<WardenConfig, ConfigErrors> {
    let mut problems = Vec::new();
    let policy_file = match std::fs::read_to_string(POLICY_FILE) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        // No filesystem mounted at all reads as "not found" on most hosts;
        // anything else (a directory, bad UTF-8) is the operator's mistake.
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => None,
        Err(e) => {
            problems.push(ConfigProblem {
                field: POLICY_FILE.to_owned(),
                message: format!("could not read policy file: {e}"),
            });
            None
        }
    };
    let mut var = async |name: &str| match variable(name).await {
        Ok(value) => value,
        Err(why) => {
            problems.push(ConfigProblem {
                field: name.to_owned(),
                message: format!("could not read variable: {why}"),
            });
            None
        }
    };
    let raw = RawSettings {
        environment: var("environment").await,
        policy: var("policy").await,
        worker_secret: var("worker_secret").await,
        worker_secret_previous: var("worker_secret_previous").await,
        session_secret: var("session_secret").await,
        policy_file,
        policy_secrets: Vec::new(),
        flavour: crate::host::FLAVOUR,
    };
    // The policy names its secret variables (webhook secrets, [jwt]'s
    // secret and JWK Set): read those too.
    let mut policy_secrets = Vec::new();
    for name in raw.policy_variables() {
        if let Some(value) = var(&name).await {
            policy_secrets.push((name, value));
        }
    }
    let raw = RawSettings {
        policy_secrets,
        ..raw
    };
    match WardenConfig::build(raw) {
        Ok(config) if problems.is_empty() => Ok(config),
        Ok(_) => Err(ConfigErrors(problems)),
        Err(ConfigErrors(more)) => {
            problems.extend(more);
            Err(ConfigErrors(problems))
        }
    }
}

/// One variable from Spin's `spin:variables`: `None` when undefined, else
/// why it could not be read (never its value: it may be a secret).
#[cfg(not(any(feature = "flavour-wasmcloud", feature = "flavour-minimal")))]
async fn variable(name: &str) -> Result<Option<String>, &'static str> {
    use spin_sdk::variables::{Error, get};
    match get(name).await {
        Ok(value) => Ok(Some(value)),
        Err(Error::Undefined(_)) => Ok(None),
        Err(Error::InvalidName(_)) => Err("invalid name"),
        Err(Error::Provider(_)) => Err("provider error"),
        Err(Error::Other(_)) => Err("host error"),
    }
}

/// One configuration value from `wasi:config/store@0.2.0-rc.1` (wasmCloud,
/// `wasmtime serve -S config`).
#[cfg(feature = "flavour-wasmcloud")]
async fn variable(name: &str) -> Result<Option<String>, &'static str> {
    mod wit {
        spin_sdk::wit_bindgen::generate!({
            runtime_path: "spin_sdk::wit_bindgen::rt",
            inline: "package warden:config; world config { import wasi:config/store@0.2.0-rc.1; }",
            path: "../../wit",
            generate_all,
        });
    }
    use wit::wasi::config0_2_0_rc_1::store::{Error, get};
    get(name).map_err(|e| match e {
        Error::Upstream(_) => "upstream error",
        Error::Io(_) => "i/o error",
    })
}

/// One configuration value from `wasi:config/store@0.2.0-draft-2024-09-27`
/// (Spin's platforms map it to the app's variables).
#[cfg(feature = "flavour-minimal")]
async fn variable(name: &str) -> Result<Option<String>, &'static str> {
    use spin_sdk::experimental::wasi::config::store::{Error, get};
    get(name).map_err(|e| match e {
        Error::Upstream(_) => "upstream error",
        Error::Io(_) => "i/o error",
    })
}
