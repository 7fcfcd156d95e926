//! The checks that span sections: each layer's checks of the routes (run
//! through the registry, on [`RouteView`]s, so a layer never sees a
//! [`Route`]), and rules that tie one section to the routes (session
//! revocation needs a signed route).

use super::Route;
use crate::base::layer::RouteView;
use crate::base::problem::ConfigProblem;
use crate::layers::session::SessionConfig;
use crate::layers::{RouteKeys, Sections};

/// The routes as the layers' checks see them.
pub(crate) fn route_views(routes: &[(usize, Route)]) -> Vec<RouteView<'_, RouteKeys>> {
    routes
        .iter()
        .map(|(index, route)| RouteView {
            index: *index,
            auth: route.auth,
            also: &route.also,
            skip: &route.skip,
            keys: &route.keys,
        })
        .collect()
}

/// Runs every cross-section check on the parsed routes.
pub(crate) fn check_routes(
    routes: &[(usize, Route)],
    sections: &Sections,
    problems: &mut Vec<ConfigProblem>,
) {
    sections.check_routes(&route_views(routes), problems);
    problems.extend(check_revoke_route(
        &sections.session,
        routes.iter().map(|(_, r)| r),
    ));
}

/// With revocation on, `POST <revoke_path>` must reach a route with
/// `auth = "worker"` first: only a signed service call may revoke sessions.
fn check_revoke_route<'a>(
    config: &SessionConfig,
    routes: impl IntoIterator<Item = &'a Route>,
) -> Option<ConfigProblem> {
    let path = config.revoke_path.as_ref()?;
    let route = routes.into_iter().find(|r| r.matches("POST", path));
    match route {
        Some(r) if r.auth == crate::layers::signature::WORKER => None,
        Some(r) => Some(ConfigProblem::new(
            "session.revoke_path",
            format!(
                "POST {} matches route \"{}\" with auth = \"{}\"; revocation needs a route with auth = \"worker\" before it",
                path.as_str(),
                r.name,
                r.auth.as_str()
            ),
        )),
        None => Some(ConfigProblem::new(
            "session.revoke_path",
            format!(
                "no route matches POST {}; revocation needs a route with auth = \"worker\" for it",
                path.as_str()
            ),
        )),
    }
}
