//! The keys `[jwt]` takes from Spin variables (`hmac_secret_variable`,
//! `jwks_variable`), loaded once when the configuration is built: a
//! variable that is unset, a secret too short for its algorithm or a JWK
//! Set that does not parse refuses the configuration at startup, naming
//! the field, never the value.
//!
//! ```
//! use warden_core::layers::jwt::{JwtSettings, variables};
//!
//! let settings = JwtSettings {
//!     hmac_secret_variable: Some("jwt_secret".into()),
//!     ..JwtSettings::default()
//! };
//! assert_eq!(variables::names(&settings), ["jwt_secret"]);
//! let mut problems = Vec::new();
//! let keys = variables::load_keys(&settings, &[], &mut problems);
//! assert!(keys.is_empty());
//! assert_eq!(problems[0].field, "jwt.hmac_secret_variable");
//! ```

use crate::base::problem::ConfigProblem;

use super::config::JwtSettings;
use super::jwk::{JwksOrigin, Key, Keyring};

/// The variables `settings` names, which the host reads before building.
pub fn names(settings: &JwtSettings) -> Vec<String> {
    [&settings.hmac_secret_variable, &settings.jwks_variable]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
}

/// The keyring of the variables' keys; every problem names its field.
/// `values` are (variable, value) pairs as the host read them.
pub fn load_keys(
    settings: &JwtSettings,
    values: &[(String, String)],
    problems: &mut Vec<ConfigProblem>,
) -> Keyring {
    let value = |name: &str| {
        values
            .iter()
            .find(|(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    };
    let mut keys = Keyring::new();
    if let Some(name) = &settings.jwks_variable {
        const FIELD: &str = "jwt.jwks_variable";
        match value(name) {
            None => problems.push(ConfigProblem::new(
                FIELD,
                format!("names the variable {name}, which is not set"),
            )),
            Some(json) => {
                match Keyring::from_jwks_json(
                    json.as_bytes(),
                    &settings.load_options(JwksOrigin::Variable),
                ) {
                    Err(problem) => problems.push(ConfigProblem::new(
                        FIELD,
                        format!(
                            "the variable {name} is not a usable JWK Set: {}",
                            problem.message()
                        ),
                    )),
                    Ok(loaded) => {
                        // A key this build cannot use is refused rather than
                        // silently dropped: the operator put it there.
                        if let Some(skipped) = loaded.skipped.first() {
                            problems.push(ConfigProblem::new(
                                FIELD,
                                format!(
                                    "the variable {name}: keys[{}] {}",
                                    skipped.index,
                                    skipped.problem.message()
                                ),
                            ));
                        } else if loaded.keyring.is_empty() {
                            problems.push(ConfigProblem::new(
                                FIELD,
                                format!("the variable {name} holds no verification key"),
                            ));
                        }
                        keys.extend(loaded.keyring);
                    }
                }
            }
        }
    }
    if let Some(name) = &settings.hmac_secret_variable {
        const FIELD: &str = "jwt.hmac_secret_variable";
        match value(name) {
            None => problems.push(ConfigProblem::new(
                FIELD,
                format!("names the variable {name}, which is not set"),
            )),
            Some(secret) => match Key::hmac(secret.as_bytes(), settings.hmac_algorithm, None) {
                Ok(key) => {
                    if let Err(problem) = keys.push(key) {
                        problems.push(ConfigProblem::new(FIELD, problem.message()));
                    }
                }
                Err(problem) => problems.push(ConfigProblem::new(
                    FIELD,
                    format!(
                        "the variable {name} cannot be a {} key: {}",
                        settings.hmac_algorithm.name(),
                        problem.message()
                    ),
                )),
            },
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::jwt::Algorithm;

    fn settings() -> JwtSettings {
        JwtSettings {
            hmac_secret_variable: Some("jwt_secret".into()),
            jwks_variable: Some("jwt_jwks".into()),
            ..JwtSettings::default()
        }
    }

    fn load(values: &[(&str, &str)]) -> (Keyring, Vec<String>) {
        let values: Vec<(String, String)> = values
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let mut problems = Vec::new();
        let keys = load_keys(&settings(), &values, &mut problems);
        (keys, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn both_variables_load() {
        let jwks = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        let (keys, problems) = load(&[
            ("jwt_secret", "0123456789abcdef0123456789abcdef"),
            ("jwt_jwks", jwks),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.keys()[1].alg, Algorithm::Hs256);
    }

    #[test]
    fn unset_short_and_unparsable_are_refused_by_field_without_the_value() {
        let (_, problems) = load(&[]);
        assert!(problems[0].starts_with("jwt.jwks_variable"), "{problems:?}");
        assert!(problems[1].starts_with("jwt.hmac_secret_variable"));
        let (_, problems) = load(&[("jwt_secret", "short-secret"), ("jwt_jwks", "{not json")]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("jwt.jwks_variable") && problems[0].contains("JWK Set"));
        assert!(problems[1].contains("jwt.hmac_secret_variable"));
        assert!(problems.iter().all(|p| !p.contains("short-secret")));
        let bad_key = r#"{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]}"#;
        let (_, problems) = load(&[
            ("jwt_secret", "0123456789abcdef0123456789abcdef"),
            ("jwt_jwks", bad_key),
        ]);
        assert!(problems[0].contains("keys[0]"), "{problems:?}");
    }
}
