//! The event router: turns cache deltas into work-queue keys and expectation observations for
//! the active term (events are hints; the reconcile re-reads the caches).
//!
//! - DaemonSet added, changed or deleted → its key (a deletion also drops its expectations).
//! - Node added → the DaemonSets that should run on it; node changed → only the DaemonSets
//!   whose `node_should_run` answer differs between the old and the new node (addresses or the
//!   cordon flag concern none), or, when its readiness changed, those that may have a pod there
//!   (their pods count as not ready while the node is not); node removed → the DaemonSets it
//!   counted for, and the pod garbage collector.
//! - Pod: a create or delete the executor waits for lowers its expectation; the controlling
//!   DaemonSet (old and new, if the controller reference changed) is queued; a pod whose
//!   controller is a DaemonSet that no longer exists queues that DaemonSet's key, whose
//!   reconcile deletes it (background deletion); an orphan queues every DaemonSet of its
//!   namespace whose selector matches it (adoption).
//! - ControllerRevision → its controlling DaemonSet.
//!
//! A standby replica has no active term: the router then does nothing (the caches are still
//! kept warm for the read APIs and a quick takeover).

use std::sync::{Arc, RwLock};

use everynode_bus::{DaemonSetKey, NodeKey, PodKey, RevisionKey};
use everynode_core::model::{ControllerRevision, Node, ObjectMeta, Pod};
use everynode_core::scheduling::node_should_run;

use crate::cache::{World, node_is_ready};
use crate::informer::Delta;
use crate::term::Term;

/// Routes deltas to the active term, if any.
#[derive(Debug)]
pub struct Router {
    world: World,
    active: RwLock<Option<Arc<Term>>>,
}

impl Router {
    /// A router over `world` with no active term.
    pub fn new(world: World) -> Self {
        Self {
            world,
            active: RwLock::new(None),
        }
    }

    /// Makes `term` the one events go to (`None`: standby).
    pub fn set_active(&self, term: Option<Arc<Term>>) {
        *self
            .active
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = term;
    }

