//! The one mechanism by which a route overrides part of a policy section:
//! the section (`[cors]`, `[headers]`, `[worker]`) is parsed whole with its
//! defaults, a route's table of the same name is parsed as an overlay that
//! holds only the keys it sets, and [`Section::with`] merges the two.
//!
//! ```
//! use warden_core::base::overlay::Section;
//!
//! #[derive(Clone, Debug, PartialEq)]
//! struct Limits { body: u64, timeout: u64 }
//! struct LimitsOverlay { body: Option<u64> }
//!
//! impl Section for Limits {
//!     type Overlay = LimitsOverlay;
//!     fn with(&self, overlay: &LimitsOverlay) -> Limits {
//!         Limits { body: overlay.body.unwrap_or(self.body), ..self.clone() }
//!     }
//! }
//!
//! let global = Limits { body: 1024, timeout: 5 };
//! let merged = global.for_route(Some(&LimitsOverlay { body: Some(64) }));
//! assert_eq!(*merged, Limits { body: 64, timeout: 5 });
//! assert!(matches!(global.for_route(None), std::borrow::Cow::Borrowed(_)));
//! ```

use std::borrow::Cow;

use crate::base::problem::ConfigProblem;

/// A policy section that routes may override key by key.
pub trait Section: Clone {
    /// A route's table for this section, validated on its own: only the
    /// keys it sets.
    type Overlay;

    /// This section with each key the overlay sets replaced.
    fn with(&self, overlay: &Self::Overlay) -> Self;

    /// This section with a route's overlay merged in; borrowed when the
    /// route has none.
    fn for_route<'a>(&'a self, overlay: Option<&Self::Overlay>) -> Cow<'a, Self> {
        match overlay {
            None => Cow::Borrowed(self),
            Some(overlay) => Cow::Owned(self.with(overlay)),
        }
    }
}

/// A section whose own table and a route's table take the same keys: the
/// section is its defaults with its table merged in as an overlay, and a
/// route's table is an overlay of the section.
pub trait TableSection: Section + Default {
    /// The keys of a table, with those that had problems left out; `None`
    /// if it is not a table.
    fn read_overlay(
        value: &toml::Value,
        field: &str,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<Self::Overlay>;

    /// Checks of a merged section that no single key shows (contradictions
    /// between keys), with problems named under `field`.
    fn check_merged(&self, field: &str, problems: &mut Vec<ConfigProblem>);

    /// The section's table over the defaults. Checked even when some keys
    /// had problems, so that every problem shows at once.
    fn parse_section(
        value: Option<&toml::Value>,
        field: &str,
        problems: &mut Vec<ConfigProblem>,
    ) -> Self {
        let defaults = Self::default();
        let Some(value) = value else {
            return defaults;
        };
        match Self::read_overlay(value, field, problems) {
            Some(overlay) => {
                let section = defaults.with(&overlay);
                section.check_merged(field, problems);
                section
            }
            None => defaults,
        }
    }

    /// A route's table on its own (`None` if it has any problem).
    fn parse_overlay(
        value: &toml::Value,
        field: &str,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<Self::Overlay> {
        let before = problems.len();
        let overlay = Self::read_overlay(value, field, problems);
        overlay.filter(|_| problems.len() == before)
    }
}

/// One route's overlay of a section, as the section's own checks see it.
/// The policy builds these, so a layer never needs the policy's `Route`.
#[derive(Debug, Clone, Copy)]
pub struct RouteOverlay<'a, O> {
    /// The route's index in `routes`, for problem field names.
    pub index: usize,
    /// The route's table for the section, if it has one.
    pub overlay: Option<&'a O>,
    /// Whether the layer is off for the route: listed in its `skip`, or,
    /// for an auth layer, not the route's `auth` mode.
    pub skipped: bool,
}

impl<'a, O> RouteOverlay<'a, O> {
    /// The overlays of routes whose keys are an optional table.
    pub fn of_optional(
        routes: &[crate::base::layer::RouteView<'a, Option<O>>],
        skipped: impl Fn(&crate::base::layer::RouteView<'a, Option<O>>) -> bool,
    ) -> Vec<RouteOverlay<'a, O>> {
        routes
            .iter()
            .map(|r| RouteOverlay {
                index: r.index,
                overlay: r.keys.as_ref(),
                skipped: skipped(r),
            })
            .collect()
    }
}
