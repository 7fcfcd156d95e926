//! Warden's validated configuration, built from raw variables.
//!
//! ```
//! use warden_core::config::{Environment, PolicySource, RawSettings, WardenConfig};
//!
//! let config = WardenConfig::build(RawSettings {
//!     environment: Some("production".into()),
//!     ..RawSettings::default()
//! })
//! .unwrap();
//! assert_eq!(config.environment, Environment::Production);
//! assert_eq!(config.policy_source, PolicySource::BuiltIn);
//!
//! let errors = WardenConfig::build(RawSettings {
//!     environment: Some("prod".into()),
//!     worker_secret: Some("too short".into()),
//!     ..RawSettings::default()
//! })
//! .unwrap_err();
//! assert_eq!(errors.0.len(), 2);
//! ```
//!
//! Building checks everything and reports every problem at once, each naming its
//! field, so one failed deployment shows the operator the whole list.

use std::fmt;

use crate::base::auth_mode::AuthMode;
pub use crate::base::environment::{Environment, Secret};
pub use crate::base::host_profile::{Capability, HostFlavour, HostNeed};
use crate::base::layer::PolicyLayer as _;
use crate::base::overlay::Section;
pub use crate::base::problem::{ConfigErrors, ConfigProblem};
use crate::policy::{Partial, Policy, Unmatched, parse_partial};

/// Shortest accepted worker secret, in characters (seed: at least 32).
pub const MIN_WORKER_SECRET_CHARS: usize = 32;

/// Shortest secret accepted in production, in bytes (any secret variable).
pub const MIN_PRODUCTION_SECRET_BYTES: usize = 32;

/// Secret values written in this repository: the demo's DEV ONLY defaults
/// in `spin.toml`, and the secrets of the benchmark, the fuzz targets, the
/// docs and the tests. Anyone can read them, so production refuses them.
/// (A test checks that every secret default in `spin.toml` is listed.)
pub const PUBLISHED_SECRETS: &[&str] = &[
    "dev-only-worker-secret-0123456789abcdef",
    "dev-only-session-secret-0123456789abcdef",
    "dev-only-jwt-secret-0123456789abcdef0123",
    "whsec_dev-only-stripe-secret-0123456789abcdef",
    "bench-only-worker-secret-0123456789abcdef",
    "fuzz-only-worker-secret-0123456789abcdef",
    // The webhook docs' and tests' secrets, and the Standard Webhooks
    // specification's example secret.
    "whsec_test_secret_for_the_docs_0123456789",
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "0123456789abcdef0123456789abcdef",
    "fedcba9876543210fedcba9876543210",
    "test-secret-key-at-least-32-chars-long!",
    "a-better-auth-secret-of-32-chars!",
    "better-auth-secret-for-the-tests-0123456789",
    "better-auth-secret-for-the-header-tests-0123",
    "worker-secret-for-the-session-tests-0123456789",
    "signature-tests-worker-secret-0123456789",
    "signature-tests-previous-secret-9876543210",
    "some-other-secret-that-is-long-enough-0000",
    "hostile-input-tests-worker-secret-0123456789",
    // RFC 9421 Appendix B.1.5's test-shared-secret, also in the tests.
    "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==",
];

/// The secret variables, as named in the host.
const SECRET_VARIABLES: [&str; 3] = ["worker_secret", "worker_secret_previous", "session_secret"];

/// Settings as read from the host's variables, before validation. Empty or
/// whitespace-only values count as unset. `Debug` redacts the secrets.
#[derive(Clone, Default)]
pub struct RawSettings {
    /// `production`, `staging`, `preview` or `development` (default).
    pub environment: Option<String>,
    /// An inline policy document (the Spin variable `policy`).
    pub policy: Option<String>,
    /// The content of `/warden.toml`, if it was mounted.
    pub policy_file: Option<String>,
    /// The worker-to-worker signing secret.
    pub worker_secret: Option<String>,
    /// The previous worker secret, still accepted during a rotation.
    pub worker_secret_previous: Option<String>,
    /// The session secret.
    pub session_secret: Option<String>,
    /// The secret variables the policy names: (variable, value) for each
    /// variable that [`RawSettings::policy_variables`] lists and the host
    /// has set (webhook secrets, `[jwt]`'s HMAC secret and JWK Set).
    pub policy_secrets: Vec<(String, String)>,
    /// The host flavour this warden was built for (the component's cargo
    /// feature; default Spin, which has every capability). Building
    /// refuses every policy need the flavour lacks
    /// ([`crate::policy::Policy::host_needs`]).
    pub flavour: HostFlavour,
}

