#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The agent against a real nats-server, real processes, and (where it matters) the real
//! registry run in-process: pods really run with the right environment, crash loops back off
//! and are counted without flooding the bus, deletes stop whole process groups, commands are
//! idempotent and checked, an agent killed with SIGKILL re-attaches to its pods, and the fake
//! runtime simulates a fleet.

mod support;

use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use everynode_agent::procfs;
use everynode_agent::{Config, RuntimeKind};
use everynode_api::v1::{
    self, Container, EnvVar, EnvVarSource, ExecAction, NodesDeleteRequest, NodesListRequest,
    ObjectFieldSelector, ObjectMeta, OwnerReference, Pod, PodCommand, PodCommandOutcome,
    PodCommandReply, PodCreate, PodDelete, PodSetOwner, PodSpec, Probe, nodes_client::NodesClient,
    pod_command,
};
use everynode_bus::async_nats;
use everynode_bus::names::agent_pods_subject;
use everynode_bus::{Bus, Change, KeyFilter, NodeKey, PodKey, Store};
use everynode_service::SecurityArgs;
use everynode_service::Shutdown;
use everynode_testkit::pki::TestPki;
use everynode_testkit::{NatsServer, TestCgroups, eventually};
use futures::StreamExt;
use prost::Message;
use support::AgentBinary;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(20);

struct Bed {
    pki: TestPki,
    nats: NatsServer,
    client: async_nats::Client,
    pods: Store<PodKey, v1::Pod>,
    dir: tempfile::TempDir,
    cgroups: TestCgroups,
}

async fn bed() -> Bed {
    let nats = NatsServer::start().await.expect("nats-server");
    let client = everynode_bus::connect(&nats.url(), "test").await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    Bus::ensure(&js, 1).await.unwrap();
    let pods = Store::open(&js).await.unwrap();
    Bed {
        pki: TestPki::new(),
        nats,
        client,
        pods,
        dir: tempfile::tempdir().unwrap(),
        cgroups: TestCgroups::new(),
    }
}

impl Bed {
    fn config(&self, node: &str, registry: &str) -> Config {
        let mut config = Config::new(&self.nats.url(), registry, node, self.dir.path().join(node));
        config.common.security = SecurityArgs::credentials(self.pki.node(node));
        config.node_ip = Some("127.0.0.1".parse().unwrap());
        config.tuning.crash_backoff_base = Duration::from_millis(200);
        config.tuning.crash_backoff_max = Duration::from_millis(800);
        config.tuning.min_grace = Duration::ZERO;
        config.tuning.retry_max = Duration::from_secs(1);
        config.common.shutdown_grace = Duration::from_secs(5);
        config.process.cgroup_parent = self.cgroups.parent().to_owned();
        config
    }

    /// The real registry on `listener` (NotReady after 3 s, never removing nodes), in this
    /// process.
    async fn start_registry(&self, listener: tokio::net::TcpListener) -> ServiceHandle {
        let mut config = everynode_registry::Config::for_nats(&self.nats.url());
        config.not_ready_after = Duration::from_secs(3);
        config.remove_after = Duration::ZERO;
        config.common.security = self.pki.credentials("registry");
        let nats = everynode_bus::connect(&self.nats.url(), "registry")
            .await
            .unwrap();
        let shutdown = Shutdown::new(Duration::from_secs(5));
        let task = tokio::spawn(everynode_registry::run(
            config,
            listener,
            nats,
            shutdown.clone(),
        ));
        ServiceHandle { shutdown, task }
    }

    /// Creates a `sleep 1000` pod `name` on `node` and waits until it runs; its pid.
    async fn run_sleeper(&self, node: &str, name: &str, uid: &str) -> i32 {
        let reply = command(&self.client, node, sleeper(node, name, uid)).await;
        assert_eq!(outcome(&reply), PodCommandOutcome::Created, "{reply:?}");
        self.wait_pod(
            &PodKey::new(node, "default", name).unwrap(),
            "the pod running",
            running_pid,
        )
        .await
    }

    fn pod_dir(&self, node: &str, uid: &str) -> PathBuf {
        self.dir.path().join(node).join("pods").join(uid)
    }

    async fn start_agent(&self, config: Config) -> AgentHandle {
        let client = everynode_bus::connect(&self.nats.url(), "agent")
            .await
            .unwrap();
        let shutdown = Shutdown::new(Duration::from_secs(5));
        let node = config.node_name.clone().unwrap();
        let simulated = config.simulate.is_some();
        let task = tokio::spawn(everynode_agent::run(config, client, shutdown.clone()));
        if !simulated {
            wait_answering(&self.client, &node).await;
        }
        AgentHandle { shutdown, task }
    }

    async fn pod(&self, key: &PodKey) -> Option<v1::Pod> {
        self.pods.get(key).await.unwrap().map(|v| v.value)
    }

    /// Waits until the pod under `key` satisfies `check`.
    async fn wait_pod<T>(
        &self,
        key: &PodKey,
        what: &str,
        check: impl Fn(&v1::Pod) -> Result<T, String>,
    ) -> T {
        eventually(what, WAIT, || async {
            match self.pod(key).await {
                Some(pod) => check(&pod),
                None => Err("no such key".to_owned()),
            }
        })
        .await
    }
}

struct AgentHandle {
    shutdown: Shutdown,
    task: JoinHandle<anyhow::Result<()>>,
}

/// A service run in this process (the registry), stopped with [`AgentHandle::stop`]'s steps.
type ServiceHandle = AgentHandle;

impl AgentHandle {
    async fn stop(self) {
        self.shutdown.trigger();
        self.task.await.unwrap().unwrap();
    }
}

async fn request(
    client: &async_nats::Client,
    subject: String,
    payload: Vec<u8>,
) -> Option<PodCommandReply> {
    let answer = tokio::time::timeout(
        Duration::from_secs(8),
        client.request(subject, payload.into()),
    )
    .await
    .ok()?
    .ok()?;
    Some(PodCommandReply::decode(answer.payload).unwrap())
}

async fn command(
    client: &async_nats::Client,
    node: &str,
    command: pod_command::Command,
) -> PodCommandReply {
    command_in_term(client, node, 0, command).await
}

/// A command as the controller of lease term `term` sends it.
async fn command_in_term(
    client: &async_nats::Client,
    node: &str,
    term: u64,
    command: pod_command::Command,
) -> PodCommandReply {
    let payload = PodCommand {
        node_name: node.to_owned(),
        term,
        command: Some(command),
    }
    .encode_to_vec();
    request(
        client,
        agent_pods_subject(&NodeKey::new(node).unwrap()),
        payload,
    )
    .await
    .expect("the agent answers")
}

