//! The commands, as functions from inputs to printed output and exit code, so
//! they can be tested without a process.

use std::fmt::Write as _;

use warden_core::base::denial::Rejection;
use warden_core::base::host_profile::HostFlavour;
use warden_core::config::{RawSettings, WardenConfig};
use warden_core::http::path::normalize_path_with;
use warden_core::layers::signature::Scheme;
use warden_core::policy::{Route, Unmatched, parse_policy};

use crate::args::{Command, SignArgs, USAGE, WebhookArgs};

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

    pub(crate) fn failure(stderr: String) -> Output {
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
    /// Every `SPIN_VARIABLE_*` as (the name after the prefix, value): the
    /// webhook routes' secret variables are known only once the policy is
    /// read, so `check` looks them up here.
    pub all: Vec<(String, String)>,
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
            // Not valid UTF-8: left out, as Spin could not read it either.
            all: std::env::vars_os()
                .filter_map(|(name, value)| {
                    let name = name.into_string().ok()?;
                    let name = name.strip_prefix("SPIN_VARIABLE_")?.to_string();
                    Some((name, value.into_string().ok()?))
                })
                .collect(),
        }
    }

    /// The value of the Spin variable `name` (lower case, as the policy
    /// names it), from `SPIN_VARIABLE_` and its name in upper case.
    fn get(&self, name: &str) -> Option<&str> {
        let upper = name.to_ascii_uppercase();
        self.all
            .iter()
            .find(|(n, _)| *n == upper)
            .map(|(_, value)| value.as_str())
    }
}

/// Runs a command.
pub fn run(command: Command, variables: &Variables) -> Output {
    match command {
        Command::Help => Output {
            stdout: USAGE.to_string(),
            ..Output::default()
        },
        Command::Check {
            file,
            environment,
            flavour,
        } => match read(&file) {
            Ok(contents) => check(&contents, environment, flavour, variables),
            Err(output) => output,
        },
        Command::Explain { file, method, path } => match read(&file) {
            Ok(contents) => explain(&contents, &method, &path),
            Err(output) => output,
        },
        Command::Sign(args) => sign_command(&args),
        Command::SignWebhook(args) => sign_webhook_command(&args),
        Command::ApiKey(command) => crate::apikey::run(command),
        Command::JwtInspect(args) => crate::jwt_inspect::run(&args),
        Command::Keygen => match random_bytes::<32>() {
            Ok(bytes) => Output {
                stdout: format!("{}\n", hex(&bytes)),
                ..Output::default()
            },
            Err(message) => Output::failure(format!("error: {message}\n")),
        },
    }
}

/// What signing reads from the world: the secret from the environment
/// variable, the body file, the clock and 16 random bytes.
struct SigningInputs {
    secret: String,
    body: Vec<u8>,
    now: u64,
    random: [u8; 16],
}

