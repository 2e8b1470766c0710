//! What every everynode binary shares: typed configuration ([`config`]), logging and tracing
//! ([`telemetry`]), graceful shutdown ([`Shutdown`]) and the gRPC server builder
//! ([`GrpcServer`]: reflection, health, tower layers, drain).
//!
//! A binary's `main` stays thin: parse the config, initialise telemetry, bind, and hand
//! everything to the service crate's `run`, which tests call the same way on port 0:
//!
//! ```ignore
//! #[derive(clap::Parser)]
//! struct Config {
//!     #[command(flatten)] common: CommonArgs,
//!     #[command(flatten)] server: ServerArgs<defaults::Admission>,
//! }
//!
//! #[tokio::main]
//! async fn main() -> anyhow::Result<()> {
//!     let config = Config::parse();
//!     let telemetry = telemetry::init("everynode-admission", &config.common)?;
//!     let shutdown = Shutdown::on_signals(config.common.shutdown_grace)?;
//!     let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
//!     let nats = everynode_bus::connect(&config.common.nats).await?;
//!     everynode_admission::run(config, listener, nats, shutdown).await?;
//!     telemetry.shutdown().await;
//!     Ok(())
//! }
//!
//! // in the service crate
//! pub async fn run(config: Config, listener: TcpListener, nats: Nats, shutdown: Shutdown) -> Result<(), Error> {
//!     let server = GrpcServer::new(listener)
//!         .with_args(&config.server)
//!         .add_service(DaemonSetsServer::new(DaemonSetsApi::new(nats.clone(), shutdown.clone())));
//!     shutdown.spawn(informer(nats.clone(), server.health(), shutdown.clone()));
//!     server.serve(shutdown.clone()).await?; // returns after the drain
//!     nats.drain().await?;
//!     shutdown.wait_tasks().await?;          // same grace deadline as the drain
//!     Ok(())
//! }
//! ```
//!
//! Libraries never read the environment: only clap does, in the binaries, and tests build the
//! config structs directly (or with `try_parse_from`). Mapping domain errors to
//! `tonic::Status` is each service's job, in one place per service; nothing here does it.

pub mod config;
mod error;
pub mod security;
pub mod server;
pub mod shutdown;
pub mod startup;
pub mod status;
pub mod telemetry;

pub use config::{CommonArgs, ListenDefault, LogFormat, ServerArgs, defaults};
pub use error::Error;
pub use security::{Security, SecurityArgs, SecurityError};
pub use server::GrpcServer;
pub use shutdown::{Shutdown, UntilShutdown};
pub use startup::until_available;
pub use telemetry::TelemetryGuard;
/// Re-exported so services can set statuses without depending on `tonic-health` themselves.
pub use tonic_health::{ServingStatus, server::HealthReporter};
