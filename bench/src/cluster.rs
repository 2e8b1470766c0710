//! The whole system in this process for the scale scenarios: testkit's [`Stack`] (its own
//! nats-server, the real admission, registry and controller on 127.0.0.1:0, with the services'
//! own default timings), plus fake-runtime agents in the agent's simulate mode (one agent task
//! serves N nodes `<prefix>-<i>`).
//!
//! The agents' data dirs (where the fake runtime keeps one file per pod) are in a memory file
//! system (`/dev/shm`) when there is one: this process plays thousands of machines at once, and
//! on some disks creating a file costs about a millisecond of kernel time (measured on the
//! 2-core test VM), which would otherwise count as control-plane latency.
//!
//! Figures come from the system's observable state only: an [`Observer`] watches KV `pods` and
//! KV `nodes` (a bus `Store` watch, from revision 1) and stamps each change with its arrival
//! time in this process; DaemonSet status is read with admission's Get.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use everynode_api::manifest;
use everynode_api::v1::{self, daemon_sets_client::DaemonSetsClient, nodes_client::NodesClient};
use everynode_bus::{Change, KeyFilter, NodeKey, PodKey, Store};
use everynode_testkit::{Stack, Timing};
use futures::StreamExt;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// The node label every benchmark DaemonSet selects (`nodeSelector: {bench: "yes"}`).
pub const POOL_LABEL: &str = "bench";

/// Settings of the in-process system.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Fake runtime: accepting a pod to its containers running.
    pub start_latency: Duration,
    /// Fake runtime: fraction of container starts that fail (crash loop with back-off).
    pub failure_rate: f64,
    /// Registry: a node is NotReady after this long without heartbeat (agents heartbeat every
    /// third of it).
    pub not_ready_after: Duration,
    /// Controller: pod commands in flight per reconcile.
    pub command_concurrency: usize,
}

/// The stack (NATS, admission, registry, one controller, agents) and an observer.
pub struct Cluster {
    stack: Stack,
    /// DaemonSets API (admission).
    pub daemonsets: DaemonSetsClient<Channel>,
    /// Nodes API (registry).
    pub nodes: NodesClient<Channel>,
    /// KV `pods`, read directly.
    pub pods: Store<PodKey, v1::Pod>,
    /// What the watches saw.
    pub observer: Observer,
    /// Where the agents keep their data (see the module documentation).
    agent_data: tempfile::TempDir,
}

/// Where the simulated agents' data dirs go: a memory file system if there is one.
const MEMORY_FS: &str = "/dev/shm";

/// A temporary folder for the agents' data dirs: in [`MEMORY_FS`] when it can be made there,
/// else in the usual temporary directory.
fn agent_data_dir() -> anyhow::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("everynode-bench-");
    match builder.tempdir_in(MEMORY_FS) {
        Ok(dir) => Ok(dir),
        Err(_) => builder
            .tempdir()
            .context("a temporary directory for the agents"),
    }
}

impl Cluster {
    /// Starts nats-server, admission, registry and a controller (no agents yet) and the
    /// observer.
    pub async fn start(settings: Settings) -> anyhow::Result<Self> {
        let stack = Stack::builder()
            .timing(Timing::Defaults)
            .configure_registry(move |config| {
                config.not_ready_after = settings.not_ready_after;
                config.remove_after = Duration::ZERO;
            })
            .configure_controllers(move |config| {
                config.command_concurrency =
                    NonZeroUsize::new(settings.command_concurrency).unwrap_or(NonZeroUsize::MIN);
            })
            .configure_agents(move |config| {
                config.labels = everynode_agent::config::Labels(
                    [(POOL_LABEL.to_owned(), "yes".to_owned())].into(),
                );
                config.fake.start_latency = settings.start_latency;
                config.fake.failure_rate = settings.failure_rate;
                config.tuning.min_grace = Duration::ZERO;
                config.tuning.crash_backoff_base = Duration::from_millis(100);
                config.tuning.crash_backoff_max = Duration::from_secs(1);
                config.tuning.retry_max = Duration::from_secs(2);
            })
            .start()
            .await;
        let pods = stack.store().await;
        let observer = Observer::start(pods.clone(), stack.store().await).await?;
        // Listing every object back can exceed tonic's 4 MiB default.
        let daemonsets = stack.daemonsets().max_decoding_message_size(1 << 30);
        let nodes = stack.nodes().max_decoding_message_size(1 << 30);
        Ok(Self {
            stack,
            daemonsets,
            nodes,
            pods,
            observer,
            agent_data: agent_data_dir()?,
        })
    }

    /// NATS credentials of the operator (`admin`) of the stack's PKI.
    pub fn admin_nats_auth(&self) -> everynode_bus::NatsAuth {
        self.stack.pki().nats_auth("admin")
    }

    /// The URL of the stack's nats-server (it runs until the cluster is dropped).
    pub fn nats_url(&self) -> String {
        self.stack.nats_url()
    }