/// Waits until the agent of `node` answers commands.
async fn wait_answering(client: &async_nats::Client, node: &str) {
    eventually("the agent to answer commands", WAIT, || async {
        let probe = PodCommand {
            node_name: node.to_owned(),
            term: 0,
            command: Some(delete("default", "nothing", "")),
        };
        request(
            client,
            agent_pods_subject(&NodeKey::new(node).unwrap()),
            probe.encode_to_vec(),
        )
        .await
        .map(drop)
        .ok_or("no answer")
    })
    .await;
}

fn outcome(reply: &PodCommandReply) -> PodCommandOutcome {
    PodCommandOutcome::try_from(reply.outcome).unwrap()
}

fn create(pod: Pod) -> pod_command::Command {
    pod_command::Command::Create(PodCreate { pod: Some(pod) })
}

fn delete(namespace: &str, name: &str, uid: &str) -> pod_command::Command {
    pod_command::Command::Delete(delete_of(namespace, name, uid))
}

fn delete_of(namespace: &str, name: &str, uid: &str) -> PodDelete {
    PodDelete {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        uid: uid.to_owned(),
        grace_period_seconds: None,
    }
}

fn container(name: &str, command: &[&str]) -> Container {
    Container {
        name: name.to_owned(),
        image: "busybox:1.36".to_owned(),
        command: command.iter().map(|s| (*s).to_owned()).collect(),
        ..Container::default()
    }
}