impl RawSettings {
    /// The secret variables the policy names, which the host reads into
    /// [`RawSettings::policy_secrets`] before building: the webhook routes'
    /// secrets, and `[jwt]`'s `hmac_secret_variable` and `jwks_variable`.
    /// One list, so a layer that reads a secret variable adds its names
    /// here and no host changes. A policy that does not parse names none
    /// (building reports it).
    pub fn policy_variables(&self) -> Vec<String> {
        let doc = match (
            present(self.policy.clone()),
            present(self.policy_file.clone()),
        ) {
            (Some(doc), _) | (None, Some(doc)) => doc,
            (None, None) => return Vec::new(),
        };
        // Only a policy with a signed route or a [jwt] section can name
        // one; most do not.
        if !doc.contains("worker") && !doc.contains("jwt") {
            return Vec::new();
        }
        let parsed = parse_partial(&doc);
        // A build without the signature layer refuses webhook routes anyway.
        let mut names = if crate::layers::signature::Signatures::BUILT {
            crate::layers::signature::webhook::secret_variables(&signed_routes(&parsed))
        } else {
            Vec::new()
        };
        for name in crate::layers::jwt::variables::names(&parsed.policy.sections.jwt) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

/// The routes with `auth = "worker"` that parsed, with what each verifies.
fn signed_routes(parsed: &Partial) -> Vec<crate::layers::signature::webhook::SignedRoute<'_>> {
    use crate::layers::signature::{WORKER, webhook::SignedRoute};
    parsed
        .routes
        .iter()
        .filter(|(_, route)| route.auth == WORKER)
        .map(|(i, route)| SignedRoute {
            index: *i,
            name: &route.name,
            rule: parsed.policy.sections.worker.rule_for(&route.keys.worker),
        })
        .collect()
}

impl fmt::Debug for RawSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "[redacted]");
        f.debug_struct("RawSettings")
            .field("environment", &self.environment)
            .field("policy", &self.policy)
            .field("policy_file", &self.policy_file)
            .field("worker_secret", &redacted(&self.worker_secret))
            .field(
                "worker_secret_previous",
                &redacted(&self.worker_secret_previous),
            )
            .field("session_secret", &redacted(&self.session_secret))
            .field(
                "policy_secrets",
                &self
                    .policy_secrets
                    .iter()
                    .map(|(name, _)| (name.as_str(), "[redacted]"))
                    .collect::<Vec<_>>(),
            )
            .field("flavour", &self.flavour)
            .finish()
    }
}

/// Where the policy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource {
    /// The `policy` variable.
    Inline,
    /// The mounted `/warden.toml`.
    File,
    /// Neither was set: [`Policy::built_in`].
    BuiltIn,
}

impl PolicySource {
    /// A short name for logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            PolicySource::Inline => "inline",
            PolicySource::File => "file",
            PolicySource::BuiltIn => "built-in",
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct WardenConfig {
    /// Where warden runs.
    pub environment: Environment,
    /// The route policy.
    pub policy: Policy,
    /// Where the policy came from.
    pub policy_source: PolicySource,
    /// The worker signing secret, at least 32 characters.
    pub worker_secret: Option<Secret>,
    /// The previous worker secret, at least 32 characters; only with `worker_secret`.
    pub worker_secret_previous: Option<Secret>,
    /// The session secret.
    pub session_secret: Option<Secret>,
    /// The webhook routes' secrets, one entry per variable.
    pub webhook_keys: Vec<crate::layers::signature::webhook::WebhookKeys>,
    /// `[jwt]`'s keys from variables (`hmac_secret_variable`,
    /// `jwks_variable`), loaded once; the `jwks` table's keys are read per
    /// instance by the component.
    pub jwt_keys: crate::layers::jwt::Keyring,
    /// Each route's layer settings, index for index with `policy.routes`.
    pub route_settings: Vec<RouteSettings>,
    /// The security headers of warden's 404 for requests no route matches,
    /// with `[settings] unmatched = "deny"` (the policy's `[headers]`, no
    /// CORS); `None` when unmatched requests are forwarded.
    pub unmatched_settings: Option<RouteSettings>,
}

/// One route's security-header and CORS settings with its overlays merged
/// over the policy's, made once when the configuration is built rather than
/// per request.
#[derive(Debug, Clone)]
pub struct RouteSettings {
    /// `None` when the route skips the headers layer.
    pub headers: Option<RouteHeaders>,
    /// `None` when the route skips CORS or CORS is off for it.
    pub cors: Option<crate::layers::cors::CorsConfig>,
    /// `None` when cross-site requests are not checked on the route: its
    /// authentication reads no cookie and `csrf` does not turn it on, or
    /// `csrf = false`.
    pub csrf: Option<crate::layers::csrf::CsrfGuard>,
}

/// A route's security headers: the merged settings, and the header values
/// rendered for the environment.
#[derive(Debug, Clone)]
pub struct RouteHeaders {
    pub config: crate::layers::security_headers::HeadersConfig,
    pub prepared: crate::layers::security_headers::Prepared,
}

impl RouteSettings {
    fn for_route(policy: &Policy, route: &crate::policy::Route, environment: Environment) -> Self {
        use crate::base::layer::{Layer, PolicyLayer};
        use crate::layers::{cors::Cors, security_headers::SecurityHeaders};
        let headers = (SecurityHeaders::BUILT && !route.skips(Layer::Headers)).then(|| {
            let config = policy
                .sections
                .headers
                .for_route(route.keys.headers.as_ref())
                .into_owned();
            let prepared = config.prepare(environment);
            RouteHeaders { config, prepared }
        });
        let cors = (Cors::BUILT && !route.skips(Layer::Cors))
            .then(|| {
                let overlay = route.keys.cors.as_ref();
                policy.sections.cors.for_route(overlay).into_owned()
            })
            .filter(|cors| cors.is_enabled());
        let csrf = if crate::layers::csrf::Csrf::BUILT {
            let cors_origins = cors.as_ref().map(|c| c.origins.as_slice()).unwrap_or(&[]);
            crate::layers::csrf::CsrfGuard::for_route(
                &route.keys.csrf,
                reads_cookie(policy, route),
                cors_origins,
            )
        } else {
            None
        };
        RouteSettings {
            headers,
            cors,
            csrf,
        }
    }

