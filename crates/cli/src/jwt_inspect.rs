//! `warden jwt inspect`: says which of warden's checks a token fails, and
//! why, for the job people otherwise do by pasting tokens into web pages.
//!
//! The header and claims are shown decoded (never the signature). The keys
//! come from a JWK Set file and/or an HMAC secret in an environment
//! variable; issuer, audience and leeway as the policy would set them. The
//! verdict is the one the component would reach: the same core function.

use std::fmt::Write as _;

use warden_core::layers::jwt::{self, Algorithm, JwksOrigin, JwtSettings, Key, Keyring};

use crate::commands::Output;

/// Parses `jwt inspect TOKEN|- [--jwks FILE] [--secret-env VAR] [--alg A]
/// [--issuer I] [--audience A]... [--leeway S] [--now T]`.
pub fn parse(args: &[String]) -> Result<InspectArgs, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err("jwt needs a command: inspect".to_string());
    };
    if command != "inspect" {
        return Err(format!("unknown jwt command {command}"));
    }
    let mut out = InspectArgs::default();
    let mut token = None;
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        let Some(name) = arg.strip_prefix("--") else {
            if token.replace(arg.clone()).is_some() {
                return Err("jwt inspect takes one token (or - for standard input)".into());
            }
            continue;
        };
        let mut value = || {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("--{name} needs a value"))
        };
        let number = |v: String| {
            v.parse()
                .map_err(|_| format!("--{name} must be whole seconds"))
        };
        match name {
            "jwks" => out.jwks_file = Some(value()?),
            "secret-env" => out.secret_env = Some(value()?),
            "alg" => out.alg = Some(value()?),
            "issuer" => out.issuer = Some(value()?),
            "audience" => out.audience.push(value()?),
            "leeway" => out.leeway = Some(number(value()?)?),
            "now" => out.now = Some(number(value()?)? as i64),
            other => return Err(format!("jwt inspect does not take --{other}")),
        }
    }
    out.token = token.ok_or("jwt inspect needs a token, or - to read it from standard input")?;
    if out.jwks_file.is_none() && out.secret_env.is_none() {
        return Err("jwt inspect needs --jwks FILE and/or --secret-env VAR".into());
    }
    Ok(out)
}

/// `jwt inspect` with the real files, environment, standard input and clock.
pub fn run(args: &InspectArgs) -> Output {
    let fail = |message: String| Output::failure(format!("error: {message}\n"));
    let token = if args.token == "-" {
        let mut text = String::new();
        if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
            return fail(format!("cannot read the token from standard input: {e}"));
        }
        text
    } else {
        args.token.clone()
    };
    let jwks = match args.jwks_file.as_deref() {
        None => None,
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            match fetch(url) {
                Ok(bytes) => Some(bytes),
                Err(message) => return fail(message),
            }
        }
        Some(file) => match std::fs::read(file) {
            Ok(bytes) => Some(bytes),
            Err(e) => return fail(format!("cannot read {file}: {e}")),
        },
    };
    let secret = match &args.secret_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(secret) => Some(secret),
            Err(_) => return fail(format!("the environment variable {var} is not set")),
        },
    };
    let now = args.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    });
    match inspect(
        args,
        &Inputs {
            token,
            jwks,
            secret,
        },
        now,
    ) {
        Ok((stdout, true)) => Output {
            stdout,
            ..Output::default()
        },
        Ok((stdout, false)) => Output {
            stdout,
            code: 1,
            ..Output::default()
        },
        Err(message) => fail(message),
    }
}

/// What `jwt inspect` checks against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InspectArgs {
    /// The token, or `-` to read it from standard input (keeps it out of
    /// the shell's history).
    pub token: String,
    /// A JWK Set file, or an `https://` (or `http://`) URL to fetch it from.
    pub jwks_file: Option<String>,
    /// The environment variable holding an HMAC secret.
    pub secret_env: Option<String>,
    /// The HMAC secret's algorithm (default HS256).
    pub alg: Option<String>,
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Accepted `aud`.
    pub audience: Vec<String>,
    /// Seconds of leeway (default 60, as in the policy).
    pub leeway: Option<u64>,
    /// The time to check at (unix seconds; default now).
    pub now: Option<i64>,
}