impl SigningInputs {
    fn read(secret_env: &str, body_file: Option<&str>) -> Result<SigningInputs, Output> {
        let fail = |message: String| Output::failure(format!("error: {message}\n"));
        let secret = std::env::var(secret_env).map_err(|_| {
            fail(format!(
                "the environment variable {secret_env} (--secret-env) is not set"
            ))
        })?;
        let body = match body_file {
            None => Vec::new(),
            Some(file) => {
                std::fs::read(file).map_err(|e| fail(format!("cannot read {file}: {e}")))?
            }
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let random = random_bytes::<16>().map_err(fail)?;
        Ok(SigningInputs {
            secret,
            body,
            now,
            random,
        })
    }
}

/// The headers as stdout, or the error.
fn headers_output(signed: Result<String, String>) -> Output {
    match signed {
        Ok(stdout) => Output {
            stdout,
            ..Output::default()
        },
        Err(message) => Output::failure(format!("error: {message}\n")),
    }
}

/// `sign` with the real environment, file, clock and randomness.
fn sign_command(args: &SignArgs) -> Output {
    match SigningInputs::read(&args.secret_env, args.body_file.as_deref()) {
        Ok(i) => headers_output(sign(args, &i.secret, &i.body, i.now, &hex(&i.random))),
        Err(output) => output,
    }
}

/// `sign`: the signing headers for one request, one `Name: value` per line.
/// `now` and `random_nonce` are used unless the arguments fix them.
pub fn sign(
    args: &SignArgs,
    secret: &str,
    body: &[u8],
    now: u64,
    random_nonce: &str,
) -> Result<String, String> {
    use warden_core::config::MIN_WORKER_SECRET_CHARS;
    use warden_core::layers::signature::config::{
        DEFAULT_SIGNATURE_HEADER, DEFAULT_TIMESTAMP_HEADER,
    };
    use warden_core::layers::signature::content_digest::{Algorithm, header_value};
    use warden_core::layers::signature::{
        RequestView, SignParams, request_nonce, sign_request_nonce, sign_rfc9421, sign_worker,
    };

    if secret.trim().chars().count() < MIN_WORKER_SECRET_CHARS {
        return Err(format!(
            "the secret in {} is shorter than {MIN_WORKER_SECRET_CHARS} characters; warden refuses such secrets",
            args.secret_env
        ));
    }
    let key = secret.as_bytes();
    let (scheme, authority, target) = split_url(&args.url)?;
    let method = args.method.to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err("--method must be an HTTP method token such as POST".into());
    }
    let timestamp = args.timestamp.unwrap_or(now).to_string();
    let mut lines: Vec<(String, String)> = Vec::new();
    match args.scheme.as_str() {
        "worker" => {
            let signature_header = args
                .signature_header
                .clone()
                .unwrap_or_else(|| DEFAULT_SIGNATURE_HEADER.into());
            let timestamp_header = args
                .timestamp_header
                .clone()
                .unwrap_or_else(|| DEFAULT_TIMESTAMP_HEADER.into());
            lines.push((signature_header, sign_worker(key, &timestamp, body)));
            lines.push((timestamp_header, timestamp));
            if let Some(nonce) = &args.nonce {
                lines.push(("X-Worker-Nonce".into(), nonce.clone()));
            }
        }
        "request-nonce" => {
            let nonce = args.nonce.clone().unwrap_or_else(|| random_nonce.into());
            lines.push((
                request_nonce::SIGNATURE_HEADER.into(),
                sign_request_nonce(key, body, &timestamp, &nonce),
            ));
            lines.push((request_nonce::TIMESTAMP_HEADER.into(), timestamp));
            lines.push((request_nonce::NONCE_HEADER.into(), nonce));
        }
        "rfc9421" => {
            let components: Vec<String> = match &args.components {
                Some(list) => list.split(',').map(|c| c.trim().to_string()).collect(),
                None => {
                    let mut c: Vec<String> = ["@method", "@authority", "@path"]
                        .map(String::from)
                        .to_vec();
                    if !body.is_empty() {
                        c.push("content-digest".into());
                    }
                    c
                }
            };
            let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
            if components.iter().any(|c| c == "content-digest") {
                let digest = header_value(body, Algorithm::Sha256);
                headers.push(("content-digest".into(), digest.clone().into_bytes()));
                lines.push(("Content-Digest".into(), digest));
            }
            let request = RequestView {
                method: &method,
                scheme: &scheme,
                authority: &authority,
                path_and_query: &target,
                headers: &headers,
            };
            let params = SignParams {
                label: "sig1".into(),
                keyid: args.keyid.clone().unwrap_or_else(|| "current".into()),
                created: args.timestamp.unwrap_or(now),
                expires: None,
                nonce: Some(args.nonce.clone().unwrap_or_else(|| random_nonce.into())),
                alg: true,
            };
            let refs: Vec<&str> = components.iter().map(String::as_str).collect();
            let signed = sign_rfc9421(&request, &refs, &params, key)
                .map_err(|e| format!("cannot sign: {e}"))?;
            lines.push(("Signature-Input".into(), signed.signature_input));
            lines.push(("Signature".into(), signed.signature));
        }
        other => return Err(format!("unknown scheme {other}")),
    }
    Ok(lines
        .into_iter()
        .map(|(name, value)| format!("{name}: {value}\n"))
        .collect())
}

/// `sign` for a webhook scheme, with the real environment, file, clock and
/// randomness.
fn sign_webhook_command(args: &WebhookArgs) -> Output {
    match SigningInputs::read(&args.secret_env, args.body_file.as_deref()) {
        Ok(i) => headers_output(sign_webhook(args, &i.secret, &i.body, i.now, &i.random)),
        Err(output) => output,
    }
}

