//! Command-line parsing, by hand: the CLI depends on nothing but the core.

use warden_core::base::host_profile::HostFlavour;
use warden_core::layers::signature::Scheme;
use warden_core::layers::signature::webhook::MAX_ID_LEN;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print usage.
    Help,
    /// `warden policy check FILE [--environment ENV] [--flavour F]`.
    Check {
        file: String,
        environment: Option<String>,
        /// The component flavour the policy is for (its host's
        /// capabilities); Spin's unless named.
        flavour: HostFlavour,
    },
    /// `warden policy explain FILE METHOD PATH`.
    Explain {
        file: String,
        method: String,
        path: String,
    },
    /// `warden sign --scheme S --secret-env VAR --method M --url URL ...`.
    Sign(SignArgs),
    /// `warden sign --scheme stripe|github|standard|slack --secret-env VAR ...`.
    SignWebhook(WebhookArgs),
    /// `warden keygen`.
    Keygen,
    /// `warden apikey create | list | revoke`.
    ApiKey(crate::apikey::ApiKeyCommand),
    /// `warden jwt inspect TOKEN ...`.
    JwtInspect(crate::jwt_inspect::InspectArgs),
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

/// The options of `warden sign` for a third-party webhook scheme, which
/// signs the body (and a timestamp or id), never the method or URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookArgs {
    /// `stripe`, `github`, `standard` or `slack`.
    pub scheme: Scheme,
    /// The environment variable holding the secret.
    pub secret_env: String,
    /// The file holding the exact body bytes, if any.
    pub body_file: Option<String>,
    /// Unix seconds instead of now (not `github`, which signs none).
    pub timestamp: Option<u64>,
    /// The message or delivery id (`standard`, `github`) instead of a random one.
    pub id: Option<String>,
}

/// Usage text for `--help` and usage errors.
pub const USAGE: &str = "\
warden - check a warden policy before deploying it, and sign requests for
its worker routes

