//! What the registry does to a node, as pure functions on `everynode_core`'s model: building a
//! node from a first registration, merging a re-registration, applying an operator's edit,
//! the Ready / unreachable transitions of the lease lifecycle, and the events a change means.
//!
//! Ownership of a node's fields:
//! - the **agent** owns `status` (capacity, allocatable, addresses, nodeInfo, every condition
//!   but `Ready`), `spec.podCIDR`, `spec.providerID`, its annotations, and the labels it
//!   reports;
//! - the **operator** owns labels added or changed with `Update`, taints and `unschedulable`
//!   (the agent's taints and cordon flag apply when the node is first registered only, like the
//!   kubelet's `--register-with-taints` and `--register-schedulable`);
//! - the **registry** owns uid, creation time, the `Ready` condition and the
//!   `node.kubernetes.io/unreachable` taints.
//!
//! Labels on re-registration are a three-way merge, as `kubectl apply` does with its
//! last-applied annotation: the labels the agent reported last time are kept in the annotation
//! [`AGENT_LABELS_ANNOTATION`]. For every key, if the stored value is still what the agent
//! reported last time (the operator did not touch it), the agent's new report wins (set,
//! changed or removed); otherwise the operator's change is kept.
//!
//! Invariants: [`changes`] is the only place that decides which events a write publishes, so
//! every write publishes exactly one event per kind of real change and nothing for a write that
//! changes nothing else (e.g. addresses only); functions return the node unchanged (equal) when
//! there is nothing to do, which callers use to skip the write.

use std::collections::{BTreeMap, BTreeSet};

use everynode_core::model::{
    Node, NodeCondition, NodeSpec, NodeStatus, ObjectMeta, Taint, Timestamp,
};
use everynode_core::scheduling::{EFFECT_NO_EXECUTE, EFFECT_NO_SCHEDULE, TAINT_NODE_UNREACHABLE};

use crate::validation::{Edit, go_quote};

/// Annotation in which the registry keeps the labels the agent reported at its last
/// registration (a JSON object), to tell them from labels an operator set.
pub const AGENT_LABELS_ANNOTATION: &str = "registry.everynode.io/agent-labels";
/// The condition type the registry maintains.
pub const READY: &str = "Ready";
/// Condition status of a node whose agent heartbeats.
pub const STATUS_TRUE: &str = "True";
/// Condition status of a node whose lease expired: the registry does not know (Kubernetes' node
/// lifecycle controller writes `Unknown` too, and the `unreachable` taint belongs to it).
pub const STATUS_UNKNOWN: &str = "Unknown";
/// Reason of the `Ready` condition while the agent heartbeats.
pub const REASON_AGENT_READY: &str = "AgentReady";
/// Message of the `Ready` condition while the agent heartbeats.
pub const MESSAGE_AGENT_READY: &str = "agent is posting ready status";
/// Reason of the `Ready` condition once the lease expired (Kubernetes' wording).
pub const REASON_NODE_STATUS_UNKNOWN: &str = "NodeStatusUnknown";
/// Message of the `Ready` condition once the lease expired (Kubernetes' wording).
pub const MESSAGE_NODE_STATUS_UNKNOWN: &str = "Kubelet stopped posting node status.";
/// `apiVersion` of a stored node.
pub const API_VERSION: &str = "v1";
/// `kind` of a stored node.
pub const KIND: &str = "Node";

/// One kind of change a write made, i.e. one event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The `Ready` condition became `True`.
    Ready,
    /// The `Ready` condition stopped being `True`.
    NotReady,
    /// Labels changed.
    Relabeled {
        /// Before.
        old: BTreeMap<String, String>,
        /// After.
        new: BTreeMap<String, String>,
    },
    /// Taints changed.
    Tainted {
        /// Before.
        old: Vec<Taint>,
        /// After.
        new: Vec<Taint>,
    },
    /// Became unschedulable.
    Cordoned,
    /// Became schedulable.
    Uncordoned,
}

/// An operator's edit that would replace existing values without `overwrite`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverwriteConflict {
    /// The request field, e.g. `set_labels[zone]` or `add_taints[0]`.
    pub field: String,
    /// What `kubectl` says.
    pub message: String,
}

/// The node's labels (empty without metadata).
pub fn labels(node: &Node) -> BTreeMap<String, String> {
    node.metadata
        .as_ref()
        .map(|m| m.labels.clone())
        .unwrap_or_default()
}

