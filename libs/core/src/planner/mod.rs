//! The reconcile planner: one pure function, [`plan`], from the observed state of a DaemonSet
//! (its nodes, the pods and ControllerRevisions of its namespace, the clock, the failed-pod
//! back-off and the executor's expectations) to the actions that move it towards the desired
//! state. The controller gathers state, calls [`plan`] and executes the [`Plan`]; nothing here
//! does I/O, reads a clock or draws random numbers, so the same input always gives the same plan.
//!
//! It follows Kubernetes' daemon controller (`syncDaemonSet` of `pkg/controller/daemon`, current
//! era) step by step:
//! 1. a selector `{}` selects every pod: only a `SelectingAll` warning, nothing else;
//!    a DaemonSet being deleted: nothing at all (the garbage collector handles its dependents);
//! 2. claim pods (adopt matching orphans, release owned pods that no longer match, ignore pods
//!    of other controllers) and ControllerRevisions alike;
//! 3. find or create the current revision and its hash (`history`);
//! 4. unless expectations are unsatisfied (then: status only, `observedGeneration` unchanged):
//!    `manage` (create missing pods, delete failed/succeeded/excess/ineligible ones), then the
//!    `RollingUpdate` step on the state right after `manage`, then history cleanup;
//! 5. the status, computed over the observed state.
//!
//! # Invariants
//! - **At most one daemon pod per eligible node**, except while surging (`maxSurge > 0`, at most
//!   one current and one old pod per node): a node gets a new pod only when it has none, and
//!   extra pods are deleted, the oldest kept.
//! - **Never a pod on an ineligible node**: pods are only created on nodes where
//!   [`node_should_run`](crate::scheduling::node_should_run) says `should_run`, and pods on
//!   nodes where a pod may not even continue running are deleted.
//! - **A node whose pod is terminating gets no new pod until it is gone** (without surge).
//! - At most [`BURST_REPLICAS`] creates and [`BURST_REPLICAS`] deletes per plan; the rest is
//!   planned again in the next pass.
//! - Pod names are deterministic (see [`PodToCreate`]), so re-running a plan whose creates
//!   were not observed yet cannot place a second pod on a node.
//! - A DaemonSet whose selector is absent, invalid, or does not select its own template's
//!   labels gets no pod actions (a warning event instead): otherwise each created pod would
//!   be released at once and replaced, forever.
//!
//! # Executing a plan
//! Adopt and release first; if one of them fails, drop the rest of the plan and retry later
//! (Kubernetes aborts the sync then). Then write the revision changes, then creates (in
//! slow-start batches of [`SLOW_START_INITIAL_BATCH`], doubling) and deletes, recording
//! expectations before sending; store the [`BackoffUpdate`]s; write the status if it differs
//! from the stored one; record the events; requeue after [`Plan::requeue_after`].

pub mod backoff;
mod claim;
mod history;
pub mod json;
mod manage;
mod pods;
mod rolling;
mod status;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Duration;

use crate::labels::Selector;
use crate::model::{
    ControllerRevision, DaemonSet, DaemonSetStatus, Node, Pod, PodTemplateSpec, Timestamp,
};
use crate::scheduling::{NodeFilter, ShouldRun};

pub use backoff::{BackoffEntry, BackoffState, backoff_key};
pub use history::{revision_data, template_hash};
pub use json::template_to_json;
pub use pods::controller_ref;
pub use rolling::{InvalidIntOrPercent, RolloutLimits, allows_surge, rollout_limits};

use claim::{Claim, claim};
use pods::{PodInfo, new_daemon_pod, pod_name};

/// Most creates, and most deletes, in one plan (Kubernetes: `BurstReplicas`).
pub const BURST_REPLICAS: usize = 250;
/// Size of the first batch of creates; each successful batch doubles the next (Kubernetes:
/// `SlowStartInitialBatchSize`). Batching is the executor's job.
pub const SLOW_START_INITIAL_BATCH: usize = 1;
/// Revisions kept when `spec.revisionHistoryLimit` is unset.
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;
/// Pod and revision label holding the revision hash.
pub const CONTROLLER_REVISION_HASH_LABEL: &str = "controller-revision-hash";
/// Legacy pod label holding the template generation.
pub const POD_TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// DaemonSet annotation holding the template generation in `apps/v1`.
pub const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

