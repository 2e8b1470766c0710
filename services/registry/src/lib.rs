//! The registry: the fleet's nodes (`everynode.v1.Nodes`), and the joining of new nodes with
//! bootstrap tokens (`everynode.v1.Bootstrap`).
//!
//! Agents register (name, labels, addresses, capacity, node info) and heartbeat; operators
//! label, taint, cordon and remove nodes; the registry marks a node NotReady when its agent
//! stops heartbeating and, only if `--remove-after` is set, removes it after that long. Nodes live in the KV bucket
//! `nodes` (key `<name>`, compare-and-set writes); every real change is published once on
//! `everynode.events.node.<name>` in `EVERYNODE_EVENTS`.
//!
//! # Modules
//! - [`validation`]: Kubernetes' rules for node names, labels, taints and quantities, and the
//!   `kubectl label` / `taint` argument rules, with field paths;
//! - [`node`]: pure decisions on a node: first registration, re-registration merge, operator
//!   edits, Ready / unreachable transitions, and which events a change means;
//! - [`leases`]: the in-memory lease table with its time-ordered queues;
//! - [`store`]: the `nodes` bucket (compare-and-set read-modify-write) and event publishing;
//! - [`lifecycle`]: the informer, the heartbeat relay and the ticker that drive transitions;
//! - [`watch`]: list-then-watch turned into ADDED / MODIFIED / DELETED;
//! - [`api`]: the gRPC service; [`error`]: the one place errors become `tonic::Status`;
//! - [`bootstrap`]: `everynode.v1.Bootstrap`: bootstrap tokens in KV `tokens` and the signing
//!   of node certificates with the CA key given by `--ca-key`.
//!
//! # Design decisions
//! - **Heartbeats never write the store.** A heartbeat renews an in-memory lease (a hash
//!   lookup and a queue push) and is relayed to the other replicas as a core-NATS message on
//!   `everynode.heartbeat.node.<name>` (payload: the sender's replica id, so a replica skips
//!   its own). The response carries `heartbeat_interval` = `--not-ready-after` / 3.
//! - **Lease checks without timers or scans.** Renewal times only grow, so the renewals form a
//!   queue already sorted by time; one ticker (every `--not-ready-after`/10, 50 ms..1 s) pops
//!   what expired and skips entries superseded by a later renewal (see [`leases`]).
//! - **Transitions are real node changes**, written with compare-and-set and evented:
//!   lease expired → `Ready=Unknown` (reason `NodeStatusUnknown`, message "Kubelet stopped
//!   posting node status.", as Kubernetes' node lifecycle controller writes it) plus the taints
//!   `node.kubernetes.io/unreachable:NoSchedule` and `:NoExecute` (with `timeAdded`); a heartbeat
//!   → `Ready=True` without those taints; no heartbeat for `--remove-after` → removed. Replicas
//!   racing on one transition produce one write and one set of events (the loser's CAS fails,
//!   it re-reads and finds nothing to do).
//!   The `Ready` condition's `lastHeartbeatTime` is written with those transitions (and
//!   registrations) only; on NotReady it holds the last heartbeat this replica heard.
//! - **Grace after a restart** (and after a NATS reconnection): every known node's lease counts
//!   as renewed then, so a registry that was down, or could not hear relayed heartbeats, never
//!   declares a storm of nodes NotReady. A node's removal deadline moves accordingly.
//! - **One event per kind of real change**, decided in one function ([`node::changes`]) for
//!   every write, in the order readiness, labels, taints, cordon: an Update that relabels and
//!   taints publishes RELABELED then TAINTED; a lease expiry publishes NOT_READY then TAINTED
//!   (the unreachable taints are a taint change); a heartbeat after it READY then TAINTED. A
//!   write that changes nothing is skipped (no new resourceVersion, no event); a write that
//!   changes only agent-reported status (addresses, capacity) is stored without an event, as
//!   there is no event type for it (KV watchers see it).
//! - **Re-registration merges** (see [`node`]): the agent owns status, podCIDR, providerID and
//!   the labels it reports; operators own labels they set, taints and the cordon flag. Agent
//!   labels merge three-way against the annotation `registry.everynode.io/agent-labels` (the
//!   labels the agent reported last time), like `kubectl apply`'s last-applied annotation:
//!   labels the operator did not touch follow the agent, the operator's changes win. The agent's
//!   taints and cordon flag apply on the first registration only (like the kubelet's
//!   `--register-with-taints`).
//! - **Update is `kubectl label` / `taint` / `cordon`**: replacing a label value or a taint
//!   (same key and effect) with another value needs `overwrite` (else `FAILED_PRECONDITION`
//!   with `kubectl`'s message); removing absent labels or taints is not an error (idempotent);
//!   setting what is already there is no change.