    /// The global security headers and no CORS: for warden's own 404.
    fn for_unmatched(policy: &Policy, environment: Environment) -> Self {
        let config = policy.sections.headers.for_route(None).into_owned();
        let prepared = config.prepare(environment);
        RouteSettings {
            headers: Some(RouteHeaders { config, prepared }),
            cors: None,
            csrf: None,
        }
    }
}

/// Whether a route's authentication reads a cookie, which a browser
/// attaches to a cross-site request by itself: a session mode (the session
/// cookie, its `cookie_cache`), or `jwt` with a `cookie:` token source.
/// Signed (`worker`) and header-only (`api_key`, bearer `jwt`) routes read
/// nothing a browser adds on its own. A route that skips auth reads none.
fn reads_cookie(policy: &Policy, route: &crate::policy::Route) -> bool {
    use crate::layers::jwt::config::TokenSource;
    if route.skips(crate::base::layer::Layer::Auth) {
        return false;
    }
    route.auth_modes().any(|mode| {
        crate::layers::session::Sessions::AUTH_MODES.contains(&mode)
            || (mode == crate::layers::jwt::JWT
                && policy
                    .sections
                    .jwt
                    .for_route(&route.keys.jwt)
                    .token_sources
                    .iter()
                    .any(|source| matches!(source, TokenSource::Cookie(_))))
    })
}

impl WardenConfig {
    /// Validates raw settings. The inline policy wins over the file, the file over
    /// the built-in default. Every problem, of the policy and of the settings, is
    /// collected before returning.
    pub fn build(raw: RawSettings) -> Result<WardenConfig, ConfigErrors> {
        let mut problems = Vec::new();

        let environment = match present(raw.environment) {
            None => Environment::default(),
            Some(name) => Environment::from_name(&name).unwrap_or_else(|| {
                problems.push(ConfigProblem::new(
                    "environment",
                    "must be one of: production, staging, preview, development",
                ));
                Environment::default()
            }),
        };

        let (parsed, policy_source) = if let Some(doc) = present(raw.policy) {
            (parse_partial(&doc), PolicySource::Inline)
        } else if let Some(doc) = present(raw.policy_file) {
            (parse_partial(&doc), PolicySource::File)
        } else {
            let built_in = Policy::built_in();
            let parsed = Partial {
                routes: built_in.routes.iter().cloned().enumerate().collect(),
                policy: Policy {
                    routes: Vec::new(),
                    ..built_in
                },
                problems: Vec::new(),
            };
            (parsed, PolicySource::BuiltIn)
        };
        // Routes that are valid on their own, checked against the secrets below
        // even when other routes are broken.
        let valid_routes: Vec<(usize, String, AuthMode)> = parsed
            .routes
            .iter()
            .map(|(i, route)| (*i, route.name.clone(), route.auth))
            .collect();
        let webhook_keys = if crate::layers::signature::Signatures::BUILT {
            crate::layers::signature::webhook::load_keys(
                &signed_routes(&parsed),
                &raw.policy_secrets,
                &mut problems,
            )
        } else {
            Vec::new()
        };
        let jwt_settings = &parsed.policy.sections.jwt;
        let jwt_keys = crate::layers::jwt::variables::load_keys(
            jwt_settings,
            &raw.policy_secrets,
            &mut problems,
        );
        let jwt_hmac_variable = jwt_settings.hmac_secret_variable.clone();
        // Routes signed with worker_secret (the seed's schemes, not webhooks).
        let worker_secret_routes: Vec<(usize, String)> = signed_routes(&parsed)
            .into_iter()
            .filter(|r| !r.rule.scheme.is_webhook())
            .map(|r| (r.index, r.name.to_owned()))
            .collect();
        // Layer rules that depend on the environment (CORS: no "*" in production).
        let mut environment_problems = Vec::new();
        parsed.policy.sections.check_environment(
            &crate::policy::route_views(&parsed.routes),
            environment,
            &mut environment_problems,
        );
        let session_needs_secret = parsed.policy.sections.session.bearer_require_signature;
        check_cookie_cache(&parsed.policy, &mut problems);
        let flavour = raw.flavour;
        let policy = match parsed.into_result() {
            Ok(policy) => {
                // What the host cannot do is refused by name, never
                // downgraded silently.
                problems.extend(
                    policy
                        .host_needs()
                        .iter()
                        .filter_map(|need| flavour.refuse(need)),
                );
                Some(policy)
            }
            Err(policy_problems) => {
                problems.extend(policy_problems);
                None
            }
        };
        problems.extend(environment_problems);

        // Production's checks apply to every secret variable, read here
        // before the values move into their checks.
        let production_secrets: Vec<(&str, String)> = if environment == Environment::Production {
            SECRET_VARIABLES
                .into_iter()
                .zip([
                    &raw.worker_secret,
                    &raw.worker_secret_previous,
                    &raw.session_secret,
                ])
                .filter_map(|(field, value)| Some((field, present(value.clone())?)))
                .chain(
                    raw.policy_secrets
                        .iter()
                        .filter(|(name, _)| {
                            webhook_keys.iter().any(|k| {
                                *name == k.variable || *name == format!("{}_previous", k.variable)
                            }) || jwt_hmac_variable.as_ref() == Some(name)
                        })
                        .filter_map(|(name, value)| {
                            Some((name.as_str(), present(Some(value.clone()))?))
                        }),
                )
                .collect()
        } else {
            Vec::new()
        };
        let worker_secret_raw = present(raw.worker_secret);
        let has_worker_secret = worker_secret_raw.is_some();
        let worker_secret = check_worker_secret(worker_secret_raw, "worker_secret", &mut problems);
        let previous_raw = present(raw.worker_secret_previous);
        if previous_raw.is_some() && !has_worker_secret {
            problems.push(ConfigProblem::new(
                "worker_secret_previous",
                "is set but worker_secret is not; set worker_secret to the current secret",
            ));
        }
        let worker_secret_previous =
            check_worker_secret(previous_raw, "worker_secret_previous", &mut problems);
        let session_secret = present(raw.session_secret).map(Secret::new);
        if session_needs_secret && session_secret.is_none() {
            problems.push(ConfigProblem::new(
                "session_secret",
                "is required by session.bearer_require_signature = true (signatures cannot be checked without it)",
            ));
        }

        for (field, value) in &production_secrets {
            check_production_secret(field, value, &mut problems);
        }
        if environment == Environment::Production
            && session_secret.is_none()
            && let Some((i, name, _)) = valid_routes
                .iter()
                .find(|(_, _, auth)| *auth == crate::layers::session::REQUIRED)
        {
            problems.push(ConfigProblem::new(
                "session_secret",
                format!(
                    "is required in production: route \"{name}\" (routes[{i}]) has auth = \"required\", and without the secret session cookies cannot be verified"
                ),
            ));
        }

        if !has_worker_secret {
            for (i, name) in &worker_secret_routes {
                problems.push(ConfigProblem::new(
                    format!("routes[{i}].auth"),
                    format!("route \"{name}\" uses auth = \"worker\" but worker_secret is not set"),
                ));
            }
        }

        match policy {
            Some(policy) if problems.is_empty() => Ok(WardenConfig {
                environment,
                route_settings: policy
                    .routes
                    .iter()
                    .map(|route| RouteSettings::for_route(&policy, route, environment))
                    .collect(),
                unmatched_settings: (policy.settings.unmatched == Unmatched::Deny)
                    .then(|| RouteSettings::for_unmatched(&policy, environment)),
                policy,
                policy_source,
                worker_secret,
                worker_secret_previous,
                session_secret,
                webhook_keys,
                jwt_keys,
            }),
            _ => Err(ConfigErrors(problems)),
        }
    }
}

impl WardenConfig {
    /// The keys of a webhook secret variable (a route's `worker.secret`).
    pub fn webhook_keys_for(
        &self,
        variable: &str,
    ) -> Option<&crate::layers::signature::webhook::WebhookKeys> {
        self.webhook_keys.iter().find(|k| k.variable == variable)
    }
}

/// `[session] cookie_cache = "jwt"` (and `source = "jwt-cookie"`) is
/// verified with `[jwt]`'s issuer and public keys (the two layers stay
/// apart; the component calls both).
fn check_cookie_cache(policy: &Policy, problems: &mut Vec<ConfigProblem>) {
    use crate::base::layer::PolicyLayer;
    let jwt = &policy.sections.jwt;
    if !policy.sections.session.jwt_cookie_cache {
        return;
    }
    let message = if !crate::layers::jwt::Jwt::BUILT {
        "needs the jwt layer, which this warden was built without (cargo feature \"jwt\")"
    } else if jwt.issuer.is_none() {
        "needs [jwt] issuer = Better Auth's base URL (the cookie cache's iss)"
    } else if !jwt.jwks_table && jwt.jwks_variable.is_none() {
        "needs Better Auth's public keys: [jwt] jwks_table = true or jwks_variable"
    } else {
        return;
    };
    // `source = "jwt-cookie"` reads the cookie cache alone: name that field.
    let field = if policy.sections.session.source
        == crate::layers::session::config::SessionSource::JwtCookie
    {
        "session.source"
    } else {
        "session.cookie_cache"
    };
    problems.push(ConfigProblem::new(field, message));
}

/// `None` for unset, empty and whitespace-only values; others unchanged.
fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// Production's rules for any secret variable: not a value published in
/// this repository, and at least [`MIN_PRODUCTION_SECRET_BYTES`] long. The
/// problem names the variable, never the value.
fn check_production_secret(field: &str, value: &str, problems: &mut Vec<ConfigProblem>) {
    // Compared against public constants once, at load: no timing to hide.
    if PUBLISHED_SECRETS.contains(&value) {
        problems.push(ConfigProblem::new(
            field,
            "is a value published in warden's repository (a DEV ONLY default or a test secret); set a secret of your own in production",
        ));
    } else if value.len() < MIN_PRODUCTION_SECRET_BYTES
        // Worker secrets need 32 characters in every environment, reported
        // by their own check (and 32 characters are at least 32 bytes).
        && !field.starts_with("worker_secret")
    {
        problems.push(ConfigProblem::new(
            field,
            format!("must be at least {MIN_PRODUCTION_SECRET_BYTES} bytes in production"),
        ));
    }
}

/// Checks a worker secret's length without ever putting the secret in a message.
fn check_worker_secret(
    value: Option<String>,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Secret> {
    let value = value?;
    if value.chars().count() < MIN_WORKER_SECRET_CHARS {
        problems.push(ConfigProblem::new(
            field,
            format!("must be at least {MIN_WORKER_SECRET_CHARS} characters"),
        ));
        return None;
    }
    Some(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::rate_limit::Preset;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const OTHER_SECRET: &str = "fedcba9876543210fedcba9876543210";

    fn build(raw: RawSettings) -> WardenConfig {
        match WardenConfig::build(raw) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    fn problems(raw: RawSettings) -> Vec<ConfigProblem> {
        match WardenConfig::build(raw) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e) => e.0,
        }
    }

    fn fields(raw: RawSettings) -> Vec<String> {
        problems(raw).into_iter().map(|p| p.field).collect()
    }

    const WORKER_POLICY: &str = r#"
        [[routes]]
        name = "public"
        path = "/public/*"
        [[routes]]
        name = "internal"
        path = "/internal/*"
        auth = "worker"
    "#;

    #[test]
    fn defaults() {
        let c = build(RawSettings::default());
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.policy_source, PolicySource::BuiltIn);
        assert_eq!(c.policy, Policy::built_in());
        assert!(c.worker_secret.is_none());
        assert!(c.worker_secret_previous.is_none());
        assert!(c.session_secret.is_none());
    }

    #[test]
    fn blank_values_are_unset() {
        let c = build(RawSettings {
            environment: Some("  ".into()),
            policy: Some("\n\t ".into()),
            policy_file: Some(String::new()),
            worker_secret: Some(" ".into()),
            worker_secret_previous: Some(String::new()),
            session_secret: Some("   ".into()),
            ..RawSettings::default()
        });
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.policy_source, PolicySource::BuiltIn);
        assert!(c.worker_secret.is_none());
        assert!(c.session_secret.is_none());
    }