/// `sign` for a webhook scheme: the headers the provider would send, one
/// `Name: value` per line. `now` is used unless `--timestamp` fixes it, and
/// `random` (16 bytes) makes the id unless `--id` does.
pub fn sign_webhook(
    args: &WebhookArgs,
    secret: &str,
    body: &[u8],
    now: u64,
    random: &[u8; 16],
) -> Result<String, String> {
    use warden_core::layers::signature::webhook::{WebhookMessage, key_bytes, sign};

    // As the component: a blank variable is an unset one.
    if secret.trim().is_empty() {
        return Err(format!("the secret in {} is empty", args.secret_env));
    }
    // key_bytes's messages never contain the secret.
    let key = key_bytes(args.scheme, secret)
        .map_err(|message| format!("the secret in {} {message}", args.secret_env))?;
    let id = match &args.id {
        Some(id) => Some(id.clone()),
        None => random_id(args.scheme, random),
    };
    let message = WebhookMessage {
        timestamp: args.timestamp.unwrap_or(now),
        id: id.as_deref(),
        body,
    };
    let headers = sign(args.scheme, &key, &message)
        .ok_or_else(|| format!("{} is not a webhook scheme", args.scheme.as_str()))?;
    Ok(headers
        .into_iter()
        .map(|(name, value)| format!("{name}: {value}\n"))
        .collect())
}

/// A fresh id shaped like the provider's own, for the schemes that send
/// one: a UUIDv4 for GitHub's delivery, `msg_` and hex for Standard Webhooks.
fn random_id(scheme: Scheme, random: &[u8; 16]) -> Option<String> {
    match scheme {
        Scheme::Github => {
            let mut b = *random;
            b[6] = (b[6] & 0x0f) | 0x40; // version 4
            b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
            let h = hex(&b);
            Some(format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            ))
        }
        Scheme::Standard => Some(format!("msg_{}", hex(random))),
        _ => None,
    }
}

/// `(scheme, authority, path-and-query)` of an absolute http(s) URL; the
/// fragment is dropped, an empty path is `/`.
fn split_url(url: &str) -> Result<(String, String, String), String> {
    let invalid = || format!("--url must be an absolute http:// or https:// URL, not {url:?}");
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(invalid());
    }
    let rest = rest.split('#').next().unwrap_or("");
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(split);
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return Err(invalid());
    }
    let target = if target.starts_with('/') {
        target.to_string()
    } else {
        format!("/{target}")
    };
    Ok((scheme, authority.to_string(), target))
}

/// `N` bytes from the operating system's random source.
fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    use std::io::Read as _;
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(bytes)
}

use warden_core::base::digest::hex;

fn read(file: &str) -> Result<String, Output> {
    std::fs::read_to_string(file)
        .map_err(|e| Output::failure(format!("error: cannot read {file}: {e}\n")))
}