pub mod api;
pub mod bootstrap;
pub mod error;
pub mod leases;
pub mod lifecycle;
pub mod node;
pub mod store;
pub mod validation;
pub mod watch;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use everynode_api::limits::Bounded;
use everynode_api::v1::bootstrap_server::BootstrapServer;
use everynode_api::v1::nodes_server::NodesServer;
use everynode_bus::Bus;
use everynode_bus::async_nats;
use everynode_core::duration::{parse_duration, parse_positive_duration};
use everynode_service::{
    CommonArgs, GrpcServer, Security, ServerArgs, Shutdown, defaults, until_available,
};
use tokio::net::TcpListener;

pub use api::NodesApi;
pub use bootstrap::BootstrapApi;
pub use lifecycle::Lifecycle;

use crate::leases::Timing;

/// Configuration of `everynode-registry`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "everynode-registry",
    version,
    about = "everynode's node registry: registration, heartbeats, labels, taints, node lifecycle"
)]
pub struct Config {
    /// Flags every everynode binary has.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The gRPC listener.
    #[command(flatten)]
    pub server: ServerArgs<defaults::Registry>,
    /// A node whose agent has not heartbeated for this long becomes NotReady (Ready=Unknown,
    /// unreachable taints). Agents are told to heartbeat every third of it.
    #[arg(
        long,
        env = "EVERYNODE_NOT_READY_AFTER",
        value_name = "DURATION",
        default_value = "15s",
        value_parser = parse_positive_duration,
    )]
    pub not_ready_after: Duration,
    /// A node whose agent has not heartbeated for this long is removed (its pods are then
    /// garbage collected); 0 (the default) never removes: a silent node stays NotReady, its
    /// pods keep running, and a partition heals without a single restart. Set it only for
    /// fleets whose machines really go away (autoscaled), and much longer than any partition
    /// you expect (e.g. 24h). Must be longer than --not-ready-after.
    #[arg(
        long,
        env = "EVERYNODE_REMOVE_AFTER",
        value_name = "DURATION",
        default_value = "0",
        value_parser = parse_duration,
    )]
    pub remove_after: Duration,
    /// Replicas of the stream and buckets when they are created (3 on a three-node NATS
    /// cluster).
    #[arg(
        long,
        env = "EVERYNODE_REPLICAS",
        value_name = "N",
        default_value_t = 1
    )]
    pub replicas: usize,
    /// The deployment's CA key (`ca.key` of `enctl pki init`): with it, the registry signs the
    /// node certificates of agents joining with a bootstrap token (Bootstrap/SignNode). Without
    /// it, bootstrap joins are off.
    #[arg(long, env = "EVERYNODE_CA_KEY", value_name = "FILE")]
    pub ca_key: Option<PathBuf>,
    /// The CA certificate of `--ca-key` (unused without it). Default: `ca.crt` of the
    /// `--credentials` folder.
    #[arg(long, env = "EVERYNODE_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// The deployment's NATS node signer (`nats/node-signer.creds` of `enctl pki init`): with
    /// it, agents joining with a bootstrap token also get their NATS credentials (a user JWT
    /// for the key they made, scoped to their node). Without it they get none.
    #[arg(long, env = "EVERYNODE_NATS_NODE_SIGNER", value_name = "FILE")]
    pub nats_node_signer: Option<PathBuf>,
}

/// The default `--not-ready-after`.
pub const DEFAULT_NOT_READY_AFTER: Duration = Duration::from_secs(15);
/// The default `--remove-after`: never. Kubernetes never deletes a Node because its kubelet
/// went silent; a partitioned node keeps its pods, and removing it would have them collected
/// and restarted when the partition heals.
pub const DEFAULT_REMOVE_AFTER: Duration = Duration::ZERO;

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `--not-ready-after` is zero.
    #[error("--not-ready-after must be longer than zero")]
    ZeroNotReadyAfter,
    /// `--remove-after` would remove nodes before they become NotReady.
    #[error(
        "--remove-after ({remove_after:?}) must be 0 (never) or longer than --not-ready-after ({not_ready_after:?})"
    )]
    RemoveBeforeNotReady {
        /// The given `--remove-after`.
        remove_after: Duration,
        /// The given `--not-ready-after`.
        not_ready_after: Duration,
    },
}

