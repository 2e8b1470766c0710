//! Planner tests: ports of Kubernetes' `daemon_controller_test.go` and `update_test.go`, named as
//! behaviours, built with small builders (`node("n1").label("zone", "a")`,
//! `pod("p").on("n1").owned_by(&ds).ready()`) and checked with [`assert_plan`].
//!
//! [`World`] plays the executor between passes: deleted pods disappear, created pods appear
//! (not ready, created "now"), adoptions/releases and revision changes are applied, back-off
//! entries and the status are stored — the same effect Kubernetes' fake pod control has in its
//! unit tests.

mod claim;
mod history;
mod manage;
mod rolling;

use std::collections::BTreeMap;

use super::*;
use crate::model::{
    Container, DaemonSetSpec, DaemonSetUpdateStrategy, IntOrString, LabelSelector, NodeCondition,
    NodeSpec, NodeStatus, ObjectMeta, PodCondition, PodSpec, PodStatus, RollingUpdateDaemonSet,
    Taint, Toleration,
};

pub(super) const SIMPLE: &[(&str, &str)] = &[("name", "simple-daemon"), ("type", "production")];
pub(super) const SIMPLE2: &[(&str, &str)] = &[("name", "simple-daemon"), ("type", "test")];
pub(super) const NODE_LABELS: &[(&str, &str)] = &[("color", "blue"), ("speed", "fast")];

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// DaemonSet
// ---------------------------------------------------------------------------------------------

/// Kubernetes' `newDaemonSet(name)`: selector and template labels `SIMPLE`, one container
/// `foo/bar`, `OnDelete`, revision history limit 2, generation 1.
pub(super) fn daemon(name: &str) -> DaemonSet {
    DaemonSet {
        api_version: "apps/v1".into(),
        kind: "DaemonSet".into(),
        metadata: Some(ObjectMeta {
            name: name.into(),
            namespace: "default".into(),
            uid: format!("uid-{name}"),
            generation: 1,
            ..Default::default()
        }),
        spec: Some(DaemonSetSpec {
            selector: Some(LabelSelector {
                match_labels: labels(SIMPLE),
                ..Default::default()
            }),
            template: Some(PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: labels(SIMPLE),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "c".into(),
                        image: "foo/bar".into(),
                        image_pull_policy: "IfNotPresent".into(),
                        ..Default::default()
                    }],
                    dns_policy: "Default".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            update_strategy: Some(DaemonSetUpdateStrategy {
                type_: "OnDelete".into(),
                ..Default::default()
            }),
            revision_history_limit: Some(2),
            ..Default::default()
        }),
        status: Some(DaemonSetStatus::default()),
        ..Default::default()
    }
}

pub(super) fn template_of(ds: &DaemonSet) -> &PodTemplateSpec {
    ds.spec.as_ref().and_then(|s| s.template.as_ref()).unwrap()
}

pub(super) fn pod_spec_mut(ds: &mut DaemonSet) -> &mut PodSpec {
    ds.spec
        .as_mut()
        .unwrap()
        .template
        .as_mut()
        .unwrap()
        .spec
        .as_mut()
        .unwrap()
}

/// The hash pods of `ds`'s current template carry (with its collision count).
pub(super) fn current_hash(ds: &DaemonSet) -> String {
    template_hash(
        template_of(ds),
        ds.status.as_ref().and_then(|s| s.collision_count),
    )
}

pub(super) fn set_image(ds: &mut DaemonSet, image: &str) {
    pod_spec_mut(ds).containers[0].image = image.into();
    ds.metadata.as_mut().unwrap().generation += 1;
}

pub(super) fn on_delete(ds: &mut DaemonSet) {
    ds.spec.as_mut().unwrap().update_strategy = Some(DaemonSetUpdateStrategy {
        type_: "OnDelete".into(),
        ..Default::default()
    });
}

