//! The agent's core: the nodes it serves, the pod table, the store and the runtime, and the two
//! things it does with them — answer pod commands ([`Agent::handle`]) and recover pods from KV
//! after a restart ([`Agent::recover`]).
//!
//! Commands are idempotent by pod uid and serialized per pod key (a create and a delete of one
//! pod never interleave). A create is acknowledged (`CREATED`) only after the pod is in KV, as
//! Pending; a delete is acknowledged (`DELETED`) once KV holds the pod as terminating (so an
//! agent killed right after answering resumes the deletion), and the stop (SIGTERM, grace,
//! SIGKILL) and the removal of the key follow in a tracked task; a deletion resumed after a
//! restart gets what is left of its grace. A command that is refused changes nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use everynode_api::v1::{
    self, PodCommand, PodCommandOutcome, PodCommandReply, PodCreate, PodDelete, PodSetOwner,
    pod_command,
};
use everynode_bus::names::parse_agent_pods_subject;
use everynode_bus::{KeyFilter, NodeKey, PodKey, Store};
use everynode_core::model::{OwnerReference, Pod, Timestamp};
use everynode_core::retry::Backoff;
use everynode_service::Shutdown;
use prost::Message;
use tokio::sync::OwnedMutexGuard;

use crate::fence::Fence;
use crate::pods::{PodSink, PodTable, Stage, content_hash, uid_of};
use crate::runtime::{PodRun, Runtime, StartMode};
use crate::status::{self, PodFacts};

/// Kubernetes' default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE_SECONDS: i64 = 30;
/// How long a set-owner or delete command waits for its change to reach KV before answering:
/// shorter than the controller's command timeout (5 s by default), so that a slow KV gets an
/// answer ("not recorded yet; retry") rather than a timed-out request.
const FLUSH_WAIT: Duration = Duration::from_secs(3);

/// The nodes one agent process serves: one node, or `<prefix>-0` … `<prefix>-<N-1>` when
/// simulating (kept as a rule, not a list, so 10,000 nodes cost nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSet {
    name: String,
    simulated: Option<usize>,
}

impl NodeSet {
    /// The single node `name`.
    pub fn single(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            simulated: None,
        }
    }

    /// The `count` simulated nodes `<prefix>-<i>`.
    pub fn simulated(prefix: impl Into<String>, count: usize) -> Self {
        Self {
            name: prefix.into(),
            simulated: Some(count),
        }
    }

    /// The node name, or the simulated nodes' prefix.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether these are simulated nodes.
    pub fn is_simulated(&self) -> bool {
        self.simulated.is_some()
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.simulated.unwrap_or(1)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name of node `index`.
    pub fn node(&self, index: usize) -> String {
        match self.simulated {
            Some(_) => format!("{}-{index}", self.name),
            None => self.name.clone(),
        }
    }

    /// Whether `node` is one of these nodes.
    pub fn contains(&self, node: &str) -> bool {
        match self.simulated {
            None => node == self.name,
            Some(count) => node
                .strip_prefix(self.name.as_str())
                .and_then(|rest| rest.strip_prefix('-'))
                .filter(|digits| {
                    !digits.is_empty()
                        && digits.bytes().all(|b| b.is_ascii_digit())
                        && (digits == &"0" || !digits.starts_with('0'))
                })
                .and_then(|digits| digits.parse::<usize>().ok())
                .is_some_and(|index| index < count),
        }
    }
}

/// Per-key async locks, dropped when unused.
#[derive(Debug, Default)]
struct KeyedLocks {
    locks: Mutex<HashMap<PodKey, Arc<tokio::sync::Mutex<()>>>>,
}

struct KeyGuard<'a> {
    locks: &'a KeyedLocks,
    key: PodKey,
    lock: Arc<tokio::sync::Mutex<()>>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    async fn lock(&self, key: &PodKey) -> KeyGuard<'_> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(locks.entry(key.clone()).or_default())
        };
        let guard = Arc::clone(&lock).lock_owned().await;
        KeyGuard {
            locks: self,
            key: key.clone(),
            lock,
            guard: Some(guard),
        }
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut locks = self.locks.locks.lock().unwrap_or_else(|e| e.into_inner());
        // Ours and the map's: nobody else waits for this key.
        if Arc::strong_count(&self.lock) == 2 {
            locks.remove(&self.key);
        }
    }
}

