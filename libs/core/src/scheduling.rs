//! Which nodes run a DaemonSet's pod, and the pod spec the controller places on a node.
//!
//! This module owns Kubernetes' placement rules for daemon pods (`NodeShouldRunDaemonPod` of
//! `pkg/controller/daemon`, current era):
//! - the template's `nodeName`, `nodeSelector` and required node affinity (the
//!   `spec.affinity` field and the 1.3-era `scheduler.alpha.kubernetes.io/affinity` annotation);
//! - taints against tolerations, including the tolerations every daemon pod gets automatically;
//! - [`daemon_pod_spec`]: the pod spec of a daemon pod for one node.
//!
//! Invariants:
//! - a node is eligible ([`ShouldRun::should_run`]) only if every placement constraint holds;
//!   `should_continue_running` is never false while `should_run` is true;
//! - node conditions, `spec.unschedulable`, resources and host ports are never considered
//!   (daemon pods run on cordoned and not-ready nodes, as in Kubernetes);
//! - anything that cannot be parsed (an affinity term with a bad operator or value, an
//!   unreadable affinity annotation) never makes a node eligible.

use std::collections::BTreeMap;

use crate::labels::{Operator, Requirement};
use crate::model::{
    DaemonSet, Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec,
    PodTemplateSpec, Taint, Toleration,
};

/// The 1.3-era template annotation holding an `Affinity` as JSON.
pub const AFFINITY_ANNOTATION: &str = "scheduler.alpha.kubernetes.io/affinity";

/// The only field a `matchFields` requirement can name: the node's name.
pub const NODE_NAME_FIELD: &str = "metadata.name";

/// Taint effect: new pods are not placed unless tolerated; running pods stay.
pub const EFFECT_NO_SCHEDULE: &str = "NoSchedule";
/// Taint effect: a soft preference; ignored for daemon pods.
pub const EFFECT_PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";
/// Taint effect: pods that do not tolerate it are not placed and are removed.
pub const EFFECT_NO_EXECUTE: &str = "NoExecute";

/// Taint of a node whose `Ready` condition is `False`.
pub const TAINT_NODE_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint of a node whose `Ready` condition is `Unknown`.
pub const TAINT_NODE_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Taint of a node under disk pressure.
pub const TAINT_NODE_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
/// Taint of a node under memory pressure.
pub const TAINT_NODE_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
/// Taint of a node under PID pressure.
pub const TAINT_NODE_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
/// Taint of a cordoned node.
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// Taint of a node whose network is not configured yet.
pub const TAINT_NODE_NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

/// Whether a DaemonSet's pod belongs on a node (Kubernetes: the two booleans of
/// `NodeShouldRunDaemonPod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShouldRun {
    /// A daemon pod should be created on the node if it has none.
    pub should_run: bool,
    /// A daemon pod already on the node may keep running.
    pub should_continue_running: bool,
}

impl ShouldRun {
    /// Eligible: create a pod if missing, keep a running one.
    pub const RUN: ShouldRun = ShouldRun {
        should_run: true,
        should_continue_running: true,
    };
    /// Not eligible for a new pod, but a running one stays (an untolerated `NoSchedule` taint).
    pub const KEEP: ShouldRun = ShouldRun {
        should_run: false,
        should_continue_running: true,
    };
    /// Not eligible at all: existing pods are deleted.
    pub const EVICT: ShouldRun = ShouldRun {
        should_run: false,
        should_continue_running: false,
    };
}