    #[test]
    fn environments() {
        for env in Environment::ALL {
            let c = build(RawSettings {
                environment: Some(env.as_str().into()),
                ..RawSettings::default()
            });
            assert_eq!(c.environment, env);
        }
        assert_eq!(
            Environment::from_name(" Production\n"),
            Some(Environment::Production)
        );
        let found = problems(RawSettings {
            environment: Some("prod".into()),
            ..RawSettings::default()
        });
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, "environment");
    }

    #[test]
    fn policy_precedence() {
        let inline = "[[routes]]\nname = \"inline\"\npath = \"/\"";
        let file = "[[routes]]\nname = \"file\"\npath = \"/\"";
        let c = build(RawSettings {
            policy: Some(inline.into()),
            policy_file: Some(file.into()),
            ..RawSettings::default()
        });
        assert_eq!(c.policy_source, PolicySource::Inline);
        assert_eq!(c.policy.routes[0].name, "inline");

        let c = build(RawSettings {
            policy_file: Some(file.into()),
            ..RawSettings::default()
        });
        assert_eq!(c.policy_source, PolicySource::File);
        assert_eq!(c.policy.routes[0].name, "file");

        // A broken file does not matter when the inline policy wins.
        let c = build(RawSettings {
            policy: Some(inline.into()),
            policy_file: Some("not toml [".into()),
            ..RawSettings::default()
        });
        assert_eq!(c.policy.routes[0].name, "inline");
        assert_eq!(
            c.policy.routes[0].keys.rate_limit,
            Preset::Web.rule(crate::layers::rate_limit::KeyPart::Ip)
        );
    }

    #[test]
    fn short_worker_secrets() {
        let found = problems(RawSettings {
            worker_secret: Some("s3cr3t-but-short".into()),
            worker_secret_previous: Some("an0ther-short-one".into()),
            ..RawSettings::default()
        });
        assert_eq!(
            found.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            [
                "worker_secret: must be at least 32 characters",
                "worker_secret_previous: must be at least 32 characters",
            ]
        );
        for p in &found {
            assert!(!p.message.contains("s3cr3t") && !p.message.contains("an0ther"));
        }
        // 31 characters fail, 32 pass; characters, not bytes.
        assert_eq!(
            fields(RawSettings {
                worker_secret: Some("é".repeat(31)),
                ..RawSettings::default()
            }),
            ["worker_secret"]
        );
        let c = build(RawSettings {
            worker_secret: Some(SECRET.into()),
            worker_secret_previous: Some(OTHER_SECRET.into()),
            session_secret: Some("session".into()),
            ..RawSettings::default()
        });
        assert_eq!(c.worker_secret.as_ref().map(Secret::expose), Some(SECRET));
        assert_eq!(
            c.worker_secret_previous.as_ref().map(Secret::expose),
            Some(OTHER_SECRET)
        );
        assert_eq!(
            c.session_secret.as_ref().map(Secret::expose),
            Some("session")
        );
    }

    #[test]
    fn previous_secret_needs_current() {
        let found = problems(RawSettings {
            worker_secret_previous: Some(OTHER_SECRET.into()),
            ..RawSettings::default()
        });
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, "worker_secret_previous");
        assert!(!found[0].message.contains(OTHER_SECRET));
    }

    #[test]
    fn worker_route_needs_secret() {
        let found = problems(RawSettings {
            policy: Some(WORKER_POLICY.into()),
            ..RawSettings::default()
        });
        assert_eq!(
            found.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            [
                "routes[1].auth: route \"internal\" uses auth = \"worker\" but worker_secret is not set"
            ]
        );
        let c = build(RawSettings {
            policy: Some(WORKER_POLICY.into()),
            worker_secret: Some(SECRET.into()),
            ..RawSettings::default()
        });
        assert_eq!(c.policy.routes[1].auth, crate::layers::signature::WORKER);
        // A secret that is set but too short is reported once, as itself.
        assert_eq!(
            fields(RawSettings {
                policy: Some(WORKER_POLICY.into()),
                worker_secret: Some("short".into()),
                ..RawSettings::default()
            }),
            ["worker_secret"]
        );
    }

    #[test]
    fn all_problems_at_once() {
        let policy = r#"
            [[routes]]
            name = "internal"
            path = "/internal/*"
            auth = "worker"
            [[routes]]
            name = "bad"
            path = "/x"
            rate_limit = { requests = 5, window = "1w" }
        "#;
        let found = problems(RawSettings {
            environment: Some("qa".into()),
            policy: Some(policy.into()),
            worker_secret_previous: Some("short".into()),
            ..RawSettings::default()
        });
        assert_eq!(
            found.iter().map(|p| p.field.as_str()).collect::<Vec<_>>(),
            [
                "environment",
                "routes[1].rate_limit.window",
                "worker_secret_previous",
                "worker_secret_previous",
                "routes[0].auth",
            ]
        );

        // With a valid policy, settings problems and route problems come together.
        let found = fields(RawSettings {
            environment: Some("qa".into()),
            policy: Some(WORKER_POLICY.into()),
            worker_secret_previous: Some(OTHER_SECRET.into()),
            ..RawSettings::default()
        });
        assert_eq!(
            found,
            ["environment", "worker_secret_previous", "routes[1].auth"]
        );
    }

    #[test]
    fn policy_syntax_error_field() {
        let found = problems(RawSettings {
            policy_file: Some("[[routes]\n".into()),
            ..RawSettings::default()
        });
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, "policy");
    }

    #[test]
    fn errors_display_one_per_line() {
        let errors = ConfigErrors(vec![
            ConfigProblem::new("environment", "bad"),
            ConfigProblem::new("routes[0].name", "is required"),
        ]);
        assert_eq!(
            errors.to_string(),
            "environment: bad\nroutes[0].name: is required"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(errors);
        assert!(boxed.to_string().contains('\n'));
    }

    #[test]
    fn production_refuses_published_and_short_secrets() {
        const REQUIRED: &str = "[[routes]]\nname = \"me\"\npath = \"/me\"\nauth = \"required\"\n[[routes]]\nname = \"hook\"\npath = \"/hook\"\nauth = \"worker\"\n";
        let own = "an-operator-chosen-secret-0123456789-xyz";
        let demo = RawSettings {
            environment: Some("production".into()),
            policy: Some(REQUIRED.into()),
            worker_secret: Some("dev-only-worker-secret-0123456789abcdef".into()),
            worker_secret_previous: Some("0123456789abcdef0123456789abcdef".into()),
            session_secret: Some("dev-only-session-secret-0123456789abcdef".into()),
            ..RawSettings::default()
        };
        let found = problems(demo.clone());
        assert_eq!(
            found.iter().map(|p| p.field.as_str()).collect::<Vec<_>>(),
            ["worker_secret", "worker_secret_previous", "session_secret"]
        );
        for p in &found {
            assert!(p.message.contains("published"), "{p}");
            for secret in PUBLISHED_SECRETS {
                assert!(!p.to_string().contains(secret), "{p}");
            }
        }
        // The same secrets are fine for development.
        build(RawSettings {
            environment: Some("development".into()),
            ..demo.clone()
        });

        // A short session secret; worker secrets keep their own message.
        let found = problems(RawSettings {
            worker_secret: Some(own.into()),
            worker_secret_previous: Some("short".into()),
            session_secret: Some("s3cret".into()),
            ..demo.clone()
        });
        assert_eq!(
            found.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "worker_secret_previous: must be at least 32 characters",
                "session_secret: must be at least 32 bytes in production",
            ]
        );

        // A required route with no session secret.
        let found = problems(RawSettings {
            worker_secret: Some(own.into()),
            worker_secret_previous: None,
            session_secret: None,
            ..demo.clone()
        });
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, "session_secret");
        assert!(found[0].message.contains("routes[0]"), "{}", found[0]);

        // Secrets of one's own pass.
        build(RawSettings {
            worker_secret: Some(own.into()),
            worker_secret_previous: None,
            session_secret: Some(format!("{own}-session")),
            ..demo
        });
    }

    /// Every secret default the demo manifest publishes is on the list.
    #[test]
    fn the_demo_defaults_are_known_to_be_published() {
        let manifest: toml::Table = include_str!("../../../spin.toml")
            .parse()
            .expect("spin.toml");
        let variables = manifest["variables"].as_table().expect("[variables]");
        let mut seen = 0;
        for (name, declaration) in variables {
            let Some(declaration) = declaration.as_table() else {
                continue;
            };
            let secret = declaration.get("secret").and_then(toml::Value::as_bool) == Some(true);
            let default = declaration.get("default").and_then(toml::Value::as_str);
            if let (true, Some(value)) = (secret, default.filter(|d| !d.is_empty())) {
                assert!(PUBLISHED_SECRETS.contains(&value), "{name}");
                seen += 1;
            }
        }
        assert!(seen >= 2, "the demo's secret defaults were found");
    }

    /// One policy per host need, with the need's field and capability.
    const NEEDS: &[(&str, &str, Capability)] = &[
        (
            "[[routes]]\nname = \"pay\"\npath = \"/pay\"\nidempotency = {}\n",
            "routes[0].idempotency",
            Capability::KeyValueCompareAndSwap,
        ),
        (
            "[[routes]]\nname = \"a\"\npath = \"/a\"\n[[routes]]\nname = \"login\"\npath = \"/login\"\nlockout = { window = \"1m\" }\n",
            "routes[1].lockout",
            Capability::KeyValueIncrement,
        ),
        (
            "[session]\nsource = \"secondary-storage\"\nrevoke = true\n[worker]\nreplay = false\n[[routes]]\nname = \"internal\"\npath = \"/.warden/*\"\nauth = \"worker\"\n[[routes]]\nname = \"me\"\npath = \"/me\"\nauth = \"required\"\n",
            "session.revoke_path",
            Capability::KeyValueCompareAndSwap,
        ),
        (
            "[session]\ncache = false\n[[routes]]\nname = \"me\"\npath = \"/me\"\nauth = \"optional\"\n",
            "session.source",
            Capability::Sqlite,
        ),
        (
            "[[routes]]\nname = \"hook\"\npath = \"/hook\"\nauth = \"worker\"\n",
            "worker.replay",
            Capability::KeyValueIncrement,
        ),
        (
            "[api_keys]\nbetter_auth = false\nwarden_table = false\nsecondary_storage = true\n[[routes]]\nname = \"api\"\npath = \"/api\"\nauth = \"api_key\"\n",
            "api_keys.failure_limit",
            Capability::KeyValueIncrement,
        ),
        (
            "[api_keys]\nwarden_table = false\nfailure_limit = 0\n[[routes]]\nname = \"api\"\npath = \"/api\"\nauth = \"api_key\"\n",
            "api_keys.better_auth",
            Capability::Sqlite,
        ),
        (
            "[jwt]\njwks_table = true\nfailure_limit = 0\n[[routes]]\nname = \"api\"\npath = \"/api\"\nauth = \"jwt\"\n",
            "jwt.jwks_table",
            Capability::Sqlite,
        ),
        (
            "[security_events]\ntable = true\n[[routes]]\nname = \"a\"\npath = \"/*\"\n",
            "security_events.table",
            Capability::Sqlite,
        ),
        (
            "[[routes]]\nname = \"a\"\npath = \"/*\"\nrate_limit = { requests = 5, window = \"1m\", algorithm = \"sliding-window\" }\n",
            "routes[0].rate_limit.algorithm",
            Capability::KeyValueIncrement,
        ),
        (
            "[settings]\nready = { rate_limit = { requests = 5, window = \"1m\", algorithm = \"sliding-window\" } }\n[[routes]]\nname = \"a\"\npath = \"/*\"\n",
            "settings.ready.rate_limit.algorithm",
            Capability::KeyValueIncrement,
        ),
    ];

    #[test]
    fn each_flavour_refuses_each_need_it_cannot_meet_by_field_and_accepts_the_rest() {
        for (policy, field, capability) in NEEDS {
            for flavour in HostFlavour::ALL {
                let raw = RawSettings {
                    // A proxy's header: the wasmcloud flavour's hosts give
                    // no client address (that need has its own test).
                    policy: Some(format!("[rate_limit]\nclient_ip = \"x-real-ip\"\n{policy}")),
                    worker_secret: Some(SECRET.into()),
                    flavour,
                    ..RawSettings::default()
                };
                if flavour.offers(*capability) {
                    let config = build(raw);
                    assert!(
                        config
                            .policy
                            .host_needs()
                            .iter()
                            .any(|n| n.field == *field && n.capability == *capability),
                        "{field} is declared"
                    );
                    continue;
                }
                let found = problems(raw);
                let problem = found
                    .iter()
                    .find(|p| p.field == *field)
                    .unwrap_or_else(|| panic!("{flavour}: {field} not refused: {found:?}"));
                assert!(problem.message.contains(capability.as_str()), "{problem}");
                assert!(
                    problem.message.contains(&format!(
                        "the {} flavour ({})",
                        flavour.name(),
                        flavour.component()
                    )),
                    "{problem}"
                );
                assert!(
                    problem.message.contains("use warden.wasm on Spin"),
                    "{problem}"
                );
                // Every other problem is a host need too: nothing else broke.
                for p in &found {
                    assert!(p.message.contains("which the"), "{p}");
                }
            }
        }
    }

    #[test]
    fn sessions_from_sqlite_with_their_cache_need_both_sqlite_and_compare_and_swap() {
        let raw = RawSettings {
            policy: Some("[rate_limit]\nclient_ip = \"x-real-ip\"\n[[routes]]\nname = \"me\"\npath = \"/me\"\nauth = \"required\"\n".into()),
            flavour: HostFlavour::Wasmcloud,
            ..RawSettings::default()
        };
        assert_eq!(
            problems(raw)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "session.source: needs SQLite, which the wasmcloud flavour (warden-wasmcloud.wasm) does not have; use warden.wasm on Spin",
                "session.cache: needs key-value compare-and-swap, which the wasmcloud flavour (warden-wasmcloud.wasm) does not have; use warden.wasm on Spin",
            ]
        );
    }

    #[test]
    fn policies_of_plain_key_value_run_on_every_flavour() {
        // Fixed-window limits (approximate on minimal), secondary-storage
        // sessions without revocation, headers, CORS.
        let policy = "[session]\nsource = \"secondary-storage\"\n[rate_limit]\nclient_ip = \"x-real-ip\"\napproximate = { sync_interval = \"500ms\", writes_per_second = 2 }\n[[routes]]\nname = \"me\"\npath = \"/me\"\nauth = \"required\"\nrate_limit = \"auth\"\n[[routes]]\nname = \"rest\"\npath = \"/*\"\n";
        for flavour in HostFlavour::ALL {
            let config = build(RawSettings {
                policy: Some(policy.into()),
                flavour,
                ..RawSettings::default()
            });
            assert!(config.policy.host_needs().is_empty());
            // Without SQLite needs, the readiness probe never runs SQL.
            assert!(!config.policy.stores_used().sqlite);
        }
        // The built-in policy too, where the host says who the client is.
        for flavour in [HostFlavour::Spin, HostFlavour::Minimal] {
            build(RawSettings {
                flavour,
                ..RawSettings::default()
            });
        }
    }

    /// Only Spin sets `spin-client-addr`: on the wasmcloud flavour anything
    /// counted by address must read it from a proxy's header, or every
    /// client would share one bucket.
    #[test]
    fn counting_by_address_on_the_wasmcloud_flavour_needs_a_proxy_header() {
        let refused = |policy: Option<&str>| match WardenConfig::build(RawSettings {
            policy: policy.map(str::to_owned),
            worker_secret: Some("w".repeat(40)),
            flavour: HostFlavour::Wasmcloud,
            ..RawSettings::default()
        }) {
            Ok(_) => Vec::new(),
            Err(ConfigErrors(problems)) => problems.into_iter().map(|p| p.to_string()).collect(),
        };
        let wanted = "rate_limit.client_ip: needs the client's address from the host (spin-client-addr), which the wasmcloud flavour (warden-wasmcloud.wasm) does not have; use warden.wasm on Spin or warden-minimal.wasm on Fermyon or Akamai Functions, or set it to the header your proxy sets (\"x-forwarded-for\", \"x-real-ip\", …)";
        // The built-in policy limits every route by address.
        assert_eq!(refused(None), vec![wanted.to_string()]);
        let routes = "[[routes]]\nname = \"a\"\npath = \"/*\"\n";
        assert_eq!(refused(Some(routes)), vec![wanted.to_string()]);
        // A proxy's header, or nothing counted by address: accepted.
        assert!(
            refused(Some(&format!(
                "[rate_limit]\nclient_ip = {{ x_forwarded_for = 1 }}\n{routes}"
            )))
            .is_empty()
        );
        let off = "[settings]\nready = false\n[[routes]]\nname = \"a\"\npath = \"/*\"\nrate_limit = \"off\"\n";
        assert!(refused(Some(off)).is_empty());
        let by_header = "[settings]\nready = false\n[[routes]]\nname = \"a\"\npath = \"/*\"\nrate_limit = { requests = 5, window = \"1m\", key = [\"header:x-tenant\"] }\n";
        assert!(
            refused(Some(by_header)).is_empty(),
            "{:?}",
            refused(Some(by_header))
        );
        // A lockout counts by address too.
        let lockout = "[settings]\nready = false\n[[routes]]\nname = \"login\"\npath = \"/*\"\nrate_limit = \"off\"\nlockout = { account = \"json:email\" }\n";
        assert_eq!(refused(Some(lockout)), vec![wanted.to_string()]);
    }

    /// Whatever a policy needs, an accepted configuration on a flavour
    /// without SQLite never asks the readiness probe to run SQL.
    #[test]
    fn no_accepted_policy_uses_sqlite_on_a_flavour_without_it() {
        for (policy, _, _) in NEEDS {
            for flavour in [HostFlavour::Wasmcloud, HostFlavour::Minimal] {
                if let Ok(config) = WardenConfig::build(RawSettings {
                    policy: Some((*policy).into()),
                    worker_secret: Some(SECRET.into()),
                    flavour,
                    ..RawSettings::default()
                }) {
                    assert!(!config.policy.stores_used().sqlite, "{policy}");
                }
            }
        }
    }

    #[test]
    fn the_demo_policy_runs_on_spin() {
        let manifest: toml::Table = include_str!("../../../spin.toml")
            .parse()
            .expect("spin.toml");
        let policy = manifest["variables"]["policy"]["default"]
            .as_str()
            .expect("the demo policy");
        let mut raw = RawSettings {
            policy: Some(policy.into()),
            worker_secret: Some(SECRET.into()),
            session_secret: Some(SECRET.into()),
            flavour: HostFlavour::Spin,
            ..RawSettings::default()
        };
        // The variables the policy names, with the manifest's defaults.
        raw.policy_secrets = raw
            .policy_variables()
            .into_iter()
            .filter_map(|name| {
                let value = manifest["variables"].get(&name)?.get("default")?.as_str()?;
                Some((name, value.to_owned()))
            })
            .collect();
        let config = build(raw.clone());
        assert!(!config.policy.host_needs().is_empty());
        // And names, on the minimal flavour, everything it would lose.
        let found = problems(RawSettings {
            flavour: HostFlavour::Minimal,
            ..raw
        });
        assert!(found.iter().all(|p| p.message.contains("minimal flavour")));
    }

    #[test]
    fn secret_debug_is_redacted() {
        let secret = Secret::new(SECRET.into());
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret:#?}"), "[redacted]");
        let c = build(RawSettings {
            worker_secret: Some(SECRET.into()),
            session_secret: Some("hunter2-session-value".into()),
            ..RawSettings::default()
        });
        let debug = format!("{c:?}");
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("[redacted]"));

        let raw = RawSettings {
            worker_secret: Some(SECRET.into()),
            worker_secret_previous: Some(OTHER_SECRET.into()),
            session_secret: Some("hunter2-session-value".into()),
            ..RawSettings::default()
        };
        let debug = format!("{raw:?}");
        assert!(
            !debug.contains(SECRET) && !debug.contains(OTHER_SECRET),
            "{debug}"
        );
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