fn pod(name: &str, uid: &str, node: &str, containers: Vec<Container>) -> Pod {
    Pod {
        api_version: "v1".to_owned(),
        kind: "Pod".to_owned(),
        metadata: Some(ObjectMeta {
            name: name.to_owned(),
            namespace: "default".to_owned(),
            uid: uid.to_owned(),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            node_name: node.to_owned(),
            containers,
            restart_policy: "Always".to_owned(),
            termination_grace_period_seconds: Some(5),
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

/// A create command for a `sleep 1000` pod.
fn sleeper(node: &str, name: &str, uid: &str) -> pod_command::Command {
    create(pod(
        name,
        uid,
        node,
        vec![container("app", &["sleep", "1000"])],
    ))
}

fn field(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.to_owned(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn value(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: value.to_owned(),
        ..EnvVar::default()
    }
}

fn condition(pod: &v1::Pod, type_: &str) -> Option<v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.r#type == type_)
        .cloned()
}

fn container_status(pod: &v1::Pod) -> Result<v1::ContainerStatus, String> {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.first().cloned())
        .ok_or_else(|| format!("no container status: {pod:?}"))
}

fn running_pid(pod: &v1::Pod) -> Result<i32, String> {
    let status = container_status(pod)?;
    if status
        .state
        .as_ref()
        .and_then(|s| s.running.as_ref())
        .is_none()
    {
        return Err(format!("not running: {status:?}"));
    }
    status
        .container_id
        .strip_prefix("process://")
        .and_then(|pid| pid.parse().ok())
        .ok_or_else(|| format!("no process id in {:?}", status.container_id))
}

fn alive(pid: i32) -> bool {
    procfs::read_stat(pid).is_some_and(|s| s.is_live())
}

fn read_pid(path: &Path) -> Result<i32, String> {
    std::fs::read_to_string(path)
        .map_err(|e| e.to_string())?
        .trim()
        .parse()
        .map_err(|e| format!("{e}"))
}

/// Processes whose command line contains `marker`, without a forked child that has not run
/// `exec` yet (it carries its parent's command line for that instant).
fn processes_with(marker: &str) -> Vec<i32> {
    let matching: Vec<i32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| alive(*pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .collect();
    matching
        .iter()
        .copied()
        .filter(|pid| procfs::read_stat(*pid).is_none_or(|s| !matching.contains(&s.ppid)))
        .collect()
}

fn kill_group(pid: i32) {
    everynode_agent::process_group::signal_group(pid, nix::sys::signal::Signal::SIGKILL);
}

#[tokio::test]
async fn a_pod_process_runs_with_its_environment_and_becomes_ready() {
    let bed = bed().await;
    let agent = bed
        .start_agent(bed.config("node-a", "https://127.0.0.1:1"))
        .await;
    let mut app = container(
        "app",
        &[
            "sh",
            "-c",
            "echo hello from $(POD_NAME); env > env.txt; exec sleep 1000",
        ],
    );
    app.env = vec![
        field("NODE", "spec.nodeName"),
        field("POD_NAME", "metadata.name"),
        field("POD_NAMESPACE", "metadata.namespace"),
        field("POD_UID", "metadata.uid"),
        field("HOST_IP", "status.hostIP"),
        field("POD_IP", "status.podIP"),
        value("GREETING", "hi $(POD_NAME) on $(NODE), $$(NODE) $(UNKNOWN)"),
    ];
    app.readiness_probe = Some(Probe {
        exec: Some(ExecAction {
            command: vec!["test".to_owned(), "-s".to_owned(), "env.txt".to_owned()],
            ..ExecAction::default()
        }),
        period_seconds: 1,
        ..Probe::default()
    });
    let reply = command(
        &bed.client,
        "node-a",
        create(pod("web", "uid-web", "node-a", vec![app])),
    )
    .await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Created, "{reply:?}");
    let created = reply.pod.unwrap();
    assert_eq!(created.status.as_ref().unwrap().phase, "Pending");

    let key = PodKey::new("node-a", "default", "web").unwrap();
    let pid = bed
        .wait_pod(&key, "the pod running and ready", |pod| {
            let ready = condition(pod, "Ready").ok_or("no Ready condition")?;
            if ready.status != "True" {
                return Err(format!("not ready: {:?}", pod.status));
            }
            assert!(ready.last_transition_time.is_some());
            running_pid(pod)
        })
        .await;
    let pod = bed.pod(&key).await.unwrap();
    let status = pod.status.unwrap();
    assert_eq!(status.phase, "Running");
    assert_eq!(status.host_ip, "127.0.0.1");
    assert_eq!(status.pod_ip, "127.0.0.1");
    assert!(status.start_time.is_some());
    for type_ in ["Initialized", "ContainersReady", "PodScheduled"] {
        assert_eq!(
            status
                .conditions
                .iter()
                .find(|c| c.r#type == type_)
                .unwrap()
                .status,
            "True",
            "{type_}"
        );
    }
    assert!(status.container_statuses[0].ready);
    assert_eq!(status.container_statuses[0].restart_count, 0);
    assert!(alive(pid));
    assert_eq!(
        procfs::read_stat(pid).unwrap().pgrp,
        pid,
        "its own process group"
    );

    let dir = bed.pod_dir("node-a", "uid-web");
    let env = std::fs::read_to_string(dir.join("env.txt")).unwrap();
    for expected in [
        "NODE=node-a",
        "POD_NAME=web",
        "POD_NAMESPACE=default",
        "POD_UID=uid-web",
        "HOST_IP=127.0.0.1",
        "POD_IP=127.0.0.1",
        "GREETING=hi web on node-a, $(NODE) $(UNKNOWN)",
        "HOSTNAME=web",
    ] {
        assert!(
            env.lines().any(|l| l == expected),
            "{expected} missing in:\n{env}"
        );
    }
    assert!(
        !env.contains("EVERYNODE_") && !env.contains("CARGO"),
        "the agent's environment leaked:\n{env}"
    );
    let state = bed.dir.path().join("node-a").join("state").join("uid-web");
    let log = std::fs::read_to_string(state.join("app.log")).unwrap();
    assert!(log.contains("hello from web"), "{log}");

    let reply = command(&bed.client, "node-a", delete("default", "web", "uid-web")).await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Deleted, "{reply:?}");
    assert!(
        reply
            .pod
            .unwrap()
            .metadata
            .unwrap()
            .deletion_timestamp
            .is_some(),
        "the reply shows the pod terminating"
    );
    eventually("the key removed and the process gone", WAIT, || async {
        match bed.pod(&key).await {
            Some(_) => Err("key still there".to_owned()),
            None if alive(pid) => Err(format!("process {pid} still alive")),
            None => Ok(()),
        }
    })
    .await;
    assert!(!dir.exists(), "the pod directory is removed");
    agent.stop().await;
}

#[tokio::test]
async fn a_crashing_container_restarts_with_back_off_without_flooding_the_bus() {
    let bed = bed().await;
    let agent = bed
        .start_agent(bed.config("node-b", "https://127.0.0.1:1"))
        .await;
    let key = PodKey::new("node-b", "default", "crash").unwrap();
    let start = bed.pods.list().await.unwrap().revision;
    let mut changes = bed
        .pods
        .watch(
            &KeyFilter::node(&NodeKey::new("node-b").unwrap()),
            start + 1,
        )
        .await
        .unwrap();
    let app = container("app", &["sh", "-c", "echo run >> runs.txt; exit 3"]);
    let began = Instant::now();
    let reply = command(
        &bed.client,
        "node-b",
        create(pod("crash", "uid-crash", "node-b", vec![app])),
    )
    .await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Created);

    let restarts = bed
        .wait_pod(&key, "three restarts", |pod| {
            let status = container_status(pod)?;
            if status.restart_count < 3 {
                return Err(format!("{status:?}"));
            }
            let last = status
                .last_state
                .as_ref()
                .and_then(|s| s.terminated.clone())
                .ok_or("no lastState.terminated")?;
            assert_eq!(last.exit_code, 3);
            assert_eq!(last.reason, "Error");
            Ok(status.restart_count)
        })
        .await;
    // Back-off 200 ms, 400 ms, 800 ms, 800 ms…: three restarts take at least 1.4 s.
    assert!(
        began.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        began.elapsed()
    );
    let pod = bed.pod(&key).await.unwrap();
    assert_eq!(
        pod.status.as_ref().unwrap().phase,
        "Running",
        "restartPolicy Always"
    );
    // The run that made the count `restarts` may still be between its start and its write.
    let runs_file = bed.pod_dir("node-b", "uid-crash").join("runs.txt");
    let runs = eventually("the counted runs written", WAIT, || async {
        let text = std::fs::read_to_string(&runs_file).map_err(|e| e.to_string())?;
        let runs = i32::try_from(text.lines().count()).unwrap();
        if runs > restarts {
            Ok(runs)
        } else {
            Err(format!("{runs} runs, {restarts} restarts"))
        }
    })
    .await;
    assert!(
        runs == restarts + 1 || runs == restarts + 2,
        "{runs} runs, {restarts} restarts"
    );

    let reply = command(&bed.client, "node-b", delete("default", "crash", "")).await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Deleted);
    let mut puts = 0;
    loop {
        let change = tokio::time::timeout(WAIT, changes.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match change {
            Change::Put { .. } => puts += 1,
            Change::Deleted { .. } => break,
        }
    }
    let restarts_now = runs; // at most one more run happened before the delete
    assert!(
        puts <= 3 * restarts_now + 4,
        "{puts} writes for {restarts_now} runs: the crash loop floods the bus"
    );
    agent.stop().await;
}

#[tokio::test]
async fn delete_stops_the_whole_process_group_even_when_sigterm_is_ignored() {
    let bed = bed().await;
    let agent = bed
        .start_agent(bed.config("node-c", "https://127.0.0.1:1"))
        .await;
    let app = container(
        "app",
        &[
            "sh",
            "-c",
            "trap '' TERM; sleep 1000 & echo $! > child.pid; wait",
        ],
    );
    let reply = command(
        &bed.client,
        "node-c",
        create(pod("group", "uid-group", "node-c", vec![app])),
    )
    .await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Created);
    let key = PodKey::new("node-c", "default", "group").unwrap();
    let leader = bed.wait_pod(&key, "the pod running", running_pid).await;
    let child_file = bed.pod_dir("node-c", "uid-group").join("child.pid");
    let child = eventually("the child's pid", WAIT, || async { read_pid(&child_file) }).await;
    assert!(alive(leader) && alive(child));
    assert_eq!(procfs::read_stat(child).unwrap().pgrp, leader);

    let began = Instant::now();
    let reply = command(
        &bed.client,
        "node-c",
        pod_command::Command::Delete(PodDelete {
            namespace: "default".to_owned(),
            name: "group".to_owned(),
            uid: "uid-group".to_owned(),
            grace_period_seconds: Some(1),
        }),
    )
    .await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Deleted);
    eventually("both processes gone", WAIT, || async {
        if alive(leader) || alive(child) {
            Err(format!(
                "leader alive: {}, child alive: {}",
                alive(leader),
                alive(child)
            ))
        } else {
            Ok(())
        }
    })
    .await;
    assert!(
        began.elapsed() >= Duration::from_millis(900),
        "SIGTERM is ignored, so only the SIGKILL after the 1 s grace ends them ({:?})",
        began.elapsed()
    );
    eventually("the key removed", WAIT, || async {
        bed.pod(&key).await.map_or(Ok(()), |_| Err("still there"))
    })
    .await;
    agent.stop().await;
}

