//! `enctl`: parses the command line, reads the environment, runs the command on a
//! single-threaded runtime, and turns an error into kubectl-style stderr and exit status 1.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use enctl::cli::Cli;
use enctl::config::Env;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Env::read(|name| std::env::var_os(name));
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