Usage:
  warden policy check FILE [--environment ENV] [--flavour spin|wasmcloud|minimal]
      Validate FILE as warden's policy together with the settings it would run
      with. Secrets come from SPIN_VARIABLE_WORKER_SECRET,
      SPIN_VARIABLE_WORKER_SECRET_PREVIOUS and SPIN_VARIABLE_SESSION_SECRET,
      and the secret variables the policy names (its webhook routes' and
      their _previous, [jwt]'s hmac_secret_variable and jwks_variable) from
      SPIN_VARIABLE_ and the name in upper case, e.g.
      SPIN_VARIABLE_STRIPE_WEBHOOK_SECRET. ENV defaults to
      SPIN_VARIABLE_ENVIRONMENT. Warns (exit 0) when a
      method-restricted required/worker route lets other methods fall
      through to a weaker route for the same paths. --flavour checks it for
      another build of the component (warden-wasmcloud.wasm,
      warden-minimal.wasm): what that build's hosts cannot back is a problem.
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
  warden sign --scheme stripe|github|standard|slack --secret-env VAR
              [--body-file FILE] [--timestamp UNIX_SECONDS] [--id ID]
      Print the headers the webhook provider would send with this body, in
      the same form. VAR holds the secret as the provider shows it (for
      standard, whsec_ and base64). These sign the body, not the request, so
      --method, --url, --keyid, --nonce, --components, --signature-header
      and --timestamp-header are refused. --timestamp defaults to now (not
      for github, which signs none). --id, for github and standard only, is
      the X-GitHub-Delivery or webhook-id; without it a random one is made
      (github: a UUIDv4; standard: msg_ and 32 hex digits).
  warden keygen
      Print a new random secret (32 bytes from the OS, 64 hex characters) for
      worker_secret.
  warden apikey create --db FILE --owner ID --name NAME [--tier TIER]
              [--expires 90d] [--roles a,b | --permissions JSON]
              [--prefix P] [--sql]
      Make an API key for warden's api_keys table (migrations.sql): the
      prefix (default wk_) and 64 random hex digits. Prints the key once;
      only its SHA-256 is stored. --permissions is Better Auth's
      {\"resource\":[\"action\"]} JSON (roles resource:action). --sql prints the
      statements for a remote database instead of writing (the key then goes
      to stderr).
  warden apikey list --db FILE
      List the keys: id, prefix, owner, name, tier, expiry, revocation. Never
      a key or a hash.
  warden apikey revoke --db FILE (--id ID | --prefix P) [--sql]
      Revoke one key by id, or by the prefix list shows. --sql prints the
      UPDATE instead.
  warden jwt inspect TOKEN|- [--jwks FILE|URL] [--secret-env VAR [--alg HS256]]
              [--issuer ISS] [--audience AUD]... [--leeway S] [--now T]
      Decode a bearer JWT and say whether warden would accept it, and if not
      which check refuses it (the component's own verification). - reads
      the token from standard input, keeping it out of the shell history.
      Keys from a JWK Set file or URL (fetched with curl, no redirects)
      and/or an HMAC secret in the environment variable VAR. Exit 0
      verified, 1 refused.
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
        "apikey" => return crate::apikey::parse(&args[1..]).map(Command::ApiKey),
        "jwt" => return crate::jwt_inspect::parse(&args[1..]).map(Command::JwtInspect),
        "keygen" if args.len() == 1 => return Ok(Command::Keygen),
        "keygen" => return Err("keygen takes no arguments".to_string()),
        _ => {}
    }
    let mut positional: Vec<&str> = Vec::new();
    let mut environment = None;
    let mut flavour = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--flavour" || arg.starts_with("--flavour=") {
            let value = match arg.strip_prefix("--flavour=") {
                Some(value) => value.to_string(),
                None => rest
                    .next()
                    .ok_or_else(|| "--flavour needs a value".to_string())?
                    .clone(),
            };
            let named = HostFlavour::ALL.into_iter().find(|f| f.name() == value);
            flavour = Some(named.ok_or_else(|| {
                format!("unknown --flavour {value:?}: spin, wasmcloud or minimal")
            })?);
        } else if arg == "--environment" {
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
            flavour: flavour.unwrap_or_default(),
        }),
        ["policy", "explain", file, method, path] => {
            if environment.is_some() {
                return Err("--environment applies only to policy check".to_string());
            }
            if flavour.is_some() {
                return Err("--flavour applies only to policy check".to_string());
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
        const NAMES: [&str; 12] = [
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
            "id",
        ];
        let Some(name) = NAMES.iter().find(|n| **n == name) else {
            return Err(format!("unknown option --{name}"));
        };
        if values.iter().any(|(n, _)| n == name) {
            return Err(format!("--{name} given twice"));
        }
        values.push((name, value));
    }
    let scheme = values
        .iter()
        .find(|(n, _)| *n == "scheme")
        .ok_or_else(|| "sign needs --scheme".to_string())?;
    let scheme = Scheme::from_name(&scheme.1).ok_or_else(|| {
        "--scheme must be worker, request-nonce, rfc9421, stripe, github, standard or slack"
            .to_string()
    })?;
    // An option that would change nothing is refused, so that nobody
    // believes a webhook signature covers the URL, or that an id was sent.
    for (name, _) in &values {
        if let Some(reason) = inapplicable(scheme, name) {
            return Err(format!("--{name} {reason}"));
        }
    }
    let mut take = |name: &str| {
        values
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| values.remove(i).1)
    };
    let secret_env = take("secret-env").ok_or_else(|| "sign needs --secret-env".to_string())?;
    let timestamp = match take("timestamp") {
        None => None,
        Some(t) => Some(
            t.parse::<u64>()
                .map_err(|_| "--timestamp must be unix seconds".to_string())?,
        ),
    };
    if scheme.is_webhook() {
        let id = take("id");
        if let Some(id) = &id {
            let visible = id.bytes().all(|b| (0x21..=0x7e).contains(&b));
            if id.is_empty() || id.len() > MAX_ID_LEN || !visible {
                return Err(format!(
                    "--id must be 1 to {MAX_ID_LEN} visible ASCII characters"
                ));
            }
        }
        return Ok(Command::SignWebhook(WebhookArgs {
            scheme,
            secret_env,
            body_file: take("body-file"),
            timestamp,
            id,
        }));
    }
    let mut required = |name: &str| take(name).ok_or_else(|| format!("sign needs --{name}"));
    let method = required("method")?;
    let url = required("url")?;
    Ok(Command::Sign(SignArgs {
        scheme: scheme.as_str().to_string(),
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

/// Why `sign` refuses option `name` with `scheme`, if it does.
fn inapplicable(scheme: Scheme, name: &str) -> Option<String> {
    const WORKER_ONLY: [&str; 7] = [
        "method",
        "url",
        "keyid",
        "nonce",
        "components",
        "signature-header",
        "timestamp-header",
    ];
    let scheme_name = scheme.as_str();
    match name {
        _ if scheme.is_webhook() && WORKER_ONLY.contains(&name) => Some(format!(
            "is for the worker, request-nonce and rfc9421 schemes, not {scheme_name}: a webhook signature covers the body, not the method, the URL or warden's headers"
        )),
        "id" if !matches!(scheme, Scheme::Github | Scheme::Standard) => Some(format!(
            "is for the github and standard schemes only, not {scheme_name}"
        )),
        "timestamp" if scheme == Scheme::Github => {
            Some("is not for github, which signs no timestamp".to_string())
        }
        _ => None,
    }
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
                environment: None,
                flavour: HostFlavour::Spin,
            })
        );
        let expected = Ok(Command::Check {
            file: "w.toml".into(),
            environment: Some("production".into()),
            flavour: HostFlavour::Spin,
        });
        assert_eq!(
            parse_str(&["policy", "check", "w.toml", "--environment", "production"]),
            expected
        );
        assert_eq!(
            parse_str(&["policy", "--environment=production", "check", "w.toml"]),
            expected
        );
        for (args, flavour) in [
            (
                &["policy", "check", "w.toml", "--flavour", "minimal"][..],
                HostFlavour::Minimal,
            ),
            (
                &["policy", "check", "--flavour=wasmcloud", "w.toml"][..],
                HostFlavour::Wasmcloud,
            ),
        ] {
            assert_eq!(
                parse_str(args),
                Ok(Command::Check {
                    file: "w.toml".into(),
                    environment: None,
                    flavour,
                })
            );
        }
        assert!(parse_str(&["policy", "check", "w.toml", "--flavour", "fermyon"]).is_err());
        assert!(parse_str(&["policy", "check", "w.toml", "--flavour"]).is_err());
        assert!(
            parse_str(&[
                "policy",
                "explain",
                "w.toml",
                "GET",
                "/",
                "--flavour",
                "minimal"
            ])
            .is_err()
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
    fn sign_webhook() {
        assert_eq!(
            parse_str(&[
                "sign",
                "--scheme=standard",
                "--secret-env",
                "STANDARD_WEBHOOK_SECRET",
                "--body-file",
                "event.json",
                "--timestamp",
                "1614265330",
                "--id",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
            ]),
            Ok(Command::SignWebhook(WebhookArgs {
                scheme: Scheme::Standard,
                secret_env: "STANDARD_WEBHOOK_SECRET".into(),
                body_file: Some("event.json".into()),
                timestamp: Some(1_614_265_330),
                id: Some("msg_p5jXN8AQM9LWM0D4loKWxJek".into()),
            }))
        );
        // Only --scheme and --secret-env are needed; no --method or --url.
        for scheme in ["stripe", "github", "standard", "slack"] {
            assert_eq!(
                parse_str(&["sign", "--scheme", scheme, "--secret-env", "S"]),
                Ok(Command::SignWebhook(WebhookArgs {
                    scheme: Scheme::from_name(scheme).unwrap(),
                    secret_env: "S".into(),
                    body_file: None,
                    timestamp: None,
                    id: None,
                })),
                "{scheme}"
            );
        }
        assert!(matches!(
            parse_str(&[
                "sign",
                "--scheme",
                "github",
                "--secret-env",
                "S",
                "--id",
                "d-1"
            ]),
            Ok(Command::SignWebhook(WebhookArgs { id: Some(_), .. }))
        ));
        assert!(matches!(
            parse_str(&[
                "sign",
                "--scheme",
                "slack",
                "--secret-env",
                "S",
                "--timestamp=1"
            ]),
            Ok(Command::SignWebhook(WebhookArgs {
                timestamp: Some(1),
                ..
            }))
        ));
    }

    /// Each refusal names the option at fault.
    #[test]
    fn sign_webhook_usage_errors() {
        let refused = |args: &[&str], option: &str| {
            let mut all = vec!["sign", "--secret-env", "S"];
            all.extend_from_slice(args);
            let message = parse_str(&all).unwrap_err();
            assert!(message.starts_with(option), "{all:?}: {message}");
        };
        for option in [
            "--method",
            "--url",
            "--keyid",
            "--nonce",
            "--components",
            "--signature-header",
            "--timestamp-header",
        ] {
            for scheme in ["stripe", "github", "standard", "slack"] {
                refused(&["--scheme", scheme, option, "x"], option);
            }
        }
        refused(&["--scheme", "stripe", "--id", "x"], "--id");
        refused(&["--scheme", "slack", "--id", "x"], "--id");
        refused(
            &[
                "--scheme",
                "worker",
                "--method",
                "GET",
                "--url",
                "http://h/",
                "--id",
                "x",
            ],
            "--id",
        );
        refused(&["--scheme", "rfc9421", "--id", "x"], "--id");
        refused(&["--scheme", "github", "--timestamp", "1"], "--timestamp");
        refused(&["--scheme", "slack", "--timestamp", "soon"], "--timestamp");
        refused(&["--scheme", "standard", "--id", ""], "--id");
        refused(&["--scheme", "standard", "--id", "has space"], "--id");
        refused(&["--scheme", "github", "--id", &"x".repeat(256)], "--id");
        refused(&["--scheme", "standard", "--id", "a", "--id", "b"], "--id");
        refused(
            &["--scheme", "standard", "--event", "push"],
            "unknown option --event",
        );
        refused(&["--scheme", "svix"], "--scheme must be");
        assert_eq!(
            parse_str(&["sign", "--scheme", "stripe"]),
            Err("sign needs --secret-env".into())
        );
        assert_eq!(
            parse_str(&["sign", "--secret-env", "S"]),
            Err("sign needs --scheme".into())
        );
        // Worker schemes still need --method and --url.
        assert_eq!(
            parse_str(&["sign", "--scheme", "worker", "--secret-env", "S"]),
            Err("sign needs --method".into())
        );
    }

    #[test]
    fn keygen() {
        assert_eq!(parse_str(&["keygen"]), Ok(Command::Keygen));
        assert!(parse_str(&["keygen", "--base64"]).is_err());
    }
}
