//! Composing middleware in front of an app, as `wac plug` does and as Spin
//! does at load time for `dependencies.middleware` (with wac-graph).
//!
//! `compose(&[outer, inner], app)` plugs `app` into `inner`'s
//! `wasi:http/handler` import, then that result into `outer`'s: the first
//! middleware listed is the first to see a request, as in spin.toml.

use anyhow::{Context, Result};
use wac_graph::{CompositionGraph, EncodeOptions, types::Package};

/// Plugs each component's `wasi:http/handler` export into the import of the
/// one before it, ending with `app`. Returns the composed component's bytes.
pub fn compose(middleware: &[Vec<u8>], app: Vec<u8>) -> Result<Vec<u8>> {
    let mut inner = app;
    for (i, socket) in middleware.iter().enumerate().rev() {
        inner =
            plug(socket.clone(), inner).with_context(|| format!("composing middleware #{i}"))?;
    }
    Ok(inner)
}

/// `wac plug SOCKET --plug PLUG`.
pub fn plug(socket: Vec<u8>, plug: Vec<u8>) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let socket = Package::from_bytes("socket", None, socket, graph.types_mut())?;
    let socket = graph.register_package(socket)?;
    let plug = Package::from_bytes("plug", None, plug, graph.types_mut())?;
    let plug = graph.register_package(plug)?;
    wac_graph::plug(&mut graph, vec![plug], socket)?;
    Ok(graph.encode(EncodeOptions::default())?)
}
