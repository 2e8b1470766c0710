//! `everynode-controller`: parses its configuration, sets up telemetry, binds, connects to NATS
//! and hands over to [`everynode_controller::run`].

use clap::Parser;
use everynode_controller::Config;
use everynode_service::{Shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    config.common.security.check()?;
    config.validate()?;
    let telemetry = telemetry::init("everynode-controller", &config.common)?;
    let shutdown = Shutdown::on_signals(config.common.shutdown_grace)?;
    let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
    let nats_auth = config.common.security.nats_auth()?;
    let nats = everynode_bus::connect_auth(&config.common.nats, "everynode-controller", &nats_auth)
        .await?;
    everynode_controller::run(config, listener, nats, shutdown).await?;
    telemetry.shutdown().await;
    Ok(())
}
