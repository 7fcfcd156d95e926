//! The layers a route can skip (`skip = [...]`), by their policy names.

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
