//! `everynode-chaos`: rolling updates of a DaemonSet over simulated nodes while parts of the
//! system are killed (SIGKILL) or frozen (SIGSTOP) — admission, the registry, the controller
//! holding the lease, an agent process, a nats-server of the cluster — with an independent
//! checker of the pods the agents actually run. Fails on two pods of one DaemonSet on a node,
//! a lost DaemonSet or node, or a convergence slower than `--max-convergence` after a fault is
//! healed. `scripts/chaos` builds the services and runs it.

mod checker;
mod faults;
mod fleet;
mod rng;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use everynode_core::duration::parse_duration;

/// Command line.
#[derive(Debug, Parser)]
#[command(name = "everynode-chaos", version, about)]
struct Args {
    /// Iterations: one rolling update and one fault each.
    #[arg(long, default_value = "12")]
    iterations: usize,
    /// Seed of every random choice (fault order, targets, delays) [default: from the clock].
    #[arg(long)]
    seed: Option<u64>,
    /// Simulated nodes.
    #[arg(long, default_value = "1000")]
    nodes: usize,
    /// Agent processes sharing the nodes.
    #[arg(long, default_value = "4")]
    agents: usize,
    /// Controllers (one holds the lease).
    #[arg(long, default_value = "2")]
    controllers: usize,
    /// nats-server members of the cluster.
    #[arg(long, default_value = "3")]
    nats_members: usize,
    /// The controllers' lease duration.
    #[arg(long, default_value = "6s", value_parser = parse_duration)]
    lease: Duration,
    /// Longest acceptable time from a fault's heal to convergence.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    max_convergence: Duration,
    /// Where the service binaries are [default: beside this binary].
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Keep the run's folder (logs, agents' data) even when it passes.
    #[arg(long)]
    keep: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let bin_dir = args.bin_dir.clone().or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(PathBuf::from))
    });
    let Some(bin_dir) = bin_dir else {
        eprintln!("chaos: cannot tell where the service binaries are; pass --bin-dir");
        return ExitCode::FAILURE;
    };
    let dir = match tempfile::Builder::new()
        .prefix("everynode-chaos-")
        .tempdir()
    {
        Ok(dir) => dir,
        Err(err) => {
            eprintln!("chaos: a temporary folder: {err}");
            return ExitCode::FAILURE;
        }
    };
    let plan = run::Plan {
        shape: fleet::Shape {
            nodes: args.nodes,
            agents: args.agents,
            controllers: args.controllers,
            nats_members: args.nats_members,
            lease: args.lease,
            bin_dir,
            dir: dir.path().to_path_buf(),
        },
        iterations: args.iterations,
        seed,
        max_convergence: args.max_convergence,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("chaos: a runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Ctrl-C or SIGTERM ends the run with its processes (dropping the fleet kills them).
    let outcome = runtime.block_on(async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            report = run::run(&plan) => report,
            _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
            _ = terminate.recv() => anyhow::bail!("terminated"),
        }
    });
    let passed = match outcome {
        Ok(report) => {
            println!("{}", run::summary(&plan, &report));
            report.passed()
        }
        Err(err) => {
            println!("chaos: FAIL: {err:#}");
            false
        }
    };
    if passed && !args.keep {
        drop(dir);
    } else {
        let kept = dir.keep();
        println!(
            "chaos: logs and agents' data kept in {} (rerun with --seed {seed})",
            kept.display()
        );
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