/// The agent's state, shared by the command handler, recovery and the join loop.
pub struct Agent<R> {
    nodes: NodeSet,
    host_ip: String,
    table: Arc<PodTable>,
    store: Store<PodKey, v1::Pod>,
    runtime: R,
    shutdown: Shutdown,
    locks: KeyedLocks,
    fence: Arc<Fence>,
}

impl<R> std::fmt::Debug for Agent<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("nodes", &self.nodes)
            .field("host_ip", &self.host_ip)
            .finish_non_exhaustive()
    }
}

fn reply(
    outcome: PodCommandOutcome,
    message: impl Into<String>,
    pod: Option<v1::Pod>,
) -> PodCommandReply {
    PodCommandReply {
        outcome: outcome.into(),
        message: message.into(),
        pod,
    }
}

fn rejected(message: impl Into<String>) -> PodCommandReply {
    reply(PodCommandOutcome::Rejected, message, None)
}

/// A create of a name this node runs (or is stopping) under another uid.
fn name_taken(message: impl Into<String>) -> PodCommandReply {
    reply(PodCommandOutcome::NameTaken, message, None)
}

impl<R: Runtime> Agent<R> {
    /// An agent for `nodes` whose pods get `host_ip` as host and pod IP, refusing commands of
    /// controller terms older than `fence` has seen.
    pub fn new(
        nodes: NodeSet,
        host_ip: String,
        table: Arc<PodTable>,
        store: Store<PodKey, v1::Pod>,
        runtime: R,
        fence: Arc<Fence>,
        shutdown: Shutdown,
    ) -> Self {
        Self {
            nodes,
            host_ip,
            table,
            store,
            runtime,
            shutdown,
            locks: KeyedLocks::default(),
            fence,
        }
    }

    /// The nodes served.
    pub fn nodes(&self) -> &NodeSet {
        &self.nodes
    }

    /// The pod table.
    pub fn table(&self) -> &Arc<PodTable> {
        &self.table
    }

    fn facts(&self, start_time: Timestamp) -> PodFacts {
        PodFacts {
            host_ip: self.host_ip.clone(),
            pod_ip: self.host_ip.clone(),
            start_time,
        }
    }

    /// Answers the pod command `payload` received on `subject`; `None` when the subject
    /// addresses a node this agent does not serve (another simulator's), which must not be
    /// answered.
    pub async fn handle(
        self: &Arc<Self>,
        subject: &str,
        payload: &[u8],
    ) -> Option<PodCommandReply> {
        let node = match parse_agent_pods_subject(subject) {
            Ok(node) => node,
            Err(err) => return Some(rejected(err.to_string())),
        };
        if !self.nodes.contains(node.name()) {
            return None;
        }
        let command = match PodCommand::decode(payload) {
            Ok(command) => command,
            Err(err) => {
                tracing::debug!(subject, error = %err, "malformed pod command");
                return Some(rejected("malformed PodCommand: not a PodCommand message"));
            }
        };
        if command.node_name != node.name() {
            return Some(rejected(format!(
                "the command is for node {:?}, but this is the agent of node {:?}",
                command.node_name,
                node.name()
            )));
        }
        if let Err(highest) = self.fence.admit(command.term) {
            tracing::warn!(
                node = node.name(),
                term = command.term,
                highest,
                "refusing a pod command of a stale controller term"
            );
            return Some(reply(
                PodCommandOutcome::StaleTerm,
                format!(
                    "the command's controller term {} is older than term {highest}: its sender is no longer the leader",
                    command.term
                ),
                None,
            ));
        }
        Some(match command.command {
            Some(pod_command::Command::Create(create)) => self.create(&node, create).await,
            Some(pod_command::Command::Delete(delete)) => self.delete(&node, delete).await,
            Some(pod_command::Command::SetOwner(set_owner)) => {
                self.set_owner(&node, set_owner).await
            }
            None => rejected("the command is neither create nor delete"),
        })
    }

