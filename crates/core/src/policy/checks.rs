//! The checks that span sections: a route's overlay of a layer's section,
//! checked by that layer against the merged result, and rules that tie one
//! section to the routes (session revocation needs a signed route).
//! Layers never see a [`Route`]; they get [`RouteOverlay`]s from here.

use super::Route;
use crate::base::auth_mode::AuthMode;
use crate::base::layer::Layer;
use crate::base::overlay::RouteOverlay;
use crate::base::problem::ConfigProblem;
use crate::layers::cors::{CorsConfig, CorsOverlay};
use crate::layers::security_headers::HeadersConfig;
use crate::layers::session::SessionConfig;
use crate::layers::signature::{RouteWorker, WorkerSettings};

/// Each route's `cors` table, for the CORS layer's checks.
pub(crate) fn cors_overlays(routes: &[(usize, Route)]) -> Vec<RouteOverlay<'_, CorsOverlay>> {
    overlays(routes, |r| r.cors.as_ref(), |r| r.skips(Layer::Cors))
}

/// Runs every cross-section check on the parsed routes.
pub(crate) fn check_routes(
    routes: &[(usize, Route)],
    headers: &HeadersConfig,
    cors: &CorsConfig,
    worker: &WorkerSettings,
    session: &SessionConfig,
    problems: &mut Vec<ConfigProblem>,
) {
    let header_overlays = overlays(routes, |r| r.headers.as_ref(), |r| r.skips(Layer::Headers));
    crate::layers::security_headers::check_route_headers(headers, &header_overlays, problems);
    crate::layers::cors::check_route_cors(cors, &cors_overlays(routes), problems);
    let worker_overlays: Vec<RouteOverlay<'_, RouteWorker>> =
        overlays(routes, |r| Some(&r.worker), |r| r.auth != AuthMode::Worker);
    crate::layers::signature::config::check_routes(worker, &worker_overlays, problems);
    problems.extend(check_revoke_route(session, routes.iter().map(|(_, r)| r)));
}

fn overlays<'a, O>(
    routes: &'a [(usize, Route)],
    overlay: impl Fn(&'a Route) -> Option<&'a O>,
    skipped: impl Fn(&Route) -> bool,
) -> Vec<RouteOverlay<'a, O>> {
    routes
        .iter()
        .map(|(index, route)| RouteOverlay {
            index: *index,
            overlay: overlay(route),
            skipped: skipped(route),
        })
        .collect()
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
        Some(r) if r.auth == AuthMode::Worker => None,
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