/// Event reason: the selector is `{}`.
pub const REASON_SELECTING_ALL: &str = "SelectingAll";
/// Event reason: a failed daemon pod is deleted.
pub const REASON_FAILED_DAEMON_POD: &str = "FailedDaemonPod";
/// Event reason: a succeeded daemon pod is deleted.
pub const REASON_SUCCEEDED_DAEMON_POD: &str = "SucceededDaemonPod";
/// Event reason (everynode): the selector is absent, invalid, or misses the template's labels.
pub const REASON_INVALID_SELECTOR: &str = "InvalidSelector";
/// Event reason (everynode): `maxSurge`/`maxUnavailable` cannot be read; no rolling update.
pub const REASON_INVALID_ROLLING_UPDATE: &str = "InvalidRollingUpdate";

/// Everything [`plan`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// The DaemonSet, as stored (spec, status, metadata).
    pub ds: &'a DaemonSet,
    /// Every node.
    pub nodes: &'a [Node],
    /// Every pod of the DaemonSet's namespace (owned, orphaned and others'); pods of other
    /// namespaces are ignored.
    pub pods: &'a [Pod],
    /// Every ControllerRevision of the DaemonSet's namespace.
    pub revisions: &'a [ControllerRevision],
    /// The current time.
    pub now: Timestamp,
    /// The failed-pod back-off kept by the executor (see [`backoff`]).
    pub backoff: &'a BackoffState,
    /// False while creates or deletes the executor sent for this DaemonSet are not observed yet
    /// (and have not timed out): then only the status (and history) is planned.
    pub expectations_satisfied: bool,
}

/// What the executor should do in this pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Pods to create, in node order.
    pub create: Vec<PodToCreate>,
    /// Pods to delete, with why.
    pub delete: Vec<PodToDelete>,
    /// Orphans to adopt: add the DaemonSet's controller reference ([`controller_ref`]).
    pub adopt: Vec<PodRef>,
    /// Owned pods that no longer match the selector: remove the controller reference.
    pub release: Vec<PodRef>,
    /// Back-off entries to store (failed pods deleted in this plan).
    pub backoff: Vec<BackoffUpdate>,
    /// Failed pods not deleted because their node is in back-off.
    pub backoff_waits: Vec<BackoffWait>,
    /// The status to store; `None` when the DaemonSet is not synced (selector `{}`, being
    /// deleted, no template, unusable selector).
    pub status: Option<DaemonSetStatus>,
    /// Revision history changes; `None` when the DaemonSet is not synced.
    pub revision: Option<RevisionPlan>,
    /// Events to record on the DaemonSet.
    pub events: Vec<PlanEvent>,
    /// Sync again after this long even without news (back-off expiry, a pod reaching
    /// `minReadySeconds`).
    pub requeue_after: Option<Duration>,
    /// Creates left out by the burst cap (planned again next pass).
    pub deferred_creates: usize,
    /// Deletes left out by the burst cap (planned again next pass).
    pub deferred_deletes: usize,
}

/// A daemon pod to create.
///
/// The pod is complete: name `<ds-name>-<5 chars>` where the suffix is derived from
/// `(ds uid, node, revision hash, attempt)` (FNV-1a 64 → 5 characters of
/// `bcdfghjklmnpqrstvwxz2456789`, the first attempt whose name no pod of the namespace has),
/// `generateName` `<ds-name>-`, namespace, labels (template labels, `controller-revision-hash`,
/// `pod-template-generation` when the DaemonSet has a template generation), template
/// annotations, the controller reference, and the spec of [`crate::scheduling::daemon_pod_spec`]
/// (`nodeName` set: everynode places pods itself). The executor assigns `uid` and
/// `creationTimestamp`.
#[derive(Debug, Clone, PartialEq)]
pub struct PodToCreate {
    /// The node the pod is for.
    pub node: String,
    /// The pod object.
    pub pod: Pod,
}