/// The node's taints.
pub fn taints(node: &Node) -> &[Taint] {
    node.spec.as_ref().map_or(&[], |s| s.taints.as_slice())
}

fn unschedulable(node: &Node) -> bool {
    node.spec.as_ref().is_some_and(|s| s.unschedulable)
}

/// The node's `Ready` condition.
pub fn ready_condition(node: &Node) -> Option<&NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == READY)
}

/// Whether the node's `Ready` condition is `True`.
pub fn is_ready(node: &Node) -> bool {
    ready_condition(node).is_some_and(|c| c.status == STATUS_TRUE)
}

/// The boot id the node's agent reported (`status.nodeInfo.bootID`); empty if none.
pub fn boot_id(node: &Node) -> &str {
    node.status
        .as_ref()
        .and_then(|s| s.node_info.as_ref())
        .map_or("", |info| info.boot_id.as_str())
}

/// The events that turning `old` into `new` publishes, in a fixed order: readiness, labels,
/// taints, cordon. Empty when none of these changed.
pub fn changes(old: &Node, new: &Node) -> Vec<Change> {
    let mut out = Vec::new();
    match (is_ready(old), is_ready(new)) {
        (false, true) => out.push(Change::Ready),
        (true, false) => out.push(Change::NotReady),
        _ => {}
    }
    let (old_labels, new_labels) = (labels(old), labels(new));
    if old_labels != new_labels {
        out.push(Change::Relabeled {
            old: old_labels,
            new: new_labels,
        });
    }
    if taints(old) != taints(new) {
        out.push(Change::Tainted {
            old: taints(old).to_vec(),
            new: taints(new).to_vec(),
        });
    }
    match (unschedulable(old), unschedulable(new)) {
        (false, true) => out.push(Change::Cordoned),
        (true, false) => out.push(Change::Uncordoned),
        _ => {}
    }
    out
}

fn ready_true(now: Timestamp) -> NodeCondition {
    NodeCondition {
        type_: READY.to_owned(),
        status: STATUS_TRUE.to_owned(),
        last_heartbeat_time: Some(now),
        last_transition_time: Some(now),
        reason: REASON_AGENT_READY.to_owned(),
        message: MESSAGE_AGENT_READY.to_owned(),
    }
}

fn agent_labels_annotation(labels: &BTreeMap<String, String>) -> String {
    serde_json::to_string(labels).unwrap_or_else(|_| "{}".to_owned())
}

fn last_agent_labels(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.annotations
        .get(AGENT_LABELS_ANNOTATION)
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default()
}

/// The agent-owned conditions of a request: all but `Ready`, which the registry owns.
fn agent_conditions(status: &NodeStatus) -> Vec<NodeCondition> {
    status
        .conditions
        .iter()
        .filter(|c| c.type_ != READY)
        .cloned()
        .collect()
}

/// The agent-owned part of `status` from a registration; allocatable defaults to capacity.
fn agent_status(request: &NodeStatus) -> NodeStatus {
    NodeStatus {
        capacity: request.capacity.clone(),
        allocatable: if request.allocatable.is_empty() {
            request.capacity.clone()
        } else {
            request.allocatable.clone()
        },
        conditions: agent_conditions(request),
        addresses: request.addresses.clone(),
        node_info: request.node_info.clone(),
        extra_fields: request.extra_fields.clone(),
    }
}

/// Normalises taints for storage: `timeAdded` only on `NoExecute` taints, set to `now` when
/// missing.
fn stamp_taints(taints: &mut [Taint], now: Timestamp) {
    for taint in taints {
        if taint.effect == EFFECT_NO_EXECUTE {
            taint.time_added.get_or_insert(now);
        } else {
            taint.time_added = None;
        }
    }
}

