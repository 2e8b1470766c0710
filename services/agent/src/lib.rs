//! The agent: everynode's kubelet, one per node (or one per N simulated nodes).
//!
//! [`run`] wires the parts together:
//! - [`host`]: the machine's facts and the `Node` to register; [`join`]: register with the
//!   registry and heartbeat, for every node of the process on one ticker;
//! - [`pods`]: the table of every pod of the process and the writer mirroring it into KV
//!   `pods` (coalesced, only real changes);
//! - [`agent`]: pod commands (create/delete, idempotent by uid) and recovery from KV after a
//!   restart; [`commands`]: the request/reply subscription feeding it;
//! - [`runtime`]: the [`runtime::Runtime`] trait, with [`runtime::process`] (real process
//!   groups) and [`runtime::fake`] (timers only, for `--simulate`);
//! - confinement of the process runtime: [`names`] (uids, container names and pod directories
//!   from commands), [`security`] (run-as user and groups, `runAsNonRoot`, what needs
//!   `--allow-privileged`), [`cgroup`] (a cgroup per pod and container: limits, OOM kills,
//!   killing everything), [`confine`] (joining the cgroup and dropping to the user before
//!   `exec`), [`logs`] (log rotation);
//! - [`probe`]: startup, liveness and readiness probes (exec, tcpSocket, httpGet over HTTP or
//!   HTTPS, grpc) and their thresholds; [`process_group`]: signalling a container's group;
//! - pure parts, unit-tested: [`status`] (phase and conditions from container states),
//!   [`env`] (environment and `$(VAR)` expansion), [`backoff`] (crash-loop back-off),
//!   [`procfs`] (`/proc` and pid records), [`config`];
//! - [`error`]: why the agent cannot start or serve, each cause kept as the error's source;
//! - [`bootstrap`]: joining with `--bootstrap-token`: the node's certificate from the registry,
//!   kept in `<data-dir>/pki` and used as the credentials folder.
//!
//! Start-up order: with `--bootstrap-token`, get (or find) the node's credentials first; open
//! KV `pods` (waiting until the services have created it), recover this node's
//! pods from it, subscribe to pod commands, then join the registry — so the node is never
//! announced before it can take commands. On shutdown (SIGTERM) the agent stops taking
//! commands and heartbeating, leaves every pod running, flushes pending status writes and
//! exits; the next agent re-attaches.

pub mod agent;
pub mod backoff;
pub mod bootstrap;
pub mod cgroup;
pub mod commands;
pub mod config;
pub mod confine;
pub mod env;
pub mod error;
pub mod fence;
pub mod host;
pub mod join;
pub mod logs;
pub mod names;
pub mod pods;
pub mod probe;
pub mod process_group;
pub mod procfs;
pub mod runtime;
pub mod security;
pub mod status;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use everynode_api::v1;
use everynode_bus::async_nats::{self, jetstream};
use everynode_bus::{PodKey, Store};
use everynode_core::retry::Backoff;
use everynode_service::{Security, SecurityArgs, Shutdown};

pub use agent::{Agent, NodeSet};
pub use config::{Config, ConfigError, RuntimeKind};
pub use error::Error;

use crate::fence::Fence;
use crate::host::{HostFacts, NodeTemplate};
use crate::join::{Claim, JoinConfig};
use crate::pods::{PodTable, WriterConfig};
use crate::runtime::Runtime;
use crate::runtime::fake::{FakeConfig, FakeRuntime};
use crate::runtime::process::{ProcessConfig, ProcessRuntime};

/// How often re-attached processes and emptying process groups are looked at.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Connects to NATS as `everynode-agent`, waiting as long as it takes while the server is
/// unreachable (an agent may boot before NATS); `None` if shutdown came first. A wrong URL or
/// credentials fail at once.
pub async fn connect(
    url: &str,
    auth: &everynode_bus::NatsAuth,
    shutdown: &Shutdown,
) -> Result<Option<async_nats::Client>, everynode_bus::Error> {
    loop {
        let attempt = tokio::select! {
            attempt = everynode_bus::connect_auth(url, "everynode-agent", auth) => attempt,
            () = shutdown.signal() => return Ok(None),
        };
        match attempt {
            Ok(client) => return Ok(Some(client)),
            Err(err) if err.is_transient() => {
                tracing::warn!(url, error = %err, "NATS still unreachable; still trying");
            }
            Err(err) => return Err(err),
        }
    }
}

