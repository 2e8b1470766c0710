//! The stack's configuration, in one place: how many controllers start, the timing profile,
//! and the adjustments a test makes to each service's `Config`.
//!
//! Every `Config` a [`Stack`](super::Stack) uses — for the services in this process, for a
//! controller in its own process, for agents — and every connection it makes (service URLs,
//! gRPC channels, NATS clients) comes from the functions at the end of this file, so a setting
//! that concerns every service and client is one change here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use everynode_bus::async_nats;
use tonic::transport::Channel;

use super::Stack;
use crate::pki::TestPki;

/// How the services are timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timing {
    /// Short resync, lease, retries and fake-runtime latencies, so that tests converge quickly
    /// and a lost lease is taken over within seconds (the default).
    #[default]
    Fast,
    /// Every service's own defaults (`Config::for_nats`, `Config::new`): what the benchmark
    /// measures.
    Defaults,
}

/// Adjustments of one service's `Config`, applied in the order they were given.
type Adjust<C> = Vec<Arc<dyn Fn(&mut C) + Send + Sync>>;

/// How to build a [`Stack`]: `Stack::builder()`, then settings, then [`StackBuilder::start`].
///
/// ```ignore
/// let stack = Stack::builder()
///     .configure_registry(|c| c.not_ready_after = Duration::from_secs(1))
///     .controllers(0)
///     .start()
///     .await;
/// ```
#[derive(Clone)]
pub struct StackBuilder {
    pki: Arc<TestPki>,
    controllers: usize,
    nats_members: usize,
    timing: Timing,
    admission: Adjust<everynode_admission::Config>,
    registry: Adjust<everynode_registry::Config>,
    controller: Adjust<everynode_controller::Config>,
    agent: Adjust<everynode_agent::Config>,
}

impl Default for StackBuilder {
    /// One controller, [`Timing::Fast`], no adjustments.
    fn default() -> Self {
        Self {
            pki: Arc::new(TestPki::new()),
            controllers: 1,
            nats_members: 1,
            timing: Timing::Fast,
            admission: Vec::new(),
            registry: Vec::new(),
            controller: Vec::new(),
            agent: Vec::new(),
        }
    }
}

impl StackBuilder {
    /// How many controllers start with the stack (default 1; 0 for none, e.g. to start them
    /// later or as processes).
    #[must_use]
    pub fn controllers(mut self, count: usize) -> Self {
        self.controllers = count;
        self
    }

    /// How many nats-servers run, as one cluster (default 1). With more than one, the services
    /// create every bucket and stream with that many replicas (`--replicas`) and connect with
    /// every member's URL.
    #[must_use]
    pub fn nats_members(mut self, count: usize) -> Self {
        self.nats_members = count.max(1);
        self
    }

    /// The timing profile (default [`Timing::Fast`]).
    #[must_use]
    pub fn timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// Adjusts admission's configuration (also when it is started again).
    #[must_use]
    pub fn configure_admission(
        mut self,
        adjust: impl Fn(&mut everynode_admission::Config) + Send + Sync + 'static,
    ) -> Self {
        self.admission.push(Arc::new(adjust));
        self
    }

    /// Adjusts the registry's configuration (also when it is started again).
    #[must_use]
    pub fn configure_registry(
        mut self,
        adjust: impl Fn(&mut everynode_registry::Config) + Send + Sync + 'static,
    ) -> Self {
        self.registry.push(Arc::new(adjust));
        self
    }

    /// Adjusts every controller's configuration, in this process or as a process.
    #[must_use]
    pub fn configure_controllers(
        mut self,
        adjust: impl Fn(&mut everynode_controller::Config) + Send + Sync + 'static,
    ) -> Self {
        self.controller.push(Arc::new(adjust));
        self
    }

    /// Adjusts every agent's configuration (before the adjustments of one agent's start).
    #[must_use]
    pub fn configure_agents(
        mut self,
        adjust: impl Fn(&mut everynode_agent::Config) + Send + Sync + 'static,
    ) -> Self {
        self.agent.push(Arc::new(adjust));
        self
    }

