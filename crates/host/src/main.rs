//! `warden-host`: serve a middleware chain in front of an app on
//! 127.0.0.1, as `spin up` would, or compose them into one component.
//!
//! ```text
//! warden-host serve --app echo_app.wasm --middleware warden.wasm \
//!     --manifest spin.toml --migrations migrations.sql --listen 127.0.0.1:3000
//! warden-host compose --app echo_app.wasm --middleware warden.wasm -o composed.wasm
//! ```

use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::path::PathBuf;
use warden_host::{Host, HostOptions, Reuse};

const USAGE: &str = "usage:
  warden-host serve --app APP.wasm [--middleware MW.wasm]... [--listen ADDR]
                    [--manifest spin.toml] [--migrations FILE.sql] [--state-dir DIR]
                    [--variable NAME=VALUE]... [--instance-per-request] [--no-cache]
                    [--key-value-redis redis://HOST:PORT | --runtime-config-file FILE] [--stats]
                    [--allow-outbound SCHEME://HOST[:PORT]]...
                    [--profile spin|wasmcloud|minimal]
  warden-host compose --app APP.wasm --middleware MW.wasm... -o OUT.wasm
  warden-host measure --app APP.wasm [--middleware MW.wasm]... [--profile P]
                                                                 (compile and instantiate times)
  warden-host inspect --app COMPONENT.wasm                         (its imports and exports)
  warden-host run COMMAND.wasm [ARG]...                            (a wasi:cli command component)

  serve reads injected store faults from WARDEN_HOST_FAULTS, e.g. `kv-hang`,
  `kv-read-delay=200,sqlite-error` (see warden_host::faults); with --stats,
  `POST /.well-known/warden-host/faults?SPEC` switches them at run time.
  Outbound HTTP goes only to the app's `allowed_outbound_hosts` that the
  manifest's middleware entry inherits, plus each --allow-outbound.
  --profile picks the host whose interfaces are linked (default spin):
  spin (spin:key-value, spin:sqlite, spin:variables, wasi:keyvalue draft2,
  wasi:config 2024-09-27), wasmcloud (wasi:keyvalue 0.2.0-draft, wasi:config
  0.2.0-rc.1) or minimal (wasi:keyvalue draft2 store and batch, wasi:config
  2024-09-27); a component importing anything else fails to start.";

fn main() {
    if let Err(e) = run() {
        eprintln!("warden-host: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    if command == "run" {
        let path = args.next().map(PathBuf::from).context(USAGE)?;
        return warden_host::command::run(&path, &args.collect::<Vec<_>>());
    }
    let mut options = HostOptions::default();
    let mut out = None;
    let mut manifest = None;
    let rest: Vec<String> = args.collect();
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--app" => options.app = value("--app")?.into(),
            "--middleware" => options.middleware.push(value("--middleware")?.into()),
            "--listen" => options.listen = value("--listen")?.parse().context("--listen")?,
            "--manifest" => manifest = Some(PathBuf::from(value("--manifest")?)),
            "--migrations" => options.migrations = Some(value("--migrations")?.into()),
            "--state-dir" => {
                options.state_dir = value("--state-dir")?.into();
                options.cache_dir = Some(options.state_dir.join("cache"));
            }
            "--variable" => {
                let pair = value("--variable")?;
                let (k, v) = pair
                    .split_once('=')
                    .context("--variable takes NAME=VALUE")?;
                options.variables.insert(k.to_owned(), v.to_owned());
            }
            "--instance-per-request" => options.reuse = Reuse::PerRequest,
            "--stats" => options.stats_endpoint = true,
            "--key-value-redis" => options.key_value_redis = Some(value("--key-value-redis")?),
            "--runtime-config-file" => {
                let path = PathBuf::from(value("--runtime-config-file")?);
                options.key_value_redis = warden_host::manifest::redis_key_value(&path)?;
            }
            "--allow-outbound" => options
                .allowed_outbound_hosts
                .push(value("--allow-outbound")?),
            "--no-cache" => options.cache_dir = None,
            "--profile" => options.profile = value("--profile")?.parse()?,
            "-o" | "--output" => out = Some(PathBuf::from(value("-o")?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if options.app.as_os_str().is_empty() {
        bail!("--app is required\n{USAGE}");
    }
    match command.as_str() {
        "serve" => {
            options.declared_variables = match &manifest {
                Some(path) => warden_host::manifest::declared_variables(path)?,
                None => HashMap::new(),
            };
            if let Some(path) = &manifest {
                options
                    .allowed_outbound_hosts
                    .extend(warden_host::manifest::inherited_outbound_hosts(path)?);
            }
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let host = Host::start(options).await?;
                if let Ok(spec) = std::env::var("WARDEN_HOST_FAULTS") {
                    host.faults()
                        .apply_spec(&spec)
                        .map_err(anyhow::Error::msg)
                        .context("WARDEN_HOST_FAULTS")?;
                    eprintln!("warden-host: faults {}", host.faults().spec());
                }
                eprintln!("warden-host: serving on http://{}", host.addr());
                tokio::signal::ctrl_c().await?;
                Ok(())
            })
        }
        "inspect" => {
            // What `wasm-tools component wit` would list: the interfaces a
            // component imports and exports.
            let bytes = std::fs::read(&options.app)
                .with_context(|| format!("reading {}", options.app.display()))?;
            let (imports, exports) = warden_host::component_interfaces(&bytes)?;
            for name in imports {
                println!("import {name};");
            }
            for name in exports {
                println!("export {name};");
            }
            Ok(())
        }
        "measure" => {
            let runtime = tokio::runtime::Runtime::new()?;
            let (compile_ms, instantiate_us) = runtime.block_on(warden_host::measure(
                &options.app,
                &options.middleware,
                options.profile,
            ))?;
            println!("{{\"compile_ms\":{compile_ms:.1},\"instantiate_us\":{instantiate_us:.1}}}");
            Ok(())
        }
        "compose" => {
            let out = out.context("compose needs -o OUT.wasm")?;
            let app = std::fs::read(&options.app)
                .with_context(|| format!("reading {}", options.app.display()))?;
            let mw = options
                .middleware
                .iter()
                .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
                .collect::<Result<Vec<_>>>()?;
            let bytes = warden_host::compose::compose(&mw, app)?;
            std::fs::write(&out, bytes)?;
            eprintln!("warden-host: wrote {}", out.display());
            Ok(())
        }
        _ => bail!("{USAGE}"),
    }
}