/// The node stored for a first registration: the agent's view, with server-set metadata
/// (`uid`, creation time, no resourceVersion), `Ready=True`, and the agent labels recorded.
pub fn new_node(request: &Node, uid: String, now: Timestamp) -> Node {
    let given = request.metadata.clone().unwrap_or_default();
    let mut annotations = given.annotations.clone();
    annotations.insert(
        AGENT_LABELS_ANNOTATION.to_owned(),
        agent_labels_annotation(&given.labels),
    );
    let metadata = ObjectMeta {
        name: given.name,
        uid,
        creation_timestamp: Some(now),
        labels: given.labels,
        annotations,
        extra_fields: given.extra_fields,
        ..Default::default()
    };
    let given_spec = request.spec.clone().unwrap_or_default();
    let mut taints = given_spec.taints;
    stamp_taints(&mut taints, now);
    let spec = NodeSpec {
        pod_cidr: given_spec.pod_cidr,
        provider_id: given_spec.provider_id,
        unschedulable: given_spec.unschedulable,
        taints,
        extra_fields: given_spec.extra_fields,
    };
    let mut status = agent_status(&request.status.clone().unwrap_or_default());
    status.conditions.insert(0, ready_true(now));
    Node {
        api_version: API_VERSION.to_owned(),
        kind: KIND.to_owned(),
        metadata: Some(metadata),
        spec: Some(spec),
        status: Some(status),
        extra_fields: request.extra_fields.clone(),
    }
}

/// Three-way merge of labels: for each key the agent reported last time (`base`) or reports
/// now (`agent`), the agent's value wins when the stored value (`live`) is still the one it
/// reported last time; otherwise the operator's change is kept.
pub fn merge_agent_labels(
    base: &BTreeMap<String, String>,
    live: &BTreeMap<String, String>,
    agent: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut merged = live.clone();
    let keys: BTreeSet<&String> = base.keys().chain(agent.keys()).collect();
    for key in keys {
        if live.get(key) != base.get(key) {
            continue;
        }
        match agent.get(key) {
            Some(value) => merged.insert(key.clone(), value.clone()),
            None => merged.remove(key),
        };
    }
    merged
}

/// `stored` after its agent registered again with `request`: agent-owned fields replaced,
/// agent labels merged three-way, operator-owned fields kept, marked Ready. Equal to `stored`
/// when nothing changed (so no write and no event).
pub fn reregister(stored: &Node, request: &Node, now: Timestamp) -> Node {
    let mut node = stored.clone();
    let given = request.metadata.clone().unwrap_or_default();
    let meta = node.metadata.get_or_insert_with(ObjectMeta::default);
    let base = last_agent_labels(meta);
    meta.labels = merge_agent_labels(&base, &meta.labels, &given.labels);
    for (key, value) in given.annotations {
        if key != AGENT_LABELS_ANNOTATION {
            meta.annotations.insert(key, value);
        }
    }
    if base != given.labels || !meta.annotations.contains_key(AGENT_LABELS_ANNOTATION) {
        meta.annotations.insert(
            AGENT_LABELS_ANNOTATION.to_owned(),
            agent_labels_annotation(&given.labels),
        );
    }
    let given_spec = request.spec.clone().unwrap_or_default();
    let spec = node.spec.get_or_insert_with(NodeSpec::default);
    spec.pod_cidr = given_spec.pod_cidr;
    spec.provider_id = given_spec.provider_id;

    let previous = node.status.clone().unwrap_or_default();
    let mut status = agent_status(&request.status.clone().unwrap_or_default());
    if let Some(ready) = previous.conditions.iter().find(|c| c.type_ == READY) {
        status.conditions.insert(0, ready.clone());
    }
    node.status = Some(status);
    mark_ready(&node, now)
}

/// `stored` with `Ready=True` and without the `unreachable` taints. Unchanged (equal) when it
/// is already so.
pub fn mark_ready(stored: &Node, now: Timestamp) -> Node {
    let mut node = stored.clone();
    if let Some(spec) = node.spec.as_mut() {
        spec.taints.retain(|t| t.key != TAINT_NODE_UNREACHABLE);
    }
    let status = node.status.get_or_insert_with(NodeStatus::default);
    match status.conditions.iter_mut().find(|c| c.type_ == READY) {
        Some(ready) if ready.status == STATUS_TRUE => {}
        Some(ready) => *ready = ready_true(now),
        None => status.conditions.insert(0, ready_true(now)),
    }
    node
}