/// Decides whether `ds` runs a pod on `node` (Kubernetes: `NodeShouldRunDaemonPod`), from the
/// pod the template would produce on that node:
/// 1. a template `nodeName` naming another node → [`ShouldRun::EVICT`];
/// 2. `nodeSelector`, required node affinity or the affinity annotation not matching →
///    [`ShouldRun::EVICT`] (see [`fits_node_affinity`]);
/// 3. an untolerated `NoExecute` taint → [`ShouldRun::EVICT`]; otherwise an untolerated
///    `NoSchedule` taint → [`ShouldRun::KEEP`]; otherwise [`ShouldRun::RUN`]. The template's
///    tolerations count together with [`daemon_tolerations`]; `PreferNoSchedule` is ignored.
///
/// A DaemonSet without a template is treated as an empty template (admission rejects it).
pub fn node_should_run(node: &Node, ds: &DaemonSet) -> ShouldRun {
    let template = ds.spec.as_ref().and_then(|s| s.template.as_ref());
    match template {
        Some(template) => template_should_run(node, template),
        None => template_should_run(node, &PodTemplateSpec::default()),
    }
}

/// [`node_should_run`] for a bare template.
pub fn template_should_run(node: &Node, template: &PodTemplateSpec) -> ShouldRun {
    NodeFilter::new(template).should_run(node)
}

/// A template's placement constraints, parsed once and then checked against many nodes:
/// [`NodeFilter::should_run`] answers exactly as [`template_should_run`] does, without
/// re-reading the template (tolerations, affinity terms, the affinity annotation's JSON) for
/// every node.
#[derive(Debug, Clone)]
pub struct NodeFilter<'a> {
    node_name: &'a str,
    node_selector: Option<&'a BTreeMap<String, String>>,
    /// The `spec.affinity` required node selector, if any.
    required: Option<CompiledSelector<'a>>,
    /// The annotation's required node selector: `Err(())` when the annotation is unreadable
    /// (no node matches).
    annotation: Result<Option<CompiledSelector<'static>>, ()>,
    tolerations: Vec<Toleration>,
}

impl<'a> NodeFilter<'a> {
    /// Parses `template`'s placement constraints.
    pub fn new(template: &'a PodTemplateSpec) -> NodeFilter<'a> {
        let spec = template.spec.as_ref();
        let required = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| {
                na.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(CompiledSelector::borrowed);
        let annotation = match template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.get(AFFINITY_ANNOTATION))
        {
            None => Ok(None),
            Some(raw) => annotation_required_node_selector(raw)
                .map(|sel| sel.map(|sel| CompiledSelector::owned(&sel))),
        };
        let tolerations = match spec {
            Some(spec) => tolerations_with_daemon_defaults(spec),
            None => tolerations_with_daemon_defaults(&PodSpec::default()),
        };
        NodeFilter {
            node_name: spec.map_or("", |s| s.node_name.as_str()),
            node_selector: spec.map(|s| &s.node_selector),
            required,
            annotation,
            tolerations,
        }
    }

    /// [`template_should_run`] of the parsed template on `node`.
    pub fn should_run(&self, node: &Node) -> ShouldRun {
        if !self.node_name.is_empty() && self.node_name != node.name() {
            return ShouldRun::EVICT;
        }
        if !self.fits_node_affinity(node) {
            return ShouldRun::EVICT;
        }
        let taints = node.spec.as_ref().map_or(&[][..], |s| s.taints.as_slice());
        if taints.is_empty() {
            return ShouldRun::RUN;
        }
        let tolerations = self.tolerations.as_slice();
        let blocking = |t: &Taint| t.effect == EFFECT_NO_SCHEDULE || t.effect == EFFECT_NO_EXECUTE;
        if find_untolerated_taint(taints, tolerations, blocking).is_none() {
            return ShouldRun::RUN;
        }
        if find_untolerated_taint(taints, tolerations, |t| t.effect == EFFECT_NO_EXECUTE).is_some()
        {
            ShouldRun::EVICT
        } else {
            ShouldRun::KEEP
        }
    }

    /// [`fits_node_affinity`] of the parsed template on `node`.
    fn fits_node_affinity(&self, node: &Node) -> bool {
        let labels = node_labels(node);
        if let Some(selector) = self.node_selector
            && !selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        {
            return false;
        }
        if let Some(required) = &self.required
            && !required.matches(labels, node.name())
        {
            return false;
        }
        match &self.annotation {
            Ok(Some(required)) => required.matches(labels, node.name()),
            Ok(None) => true,
            Err(()) => false,
        }
    }
}

/// A required node selector with its requirements parsed: one entry per term, `None` for a
/// term that matches nothing (no requirements, or one that does not parse).
#[derive(Debug, Clone)]
struct CompiledSelector<'a> {
    terms: Vec<Option<CompiledTerm<'a>>>,
}

