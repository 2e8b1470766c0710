//! The system under chaos, every part its own OS process so it can be killed (SIGKILL) or
//! frozen (SIGSTOP): a three-member NATS cluster (the test harness's), admission, registry,
//! two controllers and agent processes with the fake runtime, each simulating a share of the
//! nodes. Credentials on, as in production: one PKI, mutual TLS, NATS operator mode.
//!
//! A process keeps its command line and address across restarts; its log (stderr) is appended
//! to `<dir>/logs/<name>.log`.

use std::fs::{self, OpenOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use everynode_api::limits::Bounded;
use everynode_api::v1::{self, daemon_sets_client::DaemonSetsClient, nodes_client::NodesClient};
use everynode_auth::nats::{CREDS_FILE, Role, inbox_prefix};
use everynode_bus::names::{Bucket, EVENTS_STREAM};
use everynode_bus::{LeaseKey, Store};
use everynode_testkit::pki::TestPki;
use everynode_testkit::{NatsCluster, Wait, check_serving, free_ports};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tonic::transport::Channel;

/// How long a part gets to start serving.
const START: Duration = Duration::from_secs(90);

/// One process of the fleet.
pub struct Proc {
    /// Its name in logs and reports (`admission`, `controller-1`, `agent-b`).
    pub name: String,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
    frozen: bool,
}

impl Proc {
    fn new(name: &str, program: PathBuf, args: Vec<String>, logs: &Path) -> Self {
        Self {
            name: name.to_owned(),
            program,
            args,
            log: logs.join(format!("{name}.log")),
            child: None,
            frozen: false,
        }
    }

    /// Starts it (again), with the same command line.
    pub fn spawn(&mut self) -> anyhow::Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        // Nothing from the caller's environment configures a part.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("EVERYNODE_") {
                command.env_remove(key);
            }
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {} ({})", self.name, self.program.display()))?;
        self.child = Some(child);
        self.frozen = false;
        Ok(())
    }

    /// Kills it with SIGKILL and reaps it (no-op when not running).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.frozen = false;
    }

    /// SIGSTOP: it keeps everything, and does nothing, until [`thaw`](Self::thaw).
    pub fn freeze(&mut self) -> anyhow::Result<()> {
        self.signal(Signal::SIGSTOP)?;
        self.frozen = true;
        Ok(())
    }

    /// SIGCONT.
    pub fn thaw(&mut self) -> anyhow::Result<()> {
        self.signal(Signal::SIGCONT)?;
        self.frozen = false;
        Ok(())
    }

    fn signal(&self, signal: Signal) -> anyhow::Result<()> {
        let child = self.child.as_ref().context("not running")?;
        let pid = Pid::from_raw(i32::try_from(child.id()).context("pid")?);
        kill(pid, signal).with_context(|| format!("{signal} to {}", self.name))
    }

    /// Whether it runs (frozen counts as running); an exit is reported with its status.
    pub fn check(&mut self) -> Result<(), String> {
        match self.child.as_mut().map(Child::try_wait) {
            None => Err(format!("{} is not running", self.name)),
            Some(Ok(None)) => Ok(()),
            Some(Ok(Some(status))) => Err(format!("{} exited: {status}", self.name)),
            Some(Err(err)) => Err(format!("{}: {err}", self.name)),
        }
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An agent process and the nodes it simulates.
pub struct Agent {
    /// The process.
    pub proc: Proc,
    /// Its `--data-dir` (the fake runtime's pod files are below it).
    pub data_dir: PathBuf,
    /// The nodes it simulates.
    pub nodes: Vec<String>,
}

/// How the fleet is shaped.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Simulated nodes in all.
    pub nodes: usize,
    /// Agent processes sharing them.
    pub agents: usize,
    /// Controllers (one active, the others standing by).
    pub controllers: usize,
    /// nats-server members.
    pub nats_members: usize,
    /// The controllers' lease duration.
    pub lease: Duration,
    /// Where the service binaries are.
    pub bin_dir: PathBuf,
    /// The run's folder (logs, agents' data).
    pub dir: PathBuf,
}