/// The keys, read from the file and the environment.
pub struct Inputs {
    /// The token text.
    pub token: String,
    /// The JWK Set's bytes, if a file was given.
    pub jwks: Option<Vec<u8>>,
    /// The HMAC secret, if a variable was given.
    pub secret: Option<String>,
}

/// Runs the checks; the report, and whether the token verified.
pub fn inspect(args: &InspectArgs, inputs: &Inputs, now: i64) -> Result<(String, bool), String> {
    let mut settings = JwtSettings {
        issuer: args.issuer.clone(),
        audience: args.audience.clone(),
        ..JwtSettings::default()
    };
    if let Some(leeway) = args.leeway {
        settings.leeway = leeway;
    }
    let mut out = String::new();
    let token = inputs.token.trim();

    // 1. The token's own parts, as warden's strict parser reads them.
    match jwt::parse(token, settings.max_token_bytes) {
        Ok(jws) => {
            let header = &jws.header;
            let _ = writeln!(
                out,
                "header:  alg {}, kid {}, typ {}",
                header.alg.name(),
                header.kid.as_deref().unwrap_or("(none)"),
                header.typ.as_deref().unwrap_or("(none)")
            );
            let claims = serde_json::to_string_pretty(&jws.claims).unwrap_or_default();
            let _ = writeln!(out, "claims:  {}", claims.replace('\n', "\n         "));
        }
        Err(reason) => {
            let _ = writeln!(out, "parse:   refused: {} ({reason:?})", reason.kind());
            let _ = writeln!(out, "result:  refused ({})", reason.kind());
            return Ok((out, false));
        }
    }

    // 2. The keys.
    let mut keys = Keyring::new();
    if let Some(json) = &inputs.jwks {
        let loaded = Keyring::from_jwks_json(json, &settings.load_options(JwksOrigin::Url))
            .map_err(|problem| format!("the JWK Set file: {}", problem.message()))?;
        for key in loaded.keyring.keys() {
            let _ = writeln!(
                out,
                "key:     kid {} ({})",
                key.kid.as_deref().unwrap_or("(none)"),
                key.alg.name()
            );
        }
        for skipped in &loaded.skipped {
            let _ = writeln!(out, "skipped: {skipped:?}");
        }
        keys.extend(loaded.keyring);
    }
    if let Some(secret) = &inputs.secret {
        let name = args.alg.as_deref().unwrap_or("HS256");
        let alg = Algorithm::from_name(name)
            .filter(Algorithm::is_hmac)
            .ok_or_else(|| format!("--alg {name} is not HS256, HS384 or HS512"))?;
        let key = Key::hmac(secret.as_bytes(), alg, None)
            .map_err(|problem| format!("the secret: {}", problem.message()))?;
        let _ = writeln!(out, "key:     the HMAC secret ({})", alg.name());
        keys.push(key)
            .map_err(|problem| format!("the secret: {}", problem.message()))?;
    }
    if keys.is_empty() {
        return Err("no keys: give --jwks FILE and/or --secret-env VAR".to_string());
    }

    // 3. The verdict, by the component's own function.
    match jwt::verify_bearer(&settings, &keys, token, now) {
        Ok(verified) => {
            let claims = &verified.claims;
            let _ = writeln!(
                out,
                "result:  verified ({}, kid {}): sub {}, roles [{}]{}",
                verified.alg.name(),
                verified.kid.as_deref().unwrap_or("(none)"),
                claims.user_id,
                claims.roles.join(", "),
                claims
                    .expires_at
                    .map(|exp| format!(", expires in {} s", exp - now))
                    .unwrap_or_default()
            );
            Ok((out, true))
        }
        Err(reason) => {
            let _ = writeln!(out, "result:  refused: {} ({reason:?})", reason.kind());
            Ok((out, false))
        }
    }
}

