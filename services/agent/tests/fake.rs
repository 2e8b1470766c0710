#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Fake pods outlive their agent, as processes do: the agent binary with `--runtime fake
//! --simulate 3` runs a DaemonSet's pods on a real stack (NATS, admission, registry,
//! controller); it is killed with SIGKILL and started again on the same data dir. The
//! restarted agent is the same simulated machines (same boot id: the registry lets it take its
//! nodes again at once) and re-attaches to the very same pods: same uids, restartCount 0, and
//! no status change at all in between (no ContainerCreating). The pods' files, read as an
//! outside observer reads them, follow the pods; deleting the DaemonSet removes them.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use everynode_agent::runtime::fake;
use everynode_api::manifest;
use everynode_api::v1::{self, NodesGetRequest};
use everynode_bus::{Change, KeyFilter, PodKey, Store};
use everynode_testkit::{Service, Stack, eventually};
use futures::StreamExt;
use support::AgentBinary;

const WAIT: Duration = Duration::from_secs(30);
const NODES: [&str; 3] = ["fk-0", "fk-1", "fk-2"];

/// The agent binary simulating `NODES` on `stack`, with `data_dir`.
fn start_agent(stack: &Stack, data_dir: &Path, log: &Path) -> AgentBinary {
    let nats = stack.nats_url();
    let registry = stack.url(Service::Registry);
    let credentials = stack.pki().folder("simulator").display().to_string();
    let data_dir = data_dir.display().to_string();
    AgentBinary::start(
        &[
            "--runtime",
            "fake",
            "--simulate",
            "3",
            "--node-name",
            "fk",
            "--nats",
            &nats,
            "--registry",
            &registry,
            "--credentials",
            &credentials,
            "--data-dir",
            &data_dir,
            "--node-ip",
            "127.0.0.1",
            "--fake-start-latency",
            "50ms",
            "--log-level",
            "info",
        ],
        log,
    )
}

/// Waits until the agent log says `count` agents are running; fails if the agent exits.
async fn wait_running(agent: &mut AgentBinary, log: &Path, count: usize) {
    let agent = Mutex::new(agent);
    eventually(
        &format!("agent start number {count} serving"),
        WAIT,
        || async {
            let text = std::fs::read_to_string(log).map_err(|e| e.to_string())?;
            if let Ok(Some(status)) = agent.lock().unwrap().0.try_wait() {
                panic!("the agent exited ({status}):\n{text}");
            }
            let running = text.matches("everynode-agent running").count();
            if running >= count {
                Ok(())
            } else {
                Err(format!("{running} starts logged"))
            }
        },
    )
    .await;
}

