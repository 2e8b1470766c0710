//! The controller: one daemon pod on each node that should run one, none elsewhere.
//!
//! ```text
//!  KV daemonsets ─┐                          ┌─ queue ─ workers ─ reconcile ─┬─ PodCommand → agents
//!  KV nodes ──────┼─ informers ─ router ─────┤   (gather → plan → execute)   ├─ KV revisions
//!  KV pods ───────┤   (caches)               └─ expectations, back-off        └─ UpdateStatus → admission
//!  KV revisions ──┘      └──── Pods / Endpoints gRPC (every replica)
//!  KV leases ─── leader election: one active term at a time
//! ```
//!
//! - [`informer`] / [`cache`]: list-then-watch caches of the four buckets, ready after the first
//!   list, indexed so a reconcile copies neither nodes nor owned pods.
//! - [`router`]: cache deltas → work-queue keys and expectation observations.
//! - [`queue`], [`expectations`], [`executor`], [`agents`], [`admission`]: the machinery of
//!   the active controller; [`reconcile`] drives one pass with `everynode_core`'s pure planner;
//!   [`gc`] deletes the pods of removed nodes.
//! - [`leader`] / [`controller`]: the lease and the active *term* (queue, expectations and
//!   back-off live and die with it).
//! - [`api`]: `everynode.v1.Pods` and `everynode.v1.Endpoints`, served by every replica.
//! - [`error`]: errors, and the one place they become `tonic::Status`.

pub mod admission;
pub mod agents;
pub mod api;
pub mod cache;
pub mod controller;
pub mod effects;
pub mod error;
pub mod executor;
pub mod expectations;
pub mod gc;
pub mod informer;
pub mod leader;
pub mod queue;
pub mod reconcile;
pub mod router;
pub mod term;
#[cfg(test)]
mod testing;

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use everynode_api::limits::Bounded;
use everynode_api::v1::endpoints_server::EndpointsServer;
use everynode_api::v1::pods_server::PodsServer;
use everynode_bus::async_nats;
use everynode_bus::{Bus, Store};
use everynode_service::{
    CommonArgs, GrpcServer, Security, ServerArgs, ServingStatus, Shutdown, defaults,
    until_available,
};
use tokio::net::TcpListener;

use crate::admission::Admission;
use crate::agents::Agents;
use crate::api::endpoints::EndpointsApi;
use crate::api::pods::PodsApi;
use crate::cache::World;
use crate::effects::Live;
use crate::leader::{LeaseConfig, TermCell};
use crate::router::Router;
use crate::term::{Deps, Settings};
use everynode_core::retry::Backoff;

