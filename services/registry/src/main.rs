//! `everynode-registry`: parses its configuration, sets up telemetry, binds, connects to NATS
//! and hands over to [`everynode_registry::run`].

use clap::Parser;
use everynode_registry::Config;
use everynode_service::{Shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    config.common.security.check()?;
    // Refuse an impossible lease configuration before binding or connecting.
    config.timing()?;
    let telemetry = telemetry::init("everynode-registry", &config.common)?;
    let shutdown = Shutdown::on_signals(config.common.shutdown_grace)?;
    let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
    let nats_auth = config.common.security.nats_auth()?;
    let nats =
        everynode_bus::connect_auth(&config.common.nats, "everynode-registry", &nats_auth).await?;
    everynode_registry::run(config, listener, nats, shutdown).await?;
    telemetry.shutdown().await;
    Ok(())
}
