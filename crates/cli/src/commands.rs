//! The commands, as functions from inputs to printed output and exit code, so
//! they can be tested without a process.

use std::fmt::Write as _;

use warden_core::config::{RawSettings, WardenConfig};
use warden_core::path::normalize_path;
use warden_core::policy::{Route, parse_policy};
use warden_core::reject::Rejection;

use crate::args::{Command, USAGE};

/// What a command prints and its exit code.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

impl Output {
    /// A usage error: the message and the usage text on stderr, exit code 2.
    pub fn usage_error(message: &str) -> Output {
        Output {
            stderr: format!("error: {message}\n\n{USAGE}"),
            code: 2,
            ..Output::default()
        }
    }

    fn failure(stderr: String) -> Output {
        Output {
            stderr,
            code: 1,
            ..Output::default()
        }
    }
}

/// The settings `check` takes from the environment, as Spin would.
#[derive(Debug, Default)]
pub struct Variables {
    pub environment: Option<String>,
    pub worker_secret: Option<String>,
    pub worker_secret_previous: Option<String>,
    pub session_secret: Option<String>,
}

impl Variables {
    /// Reads `SPIN_VARIABLE_*`, the names Spin's environment provider uses.
    pub fn from_env() -> Variables {
        let var = |name: &str| std::env::var(format!("SPIN_VARIABLE_{name}")).ok();
        Variables {
            environment: var("ENVIRONMENT"),
            worker_secret: var("WORKER_SECRET"),
            worker_secret_previous: var("WORKER_SECRET_PREVIOUS"),
            session_secret: var("SESSION_SECRET"),
        }
    }
}

/// Runs a command.
pub fn run(command: Command, variables: &Variables) -> Output {
    match command {
        Command::Help => Output {
            stdout: USAGE.to_string(),
            ..Output::default()
        },
        Command::Check { file, environment } => match read(&file) {
            Ok(contents) => check(&contents, environment, variables),
            Err(output) => output,
        },
        Command::Explain { file, method, path } => match read(&file) {
            Ok(contents) => explain(&contents, &method, &path),
            Err(output) => output,
        },
    }
}

fn read(file: &str) -> Result<String, Output> {
    std::fs::read_to_string(file)
        .map_err(|e| Output::failure(format!("error: cannot read {file}: {e}\n")))
}

/// `policy check`: builds the whole configuration as the component would.
pub fn check(contents: &str, environment: Option<String>, variables: &Variables) -> Output {
    let raw = RawSettings {
        environment: environment.or_else(|| variables.environment.clone()),
        policy: Some(contents.to_string()),
        policy_file: None,
        worker_secret: variables.worker_secret.clone(),
        worker_secret_previous: variables.worker_secret_previous.clone(),
        session_secret: variables.session_secret.clone(),
    };
    match WardenConfig::build(raw) {
        Ok(config) => {
            let routes = &config.policy.routes;
            let plural = if routes.len() == 1 { "" } else { "s" };
            let mut stdout = format!("ok: {} route{plural} (source: file)\n", routes.len());
            for (i, route) in routes.iter().enumerate() {
                let _ = writeln!(stdout, "  [{i}] {}", describe(route));
            }
            Output {
                stdout,
                ..Output::default()
            }
        }
        Err(errors) => Output::failure(
            errors
                .0
                .iter()
                .map(|problem| format!("error: {problem}\n"))
                .collect(),
        ),
    }
}

/// `policy explain`: which route a request would get.
pub fn explain(contents: &str, method: &str, path: &str) -> Output {
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Output::usage_error("METHOD must be an HTTP method token such as GET");
    }
    let policy = match parse_policy(contents) {
        Ok(policy) => policy,
        Err(problems) => {
            return Output::failure(
                problems
                    .iter()
                    .map(|problem| format!("error: {problem}\n"))
                    .collect(),
            );
        }
    };
    let normalized = match normalize_path(path) {
        Ok(normalized) => normalized,
        Err(rejection) => {
            let r = Rejection::BadRequest;
            return Output {
                stdout: format!(
                    "refused: {} {} ({})\n",
                    r.status(),
                    r.code(),
                    rejection.reason()
                ),
                code: 1,
                ..Output::default()
            };
        }
    };
    match policy.match_route(method, &normalized) {
        Some((i, route)) => Output {
            stdout: format!(
                "match: [{i}] {}\n  normalized path: {normalized}\n",
                describe(route)
            ),
            ..Output::default()
        },
        None => Output {
            stdout: format!("no route matches {method} {normalized}\n"),
            code: 1,
            ..Output::default()
        },
    }
}