#[derive(Debug, Clone)]
struct CompiledTerm<'a> {
    labels: Vec<Requirement>,
    fields: Vec<OwnedFieldRequirement<'a>>,
}

/// A `matchFields` requirement whose strings are borrowed from the template or owned (parsed
/// from the annotation).
#[derive(Debug, Clone)]
struct OwnedFieldRequirement<'a> {
    key: std::borrow::Cow<'a, str>,
    equal: bool,
    value: std::borrow::Cow<'a, str>,
}

impl OwnedFieldRequirement<'_> {
    fn matches(&self, node_name: &str) -> bool {
        FieldRequirement {
            key: &self.key,
            equal: self.equal,
            value: &self.value,
        }
        .matches(node_name)
    }
}

impl<'a> CompiledSelector<'a> {
    fn borrowed(selector: &'a NodeSelector) -> CompiledSelector<'a> {
        CompiledSelector {
            terms: selector
                .node_selector_terms
                .iter()
                .map(|term| {
                    compile_term(term, |f| OwnedFieldRequirement {
                        key: std::borrow::Cow::Borrowed(f.key),
                        equal: f.equal,
                        value: std::borrow::Cow::Borrowed(f.value),
                    })
                })
                .collect(),
        }
    }

    fn owned(selector: &NodeSelector) -> CompiledSelector<'static> {
        CompiledSelector {
            terms: selector
                .node_selector_terms
                .iter()
                .map(|term| {
                    compile_term(term, |f| OwnedFieldRequirement {
                        key: std::borrow::Cow::Owned(f.key.to_string()),
                        equal: f.equal,
                        value: std::borrow::Cow::Owned(f.value.to_string()),
                    })
                })
                .collect(),
        }
    }

    /// Same answer as [`node_selector_matches`].
    fn matches(&self, labels: &BTreeMap<String, String>, name: &str) -> bool {
        self.terms.iter().flatten().any(|term| {
            term.labels.iter().all(|r| r.matches(labels))
                && (name.is_empty() || term.fields.iter().all(|f| f.matches(name)))
        })
    }
}

/// A term's requirements, parsed as [`term_matches`] parses them; `None` when the term can
/// match nothing.
fn compile_term<'t, 'a>(
    term: &'t NodeSelectorTerm,
    field: impl Fn(FieldRequirement<'t>) -> OwnedFieldRequirement<'a>,
) -> Option<CompiledTerm<'a>> {
    if term.match_expressions.is_empty() && term.match_fields.is_empty() {
        return None;
    }
    let labels = term
        .match_expressions
        .iter()
        .map(label_requirement)
        .collect::<Option<Vec<_>>>()?;
    let fields = term
        .match_fields
        .iter()
        .map(|e| field_requirement(e).map(&field))
        .collect::<Option<Vec<_>>>()?;
    Some(CompiledTerm { labels, fields })
}

