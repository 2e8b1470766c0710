#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Memory of the fake runtime at scale (ignored by default; it is a measurement, not a check):
//!
//! ```text
//! EVERYNODE_SCALE_NODES=10000 cargo test -p everynode-agent --release --test scale -- --ignored --nocapture
//! ```
//!
//! Starts nats-server and the real registry (testkit's `Stack`, without a controller), then the
//! `everynode-agent` binary with `--runtime fake --simulate N` (`EVERYNODE_AGENT_BIN` picks
//! another binary), waits for the N nodes to be registered, creates one pod on every node and
//! waits for all of them to be Ready in KV, and prints the agent's resident memory (VmRSS) at
//! each step next to a one-node baseline.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use everynode_api::v1::{
    Container, NodesListRequest, ObjectMeta, Pod, PodCommand, PodCommandOutcome, PodCommandReply,
    PodCreate, PodSpec, nodes_client::NodesClient, pod_command,
};
use everynode_bus::names::agent_pods_subject;
use everynode_bus::{NodeKey, PodKey, Store};
use everynode_testkit::{Service, Stack, Wait};
use futures::StreamExt;
use prost::Message;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_agent(
    nats: &str,
    registry: &str,
    credentials: &std::path::Path,
    prefix: &str,
    nodes: usize,
) -> Agent {
    let binary = std::env::var("EVERYNODE_AGENT_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_everynode-agent").to_owned());
    let child = Command::new(binary)
        .args([
            "--runtime",
            "fake",
            "--simulate",
            &nodes.to_string(),
            "--node-name",
            prefix,
            "--nats",
            nats,
            "--registry",
            registry,
            "--credentials",
            &credentials.display().to_string(),
            "--node-ip",
            "127.0.0.1",
            "--fake-start-latency",
            "100ms",
            "--log-level",
            "warn",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Agent(child)
}

async fn registered(nodes: &mut NodesClient<tonic::transport::Channel>, prefix: &str) -> usize {
    nodes
        .list(NodesListRequest::default())
        .await
        .map(|r| {
            r.into_inner()
                .items
                .iter()
                .filter(|n| {
                    n.metadata
                        .as_ref()
                        .is_some_and(|m| m.name.starts_with(&format!("{prefix}-")))
                })
                .count()
        })
        .unwrap_or(0)
}

async fn measure(
    stack: &Stack,
    pods: &Store<PodKey, everynode_api::v1::Pod>,
    prefix: &str,
    count: usize,
) -> (u64, u64, u64) {
    let (nats, client) = (&stack.nats_url(), stack.client());
    let registry = &stack.url(Service::Registry);
    let simulator = stack.pki().folder("simulator");
    let agent = spawn_agent(nats, registry, &simulator, prefix, count);
    let pid = agent.0.id();
    // A list of 10,000 nodes is larger than tonic's default 4 MiB message limit.
    let nodes = stack.nodes().max_decoding_message_size(usize::MAX);
    let began = Instant::now();
    Wait::new(format!("{count} nodes registered"))
        .timeout(Duration::from_secs(600))
        .interval(Duration::from_millis(500))
        .until(|| {
            let mut nodes = nodes.clone();
            async move {
                let n = registered(&mut nodes, prefix).await;
                if n == count {
                    Ok(())
                } else {
                    Err(format!("{n}"))
                }
            }
        })
        .await
        .unwrap();
    let registered_in = began.elapsed();
    let idle = rss_kib(pid);

    let began = Instant::now();
    let replies: Vec<PodCommandOutcome> = futures::stream::iter(0..count)
        .map(|index| {
            let client = client.clone();
            async move {
                let node = format!("{prefix}-{index}");
                let command = PodCommand {
                    node_name: node.clone(),
                    term: 0,
                    command: Some(pod_command::Command::Create(PodCreate {
                        pod: Some(Pod {
                            metadata: Some(ObjectMeta {
                                name: "daemon".to_owned(),
                                namespace: "kube-system".to_owned(),
                                uid: format!("{prefix}-uid-{index}"),
                                ..ObjectMeta::default()
                            }),
                            spec: Some(PodSpec {
                                node_name: node.clone(),
                                containers: vec![Container {
                                    name: "app".to_owned(),
                                    image: "registry.example/daemon:1.0".to_owned(),
                                    ..Container::default()
                                }],
                                restart_policy: "Always".to_owned(),
                                ..PodSpec::default()
                            }),
                            ..Pod::default()
                        }),
                    })),
                };
                let subject = agent_pods_subject(&NodeKey::new(&node).unwrap());
                let reply = client
                    .request(subject, command.encode_to_vec().into())
                    .await
                    .unwrap();
                PodCommandOutcome::try_from(PodCommandReply::decode(reply.payload).unwrap().outcome)
                    .unwrap()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    assert!(replies.iter().all(|o| *o == PodCommandOutcome::Created));
    Wait::new(format!("{count} pods ready"))
        .timeout(Duration::from_secs(600))
        .interval(Duration::from_millis(500))
        .until(|| async {
            let listing = pods.list().await.map_err(|e| e.to_string())?;
            let ready = listing
                .entries
                .iter()
                .filter(|e| e.key.node().starts_with(&format!("{prefix}-")))
                .filter(|e| {
                    e.value.status.as_ref().is_some_and(|s| {
                        s.conditions
                            .iter()
                            .any(|c| c.r#type == "Ready" && c.status == "True")
                    })
                })
                .count();
            if ready == count {
                Ok(())
            } else {
                Err(format!("{ready} ready"))
            }
        })
        .await
        .unwrap();
    let with_pods = rss_kib(pid);
    println!(
        "{count} simulated nodes: registered in {registered_in:?}, {} pods ready in {:?}; RSS {idle} KiB idle, {with_pods} KiB with one pod per node",
        count,
        began.elapsed()
    );
    (idle, with_pods, pid.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn memory_per_simulated_node() {
    let count: usize = std::env::var("EVERYNODE_SCALE_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let stack = Stack::builder()
        .controllers(0)
        .configure_registry(|config| config.remove_after = Duration::ZERO)
        .start()
        .await;
    let pods = stack.store().await;

    let (base_idle, base_pods, _) = measure(&stack, &pods, "base", 1).await;
    let (idle, with_pods, _) = measure(&stack, &pods, "sim", count).await;
    let per_node = |total: u64, base: u64| (total.saturating_sub(base) * 1024) / count as u64;
    println!(
        "per simulated node: {} bytes registered, {} bytes with one ready pod (baseline {base_idle} / {base_pods} KiB)",
        per_node(idle, base_idle),
        per_node(with_pods, base_pods),
    );
    stack.shutdown().await;
}
