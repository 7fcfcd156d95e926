//! The `warden` command: check and explain a policy file before deploying it.

mod apikey;
mod args;
mod commands;
mod jwt_inspect;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let output = match args::parse(&args) {
        Ok(command) => commands::run(command, &commands::Variables::from_env()),
        Err(message) => commands::Output::usage_error(&message),
    };
    print!("{}", output.stdout);
    eprint!("{}", output.stderr);
    ExitCode::from(output.code)
}
