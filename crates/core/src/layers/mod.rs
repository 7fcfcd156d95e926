//! The layers, one folder each. A layer owns its policy sections (parsed and
//! validated in its own folder), makes its decisions as plain functions of
//! the request, its state and the time, and keeps its tests beside them.
//!
//! This file is the registry: the one place in the core where a layer is
//! listed. Each line names the field the layer's sections get in
//! [`Sections`] (and its route keys in [`RouteKeys`]) and the type that
//! implements [`PolicyLayer`] for it. The policy parser reads every section
//! and route key through this list, so adding a layer to the core is its
//! folder plus one line here. The component's `stages/` mirror it, one
//! adapter per layer.
//!
//! | layer | sections it owns | ports it asks through the component |
//! |---|---|---|
//! | [`rate_limit`] | `[rate_limit]`, a route's `rate_limit` | key-value increment (get and set on the minimal flavour), sweep |
//! | [`session`] | `[session]`; `auth = "optional"` and `"required"` | key-value, SQLite |
//! | [`security_headers`] | `[headers]`, a route's `headers` | random bytes (CSP nonce) |
//! | [`cors`] | `[cors]`, a route's `cors` | none |
//! | [`signature`] | `[worker]`, a route's `worker`; `auth = "worker"` | key-value (replay cache) |
//! | [`api_key`] | `[api_keys]`; `auth = "api_key"` | SQLite, key-value (cache, failures) |
//! | [`jwt`] | `[jwt]`, a route's `jwt`; `auth = "jwt"` | variables, SQLite (`jwks`), key-value and HTTP (`jwks_url`) |
//! | [`idempotency`] | `[idempotency]`, a route's `idempotency` | key-value compare-and-swap, sweep; random bytes |
//! | [`body`] | `[body]`, a route's `body` | none |
//! | [`csrf`] | a route's `csrf` | none |
//! | [`lockout`] | `[lockout]`, a route's `lockout` | key-value get, set, increment, delete; sweep |
//!
//! ```
//! use warden_core::policy::parse_policy;
//!
//! let policy = parse_policy(r#"
//!     [cors]
//!     origins = ["https://app.example.com"]
//!
//!     [[routes]]
//!     name = "api"
//!     path = "/api/*"
//!     rate_limit = "api"
//! "#).unwrap();
//! // Each layer's section is a field of `sections`, each route key a field of `keys`.
//! assert!(policy.sections.cors.is_enabled());
//! assert!(policy.routes[0].keys.rate_limit.limit().is_some());
//! ```
//!
//! A build without a layer (its cargo feature off) still knows the layer's
//! names: a policy that uses them is a configuration error that names the
//! feature, never a layer silently skipped.

pub mod api_key;
pub mod body;
pub mod cors;
pub mod csrf;
pub mod idempotency;
pub mod jwt;
pub mod lockout;
pub mod rate_limit;
pub mod security_headers;
pub mod session;
pub mod signature;

use crate::base::auth_mode::AuthMode;
use crate::base::environment::Environment;
use crate::base::fields::Problems;
use crate::base::layer::{PolicyLayer, RouteContext, RouteView, StoresUsed};
use crate::base::problem::ConfigProblem;

/// What the registry knows of one layer, for messages and docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerInfo {
    pub name: &'static str,
    pub feature: &'static str,
    pub built: bool,
    pub sections: &'static [&'static str],
    pub route_keys: &'static [&'static str],
    pub auth_modes: &'static [AuthMode],
}

impl LayerInfo {
    const fn of<L: PolicyLayer>() -> LayerInfo {
        LayerInfo {
            name: L::NAME,
            feature: L::FEATURE,
            built: L::BUILT,
            sections: L::SECTIONS,
            route_keys: L::ROUTE_KEYS,
            auth_modes: L::AUTH_MODES,
        }
    }

    /// The problem for a policy that uses this layer in a build without it.
    fn not_built(&self, field: String) -> ConfigProblem {
        ConfigProblem::new(
            field,
            format!(
                "needs the {} layer, which this warden was built without (cargo feature \"{}\")",
                self.name, self.feature
            ),
        )
    }
}

/// Every `auth` mode a policy may name: `none`, then each auth layer's, in
/// registry order (built or not, so that an unbuilt one is refused by name).
pub fn auth_modes() -> impl Iterator<Item = AuthMode> {
    std::iter::once(AuthMode::NONE).chain(LAYERS.iter().flat_map(|l| l.auth_modes.iter().copied()))
}

/// The `auth` mode called `name`, if any layer (or the policy) has it.
pub fn auth_mode(name: &str) -> Option<AuthMode> {
    auth_modes().find(|m| m.as_str() == name)
}

