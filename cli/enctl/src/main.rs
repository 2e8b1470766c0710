//! `enctl`: parses the command line, reads the environment, runs the command on a
//! single-threaded runtime, and turns an error into kubectl-style stderr and exit status 1.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use enctl::cli::Cli;
use enctl::config::{self, Env, Layer};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let var = |name: &str| std::env::var(name).ok();
    let env = Env {
        urls: Layer {
            admission: var(config::ENV_ADMISSION),
            registry: var(config::ENV_REGISTRY),
            controller: var(config::ENV_CONTROLLER),
        },
        config: std::env::var_os(config::ENV_CONFIG).map(Into::into),
        home: std::env::var_os("HOME").map(Into::into),
    };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(enctl::error::CliError::Output)
        .and_then(|runtime| runtime.block_on(enctl::run(cli, env)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            let text = e.render();
            if !text.is_empty() {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
            ExitCode::FAILURE
        }
    }
}
