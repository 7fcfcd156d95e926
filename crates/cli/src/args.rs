//! Command-line parsing, by hand: the CLI depends on nothing but the core.

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print usage.
    Help,
    /// `warden policy check FILE [--environment ENV]`.
    Check {
        file: String,
        environment: Option<String>,
    },
    /// `warden policy explain FILE METHOD PATH`.
    Explain {
        file: String,
        method: String,
        path: String,
    },
    /// `warden sign --scheme S --secret-env VAR --method M --url URL ...`.
    Sign(SignArgs),
    /// `warden keygen`.
    Keygen,
}

/// The options of `warden sign`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignArgs {
    /// `worker`, `request-nonce` or `rfc9421`.
    pub scheme: String,
    /// The environment variable holding the secret.
    pub secret_env: String,
    /// The request method.
    pub method: String,
    /// The absolute URL the request goes to.
    pub url: String,
    /// The file holding the exact body bytes, if any.
    pub body_file: Option<String>,
    /// RFC 9421 key id (default `current`).
    pub keyid: Option<String>,
    /// A nonce instead of a random one.
    pub nonce: Option<String>,
    /// Unix seconds instead of now.
    pub timestamp: Option<u64>,
    /// RFC 9421 covered components, comma-separated.
    pub components: Option<String>,
    /// Seed-000 signature header name.
    pub signature_header: Option<String>,
    /// Seed-000 timestamp header name.
    pub timestamp_header: Option<String>,
}

/// Usage text for `--help` and usage errors.
pub const USAGE: &str = "\
warden - check a warden policy before deploying it, and sign requests for
its worker routes

Usage:
  warden policy check FILE [--environment ENV]
      Validate FILE as warden's policy together with the settings it would run
      with. Secrets come from SPIN_VARIABLE_WORKER_SECRET,
      SPIN_VARIABLE_WORKER_SECRET_PREVIOUS and SPIN_VARIABLE_SESSION_SECRET;
      ENV defaults to SPIN_VARIABLE_ENVIRONMENT. Warns (exit 0) when a
      method-restricted required/worker route lets other methods fall
      through to a weaker route for the same paths.
  warden policy explain FILE METHOD PATH
      Show which route of FILE a request would match, or why its path would be
      refused.
  warden sign --scheme worker|request-nonce|rfc9421 --secret-env VAR
              --method METHOD --url URL [--body-file FILE] [--keyid ID]
              [--nonce N] [--timestamp UNIX_SECONDS] [--components a,b,c]
              [--signature-header NAME] [--timestamp-header NAME]
      Print the headers that sign this request, one `Name: value` per line,
      for `curl -H @FILE` (or one `-H` each). The secret is read from the
      environment variable VAR, never from the command line. The body is the
      exact bytes of FILE (none without it); send the same bytes, e.g.
      `curl --data-binary @FILE`. rfc9421 covers @method @authority @path
      (and content-digest with a body) unless --components says otherwise;
      --keyid defaults to `current`.
  warden keygen
      Print a new random secret (32 bytes from the OS, 64 hex characters) for
      worker_secret.
  warden --help

Exit status: 0 ok or matched, 1 problems found (or no route matches / path
refused, or signing failed), 2 usage error.
";

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, String> {
    if args.is_empty() || args.iter().any(|a| a == "--help" || a == "-h") {
        return Ok(Command::Help);
    }
    match args[0].as_str() {
        "sign" => return parse_sign(&args[1..]),
        "keygen" if args.len() == 1 => return Ok(Command::Keygen),
        "keygen" => return Err("keygen takes no arguments".to_string()),
        _ => {}
    }
    let mut positional: Vec<&str> = Vec::new();
    let mut environment = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--environment" {
            let value = rest
                .next()
                .ok_or_else(|| "--environment needs a value".to_string())?;
            environment = Some(value.clone());
        } else if let Some(value) = arg.strip_prefix("--environment=") {
            environment = Some(value.to_string());
        } else if arg.starts_with("--") {
            return Err(format!("unknown option {arg}"));
        } else {
            positional.push(arg);
        }
    }
    match positional.as_slice() {
        ["policy", "check", file] => Ok(Command::Check {
            file: file.to_string(),
            environment,
        }),
        ["policy", "explain", file, method, path] => {
            if environment.is_some() {
                return Err("--environment applies only to policy check".to_string());
            }
            Ok(Command::Explain {
                file: file.to_string(),
                method: method.to_string(),
                path: path.to_string(),
            })
        }
        ["policy", "check", ..] => Err("policy check takes exactly one FILE".to_string()),
        ["policy", "explain", ..] => Err("policy explain takes FILE, METHOD and PATH".to_string()),
        ["policy", other, ..] => Err(format!("unknown policy command {other}")),
        ["policy"] => Err("policy needs a command: check or explain".to_string()),
        [other, ..] => Err(format!("unknown command {other}")),
        [] => Err("missing command".to_string()),
    }
}