    async fn create(self: &Arc<Self>, node: &NodeKey, create: PodCreate) -> PodCommandReply {
        let Some(pod) = create.pod else {
            return rejected("create without a pod");
        };
        let mut pod = Pod::from(pod);
        let Some(meta) = pod.metadata.as_mut() else {
            return rejected("the pod has no metadata");
        };
        if meta.namespace.is_empty() {
            meta.namespace = "default".to_owned();
        }
        if meta.name.is_empty() || meta.uid.is_empty() {
            return rejected("the pod needs metadata.name and metadata.uid");
        }
        if let Err(err) = crate::names::check_pod_uid(&meta.uid) {
            return rejected(err.to_string());
        }
        let (namespace, name, uid) = (meta.namespace.clone(), meta.name.clone(), meta.uid.clone());
        let Some(spec) = pod.spec.as_mut() else {
            return rejected("the pod has no spec");
        };
        if spec.node_name.is_empty() {
            spec.node_name = node.name().to_owned();
        } else if spec.node_name != node.name() {
            return rejected(format!(
                "the pod is bound to node {:?}, not {:?}",
                spec.node_name,
                node.name()
            ));
        }
        if spec.containers.is_empty() {
            return rejected("the pod has no containers");
        }
        for container in spec
            .init_containers
            .iter()
            .chain(&spec.containers)
            .chain(&spec.ephemeral_containers)
        {
            if let Err(err) = crate::names::check_container_name(&container.name) {
                return rejected(err.to_string());
            }
        }
        let key = match PodKey::new(node.name(), &namespace, &name) {
            Ok(key) => key,
            Err(err) => return rejected(err.to_string()),
        };
        let _guard = self.locks.lock(&key).await;
        if let Some(existing) = self.table.get(&key) {
            let existing_uid = uid_of(&existing.pod).to_owned();
            if existing_uid == uid {
                return reply(
                    PodCommandOutcome::AlreadyExists,
                    "",
                    Some(existing.pod.into()),
                );
            }
            let what = if existing.stage == Stage::Active {
                "exists"
            } else {
                "is terminating"
            };
            return name_taken(format!(
                "pod {namespace}/{name} {what} with uid {existing_uid}"
            ));
        }
        let now = Timestamp::now().whole_seconds();
        let facts = self.facts(now);
        let spec = pod.spec.clone().unwrap_or_default();
        pod.status = Some(status::initial(&spec, &facts, now));
        let value = v1::Pod::from(pod.clone());
        let hash = content_hash(&value);
        if let Err(existing) =
            self.table
                .insert(key.clone(), pod.clone(), Stage::Active, Some(hash))
        {
            return name_taken(format!(
                "pod {namespace}/{name} exists with uid {}",
                uid_of(&existing.pod)
            ));
        }
        if let Err(err) = self.store.put(&key, &value).await {
            self.table.remove(&key, &uid);
            tracing::warn!(key = ?key, error = %err, "could not record a created pod in KV");
            return rejected("could not record the pod in KV; retry");
        }
        tracing::info!(pod = %format!("{namespace}/{name}"), node = node.name(), uid, "pod created");
        self.runtime.start(PodRun {
            pod,
            facts,
            mode: StartMode::Create,
            sink: PodSink::new(Arc::clone(&self.table), key, uid),
        });
        reply(PodCommandOutcome::Created, "", Some(value))
    }