/// Opens KV `pods`, waiting (and retrying) while it does not exist yet or JetStream is
/// unavailable: the services create the buckets, never an agent (an agent that made an empty
/// one would then find none of its pods recorded; its NATS credentials do not allow it
/// either). `None` if shutdown came first.
async fn open_pods_store(
    js: &jetstream::Context,
    retry_max: Duration,
    shutdown: &Shutdown,
) -> Option<Store<PodKey, v1::Pod>> {
    let mut retries = Backoff::new(Duration::from_millis(200), retry_max).start();
    let mut warned = false;
    loop {
        match Store::open(js).await {
            Ok(store) => return Some(store),
            Err(err) if !warned => {
                tracing::warn!(error = %err, "KV bucket pods not available yet (the services create it); waiting");
                warned = true;
            }
            Err(err) => tracing::debug!(error = %err, "KV bucket pods still not available"),
        }
        let delay = retries.next_delay().unwrap_or(retry_max);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.signal() => return None,
        }
    }
}

/// The node's name (`--node-name`, else the host name) and the data directory.
fn node_and_data_dir(config: &Config) -> Result<(String, PathBuf), Error> {
    let node_name = config
        .node_name
        .clone()
        .or_else(host::hostname)
        .ok_or(Error::NoNodeName)?;
    let data_dir = config
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(config::ROOT_DATA_DIR));
    Ok((node_name, data_dir))
}

/// The agent's credentials: `--credentials` as given, or — with `--bootstrap-token` — the
/// folder `<data-dir>/pki` after joining (the node's certificate and, when the registry has the
/// NATS node signer, its `nats.creds`), joining first if it holds nothing yet. Call it before
/// connecting to NATS: a joining node learns its NATS credentials here. `None` if shutdown
/// came during the join.
pub async fn credentials(
    config: &Config,
    shutdown: &Shutdown,
) -> Result<Option<SecurityArgs>, Error> {
    let (Some(token), Some(ca_cert)) = (&config.bootstrap_token, &config.ca_cert) else {
        return Ok(Some(config.common.security.clone()));
    };
    let (node_name, data_dir) = node_and_data_dir(config)?;
    let join = bootstrap::JoinWith {
        token,
        ca_cert,
        registry: &config.registry,
        node: &node_name,
        data_dir: &data_dir,
        retry_max: config.tuning.retry_max,
    };
    Ok(bootstrap::credentials(&join, shutdown).await?.map(|dir| {
        let mut args = config.common.security.clone();
        args.credentials = Some(dir);
        args
    }))
}

/// Runs the agent until `shutdown`, then leaves its pods running and returns. (The error is
/// an [`Error`] in an `anyhow::Error`, as every service's `run` returns, for the binaries and
/// the harnesses that run them side by side.)
pub async fn run(
    config: Config,
    nats: async_nats::Client,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    Ok(start(config, nats, shutdown).await?)
}

