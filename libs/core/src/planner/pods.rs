//! The planner's view of daemon pods, and the pods it creates.
//!
//! [`PodInfo`] is what the decisions read of a pod (target node, phase, readiness, revision
//! hash, age); pods the plan itself creates are represented the same way so the rolling update
//! can reason about the state right after `manage`. [`new_daemon_pod`] builds the complete pod
//! object the executor sends to the node's agent, with a deterministic name (see
//! [`pod_name`]).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{
    CONTROLLER_REVISION_HASH_LABEL, POD_TEMPLATE_GENERATION_LABEL, PodRef,
    backoff::{nanos, since},
    fnv1a_64,
};
use crate::model::{DaemonSet, ObjectMeta, OwnerReference, Pod, PodTemplateSpec, Timestamp};
use crate::scheduling::{daemon_pod_spec, target_node_name};

/// True when `text` is `n` written in decimal (`n.to_string() == text`), without allocating.
fn int_text_eq(n: i64, text: &str) -> bool {
    use std::io::Write;
    let mut buf = [0u8; 24];
    let mut rest = &mut buf[..];
    if write!(rest, "{n}").is_err() {
        return n.to_string() == text;
    }
    let len = 24 - rest.len();
    &buf[..len] == text.as_bytes()
}

/// Kubernetes' alphabet for generated name suffixes and hashes (`rand.String`,
/// `rand.SafeEncodeString`): no vowels, no look-alike digits.
pub(super) const NAME_ALPHABET: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

/// Length of the random-looking suffix of a generated pod name.
const SUFFIX_LEN: usize = 5;
/// Longest `generateName` prefix Kubernetes keeps (63 − 5).
const MAX_PREFIX_LEN: usize = 58;

/// What the planner reads of one daemon pod.
#[derive(Debug, Clone)]
pub(super) struct PodInfo {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    /// The node the pod is meant for (`spec.nodeName`, or its `metadata.name` affinity).
    pub node: String,
    /// `spec.nodeName` is set (bound to its node).
    pub scheduled: bool,
    pub created: Option<Timestamp>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    pub phase: String,
    pub ready: bool,
    /// `lastTransitionTime` of the `Ready` condition.
    pub ready_since: Option<Timestamp>,
    /// The `controller-revision-hash` label ("" when absent).
    pub hash: String,
    /// The `pod-template-generation` label.
    pub generation: Option<String>,
}

impl PodInfo {
    /// Reads a pod; `None` when it has no target node (Kubernetes skips such pods).
    pub fn from_pod(pod: &Pod) -> Option<PodInfo> {
        let node = target_node_name(pod)?.to_string();
        let meta = pod.metadata.as_ref();
        let labels = meta.map(|m| &m.labels);
        let ready_condition = pod.ready_condition();
        Some(PodInfo {
            name: pod.name().to_string(),
            namespace: pod.namespace().to_string(),
            uid: meta.map_or_else(String::new, |m| m.uid.clone()),
            node,
            scheduled: pod.spec.as_ref().is_some_and(|s| !s.node_name.is_empty()),
            created: meta.and_then(|m| m.creation_timestamp),
            deleting: meta.is_some_and(ObjectMeta::is_being_deleted),
            phase: pod
                .status
                .as_ref()
                .map_or_else(String::new, |s| s.phase.clone()),
            ready: pod.is_ready(),
            ready_since: ready_condition.and_then(|c| c.last_transition_time),
            hash: labels
                .and_then(|l| l.get(CONTROLLER_REVISION_HASH_LABEL))
                .cloned()
                .unwrap_or_default(),
            generation: labels
                .and_then(|l| l.get(POD_TEMPLATE_GENERATION_LABEL))
                .cloned(),
        })
    }

    /// A pod this plan creates, as it will first be seen: bound, not ready, current revision.
    pub fn planned(pod: &Pod, node: &str, hash: &str) -> PodInfo {
        PodInfo {
            name: pod.name().to_string(),
            namespace: pod.namespace().to_string(),
            uid: String::new(),
            node: node.to_string(),
            scheduled: true,
            created: None,
            deleting: false,
            phase: String::new(),
            ready: false,
            ready_since: None,
            hash: hash.to_string(),
            generation: pod
                .metadata
                .as_ref()
                .and_then(|m| m.labels.get(POD_TEMPLATE_GENERATION_LABEL))
                .cloned(),
        }
    }

    pub fn is_failed(&self) -> bool {
        self.phase == "Failed"
    }

    pub fn is_succeeded(&self) -> bool {
        self.phase == "Succeeded"
    }

    /// `Succeeded` or `Failed` (Kubernetes: `podutil.IsPodTerminal`).
    pub fn is_terminal(&self) -> bool {
        self.is_failed() || self.is_succeeded()
    }

