//! Unit-test support: a recording fake of [`Effects`], builders for nodes, DaemonSets, pods and
//! revisions, and a [`Bed`] that holds caches filled directly (no NATS) and runs one reconcile
//! or pod-GC pass at a time — Kubernetes' `FakePodControl` and `syncAndValidateDaemonSets`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use everynode_api::v1;
use everynode_bus::{Bucket, DaemonSetKey, Entry, Listing, NodeKey, PodKey, RevisionKey};
use everynode_core::defaults::default_daemon_set;
use everynode_core::model::{
    Container, ControllerRevision, DaemonSet, DaemonSetSpec, DaemonSetStatus, LabelSelector, Node,
    NodeCondition, NodeSpec, NodeStatus, ObjectMeta, OwnerReference, Pod, PodCondition, PodSpec,
    PodStatus, PodTemplateSpec, Timestamp,
};
use everynode_core::planner::controller_ref;
use everynode_core::validation::ApiVersion;
use tokio_util::sync::CancellationToken;

use crate::agents::{CommandError, Outcome, PodCommand, Reply};
use crate::cache::World;
use crate::effects::{Effects, RevisionWrite};
use crate::error::Error;
use crate::router::Router;
use crate::term::{Deps, Settings, Term};
use everynode_core::retry::Backoff;

/// One call the controller made to the outside world (test-only, so size does not matter).
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Call {
    /// A pod command.
    Command(PodCommand),
    /// `UpdateStatus` of DaemonSet `namespace/name`.
    UpdateStatus(String, DaemonSetStatus),
    /// A finalizer removed from DaemonSet `namespace/name`.
    RemoveFinalizer(String, String),
    /// A write to KV `revisions` at `namespace/name`.
    Revision(String, RevisionWrite),
    /// A pod record deleted by pod GC (`node/namespace/name`, at the revision).
    DeletePodRecord(String, u64),
    /// A term announced to the agents.
    AnnounceTerm(u64),
}

#[derive(Debug, Default)]
struct Script {
    /// Commands to these nodes fail with this error.
    unreachable: HashMap<String, CommandError>,
    /// Commands to these nodes are answered with this outcome.
    answers: HashMap<String, Outcome>,
    /// Revision writes to these keys fail with a conflict.
    revision_conflicts: HashSet<String>,
    /// Pod-record deletes of these keys fail with a conflict.
    record_conflicts: HashSet<String>,
    /// `UpdateStatus` fails.
    status_fails: bool,
    /// What KV `daemonsets` holds (key → uid), for the confirmations.
    stored_daemonsets: HashMap<String, String>,
    /// What KV `nodes` holds, for the confirmations.
    stored_nodes: HashSet<String>,
}

/// A fake of [`Effects`] that records every call and answers as scripted (by default: every
/// command succeeds, every write succeeds, KV holds nothing).
#[derive(Debug, Default)]
pub struct FakeEffects {
    calls: Mutex<Vec<Call>>,
    script: Mutex<Script>,
    /// The fence of every command, in order.
    fences: Mutex<Vec<u64>>,
}

/// The lease term of the test beds' terms.
pub const TEST_FENCE: u64 = 7;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn ds_name(ds: &DaemonSet) -> String {
    format!("{}/{}", ds.namespace(), ds.name())
}

impl FakeEffects {
    /// The fence each command so far carried, in order.
    pub fn fences(&self) -> Vec<u64> {
        lock(&self.fences).clone()
    }