/// Configuration of `everynode-controller`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "everynode-controller",
    version,
    about = "everynode's DaemonSet controller: one daemon pod on every node that should run one"
)]
pub struct Config {
    /// Flags every everynode binary has.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The gRPC listener (`everynode.v1.Pods`, `everynode.v1.Endpoints`).
    #[command(flatten)]
    pub server: ServerArgs<defaults::Controller>,
    /// The admission service (`everynode.v1.DaemonSets`): status and finalizer updates.
    #[arg(long, env = "EVERYNODE_ADMISSION", value_name = "URL", default_value = defaults::ADMISSION_ENDPOINT, value_parser = parse_http_url)]
    pub admission: String,
    /// The registry (`everynode.v1.Nodes`). The controller reads nodes from KV `nodes`
    /// directly; the endpoint is accepted for a uniform command line.
    #[arg(long, env = "EVERYNODE_REGISTRY", value_name = "URL", default_value = defaults::REGISTRY_ENDPOINT, value_parser = parse_http_url)]
    pub registry: String,
    /// Replicas of the stream and buckets when they are created (3 on a three-node NATS
    /// cluster).
    #[arg(long, env = "EVERYNODE_REPLICAS", default_value_t = 1)]
    pub replicas: usize,
    /// Reconcile loops of the active controller (DaemonSets reconciled in parallel).
    #[arg(long, env = "EVERYNODE_WORKERS", value_name = "N", default_value = "4")]
    pub workers: NonZeroUsize,
    /// Period of the full resync (every DaemonSet reconciled, pod GC), the backstop for
    /// anything missed.
    #[arg(long, env = "EVERYNODE_RESYNC", value_name = "DURATION", default_value = "30s", value_parser = parse_positive_duration)]
    pub resync: Duration,
    /// How long one attempt of a pod command waits for the agent's reply.
    #[arg(long, env = "EVERYNODE_COMMAND_TIMEOUT", value_name = "DURATION", default_value = "5s", value_parser = parse_positive_duration)]
    pub command_timeout: Duration,
    /// Attempts of a pod command (commands are idempotent by pod uid).
    #[arg(
        long,
        env = "EVERYNODE_COMMAND_ATTEMPTS",
        value_name = "N",
        default_value = "3"
    )]
    pub command_attempts: NonZeroU32,
    /// Most pod commands in flight per reconcile.
    #[arg(
        long,
        env = "EVERYNODE_COMMAND_CONCURRENCY",
        value_name = "N",
        default_value = "64"
    )]
    pub command_concurrency: NonZeroUsize,
    /// Key of the leader lease in KV `leases`.
    #[arg(
        long,
        env = "EVERYNODE_LEASE_NAME",
        value_name = "NAME",
        default_value = "controller"
    )]
    pub lease_name: String,
    /// How long the lease lasts without renewal: a standby takes over this long after the
    /// active controller stopped renewing.
    #[arg(long, env = "EVERYNODE_LEASE_DURATION", value_name = "DURATION", default_value = "6s", value_parser = parse_positive_duration)]
    pub lease_duration: Duration,
    /// How often the active controller renews the lease (and a standby retries); must be
    /// shorter than the lease duration.
    #[arg(long, env = "EVERYNODE_LEASE_RENEW", value_name = "DURATION", default_value = "2s", value_parser = parse_positive_duration)]
    pub lease_renew: Duration,
    /// This replica's identity in the lease. Default: `everynode-controller-<pid>-<random>`.
    #[arg(long, env = "EVERYNODE_IDENTITY", value_name = "ID")]
    pub identity: Option<String>,
    /// Pending creates/deletes older than this no longer block a DaemonSet (Kubernetes: 5m).
    #[arg(long, env = "EVERYNODE_EXPECTATIONS_TIMEOUT", value_name = "DURATION", default_value = "5m", value_parser = parse_positive_duration, hide = true)]
    pub expectations_timeout: Duration,
    /// First retry delay of a failed reconcile (doubles per failure).
    #[arg(long, env = "EVERYNODE_RETRY_BASE", value_name = "DURATION", default_value = "5ms", value_parser = parse_positive_duration, hide = true)]
    pub retry_base: Duration,
    /// Longest retry delay of a failed reconcile.
    #[arg(long, env = "EVERYNODE_RETRY_MAX", value_name = "DURATION", default_value = "60s", value_parser = parse_positive_duration, hide = true)]
    pub retry_max: Duration,
    /// Pod changes kept so that `Pods.Watch` can resume from a recent resourceVersion.
    #[arg(
        long,
        env = "EVERYNODE_WATCH_HISTORY",
        value_name = "N",
        default_value = "4096",
        hide = true
    )]
    pub watch_history: usize,
}

/// A configuration value that does not make sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The lease would expire before it is renewed.
    #[error("--lease-renew ({renew:?}) must be shorter than --lease-duration ({duration:?})")]
    LeaseTiming {
        /// `--lease-renew`.
        renew: Duration,
        /// `--lease-duration`.
        duration: Duration,
    },
    /// The lease name cannot be a KV key.
    #[error("--lease-name: {0}")]
    LeaseName(#[from] everynode_bus::NameError),
}

impl Config {
    /// A configuration for tests and embedding: NATS and admission given, listen address from
    /// the listener, and the defaults otherwise.
    pub fn for_nats(nats: &str, admission: &str) -> Self {
        Self {
            common: CommonArgs {
                nats: nats.to_string(),
                ..CommonArgs::default()
            },
            server: ServerArgs::new(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            admission: admission.to_string(),
            registry: defaults::REGISTRY_ENDPOINT.to_string(),
            replicas: 1,
            workers: NonZeroUsize::new(4).unwrap_or(NonZeroUsize::MIN),
            resync: Duration::from_secs(30),
            command_timeout: Duration::from_secs(5),
            command_attempts: NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN),
            command_concurrency: NonZeroUsize::new(64).unwrap_or(NonZeroUsize::MIN),
            lease_name: "controller".to_string(),
            lease_duration: Duration::from_secs(6),
            lease_renew: Duration::from_secs(2),
            identity: None,
            expectations_timeout: expectations::DEFAULT_TIMEOUT,
            retry_base: Duration::from_millis(5),
            retry_max: Duration::from_secs(60),
            watch_history: 4096,
        }
    }