/// A JWK Set URL's body, fetched as the component fetches one: no
/// redirects, 10 s at most, 64 KiB at most. Through `curl`, so that the
/// CLI carries no TLS stack of its own.
fn fetch(url: &str) -> Result<Vec<u8>, String> {
    let out = std::process::Command::new("curl")
        .args(["--silent", "--show-error", "--fail", "--max-time", "10"])
        .args(["--max-filesize", "65536", "--proto", "=https,http", "--"])
        .arg(url)
        .output()
        .map_err(|e| format!("fetching {url} needs curl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "fetching {url} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> InspectArgs {
        InspectArgs {
            token: "-".into(),
            ..InspectArgs::default()
        }
    }

    #[test]
    fn rfc_7515_a1_is_explained() {
        // RFC 7515 A.1's HS256 token and key (its exp is 1300819380).
        let secret = jwt::testing::rfc7515_a1_secret();
        let inputs = Inputs {
            token: jwt::testing::RFC7515_A1_TOKEN.into(),
            jwks: None,
            secret: Some(String::from_utf8_lossy(&secret).into_owned()),
        };
        // The RFC's secret is not UTF-8 text, so the CLI's variable cannot
        // hold it; the report then names the signature as what fails.
        let (report, ok) = inspect(&args(), &inputs, 1_300_819_000).unwrap();
        assert!(!ok);
        assert!(report.contains("header:  alg HS256"), "{report}");
        assert!(report.contains("\"iss\": \"joe\""), "{report}");
        assert!(report.contains("result:  refused"), "{report}");
    }

    /// PyJWT's tokens (the core's interop fixtures): each verifies, and
    /// a wrong issuer or a later clock says which check fails.
    #[test]
    fn independent_tokens_verify_and_failures_are_named() {
        let fixtures: serde_json::Value = serde_json::from_str(include_str!(
            "../../core/src/layers/jwt/testdata/interop.json"
        ))
        .unwrap();
        let now = fixtures["now"].as_i64().unwrap();
        let jwks = serde_json::to_vec(&fixtures["jwks"]).unwrap();
        for token in fixtures["tokens"].as_array().unwrap() {
            let inputs = Inputs {
                token: token["token"].as_str().unwrap().into(),
                jwks: Some(jwks.clone()),
                secret: token["hmac"].as_str().map(str::to_owned),
            };
            let alg = token["alg"].as_str().unwrap();
            let args = InspectArgs {
                alg: Some(alg.into()).filter(|a: &String| a.starts_with("HS")),
                issuer: fixtures["issuer"].as_str().map(str::to_owned),
                ..args()
            };
            let (report, ok) = inspect(&args, &inputs, now).unwrap();
            assert!(ok, "{alg}: {report}");
            assert!(report.contains("result:  verified"), "{report}");
            let wrong = InspectArgs {
                issuer: Some("https://someone-else.example".into()),
                ..args.clone()
            };
            let (report, ok) = inspect(&wrong, &inputs, now).unwrap();
            assert!(!ok && report.contains("IssuerMismatch"), "{report}");
            let (report, ok) = inspect(&args, &inputs, now + 10 * 365 * 86_400).unwrap();
            assert!(!ok && report.contains("Expired"), "{report}");
        }
    }

    #[test]
    fn a_broken_token_is_refused_at_parse() {
        let inputs = Inputs {
            token: "not.a.token!".into(),
            jwks: None,
            secret: Some("s".repeat(32)),
        };
        let (report, ok) = inspect(&args(), &inputs, 0).unwrap();
        assert!(!ok);
        assert!(report.starts_with("parse:   refused"), "{report}");
    }

    #[test]
    fn arguments() {
        let parse_str = |a: &[&str]| parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let parsed = parse_str(&[
            "inspect",
            "-",
            "--jwks",
            "k.json",
            "--audience",
            "a",
            "--audience",
            "b",
            "--leeway",
            "5",
        ])
        .unwrap();
        assert_eq!(parsed.token, "-");
        assert_eq!(parsed.audience, ["a", "b"]);
        assert_eq!(parsed.leeway, Some(5));
        for bad in [
            &["inspect"][..],
            &["inspect", "t"],
            &["inspect", "t", "u", "--jwks", "k"],
            &["inspect", "t", "--jwks"],
            &["inspect", "t", "--jwks", "k", "--leeway", "soon"],
            &["inspect", "t", "--jwks", "k", "--url", "x"],
            &["verify", "t"],
        ] {
            assert!(parse_str(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn no_keys_is_a_usage_error() {
        let inputs = Inputs {
            token: jwt::testing::RFC7515_A1_TOKEN.into(),
            jwks: None,
            secret: None,
        };
        assert!(inspect(&args(), &inputs, 0).is_err());
    }
}
