//! The scale scenarios: `converge`, `join`, `relabel`, `churn`. Each starts the whole system
//! in this process ([`Cluster`]) on its own nats-server, drives it through the public APIs
//! (admission Create, registry Update/Delete, new simulated agents) and times what the watches
//! of KV `pods` and KV `nodes` show, and what admission's Get reports as status.
//!
//! Memory: every service and the simulated agents run in this process, so the figures are this
//! process's VmRSS / VmHWM at each phase (nats-server is a separate process and not counted);
//! "per simulated node" divides the growth by the node count and includes the controller's,
//! registry's and observer's per-node state, not the agent's alone.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use everynode_api::v1;
use futures::StreamExt;

use crate::cluster::{Cluster, Settings, audit, memory_kib};
use crate::limit;
use crate::stats::{Latencies, ms};

/// Generous ceiling of one wait.
const WAIT: Duration = Duration::from_secs(600);

/// A scenario's printed rows and JSON.
pub struct Report {
    /// Table title.
    pub title: String,
    /// Table rows.
    pub rows: Vec<(String, String)>,
    /// JSON results.
    pub json: serde_json::Value,
}

/// Resident memory at named phases.
#[derive(Default)]
struct Memory {
    phases: Vec<(String, u64, u64)>,
}

impl Memory {
    fn mark(&mut self, phase: &str) -> u64 {
        let (rss, hwm) = memory_kib();
        self.phases.push((phase.to_owned(), rss, hwm));
        rss
    }

    fn rows(&self, rows: &mut Vec<(String, String)>) {
        for (phase, rss, hwm) in &self.phases {
            rows.push((
                format!("RSS / peak, {phase}"),
                format!("{} / {} MiB", rss / 1024, hwm / 1024),
            ));
        }
    }

    fn json(&self) -> serde_json::Value {
        self.phases
            .iter()
            .map(|(p, rss, hwm)| serde_json::json!({"phase": p, "rss_kib": rss, "hwm_kib": hwm}))
            .collect()
    }
}

