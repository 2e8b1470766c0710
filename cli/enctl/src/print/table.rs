//! The columns of `enctl get` and `enctl endpoints`, computed as kubectl's printers compute
//! them (`pkg/printers/internalversion/printers.go`): DaemonSet counters, node status and
//! roles, pod READY / STATUS / RESTARTS. Pure functions of an object and the current time.

use std::collections::{BTreeMap, BTreeSet};

use everynode_api::v1;
use everynode_core::labels::Selector;
use everynode_core::model::{
    ContainerState, DaemonSet, LabelSelector, Node, Pod, PodSpec, Timestamp,
};

use super::tabwriter::TABLE;
use super::time::{age, human_duration, seconds_between};

/// How a table is laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layout {
    /// `-o wide`: the extra columns.
    pub wide: bool,
    /// `-A`: a NAMESPACE column first (namespaced kinds only).
    pub namespace: bool,
}

/// A header and rows of cells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Column titles.
    pub header: Vec<String>,
    /// One row per object.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The table aligned like kubectl's, with or without the header, ending in a newline.
    pub fn render(&self, headers: bool) -> String {
        let mut text = String::new();
        let lines = headers
            .then_some(&self.header)
            .into_iter()
            .chain(self.rows.iter());
        for line in lines {
            text.push_str(&line.join("\t"));
            text.push('\n');
        }
        TABLE.format(&text)
    }
}

fn strings(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|s| (*s).to_string()).collect()
}

fn with_namespace(layout: Layout, namespace: &str, mut cells: Vec<String>) -> Vec<String> {
    if layout.namespace {
        cells.insert(0, namespace.to_string());
    }
    cells
}

/// `k=v,k2=v2` (sorted) or `<none>` (apimachinery's `labels.FormatLabels`).
pub fn format_labels(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "<none>".to_string();
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A label selector in the string syntax (`app=x,tier in (a,b)`), `<none>` when it selects
/// everything or is absent.
pub fn format_selector(selector: Option<&LabelSelector>) -> String {
    match Selector::from_label_selector(selector) {
        Ok(s) if !s.is_everything() && !s.requirements().is_empty() => s.to_string(),
        Ok(_) => "<none>".to_string(),
        Err(e) => format!("<invalid: {e}>"),
    }
}

// --- DaemonSets --------------------------------------------------------------------------------

/// Titles of the DaemonSet table.
pub fn daemon_set_header(layout: Layout) -> Vec<String> {
    let mut h = strings(&[
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "NODE SELECTOR",
        "AGE",
    ]);
    if layout.wide {
        h.extend(strings(&["CONTAINERS", "IMAGES", "SELECTOR"]));
    }
    with_namespace(layout, "NAMESPACE", h)
}

/// One DaemonSet's row.
pub fn daemon_set_row(ds: &DaemonSet, layout: Layout, now: Timestamp) -> Vec<String> {
    let meta = ds.metadata.clone().unwrap_or_default();
    let status = ds.status.clone().unwrap_or_default();
    let spec = ds.spec.as_ref();
    let pod_spec = spec
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.spec.as_ref());
    let node_selector = pod_spec
        .map(|p| p.node_selector.clone())
        .unwrap_or_default();
    let mut row = vec![
        meta.name.clone(),
        status.desired_number_scheduled.to_string(),
        status.current_number_scheduled.to_string(),
        status.number_ready.to_string(),
        status.updated_number_scheduled.to_string(),
        status.number_available.to_string(),
        format_labels(&node_selector),
        age(meta.creation_timestamp, now),
    ];
    if layout.wide {
        let (names, images) = containers_and_images(pod_spec);
        row.push(names);
        row.push(images);
        row.push(format_selector(spec.and_then(|s| s.selector.as_ref())));
    }
    with_namespace(layout, &meta.namespace, row)
}

fn containers_and_images(spec: Option<&PodSpec>) -> (String, String) {
    let containers = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    let images: Vec<&str> = containers.iter().map(|c| c.image.as_str()).collect();
    (names.join(","), images.join(","))
}