    /// Starts one fake-runtime agent simulating `count` nodes `<prefix>-<i>`, labelled
    /// `bench=yes`.
    pub async fn add_agent(&mut self, prefix: &str, count: usize) -> anyhow::Result<()> {
        let mut config = self.stack.agent_config(prefix);
        config.data_dir = Some(self.agent_data.path().join(prefix));
        // One process for many nodes: the simulator identity, not one node's.
        config.common.security = self.stack.pki().credentials("simulator");
        config.simulate = Some(NonZeroUsize::new(count).context("zero nodes")?);
        self.stack.start_agent(prefix, config).await;
        Ok(())
    }

    /// Waits until `count` nodes named `<prefix>-*` are in KV `nodes`.
    pub async fn wait_registered(
        &self,
        prefix: &str,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let p = format!("{prefix}-");
        self.observer
            .until(&format!("{count} {p}* nodes registered"), timeout, |v| {
                let n = v.nodes.keys().filter(|n| n.starts_with(&p)).count();
                (n == count).then_some(()).ok_or(format!("{n} registered"))
            })
            .await
    }

    /// Creates the benchmark DaemonSet `name` through admission.
    pub async fn create_daemonset(&self, name: &str) -> anyhow::Result<()> {
        let ds: v1::DaemonSet = manifest::decode_one(&daemonset_yaml(name))?;
        self.daemonsets
            .clone()
            .create(v1::DaemonSetsCreateRequest {
                daemon_set: Some(ds),
                dry_run: false,
            })
            .await?;
        Ok(())
    }

    /// The status of DaemonSet `name` (admission Get).
    pub async fn status(&self, name: &str) -> anyhow::Result<v1::DaemonSetStatus> {
        let ds = self
            .daemonsets
            .clone()
            .get(v1::DaemonSetsGetRequest {
                namespace: "default".into(),
                name: name.into(),
            })
            .await?
            .into_inner()
            .daemon_set
            .context("Get returned no DaemonSet")?;
        Ok(ds.status.unwrap_or_default())
    }

    /// Polls admission's Get until every DaemonSet of `names` reports `numberReady == ready`
    /// and `desiredNumberScheduled == ready`.
    pub async fn wait_status_ready(
        &self,
        names: &[String],
        ready: i32,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        for name in names {
            loop {
                let s = self.status(name).await?;
                if s.number_ready == ready && s.desired_number_scheduled == ready {
                    break;
                }
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "status of {name}: numberReady {} desired {}, want {ready}",
                    s.number_ready,
                    s.desired_number_scheduled
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(())
    }

    /// Stops agents, then the controller, registry and admission, and the observer; the
    /// nats-server runs until the cluster is dropped.
    pub async fn stop(&mut self) {
        self.stack.stop_all().await;
        self.observer.task.abort();
    }
}

/// The benchmark DaemonSet: one container, tolerates every taint, on nodes labelled `bench=yes`.
pub fn daemonset_yaml(name: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {name}
  namespace: default
spec:
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      nodeSelector: {{{POOL_LABEL}: "yes"}}
      tolerations:
      - operator: Exists
      terminationGracePeriodSeconds: 0
      containers:
      - name: main
        image: example/{name}:1
        command: ["sleep", "infinity"]
        resources:
          requests: {{cpu: 10m, memory: 16Mi}}
"#
    )
}

/// The pods of one node, as the watch of KV `pods` last showed them.
#[derive(Debug, Default, Clone)]
pub struct NodePods {
    /// Keys in KV `pods` on the node.
    pub keys: usize,
    /// Live (no deletionTimestamp) pods that are Running and Ready.
    pub running: usize,
    /// When `running` last went from 0 to more.
    pub running_since: Option<Instant>,
    /// When `keys` last went to 0.
    pub gone_at: Option<Instant>,
}

#[derive(Debug, Clone)]
struct PodInfo {
    app: String,
    live: bool,
    running: bool,
}

/// What the watches of KV `pods` and KV `nodes` saw.
#[derive(Debug, Default)]
pub struct View {
    /// Nodes in KV `nodes`, with the arrival time of their ADDED (a Put of an absent key).
    pub nodes: HashMap<String, Instant>,
    /// Pods by node.
    pub per_node: HashMap<String, NodePods>,
    /// Live Running+Ready pods in all.
    pub running: usize,
    /// Most live pods of one DaemonSet (label `app`) on one node seen at any time.
    pub max_live_per_node_and_app: usize,
    /// Largest encoded pod seen (bytes).
    pub pod_bytes: usize,
    pods: HashMap<PodKey, PodInfo>,
    live_by_node_app: HashMap<(String, String), usize>,
}

impl View {
    fn put_pod(&mut self, key: PodKey, pod: &v1::Pod, now: Instant) {
        self.pod_bytes = self.pod_bytes.max(prost::Message::encoded_len(pod));
        let info = PodInfo {
            app: pod
                .metadata
                .as_ref()
                .and_then(|m| m.labels.get("app").cloned())
                .unwrap_or_default(),
            live: pod
                .metadata
                .as_ref()
                .is_none_or(|m| m.deletion_timestamp.is_none()),
            running: is_running_ready(pod),
        };
        let old = self.pods.insert(key.clone(), info.clone());
        if old.is_none() {
            self.per_node.entry(key.node().to_owned()).or_default().keys += 1;
        }
        self.account(key.node(), old.as_ref(), Some(&info), now);
    }