    /// Every call so far, in order; clears the record.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *lock(&self.calls))
    }

    /// The calls so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    /// The nodes that got a create command, sorted.
    pub fn created_on(&self) -> Vec<String> {
        let mut nodes: Vec<String> = self
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Command(PodCommand::Create { node, .. }) => Some(node),
                _ => None,
            })
            .collect();
        nodes.sort();
        nodes
    }

    /// The pods created, in order.
    pub fn created(&self) -> Vec<Pod> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Command(PodCommand::Create { pod, .. }) => Some(*pod),
                _ => None,
            })
            .collect()
    }

    /// The pods that got a delete command, as `name@node`, sorted.
    pub fn deleted(&self) -> Vec<String> {
        let mut pods: Vec<String> = self
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Command(PodCommand::Delete { pod, .. }) => {
                    Some(format!("{}@{}", pod.name, pod.node))
                }
                _ => None,
            })
            .collect();
        pods.sort();
        pods
    }

    /// The owner changes, as (`name`, owner uids), sorted.
    pub fn owner_changes(&self) -> Vec<(String, Vec<String>)> {
        let mut changes: Vec<(String, Vec<String>)> = self
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Command(PodCommand::SetOwners { pod, owners }) => {
                    Some((pod.name, owners.into_iter().map(|o| o.uid).collect()))
                }
                _ => None,
            })
            .collect();
        changes.sort();
        changes
    }

    /// The statuses written, in order.
    pub fn statuses(&self) -> Vec<DaemonSetStatus> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::UpdateStatus(_, status) => Some(status),
                _ => None,
            })
            .collect()
    }

    /// The revision writes, in order, as (`namespace/name`, write).
    pub fn revision_writes(&self) -> Vec<(String, RevisionWrite)> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Revision(key, write) => Some((key, write)),
                _ => None,
            })
            .collect()
    }

    /// Commands to `node` fail with `error` from now on.
    pub fn unreachable(&self, node: &str, error: CommandError) {
        lock(&self.script)
            .unreachable
            .insert(node.to_string(), error);
    }

    /// Commands to `node` are answered with `outcome` from now on.
    pub fn answer(&self, node: &str, outcome: Outcome) {
        lock(&self.script).answers.insert(node.to_string(), outcome);
    }

    /// Writes of the revision `namespace/name` lose their compare-and-set from now on (a
    /// create finds the key taken).
    pub fn revision_conflict(&self, key: &str) {
        lock(&self.script)
            .revision_conflicts
            .insert(key.to_string());
    }

    /// Deletes of the pod record `node/namespace/name` lose their compare-and-set.
    pub fn record_conflict(&self, key: &str) {
        lock(&self.script).record_conflicts.insert(key.to_string());
    }

    /// `UpdateStatus` fails from now on.
    pub fn status_fails(&self) {
        lock(&self.script).status_fails = true;
    }

    /// KV `daemonsets` holds `namespace/name` with `uid`.
    pub fn store_daemon_set(&self, key: &str, uid: &str) {
        lock(&self.script)
            .stored_daemonsets
            .insert(key.to_string(), uid.to_string());
    }

    /// KV `nodes` holds `name`.
    pub fn store_node(&self, name: &str) {
        lock(&self.script).stored_nodes.insert(name.to_string());
    }

    fn record(&self, call: Call) {
        lock(&self.calls).push(call);
    }

    fn conflict(key: &str) -> everynode_bus::Error {
        everynode_bus::Error::Conflict {
            bucket: Bucket::Revisions,
            key: key.to_string(),
            expected: 0,
            actual: None,
        }
    }
}

impl Effects for Arc<FakeEffects> {
    async fn command(&self, fence: u64, command: PodCommand) -> Result<Reply, CommandError> {
        let node = command.node().to_string();
        let success = match &command {
            PodCommand::Create { .. } => Outcome::Created,
            PodCommand::Delete { .. } => Outcome::Deleted,
            PodCommand::SetOwners { .. } => Outcome::Updated,
        };
        lock(&self.fences).push(fence);
        self.record(Call::Command(command));
        let script = lock(&self.script);
        if let Some(error) = script.unreachable.get(&node) {
            return Err(error.clone());
        }
        let outcome = script.answers.get(&node).copied().unwrap_or(success);
        Ok(Reply {
            outcome,
            message: format!("scripted {}", outcome.as_str_name()),
        })
    }

    async fn announce_term(&self, fence: u64) -> Result<(), everynode_bus::Error> {
        self.record(Call::AnnounceTerm(fence));
        Ok(())
    }

    async fn update_status(&self, ds: &DaemonSet, status: DaemonSetStatus) -> Result<(), Error> {
        self.record(Call::UpdateStatus(ds_name(ds), status));
        if lock(&self.script).status_fails {
            return Err(Error::Admission {
                call: "UpdateStatus",
                status: tonic::Status::aborted("scripted conflict"),
            });
        }
        Ok(())
    }