/// True when `node` satisfies the template's node constraints (Kubernetes:
/// `nodeaffinity.GetRequiredNodeAffinity(pod).Match(node)`, plus the 1.3 annotation):
/// - every `nodeSelector` entry is a node label with that value;
/// - `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`, if present,
///   matches (see [`node_selector_matches`]);
/// - the annotation [`AFFINITY_ANNOTATION`], if present, holds the same `Affinity` JSON and its
///   required node selector matches too. **When both the field and the annotation are given,
///   both must match**: each was a hard requirement in its era, so honouring only one of them
///   could place a pod where the other forbids it. An annotation that is not valid `Affinity`
///   JSON matches no node (admission rejects such manifests; old data must not place pods).
///
/// Preferred affinity is ignored, as in Kubernetes.
pub fn fits_node_affinity(node: &Node, template: &PodTemplateSpec) -> bool {
    let labels = node_labels(node);
    if let Some(spec) = &template.spec {
        if !spec
            .node_selector
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
        {
            return false;
        }
        let required = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| {
                na.required_during_scheduling_ignored_during_execution
                    .as_ref()
            });
        if let Some(required) = required
            && !node_selector_matches(required, node)
        {
            return false;
        }
    }
    let annotation = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.get(AFFINITY_ANNOTATION));
    if let Some(raw) = annotation {
        match annotation_required_node_selector(raw) {
            Ok(Some(required)) => {
                if !node_selector_matches(&required, node) {
                    return false;
                }
            }
            Ok(None) => {}
            Err(()) => return false,
        }
    }
    true
}

/// True when a required node selector matches `node` (Kubernetes:
/// `nodeaffinity.LazyErrorNodeSelector.Match`): the terms are ORed; a term with neither
/// `matchExpressions` nor `matchFields` matches nothing, so zero terms match nothing; a term
/// with an invalid requirement (unknown operator, wrong number of values, a `Gt`/`Lt` value that
/// is not an integer, an invalid key or value) is skipped.
pub fn node_selector_matches(selector: &NodeSelector, node: &Node) -> bool {
    let labels = node_labels(node);
    selector
        .node_selector_terms
        .iter()
        .any(|term| term_matches(term, labels, node.name()))
}

fn term_matches(term: &NodeSelectorTerm, labels: &BTreeMap<String, String>, name: &str) -> bool {
    if term.match_expressions.is_empty() && term.match_fields.is_empty() {
        return false;
    }
    let mut label_requirements = Vec::with_capacity(term.match_expressions.len());
    for expr in &term.match_expressions {
        match label_requirement(expr) {
            Some(r) => label_requirements.push(r),
            None => return false,
        }
    }
    let mut field_requirements = Vec::with_capacity(term.match_fields.len());
    for expr in &term.match_fields {
        match field_requirement(expr) {
            Some(r) => field_requirements.push(r),
            None => return false,
        }
    }
    if !label_requirements.iter().all(|r| r.matches(labels)) {
        return false;
    }
    // Kubernetes only checks fields when the node has any (a node without a name has none).
    name.is_empty() || field_requirements.iter().all(|f| f.matches(name))
}

/// A `matchExpressions` entry as a label requirement; `None` when it does not parse.
fn label_requirement(expr: &NodeSelectorRequirement) -> Option<Requirement> {
    let operator = match expr.operator.as_str() {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        "Gt" => Operator::GreaterThan,
        "Lt" => Operator::LessThan,
        _ => return None,
    };
    Requirement::new(&expr.key, operator, expr.values.clone()).ok()
}

/// One parsed `matchFields` entry: `key` (`=` or `!=`) `value`.
struct FieldRequirement<'a> {
    key: &'a str,
    equal: bool,
    value: &'a str,
}

impl FieldRequirement<'_> {
    /// Kubernetes' field sets only know `metadata.name`; any other key reads as `""`.
    fn matches(&self, node_name: &str) -> bool {
        let actual = if self.key == NODE_NAME_FIELD {
            node_name
        } else {
            ""
        };
        (actual == self.value) == self.equal
    }
}

/// A `matchFields` entry; `None` unless the operator is `In`/`NotIn` with exactly one value.
fn field_requirement(expr: &NodeSelectorRequirement) -> Option<FieldRequirement<'_>> {
    let equal = match expr.operator.as_str() {
        "In" => true,
        "NotIn" => false,
        _ => return None,
    };
    match expr.values.as_slice() {
        [value] => Some(FieldRequirement {
            key: &expr.key,
            equal,
            value,
        }),
        _ => None,
    }
}

