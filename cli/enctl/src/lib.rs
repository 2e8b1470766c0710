//! enctl: everynode's command-line client, with kubectl's habits.
//!
//! - [`cli`] is the command line (clap); [`args`] checks the positional arguments kubectl users
//!   type (targets, label and taint changes); [`config`] layers the service URLs and the
//!   credentials (flags > environment > config file context > defaults).
//! - [`client`] connects lazily to admission, registry and controller, over mutual TLS with
//!   the credentials (or plaintext with `--insecure`); [`error`] turns their answers into
//!   kubectl's `Error from server (…)` lines.
//! - [`commands`] runs each command; [`print`] holds the pure formatting (tables, describe,
//!   ages, names, JSON/YAML); [`console`] writes stdout and stderr.

pub mod args;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod console;
pub mod error;
pub mod print;

use cli::{Cli, Command};
use config::{Env, Flags};
use console::Console;
use error::CliError;

/// Runs one command line. `env` is what `main` read from the process environment.
pub async fn run(cli: Cli, env: Env) -> Result<(), CliError> {
    // `pki` works on files only: no config file, no service.
    if let Command::Pki(command) = cli.command {
        return commands::pki::run(&Console, command);
    }
    let settings = config::load(&Flags::from(&cli.global), &env)?;
    let ctx = commands::Ctx::new(cli.global, settings);
    commands::run(&ctx, cli.command).await
}