/// The running fleet.
pub struct Fleet {
    /// Its PKI, kept for the run: the processes read their credentials from its folder.
    _pki: TestPki,
    /// The NATS cluster.
    pub nats: NatsCluster,
    /// `everynode-admission`.
    pub admission: Proc,
    /// `everynode-registry`.
    pub registry: Proc,
    /// `everynode-controller`s.
    pub controllers: Vec<Proc>,
    /// `everynode-agent`s.
    pub agents: Vec<Agent>,
    admission_channel: Channel,
    registry_channel: Channel,
    leases: Store<LeaseKey, v1::Lease>,
    /// JetStream as the admin, for stream leaders.
    js: async_nats::jetstream::Context,
    /// `<dir>/logs`, where the nats-servers' logs are copied when the fleet is dropped.
    logs: PathBuf,
}

impl Drop for Fleet {
    /// Keeps each nats-server's log beside the services' (the cluster's own folders go with
    /// it), so that a failed run can be read whole.
    fn drop(&mut self) {
        for index in 0..self.nats.len() {
            let from = self.nats.member(index).log_path();
            let to = self.logs.join(format!("nats-{index}.log"));
            if let Err(err) = fs::copy(&from, &to) {
                eprintln!("chaos: keeping {}: {err}", from.display());
            }
        }
    }
}

/// `count` free loopback addresses (see [`free_ports`]).
fn free_addrs(count: usize) -> anyhow::Result<Vec<SocketAddr>> {
    Ok(free_ports(count)?
        .into_iter()
        .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
        .collect())
}

