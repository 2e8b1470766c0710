#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The registry's performance targets, measured on the real binary as a child process (so its
//! CPU time is its own): 1,000 nodes register at once in under a second, and 10,000 nodes
//! heartbeating every 5 s cost it under 10% of one core.
//!
//! Ignored by default (it takes about a minute and wants a release build):
//! `cargo test --release -p everynode-registry --test perf -- --ignored --nocapture`.
//! The assertions only apply to release builds; a debug build just prints the numbers.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use everynode_api::v1::{self, nodes_client::NodesClient};
use everynode_bus::async_nats::jetstream;
use everynode_bus::names::EVENTS_STREAM;
use everynode_testkit::NatsServer;
use futures::StreamExt;
use tonic::transport::Channel;

const NODES: usize = 10_000;
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
const WARM_UP: Duration = Duration::from_secs(5);
const MEASURE: Duration = Duration::from_secs(30);
/// gRPC connections the simulated agents share.
const CHANNELS: usize = 8;

/// The registry binary, killed on drop.
struct Binary {
    child: Child,
    addr: String,
}

impl Binary {
    fn start(nats: &NatsServer) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_everynode-registry"))
            .args(["--listen", "127.0.0.1:0", "--nats", &nats.url()])
            .args(["--not-ready-after", "15s", "--remove-after", "5m"])
            .args(["--log-format", "json"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the registry logs until it serves")
                .unwrap();
            let Ok(log) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if log["message"] == "everynode-registry serving" {
                break log["addr"].as_str().unwrap().to_owned();
            }
        };
        // Keep draining the log so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, addr }
    }

    /// CPU time (user + system) the process has used so far.
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let after = stat.rsplit_once(')').unwrap().1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10) // CLK_TCK = 100 on Linux
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node(name: String) -> v1::Node {
    v1::Node {
        metadata: Some(v1::ObjectMeta {
            name,
            labels: [("kubernetes.io/os".to_string(), "linux".to_string())].into(),
            ..Default::default()
        }),
        status: Some(v1::NodeStatus {
            capacity: [("cpu".to_string(), "4".to_string())].into(),
            addresses: vec![v1::NodeAddress {
                r#type: "InternalIP".into(),
                address: "10.0.0.1".into(),
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn clients(addr: &str) -> Vec<NodesClient<Channel>> {
    let mut out = Vec::new();
    for _ in 0..CHANNELS {
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        out.push(NodesClient::new(channel));
    }
    out
}

async fn register_all(clients: &[NodesClient<Channel>], names: &[String]) -> Duration {
    let started = Instant::now();
    futures::stream::iter(names.iter().enumerate())
        .map(|(i, name)| {
            let mut client = clients[i % clients.len()].clone();
            let node = node(name.clone());
            async move {
                client
                    .register(v1::NodesRegisterRequest { node: Some(node) })
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(512)
        .collect::<Vec<_>>()
        .await;
    started.elapsed()
}

/// Heartbeats every node once per [`HEARTBEAT_EVERY`], spread evenly, for `duration`; returns
/// how many heartbeats were sent.
async fn heartbeat_for(
    clients: &[NodesClient<Channel>],
    names: &[String],
    duration: Duration,
) -> usize {
    const SLICES: usize = 50;
    let mut interval = tokio::time::interval(HEARTBEAT_EVERY / SLICES as u32);
    let per_slice = names.len().div_ceil(SLICES);
    let until = Instant::now() + duration;
    let mut sent = 0;
    let mut slice = 0;
    while Instant::now() < until {
        interval.tick().await;
        let batch = names.iter().skip(slice * per_slice).take(per_slice);
        let calls = batch.enumerate().map(|(i, name)| {
            let mut client = clients[i % clients.len()].clone();
            let name = name.clone();
            async move {
                client
                    .heartbeat(v1::NodesHeartbeatRequest {
                        name,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
            }
        });
        sent += futures::future::join_all(calls).await.len();
        slice = (slice + 1) % SLICES;
    }
    sent
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a one-minute benchmark; run with --release -- --ignored --nocapture"]
async fn ten_thousand_nodes_heartbeating_cost_little_and_a_thousand_register_in_a_second() {
    let nats = NatsServer::start().await.unwrap();
    let registry = Binary::start(&nats);
    let clients = clients(&registry.addr).await;

    let first: Vec<String> = (0..1000).map(|i| format!("node-{i:05}")).collect();
    let burst = register_all(&clients, &first).await;
    let rest: Vec<String> = (1000..NODES).map(|i| format!("node-{i:05}")).collect();
    let bulk = register_all(&clients, &rest).await;
    eprintln!("registered 1,000 nodes at once in {burst:?}; 9,000 more in {bulk:?}");

    let names: Vec<String> = first.into_iter().chain(rest).collect();
    heartbeat_for(&clients, &names, WARM_UP).await;
    let (cpu_before, wall_before) = (registry.cpu(), Instant::now());
    let sent = heartbeat_for(&clients, &names, MEASURE).await;
    let (cpu, wall) = (registry.cpu() - cpu_before, wall_before.elapsed());
    let share = cpu.as_secs_f64() / wall.as_secs_f64();
    eprintln!(
        "{sent} heartbeats in {wall:?} ({:.0}/s): registry CPU {cpu:?} = {:.1}% of one core",
        sent as f64 / wall.as_secs_f64(),
        share * 100.0
    );

    // No node flapped: the stream holds the 10,000 ADDED events and nothing else.
    let js = jetstream::new(everynode_bus::connect(&nats.url(), "perf").await.unwrap());
    let mut stream = js.get_stream(EVENTS_STREAM).await.unwrap();
    let events = stream.info().await.unwrap().state.messages;
    assert_eq!(events, NODES as u64, "only the ADDED events");

    if cfg!(debug_assertions) {
        eprintln!("debug build: targets not asserted");
        return;
    }
    assert!(
        burst < Duration::from_secs(1),
        "1,000 registrations took {burst:?}"
    );
    assert!(
        share < 0.10,
        "heartbeats cost {:.1}% of a core",
        share * 100.0
    );
}