impl Config {
    /// A configuration for tests and embedding: NATS at `nats`, listen address from the
    /// listener, default lease durations.
    pub fn for_nats(nats: &str) -> Self {
        Self {
            common: CommonArgs {
                nats: nats.to_owned(),
                ..CommonArgs::default()
            },
            server: ServerArgs::new(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            not_ready_after: DEFAULT_NOT_READY_AFTER,
            remove_after: DEFAULT_REMOVE_AFTER,
            replicas: 1,
            ca_key: None,
            ca_cert: None,
            nats_node_signer: None,
        }
    }

    /// The lease durations, once the combination is checked.
    pub fn timing(&self) -> Result<Timing, ConfigError> {
        if self.not_ready_after.is_zero() {
            return Err(ConfigError::ZeroNotReadyAfter);
        }
        if !self.remove_after.is_zero() && self.remove_after <= self.not_ready_after {
            return Err(ConfigError::RemoveBeforeNotReady {
                remove_after: self.remove_after,
                not_ready_after: self.not_ready_after,
            });
        }
        Ok(Timing {
            not_ready_after: self.not_ready_after,
            remove_after: (!self.remove_after.is_zero()).then_some(self.remove_after),
        })
    }
}

/// Runs the registry on `listener` until `shutdown`, then drains: loads the CA of `--ca-key`
/// (if given), ensures the JetStream topology, loads the nodes and their leases (the start-up
/// grace), starts the lifecycle tasks, serves `everynode.v1.Nodes` and
/// `everynode.v1.Bootstrap`, and on shutdown ends watches, drains NATS and waits for the tasks.
pub async fn run(
    config: Config,
    listener: TcpListener,
    nats: async_nats::Client,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let timing = config.timing()?;
    let authority = bootstrap::load_authority(
        config.ca_key.as_deref(),
        config.ca_cert.as_deref(),
        config.common.security.credentials.as_deref(),
    )?;
    let nats_signer = bootstrap::load_nats_signer(config.nats_node_signer.as_deref())?;
    let addr = listener.local_addr()?;
    let js = everynode_bus::jetstream(&nats);
    let opened = until_available("the nodes and tokens buckets", &shutdown, || async {
        Bus::ensure(&js, config.replicas).await?;
        let tokens = bootstrap::TokenStore::open(&js).await?;
        let store = store::NodeStore::open(js.clone()).await?;
        Ok((tokens, store))
    })
    .await?;
    let Some((tokens, store)) = opened else {
        return Ok(());
    };
    let lifecycle = Lifecycle::start(store, nats.clone(), timing, &shutdown).await?;
    let api = NodesApi::new(lifecycle, shutdown.clone());
    let security = Security::from_args(&config.common.security)?;
    let joins = authority.is_some();
    let server = GrpcServer::new(listener, security.clone())
        .with_args(&config.server)
        .add_service(NodesServer::new(api).bounded())
        .add_service(
            BootstrapServer::new(BootstrapApi::new(
                tokens,
                authority.map(Arc::new),
                nats_signer.map(Arc::new),
            ))
            .bounded(),
        );
    tracing::info!(%addr, ?timing, bootstrap_joins = joins, "everynode-registry serving");
    let served = server.serve(shutdown.clone()).await;
    // Whatever ended serving, the lifecycle tasks end too.
    shutdown.trigger();
    let drained = nats.drain().await;
    let waited = shutdown.wait_tasks().await;
    served?;
    drained?;
    waited?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn defaults_match_the_public_surface() {
        let config = Config::try_parse_from(["everynode-registry"]).unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:7402".parse().unwrap());
        assert_eq!(config.not_ready_after, Duration::from_secs(15));
        assert_eq!(config.remove_after, Duration::ZERO);
        assert_eq!(config.replicas, 1);
        assert_eq!((&config.ca_key, &config.ca_cert), (&None, &None));
        assert_eq!(
            config.timing(),
            Ok(Timing {
                not_ready_after: Duration::from_secs(15),
                remove_after: None,
            })
        );
    }

    #[test]
    fn flags_parse_and_zero_never_removes() {
        let config = Config::try_parse_from([
            "everynode-registry",
            "--not-ready-after",
            "1s",
            "--remove-after",
            "0",
            "--replicas",
            "3",
        ])
        .unwrap();
        assert_eq!(config.timing().unwrap().remove_after, None);
        assert_eq!(config.replicas, 3);
        assert!(Config::try_parse_from(["r", "--not-ready-after", "0s"]).is_err());
        assert!(Config::try_parse_from(["r", "--remove-after", "soon"]).is_err());
        let config =
            Config::try_parse_from(["r", "--ca-key", "/pki/ca.key", "--ca-cert", "/pki/ca.crt"])
                .unwrap();
        assert_eq!(config.ca_key, Some(PathBuf::from("/pki/ca.key")));
        assert_eq!(config.ca_cert, Some(PathBuf::from("/pki/ca.crt")));
    }

    #[test]
    fn removing_before_not_ready_is_refused() {
        let mut config = Config::for_nats("nats://127.0.0.1:4222");
        config.remove_after = Duration::from_secs(10);
        assert_eq!(
            config.timing(),
            Err(ConfigError::RemoveBeforeNotReady {
                remove_after: Duration::from_secs(10),
                not_ready_after: Duration::from_secs(15),
            })
        );
    }
}
