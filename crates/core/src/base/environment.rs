//! Where warden runs, and secret values that must never reach a log.

use std::fmt;

/// Where warden runs. Decides, for example, whether HSTS is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Environment {
    /// Live traffic.
    Production,
    /// A production-like deployment for testing.
    Staging,
    /// A per-branch preview deployment.
    Preview,
    /// A developer machine (the default).
    #[default]
    Development,
}

impl Environment {
    /// Every environment.
    pub const ALL: [Environment; 4] = [
        Environment::Production,
        Environment::Staging,
        Environment::Preview,
        Environment::Development,
    ];

    /// The variable value naming this environment.
    pub fn as_str(&self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Staging => "staging",
            Environment::Preview => "preview",
            Environment::Development => "development",
        }
    }

    /// Looks an environment up by name, ignoring ASCII case and surrounding space.
    pub fn from_name(name: &str) -> Option<Environment> {
        let name = name.trim();
        Environment::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(name))
    }
}

/// A secret value. `Debug` prints `[redacted]` and there is no `Display`, so a
/// secret cannot reach a log by accident; read it with [`Secret::expose`].
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The secret itself, for the code that signs or verifies with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
