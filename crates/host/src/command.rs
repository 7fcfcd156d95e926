//! `warden-host run`: runs a `wasi:cli` command component to completion with
//! the same wasmtime the server uses, its output going to this process's.
//! The benchmark uses it to time the pure core inside wasm (bench/micro).

use crate::server::ah;
use anyhow::{Result, bail};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

struct State {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Runs the command component at `path` with `args`; fails if it exits with
/// an error.
pub fn run(path: &std::path::Path, args: &[String]) -> Result<()> {
    let engine = ah(Engine::new(&Config::new()))?;
    let component = ah(Component::from_file(&engine, path))?;
    let mut linker = Linker::new(&engine);
    ah(wasmtime_wasi::p2::add_to_linker_sync(&mut linker))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("command");
    let wasi = WasiCtx::builder()
        .inherit_stdout()
        .inherit_stderr()
        .arg(name)
        .args(args)
        .build();
    let mut store = Store::new(
        &engine,
        State {
            wasi,
            table: ResourceTable::new(),
        },
    );
    let command = ah(Command::instantiate(&mut store, &component, &linker))?;
    match ah(command.wasi_cli_run().call_run(&mut store))? {
        Ok(()) => Ok(()),
        Err(()) => bail!("{} exited with an error", path.display()),
    }
}