    /// Ready, and ready for longer than `min_ready_seconds` (Kubernetes:
    /// `podutil.IsPodAvailable`); with `min_ready_seconds > 0` a `Ready` condition without a
    /// transition time never counts as available.
    pub fn is_available(&self, min_ready_seconds: i32, now: Timestamp) -> bool {
        if !self.ready {
            return false;
        }
        if min_ready_seconds <= 0 {
            return true;
        }
        self.ready_since
            .is_some_and(|t| since(t, now) > i128::from(min_ready_seconds) * 1_000_000_000)
    }

    /// Nanoseconds until the pod becomes available (`None` when it is not ready, has no
    /// transition time, or already is available).
    pub fn nanos_until_available(&self, min_ready_seconds: i32, now: Timestamp) -> Option<i128> {
        if !self.ready || min_ready_seconds <= 0 || self.is_available(min_ready_seconds, now) {
            return None;
        }
        let since_ready = since(self.ready_since?, now);
        Some(i128::from(min_ready_seconds) * 1_000_000_000 - since_ready)
    }

    /// True when the pod runs the current revision (Kubernetes: `util.IsPodUpdated`): its hash
    /// label equals `hash`, or its template-generation label equals `generation`.
    pub fn is_updated(&self, hash: &str, generation: Option<i64>) -> bool {
        let hash_matches = !hash.is_empty() && self.hash == hash;
        hash_matches
            || generation
                .zip(self.generation.as_deref())
                .is_some_and(|(g, label)| int_text_eq(g, label))
    }

    pub fn pod_ref(&self) -> PodRef {
        PodRef {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            uid: self.uid.clone(),
            node: self.node.clone(),
        }
    }
}

/// Kubernetes' `podByCreationTimestampAndPhase`: bound pods first, then the oldest, then by name.
/// A missing creation time counts as the earliest (Go's zero time).
pub(super) fn oldest_first(a: &PodInfo, b: &PodInfo) -> Ordering {
    b.scheduled
        .cmp(&a.scheduled)
        .then_with(|| a.created.cmp(&b.created))
        .then_with(|| a.name.cmp(&b.name))
}

/// The `generateName` prefix of a DaemonSet's pods: `<ds-name>-`, cut to 58 bytes as Kubernetes
/// does.
pub(super) fn generate_name(ds_name: &str) -> String {
    let mut base = format!("{ds_name}-");
    if base.len() > MAX_PREFIX_LEN {
        let mut cut = MAX_PREFIX_LEN;
        while !base.is_char_boundary(cut) {
            cut -= 1;
        }
        base.truncate(cut);
    }
    base
}

/// A deterministic pod name `<prefix><5 chars>`: the suffix is FNV-1a 64 of
/// `(ds uid, node, revision hash, attempt)` written in base 27 over [`NAME_ALPHABET`], for the
/// first `attempt` (0, 1, …) whose name is not in `taken` (the names of every pod of the
/// namespace, and those this plan already chose).
///
/// A pure function cannot draw random suffixes; a deterministic one also makes creates
/// idempotent: if a pod was created but is not visible yet, the next pass picks the same name
/// and the create fails with "already exists" instead of placing a second pod on the node.
pub(super) fn pod_name(
    prefix: &str,
    ds_uid: &str,
    node: &str,
    hash: &str,
    taken: impl Fn(&str) -> bool,
) -> String {
    let mut attempt: u64 = 0;
    loop {
        let mut input = Vec::with_capacity(ds_uid.len() + node.len() + hash.len() + 12);
        for part in [ds_uid.as_bytes(), node.as_bytes(), hash.as_bytes()] {
            input.extend_from_slice(part);
            input.push(0);
        }
        input.extend_from_slice(&attempt.to_le_bytes());
        let mut h = fnv1a_64(&input);
        let mut suffix = String::with_capacity(SUFFIX_LEN);
        for _ in 0..SUFFIX_LEN {
            let i = usize::try_from(h % 27).unwrap_or(0);
            suffix.push(char::from(NAME_ALPHABET[i]));
            h /= 27;
        }
        let name = format!("{prefix}{suffix}");
        if !taken(&name) || attempt >= 10_000 {
            return name;
        }
        attempt += 1;
    }
}