/// One line about a route: `name  METHODS path  auth=… rate_limit=…`.
fn describe(route: &Route) -> String {
    let methods = route
        .methods
        .as_ref()
        .map_or_else(|| "ANY".to_string(), |m| m.join(","));
    let mut line = format!(
        "{}  {methods} {}  auth={}",
        route.name,
        route.path,
        route.auth.as_str()
    );
    if !route.roles.is_empty() {
        let _ = write!(line, " roles={}", route.roles.join(","));
    }
    let _ = write!(line, " rate_limit={}", route.rate_limit);
    if !route.skip.is_empty() {
        let skip: Vec<&str> = route.skip.iter().map(|l| l.as_str()).collect();
        let _ = write!(line, " skip={}", skip.join(","));
    }
    line
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
        [[routes]]
        name = "admin"
        methods = ["GET", "POST"]
        path = "/admin/*"
        auth = "required"
        roles = ["admin"]
        rate_limit = "strict"

        [[routes]]
        name = "hooks"
        path = "/hooks/*"
        auth = "worker"
        rate_limit = { requests = 10, window = "15m" }
        skip = ["cors"]

        [[routes]]
        name = "rest"
        path = "/*"
    "#;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn with_secret() -> Variables {
        Variables {
            worker_secret: Some(SECRET.into()),
            ..Variables::default()
        }
    }

    #[test]
    fn check_ok_lists_routes() {
        let out = check(POLICY, None, &with_secret());
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            out.stdout,
            "ok: 3 routes (source: file)\n\
             \x20 [0] admin  GET,POST /admin/*  auth=required roles=admin rate_limit=strict(20/60s key=ip)\n\
             \x20 [1] hooks  ANY /hooks/*  auth=worker rate_limit=custom(10/900s key=ip) skip=cors\n\
             \x20 [2] rest  ANY /*  auth=none rate_limit=web(300/60s key=ip)\n"
        );
        assert!(!out.stdout.contains(SECRET));
    }

    #[test]
    fn check_reports_every_problem() {
        let out = check(POLICY, Some("prod".into()), &Variables::default());
        assert_eq!(out.code, 1);
        assert_eq!(out.stdout, "");
        assert_eq!(
            out.stderr,
            "error: environment: must be one of: production, staging, preview, development\n\
             error: routes[1].auth: route \"hooks\" uses auth = \"worker\" but worker_secret is not set\n"
        );
        let out = check("[[routes]]\nname = 1\n", None, &Variables::default());
        assert_eq!(out.code, 1);
        assert_eq!(out.stderr.lines().count(), 2, "{}", out.stderr);
    }

    #[test]
    fn check_environment_flag_wins_over_variable() {
        let vars = Variables {
            environment: Some("nonsense".into()),
            ..with_secret()
        };
        assert_eq!(check(POLICY, None, &vars).code, 1);
        assert_eq!(check(POLICY, Some("staging".into()), &vars).code, 0);
    }

    #[test]
    fn explain_match() {
        let out = explain(POLICY, "HEAD", "/Admin//users?x=1");
        assert_eq!(out.code, 0);
        assert!(
            out.stdout.starts_with("match: [0] admin  "),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("normalized path: /admin/users"));
        let out = explain(POLICY, "DELETE", "/admin/users");
        assert!(
            out.stdout.starts_with("match: [2] rest  "),
            "{}",
            out.stdout
        );
    }

    #[test]
    fn explain_refusal_and_no_match() {
        let out = explain(POLICY, "GET", "/admin/%2e%2e/x");
        assert_eq!(out.code, 1);
        assert_eq!(out.stdout, "refused: 400 BAD_REQUEST (dot segment)\n");

        let only = "[[routes]]\nname = \"h\"\npath = \"/health\"\n";
        let out = explain(only, "GET", "/x");
        assert_eq!(out.code, 1);
        assert_eq!(out.stdout, "no route matches GET /x\n");

        assert_eq!(explain(POLICY, "GE T", "/").code, 2);
        assert_eq!(explain("routes = []", "GET", "/").code, 1);
    }

    #[test]
    fn unreadable_file() {
        let out = run(
            Command::Check {
                file: "/nonexistent/warden.toml".into(),
                environment: None,
            },
            &Variables::default(),
        );
        assert_eq!(out.code, 1);
        assert!(
            out.stderr
                .starts_with("error: cannot read /nonexistent/warden.toml")
        );
    }

    #[test]
    fn help_and_usage() {
        let out = run(Command::Help, &Variables::default());
        assert_eq!(out.code, 0);
        assert!(out.stdout.contains("warden policy check FILE"));
        let out = Output::usage_error("nope");
        assert_eq!(out.code, 2);
        assert!(out.stderr.starts_with("error: nope\n"));
    }
}