fn node_labels(node: &Node) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    node.metadata.as_ref().map_or(&EMPTY, |m| &m.labels)
}

/// Reads the required node selector out of the 1.3 affinity annotation's JSON:
/// `Ok(None)` when it has no `nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`,
/// `Err(())` when it is not JSON of that shape.
fn annotation_required_node_selector(raw: &str) -> Result<Option<NodeSelector>, ()> {
    use serde_json::Value;

    let value: Value = serde_json::from_str(raw).map_err(|_| ())?;
    let affinity = value.as_object().ok_or(())?;
    let Some(node_affinity) = non_null(affinity.get("nodeAffinity")) else {
        return Ok(None);
    };
    let node_affinity = node_affinity.as_object().ok_or(())?;
    let Some(required) =
        non_null(node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution"))
    else {
        return Ok(None);
    };
    let required = required.as_object().ok_or(())?;
    let mut selector = NodeSelector::default();
    for term in json_array(required.get("nodeSelectorTerms"))? {
        let term = term.as_object().ok_or(())?;
        let mut parsed = NodeSelectorTerm::default();
        for expr in json_array(term.get("matchExpressions"))? {
            parsed.match_expressions.push(json_requirement(expr)?);
        }
        for expr in json_array(term.get("matchFields"))? {
            parsed.match_fields.push(json_requirement(expr)?);
        }
        selector.node_selector_terms.push(parsed);
    }
    Ok(Some(selector))
}

fn non_null(value: Option<&serde_json::Value>) -> Option<&serde_json::Value> {
    value.filter(|v| !v.is_null())
}

fn json_array(value: Option<&serde_json::Value>) -> Result<&[serde_json::Value], ()> {
    match non_null(value) {
        None => Ok(&[]),
        Some(v) => v.as_array().map(Vec::as_slice).ok_or(()),
    }
}

fn json_string(value: Option<&serde_json::Value>) -> Result<String, ()> {
    match non_null(value) {
        None => Ok(String::new()),
        Some(v) => v.as_str().map(str::to_string).ok_or(()),
    }
}

fn json_requirement(value: &serde_json::Value) -> Result<NodeSelectorRequirement, ()> {
    let obj = value.as_object().ok_or(())?;
    let values = json_array(obj.get("values"))?
        .iter()
        .map(|v| v.as_str().map(str::to_string).ok_or(()))
        .collect::<Result<Vec<_>, ()>>()?;
    Ok(NodeSelectorRequirement {
        key: json_string(obj.get("key"))?,
        operator: json_string(obj.get("operator"))?,
        values,
        extra_fields: Default::default(),
    })
}

// ---------------------------------------------------------------------------------------------
// Taints and tolerations
// ---------------------------------------------------------------------------------------------

/// True when `toleration` tolerates `taint` (Kubernetes: `Toleration.ToleratesTaint`): an empty
/// effect matches every effect, an empty key every key; `Exists` matches any value, `Equal` or
/// an empty operator needs the same value; any other operator tolerates nothing.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if !toleration.effect.is_empty() && toleration.effect != taint.effect {
        return false;
    }
    if !toleration.key.is_empty() && toleration.key != taint.key {
        return false;
    }
    match toleration.operator.as_str() {
        "" | "Equal" => toleration.value == taint.value,
        "Exists" => true,
        _ => false,
    }
}

/// The first taint accepted by `filter` that no toleration tolerates (Kubernetes:
/// `FindMatchingUntoleratedTaint`).
pub fn find_untolerated_taint<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
    filter: impl Fn(&Taint) -> bool,
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| filter(t))
        .find(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
}

