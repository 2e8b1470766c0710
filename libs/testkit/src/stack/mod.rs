//! The whole system under test: a real nats-server ([`NatsServer`]), and the real admission,
//! registry, controller(s) and agents, each in this process on a free 127.0.0.1 port (a
//! controller can also run as its own process, to be killed with SIGKILL).
//!
//! - [`Stack::start`] (or [`Stack::builder`] … [`StackBuilder::start`]) returns once every
//!   service reports SERVING on `grpc.health.v1.Health`; the configuration of every part comes
//!   from one [`StackBuilder`] (`settings.rs`).
//! - Addresses, URLs, gRPC channels and clients of the services; a NATS client; the KV stores.
//! - Services ([`Service`]) and agents can be stopped and started again: a service comes back on
//!   the same address with the same configuration, an agent with the same configuration and
//!   data directory.
//! - Agents run the fake runtime by default (one node, or N nodes in the agent's simulate
//!   mode); a test can choose the process runtime for one agent.
//! - Every wait has a deadline and reports what it last saw; a service or agent that exits
//!   while it is waited for fails the wait with its error at once.
//! - Teardown: [`Stack::shutdown`] stops agents, controllers, registry and admission gracefully,
//!   then nats-server. Dropping the stack instead signals and cancels every task (agents first),
//!   then kills nats-server.

mod process;
mod settings;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use everynode_api::limits::Bounded;
use everynode_api::v1::{
    self, daemon_sets_client::DaemonSetsClient, endpoints_client::EndpointsClient,
    nodes_client::NodesClient, pods_client::PodsClient,
};
use everynode_bus::async_nats::{self, jetstream};
use everynode_bus::{Key, Store};
use everynode_service::Shutdown;
use tokio::net::TcpListener;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

pub use process::ControllerProcess;
pub use settings::{StackBuilder, Timing};

use crate::TestCgroups;
use crate::pki::TestPki;
use crate::served::{Served, Task};
use crate::{NatsCluster, NatsServer, Wait, eventually};

/// How long a port gets to be free again, agents' nodes to register.
const WAIT: Duration = Duration::from_secs(20);
/// How long a service gets to serve: on a NATS cluster, services creating the replicated
/// streams at once lose races that cost a (shortened) JetStream request timeout each.
const SERVING_WAIT: Duration = Duration::from_secs(60);
/// Pause between two health checks of a starting service.
const SERVING_INTERVAL: Duration = Duration::from_millis(5);

/// One of the stack's gRPC services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `everynode.v1.DaemonSets`.
    Admission,
    /// `everynode.v1.Nodes`.
    Registry,
    /// `everynode.v1.Pods` and `everynode.v1.Endpoints`: the controller of this index (in the
    /// order they were started).
    Controller(usize),
}

