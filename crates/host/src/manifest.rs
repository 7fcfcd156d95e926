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

/// The `allowed_outbound_hosts` a middleware inherits under Spin 4.1: for
/// each `[[trigger.http]]` with `dependencies.middleware`, the app
/// component's list when a middleware entry has `inherit_configuration =
/// true` or names `"allowed_outbound_hosts"`; nothing otherwise (a
/// middleware's own `[component]` grants are ignored by Spin). The local
/// host composes one app, so the lists of every such trigger are merged.
pub fn inherited_outbound_hosts(path: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: toml::Table = text
        .parse()
        .with_context(|| format!("parsing {}", path.display()))?;
    let mut out: Vec<String> = Vec::new();
    let triggers = doc
        .get("trigger")
        .and_then(|t| t.get("http"))
        .and_then(|h| h.as_array())
        .cloned()
        .unwrap_or_default();
    for trigger in &triggers {
        let middleware = trigger
            .get("dependencies")
            .and_then(|d| d.get("middleware"))
            .and_then(|m| m.as_array())
            .cloned()
            .unwrap_or_default();
        let inherits = middleware
            .iter()
            .any(|entry| match entry.get("inherit_configuration") {
                Some(toml::Value::Boolean(all)) => *all,
                Some(toml::Value::Array(keys)) => keys
                    .iter()
                    .any(|k| k.as_str() == Some("allowed_outbound_hosts")),
                _ => false,
            });
        let Some(app) = trigger.get("component").and_then(|c| c.as_str()) else {
            continue;
        };
        if !inherits {
            continue;
        }
        let hosts = doc
            .get("component")
            .and_then(|c| c.get(app))
            .and_then(|c| c.get("allowed_outbound_hosts"));
        match hosts {
            None => {}
            Some(toml::Value::Array(list)) => {
                for host in list {
                    let Some(host) = host.as_str() else {
                        bail!(
                            "{}: component.{app}.allowed_outbound_hosts must be strings",
                            path.display()
                        );
                    };
                    if !out.iter().any(|h| h == host) {
                        out.push(host.to_owned());
                    }
                }
            }
            Some(_) => bail!(
                "{}: component.{app}.allowed_outbound_hosts must be an array",
                path.display()
            ),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::inherited_outbound_hosts;

    fn hosts(manifest: &str) -> Vec<String> {
        let dir = std::env::temp_dir().join(format!(
            "warden-manifest-{}-{}",
            std::process::id(),
            manifest.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("spin.toml");
        std::fs::write(&path, manifest).unwrap();
        let out = inherited_outbound_hosts(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        out
    }

    const APP: &str = r#"
[component.app]
source = "app.wasm"
allowed_outbound_hosts = ["https://auth.example.com"]
[component.warden]
source = "warden.wasm"
allowed_outbound_hosts = ["https://ignored.example.com"]
"#;

    #[test]
    fn inherits_only_when_named() {
        let named = format!(
            "[[trigger.http]]\nroute = \"/...\"\ncomponent = \"app\"\ndependencies.middleware = [{{ component = \"warden\", inherit_configuration = [\"variables\", \"allowed_outbound_hosts\"] }}]\n{APP}"
        );
        assert_eq!(hosts(&named), ["https://auth.example.com"]);
        let all = format!(
            "[[trigger.http]]\nroute = \"/...\"\ncomponent = \"app\"\ndependencies.middleware = [{{ component = \"warden\", inherit_configuration = true }}]\n{APP}"
        );
        assert_eq!(hosts(&all), ["https://auth.example.com"]);
        let other = format!(
            "[[trigger.http]]\nroute = \"/...\"\ncomponent = \"app\"\ndependencies.middleware = [{{ component = \"warden\", inherit_configuration = [\"variables\"] }}]\n{APP}"
        );
        assert!(hosts(&other).is_empty());
        let none = format!(
            "[[trigger.http]]\nroute = \"/...\"\ncomponent = \"app\"\ndependencies.middleware = [{{ component = \"warden\" }}]\n{APP}"
        );
        assert!(hosts(&none).is_empty());
    }
}
