//! A route's security headers rendered once, at configuration load.
//!
//! Instances serve many requests with one configuration (DESIGN §1), so the
//! header values, CSP included, are rendered when the configuration is built;
//! per request only the nonce, when the CSP takes one, is put in.
//!
//! ```
//! use warden_core::config::Environment;
//! use warden_core::layers::security_headers::HeadersConfig;
//!
//! let mut config = HeadersConfig::default();
//! config.csp.as_mut().unwrap().nonce = vec!["script-src"];
//! let prepared = config.prepare(Environment::Production);
//! assert!(prepared.wants_nonce());
//! // Exactly what rendering the configuration per request gives.
//! assert_eq!(
//!     prepared.headers(Some("bm9uY2U=")),
//!     config.headers(Environment::Production, Some("bm9uY2U=")),
//! );
//! ```

use super::HeadersConfig;
use crate::base::environment::Environment;

/// Stands in for the nonce while rendering: `;` cannot occur in a validated
/// CSP source (it would end the directive), so this never matches anything
/// but the nonce's own place.
const PLACEHOLDER: &str = ";";

/// The rendered headers of one route in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// `(lowercase name, value)` in [`HeadersConfig::headers`]'s order.
    headers: Vec<(&'static str, String)>,
    /// When the CSP takes a nonce: its place in `headers`, and its value cut
    /// where each `'nonce-…'` source goes.
    csp_with_nonce: Option<(usize, Vec<String>)>,
}

impl HeadersConfig {
    /// These headers, rendered once for `environment`.
    pub fn prepare(&self, environment: Environment) -> Prepared {
        let csp_with_nonce = if self.wants_nonce() {
            let rendered = self.headers(environment, Some(PLACEHOLDER));
            let at = rendered
                .iter()
                .position(|(name, _)| self.csp.as_ref().is_some_and(|c| c.header_name() == *name));
            at.map(|at| {
                let pieces = rendered[at]
                    .1
                    .split(&format!("'nonce-{PLACEHOLDER}'"))
                    .map(str::to_owned)
                    .collect();
                (at, pieces)
            })
        } else {
            None
        };
        Prepared {
            headers: self.headers(environment, None),
            csp_with_nonce,
        }
    }
}

impl Prepared {
    /// Whether each request needs a fresh nonce for these headers.
    pub fn wants_nonce(&self) -> bool {
        self.csp_with_nonce.is_some()
    }

    /// The headers for one response, with `nonce` in the CSP when it takes
    /// one (the same as [`HeadersConfig::headers`] gives).
    pub fn headers(&self, nonce: Option<&str>) -> Vec<(&'static str, String)> {
        let mut out = self.headers.clone();
        if let (Some((at, pieces)), Some(nonce)) = (&self.csp_with_nonce, nonce) {
            out[*at].1 = pieces.join(&format!("'nonce-{nonce}'"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::security_headers::csp::CspPreset;

    fn configs() -> Vec<HeadersConfig> {
        let mut nonce_everywhere = HeadersConfig::default();
        let csp = nonce_everywhere.csp.as_mut().unwrap();
        csp.nonce = vec!["script-src", "style-src", "worker-src"];
        let mut stripe = HeadersConfig::default();
        stripe.csp.as_mut().unwrap().apply_preset(CspPreset::Stripe);
        stripe.csp.as_mut().unwrap().nonce = vec!["script-src"];
        let mut report_only = nonce_everywhere.clone();
        report_only.csp.as_mut().unwrap().report_only = true;
        let no_csp = HeadersConfig {
            csp: None,
            ..HeadersConfig::default()
        };
        vec![
            HeadersConfig::default(),
            nonce_everywhere,
            stripe,
            report_only,
            no_csp,
        ]
    }

    #[test]
    fn prepared_headers_equal_rendering_per_request() {
        for config in configs() {
            for environment in [Environment::Production, Environment::Development] {
                let prepared = config.prepare(environment);
                assert_eq!(prepared.wants_nonce(), config.wants_nonce());
                for nonce in [None, Some("AAAAAAAAAAAAAAAAAAAAAA=="), Some("x/y+z==")] {
                    assert_eq!(
                        prepared.headers(nonce),
                        config.headers(environment, nonce),
                        "{config:?} {environment:?} {nonce:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_nonce_goes_into_every_directive_that_takes_one() {
        let config = &configs()[1];
        let headers = config
            .prepare(Environment::Development)
            .headers(Some("n0nce"));
        let csp = &headers[0].1;
        assert_eq!(csp.matches("'nonce-n0nce'").count(), 3, "{csp}");
    }
}