/// `RollingUpdate` with `maxUnavailable`.
pub(super) fn rolling(ds: &mut DaemonSet, max_unavailable: impl Into<IntOrString>) {
    ds.spec.as_mut().unwrap().update_strategy = Some(DaemonSetUpdateStrategy {
        type_: "RollingUpdate".into(),
        rolling_update: Some(RollingUpdateDaemonSet {
            max_unavailable: Some(max_unavailable.into()),
            max_surge: None,
            ..Default::default()
        }),
        ..Default::default()
    });
}

/// `RollingUpdate` with `maxUnavailable: 0` and `maxSurge` (Kubernetes' `newUpdateSurge`).
pub(super) fn surge(ds: &mut DaemonSet, max_surge: impl Into<IntOrString>) {
    ds.spec.as_mut().unwrap().update_strategy = Some(DaemonSetUpdateStrategy {
        type_: "RollingUpdate".into(),
        rolling_update: Some(RollingUpdateDaemonSet {
            max_unavailable: Some(IntOrString::Int(0)),
            max_surge: Some(max_surge.into()),
            ..Default::default()
        }),
        ..Default::default()
    });
}

/// Kubernetes runs most tests once per strategy: `OnDelete`, and `RollingUpdate` with
/// `maxUnavailable: 1`.
pub(super) fn for_each_strategy(mut test: impl FnMut(&str, DaemonSet)) {
    let mut ds = daemon("foo");
    on_delete(&mut ds);
    test("OnDelete", ds);
    let mut ds = daemon("foo");
    rolling(&mut ds, 1);
    test("RollingUpdate", ds);
}

// ---------------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------------

pub(super) struct NodeBuilder(Node);