/// Identifies a pod.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    /// UID, for a delete precondition ("" for pods not stored yet).
    pub uid: String,
    /// The pod's target node ("" when it has none).
    pub node: String,
}

/// A pod to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodToDelete {
    pub pod: PodRef,
    pub reason: DeleteReason,
}

/// Why a pod is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeleteReason {
    /// Phase `Failed`; replaced in a later pass, with back-off.
    Failed,
    /// Phase `Succeeded`; replaced in a later pass.
    Succeeded,
    /// A node runs more daemon pods than allowed; the oldest stays.
    ExcessDuplicate,
    /// The node no longer runs this DaemonSet (selector, affinity, `NoExecute` taint, …).
    NodeShouldNotRun,
    /// An old-revision pod replaced by the rolling update.
    RollingUpdate,
    /// An unbound pod aimed at a node that no longer exists.
    UnscheduledForMissingNode,
}

/// Identifies a ControllerRevision.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RevisionRef {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// Revision history changes (see the history rules in the module `history`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RevisionPlan {
    /// Hash of the current revision: the `controller-revision-hash` of up-to-date pods.
    pub hash: String,
    /// Name of the current revision (existing, or [`RevisionPlan::create`]).
    pub current: String,
    /// The current revision to create, when no stored one matches the template.
    pub create: Option<ControllerRevision>,
    /// Stored revisions to write back changed (missing hash label added, current revision
    /// number raised to `max + 1`).
    pub update: Vec<ControllerRevision>,
    /// Revisions to delete: duplicates of the current one, and old ones beyond
    /// `revisionHistoryLimit` whose hash no pod carries.
    pub delete: Vec<RevisionRef>,
    /// Orphan revisions to adopt.
    pub adopt: Vec<RevisionRef>,
    /// Owned revisions to release.
    pub release: Vec<RevisionRef>,
    /// Pods whose `controller-revision-hash` label must be set to [`RevisionPlan::hash`]
    /// (they carry the hash of a deleted duplicate of the current revision).
    pub relabel_pods: Vec<PodRef>,
}

/// A back-off entry to store after deleting a failed pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackoffUpdate {
    /// [`backoff_key`] of the node.
    pub key: String,
    pub node: String,
    pub entry: BackoffEntry,
}

/// A failed pod left in place because its node is in back-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackoffWait {
    pub key: String,
    pub node: String,
    /// The failed pod's name.
    pub pod: String,
    /// Time until the back-off allows deleting it.
    pub remaining: Duration,
}

/// `Normal` or `Warning`, as in Kubernetes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

/// An event to record on the DaemonSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanEvent {
    pub type_: EventType,
    pub reason: &'static str,
    pub message: String,
}

/// What every step reads.
pub(crate) struct Ctx<'a> {
    ds: &'a DaemonSet,
    hash: String,
    generation: Option<i64>,
    min_ready_seconds: i32,
    now: Timestamp,
    surge: bool,
}

