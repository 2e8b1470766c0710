//! `everynode-bench`: starts its own nats-server and the real services, runs a scenario, prints
//! a table and writes JSON results (`--out FILE`). Every figure is taken from the system's
//! observable state (objects listed back, pods in KV), not from internal counters.
//!
//! ```sh
//! cargo run --release -p everynode-bench -- admission --rate 500 --seconds 5
//! cargo run --release -p everynode-bench -- limit
//! cargo run --release -p everynode-bench -- converge --nodes 2000
//! cargo run --release -p everynode-bench -- join --nodes 1000 --new 1000
//! cargo run --release -p everynode-bench -- relabel --nodes 1000 --moved 500
//! cargo run --release -p everynode-bench -- churn --nodes 1000 --seconds 20
//! ```

mod admission;
mod cluster;
mod limit;
mod scenarios;
mod stats;

use std::time::Duration;

use clap::{Parser, Subcommand};
use everynode_core::duration::parse_duration;
use everynode_testkit::NatsServer;

use crate::stats::{ms, print_table};

#[derive(Debug, Parser)]
#[command(
    name = "everynode-bench",
    about = "everynode's scale and latency benchmark"
)]
struct Args {
    /// Write the results as JSON to this file.
    #[arg(long, global = true)]
    out: Option<std::path::PathBuf>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Raw NATS request/reply and KV compare-and-set rates: the machine's ceiling.
    Limit {
        /// Payload bytes.
        #[arg(long, default_value_t = 1024)]
        payload: usize,
        /// Operations in flight.
        #[arg(long, default_value_t = 32)]
        depth: usize,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
    /// DaemonSet creates through admission: latency at a fixed rate, and throughput at saturation.
    Admission {
        /// Offered creates per second in the fixed-rate phase.
        #[arg(long, default_value_t = 500.0)]
        rate: f64,
        /// Closed-loop clients in the saturation phase (also the depth of the limit run).
        #[arg(long, default_value_t = 32)]
        depth: usize,
        /// Seconds per phase.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// Create → every pod Running+Ready on N simulated nodes and status numberReady = N.
    Converge {
        /// Simulated nodes.
        #[arg(long, default_value_t = 10_000)]
        nodes: usize,
        /// DaemonSets created at once.
        #[arg(long, default_value_t = 1)]
        daemonsets: usize,
        /// Seconds of the raw KV create measurement (after the services stopped).
        #[arg(long, default_value_t = 3.0)]
        limit_seconds: f64,
        #[command(flatten)]
        system: SystemArgs,
    },
    /// M new simulated nodes join N running ones: registered → pod Running, per node.
    Join {
        /// Simulated nodes running before (10,000 + 1,000 takes about 15 s on 2 cores).
        #[arg(long, default_value_t = 10_000)]
        nodes: usize,
        /// New simulated nodes joining at once.
        #[arg(long, default_value_t = 1_000)]
        new: usize,
        #[command(flatten)]
        system: SystemArgs,
    },
    /// M of N nodes relabelled out of the nodeSelector: Update → pod gone from KV, per node.
    Relabel {
        /// Simulated nodes.
        #[arg(long, default_value_t = 10_000)]
        nodes: usize,
        /// Nodes relabelled out.
        #[arg(long, default_value_t = 1_000)]
        moved: usize,
        #[command(flatten)]
        system: SystemArgs,
    },
    /// Node leaves/re-joins and failing container starts for T seconds: convergence lag and no
    /// duplicate pods.
    Churn {
        /// Simulated nodes.
        #[arg(long, default_value_t = 1_000)]
        nodes: usize,
        /// Seconds of churn.
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        /// Node leaves (registry Delete) per second; each node registers again at its next
        /// heartbeat.
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        /// Fraction of fake container starts that fail (crash loop, 100 ms..1 s back-off).
        #[arg(long, default_value_t = 0.1)]
        failure_rate: f64,
        /// How nodes leave and come back.
        #[arg(long, value_enum, default_value_t = scenarios::Leave::Delete)]
        leave: scenarios::Leave,
        /// How long every leave gets to converge after the churn stops.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        settle: Duration,
        #[command(flatten)]
        system: SystemArgs,
    },
}

/// Settings of the in-process system for the scale scenarios.
#[derive(Debug, Clone, clap::Args)]
struct SystemArgs {
    /// Fake runtime: time from accepting a pod to its containers running.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    start_latency: Duration,
    /// Controller: pod commands in flight per reconcile (also the limit run's depth).
    #[arg(long, default_value_t = 64)]
    command_concurrency: usize,
    /// Registry: NotReady after this long without heartbeat; agents heartbeat every third.
    #[arg(long, default_value = "6s", value_parser = parse_duration)]
    not_ready_after: Duration,
}

impl SystemArgs {
    fn settings(&self, failure_rate: f64) -> cluster::Settings {
        cluster::Settings {
            start_latency: self.start_latency,
            failure_rate,
            not_ready_after: self.not_ready_after,
            command_concurrency: self.command_concurrency,
        }
    }
}

fn report(r: scenarios::Report) -> serde_json::Value {
    print_table(&r.title, &r.rows);
    r.json
}

fn machine() -> serde_json::Value {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb / 1024 / 1024);
    serde_json::json!({"cores": cores, "memory_gib": memory})
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let result = match args.scenario {
        Scenario::Limit {
            payload,
            depth,
            seconds,
        } => {
            let nats = NatsServer::start().await?;
            let limits = limit::measure(
                &nats.url(),
                &everynode_bus::NatsAuth::Open,
                payload,
                depth,
                Duration::from_secs_f64(seconds),
            )
            .await?;
            print_table(
                &format!("limit (payload {payload} B, {depth} in flight)"),
                &[
                    (
                        "NATS request/reply round trips/s".into(),
                        format!("{:.0}", limits.request_reply_per_s),
                    ),
                    (
                        "KV create writes/s".into(),
                        format!("{:.0}", limits.kv_create_per_s),
                    ),
                    (
                        "KV compare-and-set writes/s".into(),
                        format!("{:.0}", limits.kv_cas_per_s),
                    ),
                ],
            );
            serde_json::json!({"scenario": "limit", "payload_bytes": payload, "depth": depth, "limit": limits.json()})
        }
        Scenario::Admission {
            rate,
            depth,
            seconds,
        } => {
            let duration = Duration::from_secs_f64(seconds);
            let nats = NatsServer::start().await?;
            let mut r = admission::run(&nats.url(), rate, depth, duration).await?;
            let limits = limit::measure(
                &nats.url(),
                &everynode_bus::NatsAuth::Open,
                r.payload_bytes,
                depth,
                duration,
            )
            .await?;
            let ratio = r.saturation_rate / limits.kv_create_per_s;
            print_table(
                &format!(
                    "admission ({} B DaemonSets; {depth} clients at saturation)",
                    r.payload_bytes
                ),
                &[
                    (
                        format!("offered {rate:.0}/s: achieved"),
                        format!("{:.0} creates/s", r.achieved_rate),
                    ),
                    (
                        "  latency p50 / p99 / max".into(),
                        format!(
                            "{} / {} / {} ms",
                            ms(r.at_rate.quantile(0.5)),
                            ms(r.at_rate.quantile(0.99)),
                            ms(r.at_rate.quantile(1.0))
                        ),
                    ),
                    (
                        "saturation".into(),
                        format!("{:.0} creates/s", r.saturation_rate),
                    ),
                    (
                        "  latency p50 / p99".into(),
                        format!(
                            "{} / {} ms",
                            ms(r.at_saturation.quantile(0.5)),
                            ms(r.at_saturation.quantile(0.99))
                        ),
                    ),
                    (
                        "raw KV create (same payload, depth)".into(),
                        format!("{:.0} writes/s", limits.kv_create_per_s),
                    ),
                    (
                        "saturation / raw KV create".into(),
                        format!("{:.0}%", ratio * 100.0),
                    ),
                    (
                        "stored (listed back) / succeeded".into(),
                        format!("{} / {}", r.stored, r.succeeded),
                    ),
                ],
            );
            anyhow::ensure!(
                r.stored == r.succeeded,
                "listed {} objects but {} creates succeeded",
                r.stored,
                r.succeeded
            );
            serde_json::json!({
                "scenario": "admission",
                "payload_bytes": r.payload_bytes,
                "offered_rate": r.offered_rate,
                "achieved_rate": r.achieved_rate.round(),
                "at_rate": r.at_rate.summary(),
                "saturation_rate": r.saturation_rate.round(),
                "at_saturation": r.at_saturation.summary(),
                "limit": limits.json(),
                "saturation_over_kv_create": (ratio * 1000.0).round() / 1000.0,
                "stored": r.stored,
            })
        }
        Scenario::Converge {
            nodes,
            daemonsets,
            limit_seconds,
            system,
        } => report(
            scenarios::converge(system.settings(0.0), nodes, daemonsets, limit_seconds).await?,
        ),
        Scenario::Join { nodes, new, system } => {
            report(scenarios::join(system.settings(0.0), nodes, new).await?)
        }
        Scenario::Relabel {
            nodes,
            moved,
            system,
        } => report(scenarios::relabel(system.settings(0.0), nodes, moved).await?),
        Scenario::Churn {
            nodes,
            seconds,
            rate,
            failure_rate,
            leave,
            settle,
            system,
        } => report(
            scenarios::churn(
                system.settings(failure_rate),
                nodes,
                seconds,
                rate,
                leave,
                settle,
            )
            .await?,
        ),
    };
    let mut result = result;
    result["machine"] = machine();
    if let Some(path) = args.out {
        std::fs::write(&path, serde_json::to_string_pretty(&result)?)?;
        println!("\nresults written to {}", path.display());
    }
    Ok(())
}