    /// Checks the values that depend on each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.lease_renew >= self.lease_duration {
            return Err(ConfigError::LeaseTiming {
                renew: self.lease_renew,
                duration: self.lease_duration,
            });
        }
        everynode_bus::LeaseKey::new(self.lease_name.clone())?;
        Ok(())
    }

    fn identity(&self) -> String {
        self.identity.clone().unwrap_or_else(|| {
            let random = uuid::Uuid::new_v4().simple().to_string();
            format!(
                "everynode-controller-{}-{}",
                std::process::id(),
                &random[..8]
            )
        })
    }
}

/// Runs the controller on `listener` until `shutdown`, then drains: the read APIs stop, the
/// active term stops, the lease is released, NATS is drained.
pub async fn run(
    config: Config,
    listener: TcpListener,
    nats: async_nats::Client,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    config.validate()?;
    let security = Security::from_args(&config.common.security)?;
    let js = everynode_bus::jetstream(&nats);
    let opened = until_available("the buckets", &shutdown, || async {
        Bus::ensure(&js, config.replicas).await?;
        Ok((
            Store::open(&js).await?,
            Store::open(&js).await?,
            Store::open(&js).await?,
            Store::open(&js).await?,
            Store::open(&js).await?,
        ))
    })
    .await?;
    let Some((daemonsets, nodes, pods, revisions, leases)) = opened else {
        return Ok(());
    };

    let world = World::new(config.watch_history);
    let router = Arc::new(Router::new(world.clone()));
    {
        let r = Arc::clone(&router);
        world.daemonsets.start(
            daemonsets.clone(),
            &nats,
            Arc::new(move |d| r.daemonsets(d)),
            &shutdown,
        );
        let r = Arc::clone(&router);
        world.nodes.start(
            nodes.clone(),
            &nats,
            Arc::new(move |d| r.nodes(d)),
            &shutdown,
        );
        let r = Arc::clone(&router);
        world
            .pods
            .start(pods.clone(), &nats, Arc::new(move |d| r.pods(d)), &shutdown);
        let r = Arc::clone(&router);
        world.revisions.start(
            revisions.clone(),
            &nats,
            Arc::new(move |d| r.revisions(d)),
            &shutdown,
        );
    }

    // The latest lease term seen: stamps the commands of the Pods API (any replica serves it).
    let terms = TermCell::default();
    let agents = Agents::new(
        nats.clone(),
        config.identity(),
        config.command_timeout,
        config.command_attempts.get(),
    );
    let deps = Arc::new(Deps {
        world: world.clone(),
        effects: Live {
            agents: agents.clone(),
            admission: Admission::new(&config.admission, security.client())?,
            daemonsets,
            nodes,
            pods,
            revisions,
        },
        settings: Settings {
            workers: config.workers.get(),
            resync: config.resync,
            command_concurrency: config.command_concurrency.get(),
            expectations_timeout: config.expectations_timeout,
            retry: Backoff::new(config.retry_base, config.retry_max),
        },
    });

    let server = GrpcServer::new(listener, security.clone())
        .with_args(&config.server)
        .add_service(
            PodsServer::new(PodsApi::new(
                world.clone(),
                agents,
                terms.clone(),
                shutdown.clone(),
            ))
            .bounded(),
        )
        .add_service(
            EndpointsServer::new(EndpointsApi::new(world.clone(), shutdown.clone())).bounded(),
        );
    let health = server.health();
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
    health.set_not_serving::<PodsServer<PodsApi>>().await;
    health
        .set_not_serving::<EndpointsServer<EndpointsApi>>()
        .await;
    {
        let world = world.clone();
        let stop = shutdown.clone();
        shutdown.spawn(async move {
            tokio::select! {
                () = stop.signal() => {}
                () = world.wait_ready() => {
                    health.set_service_status("", ServingStatus::Serving).await;
                    health.set_serving::<PodsServer<PodsApi>>().await;
                    health.set_serving::<EndpointsServer<EndpointsApi>>().await;
                    tracing::info!("caches ready; serving");
                }
            }
        });
    }

    let lease = LeaseConfig {
        name: config.lease_name.clone(),
        identity: config.identity(),
        duration: config.lease_duration,
        renew: config.lease_renew,
    };
    tracing::info!(identity = %lease.identity, "campaigning for the controller lease");
    let leader = {
        let stop = shutdown.clone();
        shutdown.spawn(leader::run(
            leases,
            lease,
            terms,
            shutdown.clone(),
            move |token, fence| {
                controller::run_term(
                    Arc::clone(&deps),
                    Arc::clone(&router),
                    token,
                    fence,
                    stop.clone(),
                )
            },
        ))
    };

    tracing::info!(addr = %server.local_addr()?, "everynode-controller serving");
    server.serve(shutdown.clone()).await?;
    // The leader loop stops the term and releases the lease; it needs NATS for that.
    tokio::select! {
        _ = leader => {}
        () = shutdown.grace_elapsed() => tracing::warn!("the leader loop did not stop within the grace"),
    }
    nats.drain().await?;
    shutdown.wait_tasks().await?;
    Ok(())
}