#[tokio::test]
async fn commands_are_idempotent_and_checked() {
    let bed = bed().await;
    let agent = bed
        .start_agent(bed.config("node-d", "https://127.0.0.1:1"))
        .await;
    let app = container(
        "app",
        &["sh", "-c", "echo $$ >> starts.txt; exec sleep 1000"],
    );
    let web = pod("web", "uid-1", "node-d", vec![app]);
    let first = command(&bed.client, "node-d", create(web.clone())).await;
    assert_eq!(outcome(&first), PodCommandOutcome::Created);
    let again = command(&bed.client, "node-d", create(web.clone())).await;
    assert_eq!(
        outcome(&again),
        PodCommandOutcome::AlreadyExists,
        "{again:?}"
    );
    assert_eq!(again.pod.unwrap().metadata.unwrap().uid, "uid-1");

    let key = PodKey::new("node-d", "default", "web").unwrap();
    let pid = bed.wait_pod(&key, "the pod running", running_pid).await;
    let starts = bed.pod_dir("node-d", "uid-1").join("starts.txt");
    let started = eventually("the start recorded", WAIT, || async {
        std::fs::read_to_string(&starts).map_err(|e| e.to_string())
    })
    .await;
    assert_eq!(started.lines().count(), 1, "one process only: {started}");

    // The same name with another uid is refused, and changes nothing.
    let other_uid = command(
        &bed.client,
        "node-d",
        create(pod("web", "uid-2", "node-d", vec![])),
    )
    .await;
    assert_eq!(outcome(&other_uid), PodCommandOutcome::Rejected);
    let other_uid = command(
        &bed.client,
        "node-d",
        create(pod(
            "web",
            "uid-2",
            "node-d",
            vec![container("app", &["true"])],
        )),
    )
    .await;
    assert_eq!(outcome(&other_uid), PodCommandOutcome::NameTaken);
    assert!(other_uid.message.contains("uid-1"), "{}", other_uid.message);

    // A command for another node, a pod bound elsewhere, garbage: rejected.
    let subject = agent_pods_subject(&NodeKey::new("node-d").unwrap());
    let wrong_node = PodCommand {
        node_name: "node-x".to_owned(),
        term: 0,
        command: Some(create(pod(
            "x",
            "uid-x",
            "node-x",
            vec![container("app", &["true"])],
        ))),
    };
    let reply = request(&bed.client, subject.clone(), wrong_node.encode_to_vec())
        .await
        .unwrap();
    assert_eq!(outcome(&reply), PodCommandOutcome::Rejected);
    assert!(reply.message.contains("node-x"), "{}", reply.message);
    let bound_elsewhere = command(
        &bed.client,
        "node-d",
        create(pod(
            "y",
            "uid-y",
            "node-x",
            vec![container("app", &["true"])],
        )),
    )
    .await;
    assert_eq!(outcome(&bound_elsewhere), PodCommandOutcome::Rejected);
    let garbage = request(&bed.client, subject.clone(), vec![0xff, 0xff, 0xff])
        .await
        .unwrap();
    assert_eq!(outcome(&garbage), PodCommandOutcome::Rejected);
    assert!(garbage.message.contains("malformed"), "{}", garbage.message);
    let empty = command(
        &bed.client,
        "node-d",
        pod_command::Command::Create(PodCreate { pod: None }),
    )
    .await;
    assert_eq!(outcome(&empty), PodCommandOutcome::Rejected);
    for name in ["x", "y"] {
        let key = PodKey::new("node-d", "default", name).unwrap();
        assert!(bed.pod(&key).await.is_none(), "{name} must not be recorded");
    }

    // Owner references are replaced in place; the process keeps running.
    let set_owner = command(
        &bed.client,
        "node-d",
        pod_command::Command::SetOwner(PodSetOwner {
            namespace: "default".to_owned(),
            name: "web".to_owned(),
            uid: "uid-1".to_owned(),
            owner_references: vec![OwnerReference {
                api_version: "apps/v1".to_owned(),
                kind: "DaemonSet".to_owned(),
                name: "web".to_owned(),
                uid: "ds-uid".to_owned(),
                controller: Some(true),
                ..OwnerReference::default()
            }],
        }),
    )
    .await;
    assert_eq!(
        outcome(&set_owner),
        PodCommandOutcome::Updated,
        "{set_owner:?}"
    );
    let recorded = bed.pod(&key).await.unwrap();
    assert_eq!(recorded.metadata.unwrap().owner_references[0].uid, "ds-uid");
    assert!(alive(pid));

    // A container without a command cannot run, and says why.
    let imageless = command(
        &bed.client,
        "node-d",
        create(pod(
            "imageless",
            "uid-3",
            "node-d",
            vec![container("app", &[])],
        )),
    )
    .await;
    assert_eq!(outcome(&imageless), PodCommandOutcome::Created);
    let waiting_key = PodKey::new("node-d", "default", "imageless").unwrap();
    bed.wait_pod(&waiting_key, "NoCommand waiting", |pod| {
        let status = container_status(pod)?;
        match status.state.and_then(|s| s.waiting) {
            Some(waiting) if waiting.reason == "NoCommand" => {
                assert!(waiting.message.contains("`command`"), "{}", waiting.message);
                Ok(())
            }
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    // Deletes: a wrong uid leaves the pod alone, a retry is harmless, a missing pod is NOT_FOUND.
    let wrong_uid = command(&bed.client, "node-d", delete("default", "web", "uid-9")).await;
    assert_eq!(outcome(&wrong_uid), PodCommandOutcome::NotFound);
    assert!(alive(pid));
    for _ in 0..2 {
        let reply = command(&bed.client, "node-d", delete("default", "web", "uid-1")).await;
        assert!(
            matches!(
                outcome(&reply),
                PodCommandOutcome::Deleted | PodCommandOutcome::NotFound
            ),
            "{reply:?}"
        );
    }
    let reply = command(&bed.client, "node-d", delete("default", "imageless", "")).await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Deleted);
    eventually("both keys removed", WAIT, || async {
        let left = bed
            .pods
            .list()
            .await
            .map_err(|e| e.to_string())?
            .entries
            .len();
        if left == 0 {
            Ok(())
        } else {
            Err(format!("{left} keys left"))
        }
    })
    .await;
    assert!(!alive(pid));
    let missing = command(&bed.client, "node-d", delete("default", "web", "")).await;
    assert_eq!(outcome(&missing), PodCommandOutcome::NotFound);
    agent.stop().await;
}

/// The agent binary for `node` on `bed` (its registry unreachable: NATS only).
fn start_binary(bed: &Bed, node: &str, log: &Path) -> AgentBinary {
    let nats = bed.nats.url();
    let credentials = bed.pki.node(node).display().to_string();
    let data_dir = bed.dir.path().join(node).display().to_string();
    AgentBinary::start(
        &[
            "--node-name",
            node,
            "--nats",
            &nats,
            "--registry",
            "https://127.0.0.1:1",
            "--credentials",
            &credentials,
            "--data-dir",
            &data_dir,
            "--node-ip",
            "127.0.0.1",
            "--crash-backoff-base",
            "200ms",
            "--cgroup-parent",
            bed.cgroups.parent(),
        ],
        log,
    )
}

/// A record deleted while the agent was away is no instruction to stop the pod: the restarted
/// agent finds the pod still running without a record, records it again from its own copy
/// (same uid, same process, no restart), and the controller can then keep or delete it.
#[tokio::test]
async fn a_pod_whose_record_vanished_while_its_agent_was_away_is_recorded_again() {
    let bed = bed().await;
    let log = bed.dir.path().join("agent-r.log");
    let marker = format!("marker-{}", uuid::Uuid::new_v4());
    let mut agent = start_binary(&bed, "node-r", &log);
    wait_answering(&bed.client, "node-r").await;
    let app = container("app", &["sh", "-c", "while :; do sleep 1; done", &marker]);
    let reply = command(
        &bed.client,
        "node-r",
        create(pod("kept", "uid-kept-r", "node-r", vec![app])),
    )
    .await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Created);
    let key = PodKey::new("node-r", "default", "kept").unwrap();
    let pid = bed.wait_pod(&key, "the pod running", running_pid).await;
    agent.0.kill().unwrap();
    agent.0.wait().unwrap();
    drop(agent);

    // While the agent is away its record goes (a bucket that lost its data, say).
    bed.pods.delete(&key, None).await.unwrap();
    assert!(bed.pod(&key).await.is_none());
    let agent = start_binary(&bed, "node-r", &log);
    wait_answering(&bed.client, "node-r").await;
    let again = bed
        .wait_pod(&key, "the record written again", running_pid)
        .await;
    assert_eq!(again, pid, "the same process");
    let recorded = bed.pod(&key).await.unwrap();
    assert_eq!(recorded.metadata.as_ref().unwrap().uid, "uid-kept-r");
    assert_eq!(container_status(&recorded).unwrap().restart_count, 0);
    assert_eq!(processes_with(&marker), vec![pid], "exactly once");
    drop(agent);
    kill_group(pid);
}

/// "Deleted" is an answer the controller counts on: it then waits for the pod to show as
/// terminating or gone. So it is given only once KV holds the pod as terminating: while KV
/// refuses writes a delete is answered "rejected … retry" and an agent killed then resumes the
/// pod; once KV takes writes again, an agent SIGKILLed right after answering "Deleted" (its pod
/// ignoring SIGTERM, so still in its grace) resumes the deletion when it comes back.
#[tokio::test]
async fn a_delete_is_answered_only_once_kv_holds_it_and_survives_the_agents_kill() {
    let bed = bed().await;
    let log = bed.dir.path().join("agent-k.log");
    let marker = format!("marker-{}", uuid::Uuid::new_v4());
    let mut agent = start_binary(&bed, "node-k", &log);
    wait_answering(&bed.client, "node-k").await;
    let app = container(
        "app",
        &[
            "sh",
            "-c",
            "trap '' TERM; while :; do sleep 1; done",
            &marker,
        ],
    );
    let reply = command(
        &bed.client,
        "node-k",
        create(pod("doomed", "uid-doomed", "node-k", vec![app])),
    )
    .await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Created);
    let key = PodKey::new("node-k", "default", "doomed").unwrap();
    let pid = bed.wait_pod(&key, "the pod running", running_pid).await;
    let delete = || {
        pod_command::Command::Delete(PodDelete {
            grace_period_seconds: Some(5),
            ..delete_of("default", "doomed", "uid-doomed")
        })
    };

    // KV refuses every write (no pod record fits in 16 bytes): the delete is not acknowledged.
    let js = async_nats::jetstream::new(bed.client.clone());
    let mut stream = js.get_stream("KV_pods").await.unwrap();
    let open = stream.info().await.unwrap().config.clone();
    let refusing = async_nats::jetstream::stream::Config {
        max_message_size: 16,
        ..open.clone()
    };
    js.update_stream(refusing).await.unwrap();
    let reply = command(&bed.client, "node-k", delete()).await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Rejected, "{reply:?}");
    assert!(reply.message.contains("not recorded"), "{reply:?}");
    agent.0.kill().unwrap();
    agent.0.wait().unwrap();
    drop(agent);
    js.update_stream(open).await.unwrap();
    let recorded = bed.pod(&key).await.expect("the record");
    assert_eq!(
        recorded.metadata.as_ref().unwrap().deletion_timestamp,
        None,
        "nothing acknowledged, nothing recorded"
    );
    let mut agent = start_binary(&bed, "node-k", &log);
    wait_answering(&bed.client, "node-k").await;
    eventually(
        "the unacknowledged deletion forgotten: the pod resumed",
        WAIT,
        || async {
            let text = std::fs::read_to_string(&log).map_err(|e| e.to_string())?;
            if text.matches("everynode-agent running").count() >= 2 && alive(pid) {
                Ok(())
            } else {
                Err(format!("pod alive: {}", alive(pid)))
            }
        },
    )
    .await;

    // KV takes writes: "Deleted" means KV holds the deletion, and a kill cannot undo it.
    let reply = command(&bed.client, "node-k", delete()).await;
    let deleted = Instant::now();
    assert_eq!(outcome(&reply), PodCommandOutcome::Deleted, "{reply:?}");
    agent.0.kill().unwrap();
    agent.0.wait().unwrap();
    drop(agent);
    let recorded = bed.pod(&key).await.expect("the record, still there");
    let meta = recorded.metadata.as_ref().unwrap();
    assert!(
        meta.deletion_timestamp.is_some(),
        "KV must hold the deletion once it was answered: {meta:?}"
    );
    assert_eq!(meta.deletion_grace_period_seconds, Some(5));
    assert!(
        alive(pid),
        "SIGTERM is ignored and the grace has not run out"
    );

    // The restarted agent resumes the deletion with what is left of the grace.
    let _agent = start_binary(&bed, "node-k", &log);
    wait_answering(&bed.client, "node-k").await;
    eventually("the pod stopped and its key removed", WAIT, || async {
        match (alive(pid), bed.pod(&key).await) {
            (false, None) => Ok(()),
            (alive, record) => Err(format!(
                "process alive: {alive}, record: {:?}",
                record.map(|p| p.metadata.unwrap_or_default().deletion_timestamp)
            )),
        }
    })
    .await;
    // The grace is counted from the (whole-second) deletion timestamp, not started over.
    let lived = deleted.elapsed();
    assert!(
        lived >= Duration::from_secs(3) && lived < Duration::from_secs(8),
        "SIGTERM is ignored, so the SIGKILL ends it after what is left of the 5 s grace; it lived {lived:?}"
    );
    assert!(
        processes_with(&marker).is_empty(),
        "nothing of the pod left"
    );
}

