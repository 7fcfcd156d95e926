//! An absolute `http(s)://` URL split into what an outbound request carries
//! (scheme, authority, path and query), for documents warden fetches
//! itself (a JWKS from a `jwks_url`). Deliberately narrow: no userinfo, no
//! whitespace or control bytes, the fragment dropped, the path `/` when
//! empty. Whether plain `http://` is acceptable is the policy's decision.
//! Pure: no I/O.

/// A URL warden may send a request to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `https://` (else `http://`).
    pub https: bool,
    /// `host[:port]`, lowercased.
    pub authority: String,
    /// The path and query, starting with `/`.
    pub path_with_query: String,
}

impl HttpUrl {
    /// `http(s)://authority[/path][?query][#fragment]`, or `None`.
    pub fn parse(url: &str) -> Option<HttpUrl> {
        let (https, rest) = if let Some(rest) = strip_prefix_ci(url, "https://") {
            (true, rest)
        } else if let Some(rest) = strip_prefix_ci(url, "http://") {
            (false, rest)
        } else {
            return None;
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty()
            || !authority
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            || path.bytes().any(|b| b <= b' ' || b == 0x7f)
        {
            return None;
        }
        let path_with_query = if path.starts_with('?') {
            format!("/{path}")
        } else if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        };
        Some(HttpUrl {
            https,
            authority: authority.to_ascii_lowercase(),
            path_with_query,
        })
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::HttpUrl;

    fn t(url: &str) -> Option<(bool, String, String)> {
        HttpUrl::parse(url).map(|u| (u.https, u.authority, u.path_with_query))
    }

    #[test]
    fn splits_urls() {
        assert_eq!(
            t("https://auth.example.com/.well-known/jwks.json"),
            Some((
                true,
                "auth.example.com".into(),
                "/.well-known/jwks.json".into()
            ))
        );
        assert_eq!(
            t("HTTP://127.0.0.1:8080"),
            Some((false, "127.0.0.1:8080".into(), "/".into()))
        );
        assert_eq!(
            t("https://h.example?x=1#frag"),
            Some((true, "h.example".into(), "/?x=1".into()))
        );
        assert_eq!(
            t("https://[::1]:9/k"),
            Some((true, "[::1]:9".into(), "/k".into()))
        );
    }

    #[test]
    fn refuses_other_urls() {
        assert_eq!(t("ftp://h/x"), None);
        assert_eq!(t("https://"), None);
        assert_eq!(t("https://user:pw@h/x"), None);
        assert_eq!(t("https://h/a b"), None);
        assert_eq!(t("https://h\r\n/x"), None);
        assert_eq!(t("//h/x"), None);
        assert_eq!(t("https://h\u{e9}/x"), None);
    }
}