fn lat(l: &mut Latencies) -> String {
    if l.len() == 0 {
        return "no samples".to_owned();
    }
    format!(
        "{} / {} / {} ms",
        ms(l.quantile(0.5)),
        ms(l.quantile(0.99)),
        ms(l.quantile(1.0))
    )
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Starts the system with `nodes` simulated nodes `node-*` registered (memory marked before
/// and after the agent).
async fn base(
    settings: Settings,
    nodes: usize,
    memory: &mut Memory,
) -> anyhow::Result<(Cluster, Duration, u64, u64)> {
    memory.mark("start");
    let mut cluster = Cluster::start(settings).await?;
    let before = memory.mark("services up, no agents");
    let began = Instant::now();
    cluster.add_agent("node", nodes).await?;
    cluster.wait_registered("node", nodes, WAIT).await?;
    let registered = began.elapsed();
    let after = memory.mark(&format!("{nodes} simulated nodes registered"));
    Ok((cluster, registered, before, after))
}

fn per_node_bytes(before: u64, after: u64, nodes: usize) -> u64 {
    after.saturating_sub(before) * 1024 / nodes.max(1) as u64
}

/// Waits until `count` live pods are Running+Ready in KV `pods`.
async fn wait_running(cluster: &Cluster, count: usize) -> anyhow::Result<()> {
    cluster
        .observer
        .until(&format!("{count} pods running"), WAIT, |v| {
            (v.running == count)
                .then_some(())
                .ok_or(format!("{} running", v.running))
        })
        .await
}

/// `converge`: Create → every pod Running+Ready and status numberReady = N.
pub async fn converge(
    settings: Settings,
    nodes: usize,
    daemonsets: usize,
    limit_seconds: f64,
) -> anyhow::Result<Report> {
    let mut memory = Memory::default();
    let (mut cluster, registered, before, after) = base(settings, nodes, &mut memory).await?;
    let names: Vec<String> = (0..daemonsets).map(|i| format!("bench-{i}")).collect();
    let began = Instant::now();
    for name in &names {
        cluster.create_daemonset(name).await?;
    }
    let created = began.elapsed();
    let placements = nodes * daemonsets;
    wait_running(&cluster, placements).await?;
    let pods_running = began.elapsed();
    cluster
        .wait_status_ready(&names, i32::try_from(nodes)?, WAIT)
        .await?;
    let status_ready = began.elapsed();
    let with_pods = memory.mark(&format!("{placements} pods running"));
    let (pod_bytes, max_dup) = {
        let v = cluster.observer.view();
        (v.pod_bytes, v.max_live_per_node_and_app)
    };
    let (duplicates, _, live) = audit(&cluster.pods).await?;
    cluster.stop().await;
    // The ceiling, on the same nats-server with the services stopped.
    let limits = limit::measure(
        &cluster.nats_url(),
        &cluster.admin_nats_auth(),
        pod_bytes,
        settings.command_concurrency,
        Duration::from_secs_f64(limit_seconds),
    )
    .await?;
    let rate = placements as f64 / pods_running.as_secs_f64();
    let ratio = rate / limits.kv_create_per_s;
    let mut rows = vec![
        ("nodes registered in".into(), secs(registered)),
        (
            format!("{daemonsets} Create(s) returned after"),
            secs(created),
        ),
        (
            format!("Create → all {placements} pods Running+Ready (KV)"),
            secs(pods_running),
        ),
        (
            "Create → status numberReady = N (Get)".into(),
            secs(status_ready),
        ),
        ("placements/s".into(), format!("{rate:.0}")),
        (
            format!(
                "raw KV create ({pod_bytes} B, {} in flight)",
                settings.command_concurrency
            ),
            format!("{:.0} writes/s", limits.kv_create_per_s),
        ),
        (
            "placements/s / raw KV create".into(),
            format!("{:.1}%", ratio * 100.0),
        ),
        (
            "live pods listed / duplicates (max seen)".into(),
            format!("{live} / {} ({max_dup})", duplicates.len()),
        ),
    ];
    memory.rows(&mut rows);
    rows.push((
        "RSS growth per simulated node: registered / with pods".into(),
        format!(
            "{} / {} B",
            per_node_bytes(before, after, nodes),
            per_node_bytes(before, with_pods, nodes)
        ),
    ));
    anyhow::ensure!(duplicates.is_empty(), "duplicates: {duplicates:?}");
    Ok(Report {
        title: format!(
            "converge ({nodes} nodes, {daemonsets} DaemonSet(s), fake start latency {:?})",
            settings.start_latency
        ),
        rows,
        json: serde_json::json!({
            "scenario": "converge",
            "nodes": nodes,
            "daemonsets": daemonsets,
            "fake_start_latency_ms": settings.start_latency.as_millis() as u64,
            "registered_s": registered.as_secs_f64(),
            "create_to_pods_running_s": pods_running.as_secs_f64(),
            "create_to_status_ready_s": status_ready.as_secs_f64(),
            "placements_per_s": rate.round(),
            "pod_bytes": pod_bytes,
            "command_concurrency": settings.command_concurrency,
            "limit": limits.json(),
            "placements_over_kv_create": (ratio * 1000.0).round() / 1000.0,
            "live_pods": live,
            "duplicates": duplicates.len(),
            "memory": memory.json(),
            "rss_per_node_bytes": {
                "registered": per_node_bytes(before, after, nodes),
                "with_pods": per_node_bytes(before, with_pods, nodes),
            },
        }),
    })
}

/// `join`: N nodes running; M new simulated nodes join at once; per new node, registered
/// (ADDED in KV `nodes`, arrival time) → its pod Running+Ready (KV `pods`, arrival time).
pub async fn join(settings: Settings, nodes: usize, new: usize) -> anyhow::Result<Report> {
    let mut memory = Memory::default();
    let (mut cluster, _, before, _) = base(settings, nodes, &mut memory).await?;
    cluster.create_daemonset("bench-0").await?;
    wait_running(&cluster, nodes).await?;
    memory.mark(&format!("{nodes} pods running"));
    let began = Instant::now();
    cluster.add_agent("new", new).await?;
    let mut latencies = cluster
        .observer
        .until(
            &format!("a running pod on each of {new} new nodes"),
            WAIT,
            |v| {
                let mut l = Latencies::default();
                for i in 0..new {
                    let name = format!("new-{i}");
                    let (Some(added), Some(running)) = (
                        v.nodes.get(&name),
                        v.per_node.get(&name).and_then(|p| p.running_since),
                    ) else {
                        return Err(format!("{} of {new} so far", l.len()));
                    };
                    l.record(running.saturating_duration_since(*added));
                }
                Ok(l)
            },
        )
        .await?;
    let all = began.elapsed();
    let registered_all = {
        let v = cluster.observer.view();
        (0..new)
            .filter_map(|i| v.nodes.get(&format!("new-{i}")))
            .max()
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(began))
    };
    let after = memory.mark(&format!("{} nodes, all running", nodes + new));
    cluster
        .wait_status_ready(&["bench-0".into()], i32::try_from(nodes + new)?, WAIT)
        .await?;
    let status_ready = began.elapsed();
    let (duplicates, _, live) = audit(&cluster.pods).await?;
    cluster.stop().await;
    anyhow::ensure!(duplicates.is_empty(), "duplicates: {duplicates:?}");
    let mut rows = vec![
        (
            format!("registered → pod Running (per node, {new}): p50 / p99 / max"),
            lat(&mut latencies),
        ),
        (
            "agent start → last node registered".into(),
            secs(registered_all),
        ),
        ("agent start → last pod Running".into(), secs(all)),
        (
            format!("agent start → status numberReady = {}", nodes + new),
            secs(status_ready),
        ),
        (
            "live pods listed / duplicates".into(),
            format!("{live} / {}", duplicates.len()),
        ),
    ];
    memory.rows(&mut rows);
    rows.push((
        "RSS growth per simulated node (all nodes, with pods)".into(),
        format!("{} B", per_node_bytes(before, after, nodes + new)),
    ));
    Ok(Report {
        title: format!(
            "join ({new} new nodes on {nodes} running; fake start latency {:?})",
            settings.start_latency
        ),
        rows,
        json: serde_json::json!({
            "scenario": "join",
            "nodes": nodes,
            "new": new,
            "fake_start_latency_ms": settings.start_latency.as_millis() as u64,
            "registered_to_running": latencies.summary(),
            "start_to_last_registered_s": registered_all.as_secs_f64(),
            "start_to_last_running_s": all.as_secs_f64(),
            "start_to_status_ready_s": status_ready.as_secs_f64(),
            "duplicates": duplicates.len(),
            "memory": memory.json(),
            "rss_per_node_bytes": per_node_bytes(before, after, nodes + new),
        }),
    })
}

/// `relabel`: M of N nodes relabelled out of the nodeSelector (registry Update) → their pod's
/// key deleted from KV `pods`; timed per node from the moment its Update was sent.
pub async fn relabel(settings: Settings, nodes: usize, moved: usize) -> anyhow::Result<Report> {
    anyhow::ensure!(moved <= nodes, "--moved must not exceed --nodes");
    let mut memory = Memory::default();
    let (mut cluster, _, _, _) = base(settings, nodes, &mut memory).await?;
    cluster.create_daemonset("bench-0").await?;
    wait_running(&cluster, nodes).await?;
    memory.mark(&format!("{nodes} pods running"));
    let began = Instant::now();
    let sent: Vec<(String, Instant)> = futures::stream::iter(0..moved)
        .map(|i| {
            let mut client = cluster.nodes.clone();
            async move {
                let name = format!("node-{i}");
                let at = Instant::now();
                client
                    .update(v1::NodesUpdateRequest {
                        name: name.clone(),
                        set_labels: [(crate::cluster::POOL_LABEL.to_owned(), "no".to_owned())]
                            .into(),
                        overwrite: true,
                        ..Default::default()
                    })
                    .await?;
                Ok::<_, anyhow::Error>((name, at))
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let updates_sent = began.elapsed();
    let mut latencies = cluster
        .observer
        .until(
            &format!("the pods of {moved} relabelled nodes gone"),
            WAIT,
            |v| {
                let mut l = Latencies::default();
                for (name, at) in &sent {
                    match v.per_node.get(name) {
                        Some(p) if p.keys == 0 => {
                            let gone = p.gone_at.unwrap_or(*at);
                            l.record(gone.saturating_duration_since(*at));
                        }
                        _ => return Err(format!("{} of {moved} gone so far", l.len())),
                    }
                }
                Ok(l)
            },
        )
        .await?;
    let all = began.elapsed();
    let remaining = nodes - moved;
    cluster
        .wait_status_ready(&["bench-0".into()], i32::try_from(remaining)?, WAIT)
        .await?;
    let status = began.elapsed();
    let running = cluster.observer.view().running;
    memory.mark("after relabel");
    cluster.stop().await;
    anyhow::ensure!(
        running == remaining,
        "{running} pods running, want {remaining}"
    );
    let mut rows = vec![
        (
            format!("Update sent → pod gone from KV (per node, {moved}): p50 / p99 / max"),
            lat(&mut latencies),
        ),
        (format!("{moved} Updates sent in"), secs(updates_sent)),
        ("first Update → last pod gone".into(), secs(all)),
        (
            format!("first Update → status desired = ready = {remaining}"),
            secs(status),
        ),
        (
            "pods still running (want N - M)".into(),
            format!("{running}"),
        ),
    ];
    memory.rows(&mut rows);
    Ok(Report {
        title: format!("relabel ({moved} of {nodes} nodes moved out of the nodeSelector)"),
        rows,
        json: serde_json::json!({
            "scenario": "relabel",
            "nodes": nodes,
            "moved": moved,
            "update_to_pod_gone": latencies.summary(),
            "updates_sent_s": updates_sent.as_secs_f64(),
            "first_update_to_last_gone_s": all.as_secs_f64(),
            "first_update_to_status_s": status.as_secs_f64(),
            "running_after": running,
            "memory": memory.json(),
        }),
    })
}

/// How a node leaves (and comes back) in `churn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Leave {
    /// Registry Delete; the agent, told NOT_FOUND at its next heartbeat, registers it again.
    Delete,
    /// Registry Update `bench=no` (out of the nodeSelector); once its pod is gone from KV,
    /// `bench=yes` again.
    Relabel,
}

async fn set_pool(cluster: &Cluster, node: &str, value: &str) -> anyhow::Result<()> {
    cluster
        .nodes
        .clone()
        .update(v1::NodesUpdateRequest {
            name: node.to_owned(),
            set_labels: [(crate::cluster::POOL_LABEL.to_owned(), value.to_owned())].into(),
            overwrite: true,
            ..Default::default()
        })
        .await?;
    Ok(())
}

/// A small deterministic generator (xorshift64*) for picking nodes.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1) as u64) as usize
    }
}

/// `churn`: for `seconds`, `rate` node leaves per second ([`Leave`]), each followed by the
/// node's return, with container starts failing at the fake runtime's failure rate. Lag per
/// leave: leave sent → node back (ADDED again in KV `nodes`, or relabelled back in) and exactly
/// one live pod Running+Ready on it. Leaves that have not converged `settle` after the churn
/// are reported. At the end, a fresh listing of KV `pods` must hold no two live pods of the
/// DaemonSet on one node.
pub async fn churn(
    settings: Settings,
    nodes: usize,
    seconds: f64,
    rate: f64,
    leave: Leave,
    settle: Duration,
) -> anyhow::Result<Report> {
    let mut memory = Memory::default();
    let (mut cluster, _, _, _) = base(settings, nodes, &mut memory).await?;
    cluster.create_daemonset("bench-0").await?;
    wait_running(&cluster, nodes).await?;
    memory.mark(&format!("{nodes} pods running"));

    let began = Instant::now();
    let duration = Duration::from_secs_f64(seconds);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Node → (leave sent, rejoin: re-registered (delete) / relabelled back in (relabel)).
    let mut pending: HashMap<String, (Instant, Option<Instant>)> = HashMap::new();
    let mut lags = Latencies::default();
    let mut leaves = 0usize;
    let mut next = began;
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let settle_deadline = began + duration + settle;
    let mut stuck: Vec<String> = Vec::new();
    loop {
        let now = Instant::now();
        let mut relabel_in = Vec::new();
        {
            let v = cluster.observer.view();
            pending.retain(|name, (at, rejoined)| {
                let pods = v.per_node.get(name);
                match leave {
                    Leave::Delete => {
                        if rejoined.is_none() {
                            *rejoined = v.nodes.get(name).filter(|added| *added > at).copied();
                        }
                    }
                    Leave::Relabel => {
                        let gone =
                            pods.is_some_and(|p| p.keys == 0 && p.gone_at.is_some_and(|g| g > *at));
                        if rejoined.is_none() && gone {
                            relabel_in.push(name.clone());
                            *rejoined = Some(now);
                        }
                    }
                }
                // Converged: back in the fleet, exactly one live pod Running+Ready on it (for
                // relabel: a pod that became Running after the relabel back in).
                let converged = rejoined.is_some_and(|r| {
                    pods.is_some_and(|p| {
                        p.running == 1
                            && (leave == Leave::Delete || p.running_since.is_some_and(|t| t > r))
                    })
                });
                if converged {
                    lags.record(now.saturating_duration_since(*at));
                }
                !converged
            });
        }
        for name in relabel_in {
            set_pool(&cluster, &name, "yes").await?;
        }
        if now >= began + duration {
            if pending.is_empty() {
                break;
            }
            if now >= settle_deadline {
                let v = cluster.observer.view();
                stuck = pending
                    .iter()
                    .map(|(name, (_, rejoined))| {
                        format!(
                            "{name}: back {}, {} pod key(s), {} running",
                            rejoined.is_some(),
                            v.per_node.get(name).map_or(0, |p| p.keys),
                            v.per_node.get(name).map_or(0, |p| p.running),
                        )
                    })
                    .collect();
                stuck.sort();
                break;
            }
        } else if now >= next {
            next += period;
            let name = format!("node-{}", rng.below(nodes));
            if let std::collections::hash_map::Entry::Vacant(slot) = pending.entry(name) {
                let at = Instant::now();
                let sent = match leave {
                    Leave::Delete => match cluster
                        .nodes
                        .clone()
                        .delete(v1::NodesDeleteRequest {
                            name: slot.key().clone(),
                        })
                        .await
                    {
                        Ok(_) => true,
                        Err(s) if s.code() == tonic::Code::NotFound => false,
                        Err(s) => return Err(s.into()),
                    },
                    Leave::Relabel => {
                        set_pool(&cluster, slot.key(), "no").await?;
                        true
                    }
                };
                if sent {
                    slot.insert((at, None));
                    leaves += 1;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let settled = began.elapsed();
    let max_dup = cluster.observer.view().max_live_per_node_and_app;
    let running = cluster.observer.view().running;
    let (duplicates, restarts, live) = audit(&cluster.pods).await?;
    let status = cluster.status("bench-0").await?;
    memory.mark("after churn");
    cluster.stop().await;
    let mut rows = vec![
        (
            format!("node leaves ({leave:?}) at {rate}/s"),
            format!("{leaves}"),
        ),
        (
            "leave → back + its pod Running: p50 / p99 / max".into(),
            lat(&mut lags),
        ),
        ("churn + settling took".into(), secs(settled)),
        (
            format!("leaves not converged {settle:?} after the churn"),
            format!("{}", stuck.len()),
        ),
        (
            "pods Running+Ready at end (KV) / status numberReady".into(),
            format!("{running} / {}", status.number_ready),
        ),
        (
            format!(
                "container restarts (failure rate {})",
                settings.failure_rate
            ),
            format!("{restarts}"),
        ),
        (
            "live pods at end / duplicates at end".into(),
            format!("{live} / {}", duplicates.len()),
        ),
        (
            "most live pods of the DaemonSet on one node, any time".into(),
            format!("{max_dup}"),
        ),
    ];
    memory.rows(&mut rows);
    for s in stuck.iter().take(5) {
        rows.push(("  not converged".into(), s.clone()));
    }
    anyhow::ensure!(
        duplicates.is_empty(),
        "duplicate pods at the end: {duplicates:?}"
    );
    Ok(Report {
        title: format!(
            "churn ({nodes} nodes, {seconds} s, {rate} leaves/s by {leave:?}, failure rate {})",
            settings.failure_rate
        ),
        rows,
        json: serde_json::json!({
            "scenario": "churn",
            "nodes": nodes,
            "seconds": seconds,
            "leave_rate": rate,
            "leave": format!("{leave:?}").to_lowercase(),
            "failure_rate": settings.failure_rate,
            "heartbeat_interval_ms": (settings.not_ready_after / 3).as_millis() as u64,
            "leaves": leaves,
            "convergence_lag": lags.summary(),
            "not_converged": stuck.len(),
            "not_converged_detail": stuck,
            "running_at_end": running,
            "status_number_ready_at_end": status.number_ready,
            "restarts": restarts,
            "live_pods": live,
            "duplicates_at_end": duplicates.len(),
            "max_live_per_node_seen": max_dup,
            "memory": memory.json(),
        }),
    })
}