async fn start(config: Config, nats: async_nats::Client, shutdown: Shutdown) -> Result<(), Error> {
    config.validate()?;
    let (node_name, data_dir) = node_and_data_dir(&config)?;
    let Some(security_args) = credentials(&config, &shutdown).await? else {
        return Ok(());
    };
    let security = Security::from_args(&security_args)?;
    let registry = everynode_service::security::channel(
        &config.registry,
        security.client(),
        join::CONNECT_TIMEOUT,
        Some(join::CALL_TIMEOUT),
    )?;
    security.watch(&shutdown);
    let nodes = match config.simulate {
        Some(count) => NodeSet::simulated(node_name, count.get()),
        None => NodeSet::single(node_name),
    };
    let runtime_name = match config.runtime {
        RuntimeKind::Process => "process",
        RuntimeKind::Fake => "fake",
    };
    let mut facts = HostFacts::gather(config.node_ip, runtime_name);
    if config.runtime == RuntimeKind::Fake {
        // The simulated machines' boot id is kept in the data dir: a restarted agent is the
        // same machines (its fake pods still run), and the registry lets it take its nodes
        // again at once; an agent on another data dir is other machines, told apart.
        facts.node_info.boot_id =
            runtime::fake::boot_id(&data_dir).map_err(|source| Error::FakeState {
                path: data_dir.join(runtime::fake::FAKE_DIR),
                source,
            })?;
    }
    let host_ip = facts.ip.to_string();
    let template = Arc::new(NodeTemplate {
        labels: config.labels.0.clone(),
        taints: config.taints.0.clone(),
        facts,
    });

    let fence_file = match std::fs::create_dir_all(&data_dir) {
        Ok(()) => Some(data_dir.join(fence::TERM_FILE)),
        Err(err) => {
            tracing::warn!(dir = %data_dir.display(), error = %err, "no data directory: the controller term seen is not kept across restarts");
            None
        }
    };
    let fence = Arc::new(Fence::load(fence_file));
    let js = everynode_bus::jetstream(&nats);
    let Some(store) = open_pods_store(&js, config.tuning.retry_max, &shutdown).await else {
        return Ok(());
    };
    let table = PodTable::new();
    shutdown.spawn(pods::run_writer(
        Arc::clone(&table),
        store.clone(),
        WriterConfig {
            concurrency: config.tuning.write_concurrency.get(),
            retry_base: Duration::from_millis(100),
            retry_max: config.tuning.retry_max,
        },
        shutdown.clone(),
    ));
    let parts = Parts {
        fence,
        registry,
        nodes,
        template,
        host_ip,
        table,
        store,
        nats,
        shutdown: shutdown.clone(),
    };
    match config.runtime {
        RuntimeKind::Process => {
            prepare_data_dir(&data_dir)?;
            let cgroups = cgroups(&config).await;
            let runtime = ProcessRuntime::new(
                ProcessConfig {
                    data_dir,
                    backoff: config.tuning.backoff(),
                    min_grace: config.tuning.min_grace,
                    poll_interval: POLL_INTERVAL,
                    container_path: config.container_path.clone(),
                    node_name: parts.nodes.name().to_owned(),
                    allocatable: parts.template.facts.capacity.clone(),
                    allow_privileged: config.process.allow_privileged,
                    log_limits: config.process.log_limits(),
                    cgroups,
                },
                shutdown.clone(),
            );
            serve(&config, parts, runtime).await
        }
        RuntimeKind::Fake => {
            let fake = FakeConfig {
                start_latency: config.fake.start_latency,
                ready_delay: config.fake.ready_delay,
                failure_rate: config.fake.failure_rate,
                backoff: config.tuning.backoff(),
            };
            let runtime =
                FakeRuntime::persistent(fake, &data_dir).map_err(|source| Error::FakeState {
                    path: runtime::fake::pods_dir(&data_dir),
                    source,
                })?;
            shutdown.spawn(runtime.clone().run(shutdown.clone()));
            serve(&config, parts, runtime).await
        }
    }
}

/// Makes the process runtime's directories: `<data-dir>/pods` (mode 0711: pods reach their
/// own directory, nobody lists the others) and `<data-dir>/state` (0700: the agent's alone).
/// The data dir itself gets `o+x` if it lacks it, so that a pod running as another user can
/// reach its directory.
fn prepare_data_dir(data_dir: &std::path::Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| Error::PodsDir { path, source }
    };
    std::fs::create_dir_all(data_dir).map_err(fail(data_dir))?;
    names::ensure_real_dir(data_dir).map_err(fail(data_dir))?;
    let mode = std::fs::metadata(data_dir)
        .map_err(fail(data_dir))?
        .permissions()
        .mode();
    if mode & 0o001 == 0 {
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(mode | 0o001))
            .map_err(fail(data_dir))?;
    }
    for (name, mode) in [("pods", 0o711), ("state", 0o700)] {
        let dir = names::checked_dir(data_dir, name, mode).map_err(fail(&data_dir.join(name)))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
            .map_err(fail(&dir))?;
    }
    Ok(())
}

