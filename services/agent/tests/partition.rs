#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A partition heals without a restart: the agent binary (process runtime) runs a daemon pod
//! of a real stack (NATS, admission, registry, controller); the agent is frozen (SIGSTOP)
//! well past the moment its node becomes NotReady — it neither heartbeats nor answers — and
//! thawed. The node goes NotReady with the unreachable taints, is never removed (the default
//! `--remove-after` is off), the pod's process runs throughout, and afterwards the node is
//! Ready again with the very same pod: same uid, same process, no restart, no second pod.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use everynode_agent::procfs;
use everynode_api::manifest;
use everynode_api::v1::{self, NodesGetRequest};
use everynode_bus::{KeyFilter, NodeKey, PodKey, Store};
use everynode_testkit::eventually;
use everynode_testkit::{Service, Stack};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const WAIT: Duration = Duration::from_secs(30);
const NOT_READY_AFTER: Duration = Duration::from_secs(1);
/// How long the agent stays cut off: many times `NOT_READY_AFTER` (the test's scale of "ten
/// minutes" against a 15 s default).
const CUT_OFF: Duration = Duration::from_secs(8);

/// The agent binary, killed and reaped on drop.
struct AgentProcess(Child);

impl AgentProcess {
    fn start(stack: &Stack, node: &str, data_dir: &std::path::Path) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_everynode-agent"))
            .args([
                "--node-name",
                node,
                "--nats",
                &stack.nats_url(),
                "--registry",
                &stack.url(Service::Registry),
                "--credentials",
                &stack.pki().node(node).display().to_string(),
                "--data-dir",
                &data_dir.display().to_string(),
                "--node-ip",
                "127.0.0.1",
                "--cgroup-parent",
                stack.cgroup_parent(),
                "--log-level",
                "warn",
            ])
            .env_remove("EVERYNODE_NODE_NAME")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Self(child)
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(i32::try_from(self.0.id()).unwrap()), signal).unwrap();
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The node's Ready status and taint keys, or why it cannot be read.
async fn readiness(stack: &Stack, node: &str) -> Result<(String, Vec<String>), String> {
    let node = stack
        .nodes()
        .get(NodesGetRequest { name: node.into() })
        .await
        .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?
        .into_inner()
        .node
        .unwrap_or_default();
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.r#type == "Ready"))
        .map(|c| c.status.clone())
        .unwrap_or_default();
    let taints = node
        .spec
        .as_ref()
        .map(|s| s.taints.iter().map(|t| t.key.clone()).collect())
        .unwrap_or_default();
    Ok((ready, taints))
}

/// The island's pods: (uid, pid of its running container, restart count).
async fn pods(store: &Store<PodKey, v1::Pod>) -> Result<Vec<(String, i32, i32)>, String> {
    let listing = store
        .list_filtered(&KeyFilter::node(&NodeKey::new("island").unwrap()))
        .await
        .map_err(|e| e.to_string())?;
    listing
        .entries
        .iter()
        .map(|entry| {
            let pod = &entry.value;
            let uid = pod
                .metadata
                .as_ref()
                .map(|m| m.uid.clone())
                .unwrap_or_default();
            let status = pod
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.first())
                .ok_or_else(|| format!("{uid}: no container status yet"))?;
            if status
                .state
                .as_ref()
                .and_then(|s| s.running.as_ref())
                .is_none()
            {
                return Err(format!("{uid}: not running: {:?}", status.state));
            }
            let pid = status
                .container_id
                .strip_prefix("process://")
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("{uid}: no pid in {:?}", status.container_id))?;
            Ok((uid, pid, status.restart_count))
        })
        .collect()
}

fn alive(pid: i32) -> bool {
    procfs::read_stat(pid).is_some_and(|s| s.is_live())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_agent_keeps_its_pods_and_resumes_them_without_a_restart() {
    let stack = Stack::builder()
        .configure_registry(|c| c.not_ready_after = NOT_READY_AFTER)
        .start()
        .await;
    let data = tempfile::tempdir().unwrap();
    let agent = AgentProcess::start(&stack, "island", data.path());
    stack.wait_nodes(&["island".to_owned()]).await;
    let ds = manifest::decode_one::<v1::DaemonSet>(
        r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: steady}
spec:
  selector: {matchLabels: {app: steady}}
  template:
    metadata: {labels: {app: steady}}
    spec:
      containers:
      - name: main
        image: local
        command: ["sleep", "100000"]
"#,
    )
    .unwrap();
    stack
        .daemonsets()
        .create(v1::DaemonSetsCreateRequest {
            daemon_set: Some(ds),
            dry_run: false,
        })
        .await
        .unwrap();
    let store = stack.store::<PodKey, v1::Pod>().await;
    let before = eventually("the daemon pod running on the island", WAIT, || async {
        match pods(&store).await? {
            running if running.len() == 1 => Ok(running),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let (uid, pid, restarts) = before[0].clone();
    assert_eq!(restarts, 0);

    // Cut off: the agent neither heartbeats nor answers commands.
    agent.signal(Signal::SIGSTOP);
    let cut_at = Instant::now();
    eventually(
        "the island NotReady with the unreachable taints",
        WAIT,
        || async {
            match readiness(&stack, "island").await? {
                (ready, taints)
                    if ready == "Unknown"
                        && taints.iter().any(|t| t == "node.kubernetes.io/unreachable") =>
                {
                    Ok(())
                }
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    // Stay cut off for a long while (the fault's duration, not a wait for a result); the node
    // must stay known and the pod must keep running all along.
    while cut_at.elapsed() < CUT_OFF {
        assert!(
            alive(pid),
            "the pod process runs while its agent is cut off"
        );
        let (ready, _) = readiness(&stack, "island")
            .await
            .expect("the node is never removed");
        assert_eq!(ready, "Unknown");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let during = store
        .list_filtered(&KeyFilter::node(&NodeKey::new("island").unwrap()))
        .await
        .unwrap();
    assert_eq!(
        during.entries.len(),
        1,
        "the controller neither deleted nor added a pod: {:?}",
        during.entries
    );

    agent.signal(Signal::SIGCONT);
    eventually(
        "the island Ready again without the unreachable taints",
        WAIT,
        || async {
            match readiness(&stack, "island").await? {
                (ready, taints)
                    if ready == "True"
                        && !taints.iter().any(|t| t.starts_with("node.kubernetes.io/")) =>
                {
                    Ok(())
                }
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    let after = pods(&store).await.unwrap();
    assert_eq!(
        after,
        vec![(uid, pid, 0)],
        "the same pod, the same process, not restarted"
    );
    assert!(alive(pid));
    drop(agent);
    everynode_agent::process_group::signal_group(pid, Signal::SIGKILL);
    stack.shutdown().await;
}
