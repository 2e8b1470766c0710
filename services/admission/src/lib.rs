//! The admission service: the API front door for DaemonSets.
//!
//! It validates and defaults DaemonSets exactly as the Kubernetes API server does
//! ([`strategy`], on `everynode_core`'s validation and defaulting), stores them in the KV
//! bucket `daemonsets` with compare-and-set ([`store`]), publishes an event for every change,
//! and serves `everynode.v1.DaemonSets` ([`api`], [`watch`]). Errors become `tonic::Status` in
//! one place ([`error`]).

pub mod api;
pub mod error;
pub mod store;
pub mod strategy;
pub mod watch;

use std::time::Duration;

use everynode_api::limits::Bounded;
use everynode_api::v1::daemon_sets_server::DaemonSetsServer;
use everynode_bus::Bus;
use everynode_bus::async_nats;
use everynode_core::duration::parse_duration;
use everynode_service::{
    CommonArgs, GrpcServer, Security, ServerArgs, Shutdown, defaults, until_available,
};
use tokio::net::TcpListener;

pub use api::DaemonSetsApi;

/// Configuration of `everynode-admission`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "everynode-admission",
    version,
    about = "everynode's API front door for DaemonSets"
)]
pub struct Config {
    /// Flags every everynode binary has.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The gRPC listener.
    #[command(flatten)]
    pub server: ServerArgs<defaults::Admission>,
    /// Replicas of the stream and buckets when they are created (3 on a three-node NATS cluster).
    #[arg(long, env = "EVERYNODE_REPLICAS", default_value_t = 1)]
    pub replicas: usize,
    /// Longest a foreground delete waits for the DaemonSet's pods to be gone before returning.
    #[arg(long, env = "EVERYNODE_FOREGROUND_WAIT", default_value = "60s", value_parser = parse_duration)]
    pub foreground_wait: Duration,
}

impl Config {
    /// A configuration for tests and embedding: listen address from the listener, NATS URL given.
    pub fn for_nats(nats: &str) -> Self {
        Self {
            common: CommonArgs {
                nats: nats.to_string(),
                ..CommonArgs::default()
            },
            server: ServerArgs::new(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            replicas: 1,
            foreground_wait: Duration::from_secs(60),
        }
    }
}

/// Runs the service on `listener` until `shutdown`, then drains.
pub async fn run(
    config: Config,
    listener: TcpListener,
    nats: async_nats::Client,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let js = everynode_bus::jetstream(&nats);
    let opened = until_available("the DaemonSets bucket", &shutdown, || async {
        Bus::ensure(&js, config.replicas).await?;
        store::Store::open(js.clone()).await
    })
    .await?;
    let Some(store) = opened else {
        return Ok(());
    };
    let api = DaemonSetsApi::new(store, shutdown.clone(), config.foreground_wait);
    let security = Security::from_args(&config.common.security)?;
    let server = GrpcServer::new(listener, security.clone())
        .with_args(&config.server)
        .add_service(DaemonSetsServer::new(api).bounded());
    tracing::info!(addr = %server.local_addr()?, "everynode-admission serving");
    server.serve(shutdown.clone()).await?;
    nats.drain().await?;
    shutdown.wait_tasks().await?;
    Ok(())
}
