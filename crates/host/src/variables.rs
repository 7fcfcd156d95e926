//! Application variables, resolved the way `spin up` resolves them: the
//! environment's `SPIN_VARIABLE_<NAME>` wins over `--variable name=value`,
//! which wins over the default declared in the manifest's `[variables]`.

use crate::spin::VariablesError;
use std::collections::HashMap;

/// Resolved variables for every instance of one app.
#[derive(Debug, Default, Clone)]
pub struct Variables {
    values: HashMap<String, String>,
}

impl Variables {
    /// `declared` holds the manifest defaults (`None`: declared without a
    /// default), `explicit` the `--variable` pairs; the environment is read
    /// through `env` so tests need not touch the process environment.
    pub fn resolve(
        declared: &HashMap<String, Option<String>>,
        explicit: &HashMap<String, String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Variables> {
        let mut values = HashMap::new();
        let mut names: Vec<&String> = declared.keys().chain(explicit.keys()).collect();
        names.sort();
        names.dedup();
        for name in names {
            if !valid_name(name) {
                anyhow::bail!(
                    "variable name {name:?} is invalid: use lowercase letters, digits and '_'"
                );
            }
            let from_env = env(&format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()));
            let value = from_env
                .or_else(|| explicit.get(name).cloned())
                .or_else(|| declared.get(name).cloned().flatten());
            match value {
                Some(v) => {
                    values.insert(name.clone(), v);
                }
                None => anyhow::bail!(
                    "variable {name:?} is required: set SPIN_VARIABLE_{} or --variable {name}=…",
                    name.to_ascii_uppercase()
                ),
            }
        }
        Ok(Variables { values })
    }

    /// Every variable with its value, by name (`wasi:config/store.get-all`).
    pub fn all(&self) -> Vec<(String, String)> {
        let mut all: Vec<_> = self
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.sort();
        all
    }

    pub fn get(&self, name: &str) -> Result<String, VariablesError> {
        if !valid_name(name) {
            return Err(VariablesError::InvalidName(name.to_owned()));
        }
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| VariablesError::Undefined(format!("no variable named {name:?}")))
    }
}

/// Spin's rule for variable names.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.contains("__")
        && !name.ends_with('_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_beats_explicit_beats_default() {
        let declared = HashMap::from([
            ("a".to_string(), Some("default".to_string())),
            ("b".to_string(), Some("default".to_string())),
            ("c".to_string(), Some("default".to_string())),
        ]);
        let explicit = HashMap::from([
            ("a".to_string(), "explicit".to_string()),
            ("b".to_string(), "explicit".to_string()),
        ]);
        let vars = Variables::resolve(&declared, &explicit, |k| {
            (k == "SPIN_VARIABLE_A").then(|| "env".to_string())
        })
        .unwrap();
        assert_eq!(vars.get("a").unwrap(), "env");
        assert_eq!(vars.get("b").unwrap(), "explicit");
        assert_eq!(vars.get("c").unwrap(), "default");
        assert!(matches!(vars.get("zz"), Err(VariablesError::Undefined(_))));
        assert!(matches!(
            vars.get("Bad"),
            Err(VariablesError::InvalidName(_))
        ));
    }

    #[test]
    fn required_without_value_fails_at_startup() {
        let declared = HashMap::from([("secret".to_string(), None)]);
        let err = Variables::resolve(&declared, &HashMap::new(), |_| None).unwrap_err();
        assert!(err.to_string().contains("SPIN_VARIABLE_SECRET"), "{err}");
    }
}