/// Plans one reconcile pass of `input.ds` (see the module documentation).
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let mut out = Plan::default();
    let ds = input.ds;
    let Some(spec) = ds.spec.as_ref() else {
        return out;
    };
    let Some(template) = spec.template.as_ref() else {
        return out;
    };
    if let Some(sel) = &spec.selector
        && sel.match_labels.is_empty()
        && sel.match_expressions.is_empty()
    {
        out.events.push(PlanEvent {
            type_: EventType::Warning,
            reason: REASON_SELECTING_ALL,
            message: "This daemon set is selecting all pods. A non-empty selector is required."
                .to_string(),
        });
        return out;
    }
    let ds_meta = ds.metadata.clone().unwrap_or_default();
    if ds_meta.is_being_deleted() {
        return out;
    }
    let Some(selector) = usable_selector(ds, template, &mut out) else {
        return out;
    };

    // Claim pods.
    let mut owned: Vec<&Pod> = Vec::new();
    for pod in input.pods {
        let c = claim(
            &ds_meta.uid,
            &ds_meta.namespace,
            &selector,
            pod.metadata.as_ref(),
        );
        match c {
            Claim::Adopt => out.adopt.push(pod_ref(pod)),
            Claim::Release => out.release.push(pod_ref(pod)),
            Claim::Owned | Claim::Ignore => {}
        }
        if c.is_ours() {
            owned.push(pod);
        }
    }

    // History.
    let history = history::construct(ds, template, &selector, input.revisions);
    let mut relabel_pods = Vec::new();
    // The observed pods per node, without terminal pods that are being deleted.
    let mut by_node: ByNode<'_> = ByNode::default();
    for pod in &owned {
        let carries_duplicate = pod
            .metadata
            .as_ref()
            .and_then(|m| m.labels.get(CONTROLLER_REVISION_HASH_LABEL))
            .is_some_and(|h| history.relabel_from.contains(h));
        if carries_duplicate {
            relabel_pods.push(pod_ref(pod));
        }
        let Some(mut info) = PodInfo::from_pod(pod) else {
            continue;
        };
        if carries_duplicate {
            info.hash = history.hash.clone();
        }
        if info.is_terminal() && info.deleting {
            continue;
        }
        let node = crate::scheduling::target_node_name(pod).unwrap_or_default();
        by_node.entry(node).or_default().push(info);
    }
    let live_hashes: BTreeSet<&str> = owned
        .iter()
        .filter_map(|p| p.metadata.as_ref())
        .filter_map(|m| m.labels.get(CONTROLLER_REVISION_HASH_LABEL))
        .filter(|h| !h.is_empty())
        .map(String::as_str)
        .collect();
    let live_hashes: BTreeSet<String> = live_hashes.into_iter().map(str::to_string).collect();

    let ctx = Ctx {
        ds,
        hash: history.hash.clone(),
        generation: template_generation(ds),
        min_ready_seconds: spec.min_ready_seconds,
        now: input.now,
        surge: allows_surge(ds),
    };
    let filter = NodeFilter::new(template);
    let nodes: Vec<(&Node, ShouldRun)> = input
        .nodes
        .iter()
        .map(|n| (n, filter.should_run(n)))
        .collect();
    let counts = status::count(&ctx, &nodes, &by_node);
    let observed_generation = if input.expectations_satisfied {
        ds_meta.generation
    } else {
        ds.status.as_ref().map_or(0, |s| s.observed_generation)
    };
    out.status = Some(status::build(
        ds.status.as_ref(),
        counts,
        observed_generation,
        history.collision_count,
    ));
    let mut revision = RevisionPlan {
        hash: history.hash.clone(),
        current: history.current.clone(),
        create: history.create.clone(),
        update: history.update.clone(),
        delete: history.delete.clone(),
        adopt: history.adopt.clone(),
        release: history.release.clone(),
        relabel_pods,
    };
    let mut requeue = min_ready_requeue(&ctx, &by_node);

    if input.expectations_satisfied {
        let mut taken = Taken::new(input.pods);
        sync_pods(
            input, &ctx, template, &nodes, &by_node, &mut taken, &mut out,
        );
        let limit = spec
            .revision_history_limit
            .unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT);
        revision
            .delete
            .extend(history::cleanup(&history.old, limit, &live_hashes));
    }
    out.revision = Some(revision);

    for wait in &out.backoff_waits {
        requeue = min_duration(requeue, Some(wait.remaining));
    }
    out.requeue_after = requeue;
    out
}