    /// Starts the stack: nats-server, admission, registry and the controllers, each serving
    /// (gRPC health SERVING) when this returns.
    pub async fn start(self) -> Stack {
        Stack::start_with(self).await
    }

    pub(super) fn controller_count(&self) -> usize {
        self.controllers
    }

    pub(super) fn nats_member_count(&self) -> usize {
        self.nats_members
    }

    // -----------------------------------------------------------------------------------------
    // Connections

    /// The stack's PKI: every service, agent and client has an identity of its CA. Known
    /// before the stack starts, so a configuration can point at its files (e.g. the registry's
    /// `--ca-key` at `pki().dir().join("ca.key")`).
    pub fn pki(&self) -> &TestPki {
        &self.pki
    }

    /// The URL of the service listening on `addr`, as clients and other services use it.
    pub(super) fn url(&self, addr: SocketAddr) -> String {
        format!("https://{addr}")
    }

    /// A channel to the service listening on `addr` as the admin, connecting on first use.
    pub(super) fn channel(&self, addr: SocketAddr) -> Channel {
        self.pki.channel("admin", &self.url(addr))
    }

    /// A NATS connection named `name` with the NATS credentials of identity folder `identity`,
    /// for a service or the stack itself.
    pub(super) async fn connect_nats(
        &self,
        url: &str,
        name: &str,
        identity: &str,
    ) -> async_nats::Client {
        let auth = self.pki.nats_auth(identity);
        everynode_bus::connect_auth(url, name, &auth)
            .await
            .unwrap_or_else(|e| panic!("{name} connecting to NATS at {url}: {e}"))
    }

    // -----------------------------------------------------------------------------------------
    // Configurations

    pub(super) fn admission_config(&self, nats: &str) -> everynode_admission::Config {
        let mut config = everynode_admission::Config::for_nats(nats);
        config.common.security = self.pki.credentials("admission");
        config.replicas = self.nats_members;
        apply(&self.admission, &mut config);
        config
    }

    pub(super) fn registry_config(&self, nats: &str) -> everynode_registry::Config {
        let mut config = everynode_registry::Config::for_nats(nats);
        config.common.security = self.pki.credentials("registry");
        config.nats_node_signer = Some(self.pki.node_signer_file());
        config.replicas = self.nats_members;
        apply(&self.registry, &mut config);
        config
    }

    pub(super) fn controller_config(
        &self,
        nats: &str,
        admission: &str,
        registry: &str,
    ) -> everynode_controller::Config {
        let mut config = everynode_controller::Config::for_nats(nats, admission);
        config.common.security = self.pki.credentials("controller");
        config.registry = registry.to_string();
        config.replicas = self.nats_members;
        if self.timing == Timing::Fast {
            config.resync = Duration::from_secs(2);
            config.lease_duration = Duration::from_millis(1500);
            config.lease_renew = Duration::from_millis(300);
            config.command_timeout = Duration::from_secs(2);
            config.retry_max = Duration::from_millis(500);
            config.common.shutdown_grace = Duration::from_secs(5);
        }
        apply(&self.controller, &mut config);
        config
    }

    pub(super) fn agent_config(
        &self,
        nats: &str,
        registry: &str,
        node: &str,
        data_dir: PathBuf,
    ) -> everynode_agent::Config {
        let mut config = everynode_agent::Config::new(nats, registry, node, data_dir);
        config.common.security = everynode_service::SecurityArgs::credentials(self.pki.node(node));
        config.runtime = everynode_agent::RuntimeKind::Fake;
        config.node_ip = Some([127, 0, 0, 1].into());
        if self.timing == Timing::Fast {
            config.fake.start_latency = Duration::from_millis(20);
            config.fake.ready_delay = Duration::ZERO;
            config.tuning.min_grace = Duration::ZERO;
            config.tuning.retry_max = Duration::from_secs(1);
            config.common.shutdown_grace = Duration::from_secs(5);
        }
        apply(&self.agent, &mut config);
        config
    }
}

fn apply<C>(adjust: &Adjust<C>, config: &mut C) {
    for f in adjust {
        f(config);
    }
}