/// The layer that serves `mode`, if one does (`none` has no layer).
pub fn layer_for_auth(mode: AuthMode) -> Option<LayerInfo> {
    LAYERS
        .iter()
        .copied()
        .find(|l| l.auth_modes.contains(&mode))
}

/// A problem when `mode` belongs to a layer this build does not have.
pub(crate) fn check_auth_built(mode: AuthMode, field: String) -> Option<ConfigProblem> {
    layer_for_auth(mode)
        .filter(|l| !l.built)
        .map(|l| l.not_built(field))
}

/// A problem naming `field` when layer `L` is not in this build.
pub(crate) fn refuse_unbuilt<L: PolicyLayer>(field: String) -> Option<ConfigProblem> {
    (!L::BUILT).then(|| LayerInfo::of::<L>().not_built(field))
}

/// One layer's sections: parsed when the layer is built, refused by name
/// when the document sets them and it is not.
fn section<L: PolicyLayer>(document: &toml::Table, problems: &mut Problems) -> L::Config {
    if L::BUILT {
        return L::parse_config(document, problems);
    }
    let info = LayerInfo::of::<L>();
    for name in L::SECTIONS.iter().filter(|s| document.contains_key(**s)) {
        problems.0.push(info.not_built((*name).to_string()));
    }
    L::Config::default()
}

/// One layer's keys of a route, likewise.
fn route_keys<L: PolicyLayer>(
    route: &RouteContext<'_>,
    problems: &mut Problems,
) -> Option<L::RouteKeys> {
    if L::BUILT {
        return L::parse_route(route, problems);
    }
    let info = LayerInfo::of::<L>();
    for key in L::ROUTE_KEYS
        .iter()
        .filter(|k| route.table.contains_key(**k))
    {
        problems.0.push(info.not_built(route.field(key)));
    }
    Some(L::RouteKeys::default())
}

/// The views of one layer's keys, from the views of every layer's.
fn views<'a, K>(
    routes: &[RouteView<'a, RouteKeys>],
    keys: impl Fn(&'a RouteKeys) -> &'a K,
) -> Vec<RouteView<'a, K>> {
    routes
        .iter()
        .map(|r| RouteView {
            index: r.index,
            auth: r.auth,
            also: r.also,
            skip: r.skip,
            keys: keys(r.keys),
        })
        .collect()
}