/// `stored` after its lease expired: `Ready=Unknown` (reason `NodeStatusUnknown`, last
/// heartbeat `last_heartbeat` when known) and the `node.kubernetes.io/unreachable` taints Kubernetes uses
/// (`NoSchedule`, and `NoExecute` with `timeAdded`). Unchanged (equal) when it is already so.
pub fn mark_unreachable(stored: &Node, last_heartbeat: Option<Timestamp>, now: Timestamp) -> Node {
    let mut node = stored.clone();
    let status = node.status.get_or_insert_with(NodeStatus::default);
    let unknown = |previous: Option<&NodeCondition>| NodeCondition {
        type_: READY.to_owned(),
        status: STATUS_UNKNOWN.to_owned(),
        last_heartbeat_time: previous
            .and_then(|c| c.last_heartbeat_time)
            .max(last_heartbeat),
        last_transition_time: Some(now),
        reason: REASON_NODE_STATUS_UNKNOWN.to_owned(),
        message: MESSAGE_NODE_STATUS_UNKNOWN.to_owned(),
    };
    match status.conditions.iter_mut().find(|c| c.type_ == READY) {
        Some(ready) if ready.status == STATUS_UNKNOWN => {}
        Some(ready) => *ready = unknown(Some(ready)),
        None => status.conditions.insert(0, unknown(None)),
    }
    let spec = node.spec.get_or_insert_with(NodeSpec::default);
    for effect in [EFFECT_NO_SCHEDULE, EFFECT_NO_EXECUTE] {
        let present = spec
            .taints
            .iter()
            .any(|t| t.key == TAINT_NODE_UNREACHABLE && t.effect == effect);
        if !present {
            spec.taints.push(Taint {
                key: TAINT_NODE_UNREACHABLE.to_owned(),
                value: String::new(),
                effect: effect.to_owned(),
                time_added: (effect == EFFECT_NO_EXECUTE).then_some(now),
            });
        }
    }
    node
}

/// `stored` after an operator's edit (`kubectl label` / `taint` / `cordon` semantics): label
/// removals and taint removals of absent entries are ignored; replacing an existing label value
/// or taint (same key and effect, another value) needs `overwrite`, else every such conflict is
/// returned. Setting what is already there is not a change.
pub fn apply_edit(
    stored: &Node,
    edit: &Edit,
    now: Timestamp,
) -> Result<Node, Vec<OverwriteConflict>> {
    let mut node = stored.clone();
    let mut conflicts = Vec::new();
    let meta = node.metadata.get_or_insert_with(ObjectMeta::default);
    for (key, value) in &edit.set_labels {
        match meta.labels.get(key) {
            Some(current) if current != value && !edit.overwrite => {
                conflicts.push(OverwriteConflict {
                    field: format!("set_labels[{key}]"),
                    message: format!(
                        "'{key}' already has a value ({current}), and --overwrite is false"
                    ),
                });
            }
            _ => {
                meta.labels.insert(key.clone(), value.clone());
            }
        }
    }
    for key in &edit.remove_labels {
        meta.labels.remove(key);
    }
    let name = meta.name.clone();

    let spec = node.spec.get_or_insert_with(NodeSpec::default);
    spec.taints
        .retain(|t| !edit.remove_taints.iter().any(|r| r.matches(t)));
    for (i, wanted) in edit.add_taints.iter().enumerate() {
        let mut taint = wanted.clone();
        taint.time_added = (taint.effect == EFFECT_NO_EXECUTE).then_some(now);
        match spec
            .taints
            .iter_mut()
            .find(|t| t.key == taint.key && t.effect == taint.effect)
        {
            Some(existing) if existing.value == taint.value => {}
            Some(_) if !edit.overwrite => conflicts.push(OverwriteConflict {
                field: format!("add_taints[{i}]"),
                message: format!(
                    "node {} already has {} taint(s) with same effect(s) and --overwrite is false",
                    go_quote(&name),
                    taint.key
                ),
            }),
            Some(existing) => *existing = taint,
            None => spec.taints.push(taint),
        }
    }
    if let Some(unschedulable) = edit.unschedulable {
        spec.unschedulable = unschedulable;
    }
    if conflicts.is_empty() {
        Ok(node)
    } else {
        Err(conflicts)
    }
}

#[cfg(test)]
mod tests {
    use everynode_core::model::{NodeAddress, NodeSystemInfo};

    use super::*;
    use crate::validation::TaintKey;

    const T0: Timestamp = Timestamp::from_seconds(1_700_000_000);
    const T1: Timestamp = Timestamp::from_seconds(1_700_000_100);
    const T2: Timestamp = Timestamp::from_seconds(1_700_000_200);