/// A ready node without labels or taints.
pub(super) fn node(name: &str) -> NodeBuilder {
    NodeBuilder(Node {
        api_version: "v1".into(),
        kind: "Node".into(),
        metadata: Some(ObjectMeta {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            conditions: vec![NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    })
}

impl NodeBuilder {
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.0
            .metadata
            .as_mut()
            .unwrap()
            .labels
            .insert(k.into(), v.into());
        self
    }
    pub fn labels(mut self, pairs: &[(&str, &str)]) -> Self {
        for (k, v) in pairs {
            self = self.label(k, v);
        }
        self
    }
    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        self.0.spec.as_mut().unwrap().taints.push(Taint {
            key: key.into(),
            value: value.into(),
            effect: effect.into(),
            time_added: None,
        });
        self
    }
    pub fn condition(mut self, type_: &str, status: &str) -> Self {
        let conditions = &mut self.0.status.as_mut().unwrap().conditions;
        conditions.retain(|c| c.type_ != type_);
        conditions.push(NodeCondition {
            type_: type_.into(),
            status: status.into(),
            ..Default::default()
        });
        self
    }
    pub fn build(self) -> Node {
        self.0
    }
}

impl From<NodeBuilder> for Node {
    fn from(b: NodeBuilder) -> Node {
        b.0
    }
}

/// Nodes `node-<start>` … `node-<start+count-1>` with `labels` (Kubernetes' `addNodes`).
pub(super) fn nodes(start: usize, count: usize, labels: &[(&str, &str)]) -> Vec<Node> {
    (start..start + count)
        .map(|i| node(&format!("node-{i}")).labels(labels).build())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Pods
// ---------------------------------------------------------------------------------------------

pub(super) struct PodBuilder(Pod);

/// A pod in namespace `default` with no labels, node, owner or status.
pub(super) fn pod(name: &str) -> PodBuilder {
    PodBuilder(Pod {
        api_version: "v1".into(),
        kind: "Pod".into(),
        metadata: Some(ObjectMeta {
            name: name.into(),
            namespace: "default".into(),
            uid: format!("uid-{name}"),
            ..Default::default()
        }),
        spec: Some(PodSpec::default()),
        status: Some(PodStatus::default()),
        ..Default::default()
    })
}

impl PodBuilder {
    fn meta(&mut self) -> &mut ObjectMeta {
        self.0.metadata.as_mut().unwrap()
    }
    /// Bound to `node` (`spec.nodeName`).
    pub fn on(mut self, node: &str) -> Self {
        self.0.spec.as_mut().unwrap().node_name = node.into();
        self
    }
    pub fn labels(mut self, pairs: &[(&str, &str)]) -> Self {
        for (k, v) in pairs {
            self.meta().labels.insert(k.to_string(), v.to_string());
        }
        self
    }
    /// Controlled by `ds`, carrying its current hash (Kubernetes' `newPod(…, ds)`).
    pub fn owned_by(mut self, ds: &DaemonSet) -> Self {
        let hash = current_hash(ds);
        self.meta()
            .labels
            .insert(CONTROLLER_REVISION_HASH_LABEL.into(), hash);
        self.meta().owner_references = vec![controller_ref(ds)];
        self
    }
    /// Controlled by `ds` but without a revision hash label (an old pod).
    pub fn old_of(self, ds: &DaemonSet) -> Self {
        let mut b = self.owned_by(ds);
        b.meta().labels.remove(CONTROLLER_REVISION_HASH_LABEL);
        b
    }
    pub fn hash(mut self, hash: &str) -> Self {
        self.meta()
            .labels
            .insert(CONTROLLER_REVISION_HASH_LABEL.into(), hash.into());
        self
    }
    pub fn created_at(mut self, seconds: i64) -> Self {
        self.meta().creation_timestamp = Some(Timestamp::from_seconds(seconds));
        self
    }
    pub fn ready(self) -> Self {
        self.readiness("True", None)
    }
    pub fn ready_since(self, seconds: i64) -> Self {
        self.readiness("True", Some(seconds))
    }
    pub fn unready(self) -> Self {
        self.readiness("False", None)
    }
    fn readiness(mut self, status: &str, since: Option<i64>) -> Self {
        let conditions = &mut self.0.status.as_mut().unwrap().conditions;
        conditions.retain(|c| c.type_ != "Ready");
        conditions.push(PodCondition {
            type_: "Ready".into(),
            status: status.into(),
            last_transition_time: since.map(Timestamp::from_seconds),
            ..Default::default()
        });
        self
    }
    pub fn phase(mut self, phase: &str) -> Self {
        self.0.status.as_mut().unwrap().phase = phase.into();
        self
    }
    pub fn failed(self) -> Self {
        self.phase("Failed")
    }
    pub fn succeeded(self) -> Self {
        self.phase("Succeeded")
    }
    pub fn deleting(mut self) -> Self {
        self.meta().deletion_timestamp = Some(Timestamp::from_seconds(1));
        self
    }
    /// Unbound, aimed at `node` through a `metadata.name` `matchFields` affinity.
    pub fn aimed_at(mut self, node: &str) -> Self {
        use crate::model::{
            Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
        };
        self.0.spec.as_mut().unwrap().affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_fields: vec![NodeSelectorRequirement {
                            key: "metadata.name".into(),
                            operator: "In".into(),
                            values: vec![node.into()],
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        self
    }
    pub fn build(self) -> Pod {
        self.0
    }
}

impl From<PodBuilder> for Pod {
    fn from(b: PodBuilder) -> Pod {
        b.0
    }
}

// ---------------------------------------------------------------------------------------------
// The world and the simulated executor
// ---------------------------------------------------------------------------------------------

/// The state one DaemonSet's passes see, with an executor that applies plans.
pub(super) struct World {
    pub ds: DaemonSet,
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    pub revisions: Vec<ControllerRevision>,
    pub backoff: BackoffState,
    pub now: Timestamp,
    pub expectations_satisfied: bool,
    /// Counter for the UIDs the simulated store assigns.
    pub created: usize,
}

impl World {
    pub fn new(ds: DaemonSet) -> Self {
        World {
            ds,
            nodes: Vec::new(),
            pods: Vec::new(),
            revisions: Vec::new(),
            backoff: BackoffState::new(),
            now: Timestamp::from_seconds(1_000),
            expectations_satisfied: true,
            created: 0,
        }
    }

    pub fn with_nodes(mut self, nodes: Vec<Node>) -> Self {
        self.nodes.extend(nodes);
        self
    }

    pub fn add_pod(&mut self, pod: impl Into<Pod>) {
        self.pods.push(pod.into());
    }

    /// `count` pods on `node` with `labels`, owned by the DaemonSet (Kubernetes' `addPods`).
    pub fn add_pods(&mut self, node: &str, labels: &[(&str, &str)], count: usize) {
        for _ in 0..count {
            let name = format!("{node}-{}", self.pods.len());
            let p = pod(&name)
                .on(node)
                .labels(labels)
                .owned_by(&self.ds)
                .build();
            self.pods.push(p);
        }
    }

    pub fn plan(&self) -> Plan {
        plan(&PlanInput {
            ds: &self.ds,
            nodes: &self.nodes,
            pods: &self.pods,
            revisions: &self.revisions,
            now: self.now,
            backoff: &self.backoff,
            expectations_satisfied: self.expectations_satisfied,
        })
    }

    /// Plans and applies one pass.
    pub fn sync(&mut self) -> Plan {
        let p = self.plan();
        self.apply(&p);
        p
    }

    /// Applies a plan the way a successful executor (and the agents) would.
    pub fn apply(&mut self, p: &Plan) {
        let ds_ref = controller_ref(&self.ds);
        for r in &p.adopt {
            if let Some(pod) = self.pods.iter_mut().find(|x| x.name() == r.name) {
                pod.metadata.as_mut().unwrap().owner_references = vec![ds_ref.clone()];
            }
        }
        for r in &p.release {
            if let Some(pod) = self.pods.iter_mut().find(|x| x.name() == r.name) {
                pod.metadata.as_mut().unwrap().owner_references.clear();
            }
        }
        if let Some(rev) = &p.revision {
            for r in &rev.adopt {
                if let Some(x) = self.revisions.iter_mut().find(|x| x.name() == r.name) {
                    x.metadata.as_mut().unwrap().owner_references = vec![ds_ref.clone()];
                }
            }
            for r in &rev.release {
                if let Some(x) = self.revisions.iter_mut().find(|x| x.name() == r.name) {
                    x.metadata.as_mut().unwrap().owner_references.clear();
                }
            }
            for updated in &rev.update {
                if let Some(x) = self
                    .revisions
                    .iter_mut()
                    .find(|x| x.name() == updated.name())
                {
                    *x = updated.clone();
                }
            }
            self.revisions
                .retain(|x| !rev.delete.iter().any(|d| d.name == x.name()));
            if let Some(created) = &rev.create {
                let mut created = created.clone();
                created.metadata.as_mut().unwrap().uid = format!("uid-{}", created.name());
                self.revisions.push(created);
            }
            for r in &rev.relabel_pods {
                if let Some(pod) = self.pods.iter_mut().find(|x| x.name() == r.name) {
                    pod.metadata
                        .as_mut()
                        .unwrap()
                        .labels
                        .insert(CONTROLLER_REVISION_HASH_LABEL.into(), rev.hash.clone());
                }
            }
        }
        self.pods
            .retain(|x| !p.delete.iter().any(|d| d.pod.name == x.name()));
        for c in &p.create {
            let mut created = c.pod.clone();
            let meta = created.metadata.as_mut().unwrap();
            self.created += 1;
            meta.uid = format!("uid-{}-{}", meta.name, self.created);
            meta.creation_timestamp = Some(self.now);
            created.status = Some(PodStatus::default());
            self.pods.push(created);
        }
        for b in &p.backoff {
            self.backoff.insert(b.key.clone(), b.entry);
        }
        if let Some(status) = &p.status {
            self.ds.status = Some(status.clone());
        }
    }

    /// Marks every pod that is not ready as ready since now (Kubernetes' `markPodsReady`).
    pub fn mark_ready(&mut self) {
        let now = self.now;
        for p in &mut self.pods {
            if p.is_ready() {
                continue;
            }
            let conditions = &mut p.status.get_or_insert_with(Default::default).conditions;
            conditions.retain(|c| c.type_ != "Ready");
            conditions.push(PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(now),
                ..Default::default()
            });
        }
    }

    /// Sets readiness of up to `count` pods (not being deleted, readiness differing) accepted by
    /// `filter`, as of now (Kubernetes' `setPodReadiness`).
    pub fn set_readiness(&mut self, ready: bool, count: usize, filter: impl Fn(&Pod) -> bool) {
        let now = self.now;
        let mut left = count;
        for p in &mut self.pods {
            if left == 0 {
                break;
            }
            let deleting = p.metadata.as_ref().is_some_and(|m| m.is_being_deleted());
            if deleting || p.is_ready() == ready || !filter(p) {
                continue;
            }
            let conditions = &mut p.status.get_or_insert_with(Default::default).conditions;
            conditions.retain(|c| c.type_ != "Ready");
            conditions.push(PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                last_transition_time: Some(now),
                ..Default::default()
            });
            left -= 1;
        }
        assert_eq!(left, 0, "could not set readiness={ready} on {count} pods");
    }

    /// The pods on `node`.
    pub fn pods_on(&self, node: &str) -> Vec<&Pod> {
        self.pods
            .iter()
            .filter(|p| crate::scheduling::target_node_name(p) == Some(node))
            .collect()
    }

    pub fn status(&self) -> DaemonSetStatus {
        self.ds.status.clone().unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

/// Asserts the nodes the plan creates pods on and the pods it deletes (order ignored), and that
/// every created pod is a well-formed daemon pod of its node.
#[track_caller]
pub(super) fn assert_plan(plan: &Plan, creates: &[&str], deletes: &[&str]) {
    let mut got_creates: Vec<&str> = plan.create.iter().map(|c| c.node.as_str()).collect();
    let mut got_deletes: Vec<&str> = plan.delete.iter().map(|d| d.pod.name.as_str()).collect();
    let mut want_creates = creates.to_vec();
    let mut want_deletes = deletes.to_vec();
    got_creates.sort_unstable();
    got_deletes.sort_unstable();
    want_creates.sort_unstable();
    want_deletes.sort_unstable();
    assert_eq!(got_creates, want_creates, "creates");
    assert_eq!(got_deletes, want_deletes, "deletes");
    for c in &plan.create {
        let meta = c.pod.metadata.as_ref().unwrap();
        let owner = meta
            .controller_ref()
            .expect("created pods have a controller reference");
        assert_eq!(owner.api_version, "apps/v1");
        assert_eq!(owner.kind, "DaemonSet");
        assert_eq!(owner.block_owner_deletion, Some(true));
        assert_eq!(c.pod.spec.as_ref().unwrap().node_name, c.node);
    }
}

/// Asserts only how many pods the plan creates and deletes.
#[track_caller]
pub(super) fn assert_counts(plan: &Plan, creates: usize, deletes: usize) {
    assert_eq!(
        (plan.create.len(), plan.delete.len()),
        (creates, deletes),
        "(creates, deletes); creates on {:?}, deletes {:?}",
        plan.create.iter().map(|c| &c.node).collect::<Vec<_>>(),
        plan.delete
            .iter()
            .map(|d| (&d.pod.name, d.reason))
            .collect::<Vec<_>>()
    );
}

pub(super) fn toleration(key: &str, value: &str, effect: &str) -> Toleration {
    Toleration {
        key: key.into(),
        operator: "Equal".into(),
        value: value.into(),
        effect: effect.into(),
        ..Default::default()
    }
}