    fn delete_pod(&mut self, key: &PodKey, now: Instant) {
        if let Some(old) = self.pods.remove(key) {
            let node = self.per_node.entry(key.node().to_owned()).or_default();
            node.keys -= 1;
            if node.keys == 0 {
                node.gone_at = Some(now);
            }
            self.account(key.node(), Some(&old), None, now);
        }
    }

    fn account(&mut self, node: &str, old: Option<&PodInfo>, new: Option<&PodInfo>, now: Instant) {
        let np = self.per_node.entry(node.to_owned()).or_default();
        let before = np.running;
        for (info, sign) in [(old, -1i64), (new, 1)] {
            let Some(info) = info else { continue };
            if info.live && info.running {
                np.running = (np.running as i64 + sign) as usize;
                self.running = (self.running as i64 + sign) as usize;
            }
            if info.live {
                let c = self
                    .live_by_node_app
                    .entry((node.to_owned(), info.app.clone()))
                    .or_default();
                *c = (*c as i64 + sign) as usize;
                self.max_live_per_node_and_app = self.max_live_per_node_and_app.max(*c);
            }
        }
        if before == 0 && np.running > 0 {
            np.running_since = Some(now);
        } else if np.running == 0 {
            np.running_since = None;
        }
    }
}

/// Whether the pod is Running with condition Ready=True.
pub fn is_running_ready(pod: &v1::Pod) -> bool {
    pod.status.as_ref().is_some_and(|s| {
        s.phase == "Running"
            && s.conditions
                .iter()
                .any(|c| c.r#type == "Ready" && c.status == "True")
    })
}

/// Watches KV `pods` and KV `nodes` into a [`View`].
pub struct Observer {
    view: Arc<Mutex<View>>,
    task: JoinHandle<()>,
}

impl Observer {
    async fn start(
        pods: Store<PodKey, v1::Pod>,
        nodes: Store<NodeKey, v1::Node>,
    ) -> anyhow::Result<Self> {
        let view = Arc::new(Mutex::new(View::default()));
        let mut pod_changes = pods.watch(&KeyFilter::all(), 1).await?;
        let mut node_changes = nodes.watch(&KeyFilter::all(), 1).await?;
        let v = view.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(change) = pod_changes.next() => {
                        let Ok(change) = change else { continue };
                        let now = Instant::now();
                        let mut view = lock(&v);
                        match change {
                            Change::Put { key, value, .. } => view.put_pod(key, &value, now),
                            Change::Deleted { key, .. } => view.delete_pod(&key, now),
                        }
                    }
                    Some(change) = node_changes.next() => {
                        let Ok(change) = change else { continue };
                        let now = Instant::now();
                        let mut view = lock(&v);
                        match change {
                            Change::Put { key, .. } => {
                                view.nodes.entry(key.name().to_owned()).or_insert(now);
                            }
                            Change::Deleted { key, .. } => {
                                view.nodes.remove(key.name());
                            }
                        }
                    }
                    else => return,
                }
            }
        });
        Ok(Self { view, task })
    }

    /// The view, locked.
    pub fn view(&self) -> MutexGuard<'_, View> {
        lock(&self.view)
    }

    /// Polls the view (every 5 ms) until `check` returns `Ok`; the last `Err` is reported on
    /// timeout.
    pub async fn until<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&View) -> Result<T, String>,
    ) -> anyhow::Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = check(&self.view());
            match seen {
                Ok(t) => return Ok(t),
                Err(e) if Instant::now() > deadline => {
                    anyhow::bail!("timed out after {timeout:?} waiting for {what}: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }
}

fn lock(view: &Mutex<View>) -> MutexGuard<'_, View> {
    view.lock().unwrap_or_else(|e| e.into_inner())
}

/// Live pods per (node, `app` label) in a fresh listing of KV `pods`: the duplicates (more
/// than one) and the restart count summed over every container.
pub async fn audit(pods: &Store<PodKey, v1::Pod>) -> anyhow::Result<(Vec<String>, i64, usize)> {
    let listing = pods.list().await?;
    let mut per: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut restarts = 0i64;
    let mut live = 0;
    for e in &listing.entries {
        let meta = e.value.metadata.as_ref();
        if meta.is_some_and(|m| m.deletion_timestamp.is_some()) {
            continue;
        }
        live += 1;
        let app = meta
            .and_then(|m| m.labels.get("app").cloned())
            .unwrap_or_default();
        *per.entry((e.key.node().to_owned(), app)).or_default() += 1;
        restarts += e.value.status.as_ref().map_or(0, |s| {
            s.container_statuses
                .iter()
                .map(|c| i64::from(c.restart_count))
                .sum()
        });
    }
    let duplicates = per
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|((node, app), n)| format!("{n} pods of {app} on {node}"))
        .collect();
    Ok((duplicates, restarts, live))
}

/// This process's resident memory: (VmRSS, VmHWM) in KiB, from /proc/self/status.
pub fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