    async fn remove_finalizer(&self, ds: &DaemonSet, finalizer: &str) -> Result<(), Error> {
        self.record(Call::RemoveFinalizer(ds_name(ds), finalizer.to_string()));
        Ok(())
    }

    async fn write_revision(
        &self,
        key: &RevisionKey,
        write: RevisionWrite,
    ) -> Result<(), everynode_bus::Error> {
        let name = format!("{}/{}", key.namespace(), key.name());
        let create = matches!(write, RevisionWrite::Create(_));
        self.record(Call::Revision(name.clone(), write));
        if !lock(&self.script).revision_conflicts.contains(&name) {
            return Ok(());
        }
        Err(if create {
            everynode_bus::Error::AlreadyExists {
                bucket: Bucket::Revisions,
                key: name,
            }
        } else {
            FakeEffects::conflict(&name)
        })
    }

    async fn stored_daemon_set_uid(
        &self,
        key: &DaemonSetKey,
    ) -> Result<Option<String>, everynode_bus::Error> {
        let name = format!("{}/{}", key.namespace(), key.name());
        Ok(lock(&self.script).stored_daemonsets.get(&name).cloned())
    }

    async fn node_is_stored(&self, key: &NodeKey) -> Result<bool, everynode_bus::Error> {
        Ok(lock(&self.script).stored_nodes.contains(key.name()))
    }

