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
}

/// Usage text for `--help` and usage errors.
pub const USAGE: &str = "\
warden - check a warden policy before deploying it

Usage:
  warden policy check FILE [--environment ENV]
      Validate FILE as warden's policy together with the settings it would run
      with. Secrets come from SPIN_VARIABLE_WORKER_SECRET,
      SPIN_VARIABLE_WORKER_SECRET_PREVIOUS and SPIN_VARIABLE_SESSION_SECRET;
      ENV defaults to SPIN_VARIABLE_ENVIRONMENT.
  warden policy explain FILE METHOD PATH
      Show which route of FILE a request would match, or why its path would be
      refused.
  warden --help

Exit status: 0 ok or matched, 1 problems found (or no route matches / path
refused), 2 usage error.
";

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, String> {
    if args.is_empty() || args.iter().any(|a| a == "--help" || a == "-h") {
        return Ok(Command::Help);
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
}