/// A service crate's `run` with its configuration applied.
type Launch = Arc<
    dyn Fn(
            TcpListener,
            async_nats::Client,
            Shutdown,
        ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

fn launch<C, F, Fut, E>(config: C, run: F) -> Launch
where
    C: Clone + Send + Sync + 'static,
    F: Fn(C, TcpListener, async_nats::Client, Shutdown) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display,
{
    Arc::new(move |listener, nats, shutdown| {
        let running = run(config.clone(), listener, nats, shutdown);
        Box::pin(async move { running.await.map_err(|e| format!("{e:#}")) })
    })
}

/// A service's place in the stack: it keeps its address and configuration across restarts.
struct Slot {
    name: String,
    addr: SocketAddr,
    channel: Channel,
    launch: Launch,
    served: Option<Served<String>>,
}

impl Slot {
    /// Binds a free port and starts the service there (without waiting for it).
    async fn spawn(name: String, launch: Launch, settings: &StackBuilder, nats_url: &str) -> Self {
        let listener = bind(&name, SocketAddr::from(([127, 0, 0, 1], 0))).await;
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local address of {name}: {e}"));
        let mut slot = Self {
            name,
            addr,
            channel: settings.channel(addr),
            launch,
            served: None,
        };
        slot.run_on(listener, settings, nats_url).await;
        slot
    }

    async fn run_on(&mut self, listener: TcpListener, settings: &StackBuilder, nats_url: &str) {
        // Slots are named after their service ("controller 2" is a controller).
        let identity = self.name.split(' ').next().unwrap_or_default().to_owned();
        let nats = settings.connect_nats(nats_url, &self.name, &identity).await;
        let launch = Arc::clone(&self.launch);
        self.served = Some(Served::on(
            &self.name,
            listener,
            move |listener, shutdown| launch(listener, nats, shutdown),
        ));
    }

    /// Waits until it reports SERVING; fails at once if it exits.
    async fn ready(&mut self) {
        let Some(served) = self.served.as_mut() else {
            panic!("{} is stopped", self.name);
        };
        tokio::select! {
            () = wait_serving(&self.name, &self.channel) => {}
            exit = served.exited() => panic!("{exit}"),
        }
    }

    /// Starts it again on its address, and waits until it serves.
    async fn start(&mut self, settings: &StackBuilder, nats_url: &str) {
        assert!(self.served.is_none(), "{} is already running", self.name);
        let listener = bind(&self.name, self.addr).await;
        self.run_on(listener, settings, nats_url).await;
        self.ready().await;
    }

    /// Stops it gracefully (no-op when stopped); panics if it failed.
    async fn stop(&mut self) {
        if let Some(served) = self.served.take() {
            served.stop().await;
        }
    }

    fn abort(&mut self) {
        if let Some(served) = self.served.as_mut() {
            served.abort();
        }
    }
}

/// Binds `addr`, waiting for a port that was just closed to be free again.
async fn bind(name: &str, addr: SocketAddr) -> TcpListener {
    eventually(&format!("{addr} to be free for {name}"), WAIT, || async {
        TcpListener::bind(addr).await
    })
    .await
}

/// One `grpc.health.v1.Health/Check` of the whole server behind `channel`: `Ok` when it says
/// SERVING, else what it said (or why it could not be asked).
pub async fn check_serving(channel: &Channel) -> Result<(), String> {
    let status = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map_err(|s| format!("health check: {:?}: {}", s.code(), s.message()))?
        .into_inner()
        .status;
    match ServingStatus::try_from(status) {
        Ok(ServingStatus::Serving) => Ok(()),
        Ok(other) => Err(other.as_str_name().to_string()),
        Err(_) => Err(format!("unknown status {status}")),
    }
}

/// Waits until `grpc.health.v1.Health/Check` of the whole server says SERVING (checked often:
/// every test waits for it).
async fn wait_serving(name: &str, channel: &Channel) {
    let wait = Wait::new(format!("{name} to report SERVING"))
        .timeout(SERVING_WAIT)
        .interval(SERVING_INTERVAL);
    let outcome = wait.until(|| check_serving(channel));
    if let Err(timed_out) = outcome.await {
        panic!("{timed_out}");
    }
}

/// Waits until the registry behind `channel` lists every node of `names`.
async fn wait_nodes(channel: &Channel, names: &[String]) {
    eventually(
        &format!("the nodes {names:?} to be registered"),
        WAIT,
        || {
            let mut client = NodesClient::new(channel.clone());
            async move {
                let listed = client
                    .list(v1::NodesListRequest::default())
                    .await
                    .map_err(|e| e.to_string())?
                    .into_inner()
                    .items;
                let have: Vec<String> = listed
                    .iter()
                    .filter_map(|n| n.metadata.as_ref().map(|m| m.name.clone()))
                    .collect();
                let missing: Vec<&String> = names.iter().filter(|n| !have.contains(n)).collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!("missing {missing:?}; registered {have:?}"))
                }
            }
        },
    )
    .await;
}