    async fn delete_pod_record(&self, key: &PodKey, at: u64) -> Result<(), everynode_bus::Error> {
        let name = format!("{}/{}/{}", key.node(), key.namespace(), key.name());
        self.record(Call::DeletePodRecord(name.clone(), at));
        if lock(&self.script).record_conflicts.contains(&name) {
            return Err(FakeEffects::conflict(&name));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The bed: caches filled directly, one term, the fake.

/// Caches, a term and a fake: the controller without NATS or gRPC.
pub struct Bed {
    /// The caches and the fake, as a reconcile sees them.
    pub deps: Deps<Arc<FakeEffects>>,
    /// The active term (queue, expectations, back-off).
    pub term: Arc<Term>,
    /// Routes what the caches see to the term, as in the running controller (pods observed
    /// lower the expectations).
    router: Router,
    /// The fake (shared with `deps`).
    pub fake: Arc<FakeEffects>,
    revision: u64,
    nodes: BTreeMap<String, (u64, Node)>,
    daemonsets: BTreeMap<String, (u64, DaemonSet)>,
    pods: BTreeMap<PodKey, (u64, Pod)>,
    revisions: BTreeMap<String, (u64, ControllerRevision)>,
}

/// Settings of the bed: one worker, no waiting.
pub fn settings() -> Settings {
    Settings {
        workers: 1,
        resync: Duration::from_secs(30),
        command_concurrency: 4,
        expectations_timeout: Duration::from_secs(300),
        retry: Backoff::new(Duration::from_millis(5), Duration::from_secs(1)),
    }
}

impl Default for Bed {
    fn default() -> Self {
        Self::new()
    }
}

impl Bed {
    /// Empty caches (ready), a fresh term, a fake with nothing scripted.
    pub fn new() -> Self {
        let fake = Arc::new(FakeEffects::default());
        let settings = settings();
        let term = Arc::new(Term::new(CancellationToken::new(), &settings, TEST_FENCE));
        let world = World::new(0);
        let router = Router::new(world.clone());
        router.set_active(Some(Arc::clone(&term)));
        let bed = Self {
            deps: Deps {
                world,
                effects: Arc::clone(&fake),
                settings,
            },
            term,
            router,
            fake,
            revision: 0,
            nodes: BTreeMap::new(),
            daemonsets: BTreeMap::new(),
            pods: BTreeMap::new(),
            revisions: BTreeMap::new(),
        };
        bed.publish();
        bed
    }

    fn next(&mut self) -> u64 {
        self.revision += 1;
        self.revision
    }

    /// Adds or replaces nodes (in the cache, and in KV `nodes` for the confirmations).
    pub fn nodes(&mut self, nodes: impl IntoIterator<Item = Node>) -> &mut Self {
        for node in nodes {
            let at = self.next();
            self.fake.store_node(node.name());
            self.nodes.insert(node.name().to_string(), (at, node));
        }
        self.publish();
        self
    }

    /// Removes a node from the cache (and from KV `nodes`).
    pub fn remove_node(&mut self, name: &str) -> &mut Self {
        self.nodes.remove(name);
        lock(&self.fake.script).stored_nodes.remove(name);
        self.publish();
        self
    }

    /// Adds or replaces a DaemonSet (in the cache, and in KV `daemonsets`).
    pub fn daemon_set(&mut self, ds: &DaemonSet) -> &mut Self {
        let at = self.next();
        let key = ds_name(ds);
        self.fake.store_daemon_set(&key, uid(ds));
        self.daemonsets.insert(key, (at, ds.clone()));
        self.publish();
        self
    }

    /// Removes a DaemonSet from the cache (and from KV `daemonsets`).
    pub fn remove_daemon_set(&mut self, ds: &DaemonSet) -> &mut Self {
        let key = ds_name(ds);
        self.daemonsets.remove(&key);
        lock(&self.fake.script).stored_daemonsets.remove(&key);
        self.publish();
        self
    }

    /// Adds or replaces pods.
    pub fn pods(&mut self, pods: impl IntoIterator<Item = Pod>) -> &mut Self {
        for pod in pods {
            let at = self.next();
            let key = pod_key(&pod);
            self.pods.insert(key, (at, pod));
        }
        self.publish();
        self
    }

    /// Removes a pod (by name).
    pub fn remove_pod(&mut self, name: &str) -> &mut Self {
        self.pods.retain(|k, _| k.name() != name);
        self.publish();
        self
    }

    /// Adds or replaces revisions.
    pub fn revisions(
        &mut self,
        revisions: impl IntoIterator<Item = ControllerRevision>,
    ) -> &mut Self {
        for revision in revisions {
            let at = self.next();
            let key = format!("{}/{}", rev_namespace(&revision), revision.name());
            self.revisions.insert(key, (at, revision));
        }
        self.publish();
        self
    }

    /// Removes a revision (by `namespace/name`).
    pub fn remove_revision(&mut self, key: &str) -> &mut Self {
        self.revisions.remove(key);
        self.publish();
        self
    }

    /// The pod `name` as cached.
    pub fn pod(&self, name: &str) -> Pod {
        self.pods
            .iter()
            .find(|(k, _)| k.name() == name)
            .map(|(_, (_, pod))| pod.clone())
            .unwrap_or_else(|| panic!("no pod {name}"))
    }

    /// The name of the (single) pod created among `calls`.
    pub fn created_name(&self, calls: &[Call]) -> String {
        calls
            .iter()
            .find_map(|c| match c {
                Call::Command(PodCommand::Create { pod, .. }) => Some(pod.name().to_string()),
                _ => None,
            })
            .expect("a create among the calls")
    }

    /// The KV revision the pod `name` is cached at.
    pub fn pod_revision(&self, name: &str) -> u64 {
        self.pods
            .iter()
            .find(|(k, _)| k.name() == name)
            .map(|(_, (at, _))| *at)
            .unwrap_or_default()
    }

    /// Applies the commands among `calls` as agents would: created pods appear (Running, not
    /// ready), deleted pods disappear.
    pub fn apply(&mut self, calls: &[Call]) -> &mut Self {
        for call in calls {
            match call {
                Call::Command(PodCommand::Create { pod, .. }) => {
                    let mut pod = Pod::clone(pod);
                    pod.status = Some(PodStatus {
                        phase: "Running".into(),
                        ..Default::default()
                    });
                    let at = self.next();
                    self.pods.insert(pod_key(&pod), (at, pod));
                }
                Call::Command(PodCommand::Delete { pod, .. }) => {
                    self.pods.retain(|k, _| k.name() != pod.name);
                }
                _ => {}
            }
        }
        self.publish();
        self
    }

    /// Lists everything into the caches, as a (re-)list of every bucket would.
    fn publish(&self) {
        let world = &self.deps.world;
        let deltas = world.nodes.apply_listing(Listing::new(
            self.nodes
                .iter()
                .map(|(name, (at, node))| Entry {
                    key: NodeKey::new(name.clone()).expect("node key"),
                    value: v1::Node::from(node.clone()),
                    revision: *at,
                })
                .collect(),
            self.revision,
        ));
        self.router.nodes(&deltas);
        let deltas = world.daemonsets.apply_listing(Listing::new(
            self.daemonsets
                .values()
                .map(|(at, ds)| Entry {
                    key: DaemonSetKey::new(ds.namespace(), ds.name()).expect("daemonset key"),
                    value: v1::DaemonSet::from(ds.clone()),
                    revision: *at,
                })
                .collect(),
            self.revision,
        ));
        self.router.daemonsets(&deltas);
        let deltas = world.pods.apply_listing(Listing::new(
            self.pods
                .iter()
                .map(|(key, (at, pod))| Entry {
                    key: key.clone(),
                    value: v1::Pod::from(pod.clone()),
                    revision: *at,
                })
                .collect(),
            self.revision,
        ));
        self.router.pods(&deltas);
        let deltas = world.revisions.apply_listing(Listing::new(
            self.revisions
                .values()
                .map(|(at, r)| Entry {
                    key: RevisionKey::new(rev_namespace(r), r.name()).expect("revision key"),
                    value: v1::ControllerRevision::from(r.clone()),
                    revision: *at,
                })
                .collect(),
            self.revision,
        ));
        self.router.revisions(&deltas);
    }

    /// Runs one reconcile of `ds` (from the cache), as a worker would.
    pub async fn sync(&self, ds: &DaemonSet) -> Result<Option<Duration>, Error> {
        let key = DaemonSetKey::new(ds.namespace(), ds.name()).expect("daemonset key");
        crate::reconcile::sync(&self.deps, &self.term, &key).await
    }

    /// Runs one pod-GC pass.
    pub async fn collect(&self) -> Result<usize, Error> {
        crate::gc::collect_pods_of_removed_nodes(&self.deps, TEST_FENCE).await
    }
}

// ---------------------------------------------------------------------------------------------
// Builders

/// The uid of an object's metadata.
pub fn uid(ds: &DaemonSet) -> &str {
    ds.metadata.as_ref().map_or("", |m| m.uid.as_str())
}

fn rev_namespace(revision: &ControllerRevision) -> &str {
    revision
        .metadata
        .as_ref()
        .map_or("default", |m| m.namespace.as_str())
}

fn pod_key(pod: &Pod) -> PodKey {
    let node = everynode_core::scheduling::target_node_name(pod).unwrap_or("unbound");
    PodKey::new(node, pod.namespace(), pod.name()).expect("pod key")
}

fn pairs(labels: &[(&str, &str)]) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// A Ready node `name` with `labels`.
pub fn node(name: &str, labels: &[(&str, &str)]) -> Node {
    Node {
        metadata: Some(ObjectMeta {
            name: name.into(),
            uid: format!("node-uid-{name}"),
            labels: pairs(labels),
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
    }
}

/// Marks `node` not ready (`Ready=Unknown`, as the registry marks a silent node).
pub fn not_ready(mut node: Node) -> Node {
    if let Some(status) = node.status.as_mut() {
        for c in &mut status.conditions {
            if c.type_ == "Ready" {
                c.status = "Unknown".into();
            }
        }
    }
    node
}

/// An `apps/v1` DaemonSet `name` in `default`, defaulted as admission stores it: selector and
/// template labels `app=<name>`, one container `img:1`, uid `uid-<name>`, generation 1,
/// `RollingUpdate` with `maxUnavailable: 1`.
pub fn daemon_set(name: &str) -> DaemonSet {
    let labels = pairs(&[("app", name)]);
    let mut ds = DaemonSet {
        api_version: "apps/v1".into(),
        kind: "DaemonSet".into(),
        metadata: Some(ObjectMeta {
            name: name.into(),
            namespace: "default".into(),
            uid: format!("uid-{name}"),
            generation: 1,
            creation_timestamp: Some(Timestamp::from_seconds(1_700_000_000)),
            ..Default::default()
        }),
        spec: Some(DaemonSetSpec {
            selector: Some(LabelSelector {
                match_labels: labels.clone(),
                ..Default::default()
            }),
            template: Some(PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels,
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "main".into(),
                        image: "img:1".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: Some(DaemonSetStatus::default()),
        ..Default::default()
    };
    default_daemon_set(&mut ds, ApiVersion::AppsV1);
    ds
}

/// `ds` with `nodeSelector` `labels`.
pub fn with_node_selector(mut ds: DaemonSet, labels: &[(&str, &str)]) -> DaemonSet {
    if let Some(spec) = ds
        .spec
        .as_mut()
        .and_then(|s| s.template.as_mut())
        .and_then(|t| t.spec.as_mut())
    {
        spec.node_selector = pairs(labels);
    }
    ds
}

/// `ds` being deleted, with `finalizer`.
pub fn being_deleted(mut ds: DaemonSet, finalizer: &str) -> DaemonSet {
    if let Some(meta) = ds.metadata.as_mut() {
        meta.deletion_timestamp = Some(Timestamp::from_seconds(1_700_000_100));
        meta.finalizers = vec![finalizer.to_string()];
    }
    ds
}

/// A pod of `ds` on `node`, named `<ds>-<node>`, with the template's labels and the hash of
/// its current template, controlled by `ds`, Running and Ready.
pub fn pod_of(ds: &DaemonSet, node: &str) -> Pod {
    let template = ds.spec.as_ref().and_then(|s| s.template.as_ref());
    let mut labels = template
        .and_then(|t| t.metadata.as_ref())
        .map(|m| m.labels.clone())
        .unwrap_or_default();
    if let Some(template) = template {
        let collisions = ds.status.as_ref().and_then(|s| s.collision_count);
        labels.insert(
            everynode_core::planner::CONTROLLER_REVISION_HASH_LABEL.to_string(),
            everynode_core::planner::template_hash(template, collisions),
        );
    }
    Pod {
        metadata: Some(ObjectMeta {
            name: format!("{}-{node}", ds.name()),
            namespace: ds.namespace().to_string(),
            uid: format!("pod-uid-{}-{node}", ds.name()),
            labels,
            owner_references: vec![controller_ref(ds)],
            creation_timestamp: Some(Timestamp::from_seconds(1_700_000_050)),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            node_name: node.to_string(),
            containers: template
                .and_then(|t| t.spec.as_ref())
                .map(|s| s.containers.clone())
                .unwrap_or_default(),
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: "Running".into(),
            conditions: vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Timestamp::from_seconds(1_700_000_060)),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `pod` renamed.
pub fn named(mut pod: Pod, name: &str) -> Pod {
    if let Some(meta) = pod.metadata.as_mut() {
        meta.name = name.to_string();
        meta.uid = format!("pod-uid-{name}");
    }
    pod
}

/// `pod` without a controller reference (an orphan).
pub fn orphaned(mut pod: Pod) -> Pod {
    if let Some(meta) = pod.metadata.as_mut() {
        meta.owner_references.clear();
    }
    pod
}

/// `pod` in phase `phase` (`Failed`, `Succeeded`), not ready.
pub fn in_phase(mut pod: Pod, phase: &str) -> Pod {
    pod.status = Some(PodStatus {
        phase: phase.into(),
        ..Default::default()
    });
    pod
}

/// `pod` being deleted.
pub fn terminating(mut pod: Pod) -> Pod {
    if let Some(meta) = pod.metadata.as_mut() {
        meta.deletion_timestamp = Some(Timestamp::from_seconds(1_700_000_200));
    }
    pod
}

/// A ControllerRevision `name` controlled by the owner `owner` (`None`: an orphan).
pub fn revision(name: &str, owner: Option<&OwnerReference>, number: i64) -> ControllerRevision {
    ControllerRevision {
        metadata: Some(ObjectMeta {
            name: name.into(),
            namespace: "default".into(),
            uid: format!("rev-uid-{name}"),
            owner_references: owner.into_iter().cloned().collect(),
            ..Default::default()
        }),
        revision: number,
        ..Default::default()
    }
}