/// The DaemonSet's pods in KV: (node, uid, restart count) once all three are Running and
/// Ready.
async fn ready_pods(store: &Store<PodKey, v1::Pod>) -> Result<Vec<(String, String, i32)>, String> {
    let listing = store.list().await.map_err(|e| e.to_string())?;
    let mut pods = Vec::new();
    for entry in &listing.entries {
        let pod = &entry.value;
        let uid = pod
            .metadata
            .as_ref()
            .map(|m| m.uid.clone())
            .unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        let ready = status
            .conditions
            .iter()
            .any(|c| c.r#type == "Ready" && c.status == "True");
        if status.phase != "Running" || !ready {
            return Err(format!("{uid} not ready: {status:?}"));
        }
        let restarts = status
            .container_statuses
            .first()
            .map_or(-1, |c| c.restart_count);
        pods.push((entry.key.node().to_owned(), uid, restarts));
    }
    pods.sort();
    if pods.len() == NODES.len() {
        Ok(pods)
    } else {
        Err(format!("{} pods: {pods:?}", pods.len()))
    }
}

fn file_uids(data_dir: &Path) -> Vec<String> {
    let mut uids: Vec<String> = fake::running_pods(data_dir)
        .unwrap()
        .into_iter()
        .map(|p| p.metadata.unwrap_or_default().uid)
        .collect();
    uids.sort();
    uids
}

async fn boot_id(stack: &Stack, node: &str) -> String {
    stack
        .nodes()
        .get(NodesGetRequest { name: node.into() })
        .await
        .unwrap()
        .into_inner()
        .node
        .and_then(|n| n.status)
        .and_then(|s| s.node_info)
        .map(|i| i.boot_id)
        .unwrap_or_default()
}

/// What a pod's status shows, in one line: phase, container state, restarts.
fn shown(pod: &v1::Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    let container = status
        .container_statuses
        .first()
        .cloned()
        .unwrap_or_default();
    let state = container.state.unwrap_or_default();
    let state = if let Some(waiting) = state.waiting {
        format!("waiting {}", waiting.reason)
    } else if state.running.is_some() {
        "running".to_owned()
    } else {
        format!("{:?}", state.terminated)
    };
    format!(
        "{} {} {state} restarts {}",
        pod.metadata
            .as_ref()
            .map(|m| m.uid.as_str())
            .unwrap_or_default(),
        status.phase,
        container.restart_count
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_pods_outlive_a_killed_agent_and_are_reattached_without_a_restart() {
    let stack = Stack::start().await;
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    let log = scratch.path().join("agent.log");
    let mut agent = start_agent(&stack, &data, &log);
    wait_running(&mut agent, &log, 1).await;
    let names: Vec<String> = NODES.iter().map(|n| (*n).to_owned()).collect();
    stack.wait_nodes(&names).await;
    let machine = std::fs::read_to_string(data.join("fake/boot-id")).unwrap();
    assert_eq!(boot_id(&stack, "fk-1").await, machine.trim());

    // Every status the pods go through, from before the DaemonSet on.
    let store = stack.store::<PodKey, v1::Pod>().await;
    let from = store.list().await.unwrap().revision + 1;
    let mut changes = store.watch(&KeyFilter::all(), from).await.unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let watcher = tokio::spawn({
        let seen = Arc::clone(&seen);
        async move {
            while let Some(change) = changes.next().await {
                let line = match change.unwrap() {
                    Change::Put { value, .. } => shown(&value),
                    Change::Deleted { key, .. } => format!("deleted {key:?}"),
                };
                seen.lock().unwrap().push(line);
            }
        }
    });

    let ds = manifest::decode_one::<v1::DaemonSet>(
        r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: kept}
spec:
  selector: {matchLabels: {app: kept}}
  template:
    metadata: {labels: {app: kept}}
    spec:
      containers:
      - name: main
        image: local
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
    let before = eventually("a ready pod on every simulated node", WAIT, || {
        ready_pods(&store)
    })
    .await;
    let nodes: Vec<&str> = before.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(nodes, NODES);
    assert!(
        before.iter().all(|(_, _, restarts)| *restarts == 0),
        "{before:?}"
    );
    let mut uids: Vec<String> = before.iter().map(|(_, u, _)| u.clone()).collect();
    uids.sort();
    eventually("one file per running pod", WAIT, || async {
        let files = file_uids(&data);
        if files == uids {
            Ok(())
        } else {
            Err(format!("{files:?}"))
        }
    })
    .await;
    let statuses_before = seen.lock().unwrap().len();

    // SIGKILL: nothing is flushed or cleaned; the pods' files stay.
    agent.0.kill().unwrap();
    agent.0.wait().unwrap();
    drop(agent);
    assert_eq!(file_uids(&data), uids, "the pods outlive the agent");

    // The same machines come back: the registry takes them at once, and the agent serves.
    let mut agent = start_agent(&stack, &data, &log);
    wait_running(&mut agent, &log, 2).await;
    assert_eq!(boot_id(&stack, "fk-1").await, machine.trim());
    let after = ready_pods(&store).await.unwrap();
    assert_eq!(after, before, "same pods, same uids, no restart");
    assert_eq!(file_uids(&data), uids);
    // The restarted agent is at work (it heartbeats: the nodes stay registered and it keeps
    // running); give the pods time to show any restart (many times the start latency).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(agent.0.try_wait().unwrap().is_none(), "the agent runs on");
    assert_eq!(ready_pods(&store).await.unwrap(), before);
    {
        let seen = seen.lock().unwrap();
        let since: Vec<&String> = seen[statuses_before..].iter().collect();
        assert!(
            since
                .iter()
                .all(|s| !s.contains("ContainerCreating") && s.ends_with("restarts 0")),
            "statuses after the kill: {since:?}\nall: {seen:?}"
        );
    }

    // Deleting the DaemonSet stops the pods: their files go.
    stack
        .daemonsets()
        .delete(v1::DaemonSetsDeleteRequest {
            namespace: "default".into(),
            name: "kept".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    eventually("the pods and their files gone", WAIT, || async {
        let left = store.list().await.map_err(|e| e.to_string())?.entries.len();
        let files = file_uids(&data);
        if left == 0 && files.is_empty() {
            Ok(())
        } else {
            Err(format!("{left} pods in KV, files {files:?}"))
        }
    })
    .await;
    watcher.abort();
    drop(agent);
    stack.shutdown().await;
}