    async fn delete(self: &Arc<Self>, node: &NodeKey, delete: PodDelete) -> PodCommandReply {
        let namespace = if delete.namespace.is_empty() {
            "default"
        } else {
            delete.namespace.as_str()
        };
        if delete.name.is_empty() {
            return rejected("delete without a pod name");
        }
        let key = match PodKey::new(node.name(), namespace, &delete.name) {
            Ok(key) => key,
            Err(err) => return rejected(err.to_string()),
        };
        let _guard = self.locks.lock(&key).await;
        let Some(existing) = self.table.get(&key) else {
            return reply(PodCommandOutcome::NotFound, "", None);
        };
        let uid = uid_of(&existing.pod).to_owned();
        if !delete.uid.is_empty() && delete.uid != uid {
            return reply(
                PodCommandOutcome::NotFound,
                format!(
                    "pod {namespace}/{} has uid {uid}, not {}; left alone",
                    delete.name, delete.uid
                ),
                None,
            );
        }
        let grace = delete
            .grace_period_seconds
            .or(existing
                .pod
                .spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds))
            .unwrap_or(DEFAULT_GRACE_SECONDS)
            .max(0);
        let Some(termination) =
            self.table
                .begin_termination(&key, &uid, grace, Timestamp::now().whole_seconds())
        else {
            return reply(PodCommandOutcome::NotFound, "", None);
        };
        if termination.started {
            tracing::info!(pod = %format!("{namespace}/{}", delete.name), node = node.name(), uid, grace, "pod deleting");
            self.finish_deletion(key, uid, grace);
        }
        // "Deleted" is a promise the controller counts on (it then waits for the pod to show
        // as terminating or gone): it is given only once KV holds the terminating record, so
        // an agent killed right after answering resumes the deletion, not the pod.
        match tokio::time::timeout(FLUSH_WAIT, termination.recorded).await {
            Ok(_) => reply(PodCommandOutcome::Deleted, "", Some(termination.pod.into())),
            Err(_) => {
                rejected("the pod is stopping but its deletion is not recorded in KV yet; retry")
            }
        }
    }

    async fn set_owner(
        self: &Arc<Self>,
        node: &NodeKey,
        set_owner: PodSetOwner,
    ) -> PodCommandReply {
        let namespace = if set_owner.namespace.is_empty() {
            "default"
        } else {
            set_owner.namespace.as_str()
        };
        if set_owner.name.is_empty() {
            return rejected("set_owner without a pod name");
        }
        let key = match PodKey::new(node.name(), namespace, &set_owner.name) {
            Ok(key) => key,
            Err(err) => return rejected(err.to_string()),
        };
        let _guard = self.locks.lock(&key).await;
        let references: Vec<OwnerReference> = set_owner
            .owner_references
            .into_iter()
            .map(OwnerReference::from)
            .collect();
        let Some((pod, flushed)) =
            self.table
                .set_owner_references(&key, &set_owner.uid, references)
        else {
            return reply(PodCommandOutcome::NotFound, "", None);
        };
        let message = match tokio::time::timeout(FLUSH_WAIT, flushed).await {
            Ok(Ok(())) => String::new(),
            _ => "recorded; the write to KV is still pending".to_owned(),
        };
        reply(PodCommandOutcome::Updated, message, Some(pod.into()))
    }

    /// Stops pod `uid` and removes its key, in a tracked task.
    fn finish_deletion(self: &Arc<Self>, key: PodKey, uid: String, grace_seconds: i64) {
        let agent = Arc::clone(self);
        let grace = Duration::from_secs(u64::try_from(grace_seconds).unwrap_or(0));
        self.shutdown.spawn(async move {
            agent.runtime.stop(&uid, grace).await;
            let deleted = agent.table.delete(&key);
            tokio::select! {
                _ = deleted => tracing::info!(key = ?key, "pod deleted"),
                () = agent.shutdown.grace_elapsed() => {}
            }
        });
    }

    /// Resumes the pod recorded as `value` under `key` (`hash`: the stored record's content
    /// hash, `None` when it must be written again); false if it was skipped.
    fn resume(self: &Arc<Self>, key: PodKey, value: v1::Pod, hash: Option<u64>) -> bool {
        let pod = Pod::from(value);
        let uid = uid_of(&pod).to_owned();
        if uid.is_empty() {
            tracing::warn!(key = ?key, "ignoring a recorded pod without uid");
            return false;
        }
        let meta = pod.metadata.clone().unwrap_or_default();
        let terminating = meta.deletion_timestamp.is_some();
        let stage = if terminating {
            Stage::Terminating
        } else {
            Stage::Active
        };
        if self
            .table
            .insert(key.clone(), pod.clone(), stage, hash)
            .is_err()
        {
            return false;
        }
        let start_time = pod
            .status
            .as_ref()
            .and_then(|s| s.start_time)
            .unwrap_or_else(|| Timestamp::now().whole_seconds());
        self.runtime.start(PodRun {
            pod,
            facts: self.facts(start_time),
            mode: if terminating {
                StartMode::ResumeForDeletion
            } else {
                StartMode::Resume
            },
            sink: PodSink::new(Arc::clone(&self.table), key.clone(), uid.clone()),
        });
        if let Some(since) = meta.deletion_timestamp {
            let grace = remaining_grace(
                since,
                meta.deletion_grace_period_seconds
                    .unwrap_or(DEFAULT_GRACE_SECONDS),
                Timestamp::now(),
            );
            self.finish_deletion(key, uid, grace);
        }
        true
    }

    /// Reads this agent's pods from KV and resumes them: running ones are re-attached or
    /// started again, terminating ones are stopped and removed; then pods that still run here
    /// without a record are resumed and recorded again. Nothing is stopped for want of a
    /// record. Retries while NATS is unavailable.
    pub async fn recover(
        self: &Arc<Self>,
        retry_max: Duration,
    ) -> Result<usize, everynode_bus::Error> {
        let filter = if self.nodes.is_simulated() {
            KeyFilter::all()
        } else {
            KeyFilter::node(&NodeKey::new(self.nodes.name())?)
        };
        let mut retries = Backoff::new(Duration::from_millis(200), retry_max).start();
        let listing = loop {
            match self.store.list_filtered(&filter).await {
                Ok(listing) => break listing,
                Err(err) if err.is_transient() && !self.shutdown.is_triggered() => {
                    tracing::warn!(error = %err, "cannot list pods yet; retrying");
                    tokio::time::sleep(retries.next_delay().unwrap_or(retry_max)).await;
                }
                Err(err) => return Err(err),
            }
        };
        let mut recovered = 0;
        let unreadable = listing
            .undecodable
            .iter()
            .filter(|u| {
                u.key
                    .as_ref()
                    .is_none_or(|key| self.nodes.contains(key.node()))
            })
            .count();
        if unreadable > 0 {
            tracing::warn!(
                unreadable,
                "some pod records of this node do not decode; their pods are resumed from the agent's own copies"
            );
        }
        for entry in listing.entries {
            if !self.nodes.contains(entry.key.node()) {
                continue;
            }
            let hash = content_hash(&entry.value);
            if self.resume(entry.key, entry.value, Some(hash)) {
                recovered += 1;
            }
        }
        // Pods that still run here but have no record (deleted while this agent was away, a
        // bucket that lost its data, a record that does not decode): nothing authoritative
        // said to stop them, so they are resumed and recorded again from the copy the runtime
        // kept; the controller then keeps or deletes them with a command.
        for pod in self.runtime.unrecorded(&self.table.uids()).await {
            let Some(key) = record_key(&pod) else {
                continue;
            };
            if !self.nodes.contains(key.node()) {
                continue;
            }
            tracing::info!(key = ?key, "a pod runs here without a record; recording it again");
            if self.resume(key, pod, None) {
                recovered += 1;
            }
        }
        Ok(recovered)
    }
}

