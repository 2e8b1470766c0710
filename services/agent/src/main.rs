//! `everynode-agent`: parses its configuration, sets up telemetry, connects to NATS (waiting
//! for it as long as it takes) and hands over to [`everynode_agent::run`].

use std::path::PathBuf;

use clap::Parser;
use everynode_agent::Config;
use everynode_service::{Shutdown, telemetry};

/// The default data dir: `/var/lib/everynode` as root, else `$XDG_STATE_HOME/everynode` or
/// `~/.local/state/everynode`. Read here, in the binary, because the library never reads the
/// environment.
fn default_data_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from(everynode_agent::config::ROOT_DATA_DIR);
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    state.join("everynode")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config = Config::parse();
    config.validate()?;
    if config.bootstrap_token.is_none() {
        config.common.security.check()?;
    }
    config.data_dir.get_or_insert_with(default_data_dir);
    let telemetry = telemetry::init("everynode-agent", &config.common)?;
    let shutdown = Shutdown::on_signals(config.common.shutdown_grace)?;
    // A node joining with a bootstrap token gets its NATS credentials with its certificate:
    // join (or find the earlier join's folder) before connecting.
    let Some(security) = everynode_agent::credentials(&config, &shutdown).await? else {
        return Ok(());
    };
    let nats_auth = security.nats_auth()?;
    let Some(nats) = everynode_agent::connect(&config.common.nats, &nats_auth, &shutdown).await?
    else {
        return Ok(());
    };
    everynode_agent::run(config, nats, shutdown).await?;
    telemetry.shutdown().await;
    Ok(())
}