/// An agent never creates a bucket: started before the services have made them, it asks for
/// KV `pods`, finds none, creates nothing, keeps asking, and serves once the services made it.
#[tokio::test]
async fn an_agent_waits_for_the_services_buckets_and_creates_none() {
    let nats = NatsServer::start().await.expect("nats-server");
    let client = everynode_bus::connect(&nats.url(), "observer")
        .await
        .unwrap();
    let mut api = client.subscribe("$JS.API.>").await.unwrap();
    client.flush().await.unwrap();
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(
        &nats.url(),
        "https://127.0.0.1:1",
        "node-w",
        dir.path().join("w"),
    );
    config.common.security = SecurityArgs::credentials(pki.node("node-w"));
    config.node_ip = Some("127.0.0.1".parse().unwrap());
    config.runtime = RuntimeKind::Fake;
    config.tuning.retry_max = Duration::from_millis(300);
    let agent_client = everynode_bus::connect(&nats.url(), "agent").await.unwrap();
    let shutdown = Shutdown::new(Duration::from_secs(5));
    let task = tokio::spawn(everynode_agent::run(config, agent_client, shutdown.clone()));

    // Two lookups of the bucket, and nothing that creates a stream.
    let mut lookups = 0;
    let mut seen = Vec::new();
    while lookups < 2 {
        let request = tokio::time::timeout(WAIT, api.next())
            .await
            .unwrap_or_else(|_| panic!("the agent's bucket lookups; saw {seen:?}"))
            .unwrap();
        let subject = request.subject.to_string();
        assert!(
            !subject.contains(".CREATE."),
            "an agent created something: {subject}"
        );
        if subject.ends_with(".KV_pods") {
            lookups += 1;
        }
        seen.push(subject);
    }
    let js = async_nats::jetstream::new(client.clone());
    assert!(js.get_stream("KV_pods").await.is_err(), "no bucket yet");

    Bus::ensure(&js, 1).await.unwrap();
    wait_answering(&client, "node-w").await;
    shutdown.trigger();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_agent_killed_with_sigkill_reattaches_and_one_stopped_with_sigterm_leaves_pods_running()
{
    let bed = bed().await;
    let log = bed.dir.path().join("agent.log");
    let marker = format!("marker-{}", uuid::Uuid::new_v4());
    let mut agent = start_binary(&bed, "node-e", &log);
    wait_answering(&bed.client, "node-e").await;
    let app = container("app", &["sh", "-c", "while :; do sleep 1; done", &marker]);
    let reply = command(
        &bed.client,
        "node-e",
        create(pod("loop", "uid-loop", "node-e", vec![app])),
    )
    .await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Created);
    let key = PodKey::new("node-e", "default", "loop").unwrap();
    let pid = bed.wait_pod(&key, "the pod running", running_pid).await;
    assert_eq!(processes_with(&marker), vec![pid]);

    agent.0.kill().unwrap();
    agent.0.wait().unwrap();
    assert!(alive(pid), "the pod outlives its agent");
    drop(agent);

    let mut agent = start_binary(&bed, "node-e", &log);
    wait_answering(&bed.client, "node-e").await;
    // A second pod proves the restarted agent is at work; the first must not be started again.
    let second = bed.run_sleeper("node-e", "second", "uid-second").await;
    eventually("the agent log to show the re-attach", WAIT, || async {
        let text = std::fs::read_to_string(&log).map_err(|e| e.to_string())?;
        if text.contains("re-attached") {
            Ok(())
        } else {
            Err("not yet".to_owned())
        }
    })
    .await;
    assert_eq!(
        processes_with(&marker),
        vec![pid],
        "the same process, exactly once"
    );
    let pod = bed.pod(&key).await.unwrap();
    assert_eq!(running_pid(&pod), Ok(pid));
    assert_eq!(container_status(&pod).unwrap().restart_count, 0);

    // SIGTERM: the agent exits cleanly and leaves its pods running.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(agent.0.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = agent.0.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(
        alive(pid) && alive(second),
        "pods keep running after SIGTERM"
    );
    assert_eq!(processes_with(&marker), vec![pid]);
    kill_group(pid);
    kill_group(second);
}