/// `manage`, then the rolling update, with the burst cap applied.
fn sync_pods(
    input: &PlanInput<'_>,
    ctx: &Ctx<'_>,
    template: &PodTemplateSpec,
    nodes: &[(&Node, ShouldRun)],
    by_node: &ByNode<'_>,
    taken: &mut Taken<'_>,
    out: &mut Plan,
) {
    let managed = manage::manage(ctx, nodes, by_node, input.backoff);
    out.backoff_waits = managed.waits;
    out.deferred_creates = managed.create.len().saturating_sub(BURST_REPLICAS);
    out.deferred_deletes = managed.delete.len().saturating_sub(BURST_REPLICAS);
    let truncated = out.deferred_creates > 0 || out.deferred_deletes > 0;

    // The state right after these actions, as changes over `by_node`.
    let mut deleted: FastMap<String, Vec<String>> = FastMap::default();
    let mut planned: FastMap<String, Vec<PodInfo>> = FastMap::default();
    for deletion in managed.delete.into_iter().take(BURST_REPLICAS) {
        if by_node.contains_key(deletion.pod.node.as_str()) {
            deleted
                .entry(deletion.pod.node.clone())
                .or_default()
                .push(deletion.pod.name.clone());
        }
        out.backoff.extend(deletion.backoff);
        out.events.extend(deletion.event);
        out.delete.push(PodToDelete {
            pod: deletion.pod.pod_ref(),
            reason: deletion.reason,
        });
    }
    for node in managed.create.iter().take(BURST_REPLICAS) {
        let create = pod_to_create(ctx, template, node, taken);
        planned
            .entry(node.clone())
            .or_default()
            .push(PodInfo::planned(&create.pod, node, &ctx.hash));
        out.create.push(create);
    }

    if truncated || !is_rolling_update(input.ds) {
        return;
    }
    let after = rolling::After {
        nodes,
        by_node,
        deleted: &deleted,
        planned: &planned,
    };
    match rolling::rolling_update(ctx, &after) {
        Ok(rolled) => {
            let room = BURST_REPLICAS.saturating_sub(out.delete.len());
            out.deferred_deletes += rolled.delete.len().saturating_sub(room);
            for (pod, reason) in rolled.delete.into_iter().take(room) {
                out.delete.push(PodToDelete {
                    pod: pod.pod_ref(),
                    reason,
                });
            }
            let room = BURST_REPLICAS.saturating_sub(out.create.len());
            out.deferred_creates += rolled.create.len().saturating_sub(room);
            for node in rolled.create.iter().take(room) {
                let create = pod_to_create(ctx, template, node, taken);
                out.create.push(create);
            }
        }
        Err(e) => out.events.push(PlanEvent {
            type_: EventType::Warning,
            reason: REASON_INVALID_ROLLING_UPDATE,
            message: e.to_string(),
        }),
    }
}

/// The selector as a matcher, or `None` (with a warning event) when it is absent, invalid, or
/// does not select the template's own labels.
fn usable_selector(ds: &DaemonSet, template: &PodTemplateSpec, out: &mut Plan) -> Option<Selector> {
    let given = ds.spec.as_ref().and_then(|s| s.selector.as_ref());
    let message = match Selector::from_label_selector(given) {
        Ok(Selector::Nothing) => "The daemon set has no selector; it selects no pods.".to_string(),
        Err(e) => format!("The daemon set's selector is invalid: {e}."),
        Ok(selector) => {
            static EMPTY: BTreeMap<String, String> = BTreeMap::new();
            let labels = template.metadata.as_ref().map_or(&EMPTY, |m| &m.labels);
            if selector.matches(labels) {
                return Some(selector);
            }
            "The daemon set's selector does not match its template's labels.".to_string()
        }
    };
    out.events.push(PlanEvent {
        type_: EventType::Warning,
        reason: REASON_INVALID_SELECTOR,
        message,
    });
    None
}