/// `policy check`: builds the whole configuration as the component of
/// `flavour` would.
pub fn check(
    contents: &str,
    environment: Option<String>,
    flavour: HostFlavour,
    variables: &Variables,
) -> Output {
    let raw = RawSettings {
        environment: environment.or_else(|| variables.environment.clone()),
        policy: Some(contents.to_string()),
        policy_file: None,
        worker_secret: variables.worker_secret.clone(),
        worker_secret_previous: variables.worker_secret_previous.clone(),
        session_secret: variables.session_secret.clone(),
        policy_secrets: Vec::new(),
        flavour,
    };
    // As the component does: the policy names its secret variables
    // (webhook secrets, [jwt]'s), which are read once the policy is known.
    let policy_secrets = raw
        .policy_variables()
        .into_iter()
        .filter_map(|name| {
            let value = variables.get(&name)?.to_string();
            Some((name, value))
        })
        .collect();
    let raw = RawSettings {
        policy_secrets,
        ..raw
    };
    match WardenConfig::build(raw) {
        Ok(config) => {
            let routes = &config.policy.routes;
            let plural = if routes.len() == 1 { "" } else { "s" };
            let mut stdout = format!("ok: {} route{plural} (source: file)\n", routes.len());
            for (i, route) in routes.iter().enumerate() {
                let _ = writeln!(stdout, "  [{i}] {}", describe(route));
            }
            // Valid, so exit 0, but probably not what was meant.
            let stderr = config
                .policy
                .warnings()
                .iter()
                .map(|warning| format!("warning: {warning}\n"))
                .collect();
            Output {
                stdout,
                stderr,
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
    let normalized = match normalize_path_with(path, policy.settings.path) {
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
    if let Some(ready) = policy.ready.as_ref().filter(|r| r.is_at(&normalized)) {
        let answer = if ready.allows(&method.to_ascii_uppercase()) {
            format!("rate_limit={}", ready.route.keys.rate_limit)
        } else {
            let r = Rejection::MethodNotAllowed;
            format!("refused: {} {} (Allow: GET, HEAD)", r.status(), r.code())
        };
        return Output {
            stdout: format!(
                "readiness probe ([settings] ready), answered by warden: {answer}\n  normalized path: {normalized}\n"
            ),
            ..Output::default()
        };
    }
    match policy.match_route(method, &normalized) {
        Some((i, route)) => Output {
            stdout: format!(
                "match: [{i}] {}\n  normalized path: {normalized}\n",
                describe(route)
            ),
            ..Output::default()
        },
        None => Output {
            stdout: match policy.settings.unmatched {
                Unmatched::Forward => format!(
                    "no route matches {method} {normalized}: forwarded with no layer (settings.unmatched = \"forward\")\n"
                ),
                // As warden answers: 405 with `Allow` when routes take
                // the path with other methods, else 404.
                Unmatched::Deny => match policy.allow_for_path(&normalized) {
                    Some(allow) => format!(
                        "no route matches {method} {normalized}: refused: 405 METHOD_NOT_ALLOWED, Allow: {allow} (settings.unmatched = \"deny\")\n"
                    ),
                    None => format!(
                        "no route matches {method} {normalized}: refused: 404 NOT_FOUND (settings.unmatched = \"deny\")\n"
                    ),
                },
            },
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
    let _ = write!(line, " rate_limit={}", route.keys.rate_limit);
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
        let out = check(POLICY, None, HostFlavour::Spin, &with_secret());
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

    /// POLICY's admin route requires a session for GET and POST only: a
    /// DELETE to /admin/users lands on `rest`, with no auth at all.
    #[test]
    fn check_warns_when_other_methods_fall_through_to_weaker_auth() {
        let out = check(POLICY, None, HostFlavour::Spin, &with_secret());
        assert_eq!(out.code, 0, "a warning is not an error");
        assert_eq!(
            out.stderr,
            "warning: routes[0].methods: route \"admin\" requires auth = \"required\" only for GET, POST; any other method on /admin/* falls through to routes[2] (\"rest\", auth = \"none\"); list every method on the strict route, or add a route for the others\n"
        );
        assert_eq!(
            explain(POLICY, "DELETE", "/admin/users")
                .stdout
                .split_whitespace()
                .nth(2),
            Some("rest")
        );
        // Covering the other methods with a strong route silences it.
        let fixed = POLICY.replace(
            "[[routes]]\n        name = \"rest\"",
            "[[routes]]\n        name = \"admin-other\"\n        path = \"/admin/*\"\n        auth = \"required\"\n\n        [[routes]]\n        name = \"rest\"",
        );
        assert_ne!(fixed, POLICY);
        let out = check(&fixed, None, HostFlavour::Spin, &with_secret());
        assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    }

    #[test]
    fn check_reports_every_problem() {
        let out = check(
            POLICY,
            Some("prod".into()),
            HostFlavour::Spin,
            &Variables::default(),
        );
        assert_eq!(out.code, 1);
        assert_eq!(out.stdout, "");
        assert_eq!(
            out.stderr,
            "error: environment: must be one of: production, staging, preview, development\n\
             error: routes[1].auth: route \"hooks\" uses auth = \"worker\" but worker_secret is not set\n"
        );
        let out = check(
            "[[routes]]\nname = 1\n",
            None,
            HostFlavour::Spin,
            &Variables::default(),
        );
        assert_eq!(out.code, 1);
        assert_eq!(out.stderr.lines().count(), 2, "{}", out.stderr);
    }

    #[test]
    fn check_environment_flag_wins_over_variable() {
        let vars = Variables {
            environment: Some("nonsense".into()),
            ..with_secret()
        };
        assert_eq!(check(POLICY, None, HostFlavour::Spin, &vars).code, 1);
        assert_eq!(
            check(POLICY, Some("staging".into()), HostFlavour::Spin, &vars).code,
            0
        );
    }

    #[test]
    fn explain_readiness_probe() {
        let out = explain(POLICY, "GET", "/.warden/ready");
        assert_eq!(out.code, 0);
        assert!(
            out.stdout.starts_with(
                "readiness probe ([settings] ready), answered by warden: rate_limit=web"
            ),
            "{}",
            out.stdout
        );
        let out = explain(POLICY, "POST", "/.warden/ready");
        assert!(
            out.stdout.contains("refused: 405 METHOD_NOT_ALLOWED"),
            "{}",
            out.stdout
        );
        let off = format!("[settings]\nready = false\n{POLICY}");
        assert!(
            explain(&off, "GET", "/.warden/ready")
                .stdout
                .starts_with("match: ")
        );
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
        assert_eq!(
            out.stdout,
            "no route matches GET /x: forwarded with no layer (settings.unmatched = \"forward\")\n"
        );
        let deny = "[settings]\nunmatched = \"deny\"\n[[routes]]\nname = \"h\"\nmethods = [\"GET\"]\npath = \"/health\"\n";
        assert_eq!(
            explain(deny, "POST", "/health").stdout,
            "no route matches POST /health: refused: 405 METHOD_NOT_ALLOWED, Allow: GET, HEAD (settings.unmatched = \"deny\")\n"
        );
        assert_eq!(
            explain(deny, "GET", "/x").stdout,
            "no route matches GET /x: refused: 404 NOT_FOUND (settings.unmatched = \"deny\")\n"
        );

        assert_eq!(explain(POLICY, "GE T", "/").code, 2);
        assert_eq!(explain("routes = []", "GET", "/").code, 1);
    }

    #[test]
    fn a_policy_is_checked_for_the_flavour_it_will_run_as() {
        let policy = "[[routes]]\nname = \"orders\"\npath = \"/orders\"\nidempotency = {}\n";
        assert_eq!(
            check(policy, None, HostFlavour::Spin, &Variables::default()).code,
            0
        );
        let out = check(policy, None, HostFlavour::Wasmcloud, &Variables::default());
        assert_eq!(out.code, 1);
        assert!(
            out.stderr.contains(
                "routes[0].idempotency: needs key-value compare-and-swap, which the wasmcloud flavour (warden-wasmcloud.wasm) does not have"
            ),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn unreadable_file() {
        let out = run(
            Command::Check {
                file: "/nonexistent/warden.toml".into(),
                environment: None,
                flavour: HostFlavour::Spin,
            },
            &Variables::default(),
        );
        assert_eq!(out.code, 1);
        assert!(
            out.stderr
                .starts_with("error: cannot read /nonexistent/warden.toml")
        );
    }

    fn sign_args(scheme: &str) -> SignArgs {
        SignArgs {
            scheme: scheme.into(),
            secret_env: "WORKER_SECRET".into(),
            method: "post".into(),
            url: "http://127.0.0.1:3000/internal/hook?x=1#frag".into(),
            body_file: None,
            keyid: None,
            nonce: None,
            timestamp: Some(1_700_000_000),
            components: None,
            signature_header: None,
            timestamp_header: None,
        }
    }

    #[test]
    fn sign_prints_curl_ready_headers() {
        let body = br#"{"userId":"123"}"#;
        let out = sign(&sign_args("worker"), SECRET, body, 0, "n").unwrap();
        assert_eq!(
            out,
            format!(
                "X-Worker-Signature: {}\nX-Worker-Timestamp: 1700000000\n",
                warden_core::layers::signature::sign_worker(SECRET.as_bytes(), "1700000000", body)
            )
        );
        let out = sign(&sign_args("request-nonce"), SECRET, body, 0, "abc").unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("X-Request-Signature: ") && lines[0].len() == 21 + 64);
        assert_eq!(
            &lines[1..],
            ["X-Request-Timestamp: 1700000000", "X-Request-Nonce: abc"]
        );
        let out = sign(&sign_args("rfc9421"), SECRET, body, 0, "abc").unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[0].starts_with("Content-Digest: sha-256=:"));
        assert_eq!(
            lines[1],
            r#"Signature-Input: sig1=("@method" "@authority" "@path" "content-digest");created=1700000000;nonce="abc";keyid="current";alg="hmac-sha256""#
        );
        assert!(lines[2].starts_with("Signature: sig1=:"));
        // Without a body there is no digest to cover.
        let out = sign(&sign_args("rfc9421"), SECRET, b"", 0, "abc").unwrap();
        assert!(
            !out.contains("content-digest") && !out.contains("Content-Digest"),
            "{out}"
        );
    }

    #[test]
    fn sign_output_verifies_with_the_core() {
        use warden_core::layers::signature::{Keys, RequestView, WorkerSettings, verify};
        let body = b"hello";
        for scheme in ["worker", "request-nonce", "rfc9421"] {
            let out = sign(&sign_args(scheme), SECRET, body, 0, "nonce-1").unwrap();
            let headers: Vec<(String, Vec<u8>)> = out
                .lines()
                .map(|l| {
                    let (n, v) = l.split_once(": ").unwrap();
                    (n.to_string(), v.as_bytes().to_vec())
                })
                .collect();
            let settings = WorkerSettings {
                scheme: warden_core::layers::signature::Scheme::from_name(scheme).unwrap(),
                ..WorkerSettings::default()
            };
            let rule = settings.rule_for(&Default::default());
            let request = RequestView {
                method: "POST",
                scheme: "http",
                authority: "127.0.0.1:3000",
                path_and_query: "/internal/hook?x=1",
                headers: &headers,
            };
            let keys = Keys {
                current: SECRET.as_bytes(),
                previous: None,
            };
            assert!(
                verify(&settings, &rule, &request, body, &keys, 1_700_000_000).is_ok(),
                "{scheme}"
            );
        }
    }

    #[test]
    fn sign_refusals() {
        assert!(
            sign(&sign_args("worker"), "short", b"", 0, "n")
                .unwrap_err()
                .contains("shorter than 32")
        );
        for url in ["127.0.0.1/x", "ftp://h/x", "http:///x", "http://user@h/x"] {
            let args = SignArgs {
                url: url.into(),
                ..sign_args("worker")
            };
            assert!(sign(&args, SECRET, b"", 0, "n").is_err(), "{url}");
        }
        let args = SignArgs {
            components: Some("@status".into()),
            ..sign_args("rfc9421")
        };
        assert!(
            sign(&args, SECRET, b"", 0, "n")
                .unwrap_err()
                .starts_with("cannot sign")
        );
        let args = SignArgs {
            method: "GE T".into(),
            ..sign_args("worker")
        };
        assert!(sign(&args, SECRET, b"", 0, "n").is_err());
        assert_eq!(
            split_url("https://H.example:8443?q=1").unwrap(),
            ("https".into(), "H.example:8443".into(), "/?q=1".into())
        );
    }

    fn webhook_args(scheme: Scheme) -> WebhookArgs {
        WebhookArgs {
            scheme,
            secret_env: "HOOK_SECRET".into(),
            body_file: None,
            timestamp: None,
            id: None,
        }
    }

    const RANDOM: [u8; 16] = [0xab; 16];

    /// The providers' published examples (Stripe publishes none with a
    /// secret: its value is Python's hmac over `{t}.{body}`).
    #[test]
    fn sign_webhook_reproduces_the_providers_examples() {
        let github = WebhookArgs {
            id: Some("72d3162e-cc78-11e3-81ab-4c9367dc0958".into()),
            ..webhook_args(Scheme::Github)
        };
        assert_eq!(
            sign_webhook(&github, "It's a Secret to Everybody", b"Hello, World!", 0, &RANDOM),
            Ok("X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\n\
                X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958\n"
                .into())
        );

        let slack_body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let slack = WebhookArgs {
            timestamp: Some(1_531_420_618),
            ..webhook_args(Scheme::Slack)
        };
        assert_eq!(
            sign_webhook(&slack, "8f742231b10e8888abcd99yyyzzz85a5", slack_body.as_bytes(), 0, &RANDOM),
            Ok("X-Slack-Request-Timestamp: 1531420618\n\
                X-Slack-Signature: v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503\n"
                .into())
        );

        let standard = WebhookArgs {
            timestamp: Some(1_614_265_330),
            id: Some("msg_p5jXN8AQM9LWM0D4loKWxJek".into()),
            ..webhook_args(Scheme::Standard)
        };
        assert_eq!(
            sign_webhook(
                &standard,
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                br#"{"test": 2432232314}"#,
                0,
                &RANDOM
            ),
            Ok("webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\n\
                webhook-timestamp: 1614265330\n\
                webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\n"
                .into())
        );

        // The whole whsec_ text is Stripe's key.
        let stripe = webhook_args(Scheme::Stripe);
        assert_eq!(
            sign_webhook(
                &stripe,
                "whsec_test_secret_for_the_docs_0123456789",
                br#"{"id":"evt_1","type":"invoice.paid"}"#,
                1_700_000_000,
                &RANDOM
            ),
            Ok("Stripe-Signature: t=1700000000,v1=aa56051830e434c0b5bcb5ded74986a96caa47a361d31288a781653ec692e1c1\n".into())
        );
    }

    /// Without --id, a fresh id shaped like the provider's; the timestamp
    /// is now.
    #[test]
    fn sign_webhook_defaults() {
        let out = sign_webhook(&webhook_args(Scheme::Github), "s", b"", 7, &RANDOM).unwrap();
        assert!(
            out.ends_with("\nX-GitHub-Delivery: abababab-abab-4bab-abab-abababababab\n"),
            "{out}"
        );
        let out = sign_webhook(
            &webhook_args(Scheme::Standard),
            STANDARD_SECRET,
            b"",
            7,
            &RANDOM,
        )
        .unwrap();
        assert!(
            out.starts_with(&format!(
                "webhook-id: msg_{}\nwebhook-timestamp: 7\n",
                "ab".repeat(16)
            )),
            "{out}"
        );
        for scheme in [Scheme::Stripe, Scheme::Slack] {
            let out = sign_webhook(&webhook_args(scheme), "s", b"", 7, &RANDOM).unwrap();
            assert!(!out.contains("abab") && out.contains('7'), "{out}");
        }
        assert_eq!(
            random_id(Scheme::Github, &[0xff; 16]).as_deref(),
            Some("ffffffff-ffff-4fff-bfff-ffffffffffff")
        );
        assert_eq!(
            random_id(Scheme::Github, &[0; 16]).as_deref(),
            Some("00000000-0000-4000-8000-000000000000")
        );
    }

    /// What the CLI prints, warden accepts, for every webhook scheme.
    #[test]
    fn sign_webhook_output_verifies_with_the_core() {
        use warden_core::layers::signature::webhook::key_bytes;
        use warden_core::layers::signature::{Keys, RequestView, WorkerSettings, verify};
        let body = br#"{"id":"evt_1","event_id":"Ev1"}"#;
        for (scheme, secret) in [
            (Scheme::Stripe, "whsec_test_secret_for_the_docs_0123456789"),
            (Scheme::Github, "It's a Secret to Everybody"),
            (Scheme::Standard, STANDARD_SECRET),
            (Scheme::Slack, "8f742231b10e8888abcd99yyyzzz85a5"),
        ] {
            let out =
                sign_webhook(&webhook_args(scheme), secret, body, 1_700_000_000, &RANDOM).unwrap();
            let headers: Vec<(String, Vec<u8>)> = out
                .lines()
                .map(|l| {
                    let (n, v) = l.split_once(": ").unwrap();
                    (n.to_string(), v.as_bytes().to_vec())
                })
                .collect();
            let request = RequestView {
                method: "POST",
                scheme: "https",
                authority: "api.example.com",
                path_and_query: "/hooks",
                headers: &headers,
            };
            let settings = WorkerSettings::default();
            let rule = settings.rule_for(&scheme.into());
            let key = key_bytes(scheme, secret).unwrap();
            let keys = Keys {
                current: &key,
                previous: None,
            };
            assert!(
                verify(&settings, &rule, &request, body, &keys, 1_700_000_000).is_ok(),
                "{scheme:?}: {out}"
            );
        }
    }

    /// A secret warden would refuse is refused here, and never echoed.
    #[test]
    fn sign_webhook_refusals() {
        for bad in ["whsec_not base64!", "whsec_c2hvcnQ=", "MfKQ9r8G-secret"] {
            let message =
                sign_webhook(&webhook_args(Scheme::Standard), bad, b"", 0, &RANDOM).unwrap_err();
            assert!(
                message.starts_with("the secret in HOOK_SECRET must"),
                "{message}"
            );
            assert!(
                !message.contains(bad.trim_start_matches("whsec_")),
                "{message}"
            );
        }
        for scheme in [
            Scheme::Stripe,
            Scheme::Github,
            Scheme::Standard,
            Scheme::Slack,
        ] {
            assert_eq!(
                sign_webhook(&webhook_args(scheme), " \n", b"", 0, &RANDOM),
                Err("the secret in HOOK_SECRET is empty".into())
            );
        }
    }

    const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    const WEBHOOK_POLICY: &str = r#"
        [[routes]]
        name = "stripe"
        path = "/hooks/stripe"
        auth = "worker"
        worker = "stripe"

        [[routes]]
        name = "svix"
        path = "/hooks/svix"
        auth = "worker"
        worker = { scheme = "standard", secret = "svix_secret" }
    "#;

    fn spin_variables(pairs: &[(&str, &str)]) -> Variables {
        Variables {
            all: pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Variables::default()
        }
    }

    /// The webhook routes' secrets come from SPIN_VARIABLE_<NAME>, as the
    /// component reads them from Spin; no worker_secret is needed.
    #[test]
    fn check_reads_the_webhook_secret_variables() {
        let out = check(
            WEBHOOK_POLICY,
            None,
            HostFlavour::Spin,
            &Variables::default(),
        );
        assert_eq!(out.code, 1);
        assert_eq!(
            out.stderr,
            "error: routes[0].worker.secret: route \"stripe\" verifies stripe webhooks with the variable stripe_webhook_secret, which is not set\n\
             error: routes[1].worker.secret: route \"svix\" verifies standard webhooks with the variable svix_secret, which is not set\n"
        );

        let set = spin_variables(&[
            (
                "STRIPE_WEBHOOK_SECRET",
                "whsec_test_secret_for_the_docs_0123456789",
            ),
            ("SVIX_SECRET", STANDARD_SECRET),
            ("SVIX_SECRET_PREVIOUS", STANDARD_SECRET),
        ]);
        let out = check(WEBHOOK_POLICY, None, HostFlavour::Spin, &set);
        assert_eq!((out.code, out.stderr.as_str()), (0, ""));
        assert!(out.stdout.starts_with("ok: 2 routes"), "{}", out.stdout);

        // Only the upper-case name, as Spin's environment provider reads it.
        let lower = spin_variables(&[
            (
                "stripe_webhook_secret",
                "whsec_test_secret_for_the_docs_0123456789",
            ),
            ("SVIX_SECRET", STANDARD_SECRET),
        ]);
        assert_eq!(
            check(WEBHOOK_POLICY, None, HostFlavour::Spin, &lower).code,
            1
        );
    }

    /// A malformed secret is reported by its variable, never its value; so
    /// is a published one in production.
    #[test]
    fn check_reports_bad_webhook_secrets_without_their_values() {
        let bad = spin_variables(&[
            (
                "STRIPE_WEBHOOK_SECRET",
                "whsec_test_secret_for_the_docs_0123456789",
            ),
            ("SVIX_SECRET", "whsec_secret-that-is-not-base64"),
            ("SVIX_SECRET_PREVIOUS", "also not base64"),
        ]);
        let out = check(WEBHOOK_POLICY, None, HostFlavour::Spin, &bad);
        assert_eq!(out.code, 1);
        assert!(
            out.stderr.starts_with("error: svix_secret: must be"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("error: svix_secret_previous: must be"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("not-base64") && !out.stderr.contains("also"));

        let published = spin_variables(&[
            (
                "STRIPE_WEBHOOK_SECRET",
                "whsec_test_secret_for_the_docs_0123456789",
            ),
            ("SVIX_SECRET", STANDARD_SECRET),
        ]);
        let out = check(
            WEBHOOK_POLICY,
            Some("production".into()),
            HostFlavour::Spin,
            &published,
        );
        assert_eq!(out.code, 1);
        assert!(
            out.stderr.contains("stripe_webhook_secret"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("whsec_"), "{}", out.stderr);
    }

    #[test]
    fn keygen_prints_a_fresh_long_secret() {
        let a = run(Command::Keygen, &Variables::default());
        let b = run(Command::Keygen, &Variables::default());
        assert_eq!(a.code, 0);
        let secret = a.stdout.trim();
        assert_eq!(secret.len(), 64);
        assert!(secret.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.stdout, b.stdout);
        // Long enough for worker_secret.
        let config = WardenConfig::build(RawSettings {
            worker_secret: Some(secret.into()),
            ..RawSettings::default()
        });
        assert!(config.is_ok());
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
