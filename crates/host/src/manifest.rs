//! The part of a `spin.toml` the host reads: the application variables and
//! their defaults, so `spin up` and the local host resolve the same values.

use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::path::Path;

/// `[variables]` of a Spin manifest: each name with its default, or `None`
/// for `required = true`.
pub fn declared_variables(path: &Path) -> Result<HashMap<String, Option<String>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: toml::Table = text
        .parse()
        .with_context(|| format!("parsing {}", path.display()))?;
    let mut out = HashMap::new();
    let Some(vars) = doc.get("variables") else {
        return Ok(out);
    };
    let Some(vars) = vars.as_table() else {
        bail!("{}: [variables] must be a table", path.display());
    };
    for (name, decl) in vars {
        let default = decl
            .get("default")
            .and_then(|d| d.as_str())
            .map(str::to_owned);
        let required = decl
            .get("required")
            .and_then(|r| r.as_bool())
            .unwrap_or(false);
        if default.is_none() && !required {
            bail!(
                "{}: variable {name:?} needs a default or required = true",
                path.display()
            );
        }
        out.insert(name.clone(), default);
    }
    Ok(out)
}

/// The Redis URL of `[key_value_store.default]` in a Spin runtime-config
/// file, if that store is `type = "redis"` (the only other backend the local
/// host has); `None` leaves the default SQLite store.
pub fn redis_key_value(path: &Path) -> Result<Option<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: toml::Table = text
        .parse()
        .with_context(|| format!("parsing {}", path.display()))?;
    let Some(store) = doc.get("key_value_store").and_then(|s| s.get("default")) else {
        return Ok(None);
    };
    match store.get("type").and_then(|t| t.as_str()) {
        Some("redis") => match store.get("url").and_then(|u| u.as_str()) {
            Some(url) => Ok(Some(url.to_owned())),
            None => bail!(
                "{}: key_value_store.default.url is required for type = \"redis\"",
                path.display()
            ),
        },
        Some("spin") | None => Ok(None),
        Some(other) => bail!(
            "{}: key_value_store.default.type {other:?} is not supported by the local host",
            path.display()
        ),
    }
}