/// Declares the registered layers and everything generated from the list.
macro_rules! registry {
    ($($(#[$doc:meta])* $field:ident: $layer:ty,)*) => {
        /// Every layer's policy sections, parsed: one field per registered layer.
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct Sections {
            $($(#[$doc])* pub $field: <$layer as PolicyLayer>::Config,)*
        }

        /// Every layer's keys of one route.
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct RouteKeys {
            $($(#[$doc])* pub $field: <$layer as PolicyLayer>::RouteKeys,)*
        }

        /// Every registered layer, in registry order.
        pub const LAYERS: &[LayerInfo] = &[$(LayerInfo::of::<$layer>(),)*];

        impl Sections {
            /// Reads every layer's sections from the document.
            pub(crate) fn parse(document: &toml::Table, problems: &mut Problems) -> Sections {
                Sections {
                    $($field: section::<$layer>(document, problems),)*
                }
            }

            /// Every layer's whole-policy checks of the routes.
            pub(crate) fn check_routes(
                &self,
                routes: &[RouteView<'_, RouteKeys>],
                problems: &mut Vec<ConfigProblem>,
            ) {
                $(<$layer as PolicyLayer>::check_routes(
                    &self.$field,
                    &views(routes, |k| &k.$field),
                    problems,
                );)*
            }

            /// The stores the layers use with these routes.
            pub(crate) fn stores_used(&self, routes: &[RouteView<'_, RouteKeys>]) -> StoresUsed {
                let mut used = StoresUsed::default();
                $(used = used.or(<$layer as PolicyLayer>::stores_used(
                    &self.$field,
                    &views(routes, |k| &k.$field),
                ));)*
                used
            }

            /// What the layers need of their host with these routes.
            pub(crate) fn host_needs(
                &self,
                routes: &[RouteView<'_, RouteKeys>],
                needs: &mut Vec<crate::base::host_profile::HostNeed>,
            ) {
                $(if <$layer as PolicyLayer>::BUILT {
                    <$layer as PolicyLayer>::host_needs(
                        &self.$field,
                        &views(routes, |k| &k.$field),
                        needs,
                    );
                })*
            }

            /// Every layer's checks for the environment.
            pub(crate) fn check_environment(
                &self,
                routes: &[RouteView<'_, RouteKeys>],
                environment: Environment,
                problems: &mut Vec<ConfigProblem>,
            ) {
                $(<$layer as PolicyLayer>::check_environment(
                    &self.$field,
                    &views(routes, |k| &k.$field),
                    environment,
                    problems,
                );)*
            }
        }

        impl RouteKeys {
            /// Reads every layer's keys of one route; `None` if any has a problem.
            pub(crate) fn parse(route: &RouteContext<'_>, problems: &mut Problems) -> Option<RouteKeys> {
                $(let $field = route_keys::<$layer>(route, problems);)*
                Some(RouteKeys { $($field: $field?,)* })
            }

            /// Every layer's checks of its keys against the route's `skip`.
            pub(crate) fn check_skip(
                &self,
                route: &RouteContext<'_>,
                skip: &[crate::base::layer::Layer],
                problems: &mut Problems,
            ) {
                $(if <$layer as PolicyLayer>::BUILT {
                    <$layer as PolicyLayer>::check_skip(&self.$field, route, skip, problems);
                })*
            }
        }
    };
}

registry! {
    /// Rate limiting: `[rate_limit]` and a route's `rate_limit`.
    rate_limit: rate_limit::RateLimiting,
    /// Sessions (Better Auth): `[session]`.
    session: session::Sessions,
    /// Security response headers: `[headers]` and a route's `headers`.
    headers: security_headers::SecurityHeaders,
    /// CORS: `[cors]` and a route's `cors`.
    cors: cors::Cors,
    /// Service-to-service signatures: `[worker]` and a route's `worker`.
    worker: signature::Signatures,
    /// Bearer JWTs: `[jwt]`, a route's `jwt`; `auth = "jwt"`.
    jwt: jwt::Jwt,
    /// Hashed API keys (Better Auth's and warden's): `[api_keys]`; `auth = "api_key"`.
    api_keys: api_key::ApiKeys,
    /// Body limits and JSON shape: `[body]` and a route's `body`.
    body: body::Body,
    /// Idempotency keys: `[idempotency]` and a route's `idempotency`.
    idempotency: idempotency::Idempotency,
    /// CSRF on cookie-authenticated routes: a route's `csrf`.
    csrf: csrf::Csrf,
    /// Failed-login lockout: `[lockout]` and a route's `lockout`.
    lockout: lockout::Lockout,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::layer::RouteContext;

    /// A layer this build does not have.
    struct Absent;

    impl PolicyLayer for Absent {
        const NAME: &'static str = "absent";
        const FEATURE: &'static str = "absent-feature";
        const BUILT: bool = false;
        const SECTIONS: &'static [&'static str] = &["absent"];
        const ROUTE_KEYS: &'static [&'static str] = &["absent"];
        type Config = u8;
        type RouteKeys = u8;

        fn parse_config(_: &toml::Table, _: &mut Problems) -> u8 {
            unreachable!("never parsed when not built")
        }

        fn parse_route(_: &RouteContext<'_>, _: &mut Problems) -> Option<u8> {
            unreachable!("never parsed when not built")
        }
    }

    #[test]
    fn a_layer_left_out_of_the_build_is_refused_by_name_where_the_policy_uses_it() {
        let document: toml::Table = toml::from_str("absent = { on = true }\nother = 1").unwrap();
        let mut problems = Problems::default();
        assert_eq!(section::<Absent>(&document, &mut problems), 0);
        let route: toml::Table = toml::from_str("absent = \"x\"").unwrap();
        let context = RouteContext {
            index: 3,
            name: "r",
            table: &route,
            auth: None,
            also: &[],
        };
        assert_eq!(route_keys::<Absent>(&context, &mut problems), Some(0));
        let found: Vec<String> = problems.0.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            found,
            [
                "absent: needs the absent layer, which this warden was built without (cargo feature \"absent-feature\")",
                "routes[3].absent: needs the absent layer, which this warden was built without (cargo feature \"absent-feature\")",
            ]
        );
        // Unused, it costs nothing: no problem and the defaults.
        let mut quiet = Problems::default();
        let empty = toml::Table::new();
        section::<Absent>(&empty, &mut quiet);
        let context = RouteContext {
            index: 0,
            name: "r",
            table: &empty,
            auth: None,
            also: &[],
        };
        route_keys::<Absent>(&context, &mut quiet);
        assert!(quiet.0.is_empty());
    }

    #[test]
    fn every_auth_mode_but_none_belongs_to_exactly_one_layer() {
        let names: Vec<&str> = auth_modes().map(|m| m.as_str()).collect();
        assert_eq!(
            names,
            ["none", "optional", "required", "worker", "jwt", "api_key"]
        );
        for mode in auth_modes() {
            let owners = LAYERS
                .iter()
                .filter(|l| l.auth_modes.contains(&mode))
                .count();
            assert_eq!(owners, usize::from(mode != AuthMode::NONE), "{mode:?}");
            assert_eq!(auth_mode(mode.as_str()), Some(mode));
        }
    }
}