/// The DaemonSet table.
pub fn daemon_sets(items: &[DaemonSet], layout: Layout, now: Timestamp) -> Table {
    Table {
        header: daemon_set_header(layout),
        rows: items
            .iter()
            .map(|d| daemon_set_row(d, layout, now))
            .collect(),
    }
}

// --- Nodes -------------------------------------------------------------------------------------

/// Titles of the node table (nodes have no namespace column).
pub fn node_header(layout: Layout) -> Vec<String> {
    let mut h = strings(&["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    if layout.wide {
        h.extend(strings(&[
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME",
        ]));
    }
    h
}

/// kubectl's node STATUS: `Ready` / `NotReady` from the Ready condition (`Unknown` without
/// one), plus `,SchedulingDisabled` when cordoned.
pub fn node_status(node: &Node) -> String {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().rev().find(|c| c.type_ == "Ready"));
    let mut status = vec![match ready {
        Some(c) if c.status == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if node.spec.as_ref().is_some_and(|s| s.unschedulable) {
        status.push("SchedulingDisabled");
    }
    status.join(",")
}

/// kubectl's ROLES: the suffixes of `node-role.kubernetes.io/<role>` labels and the value of
/// `kubernetes.io/role`, sorted, or `<none>`.
pub fn node_roles(labels: &BTreeMap<String, String>) -> String {
    let mut roles = BTreeSet::new();
    for (k, v) in labels {
        if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if k == "kubernetes.io/role" && !v.is_empty() {
            roles.insert(v.clone());
        }
    }
    if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    }
}

fn first_address(node: &Node, type_: &str) -> String {
    node.status
        .as_ref()
        .and_then(|s| s.addresses.iter().find(|a| a.type_ == type_))
        .map_or_else(|| "<none>".to_string(), |a| a.address.clone())
}

fn or_unknown(s: &str) -> String {
    if s.is_empty() {
        "<unknown>".to_string()
    } else {
        s.to_string()
    }
}

/// One node's row.
pub fn node_row(node: &Node, layout: Layout, now: Timestamp) -> Vec<String> {
    let meta = node.metadata.clone().unwrap_or_default();
    let info = node
        .status
        .as_ref()
        .and_then(|s| s.node_info.clone())
        .unwrap_or_default();
    let mut row = vec![
        meta.name.clone(),
        node_status(node),
        node_roles(&meta.labels),
        age(meta.creation_timestamp, now),
        info.kubelet_version.clone(),
    ];
    if layout.wide {
        row.push(first_address(node, "InternalIP"));
        row.push(first_address(node, "ExternalIP"));
        row.push(or_unknown(&info.os_image));
        row.push(or_unknown(&info.kernel_version));
        row.push(or_unknown(&info.container_runtime_version));
    }
    row
}

/// The node table.
pub fn nodes(items: &[Node], layout: Layout, now: Timestamp) -> Table {
    Table {
        header: node_header(layout),
        rows: items.iter().map(|n| node_row(n, layout, now)).collect(),
    }
}

// --- Pods --------------------------------------------------------------------------------------

/// Titles of the pod table.
pub fn pod_header(layout: Layout) -> Vec<String> {
    let mut h = strings(&["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    if layout.wide {
        h.extend(strings(&["IP", "NODE"]));
    }
    with_namespace(layout, "NAMESPACE", h)
}

/// What kubectl's pod printer computes: ready and total containers, the STATUS reason,
/// restarts and when the last restart was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSummary {
    /// Containers ready (and running).
    pub ready: usize,
    /// Containers of the spec (plus restartable init containers).
    pub total: usize,
    /// `Running`, `Pending`, `CrashLoopBackOff`, `Init:0/1`, `Terminating`, …
    pub status: String,
    /// Restarts of the containers (of the init containers while initializing).
    pub restarts: i64,
    /// When a container last finished before a restart.
    pub last_restart: Option<Timestamp>,
}

/// kubectl's `printPod` logic.
pub fn pod_summary(pod: &Pod) -> PodSummary {
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let sidecar = |name: &str| {
        spec.init_containers
            .iter()
            .any(|c| c.name == name && c.restart_policy.as_deref() == Some("Always"))
    };
    let mut total = spec.containers.len()
        + spec
            .init_containers
            .iter()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"))
            .count();
    let mut ready = 0;
    let mut restarts: i64 = 0;
    let mut last_restart: Option<Timestamp> = None;
    let mut note_restart = |state: Option<&ContainerState>| {
        if let Some(ContainerState::Terminated(t)) = state
            && let Some(finished) = t.finished_at
            && last_restart.is_none_or(|l| finished > l)
        {
            last_restart = Some(finished);
        }
    };
    let mut reason = if status.reason.is_empty() {
        status.phase.clone()
    } else {
        status.reason.clone()
    };

    let mut initializing = false;
    let init_count = spec.init_containers.len();
    for (i, c) in status.init_container_statuses.iter().enumerate() {
        restarts += i64::from(c.restart_count);
        if c.restart_count > 0 {
            note_restart(c.last_state.as_ref());
        }
        if sidecar(&c.name) && c.started == Some(true) {
            if c.ready {
                ready += 1;
            }
            continue;
        }
        match &c.state {
            Some(ContainerState::Terminated(t)) if t.exit_code == 0 => continue,
            Some(ContainerState::Terminated(t)) => {
                reason = if !t.reason.is_empty() {
                    format!("Init:{}", t.reason)
                } else if t.signal != 0 {
                    format!("Init:Signal:{}", t.signal)
                } else {
                    format!("Init:ExitCode:{}", t.exit_code)
                };
            }
            Some(ContainerState::Waiting(w))
                if !w.reason.is_empty() && w.reason != "PodInitializing" =>
            {
                reason = format!("Init:{}", w.reason);
            }
            _ => reason = format!("Init:{i}/{init_count}"),
        }
        initializing = true;
        break;
    }

    let initialized = status
        .conditions
        .iter()
        .any(|c| c.type_ == "Initialized" && c.status == "True");
    if !initializing || initialized {
        restarts = 0;
        let mut running = false;
        for c in status.container_statuses.iter().rev() {
            restarts += i64::from(c.restart_count);
            if c.restart_count > 0 {
                note_restart(c.last_state.as_ref());
            }
            match &c.state {
                Some(ContainerState::Waiting(w)) if !w.reason.is_empty() => {
                    reason = w.reason.clone();
                }
                Some(ContainerState::Terminated(t)) if !t.reason.is_empty() => {
                    reason = t.reason.clone();
                }
                Some(ContainerState::Terminated(t)) => {
                    reason = if t.signal != 0 {
                        format!("Signal:{}", t.signal)
                    } else {
                        format!("ExitCode:{}", t.exit_code)
                    };
                }
                Some(ContainerState::Running(_)) if c.ready => {
                    running = true;
                    ready += 1;
                }
                _ => {}
            }
        }
        if reason == "Completed" && running {
            reason = if pod.is_ready() {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    if pod
        .metadata
        .as_ref()
        .is_some_and(|m| m.deletion_timestamp.is_some())
    {
        reason = if status.reason == "NodeLost" {
            "Unknown".to_string()
        } else {
            "Terminating".to_string()
        };
    }
    if total == 0 {
        total = status.container_statuses.len();
    }
    PodSummary {
        ready,
        total,
        status: reason,
        restarts,
        last_restart,
    }
}

/// The RESTARTS cell: `0`, or `3 (5m ago)` when the last restart time is known.
pub fn restarts_cell(summary: &PodSummary, now: Timestamp) -> String {
    match summary.last_restart {
        Some(at) if summary.restarts > 0 => format!(
            "{} ({} ago)",
            summary.restarts,
            human_duration(seconds_between(at, now))
        ),
        _ => summary.restarts.to_string(),
    }
}

fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".to_string()
    } else {
        s.to_string()
    }
}

/// One pod's row.
pub fn pod_row(pod: &Pod, layout: Layout, now: Timestamp) -> Vec<String> {
    let meta = pod.metadata.clone().unwrap_or_default();
    let summary = pod_summary(pod);
    let mut row = vec![
        meta.name.clone(),
        format!("{}/{}", summary.ready, summary.total),
        summary.status.clone(),
        restarts_cell(&summary, now),
        age(meta.creation_timestamp, now),
    ];
    if layout.wide {
        row.push(or_none(
            pod.status.as_ref().map_or("", |s| s.pod_ip.as_str()),
        ));
        row.push(or_none(
            pod.spec.as_ref().map_or("", |s| s.node_name.as_str()),
        ));
    }
    with_namespace(layout, &meta.namespace, row)
}

/// The pod table.
pub fn pods(items: &[Pod], layout: Layout, now: Timestamp) -> Table {
    Table {
        header: pod_header(layout),
        rows: items.iter().map(|p| pod_row(p, layout, now)).collect(),
    }
}

// --- Endpoints ---------------------------------------------------------------------------------

/// The address clients should use: the first `InternalIP`, else the first address.
pub fn endpoint_address(addresses: &[v1::NodeAddress]) -> String {
    addresses
        .iter()
        .find(|a| a.r#type == "InternalIP")
        .or_else(|| addresses.first())
        .map_or_else(|| "<none>".to_string(), |a| a.address.clone())
}

/// `9100/TCP,8125/UDP` (host ports), or `<none>`.
pub fn endpoint_ports(ports: &[v1::EndpointPort]) -> String {
    if ports.is_empty() {
        return "<none>".to_string();
    }
    ports
        .iter()
        .map(|p| {
            let protocol = if p.protocol.is_empty() {
                "TCP"
            } else {
                &p.protocol
            };
            format!("{}/{protocol}", p.host_port)
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The endpoints table: NODE ADDRESS PORTS READY (wide: POD).
pub fn endpoints(items: &[v1::DaemonEndpoint], layout: Layout) -> Table {
    let mut header = strings(&["NODE", "ADDRESS", "PORTS", "READY"]);
    if layout.wide {
        header.push("POD".to_string());
    }
    let rows = items
        .iter()
        .map(|e| {
            let mut row = vec![
                e.node_name.clone(),
                endpoint_address(&e.addresses),
                endpoint_ports(&e.ports),
                e.ready.to_string(),
            ];
            if layout.wide {
                row.push(e.pod_name.clone());
            }
            row
        })
        .collect();
    Table { header, rows }
}

#[cfg(test)]
mod tests {
    use everynode_core::model::{
        Container, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
        ContainerStatus, DaemonSetSpec, DaemonSetStatus, NodeAddress, NodeCondition, NodeSpec,
        NodeStatus, NodeSystemInfo, ObjectMeta, PodStatus, PodTemplateSpec,
    };

    use super::*;

    const NOW: Timestamp = Timestamp::from_seconds(1_000_000);

    fn meta(name: &str, namespace: &str, age_secs: i64) -> Option<ObjectMeta> {
        Some(ObjectMeta {
            name: name.into(),
            namespace: namespace.into(),
            creation_timestamp: Some(Timestamp::from_seconds(NOW.seconds - age_secs)),
            ..ObjectMeta::default()
        })
    }

    fn ds(name: &str, node_selector: &[(&str, &str)], status: DaemonSetStatus) -> DaemonSet {
        DaemonSet {
            metadata: meta(name, "default", 45),
            spec: Some(DaemonSetSpec {
                selector: Some(LabelSelector {
                    match_labels: [("app".to_string(), name.to_string())].into(),
                    ..LabelSelector::default()
                }),
                template: Some(PodTemplateSpec {
                    spec: Some(PodSpec {
                        node_selector: node_selector
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                        containers: vec![Container {
                            name: "main".into(),
                            image: "busybox:1.36".into(),
                            ..Container::default()
                        }],
                        ..PodSpec::default()
                    }),
                    ..PodTemplateSpec::default()
                }),
                ..DaemonSetSpec::default()
            }),
            status: Some(status),
            ..DaemonSet::default()
        }
    }

    #[test]
    fn daemon_set_table_reads_like_kubectl() {
        let status = DaemonSetStatus {
            desired_number_scheduled: 3,
            current_number_scheduled: 3,
            number_ready: 2,
            updated_number_scheduled: 3,
            number_available: 2,
            ..DaemonSetStatus::default()
        };
        let items = [
            ds("log-shipper", &[], status.clone()),
            ds(
                "exporter",
                &[("kubernetes.io/os", "linux"), ("tier", "edge")],
                status,
            ),
        ];
        let out = daemon_sets(&items, Layout::default(), NOW).render(true);
        assert_eq!(
            out,
            "\
NAME          DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR                      AGE
log-shipper   3         3         2       3            2           <none>                             45s
exporter      3         3         2       3            2           kubernetes.io/os=linux,tier=edge   45s
"
        );
    }

    #[test]
    fn all_namespaces_puts_namespace_first_and_wide_adds_containers() {
        let layout = Layout {
            wide: true,
            namespace: true,
        };
        let items = [ds("a", &[], DaemonSetStatus::default())];
        let table = daemon_sets(&items, layout, NOW);
        assert_eq!(table.header[0], "NAMESPACE");
        assert_eq!(table.header.last().map(String::as_str), Some("SELECTOR"));
        assert_eq!(
            table.rows[0],
            [
                "default",
                "a",
                "0",
                "0",
                "0",
                "0",
                "0",
                "<none>",
                "45s",
                "main",
                "busybox:1.36",
                "app=a"
            ]
        );
        assert_eq!(table.render(false).lines().count(), 1);
    }

    fn node(name: &str, ready: Option<&str>, cordoned: bool, labels: &[(&str, &str)]) -> Node {
        let mut m = meta(name, "", 2 * 86_400).unwrap_or_default();
        m.labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Node {
            metadata: Some(m),
            spec: Some(NodeSpec {
                unschedulable: cordoned,
                ..NodeSpec::default()
            }),
            status: Some(NodeStatus {
                conditions: ready
                    .map(|s| NodeCondition {
                        type_: "Ready".into(),
                        status: s.into(),
                        ..NodeCondition::default()
                    })
                    .into_iter()
                    .collect(),
                addresses: vec![NodeAddress {
                    type_: "InternalIP".into(),
                    address: "10.0.0.7".into(),
                }],
                node_info: Some(NodeSystemInfo {
                    kubelet_version: "everynode-agent/0.1.0".into(),
                    os_image: "Debian GNU/Linux 12 (bookworm)".into(),
                    kernel_version: "6.1.0-18-amd64".into(),
                    container_runtime_version: "process://0.1.0".into(),
                    ..NodeSystemInfo::default()
                }),
                ..NodeStatus::default()
            }),
            ..Node::default()
        }
    }

    #[test]
    fn node_status_and_roles_read_like_kubectl() {
        assert_eq!(node_status(&node("a", Some("True"), false, &[])), "Ready");
        assert_eq!(
            node_status(&node("a", Some("Unknown"), false, &[])),
            "NotReady"
        );
        assert_eq!(
            node_status(&node("a", Some("True"), true, &[])),
            "Ready,SchedulingDisabled"
        );
        assert_eq!(node_status(&node("a", None, false, &[])), "Unknown");
        let labels: BTreeMap<String, String> = [
            ("node-role.kubernetes.io/worker", ""),
            ("node-role.kubernetes.io/edge", ""),
            ("kubernetes.io/role", "gpu"),
            ("zone", "a"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(node_roles(&labels), "edge,gpu,worker");
        assert_eq!(node_roles(&BTreeMap::new()), "<none>");
    }

    #[test]
    fn node_table_wide_adds_addresses_and_system_info() {
        let items = [node("n1", Some("True"), true, &[])];
        let out = nodes(
            &items,
            Layout {
                wide: true,
                namespace: true,
            },
            NOW,
        )
        .render(true);
        let expected = "\
NAME   STATUS                     ROLES    AGE   VERSION                 INTERNAL-IP   EXTERNAL-IP   OS-IMAGE                         KERNEL-VERSION   CONTAINER-RUNTIME
n1     Ready,SchedulingDisabled   <none>   2d    everynode-agent/0.1.0   10.0.0.7      <none>        Debian GNU/Linux 12 (bookworm)   6.1.0-18-amd64   process://0.1.0
";
        assert_eq!(out, expected);
    }

    fn status(name: &str, state: ContainerState, ready: bool, restarts: i32) -> ContainerStatus {
        ContainerStatus {
            name: name.into(),
            state: Some(state),
            ready,
            restart_count: restarts,
            ..ContainerStatus::default()
        }
    }

    fn pod(phase: &str, statuses: Vec<ContainerStatus>) -> Pod {
        Pod {
            metadata: meta("agent-x7k2p", "default", 192),
            spec: Some(PodSpec {
                node_name: "n1".into(),
                containers: statuses
                    .iter()
                    .map(|s| Container {
                        name: s.name.clone(),
                        ..Container::default()
                    })
                    .collect(),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: phase.into(),
                pod_ip: "10.0.0.7".into(),
                container_statuses: statuses,
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn running_pod_row() {
        let running = ContainerState::Running(ContainerStateRunning::default());
        let p = pod(
            "Running",
            vec![
                status("a", running.clone(), true, 0),
                status("b", running, false, 0),
            ],
        );
        let layout = Layout {
            wide: true,
            namespace: false,
        };
        assert_eq!(
            pod_row(&p, layout, NOW),
            [
                "agent-x7k2p",
                "1/2",
                "Running",
                "0",
                "3m12s",
                "10.0.0.7",
                "n1"
            ]
        );
    }

    #[test]
    fn waiting_reason_wins_and_restarts_say_when() {
        let mut s = status(
            "a",
            ContainerState::Waiting(ContainerStateWaiting {
                reason: "CrashLoopBackOff".into(),
                message: String::new(),
            }),
            false,
            4,
        );
        s.last_state = Some(ContainerState::Terminated(ContainerStateTerminated {
            exit_code: 1,
            finished_at: Some(Timestamp::from_seconds(NOW.seconds - 300)),
            ..ContainerStateTerminated::default()
        }));
        let p = pod("Running", vec![s]);
        let row = pod_row(&p, Layout::default(), NOW);
        assert_eq!(row[1], "0/1");
        assert_eq!(row[2], "CrashLoopBackOff");
        assert_eq!(row[3], "4 (5m ago)");
    }

    #[test]
    fn terminated_without_reason_shows_exit_code_and_deletion_shows_terminating() {
        let p = pod(
            "Running",
            vec![status(
                "a",
                ContainerState::Terminated(ContainerStateTerminated {
                    exit_code: 137,
                    ..ContainerStateTerminated::default()
                }),
                false,
                0,
            )],
        );
        assert_eq!(pod_summary(&p).status, "ExitCode:137");
        let mut p = pod("Running", vec![]);
        if let Some(m) = p.metadata.as_mut() {
            m.deletion_timestamp = Some(NOW);
        }
        assert_eq!(pod_summary(&p).status, "Terminating");
        assert_eq!(pod_summary(&pod("Pending", vec![])).status, "Pending");
    }

    #[test]
    fn endpoints_table() {
        let items = [v1::DaemonEndpoint {
            pod_name: "agent-abc".into(),
            node_name: "n1".into(),
            addresses: vec![
                v1::NodeAddress {
                    r#type: "Hostname".into(),
                    address: "n1".into(),
                },
                v1::NodeAddress {
                    r#type: "InternalIP".into(),
                    address: "10.0.0.7".into(),
                },
            ],
            ports: vec![
                v1::EndpointPort {
                    host_port: 9100,
                    protocol: "TCP".into(),
                    ..v1::EndpointPort::default()
                },
                v1::EndpointPort {
                    host_port: 8125,
                    protocol: String::new(),
                    ..v1::EndpointPort::default()
                },
            ],
            ready: true,
        }];
        assert_eq!(
            endpoints(&items, Layout::default()).render(true),
            "NODE   ADDRESS    PORTS               READY\nn1     10.0.0.7   9100/TCP,8125/TCP   true\n"
        );
    }
}
