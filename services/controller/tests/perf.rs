#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The cost of one reconcile pass over a large fleet, without I/O (a measurement, ignored by
//! default):
//!
//! ```text
//! cargo test -p everynode-controller --release --test perf -- --ignored --nocapture
//! ```
//!
//! Fills the caches with 10,000 nodes and one DaemonSet's 10,000 running pods, then times what
//! a reconcile does before it sends anything: gathering from the caches (no copies of nodes or
//! pods) and the pure planner, for a steady state and after one node was added.

use std::sync::Arc;
use std::time::{Duration, Instant};

use everynode_bus::{NodeKey, PodKey};
use everynode_controller::cache::{NodeCache, PodCache};
use everynode_controller::informer::Cache;
use everynode_core::model::{
    Container, DaemonSet, DaemonSetSpec, DaemonSetStatus, DaemonSetUpdateStrategy, LabelSelector,
    Node, NodeAddress, NodeStatus, ObjectMeta, Pod, PodCondition, PodSpec, PodStatus,
    PodTemplateSpec, RollingUpdateDaemonSet, Timestamp,
};
use everynode_core::planner::{self, BackoffState, PlanInput};

const NODES: usize = 10_000;

fn daemon_set() -> DaemonSet {
    DaemonSet {
        api_version: "apps/v1".into(),
        kind: "DaemonSet".into(),
        metadata: Some(ObjectMeta {
            name: "agent".into(),
            namespace: "default".into(),
            uid: "ds-uid".into(),
            generation: 1,
            annotations: [(
                planner::TEMPLATE_GENERATION_ANNOTATION.to_string(),
                "1".to_string(),
            )]
            .into(),
            ..Default::default()
        }),
        spec: Some(DaemonSetSpec {
            selector: Some(LabelSelector {
                match_labels: [("app".to_string(), "agent".to_string())].into(),
                ..Default::default()
            }),
            template: Some(PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: [("app".to_string(), "agent".to_string())].into(),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "main".into(),
                        image: "example/agent:1".into(),
                        command: vec!["sleep".into(), "infinity".into()],
                        ..Default::default()
                    }],
                    restart_policy: "Always".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            update_strategy: Some(DaemonSetUpdateStrategy {
                type_: "RollingUpdate".into(),
                rolling_update: Some(RollingUpdateDaemonSet {
                    max_unavailable: Some(1.into()),
                    max_surge: Some(0.into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: Some(DaemonSetStatus::default()),
        ..Default::default()
    }
}

fn node(i: usize) -> Node {
    Node {
        metadata: Some(ObjectMeta {
            name: format!("node-{i}"),
            labels: [
                ("kubernetes.io/hostname".to_string(), format!("node-{i}")),
                ("kubernetes.io/os".to_string(), "linux".to_string()),
                ("kubernetes.io/arch".to_string(), "amd64".to_string()),
            ]
            .into(),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            addresses: vec![NodeAddress {
                type_: "InternalIP".into(),
                address: format!("10.0.{}.{}", i / 256, i % 256),
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
#[ignore = "a measurement; run with --release --ignored --nocapture"]
fn one_reconcile_pass_over_ten_thousand_nodes() {
    let ds = daemon_set();
    let template = ds.spec.as_ref().unwrap().template.clone().unwrap();
    let hash = planner::template_hash(&template, None);
    let mut nodes = NodeCache::default();
    let mut pods = PodCache::default();
    for i in 0..NODES {
        let n = node(i);
        nodes.put(&NodeKey::new(n.name()).unwrap(), &Arc::new(n), i as u64 + 1);
        let name = format!("agent-{i}");
        let pod = Pod {
            metadata: Some(ObjectMeta {
                name: name.clone(),
                namespace: "default".into(),
                uid: format!("pod-{i}"),
                creation_timestamp: Some(Timestamp::from_seconds(1)),
                labels: [
                    ("app".to_string(), "agent".to_string()),
                    (
                        planner::CONTROLLER_REVISION_HASH_LABEL.to_string(),
                        hash.clone(),
                    ),
                    (
                        planner::POD_TEMPLATE_GENERATION_LABEL.to_string(),
                        "1".to_string(),
                    ),
                ]
                .into(),
                owner_references: vec![planner::controller_ref(&ds)],
                ..Default::default()
            }),
            spec: Some(everynode_core::scheduling::daemon_pod_spec(
                &template,
                &format!("node-{i}"),
            )),
            status: Some(PodStatus {
                phase: "Running".into(),
                conditions: vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Timestamp::from_seconds(2)),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let key = PodKey::new(format!("node-{i}"), "default", name).unwrap();
        pods.put(&key, &Arc::new(pod), (NODES + i) as u64 + 1);
    }

    let backoff = BackoffState::new();
    let run = |label: &str, nodes: &NodeCache| {
        let mut best = Duration::MAX;
        let mut creates = 0;
        for _ in 0..5 {
            let started = Instant::now();
            let snapshot = nodes.snapshot();
            let owned = pods.owned("ds-uid").unwrap();
            let plan = planner::plan(&PlanInput {
                ds: &ds,
                nodes: &snapshot,
                pods: &owned,
                revisions: &[],
                now: Timestamp::from_seconds(100),
                backoff: &backoff,
                expectations_satisfied: true,
            });
            best = best.min(started.elapsed());
            creates = plan.create.len();
        }
        println!(
            "{label}: gather + plan over {} nodes: {best:?} (creates {creates})",
            nodes.len()
        );
        best
    };
    run("steady state", &nodes);
    let added = node(NODES);
    nodes.put(
        &NodeKey::new(added.name()).unwrap(),
        &Arc::new(added),
        99_999,
    );
    run("one node added", &nodes);
}