/// An agent's configuration, kept for a restart, and its task while it runs.
struct Agent {
    config: everynode_agent::Config,
    task: Option<Task<String>>,
}

impl Agent {
    /// The nodes it registers: `<name>`, or `<name>-0` … in simulate mode.
    fn nodes(&self, name: &str) -> Vec<String> {
        match self.config.simulate {
            Some(count) => (0..count.get()).map(|i| format!("{name}-{i}")).collect(),
            None => vec![name.to_string()],
        }
    }
}

/// NATS, admission, registry, controllers and agents; see the [module](self) documentation.
pub struct Stack {
    // Fields drop in this order: the services before NATS.
    agents: BTreeMap<String, Agent>,
    /// The agents' cgroup parent: what their (process runtime) pods leave running when the
    /// stack drops is killed with it.
    cgroups: TestCgroups,
    controllers: Vec<Slot>,
    registry: Slot,
    admission: Slot,
    client: async_nats::Client,
    settings: StackBuilder,
    dir: tempfile::TempDir,
    nats: NatsCluster,
}

impl Stack {
    /// The default stack: admission, registry and one controller, [`Timing::Fast`].
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// A stack to configure before it starts.
    pub fn builder() -> StackBuilder {
        StackBuilder::default()
    }

    async fn start_with(settings: StackBuilder) -> Self {
        let pki = settings.pki();
        let nats = NatsCluster::start_with_auth(
            settings.nats_member_count(),
            pki.dir(),
            &pki.folder("admin").join(everynode_auth::nats::CREDS_FILE),
            &everynode_auth::nats::inbox_prefix(everynode_auth::nats::Role::Admin, None),
        )
        .await
        .unwrap_or_else(|e| panic!("starting nats-server: {e}"));
        let url = nats.url();
        // The services create the stream and buckets (`Bus::ensure`) before they serve.
        let client = settings.connect_nats(&url, "stack", "admin").await;
        let admission = Slot::spawn(
            "admission".into(),
            launch(settings.admission_config(&url), everynode_admission::run),
            &settings,
            &url,
        )
        .await;
        let registry = Slot::spawn(
            "registry".into(),
            launch(settings.registry_config(&url), everynode_registry::run),
            &settings,
            &url,
        )
        .await;
        let mut stack = Self {
            agents: BTreeMap::new(),
            cgroups: TestCgroups::new(),
            controllers: Vec::new(),
            registry,
            admission,
            client,
            settings,
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}")),
            nats,
        };
        for _ in 0..stack.settings.controller_count() {
            let config = stack.controller_config();
            stack.spawn_controller(config).await;
        }
        tokio::join!(
            stack.admission.ready(),
            stack.registry.ready(),
            futures::future::join_all(stack.controllers.iter_mut().map(Slot::ready)),
        );
        stack
    }

    /// The stack's PKI (made as `enctl pki init` makes one): every service, agent and client
    /// has an identity of its CA; tests take others from it (`viewer`, `node-<name>`, …).
    pub fn pki(&self) -> &TestPki {
        self.settings.pki()
    }

    // -----------------------------------------------------------------------------------------
    // NATS

    /// The nats-server (the first member of a cluster), e.g. to kill and restart it.
    pub fn nats(&mut self) -> &mut NatsServer {
        self.nats.member(0)
    }

    /// The NATS cluster (of one server unless [`StackBuilder::nats_members`] said more).
    pub fn nats_cluster(&mut self) -> &mut NatsCluster {
        &mut self.nats
    }

    /// The NATS URL (every member's, comma-separated, as `--nats` takes them).
    pub fn nats_url(&self) -> String {
        self.nats.url()
    }

    /// The stack's own NATS client (the stream and buckets exist once the stack has started).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The KV store of `K` (e.g. `Store<PodKey, v1::Pod>`), on the stack's client.
    pub async fn store<K: Key, M: prost::Message + Default + 'static>(&self) -> Store<K, M> {
        Store::open(&jetstream::new(self.client.clone()))
            .await
            .unwrap_or_else(|e| panic!("opening KV bucket {}: {e}", K::BUCKET))
    }

    /// The `--cgroup-parent` of this stack's agents (give it to an agent binary a test starts,
    /// so that its pods die with the stack).
    pub fn cgroup_parent(&self) -> &str {
        self.cgroups.parent()
    }

    /// A directory that lives as long as the stack (agents keep their data in `<dir>/<name>`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    // -----------------------------------------------------------------------------------------
    // Services

    fn slot(&self, service: Service) -> &Slot {
        match service {
            Service::Admission => &self.admission,
            Service::Registry => &self.registry,
            Service::Controller(i) => self
                .controllers
                .get(i)
                .unwrap_or_else(|| panic!("no controller {i}: {} started", self.controllers.len())),
        }
    }

    fn slot_mut(&mut self, service: Service) -> &mut Slot {
        let started = self.controllers.len();
        match service {
            Service::Admission => &mut self.admission,
            Service::Registry => &mut self.registry,
            Service::Controller(i) => self
                .controllers
                .get_mut(i)
                .unwrap_or_else(|| panic!("no controller {i}: {started} started")),
        }
    }

    /// Every service of the stack: admission, registry and each controller started in this
    /// process.
    pub fn services(&self) -> Vec<Service> {
        [Service::Admission, Service::Registry]
            .into_iter()
            .chain((0..self.controllers.len()).map(Service::Controller))
            .collect()
    }

    /// The address `service` listens on (kept when it is started again).
    pub fn addr(&self, service: Service) -> SocketAddr {
        self.slot(service).addr
    }

    /// The URL of `service` (`https://<addr>`).
    pub fn url(&self, service: Service) -> String {
        self.settings.url(self.addr(service))
    }

    /// A channel to `service` (it reconnects after a restart).
    pub fn channel(&self, service: Service) -> Channel {
        self.slot(service).channel.clone()
    }

    /// The DaemonSets API (admission).
    pub fn daemonsets(&self) -> DaemonSetsClient<Channel> {
        DaemonSetsClient::new(self.channel(Service::Admission)).bounded()
    }

    /// The Nodes API (registry).
    pub fn nodes(&self) -> NodesClient<Channel> {
        NodesClient::new(self.channel(Service::Registry)).bounded()
    }

    /// The Pods API of controller `index`.
    pub fn pods(&self, index: usize) -> PodsClient<Channel> {
        PodsClient::new(self.channel(Service::Controller(index))).bounded()
    }

    /// The Endpoints API of controller `index`.
    pub fn endpoints(&self, index: usize) -> EndpointsClient<Channel> {
        EndpointsClient::new(self.channel(Service::Controller(index))).bounded()
    }

    /// Stops `service` gracefully (a controller releases its lease); panics if it failed. Its
    /// address stays reserved for [`Stack::start_service`]. No-op when it is stopped.
    pub async fn stop_service(&mut self, service: Service) {
        self.slot_mut(service).stop().await;
    }

    /// Starts a stopped `service` again, on the same address with the same configuration, and
    /// waits until it serves.
    pub async fn start_service(&mut self, service: Service) {
        let (settings, url) = (self.settings.clone(), self.nats.url());
        self.slot_mut(service).start(&settings, &url).await;
    }

    /// [`Stack::stop_service`], then [`Stack::start_service`].
    pub async fn restart_service(&mut self, service: Service) {
        self.stop_service(service).await;
        self.start_service(service).await;
    }

    // -----------------------------------------------------------------------------------------
    // Controllers

    /// The configuration a controller of this stack gets.
    pub fn controller_config(&self) -> everynode_controller::Config {
        self.settings.controller_config(
            &self.nats.url(),
            &self.url(Service::Admission),
            &self.url(Service::Registry),
        )
    }

    async fn spawn_controller(&mut self, config: everynode_controller::Config) -> usize {
        let index = self.controllers.len();
        let slot = Slot::spawn(
            format!("controller {index}"),
            launch(config, everynode_controller::run),
            &self.settings,
            &self.nats.url(),
        )
        .await;
        self.controllers.push(slot);
        index
    }

    /// Starts one more controller in this process and waits until it serves; returns its
    /// index.
    pub async fn start_controller(&mut self) -> usize {
        let config = self.controller_config();
        self.start_controller_with(config).await
    }

    /// [`Stack::start_controller`] with `config` (e.g. [`Stack::controller_config`] changed).
    pub async fn start_controller_with(&mut self, config: everynode_controller::Config) -> usize {
        let index = self.spawn_controller(config).await;
        self.controllers[index].ready().await;
        index
    }

    /// Starts the controller binary (`env!("CARGO_BIN_EXE_everynode-controller")`) as its own
    /// process with this stack's controller configuration, lease identity `identity` and log
    /// level `warn`. It does not wait for anything.
    pub fn spawn_controller_process(
        &self,
        binary: impl AsRef<OsStr>,
        identity: &str,
    ) -> ControllerProcess {
        let mut config = self.controller_config();
        config.identity = Some(identity.to_string());
        config.common.log_level = "warn".to_string();
        ControllerProcess::spawn(binary.as_ref(), &config)
    }

    // -----------------------------------------------------------------------------------------
    // Agents

    /// The configuration an agent `name` of this stack gets: fake runtime, node IP 127.0.0.1,
    /// data in `<dir>/<name>`, a cgroup parent of the stack's own.
    pub fn agent_config(&self, name: &str) -> everynode_agent::Config {
        let mut config = self.settings.agent_config(
            &self.nats.url(),
            &self.url(Service::Registry),
            name,
            self.dir.path().join(name),
        );
        config.process.cgroup_parent = self.cgroups.parent().to_owned();
        config
    }

    /// Starts agent `name` with `config`, without waiting for its nodes.
    pub async fn start_agent(&mut self, name: &str, config: everynode_agent::Config) {
        assert!(
            self.agents.get(name).is_none_or(|a| a.task.is_none()),
            "agent {name} is already running"
        );
        let task = self.spawn_agent(name, &config).await;
        self.agents.insert(
            name.to_string(),
            Agent {
                config,
                task: Some(task),
            },
        );
    }

    async fn spawn_agent(&self, name: &str, config: &everynode_agent::Config) -> Task<String> {
        let url = self.nats.url();
        let config = config.clone();
        let name = name.to_owned();
        Task::spawn(&format!("agent {name}"), move |shutdown| async move {
            // As the binary does: a node joining with a bootstrap token first gets its
            // credentials (the NATS ones included) from the registry, then connects.
            let Some(security) = everynode_agent::credentials(&config, &shutdown)
                .await
                .map_err(|e| format!("agent {name}'s credentials: {e:#}"))?
            else {
                return Ok(());
            };
            let auth = security
                .nats_auth()
                .map_err(|e| format!("agent {name}'s NATS credentials: {e}"))?;
            let nats = everynode_bus::connect_auth(&url, &format!("agent {name}"), &auth)
                .await
                .map_err(|e| format!("agent {name} connecting to NATS at {url}: {e}"))?;
            everynode_agent::run(config, nats, shutdown)
                .await
                .map_err(|e| format!("{e:#}"))
        })
    }

    /// Starts a fake-runtime agent for the single node `name` and waits until the registry has
    /// it.
    pub async fn agent(&mut self, name: &str) {
        self.agent_with(name, |_| {}).await;
    }

    /// [`Stack::agent`] with `adjust` applied to its configuration (e.g. labels, the process
    /// runtime).
    pub async fn agent_with(
        &mut self,
        name: &str,
        adjust: impl FnOnce(&mut everynode_agent::Config),
    ) {
        let mut config = self.agent_config(name);
        adjust(&mut config);
        self.start_agent(name, config).await;
        self.wait_agent(name).await;
    }

    /// Starts one fake-runtime agent simulating `count` nodes `<prefix>-0` … with `labels`, and
    /// waits until the registry has them all.
    pub async fn agents(&mut self, prefix: &str, count: usize, labels: &[(&str, &str)]) {
        self.agents_with(prefix, count, labels, |_| {}).await;
    }

    /// [`Stack::agents`] with `adjust` applied to the agent's configuration.
    pub async fn agents_with(
        &mut self,
        prefix: &str,
        count: usize,
        labels: &[(&str, &str)],
        adjust: impl FnOnce(&mut everynode_agent::Config),
    ) {
        let mut config = self.agent_config(prefix);
        config.common.security = self.settings.pki().credentials("simulator");
        adjust(&mut config);
        config.simulate =
            Some(NonZeroUsize::new(count).unwrap_or_else(|| panic!("agents {prefix}: no nodes")));
        config.labels.0 = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.start_agent(prefix, config).await;
        self.wait_agent(prefix).await;
    }

    /// Waits until the registry has every node of agent `name`; fails at once if it exits.
    async fn wait_agent(&mut self, name: &str) {
        let channel = self.registry.channel.clone();
        let agent = self
            .agents
            .get_mut(name)
            .unwrap_or_else(|| panic!("no agent {name}"));
        let nodes = agent.nodes(name);
        let Some(task) = agent.task.as_mut() else {
            panic!("agent {name} is stopped");
        };
        tokio::select! {
            () = wait_nodes(&channel, &nodes) => {}
            exit = task.exited() => panic!("{exit}"),
        }
    }

    /// Stops agent `name` gracefully (its pods stay in KV and keep running, as after a crash of
    /// the agent alone); panics if it failed. No-op when it is stopped.
    pub async fn stop_agent(&mut self, name: &str) {
        let agent = self
            .agents
            .get_mut(name)
            .unwrap_or_else(|| panic!("no agent {name}"));
        if let Some(task) = agent.task.take() {
            task.stop().await;
        }
    }

    /// Starts agent `name` again (stopping it first if it runs) with the same configuration and
    /// data directory, and waits until the registry has its nodes.
    pub async fn restart_agent(&mut self, name: &str) {
        self.stop_agent(name).await;
        let config = self.agents[name].config.clone();
        let task = self.spawn_agent(name, &config).await;
        if let Some(agent) = self.agents.get_mut(name) {
            agent.task = Some(task);
        }
        self.wait_agent(name).await;
    }

    /// Waits until the registry lists every node of `names`.
    pub async fn wait_nodes(&self, names: &[String]) {
        wait_nodes(&self.registry.channel, names).await;
    }

    // -----------------------------------------------------------------------------------------
    // Teardown

    /// Stops agents, controllers, registry and admission gracefully (panicking if one failed),
    /// then nats-server.
    pub async fn shutdown(mut self) {
        self.stop_all().await;
    }

    /// Stops agents, controllers, registry and admission gracefully (panicking if one failed);
    /// nats-server keeps running until the stack is dropped. Services can be started again.
    pub async fn stop_all(&mut self) {
        for agent in self.agents.values_mut() {
            if let Some(task) = agent.task.take() {
                task.stop().await;
            }
        }
        for controller in self.controllers.iter_mut().rev() {
            controller.stop().await;
        }
        self.registry.stop().await;
        self.admission.stop().await;
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for agent in self.agents.values_mut() {
            if let Some(task) = agent.task.as_mut() {
                task.abort();
            }
        }
        for controller in self.controllers.iter_mut().rev() {
            controller.abort();
        }
        self.registry.abort();
        self.admission.abort();
    }
}