/// `sign`'s options, each `--name VALUE` or `--name=VALUE`.
fn parse_sign(args: &[String]) -> Result<Command, String> {
    let mut values: Vec<(&str, String)> = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let Some(option) = arg.strip_prefix("--") else {
            return Err(format!("sign takes options only, not {arg}"));
        };
        let (name, value) = match option.split_once('=') {
            Some((name, value)) => (name, value.to_string()),
            None => (
                option,
                rest.next()
                    .ok_or_else(|| format!("--{option} needs a value"))?
                    .clone(),
            ),
        };
        const NAMES: [&str; 11] = [
            "scheme",
            "secret-env",
            "method",
            "url",
            "body-file",
            "keyid",
            "nonce",
            "timestamp",
            "components",
            "signature-header",
            "timestamp-header",
        ];
        let Some(name) = NAMES.iter().find(|n| **n == name) else {
            return Err(format!("unknown option --{name}"));
        };
        if values.iter().any(|(n, _)| n == name) {
            return Err(format!("--{name} given twice"));
        }
        values.push((name, value));
    }
    let mut take = |name: &str| {
        values
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| values.remove(i).1)
    };
    let mut required = |name: &str| take(name).ok_or_else(|| format!("sign needs --{name}"));
    let scheme = required("scheme")?;
    if !["worker", "request-nonce", "rfc9421"].contains(&scheme.as_str()) {
        return Err("--scheme must be worker, request-nonce or rfc9421".to_string());
    }
    let secret_env = required("secret-env")?;
    let method = required("method")?;
    let url = required("url")?;
    let timestamp = match take("timestamp") {
        None => None,
        Some(t) => Some(
            t.parse::<u64>()
                .map_err(|_| "--timestamp must be unix seconds".to_string())?,
        ),
    };
    Ok(Command::Sign(SignArgs {
        scheme,
        secret_env,
        method,
        url,
        body_file: take("body-file"),
        keyid: take("keyid"),
        nonce: take("nonce"),
        timestamp,
        components: take("components"),
        signature_header: take("signature-header"),
        timestamp_header: take("timestamp-header"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Command, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        parse(&args)
    }

    #[test]
    fn help() {
        assert_eq!(parse_str(&[]), Ok(Command::Help));
        assert_eq!(parse_str(&["--help"]), Ok(Command::Help));
        assert_eq!(parse_str(&["policy", "check", "-h"]), Ok(Command::Help));
    }

    #[test]
    fn check() {
        assert_eq!(
            parse_str(&["policy", "check", "warden.toml"]),
            Ok(Command::Check {
                file: "warden.toml".into(),
                environment: None
            })
        );
        let expected = Ok(Command::Check {
            file: "w.toml".into(),
            environment: Some("production".into()),
        });
        assert_eq!(
            parse_str(&["policy", "check", "w.toml", "--environment", "production"]),
            expected
        );
        assert_eq!(
            parse_str(&["policy", "--environment=production", "check", "w.toml"]),
            expected
        );
    }

    #[test]
    fn explain() {
        assert_eq!(
            parse_str(&["policy", "explain", "w.toml", "GET", "/api/x?y"]),
            Ok(Command::Explain {
                file: "w.toml".into(),
                method: "GET".into(),
                path: "/api/x?y".into()
            })
        );
    }

    #[test]
    fn usage_errors() {
        for args in [
            &["policy"][..],
            &["policy", "check"],
            &["policy", "check", "a", "b"],
            &["policy", "check", "a", "--environment"],
            &["policy", "check", "a", "--verbose"],
            &["policy", "explain", "a", "GET"],
            &["policy", "explain", "a", "GET", "/", "--environment", "x"],
            &["policy", "lint", "a"],
            &["check", "a"],
        ] {
            assert!(parse_str(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn sign() {
        let parsed = parse_str(&[
            "sign",
            "--scheme",
            "rfc9421",
            "--secret-env=WORKER_SECRET",
            "--method",
            "POST",
            "--url",
            "https://api.example.com/internal/hook",
            "--body-file",
            "body.json",
            "--keyid",
            "svc",
            "--timestamp",
            "1700000000",
        ]);
        assert_eq!(
            parsed,
            Ok(Command::Sign(SignArgs {
                scheme: "rfc9421".into(),
                secret_env: "WORKER_SECRET".into(),
                method: "POST".into(),
                url: "https://api.example.com/internal/hook".into(),
                body_file: Some("body.json".into()),
                keyid: Some("svc".into()),
                nonce: None,
                timestamp: Some(1_700_000_000),
                components: None,
                signature_header: None,
                timestamp_header: None,
            }))
        );
        let base = [
            "sign",
            "--scheme",
            "worker",
            "--secret-env",
            "S",
            "--method",
            "GET",
            "--url",
            "http://h/",
        ];
        assert!(matches!(parse_str(&base), Ok(Command::Sign(_))));
        for extra in [
            &["--scheme", "worker"][..],
            &["--timestamp", "soon"],
            &["--verbose", "1"],
            &["positional"],
            &["--nonce"],
        ] {
            let mut args = base.to_vec();
            args.extend_from_slice(extra);
            assert!(parse_str(&args).is_err(), "{args:?}");
        }
        assert!(
            parse_str(&[
                "sign",
                "--scheme",
                "jwt",
                "--secret-env",
                "S",
                "--method",
                "GET",
                "--url",
                "u"
            ])
            .is_err()
        );
        assert!(parse_str(&["sign", "--scheme", "worker"]).is_err());
    }

    #[test]
    fn keygen() {
        assert_eq!(parse_str(&["keygen"]), Ok(Command::Keygen));
        assert!(parse_str(&["keygen", "--base64"]).is_err());
    }
}
