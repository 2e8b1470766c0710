//! The agent's start-up errors ([`Error`]): what keeps [`crate::run`] from serving, each with
//! its cause kept as the error's source. Errors of one pod (a probe, an environment variable, a
//! start) are not here: they end up in that pod's status, worded for it, where they happen.

use std::path::PathBuf;

use crate::commands::SubscribeError;
use crate::config::ConfigError;

/// Why the agent cannot run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The flags do not go together.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `--credentials` / `--insecure`, or the registry URL, are not usable.
    #[error(transparent)]
    Security(#[from] everynode_service::SecurityError),
    /// Joining with `--bootstrap-token` failed for good.
    #[error(transparent)]
    Bootstrap(#[from] crate::bootstrap::BootstrapError),
    /// No node name: none given, and the host name is unreadable.
    #[error("no --node-name given and the host name cannot be read")]
    NoNodeName,
    /// The pods directory cannot be created.
    #[error("creating {}: {source}", path.display())]
    PodsDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The fake runtime's folder (`<data-dir>/fake`: its pods and boot id) is not usable.
    #[error("the fake runtime's state in {}: {source}", path.display())]
    FakeState {
        /// The folder or file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading the recorded pods from KV failed for good.
    #[error("the registry refused this agent: {0}")]
    NodeHeld(String),
    /// Recovering the recorded pods failed for good.
    #[error("recovering the recorded pods: {0}")]
    Recover(#[source] everynode_bus::Error),
    /// The pod command subscription failed.
    #[error(transparent)]
    Subscribe(#[from] SubscribeError),
    /// Tracked tasks did not finish within the shutdown grace.
    #[error(transparent)]
    Shutdown(#[from] everynode_service::Error),
}