/// The tolerations Kubernetes adds to every daemon pod (`AddOrUpdateDaemonPodTolerations`), all
/// with operator `Exists` and no `tolerationSeconds`: `not-ready` and `unreachable` with
/// `NoExecute`; `disk-pressure`, `memory-pressure`, `pid-pressure` and `unschedulable` with
/// `NoSchedule`; and `network-unavailable` with `NoSchedule` only for `hostNetwork` pods.
pub fn daemon_tolerations(spec: &PodSpec) -> Vec<Toleration> {
    let exists = |key: &str, effect: &str| Toleration {
        key: key.to_string(),
        operator: "Exists".to_string(),
        effect: effect.to_string(),
        ..Default::default()
    };
    let mut out = vec![
        exists(TAINT_NODE_NOT_READY, EFFECT_NO_EXECUTE),
        exists(TAINT_NODE_UNREACHABLE, EFFECT_NO_EXECUTE),
        exists(TAINT_NODE_DISK_PRESSURE, EFFECT_NO_SCHEDULE),
        exists(TAINT_NODE_MEMORY_PRESSURE, EFFECT_NO_SCHEDULE),
        exists(TAINT_NODE_PID_PRESSURE, EFFECT_NO_SCHEDULE),
        exists(TAINT_NODE_UNSCHEDULABLE, EFFECT_NO_SCHEDULE),
    ];
    if spec.host_network {
        out.push(exists(TAINT_NODE_NETWORK_UNAVAILABLE, EFFECT_NO_SCHEDULE));
    }
    out
}

/// Adds `toleration` to `tolerations`, or replaces the entries with the same key, operator,
/// value and effect (Kubernetes: `AddOrUpdateTolerationInPodSpec`). Nothing changes when an
/// identical toleration is already there.
pub fn add_or_update_toleration(tolerations: &mut Vec<Toleration>, toleration: Toleration) {
    let same_identity = |t: &Toleration| {
        t.key == toleration.key
            && t.operator == toleration.operator
            && t.value == toleration.value
            && t.effect == toleration.effect
    };
    if tolerations
        .iter()
        .any(|t| same_identity(t) && *t == toleration)
    {
        return;
    }
    let mut replaced = false;
    for t in tolerations.iter_mut() {
        if same_identity(t) {
            *t = toleration.clone();
            replaced = true;
        }
    }
    if !replaced {
        tolerations.push(toleration);
    }
}

/// The template's tolerations with [`daemon_tolerations`] added or updated, in Kubernetes' order.
pub fn tolerations_with_daemon_defaults(spec: &PodSpec) -> Vec<Toleration> {
    let mut tolerations = spec.tolerations.clone();
    for t in daemon_tolerations(spec) {
        add_or_update_toleration(&mut tolerations, t);
    }
    tolerations
}

/// The spec of the daemon pod for `node_name`: the template's spec with the daemon tolerations
/// (see [`tolerations_with_daemon_defaults`]) and `nodeName` set to the node. everynode places
/// daemon pods itself, as Kubernetes 1.3 did, so no scheduler is involved and the template's
/// affinity is kept as it is (Kubernetes ≥1.12 instead rewrites it to a `metadata.name`
/// `matchFields` term and leaves `nodeName` to the scheduler).
pub fn daemon_pod_spec(template: &PodTemplateSpec, node_name: &str) -> PodSpec {
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.tolerations = tolerations_with_daemon_defaults(&spec);
    spec.node_name = node_name.to_string();
    spec
}

/// The node a daemon pod is meant for (Kubernetes: `util.GetTargetNodeName`): `spec.nodeName`
/// if set, else the single value of the first `metadata.name` `In` `matchFields` requirement of
/// its required node affinity; `None` when there is neither (or that requirement has several
/// values).
pub fn target_node_name(pod: &Pod) -> Option<&str> {
    let spec = pod.spec.as_ref()?;
    if !spec.node_name.is_empty() {
        return Some(&spec.node_name);
    }
    let required = spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?;
    let expr = required
        .node_selector_terms
        .iter()
        .flat_map(|t| t.match_fields.iter())
        .find(|e| e.key == NODE_NAME_FIELD && e.operator == "In")?;
    match expr.values.as_slice() {
        [value] => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