fn binary(shape: &Shape, name: &str) -> anyhow::Result<PathBuf> {
    let path = shape.bin_dir.join(name);
    if !path.is_file() {
        bail!(
            "{} not found: build the services first (scripts/chaos does)",
            path.display()
        );
    }
    Ok(path)
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

impl Fleet {
    /// Starts every part and waits until the services serve and every node is registered.
    pub async fn start(shape: &Shape) -> anyhow::Result<Self> {
        let logs = shape.dir.join("logs");
        fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
        let pki = TestPki::new();
        let admin_creds = pki.folder("admin").join(CREDS_FILE);
        let nats = NatsCluster::start_with_auth(
            shape.nats_members,
            pki.dir(),
            &admin_creds,
            &inbox_prefix(Role::Admin, None),
        )
        .await
        .context("starting the NATS cluster")?;
        let url = nats.url();
        let replicas = shape.nats_members.to_string();
        let folder = |name: &str| pki.folder(name).display().to_string();

        let addrs = free_addrs(2 + shape.controllers)?;
        let (admission_addr, registry_addr) = (addrs[0], addrs[1]);
        let admission_url = format!("https://{admission_addr}");
        let registry_url = format!("https://{registry_addr}");
        let mut admission = Proc::new(
            "admission",
            binary(shape, "everynode-admission")?,
            args(&[
                "--nats",
                &url,
                "--credentials",
                &folder("admission"),
                "--listen",
                &admission_addr.to_string(),
                "--replicas",
                &replicas,
            ]),
            &logs,
        );
        let mut registry = Proc::new(
            "registry",
            binary(shape, "everynode-registry")?,
            args(&[
                "--nats",
                &url,
                "--credentials",
                &folder("registry"),
                "--nats-node-signer",
                &pki.node_signer_file().display().to_string(),
                "--listen",
                &registry_addr.to_string(),
                "--replicas",
                &replicas,
            ]),
            &logs,
        );
        admission.spawn()?;
        registry.spawn()?;
        let mut controllers = Vec::new();
        for (index, addr) in addrs[2..].iter().enumerate() {
            let name = format!("controller-{index}");
            let mut controller = Proc::new(
                &name,
                binary(shape, "everynode-controller")?,
                args(&[
                    "--nats",
                    &url,
                    "--credentials",
                    &folder("controller"),
                    "--admission",
                    &admission_url,
                    "--registry",
                    &registry_url,
                    "--listen",
                    &addr.to_string(),
                    "--replicas",
                    &replicas,
                    "--identity",
                    &name,
                    "--lease-duration",
                    &format!("{}ms", shape.lease.as_millis()),
                    "--lease-renew",
                    &format!("{}ms", (shape.lease / 3).as_millis()),
                ]),
                &logs,
            );
            controller.spawn()?;
            controllers.push(controller);
        }
        // One channel per service for the whole run (a channel reconnects by itself).
        let admission_channel = pki.channel("admin", &admission_url);
        let registry_channel = pki.channel("admin", &registry_url);
        wait_serving(&admission_channel, &mut admission).await?;
        wait_serving(&registry_channel, &mut registry).await?;

        let mut agents = Vec::new();
        let share = shape.nodes.div_ceil(shape.agents.max(1));
        for index in 0..shape.agents {
            let count = share.min(shape.nodes.saturating_sub(index * share));
            if count == 0 {
                break;
            }
            let letter = char::from(b'a' + u8::try_from(index % 26).unwrap_or(0));
            let prefix = format!("chaos-{letter}");
            let data_dir = shape.dir.join("agents").join(&prefix);
            fs::create_dir_all(&data_dir)?;
            let mut proc = Proc::new(
                &format!("agent-{letter}"),
                binary(shape, "everynode-agent")?,
                args(&[
                    "--nats",
                    &url,
                    "--credentials",
                    &folder("simulator"),
                    "--registry",
                    &registry_url,
                    "--runtime",
                    "fake",
                    "--simulate",
                    &count.to_string(),
                    "--node-name",
                    &prefix,
                    "--data-dir",
                    &data_dir.display().to_string(),
                    "--node-ip",
                    "127.0.0.1",
                ]),
                &logs,
            );
            proc.spawn()?;
            agents.push(Agent {
                proc,
                data_dir,
                nodes: (0..count).map(|i| format!("{prefix}-{i}")).collect(),
            });
        }
        let client = everynode_bus::connect_auth(&url, "chaos", &pki.nats_auth("admin"))
            .await
            .context("connecting to NATS")?;
        let mut js = async_nats::jetstream::new(client);
        // Short: a stream without a leader does not answer at all.
        js.set_timeout(Duration::from_secs(1));
        let leases = Store::open(&js)
            .await
            .context("opening the leases bucket")?;
        let fleet = Self {
            _pki: pki,
            nats,
            admission,
            registry,
            controllers,
            agents,
            admission_channel,
            registry_channel,
            leases,
            js,
            logs,
        };
        fleet.wait_nodes().await?;
        Ok(fleet)
    }

    /// Every simulated node's name.
    pub fn nodes(&self) -> Vec<String> {
        self.agents.iter().flat_map(|a| a.nodes.clone()).collect()
    }

    /// Every agent's data directory.
    pub fn data_dirs(&self) -> Vec<PathBuf> {
        self.agents.iter().map(|a| a.data_dir.clone()).collect()
    }

    /// A DaemonSets client as the admin.
    pub fn daemonsets(&self) -> DaemonSetsClient<Channel> {
        DaemonSetsClient::new(self.admission_channel.clone()).bounded()
    }

    /// A Nodes client as the admin.
    pub fn registry_client(&self) -> NodesClient<Channel> {
        NodesClient::new(self.registry_channel.clone()).bounded()
    }

    /// Waits until the registry lists every node.
    async fn wait_nodes(&self) -> anyhow::Result<()> {
        let want = self.nodes().len();
        let wait = Wait::new(format!("{want} nodes to register")).timeout(START);
        wait.until(|| async {
            let listed = self.list_nodes().await?;
            if listed.len() == want {
                Ok(())
            } else {
                Err(format!("{} of {want} registered", listed.len()))
            }
        })
        .await
        .map_err(|timed_out| anyhow::anyhow!("{timed_out}"))
    }

    /// The registry's node names.
    pub async fn list_nodes(&self) -> Result<Vec<String>, String> {
        let listed = self
            .registry_client()
            .list(v1::NodesListRequest::default())
            .await
            .map_err(|s| format!("listing nodes: {}", s.message()))?
            .into_inner();
        Ok(listed
            .items
            .into_iter()
            .filter_map(|n| n.metadata.map(|m| m.name))
            .collect())
    }

    /// The index of the controller holding the lease, if one does.
    pub async fn leader(&self) -> Option<usize> {
        let key = LeaseKey::new("controller").ok()?;
        let lease = self.leases.get(&key).await.ok()??.value;
        self.controllers
            .iter()
            .position(|c| c.name == lease.holder_identity)
    }

    /// Waits until a controller holds the lease; its index.
    pub async fn wait_leader(&self, timeout: Duration) -> anyhow::Result<usize> {
        Wait::new("a controller to hold the lease")
            .timeout(timeout)
            .until(|| async { self.leader().await.ok_or("no holder") })
            .await
            .map_err(|timed_out| anyhow::anyhow!("{timed_out}"))
    }

    /// The streams (the events stream and every bucket's) that have no leader right now.
    pub async fn leaderless_streams(&self) -> Vec<String> {
        let names = std::iter::once(EVENTS_STREAM.to_owned())
            .chain(Bucket::ALL.iter().map(|bucket| bucket.stream_name()));
        let mut leaderless = Vec::new();
        for name in names {
            let led = match self.js.get_stream(&name).await {
                Ok(stream) => stream
                    .cached_info()
                    .cluster
                    .as_ref()
                    .and_then(|cluster| cluster.leader.as_deref())
                    .is_some_and(|leader| !leader.is_empty()),
                Err(_) => false,
            };
            if !led {
                leaderless.push(name);
            }
        }
        leaderless
    }

    /// Waits until every stream has a leader again (after a NATS member was killed, NATS
    /// re-elects the leaders it held once its raft election timeout, 4–9 s, has passed).
    pub async fn wait_streams_led(&self, timeout: Duration) -> anyhow::Result<()> {
        Wait::new("every stream to have a leader")
            .timeout(timeout)
            .until(|| async {
                let leaderless = self.leaderless_streams().await;
                if leaderless.is_empty() {
                    Ok(())
                } else {
                    Err(format!("without a leader: {}", leaderless.join(", ")))
                }
            })
            .await
            .map_err(|timed_out| anyhow::anyhow!("{timed_out}"))
    }

    /// The process of service `part`.
    pub fn service(&mut self, part: Part) -> &mut Proc {
        match part {
            Part::Admission => &mut self.admission,
            Part::Registry => &mut self.registry,
        }
    }

    /// Waits until `part` serves again after a restart.
    pub async fn wait_serving(&mut self, part: Part) -> anyhow::Result<()> {
        match part {
            Part::Admission => wait_serving(&self.admission_channel, &mut self.admission).await,
            Part::Registry => wait_serving(&self.registry_channel, &mut self.registry).await,
        }
    }

    /// Every process that should be running but exited.
    pub fn exited(&mut self) -> Vec<String> {
        let mut gone = Vec::new();
        let procs = std::iter::once(&mut self.admission)
            .chain(std::iter::once(&mut self.registry))
            .chain(self.controllers.iter_mut())
            .chain(self.agents.iter_mut().map(|a| &mut a.proc));
        for proc in procs {
            if let Err(reason) = proc.check() {
                gone.push(format!("{reason}\n{}", proc.log_tail(15)));
            }
        }
        gone
    }
}

/// A service whose serving is waited for.
#[derive(Debug, Clone, Copy)]
pub enum Part {
    /// Admission.
    Admission,
    /// The registry.
    Registry,
}

async fn wait_serving(channel: &Channel, proc: &mut Proc) -> anyhow::Result<()> {
    let wait = Wait::new(format!("{} to serve", proc.name))
        .timeout(START)
        .interval(Duration::from_millis(50));
    match wait.until(|| check_serving(channel)).await {
        Ok(()) => Ok(()),
        Err(timed_out) => {
            let state = proc.check().err().unwrap_or_default();
            bail!("{timed_out} {state}\n{}", proc.log_tail(30))
        }
    }
}