/// Accepts an absolute `http://` or `https://` URL.
fn parse_http_url(value: &str) -> Result<String, String> {
    let uri: tonic::codegen::http::Uri = value.parse().map_err(|e| format!("not a URL ({e})"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(value.to_string()),
        _ => Err("expected an http:// or https:// URL with a host".to_string()),
    }
}

// Every duration flag here must be longer than zero (the one parser of all binaries).
use everynode_core::duration::parse_positive_duration;

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn defaults_suit_a_single_dev_machine() {
        let config = Config::try_parse_from(["everynode-controller"]).unwrap();
        assert_eq!(config.server.listen.port(), 7403);
        assert_eq!(config.admission, "https://127.0.0.1:7401");
        assert_eq!(config.registry, "https://127.0.0.1:7402");
        assert_eq!(config.workers.get(), 4);
        assert_eq!(config.resync, Duration::from_secs(30));
        assert_eq!(config.lease_duration, Duration::from_secs(6));
        assert_eq!(config.lease_renew, Duration::from_secs(2));
        assert_eq!(config.expectations_timeout, Duration::from_secs(300));
        config.validate().unwrap();
    }

    #[test]
    fn flags_parse_and_are_validated() {
        let config = Config::try_parse_from([
            "c",
            "--workers",
            "8",
            "--resync",
            "500ms",
            "--command-timeout",
            "250ms",
            "--lease-duration",
            "1s",
            "--lease-renew",
            "300ms",
            "--identity",
            "me",
        ])
        .unwrap();
        assert_eq!(config.workers.get(), 8);
        assert_eq!(config.resync, Duration::from_millis(500));
        assert_eq!(config.identity(), "me");
        config.validate().unwrap();

        let bad =
            Config::try_parse_from(["c", "--lease-duration", "1s", "--lease-renew", "1s"]).unwrap();
        assert!(bad.validate().is_err());
        for args in [
            &["--workers", "0"][..],
            &["--resync", "0s"],
            &["--admission", "127.0.0.1:7401"],
            &["--command-timeout", "soon"],
        ] {
            let argv = std::iter::once("c").chain(args.iter().copied());
            assert!(Config::try_parse_from(argv).is_err(), "{args:?}");
        }
    }

    #[test]
    fn for_nats_matches_the_flag_defaults() {
        let parsed = Config::try_parse_from(["c"]).unwrap();
        let built = Config::for_nats("nats://127.0.0.1:4222", "https://127.0.0.1:7401");
        assert_eq!(parsed.workers, built.workers);
        assert_eq!(parsed.resync, built.resync);
        assert_eq!(parsed.command_timeout, built.command_timeout);
        assert_eq!(parsed.command_attempts, built.command_attempts);
        assert_eq!(parsed.lease_duration, built.lease_duration);
        assert_eq!(parsed.lease_renew, built.lease_renew);
        assert_eq!(parsed.retry_base, built.retry_base);
        assert_eq!(parsed.retry_max, built.retry_max);
        assert_eq!(parsed.watch_history, built.watch_history);
    }
}
