//! Compiled-component cache: compiling a component takes most of a host's
//! startup, and the tests start many hosts, so each compiled component is
//! kept on disk under a hash of its bytes and of the engine's settings.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::Path;
use wasmtime::Engine;
use wasmtime::component::Component;

/// Loads `bytes` as a component, from `dir` when compiled before.
pub fn load(engine: &Engine, bytes: &[u8], dir: Option<&Path>) -> Result<Component> {
    let Some(dir) = dir else {
        return crate::server::ah(Component::new(engine, bytes));
    };
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let mut key = Sha256::new();
    key.update(bytes);
    key.update(engine_hash.finish().to_le_bytes());
    let path = dir.join(format!("{}.cwasm", hex::encode(key.finalize())));
    if path.exists() {
        // SAFETY: the file was written by `Component::serialize` of this
        // engine configuration (the hash is in its name), in a directory only
        // this tool writes to.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(component);
        }
    }
    let component = crate::server::ah(Component::new(engine, bytes))?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Several hosts (tests run in parallel) may compile the same component
    // at once: each writes its own temporary file and renames it into place.
    static UNIQUE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = UNIQUE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    std::fs::write(&tmp, crate::server::ah(component.serialize())?)?;
    if std::fs::rename(&tmp, &path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(component)
}