fn pod_to_create(
    ctx: &Ctx<'_>,
    template: &PodTemplateSpec,
    node: &str,
    taken: &mut Taken<'_>,
) -> PodToCreate {
    let meta = ctx.ds.metadata.as_ref();
    let ds_name = meta.map_or("", |m| m.name.as_str());
    let ds_uid = meta.map_or("", |m| m.uid.as_str());
    taken.load();
    let name = pod_name(
        &pods::generate_name(ds_name),
        ds_uid,
        node,
        &ctx.hash,
        |n| taken.contains(n),
    );
    taken.added.insert(name.clone());
    PodToCreate {
        node: node.to_string(),
        pod: new_daemon_pod(ctx.ds, template, node, &ctx.hash, ctx.generation, name),
    }
}

fn pod_ref(pod: &Pod) -> PodRef {
    PodRef {
        namespace: pod.namespace().to_string(),
        name: pod.name().to_string(),
        uid: pod
            .metadata
            .as_ref()
            .map_or_else(String::new, |m| m.uid.clone()),
        node: crate::scheduling::target_node_name(pod)
            .unwrap_or_default()
            .to_string(),
    }
}

fn is_rolling_update(ds: &DaemonSet) -> bool {
    ds.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .is_some_and(|s| s.type_ == "RollingUpdate")
}

/// The DaemonSet's template generation: the `apps/v1` annotation, else the old API versions'
/// `spec.templateGeneration`; `None` when neither is there (or the annotation is not a number).
fn template_generation(ds: &DaemonSet) -> Option<i64> {
    let annotation = ds
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.get(TEMPLATE_GENERATION_ANNOTATION));
    match annotation {
        Some(value) => value.parse().ok(),
        None => ds.spec.as_ref().and_then(|s| s.template_generation),
    }
}

/// When a ready pod reaches `minReadySeconds`: one second after the earliest such moment
/// (Kubernetes adds the same second against clock skew), or `minReadySeconds` for a ready pod
/// without a transition time.
fn min_ready_requeue(ctx: &Ctx<'_>, by_node: &ByNode<'_>) -> Option<Duration> {
    if ctx.min_ready_seconds <= 0 {
        return None;
    }
    let mut best: Option<Duration> = None;
    for pod in by_node
        .values()
        .flatten()
        .filter(|p| p.ready && !p.deleting)
    {
        let wait = match pod.ready_since {
            None => pods::seconds_nanos(ctx.min_ready_seconds),
            Some(_) => match pod.nanos_until_available(ctx.min_ready_seconds, ctx.now) {
                Some(n) => n + 1_000_000_000,
                None => continue,
            },
        };
        best = min_duration(best, Some(pods::duration_from_nanos(wait)));
    }
    best
}

fn min_duration(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// FNV-1a, 32 bits (Kubernetes hashes templates with `fnv.New32a`).
pub(crate) fn fnv1a_32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// FNV-1a, 64 bits.
pub(crate) fn fnv1a_64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The observed pods per target node.
type ByNode<'a> = FastMap<&'a str, Vec<PodInfo>>;

/// A `HashMap` with [`FastHasher`].
type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
/// A `HashSet` with [`FastHasher`].
type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

/// A small, fast, deterministic hasher for the planner's maps keyed by names (the `FxHash`
/// scheme: rotate, xor a word, multiply). Iteration order of these maps never reaches a plan.
#[derive(Debug, Default, Clone, Copy)]
struct FastHasher(u64);

impl FastHasher {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::K);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The pod names a new pod's name must avoid: every pod of the input (read only when a pod is
/// created) and the names this plan gave out.
struct Taken<'a> {
    pods: &'a [Pod],
    existing: Option<FastSet<&'a str>>,
    added: BTreeSet<String>,
}

impl<'a> Taken<'a> {
    fn new(pods: &'a [Pod]) -> Taken<'a> {
        Taken {
            pods,
            existing: None,
            added: BTreeSet::new(),
        }
    }

    fn load(&mut self) {
        if self.existing.is_none() {
            self.existing = Some(self.pods.iter().map(Pod::name).collect());
        }
    }

    fn contains(&self, name: &str) -> bool {
        self.added.contains(name)
            || self
                .existing
                .as_ref()
                .is_some_and(|existing| existing.contains(name))
    }
}