/// Fencing: commands of a controller term older than one the agent has seen (in a command or
/// an announcement) are refused and change nothing; the highest term survives a restart.
#[tokio::test]
async fn commands_of_a_stale_controller_term_are_refused_even_after_a_restart() {
    let bed = bed().await;
    let node = "node-f";
    let agent = bed
        .start_agent(bed.config(node, "https://127.0.0.1:1"))
        .await;
    let reply = command_in_term(
        &bed.client,
        node,
        10,
        sleeper(node, "current", "uid-current"),
    )
    .await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Created);
    let current = bed
        .wait_pod(
            &PodKey::new(node, "default", "current").unwrap(),
            "the pod running",
            running_pid,
        )
        .await;
    let reply = command_in_term(&bed.client, node, 5, sleeper(node, "stale", "uid-stale")).await;
    assert_eq!(outcome(&reply), PodCommandOutcome::StaleTerm, "{reply:?}");
    for words in ["term 5", "term 10"] {
        assert!(reply.message.contains(words), "{words} in {reply:?}");
    }
    assert!(
        bed.pod(&PodKey::new(node, "default", "stale").unwrap())
            .await
            .is_none(),
        "a refused command writes nothing"
    );
    assert!(!bed.pod_dir(node, "uid-stale").exists());

    // A new leader announces term 20: term 15's commands are refused from then on.
    let announcement = v1::TermAnnouncement {
        term: 20,
        holder_identity: "controller-b".into(),
    };
    bed.client
        .publish(
            everynode_bus::names::CONTROLLER_TERM,
            announcement.encode_to_vec().into(),
        )
        .await
        .unwrap();
    eventually(
        "term 15 refused after the announcement of 20",
        WAIT,
        || async {
            let reply =
                command_in_term(&bed.client, node, 15, delete("default", "none", "x")).await;
            match outcome(&reply) {
                PodCommandOutcome::StaleTerm => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    agent.stop().await;
    let kept = std::fs::read_to_string(
        bed.dir
            .path()
            .join(node)
            .join(everynode_agent::fence::TERM_FILE),
    )
    .unwrap();
    assert_eq!(kept.trim(), "20");

    let agent = bed
        .start_agent(bed.config(node, "https://127.0.0.1:1"))
        .await;
    let reply = command_in_term(&bed.client, node, 19, sleeper(node, "late", "uid-late")).await;
    assert_eq!(outcome(&reply), PodCommandOutcome::StaleTerm, "{reply:?}");
    let reply = command_in_term(&bed.client, node, 20, delete("default", "none", "x")).await;
    assert_eq!(
        outcome(&reply),
        PodCommandOutcome::NotFound,
        "accepted: {reply:?}"
    );
    agent.stop().await;
    kill_group(current);
}

/// A record of this node's that no longer decodes is no instruction to stop anything: the
/// restarted agent recovers what it can read and leaves the unknown pod's process running.
#[tokio::test]
async fn an_unreadable_pod_record_never_stops_a_running_pod() {
    let bed = bed().await;
    let marker = format!("marker-{}", uuid::Uuid::new_v4());
    let agent = bed
        .start_agent(bed.config("node-u", "https://127.0.0.1:1"))
        .await;
    let app = container("app", &["sh", "-c", "while :; do sleep 1; done", &marker]);
    let reply = command(
        &bed.client,
        "node-u",
        create(pod("kept", "uid-kept", "node-u", vec![app])),
    )
    .await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Created);
    let key = PodKey::new("node-u", "default", "kept").unwrap();
    let pid = bed.wait_pod(&key, "the pod running", running_pid).await;
    agent.stop().await;
    assert!(alive(pid), "the pod outlives its agent");

    let raw = async_nats::jetstream::new(bed.client.clone())
        .get_key_value("pods")
        .await
        .unwrap();
    raw.put(everynode_bus::Key::encode(&key), vec![0xff_u8, 0xff].into())
        .await
        .unwrap();
    let agent = bed
        .start_agent(bed.config("node-u", "https://127.0.0.1:1"))
        .await;
    // The agent answers only after its recovery (and any orphan clean-up) is over; a second
    // pod that runs proves it is at work.
    let second = bed.run_sleeper("node-u", "second", "uid-second-u").await;
    assert!(alive(pid), "the pod with the unreadable record still runs");
    assert_eq!(processes_with(&marker), vec![pid]);
    let again = bed
        .wait_pod(
            &key,
            "the record written again from the agent's copy",
            running_pid,
        )
        .await;
    assert_eq!(again, pid);
    agent.stop().await;
    kill_group(pid);
    kill_group(second);
}

/// Two agents on two machines (two boot ids) started with one node name: the second is
/// refused by the registry and exits naming the conflict; the first keeps its node and keeps
/// taking commands.
#[tokio::test]
async fn a_second_agent_with_a_live_node_name_is_refused_and_exits() {
    let bed = bed().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let registry_url = format!("https://{}", listener.local_addr().unwrap());
    let registry = bed.start_registry(listener).await;
    let mut nodes = NodesClient::new(bed.pki.channel("admin", &registry_url));
    let twin_config = || {
        let mut config = bed.config("twin", &registry_url);
        config.runtime = RuntimeKind::Fake;
        config
    };
    let boot_id = |node: &v1::Node| {
        node.status
            .as_ref()
            .and_then(|s| s.node_info.as_ref())
            .map(|i| i.boot_id.clone())
            .unwrap_or_default()
    };
    let first = bed.start_agent(twin_config()).await;
    let holder = eventually("the first agent registered", WAIT, || {
        let mut nodes = nodes.clone();
        async move {
            let node = nodes
                .get(everynode_api::v1::NodesGetRequest {
                    name: "twin".into(),
                })
                .await
                .map_err(|e| e.to_string())?
                .into_inner()
                .node
                .unwrap_or_default();
            Ok::<_, String>(boot_id(&node))
        }
    })
    .await;
    assert!(!holder.is_empty());

    let client = everynode_bus::connect(&bed.nats.url(), "agent")
        .await
        .unwrap();
    // Another machine: another data dir, so another (fake) boot id.
    let mut second_config = twin_config();
    second_config.data_dir = Some(bed.dir.path().join("twin-elsewhere"));
    let second = tokio::spawn(everynode_agent::run(
        second_config,
        client,
        Shutdown::new(Duration::from_secs(5)),
    ));
    let ended = tokio::time::timeout(WAIT, second)
        .await
        .expect("the second agent ends on its own")
        .unwrap();
    let message = format!("{:#}", ended.expect_err("the second agent fails"));
    for words in ["\"twin\"", "live agent", holder.as_str()] {
        assert!(message.contains(words), "{words} in {message}");
    }

    // The first agent still holds the node and still takes commands.
    let stored = nodes
        .get(everynode_api::v1::NodesGetRequest {
            name: "twin".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .node
        .unwrap();
    assert_eq!(boot_id(&stored), holder);
    let reply = command(
        &bed.client,
        "twin",
        create(pod(
            "after",
            "uid-after-twin",
            "twin",
            vec![container("app", &["sleep", "1"])],
        )),
    )
    .await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Created);
    first.stop().await;
    registry.stop().await;
}

#[tokio::test]
async fn simulated_nodes_register_before_and_after_the_registry_comes_up_and_run_pods() {
    let bed = bed().await;
    // The agent starts first; the registry's port is bound but not served yet.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let registry_url = format!("https://{}", listener.local_addr().unwrap());
    let mut config = bed.config("sim", &registry_url);
    config.common.security = bed.pki.credentials("simulator");
    config.runtime = RuntimeKind::Fake;
    config.simulate = std::num::NonZeroUsize::new(100);
    config.fake.start_latency = Duration::from_millis(50);
    config.fake.ready_delay = Duration::from_millis(100);
    config
        .labels
        .0
        .insert("pool".to_owned(), "simulated".to_owned());
    let agent = bed.start_agent(config).await;

    let registry = bed.start_registry(listener).await;
    let mut nodes = NodesClient::new(bed.pki.channel("admin", &registry_url));
    let listed = eventually("100 simulated nodes registered", WAIT, || {
        let mut nodes = nodes.clone();
        async move {
            let items = nodes
                .list(NodesListRequest::default())
                .await
                .map_err(|e| e.to_string())?
                .into_inner()
                .items;
            if items.len() == 100 {
                Ok(items)
            } else {
                Err(format!("{} nodes", items.len()))
            }
        }
    })
    .await;
    let node = listed
        .iter()
        .find(|n| n.metadata.as_ref().unwrap().name == "sim-42")
        .unwrap();
    let labels = &node.metadata.as_ref().unwrap().labels;
    assert_eq!(labels["pool"], "simulated");
    assert_eq!(labels["kubernetes.io/hostname"], "sim-42");
    assert_eq!(labels["kubernetes.io/os"], "linux");
    let info = node.status.as_ref().unwrap().node_info.clone().unwrap();
    assert!(
        info.container_runtime_version.starts_with("fake://"),
        "{info:?}"
    );

    for index in [0, 42, 99] {
        let node = format!("sim-{index}");
        let reply = command(
            &bed.client,
            &node,
            create(pod(
                "daemon",
                &format!("uid-{index}"),
                &node,
                vec![container("app", &["sleep", "1"])],
            )),
        )
        .await;
        assert_eq!(outcome(&reply), PodCommandOutcome::Created, "{reply:?}");
        let key = PodKey::new(&node, "default", "daemon").unwrap();
        bed.wait_pod(&key, "the simulated pod ready", |pod| {
            match condition(pod, "Ready") {
                Some(c)
                    if c.status == "True" && pod.status.as_ref().unwrap().phase == "Running" =>
                {
                    Ok(())
                }
                _ => Err(format!("{:?}", pod.status)),
            }
        })
        .await;
    }
    let reply = command(&bed.client, "sim-42", delete("default", "daemon", "uid-42")).await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Deleted);
    eventually("the simulated pod's key removed", WAIT, || async {
        let key = PodKey::new("sim-42", "default", "daemon").unwrap();
        bed.pod(&key).await.map_or(Ok(()), |_| Err("still there"))
    })
    .await;
    // Nodes this process does not simulate get no answer from it.
    let stranger = PodCommand {
        node_name: "sim-100".to_owned(),
        term: 0,
        command: Some(delete("default", "daemon", "")),
    };
    let subject = agent_pods_subject(&NodeKey::new("sim-100").unwrap());
    assert!(
        request(&bed.client, subject, stranger.encode_to_vec())
            .await
            .is_none()
    );

    // A node removed from the registry registers again on its next heartbeat (NOT_FOUND).
    nodes
        .delete(NodesDeleteRequest {
            name: "sim-7".to_owned(),
        })
        .await
        .unwrap();
    eventually("sim-7 registered again", WAIT, || {
        let mut nodes = nodes.clone();
        async move {
            let items = nodes
                .list(NodesListRequest::default())
                .await
                .map_err(|e| e.to_string())?
                .into_inner()
                .items;
            if items
                .iter()
                .any(|n| n.metadata.as_ref().unwrap().name == "sim-7")
            {
                Ok(())
            } else {
                Err(format!("{} nodes, sim-7 missing", items.len()))
            }
        }
    })
    .await;
    agent.stop().await;
    registry.stop().await;
}

#[tokio::test]
async fn init_containers_run_first_and_probes_decide_readiness_and_restarts() {
    let bed = bed().await;
    let agent = bed
        .start_agent(bed.config("node-f", "https://127.0.0.1:1"))
        .await;
    // The readiness probe connects to a port this test listens on, named in the container.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = i32::from(listener.local_addr().unwrap().port());
    let init = container("setup", &["sh", "-c", "echo done > init.txt"]);
    let mut app = container("app", &["sh", "-c", "test -f init.txt && exec sleep 1000"]);
    app.ports = vec![v1::ContainerPort {
        name: "probe".to_owned(),
        container_port: port,
        ..v1::ContainerPort::default()
    }];
    app.readiness_probe = Some(Probe {
        tcp_socket: Some(v1::TcpSocketAction {
            port: Some(prost_types::Value {
                kind: Some(prost_types::value::Kind::StringValue("probe".to_owned())),
            }),
            host: "127.0.0.1".to_owned(),
            ..v1::TcpSocketAction::default()
        }),
        period_seconds: 1,
        ..Probe::default()
    });
    app.liveness_probe = Some(Probe {
        exec: Some(ExecAction {
            command: vec![
                "sh".to_owned(),
                "-c".to_owned(),
                "test ! -f unhealthy".to_owned(),
            ],
            ..ExecAction::default()
        }),
        period_seconds: 1,
        failure_threshold: 1,
        ..Probe::default()
    });
    let mut spec = pod("probed", "uid-probed", "node-f", vec![app]);
    spec.spec.as_mut().unwrap().init_containers = vec![init];
    let reply = command(&bed.client, "node-f", create(spec)).await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Created, "{reply:?}");
    let key = PodKey::new("node-f", "default", "probed").unwrap();
    let first = bed
        .wait_pod(&key, "initialized, running and ready", |pod| {
            let ready = condition(pod, "Ready").ok_or("no Ready")?;
            if ready.status != "True" {
                return Err(format!("{:?}", pod.status));
            }
            running_pid(pod)
        })
        .await;
    let pod = bed.pod(&key).await.unwrap();
    assert_eq!(condition(&pod, "Initialized").unwrap().status, "True");
    let init_status = &pod.status.as_ref().unwrap().init_container_statuses[0];
    let terminated = init_status
        .state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .unwrap();
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_str()),
        (0, "Completed")
    );

    // No listener, no readiness.
    drop(listener);
    bed.wait_pod(
        &key,
        "not ready once the port closes",
        |pod| match condition(pod, "Ready") {
            Some(c) if c.status == "False" => Ok(()),
            other => Err(format!("{other:?}")),
        },
    )
    .await;

    // A failing liveness probe kills the container, which restarts.
    let unhealthy = bed.pod_dir("node-f", "uid-probed").join("unhealthy");
    std::fs::write(&unhealthy, "x").unwrap();
    let last = bed
        .wait_pod(&key, "a restart after the liveness probe failed", |pod| {
            let status = container_status(pod)?;
            if status.restart_count < 1 {
                return Err(format!("{status:?}"));
            }
            status
                .last_state
                .and_then(|s| s.terminated)
                .ok_or_else(|| "no lastState".to_owned())
        })
        .await;
    // The kubelet's message, with why the last attempt failed.
    assert_eq!(
        last.message,
        "Container app failed liveness probe, will be restarted: command \"sh\" exited with exit status: 1",
        "{last:?}"
    );
    assert!(!alive(first));
    std::fs::remove_file(&unhealthy).unwrap();
    let second = bed.wait_pod(&key, "running again", running_pid).await;
    assert_ne!(first, second);

    let reply = command(&bed.client, "node-f", delete("default", "probed", "")).await;
    assert_eq!(outcome(&reply), PodCommandOutcome::Deleted);
    eventually("the key removed", WAIT, || async {
        bed.pod(&key).await.map_or(Ok(()), |_| Err("still there"))
    })
    .await;
    agent.stop().await;
}