    /// A registration request builder.
    struct Agent(Node);

    fn agent(name: &str) -> Agent {
        Agent(Node {
            metadata: Some(ObjectMeta {
                name: name.into(),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                capacity: [("cpu".to_string(), "4".to_string())].into(),
                addresses: vec![NodeAddress {
                    type_: "InternalIP".into(),
                    address: "10.0.0.1".into(),
                }],
                node_info: Some(NodeSystemInfo {
                    boot_id: "boot-1".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    impl Agent {
        fn label(mut self, key: &str, value: &str) -> Self {
            let meta = self.0.metadata.get_or_insert_with(Default::default);
            meta.labels.insert(key.into(), value.into());
            self
        }

        fn taint(mut self, key: &str, effect: &str) -> Self {
            let spec = self.0.spec.get_or_insert_with(Default::default);
            spec.taints.push(taint(key, "", effect));
            self
        }

        fn address(mut self, address: &str) -> Self {
            let status = self.0.status.get_or_insert_with(Default::default);
            status.addresses[0].address = address.into();
            self
        }

        fn node(&self) -> &Node {
            &self.0
        }
    }

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: value.into(),
            effect: effect.into(),
            time_added: None,
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn registered(a: &Agent) -> Node {
        new_node(a.node(), "uid-1".into(), T0)
    }

    fn kinds(changes: &[Change]) -> Vec<&'static str> {
        changes
            .iter()
            .map(|c| match c {
                Change::Ready => "READY",
                Change::NotReady => "NOT_READY",
                Change::Relabeled { .. } => "RELABELED",
                Change::Tainted { .. } => "TAINTED",
                Change::Cordoned => "CORDONED",
                Change::Uncordoned => "UNCORDONED",
            })
            .collect()
    }

    fn label_edit(set: &[(&str, &str)], remove: &[&str], overwrite: bool) -> Edit {
        Edit {
            set_labels: map(set),
            remove_labels: remove.iter().map(|s| s.to_string()).collect(),
            overwrite,
            ..Default::default()
        }
    }

    #[test]
    fn a_first_registration_is_ready_and_records_the_agent_labels() {
        let node = registered(
            &agent("n1")
                .label("kubernetes.io/os", "linux")
                .taint("gpu", "NoExecute"),
        );
        assert!(is_ready(&node));
        let meta = node.metadata.as_ref().unwrap();
        assert_eq!(meta.uid, "uid-1");
        assert_eq!(meta.creation_timestamp, Some(T0));
        assert_eq!(
            meta.annotations[AGENT_LABELS_ANNOTATION],
            r#"{"kubernetes.io/os":"linux"}"#
        );
        assert_eq!(
            taints(&node)[0].time_added,
            Some(T0),
            "NoExecute taints get timeAdded"
        );
        let status = node.status.as_ref().unwrap();
        assert_eq!(
            status.allocatable, status.capacity,
            "allocatable defaults to capacity"
        );
        assert_eq!(
            (node.api_version.as_str(), node.kind.as_str()),
            ("v1", "Node")
        );
    }

    #[test]
    fn re_registering_unchanged_changes_nothing() {
        let a = agent("n1").label("kubernetes.io/os", "linux");
        let stored = registered(&a);
        let again = reregister(&stored, a.node(), T1);
        assert_eq!(again, stored);
        assert_eq!(changes(&stored, &again), vec![]);
    }

    #[test]
    fn re_registering_keeps_operator_labels_taints_and_cordon() {
        let a = agent("n1")
            .label("kubernetes.io/os", "linux")
            .label("tier", "a");
        let stored = registered(&a);
        let edit = Edit {
            set_labels: map(&[("team", "infra"), ("tier", "b")]),
            overwrite: true,
            add_taints: vec![taint("dedicated", "infra", "NoSchedule")],
            unschedulable: Some(true),
            ..Default::default()
        };
        let edited = apply_edit(&stored, &edit, T1).unwrap();
        let again = reregister(&edited, a.node(), T2);
        assert_eq!(
            again, edited,
            "operator changes survive a restart unchanged"
        );
    }

    #[test]
    fn re_registering_applies_what_the_agent_changed_and_only_that() {
        let before = agent("n1")
            .label("kubernetes.io/os", "linux")
            .label("gone", "x")
            .label("tier", "a");
        let stored = registered(&before);
        let operator = apply_edit(&stored, &label_edit(&[("tier", "b")], &[], true), T1).unwrap();
        let after = agent("n1")
            .label("kubernetes.io/os", "linux")
            .label("tier", "c")
            .label("new", "y")
            .address("10.0.0.2");
        let again = reregister(&operator, after.node(), T2);
        assert_eq!(
            labels(&again),
            map(&[("kubernetes.io/os", "linux"), ("new", "y"), ("tier", "b")]),
            "dropped agent label removed, new one added, operator's overwrite kept"
        );
        assert_eq!(
            again.status.as_ref().unwrap().addresses[0].address,
            "10.0.0.2"
        );
        assert_eq!(kinds(&changes(&operator, &again)), ["RELABELED"]);
    }

    #[test]
    fn agent_taints_apply_only_to_a_new_node() {
        let stored = registered(&agent("n1"));
        let again = reregister(&stored, agent("n1").taint("gpu", "NoSchedule").node(), T1);
        assert_eq!(taints(&again), &[] as &[Taint]);
    }

    #[test]
    fn an_address_change_is_written_but_publishes_nothing() {
        let stored = registered(&agent("n1"));
        let again = reregister(&stored, agent("n1").address("10.9.9.9").node(), T1);
        assert_ne!(again, stored);
        assert_eq!(changes(&stored, &again), vec![]);
    }

    #[test]
    fn an_unreachable_node_re_registering_is_ready_again_without_the_unreachable_taints() {
        let a = agent("n1");
        let stored = apply_edit(
            &registered(&a),
            &Edit {
                add_taints: vec![taint("dedicated", "", "NoSchedule")],
                ..Default::default()
            },
            T0,
        )
        .unwrap();
        let lost = mark_unreachable(&stored, Some(T0), T1);
        let back = reregister(&lost, a.node(), T2);
        assert!(is_ready(&back));
        assert_eq!(taints(&back), taints(&stored));
        assert_eq!(kinds(&changes(&lost, &back)), ["READY", "TAINTED"]);
    }

    #[test]
    fn an_expired_lease_makes_the_node_unknown_and_unreachable_once() {
        let stored = registered(&agent("n1"));
        let lost = mark_unreachable(&stored, Some(T0), T1);
        let ready = ready_condition(&lost).unwrap();
        assert_eq!(
            (
                ready.status.as_str(),
                ready.reason.as_str(),
                ready.message.as_str()
            ),
            (
                "Unknown",
                "NodeStatusUnknown",
                "Kubelet stopped posting node status."
            )
        );
        assert_eq!(ready.last_transition_time, Some(T1));
        assert_eq!(ready.last_heartbeat_time, Some(T0));
        assert_eq!(
            taints(&lost),
            &[
                taint(TAINT_NODE_UNREACHABLE, "", "NoSchedule"),
                Taint {
                    time_added: Some(T1),
                    ..taint(TAINT_NODE_UNREACHABLE, "", "NoExecute")
                },
            ]
        );
        assert_eq!(kinds(&changes(&stored, &lost)), ["NOT_READY", "TAINTED"]);
        assert_eq!(mark_unreachable(&lost, Some(T1), T2), lost, "idempotent");
    }

    #[test]
    fn a_heartbeat_after_expiry_makes_the_node_ready_and_removes_only_the_unreachable_taints() {
        let stored = apply_edit(
            &registered(&agent("n1")),
            &Edit {
                add_taints: vec![taint("dedicated", "x", "NoExecute")],
                ..Default::default()
            },
            T0,
        )
        .unwrap();
        let lost = mark_unreachable(&stored, Some(T0), T1);
        let back = mark_ready(&lost, T2);
        assert_eq!(taints(&back), taints(&stored));
        let ready = ready_condition(&back).unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.last_transition_time),
            ("True", Some(T2))
        );
        assert_eq!(kinds(&changes(&lost, &back)), ["READY", "TAINTED"]);
        assert_eq!(mark_ready(&back, T2), back, "idempotent");
    }

    #[test]
    fn setting_a_different_label_value_needs_overwrite() {
        let stored = registered(&agent("n1").label("zone", "a"));
        let err = apply_edit(&stored, &label_edit(&[("zone", "b")], &[], false), T1).unwrap_err();
        assert_eq!(
            err,
            vec![OverwriteConflict {
                field: "set_labels[zone]".into(),
                message: "'zone' already has a value (a), and --overwrite is false".into(),
            }]
        );
        let same = apply_edit(&stored, &label_edit(&[("zone", "a")], &[], false), T1).unwrap();
        assert_eq!(same, stored, "setting the same value is no change");
        let over = apply_edit(
            &stored,
            &label_edit(&[("zone", "b")], &["absent"], true),
            T1,
        )
        .unwrap();
        assert_eq!(labels(&over)["zone"], "b");
        assert_eq!(kinds(&changes(&stored, &over)), ["RELABELED"]);
    }

    #[test]
    fn taints_are_added_replaced_with_overwrite_and_removed_by_key_or_key_and_effect() {
        let stored = registered(&agent("n1"));
        let add = Edit {
            add_taints: vec![taint("k", "v", "NoSchedule"), taint("k", "v", "NoExecute")],
            ..Default::default()
        };
        let tainted = apply_edit(&stored, &add, T1).unwrap();
        assert_eq!(taints(&tainted).len(), 2);
        assert_eq!(taints(&tainted)[0].time_added, None);
        assert_eq!(taints(&tainted)[1].time_added, Some(T1));

        let replace = Edit {
            add_taints: vec![taint("k", "w", "NoSchedule")],
            ..Default::default()
        };
        let err = apply_edit(&tainted, &replace, T2).unwrap_err();
        assert_eq!(err[0].field, "add_taints[0]");
        assert_eq!(
            err[0].message,
            "node \"n1\" already has k taint(s) with same effect(s) and --overwrite is false"
        );
        let replaced = apply_edit(
            &tainted,
            &Edit {
                overwrite: true,
                ..replace
            },
            T2,
        )
        .unwrap();
        assert_eq!(taints(&replaced)[0].value, "w");

        let remove_one = Edit {
            remove_taints: vec![TaintKey {
                key: "k".into(),
                effect: Some("NoExecute".into()),
            }],
            ..Default::default()
        };
        assert_eq!(
            taints(&apply_edit(&tainted, &remove_one, T2).unwrap()).len(),
            1
        );
        let remove_all = Edit {
            remove_taints: vec![TaintKey {
                key: "k".into(),
                effect: None,
            }],
            ..Default::default()
        };
        let untainted = apply_edit(&tainted, &remove_all, T2).unwrap();
        assert_eq!(taints(&untainted), &[] as &[Taint]);
        assert_eq!(kinds(&changes(&tainted, &untainted)), ["TAINTED"]);
    }

    #[test]
    fn one_edit_publishes_one_event_per_kind_of_change() {
        let stored = registered(&agent("n1"));
        let edit = Edit {
            set_labels: map(&[("zone", "a")]),
            add_taints: vec![taint("k", "", "NoSchedule")],
            unschedulable: Some(true),
            ..Default::default()
        };
        let edited = apply_edit(&stored, &edit, T1).unwrap();
        assert_eq!(
            kinds(&changes(&stored, &edited)),
            ["RELABELED", "TAINTED", "CORDONED"]
        );
        let uncordon = Edit {
            unschedulable: Some(false),
            ..Default::default()
        };
        let back = apply_edit(&edited, &uncordon, T2).unwrap();
        assert_eq!(kinds(&changes(&edited, &back)), ["UNCORDONED"]);
        assert_eq!(apply_edit(&back, &uncordon, T2).unwrap(), back);
    }

    #[test]
    fn the_three_way_merge_covers_every_case() {
        let base = map(&[
            ("same", "1"),
            ("agent-changes", "1"),
            ("agent-drops", "1"),
            ("op-changed", "1"),
            ("op-removed", "1"),
        ]);
        let live = map(&[
            ("same", "1"),
            ("agent-changes", "1"),
            ("agent-drops", "1"),
            ("op-changed", "2"),
            ("op-added", "x"),
        ]);
        let agent = map(&[
            ("same", "1"),
            ("agent-changes", "2"),
            ("op-changed", "3"),
            ("op-removed", "1"),
            ("agent-adds", "1"),
        ]);
        assert_eq!(
            merge_agent_labels(&base, &live, &agent),
            map(&[
                ("same", "1"),
                ("agent-changes", "2"),
                ("op-changed", "2"),
                ("op-added", "x"),
                ("agent-adds", "1")
            ])
        );
    }
}
