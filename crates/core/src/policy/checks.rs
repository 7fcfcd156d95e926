//! The checks that span sections: each layer's checks of the routes (run
//! through the registry, on [`RouteView`]s, so a layer never sees a
//! [`Route`]), and rules that tie one section to the routes (session
//! revocation needs a signed route).

use super::{AppTimeout, Route};
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
    default_timeout: AppTimeout,
    problems: &mut Vec<ConfigProblem>,
) {
    sections.check_routes(&route_views(routes), problems);
    problems.extend(check_revoke_route(
        &sections.session,
        routes.iter().map(|(_, r)| r),
    ));
    check_claims_outlive_timeouts(routes, sections, default_timeout, problems);
}

/// An idempotency claim is a lease: a request still running when its
/// `claim_ttl` ends may be taken over and the app run twice. The route's
/// timeout bounds how long the app runs, so the claim must outlast it
/// (docs/idempotency.md, "What the guarantee assumes").
fn check_claims_outlive_timeouts(
    routes: &[(usize, Route)],
    sections: &Sections,
    default_timeout: AppTimeout,
    problems: &mut Vec<ConfigProblem>,
) {
    for (index, route) in routes {
        let Some(config) = crate::layers::idempotency::config::for_route(
            &sections.idempotency,
            &route.keys.idempotency,
        ) else {
            continue;
        };
        let claim_ms = config.claim_ttl.saturating_mul(1000);
        let problem = match route.timeout.unwrap_or(default_timeout) {
            AppTimeout::Off => Some(
                "must be bounded: with timeout = \"off\" the app may outrun its idempotency claim and run twice; set the route's timeout below claim_ttl"
                    .to_owned(),
            ),
            AppTimeout::After(ms) if ms >= claim_ms => Some(format!(
                "{ms} ms is not below the idempotency claim_ttl ({} s): the app may outrun its claim and run twice; raise claim_ttl or lower the timeout",
                config.claim_ttl
            )),
            AppTimeout::After(_) => None,
        };
        if let Some(problem) = problem {
            let field = if route.timeout.is_some() {
                format!("routes[{index}].timeout")
            } else {
                "settings.timeout".to_owned()
            };
            problems.push(ConfigProblem::new(field, problem));
        }
    }
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
