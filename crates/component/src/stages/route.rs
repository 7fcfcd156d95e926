//! The request's head, before any layer: header limits, path normalization,
//! the readiness endpoint's methods, and the route the policy matches; the
//! result is the request's [`Ctx`].
//!
//! Reads `[settings]` (`max_header_bytes`, `path`, `ready`, `unmatched`) and
//! the routes. No host port beyond what the pipeline read already (the
//! configuration, the request ID). Answers 431 for a header too large, 400
//! for a path refused, 405 (with `allow`) for the readiness endpoint under
//! another method: all before the context exists, so with the request ID
//! only.

use crate::ctx::{self, Ctx};
use crate::respond;
use spin_sdk::wasip3::http::types::{Method, Request, Response};
use std::cell::Cell;
use warden_core::base::denial::Rejection;
use warden_core::config::WardenConfig;
use warden_core::http::path::normalize_path_with;
use warden_core::layers::rate_limit::client_ip;

/// A request ready for the layers.
pub struct Routed<'a> {
    pub ctx: Ctx<'a>,
    /// The request is for the readiness endpoint (its route stands for it).
    pub ready: bool,
    /// The method and target as read from the host, to forward unchanged.
    pub method: Method,
    pub path_with_query: Option<String>,
}

/// Checks the request's head and finds its route.
pub fn begin<'a>(
    config: &'a WardenConfig,
    request: &Request,
    incoming: Vec<(String, Vec<u8>)>,
    request_id: String,
    spare_random: Vec<u8>,
) -> Result<Routed<'a>, Response> {
    let policy = &config.policy;

    if let Some((name, len)) = incoming
        .iter()
        .find(|(_, v)| v.len() > policy.settings.max_header_bytes)
        .map(|(n, v)| (n, v.len()))
    {
        ctx::log_early(
            "header_too_large",
            &request_id,
            &[("header", name.as_str().into()), ("bytes", len.into())],
        );
        return Err(respond::early_deny(Rejection::HeaderTooLarge, &request_id));
    }

    let http_method = request.get_method();
    let method = method_name(&http_method);
    let path_with_query = request.get_path_with_query();
    let raw_path = path_with_query.clone().unwrap_or_else(|| "/".to_owned());
    let path = match normalize_path_with(&raw_path, policy.settings.path) {
        Ok(path) => path,
        Err(rejection) => {
            ctx::log_early(
                "path_rejected",
                &request_id,
                &[("reason", rejection.reason().into())],
            );
            return Err(respond::early_deny(Rejection::BadRequest, &request_id));
        }
    };

    // The readiness endpoint, unless the policy turned it off (its path is
    // then like any other). Only GET and HEAD; its route stands for it in
    // the rate limit, which it passes before touching a store.
    let ready_endpoint = policy.ready.as_ref().filter(|ready| ready.is_at(&path));
    if let Some(ready) = ready_endpoint
        && !ready.allows(&method)
    {
        return Err(respond::early_json_with(
            405,
            Rejection::MethodNotAllowed.body(),
            &request_id,
            &[(
                "allow".to_owned(),
                warden_core::policy::ready::READY_METHODS
                    .as_bytes()
                    .to_vec(),
            )],
        ));
    }

    let matched = match ready_endpoint {
        Some(_) => None,
        None => policy.match_route(&method, &path),
    };
    let route = ready_endpoint
        .map(|ready| &ready.route)
        .or(matched.map(|(_, route)| route));
    let route_settings = match matched {
        Some((index, _)) => Some(&config.route_settings[index]),
        None if ready_endpoint.is_some() => None,
        // Only with `unmatched = "deny"`: the global headers for the 404.
        None => config.unmatched_settings.as_ref(),
    };
    let rate = &policy.sections.rate_limit;
    let (client_ip, _) = client_ip(&rate.client_ip, &incoming);
    let ctx = Ctx {
        config,
        request_id,
        method,
        raw_path,
        scheme: request.get_scheme(),
        authority: request.get_authority(),
        path,
        route,
        route_settings,
        incoming,
        client_ip,
        to_app: Vec::new(),
        to_client: Vec::new(),
        now_ms: Cell::new(None),
        spare_random,
        identity: None,
        body: None,
    };
    Ok(Routed {
        ctx,
        ready: ready_endpoint.is_some(),
        method: http_method,
        path_with_query,
    })
}

fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other.to_ascii_uppercase(),
    }
}
