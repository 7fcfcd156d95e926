//! The layers as the policy sees them: the names a route can skip
//! (`skip = [...]`), and [`PolicyLayer`], what each layer declares about the
//! policy sections it owns.

/// A middleware layer that a route can skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Security response headers.
    Headers,
    /// CORS handling.
    Cors,
    /// Rate limiting.
    RateLimit,
    /// Authentication and roles.
    Auth,
}

impl Layer {
    /// Every layer, in policy-document order.
    pub const ALL: [Layer; 4] = [Layer::Headers, Layer::Cors, Layer::RateLimit, Layer::Auth];

    /// The name used in the policy document.
    pub fn as_str(&self) -> &'static str {
        match self {
            Layer::Headers => "headers",
            Layer::Cors => "cors",
            Layer::RateLimit => "rate_limit",
            Layer::Auth => "auth",
        }
    }

    /// Looks a layer up by its policy name.
    pub fn from_name(name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|l| l.as_str() == name)
    }
}

/// Which of Spin's stores a policy uses (`Policy::stores_used`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoresUsed {
    /// The key-value store `default`: rate-limit counters, the session
    /// cache or `secondaryStorage`, the signature replay cache, revocation.
    pub key_value: bool,
    /// The SQLite database `default`: Better Auth's session and user tables.
    pub sqlite: bool,
}

impl StoresUsed {
    /// Both sets of stores together.
    pub fn or(self, other: StoresUsed) -> StoresUsed {
        StoresUsed {
            key_value: self.key_value || other.key_value,
            sqlite: self.sqlite || other.sqlite,
        }
    }
}

/// What a layer tells the policy about itself: the sections and route keys
/// it owns, how to read them, and the checks that need the whole policy.
/// Each layer implements it once, in its own folder; `crate::layers` lists
/// the implementations, and the policy parser goes through that list.
pub trait PolicyLayer {
    /// The layer's name, as problems and the docs say it.
    const NAME: &'static str;
    /// The cargo feature that builds the layer in (the same name in the
    /// core and the component).
    const FEATURE: &'static str;
    /// Whether this build has the layer: `cfg!(feature = "…")`.
    const BUILT: bool;
    /// The top-level tables of the policy the layer owns.
    const SECTIONS: &'static [&'static str];
    /// The keys of a `[[routes]]` entry the layer owns.
    const ROUTE_KEYS: &'static [&'static str];
    /// The route `auth` modes the layer serves.
    const AUTH_MODES: &'static [crate::base::auth_mode::AuthMode] = &[];

    /// The layer's sections, parsed and validated.
    type Config: Clone + std::fmt::Debug + PartialEq + Eq + Default;
    /// The layer's keys of one route; the `Default` is the layer doing
    /// nothing on the route (what a build without the layer uses).
    type RouteKeys: Clone + std::fmt::Debug + PartialEq + Eq + Default;

    /// Reads the layer's sections from the whole document.
    fn parse_config(
        document: &toml::Table,
        problems: &mut crate::base::fields::Problems,
    ) -> Self::Config;

    /// Reads the layer's keys of one route; `None` when they have problems.
    fn parse_route(
        route: &RouteContext<'_>,
        problems: &mut crate::base::fields::Problems,
    ) -> Option<Self::RouteKeys>;

    /// Checks of the layer's keys against the route's `skip`, once that is
    /// read (after every layer's keys, so problems keep document order).
    fn check_skip(
        _keys: &Self::RouteKeys,
        _route: &RouteContext<'_>,
        _skip: &[Layer],
        _problems: &mut crate::base::fields::Problems,
    ) {
    }

    /// Checks that need every route: a route's keys against the sections.
    fn check_routes(
        _config: &Self::Config,
        _routes: &[RouteView<'_, Self::RouteKeys>],
        _problems: &mut Vec<crate::base::problem::ConfigProblem>,
    ) {
    }

    /// The stores the layer uses with this policy, so that the readiness
    /// probe checks those and no others.
    fn stores_used(
        _config: &Self::Config,
        _routes: &[RouteView<'_, Self::RouteKeys>],
    ) -> StoresUsed {
        StoresUsed::default()
    }

    /// What the layer needs of its host with this policy (SQLite, atomic
    /// key-value operations), each under the policy field that asks for
    /// it, so that a flavour without it refuses the policy by name
    /// (`WardenConfig::build`). A layer that uses only get, set, delete
    /// and list needs nothing.
    fn host_needs(
        _config: &Self::Config,
        _routes: &[RouteView<'_, Self::RouteKeys>],
        _needs: &mut Vec<crate::base::host_profile::HostNeed>,
    ) {
    }

    /// Checks that depend on where warden runs (production is stricter).
    fn check_environment(
        _config: &Self::Config,
        _routes: &[RouteView<'_, Self::RouteKeys>],
        _environment: crate::base::environment::Environment,
        _problems: &mut Vec<crate::base::problem::ConfigProblem>,
    ) {
    }
}

/// One `[[routes]]` entry while it is read: what a layer's route parser
/// may look at besides its own keys. `auth` is `None` when it was itself
/// invalid.
#[derive(Debug, Clone, Copy)]
pub struct RouteContext<'a> {
    /// The route's index in `routes`.
    pub index: usize,
    /// The route's name, or `"route"` when it has none yet.
    pub name: &'a str,
    /// The route's table.
    pub table: &'a toml::Table,
    /// The route's `auth` (the first mode of a list).
    pub auth: Option<crate::base::auth_mode::AuthMode>,
    /// The other modes of an `auth = [...]` list, in order.
    pub also: &'a [crate::base::auth_mode::AuthMode],
}

impl RouteContext<'_> {
    /// Whether the route accepts `mode`'s credential (as `auth` or in its list).
    pub fn accepts(&self, mode: crate::base::auth_mode::AuthMode) -> bool {
        self.auth == Some(mode) || self.also.contains(&mode)
    }

    /// `routes[i].<key>`, for problems.
    pub fn field(&self, key: &str) -> String {
        format!("routes[{}].{key}", self.index)
    }
}

/// A parsed route as a layer's whole-policy checks see it: its index, its
/// auth mode and skips, and the layer's own keys.
#[derive(Debug, Clone, Copy)]
pub struct RouteView<'a, K> {
    /// The route's index in `routes`.
    pub index: usize,
    /// The route's `auth` (the first mode of a list).
    pub auth: crate::base::auth_mode::AuthMode,
    /// The other modes of an `auth = [...]` list, in order.
    pub also: &'a [crate::base::auth_mode::AuthMode],
    /// The route's `skip`.
    pub skip: &'a [Layer],
    /// The layer's keys of this route.
    pub keys: &'a K,
}

impl<K> RouteView<'_, K> {
    /// Whether the route accepts `mode`'s credential (as `auth` or in its list).
    pub fn accepts(&self, mode: crate::base::auth_mode::AuthMode) -> bool {
        self.auth == mode || self.also.contains(&mode)
    }
}