/// The pods' cgroups, or `None` (said once, with the reason).
async fn cgroups(config: &Config) -> Option<cgroup::Cgroups> {
    let parent = &config.process.cgroup_parent;
    match cgroup::detect_host() {
        cgroup::Detection::Usable(hierarchy) => {
            let shown = hierarchy.to_string();
            let usable = match cgroup::Cgroups::new(hierarchy, parent) {
                Ok(cgroups) => cgroups
                    .check_join(std::path::Path::new("/proc/self/exe"), &["--version"])
                    .await
                    .map(|()| cgroups),
                Err(err) => Err(err),
            };
            match usable {
                Ok(cgroups) => {
                    tracing::info!(cgroups = %shown, parent, "pods get a cgroup each: memory and cpu limits are enforced");
                    Some(cgroups)
                }
                Err(err) => {
                    tracing::warn!(cgroups = %shown, parent, error = %err, "cgroups are off: the parent cgroup cannot be set up, or a process cannot join a cgroup below it; limits are not enforced and pods are killed by process group only");
                    None
                }
            }
        }
        cgroup::Detection::Off(reason) => {
            tracing::warn!(%reason, "cgroups are off: limits are not enforced and pods are killed by process group only");
            None
        }
    }
}

/// What [`run`] has set up before the runtime is chosen.
struct Parts {
    fence: Arc<Fence>,
    registry: tonic::transport::Channel,
    nodes: NodeSet,
    template: Arc<NodeTemplate>,
    host_ip: String,
    table: Arc<PodTable>,
    store: Store<PodKey, v1::Pod>,
    nats: async_nats::Client,
    shutdown: Shutdown,
}

async fn serve<R: Runtime>(config: &Config, parts: Parts, runtime: R) -> Result<(), Error> {
    let Parts {
        fence,
        registry,
        nodes,
        template,
        host_ip,
        table,
        store,
        nats,
        shutdown,
    } = parts;
    let agent = Arc::new(Agent::new(
        nodes.clone(),
        host_ip,
        table,
        store,
        runtime,
        Arc::clone(&fence),
        shutdown.clone(),
    ));
    let recovered = agent
        .recover(config.tuning.retry_max)
        .await
        .map_err(Error::Recover)?;
    // Subscribed before registering, so that the node is never announced before its agent
    // can take commands; but commands wait until the registry has said that no other live
    // agent holds the node (or could not be asked).
    let subscriber = commands::subscribe(&nats, &nodes).await?;
    let announcements = commands::subscribe_terms(&nats).await?;
    shutdown.spawn(commands::follow_terms(
        fence,
        announcements,
        shutdown.clone(),
    ));
    let (claim_tx, mut claim) = tokio::sync::watch::channel(Claim::Pending);
    shutdown.spawn(join::run(
        JoinConfig {
            registry: config.registry.clone(),
            channel: registry,
            concurrency: config.tuning.join_concurrency.get(),
            retry_max: config.tuning.retry_max,
        },
        nodes.clone(),
        template,
        claim_tx,
        shutdown.clone(),
    ));
    let first = tokio::select! {
        answer = async { claim.wait_for(|c| *c != Claim::Pending).await.map(|c| c.clone()).ok() } => answer,
        () = shutdown.signal() => None,
    };
    if let Some(Claim::Refused(message)) = first {
        shutdown.trigger();
        drop(subscriber);
        let _ = shutdown.wait_tasks().await;
        return Err(Error::NodeHeld(message));
    }
    shutdown.spawn(commands::serve(
        Arc::clone(&agent),
        nats.clone(),
        subscriber,
        config.tuning.command_concurrency.get(),
        shutdown.clone(),
    ));
    tracing::info!(
        node = nodes.name(),
        nodes = nodes.len(),
        recovered,
        registry = %config.registry,
        "everynode-agent running"
    );
    let refused = tokio::select! {
        () = shutdown.signal() => None,
        answer = async {
            claim.wait_for(|c| matches!(c, Claim::Refused(_))).await.map(|c| c.clone()).ok()
        } => match answer {
            Some(Claim::Refused(message)) => Some(message),
            _ => {
                shutdown.signal().await;
                None
            }
        },
    };
    if refused.is_some() {
        shutdown.trigger();
    }
    tracing::info!("shutting down: no more commands or heartbeats; pods keep running");
    let waited = shutdown.wait_tasks().await;
    if let Err(err) = nats.drain().await {
        tracing::warn!(error = %err, "draining the NATS connection");
    }
    drop(agent);
    waited?;
    match refused {
        Some(message) => Err(Error::NodeHeld(message)),
        None => Ok(()),
    }
}