/// What is left at `now` of a grace of `grace_seconds` that began at `since` (a deletion
/// resumed after the agent's restart does not start its grace over); never negative.
fn remaining_grace(since: Timestamp, grace_seconds: i64, now: Timestamp) -> i64 {
    let deadline = since.seconds.saturating_add(grace_seconds.max(0));
    deadline
        .saturating_sub(now.seconds)
        .clamp(0, grace_seconds.max(0))
}

/// The key a pod is recorded under: its node, namespace and name.
fn record_key(pod: &v1::Pod) -> Option<PodKey> {
    let meta = pod.metadata.as_ref()?;
    let node = &pod.spec.as_ref()?.node_name;
    PodKey::new(node, &meta.namespace, &meta.name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_deletion_gets_what_is_left_of_its_grace() {
        let at = Timestamp::from_seconds;
        assert_eq!(remaining_grace(at(100), 30, at(100)), 30);
        assert_eq!(remaining_grace(at(100), 30, at(112)), 18);
        assert_eq!(remaining_grace(at(100), 30, at(130)), 0);
        assert_eq!(remaining_grace(at(100), 30, at(500)), 0, "never negative");
        assert_eq!(
            remaining_grace(at(100), 30, at(90)),
            30,
            "a clock behind: no more than the grace"
        );
        assert_eq!(remaining_grace(at(100), -5, at(100)), 0);
        assert_eq!(
            remaining_grace(at(i64::MAX), i64::MAX, at(0)),
            i64::MAX,
            "no overflow"
        );
    }

    #[test]
    fn a_single_node_set_holds_exactly_its_node() {
        let nodes = NodeSet::single("worker.1");
        assert!(nodes.contains("worker.1"));
        assert!(!nodes.contains("worker.1-0"));
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes.node(0), "worker.1");
    }

    #[test]
    fn a_simulated_node_set_holds_prefix_dash_index_below_the_count() {
        let nodes = NodeSet::simulated("sim", 100);
        assert!(nodes.contains("sim-0"));
        assert!(nodes.contains("sim-99"));
        assert!(!nodes.contains("sim-100"));
        assert!(!nodes.contains("sim-01"), "not the canonical spelling of 1");
        assert!(!nodes.contains("sim-"));
        assert!(!nodes.contains("sim-+1"));
        assert!(!nodes.contains("sim"));
        assert!(!nodes.contains("other-1"));
        assert_eq!(nodes.node(7), "sim-7");
        assert_eq!(nodes.len(), 100);
    }
}