    fn active(&self) -> Option<Arc<Term>> {
        self.active
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// DaemonSet deltas.
    pub fn daemonsets(
        &self,
        deltas: &[Arc<Delta<DaemonSetKey, everynode_core::model::DaemonSet>>],
    ) {
        let Some(term) = self.active() else {
            return;
        };
        for delta in deltas {
            if delta.new.is_none() {
                term.expectations.forget(&delta.key);
            }
            term.queue.add(delta.key.clone());
        }
    }

    /// Node deltas.
    pub fn nodes(&self, deltas: &[Arc<Delta<NodeKey, Node>>]) {
        let Some(term) = self.active() else {
            return;
        };
        let daemonsets = self.world.daemonsets.read(|c| c.live());
        let mut removed = false;
        for delta in deltas {
            match (delta.old.as_deref(), delta.new.as_deref()) {
                (None, Some(new)) => {
                    for (key, ds) in &daemonsets {
                        if node_should_run(new, ds).should_run {
                            term.queue.add(key.clone());
                        }
                    }
                }
                (Some(old), Some(new)) => {
                    if node_is_ready(old) != node_is_ready(new) {
                        // Its pods' readiness as counted changes: every DaemonSet that may
                        // have a pod there.
                        for (key, ds) in &daemonsets {
                            let now = node_should_run(new, ds);
                            if now.should_run || now.should_continue_running {
                                term.queue.add(key.clone());
                            }
                        }
                        continue;
                    }
                    if !placement_may_differ(old, new) {
                        continue;
                    }
                    for (key, ds) in &daemonsets {
                        if node_should_run(old, ds) != node_should_run(new, ds) {
                            term.queue.add(key.clone());
                        }
                    }
                }
                (Some(old), None) => {
                    removed = true;
                    for (key, ds) in &daemonsets {
                        let before = node_should_run(old, ds);
                        if before.should_run || before.should_continue_running {
                            term.queue.add(key.clone());
                        }
                    }
                }
                (None, None) => {}
            }
        }
        if removed {
            term.gc.notify_one();
        }
    }

    /// Pod deltas.
    pub fn pods(&self, deltas: &[Arc<Delta<PodKey, Pod>>]) {
        let Some(term) = self.active() else {
            return;
        };
        for delta in deltas {
            let old = delta.old.as_deref();
            let new = delta.new.as_deref();
            observe(&term, old, new);
            let mut keys: Vec<DaemonSetKey> = Vec::new();
            for pod in [old, new].into_iter().flatten() {
                if let Some(key) = self.owner_key(pod, new.is_some()) {
                    keys.push(key);
                }
            }
            if let Some(pod) = new
                && let Some(meta) = pod.metadata.as_ref()
                && meta.controller_ref().is_none()
                && !meta.is_being_deleted()
            {
                keys.extend(
                    self.world
                        .daemonsets
                        .read(|c| c.matching(&meta.namespace, &meta.labels)),
                );
            }
            keys.dedup();
            for key in keys {
                term.queue.add(key);
            }
        }
    }

    /// ControllerRevision deltas.
    pub fn revisions(&self, deltas: &[Arc<Delta<RevisionKey, ControllerRevision>>]) {
        let Some(term) = self.active() else {
            return;
        };
        for delta in deltas {
            let meta = delta
                .new
                .as_deref()
                .or(delta.old.as_deref())
                .and_then(|r| r.metadata.as_ref());
            if let Some(key) = meta.and_then(|m| self.controller_key(m, delta.new.is_some())) {
                term.queue.add(key);
            }
        }
    }

    /// The key of the DaemonSet controlling `pod`: the live one with that uid, or (when
    /// `exists`, for garbage collection) the key named by the reference.
    fn owner_key(&self, pod: &Pod, exists: bool) -> Option<DaemonSetKey> {
        self.controller_key(pod.metadata.as_ref()?, exists)
    }

    fn controller_key(&self, meta: &ObjectMeta, exists: bool) -> Option<DaemonSetKey> {
        let owner = meta.controller_ref()?;
        if owner.kind != crate::cache::DAEMON_SET_KIND {
            return None;
        }
        if let Some(key) = self
            .world
            .daemonsets
            .read(|c| c.key_of_uid(&owner.uid).cloned())
        {
            return Some(key);
        }
        if exists {
            return DaemonSetKey::new(meta.namespace.clone(), owner.name.clone()).ok();
        }
        None
    }
}

/// Lowers the expectations a pod delta satisfies.
fn observe(term: &Term, old: Option<&Pod>, new: Option<&Pod>) {
    let uid = |pod: Option<&Pod>| {
        pod.and_then(|p| p.metadata.as_ref())
            .map(|m| m.uid.clone())
            .filter(|u| !u.is_empty())
    };
    let deleting = |pod: Option<&Pod>| {
        pod.and_then(|p| p.metadata.as_ref())
            .is_some_and(ObjectMeta::is_being_deleted)
    };
    match (old, new) {
        (_, Some(_)) => {
            if let Some(uid) = uid(new) {
                term.expectations.lower_create(&uid);
                if deleting(new) {
                    term.expectations.lower_delete(&uid);
                }
            }
            if let (Some(old_uid), Some(new_uid)) = (uid(old), uid(new))
                && old_uid != new_uid
            {
                // Same key, another pod: the old one is gone.
                term.expectations.lower_delete(&old_uid);
            }
        }
        (Some(_), None) => {
            if let Some(uid) = uid(old) {
                term.expectations.lower_delete(&uid);
            }
        }
        (None, None) => {}
    }
}

/// False when the change cannot alter any `node_should_run` answer: same name, labels and
/// taints (Kubernetes: `shouldIgnoreNodeUpdate`, narrowed to what placement reads).
fn placement_may_differ(old: &Node, new: &Node) -> bool {
    let labels = |n: &Node| n.metadata.as_ref().map(|m| &m.labels).cloned();
    let taints = |n: &Node| n.spec.as_ref().map(|s| &s.taints).cloned();
    old.name() != new.name() || labels(old) != labels(new) || taints(old) != taints(new)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use everynode_api::v1;
    use everynode_bus::{Entry, Listing};
    use everynode_core::model::{
        DaemonSet, DaemonSetSpec, LabelSelector, NodeSpec, OwnerReference, PodSpec,
        PodTemplateSpec, Taint,
    };
    use tokio_util::sync::CancellationToken;

    use super::*;

    fn node(labels: &[(&str, &str)], taints: &[&str]) -> Node {
        Node {
            metadata: Some(ObjectMeta {
                name: "n".into(),
                labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Default::default()
            }),
            spec: Some(NodeSpec {
                taints: taints
                    .iter()
                    .map(|k| Taint {
                        key: k.to_string(),
                        effect: "NoSchedule".into(),
                        ..Default::default()
                    })
                    .collect(),
                unschedulable: false,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A DaemonSet `name` selecting `app=<name>`, placed by `node_selector`.
    fn ds(name: &str, node_selector: &[(&str, &str)]) -> DaemonSet {
        DaemonSet {
            metadata: Some(ObjectMeta {
                name: name.into(),
                namespace: "default".into(),
                uid: format!("uid-{name}"),
                ..Default::default()
            }),
            spec: Some(DaemonSetSpec {
                selector: Some(LabelSelector {
                    match_labels: labels(&[("app", name)]),
                    ..Default::default()
                }),
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: labels(&[("app", name)]),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        node_selector: labels(node_selector),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn key(name: &str) -> DaemonSetKey {
        DaemonSetKey::new("default", name).unwrap()
    }

    /// A router with an active term over DaemonSets `all` (any node), `ssd` (disk=ssd) and
    /// `gpu` (gpu=yes).
    fn router() -> (Router, Arc<Term>) {
        let world = World::new(0);
        let entries = [
            ds("all", &[]),
            ds("ssd", &[("disk", "ssd")]),
            ds("gpu", &[("gpu", "yes")]),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, d)| Entry {
            key: key(d.name()),
            value: v1::DaemonSet::from(d),
            revision: i as u64 + 1,
        })
        .collect();
        world.daemonsets.apply_listing(Listing::new(entries, 3));
        let router = Router::new(world);
        let term = Arc::new(Term::new(
            CancellationToken::new(),
            &crate::testing::settings(),
            crate::testing::TEST_FENCE,
        ));
        router.set_active(Some(Arc::clone(&term)));
        (router, term)
    }

    async fn queued(term: &Term) -> Vec<String> {
        let mut names = Vec::new();
        while !term.queue.is_empty() {
            if let Some(k) = term.queue.get().await {
                term.queue.done(&k);
                names.push(k.name().to_string());
            }
        }
        names.sort();
        names
    }

    fn node_delta(old: Option<Node>, new: Option<Node>) -> Arc<Delta<NodeKey, Node>> {
        Arc::new(Delta {
            key: NodeKey::new("n").unwrap(),
            revision: 10,
            old: old.map(Arc::new),
            new: new.map(Arc::new),
        })
    }

    #[tokio::test]
    async fn a_relabel_queues_only_the_daemonsets_whose_answer_changed() {
        let (router, term) = router();
        let before = node(&[("disk", "hdd")], &[]);
        let after = node(&[("disk", "ssd")], &[]);
        router.nodes(&[node_delta(Some(before), Some(after))]);
        assert_eq!(queued(&term).await, ["ssd"]);
    }

    #[tokio::test]
    async fn an_added_node_queues_the_daemonsets_that_should_run_on_it() {
        let (router, term) = router();
        router.nodes(&[node_delta(None, Some(node(&[("gpu", "yes")], &[])))]);
        assert_eq!(queued(&term).await, ["all", "gpu"]);
    }

    #[tokio::test]
    async fn a_cordon_queues_nothing_and_a_taint_queues_the_affected() {
        let (router, term) = router();
        let plain = node(&[], &[]);
        let mut cordoned = plain.clone();
        if let Some(spec) = cordoned.spec.as_mut() {
            spec.unschedulable = true;
        }
        router.nodes(&[node_delta(Some(plain.clone()), Some(cordoned))]);
        assert!(queued(&term).await.is_empty());
        router.nodes(&[node_delta(Some(plain), Some(node(&[], &["dedicated"])))]);
        assert_eq!(queued(&term).await, ["all"]);
    }

    #[tokio::test]
    async fn pods_queue_their_owner_or_the_daemonsets_that_may_adopt_them() {
        let (router, term) = router();
        let pod = |app: &str, owner: Option<&str>| Pod {
            metadata: Some(ObjectMeta {
                name: "p".into(),
                namespace: "default".into(),
                uid: "pod-uid".into(),
                labels: labels(&[("app", app)]),
                owner_references: owner
                    .map(|name| OwnerReference {
                        kind: "DaemonSet".into(),
                        name: name.into(),
                        uid: format!("uid-{name}"),
                        controller: Some(true),
                        ..Default::default()
                    })
                    .into_iter()
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let delta = |old: Option<Pod>, new: Option<Pod>| {
            Arc::new(Delta {
                key: PodKey::new("n", "default", "p").unwrap(),
                revision: 10,
                old: old.map(Arc::new),
                new: new.map(Arc::new),
            })
        };
        router.pods(&[delta(None, Some(pod("ssd", Some("ssd"))))]);
        assert_eq!(queued(&term).await, ["ssd"]);
        router.pods(&[delta(None, Some(pod("gpu", None)))]);
        assert_eq!(
            queued(&term).await,
            ["gpu"],
            "an orphan: the matching DaemonSet"
        );
        router.pods(&[delta(None, Some(pod("x", Some("deleted"))))]);
        assert_eq!(
            queued(&term).await,
            ["deleted"],
            "a gone owner: its key, for GC"
        );
        router.pods(&[delta(Some(pod("all", Some("all"))), None)]);
        assert_eq!(queued(&term).await, ["all"]);
    }

    #[tokio::test]
    async fn observed_pods_lower_the_expectations() {
        let (router, term) = router();
        let now = std::time::Instant::now();
        term.expectations.expect(
            &key("all"),
            "uid-all",
            [("pod-uid".to_string(), "n".to_string())],
            ["old-uid".to_string()],
            now,
        );
        let pod = |uid: &str, deleting: bool| Pod {
            metadata: Some(ObjectMeta {
                name: "p".into(),
                namespace: "default".into(),
                uid: uid.into(),
                deletion_timestamp: deleting.then(everynode_core::model::Timestamp::now),
                ..Default::default()
            }),
            ..Default::default()
        };
        let delta = |old: Option<Pod>, new: Option<Pod>| {
            Arc::new(Delta {
                key: PodKey::new("n", "default", "p").unwrap(),
                revision: 10,
                old: old.map(Arc::new),
                new: new.map(Arc::new),
            })
        };
        router.pods(&[delta(None, Some(pod("pod-uid", false)))]);
        assert_eq!(term.expectations.pending(&key("all")), (0, 1));
        router.pods(&[delta(
            Some(pod("old-uid", false)),
            Some(pod("old-uid", true)),
        )]);
        assert!(term.expectations.satisfied(&key("all"), "uid-all", now));
    }

    #[test]
    fn only_label_and_taint_changes_can_move_daemon_pods() {
        let a = node(&[("zone", "a")], &[]);
        let mut cordoned = a.clone();
        if let Some(spec) = cordoned.spec.as_mut() {
            spec.unschedulable = true;
        }
        assert!(!placement_may_differ(&a, &cordoned));
        assert!(placement_may_differ(&a, &node(&[("zone", "b")], &[])));
        assert!(placement_may_differ(&a, &node(&[("zone", "a")], &["x"])));
    }

    #[tokio::test]
    async fn a_standby_routes_nothing() {
        let (router, term) = router();
        router.set_active(None);
        router.nodes(&[node_delta(None, Some(node(&[], &[])))]);
        assert!(queued(&term).await.is_empty());
    }
}