/// The daemon pod for `node` (Kubernetes: `util.CreatePodTemplate` + `GetPodFromTemplate`):
/// - metadata: `name`, `generateName` `<ds>-`, the DaemonSet's namespace, the template's
///   labels plus `controller-revision-hash: <hash>` and (when the template generation is known)
///   `pod-template-generation: <n>`, the template's annotations and finalizers, and the
///   controller reference `{apps/v1, DaemonSet, name, uid, controller, blockOwnerDeletion}`;
/// - spec: [`daemon_pod_spec`] (daemon tolerations, `nodeName` = node).
///
/// `uid`, `resourceVersion` and `creationTimestamp` are left for the executor/store.
pub(super) fn new_daemon_pod(
    ds: &DaemonSet,
    template: &PodTemplateSpec,
    node: &str,
    hash: &str,
    template_generation: Option<i64>,
    name: String,
) -> Pod {
    let ds_meta = ds.metadata.clone().unwrap_or_default();
    let template_meta = template.metadata.clone().unwrap_or_default();
    let mut labels: BTreeMap<String, String> = template_meta.labels;
    if let Some(g) = template_generation {
        labels.insert(POD_TEMPLATE_GENERATION_LABEL.to_string(), g.to_string());
    }
    if !hash.is_empty() {
        labels.insert(CONTROLLER_REVISION_HASH_LABEL.to_string(), hash.to_string());
    }
    Pod {
        api_version: "v1".to_string(),
        kind: "Pod".to_string(),
        metadata: Some(ObjectMeta {
            name,
            generate_name: generate_name(&ds_meta.name),
            namespace: ds_meta.namespace.clone(),
            labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: vec![controller_ref(ds)],
            ..Default::default()
        }),
        spec: Some(daemon_pod_spec(template, node)),
        status: None,
        extra_fields: Default::default(),
    }
}

/// The controller reference a DaemonSet puts on what it owns (Kubernetes:
/// `metav1.NewControllerRef(ds, apps/v1 DaemonSet)`).
pub fn controller_ref(ds: &DaemonSet) -> OwnerReference {
    let meta = ds.metadata.as_ref();
    OwnerReference {
        kind: "DaemonSet".to_string(),
        name: meta.map_or_else(String::new, |m| m.name.clone()),
        uid: meta.map_or_else(String::new, |m| m.uid.clone()),
        api_version: "apps/v1".to_string(),
        controller: Some(true),
        block_owner_deletion: Some(true),
        extra_fields: Default::default(),
    }
}

/// Converts a non-negative nanosecond count into a `Duration` (negative → zero).
pub(super) fn duration_from_nanos(n: i128) -> std::time::Duration {
    std::time::Duration::from_nanos(u64::try_from(n.max(0)).unwrap_or(u64::MAX))
}

/// Nanoseconds of `seconds` whole seconds.
pub(super) fn seconds_nanos(seconds: i32) -> i128 {
    nanos(std::time::Duration::from_secs(
        u64::try_from(seconds.max(0)).unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn info(name: &str, scheduled: bool, created: Option<i64>) -> PodInfo {
        PodInfo {
            name: name.into(),
            namespace: "default".into(),
            uid: String::new(),
            node: "n".into(),
            scheduled,
            created: created.map(Timestamp::from_seconds),
            deleting: false,
            phase: String::new(),
            ready: false,
            ready_since: None,
            hash: String::new(),
            generation: None,
        }
    }

    #[test]
    fn oldest_pod_ordering_prefers_bound_then_older_then_name() {
        let mut pods = [
            info("d", true, Some(5)),
            info("a", false, Some(1)),
            info("c", true, Some(3)),
            info("b", true, Some(3)),
        ];
        pods.sort_by(oldest_first);
        let names: Vec<&str> = pods.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["b", "c", "d", "a"]);
    }

    #[test]
    fn pod_names_are_deterministic_and_avoid_taken_names() {
        let taken: BTreeSet<String> = BTreeSet::new();
        let a = pod_name("foo-", "uid", "node-1", "h", |n| taken.contains(n));
        assert_eq!(
            a,
            pod_name("foo-", "uid", "node-1", "h", |n| taken.contains(n))
        );
        assert_eq!(a.len(), "foo-".len() + SUFFIX_LEN);
        assert!(
            a["foo-".len()..]
                .bytes()
                .all(|b| NAME_ALPHABET.contains(&b))
        );
        assert_ne!(
            a,
            pod_name("foo-", "uid", "node-2", "h", |n| taken.contains(n))
        );
        let taken: BTreeSet<String> = [a.clone()].into_iter().collect();
        let b = pod_name("foo-", "uid", "node-1", "h", |n| taken.contains(n));
        assert_ne!(a, b);
    }

    #[test]
    fn generate_name_is_cut_to_58_bytes() {
        assert_eq!(generate_name("foo"), "foo-");
        let long = "x".repeat(80);
        assert_eq!(generate_name(&long).len(), 58);
    }

    #[test]
    fn availability_needs_ready_for_longer_than_min_ready_seconds() {
        let mut p = info("p", true, None);
        let now = Timestamp::from_seconds(100);
        assert!(!p.is_available(0, now));
        p.ready = true;
        assert!(p.is_available(0, now));
        assert!(!p.is_available(10, now), "no transition time");
        p.ready_since = Some(Timestamp::from_seconds(90));
        assert!(!p.is_available(10, now), "exactly min ready is not enough");
        assert_eq!(p.nanos_until_available(10, now), Some(0));
        p.ready_since = Some(Timestamp::from_seconds(89));
        assert!(p.is_available(10, now));
        assert_eq!(p.nanos_until_available(10, now), None);
    }
}
