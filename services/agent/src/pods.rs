//! The agent's pods: one table of every pod this process runs (for all of its nodes), and the
//! writer that mirrors the table into KV `pods`.
//!
//! The table is the single source of what the agent believes: the command handler adds and
//! removes pods, runtimes update statuses through a [`PodSink`], and the [`run_writer`] task
//! writes every entry that changed. The writer is where "never more often than needed" lives:
//! - a status update that changes nothing is dropped by [`PodTable::update_status`];
//! - updates arriving while a key waits or is being written coalesce into one write of the
//!   latest value (a key is queued at most once and written by at most one write at a time);
//! - a value whose encoding hashes like the last one written is not written again.
//!
//! Deleting goes through the writer too ([`PodTable::delete`]), so a status write can never
//! land after the key's deletion and resurrect it. Failed writes are retried with capped
//! back-off (NATS may be down) and keep coalescing meanwhile. On shutdown the writer drains its
//! queue within the shutdown grace.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use everynode_api::v1;
use everynode_bus::{PodKey, Store};
use everynode_core::model::{OwnerReference, Pod, PodStatus, Timestamp};
use everynode_service::Shutdown;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use prost::Message;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

/// Where a pod is in its life on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Running (or starting, or crash looping).
    Active,
    /// A delete was accepted; its containers are being stopped.
    Terminating,
    /// Stopped; its key is being deleted.
    Deleting,
}

#[derive(Debug)]
struct Entry {
    pod: Pod,
    stage: Stage,
    /// In the writer's queue (or to be re-queued once the write in flight finishes).
    queued: bool,
    /// Hash of the last value written to KV.
    written: Option<u64>,
    /// Told when the key has been deleted.
    deleted: Vec<oneshot::Sender<()>>,
    /// Counts changes of `pod`.
    version: u64,
    /// Told once KV holds version `.0` or later.
    flushed: Vec<(u64, oneshot::Sender<()>)>,
}

/// A pod's termination, as [`PodTable::begin_termination`] found or began it.
#[derive(Debug)]
pub struct Termination {
    /// The pod, with its deletion timestamp.
    pub pod: Pod,
    /// Whether this call began it (false: it was terminating already).
    pub started: bool,
    /// Resolves once KV holds the terminating record or no longer holds the key (the sender
    /// is dropped when the key is removed): from then on a restarted agent resumes the
    /// deletion instead of the pod.
    pub recorded: oneshot::Receiver<()>,
}

impl Entry {
    /// Notes a change and queues the key; returns whether it must be pushed onto the queue.
    fn changed(&mut self) -> bool {
        self.version += 1;
        let push = !self.queued;
        self.queued = true;
        push
    }

    /// Tells the waiters for versions up to `version` that KV has it.
    fn flushed_up_to(&mut self, version: u64) {
        let (done, waiting): (Vec<_>, Vec<_>) =
            self.flushed.drain(..).partition(|(v, _)| *v <= version);
        self.flushed = waiting;
        for (_, waiter) in done {
            let _ = waiter.send(());
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    pods: HashMap<PodKey, Entry>,
    queue: VecDeque<PodKey>,
}

/// Every pod of this agent process, keyed like KV `pods`.
#[derive(Debug, Default)]
pub struct PodTable {
    inner: Mutex<Inner>,
    notify: Notify,
}

/// A pod as the table holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The pod (spec and latest status).
    pub pod: Pod,
    /// Its stage.
    pub stage: Stage,
}

/// The uid of a pod, or `""`.
pub fn uid_of(pod: &Pod) -> &str {
    pod.metadata.as_ref().map_or("", |m| m.uid.as_str())
}

/// The hash the writer compares: of the pod's protobuf encoding (deterministic: maps are
/// ordered).
pub fn content_hash(pod: &v1::Pod) -> u64 {
    let mut hasher = DefaultHasher::new();
    pod.encode_to_vec().hash(&mut hasher);
    hasher.finish()
}

impl PodTable {
    /// An empty table.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (no multi-step invariants
        // span an unlock), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pod under `key`, if any.
    pub fn get(&self, key: &PodKey) -> Option<Snapshot> {
        self.lock().pods.get(key).map(|e| Snapshot {
            pod: e.pod.clone(),
            stage: e.stage,
        })
    }

    /// How many pods the table holds.
    pub fn len(&self) -> usize {
        self.lock().pods.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The uids of every pod in the table.
    pub fn uids(&self) -> HashSet<String> {
        self.lock()
            .pods
            .values()
            .map(|e| uid_of(&e.pod).to_owned())
            .collect()
    }

    /// Adds a pod that is (or is about to be) in KV with exactly this value (`written`: the
    /// hash of what KV holds, `None` to have the writer write it). Returns the existing entry
    /// instead if the key is taken.
    pub fn insert(
        &self,
        key: PodKey,
        pod: Pod,
        stage: Stage,
        written: Option<u64>,
    ) -> Result<(), Box<Snapshot>> {
        let mut inner = self.lock();
        if let Some(existing) = inner.pods.get(&key) {
            return Err(Box::new(Snapshot {
                pod: existing.pod.clone(),
                stage: existing.stage,
            }));
        }
        let queued = written.is_none();
        inner.pods.insert(
            key.clone(),
            Entry {
                pod,
                stage,
                queued,
                written,
                deleted: Vec::new(),
                version: 0,
                flushed: Vec::new(),
            },
        );
        if queued {
            inner.queue.push_back(key);
            drop(inner);
            self.notify.notify_one();
        }
        Ok(())
    }

    /// Records that KV holds a value with hash `hash` for `key` (written by the caller).
    pub fn mark_written(&self, key: &PodKey, uid: &str, hash: u64) {
        if let Some(entry) = self.lock().pods.get_mut(key)
            && uid_of(&entry.pod) == uid
        {
            entry.written = Some(hash);
        }
    }

    /// Removes `key` if it still holds the pod `uid` (a create that could not be recorded).
    pub fn remove(&self, key: &PodKey, uid: &str) {
        let mut inner = self.lock();
        if inner.pods.get(key).is_some_and(|e| uid_of(&e.pod) == uid) {
            inner.pods.remove(key);
        }
    }

    /// Replaces the status of pod `uid` under `key` with `status(pod)` if that differs from
    /// the current one; ignored once the pod is being deleted or replaced.
    pub fn update_status(&self, key: &PodKey, uid: &str, status: impl FnOnce(&Pod) -> PodStatus) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(entry) = inner.pods.get_mut(key) else {
            return;
        };
        if uid_of(&entry.pod) != uid || entry.stage == Stage::Deleting {
            return;
        }
        let status = status(&entry.pod);
        if entry.pod.status.as_ref() == Some(&status) {
            return;
        }
        entry.pod.status = Some(status);
        if entry.changed() {
            inner.queue.push_back(key.clone());
            self.notify.notify_one();
        }
    }

    /// Replaces the owner references of pod `uid` (any uid if empty) under `key`; returns the
    /// pod and a receiver that resolves once KV holds the change. `None` if there is no such
    /// pod.
    pub fn set_owner_references(
        &self,
        key: &PodKey,
        uid: &str,
        owner_references: Vec<OwnerReference>,
    ) -> Option<(Pod, oneshot::Receiver<()>)> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let entry = inner.pods.get_mut(key)?;
        if (!uid.is_empty() && uid_of(&entry.pod) != uid) || entry.stage == Stage::Deleting {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        let meta = entry.pod.metadata.get_or_insert_with(Default::default);
        meta.owner_references = owner_references;
        if entry.changed() {
            inner.queue.push_back(key.clone());
            self.notify.notify_one();
        }
        entry.flushed.push((entry.version, tx));
        Some((entry.pod.clone(), rx))
    }

    /// Marks pod `uid` as terminating (deletion timestamp and grace set, written to KV); `None`
    /// if the key holds another pod or none. A pod already terminating is left as it is.
    pub fn begin_termination(
        &self,
        key: &PodKey,
        uid: &str,
        grace_seconds: i64,
        now: Timestamp,
    ) -> Option<Termination> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let entry = inner.pods.get_mut(key)?;
        if uid_of(&entry.pod) != uid {
            return None;
        }
        let started = entry.stage == Stage::Active;
        if started {
            entry.stage = Stage::Terminating;
            let meta = entry.pod.metadata.get_or_insert_with(Default::default);
            meta.deletion_timestamp = Some(now);
            meta.deletion_grace_period_seconds = Some(grace_seconds);
            if entry.changed() {
                inner.queue.push_back(key.clone());
                self.notify.notify_one();
            }
        }
        let (tx, recorded) = oneshot::channel();
        if entry.stage == Stage::Deleting {
            // The key's removal is queued: it resolves `recorded` by dropping the sender.
            entry.deleted.push(tx);
        } else {
            entry.flushed.push((entry.version, tx));
        }
        Some(Termination {
            pod: entry.pod.clone(),
            started,
            recorded,
        })
    }

    /// Deletes `key` from KV (after any write in flight) and from the table; the receiver
    /// resolves once the key is gone.
    pub fn delete(&self, key: &PodKey) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(entry) = inner.pods.get_mut(key) else {
            let _ = tx.send(());
            return rx;
        };
        entry.stage = Stage::Deleting;
        entry.deleted.push(tx);
        if entry.changed() {
            inner.queue.push_back(key.clone());
            self.notify.notify_one();
        }
        rx
    }

    /// The next write to do, skipping keys with a write in flight (they are re-queued when it
    /// completes).
    fn next_job(&self, in_flight: &HashSet<PodKey>) -> Option<Job> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        loop {
            let key = inner.queue.pop_front()?;
            if in_flight.contains(&key) {
                // Stays marked `queued`: `complete` puts it back when its write is done.
                continue;
            }
            let Some(entry) = inner.pods.get_mut(&key) else {
                continue;
            };
            entry.queued = false;
            if entry.stage == Stage::Deleting {
                return Some(Job::Delete(key));
            }
            let value = v1::Pod::from(entry.pod.clone());
            let hash = content_hash(&value);
            if entry.written == Some(hash) {
                entry.flushed_up_to(entry.version);
                continue;
            }
            let version = entry.version;
            return Some(Job::Put {
                key,
                value: Box::new(value),
                hash,
                version,
            });
        }
    }

    fn complete(&self, key: &PodKey, outcome: Done) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        match outcome {
            Done::Put(hash, version) => {
                if let Some(entry) = inner.pods.get_mut(key) {
                    entry.written = Some(hash);
                    entry.flushed_up_to(version);
                    if entry.queued {
                        inner.queue.push_back(key.clone());
                    }
                }
            }
            Done::Deleted => {
                if let Some(entry) = inner.pods.remove(key) {
                    for waiter in entry.deleted {
                        let _ = waiter.send(());
                    }
                }
            }
            Done::Failed => {
                if let Some(entry) = inner.pods.get_mut(key) {
                    entry.queued = true;
                }
            }
        }
    }

    fn requeue(&self, keys: Vec<PodKey>) {
        let mut inner = self.lock();
        for key in keys {
            if inner.pods.contains_key(&key) {
                inner.queue.push_back(key);
            }
        }
    }

    fn has_work(&self) -> bool {
        !self.lock().queue.is_empty()
    }
}

/// Where a runtime reports the status of one pod.
#[derive(Debug, Clone)]
pub struct PodSink {
    table: Arc<PodTable>,
    key: PodKey,
    uid: String,
}

impl PodSink {
    /// A sink for pod `uid` under `key`.
    pub fn new(table: Arc<PodTable>, key: PodKey, uid: String) -> Self {
        Self { table, key, uid }
    }

    /// The pod's key.
    pub fn key(&self) -> &PodKey {
        &self.key
    }

    /// The pod's uid.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// Sets the pod's status to `status(pod)`; written to KV if it changed.
    pub fn update(&self, status: impl FnOnce(&Pod) -> PodStatus) {
        self.table.update_status(&self.key, &self.uid, status);
    }
}

#[derive(Debug)]
enum Job {
    Put {
        key: PodKey,
        value: Box<v1::Pod>,
        hash: u64,
        version: u64,
    },
    Delete(PodKey),
}

#[derive(Debug, Clone, Copy)]
enum Done {
    Put(u64, u64),
    Deleted,
    Failed,
}

/// The writer settings.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Writes in flight at once.
    pub concurrency: usize,
    /// First retry delay after a failed write.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
}

/// Mirrors `table` into `store` until shutdown, then drains the queue within the grace.
pub async fn run_writer(
    table: Arc<PodTable>,
    store: Store<PodKey, v1::Pod>,
    config: WriterConfig,
    shutdown: Shutdown,
) {
    let mut in_flight = FuturesUnordered::new();
    let mut busy: HashSet<PodKey> = HashSet::new();
    let mut failed: Vec<PodKey> = Vec::new();
    let mut retry_delay = config.retry_base;
    let mut retry_at: Option<Instant> = None;
    let grace = shutdown.grace_elapsed();
    tokio::pin!(grace);
    loop {
        while in_flight.len() < config.concurrency.max(1) {
            let Some(job) = table.next_job(&busy) else {
                break;
            };
            let store = store.clone();
            let key = match &job {
                Job::Put { key, .. } | Job::Delete(key) => key.clone(),
            };
            busy.insert(key.clone());
            in_flight.push(async move {
                let done = match job {
                    Job::Put {
                        key,
                        value,
                        hash,
                        version,
                    } => match store.put(&key, value.as_ref()).await {
                        Ok(_) => Done::Put(hash, version),
                        Err(err) => {
                            tracing::warn!(key = ?key, error = %err, "writing pod status failed; will retry");
                            Done::Failed
                        }
                    },
                    Job::Delete(key) => match store.delete(&key, None).await {
                        Ok(()) => Done::Deleted,
                        Err(err) => {
                            tracing::warn!(key = ?key, error = %err, "deleting pod key failed; will retry");
                            Done::Failed
                        }
                    },
                };
                (key, done)
            });
        }
        if shutdown.is_triggered() && in_flight.is_empty() && failed.is_empty() && !table.has_work()
        {
            return;
        }
        tokio::select! {
            Some((key, done)) = in_flight.next(), if !in_flight.is_empty() => {
                busy.remove(&key);
                table.complete(&key, done);
                if matches!(done, Done::Failed) {
                    failed.push(key);
                    if retry_at.is_none() {
                        retry_at = Some(Instant::now() + retry_delay);
                        retry_delay = retry_delay.saturating_mul(2).min(config.retry_max);
                    }
                } else if failed.is_empty() {
                    retry_delay = config.retry_base;
                }
            }
            () = table.notify.notified() => {}
            () = async {
                match retry_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                retry_at = None;
                table.requeue(std::mem::take(&mut failed));
            }
            () = shutdown.signal(), if !shutdown.is_triggered() => {}
            () = &mut grace => {
                tracing::warn!("shutdown grace over with pod writes pending");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use everynode_core::model::ObjectMeta;

    use super::*;

    fn pod(uid: &str) -> Pod {
        Pod {
            metadata: Some(ObjectMeta {
                name: "p".to_owned(),
                namespace: "ns".to_owned(),
                uid: uid.to_owned(),
                ..ObjectMeta::default()
            }),
            ..Pod::default()
        }
    }

    fn key() -> PodKey {
        PodKey::new("n1", "ns", "p").unwrap()
    }

    fn status(phase: &str) -> PodStatus {
        PodStatus {
            phase: phase.to_owned(),
            ..PodStatus::default()
        }
    }

    fn drain(table: &PodTable) -> Vec<Job> {
        let mut jobs = Vec::new();
        while let Some(job) = table.next_job(&HashSet::new()) {
            jobs.push(job);
        }
        jobs
    }

    #[test]
    fn a_second_pod_under_a_key_is_refused_with_the_first() {
        let table = PodTable::new();
        table.insert(key(), pod("u1"), Stage::Active, None).unwrap();
        let existing = table
            .insert(key(), pod("u2"), Stage::Active, None)
            .unwrap_err();
        assert_eq!(uid_of(&existing.pod), "u1");
    }

    #[test]
    fn updates_coalesce_into_one_write_of_the_latest_status() {
        let table = PodTable::new();
        let value = v1::Pod::from(pod("u1"));
        table
            .insert(key(), pod("u1"), Stage::Active, Some(content_hash(&value)))
            .unwrap();
        assert!(drain(&table).is_empty(), "nothing changed yet");
        for phase in ["Pending", "Running", "Running", "Failed", "Running"] {
            table.update_status(&key(), "u1", |_| status(phase));
        }
        let jobs = drain(&table);
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        let Job::Put { value, .. } = &jobs[0] else {
            panic!("{jobs:?}")
        };
        assert_eq!(value.status.as_ref().unwrap().phase, "Running");
    }

    #[test]
    fn an_unchanged_status_queues_nothing_and_a_reverted_one_is_not_rewritten() {
        let table = PodTable::new();
        let mut first = pod("u1");
        first.status = Some(status("Pending"));
        table.insert(key(), first, Stage::Active, None).unwrap();
        let Some(Job::Put { hash, .. }) = table.next_job(&HashSet::new()) else {
            panic!("the new pod must be written")
        };
        table.complete(&key(), Done::Put(hash, 0));
        table.update_status(&key(), "u1", |_| status("Running"));
        table.update_status(&key(), "u1", |_| status("Pending"));
        // The status went back to what KV holds: the hash matches, nothing is written.
        assert!(drain(&table).is_empty());
    }

    #[test]
    fn statuses_of_another_uid_or_of_a_deleting_pod_are_ignored() {
        let table = PodTable::new();
        table.insert(key(), pod("u1"), Stage::Active, None).unwrap();
        drain(&table);
        table.update_status(&key(), "other", |_| status("Running"));
        assert!(drain(&table).is_empty());
        let _deleted = table.delete(&key());
        table.update_status(&key(), "u1", |_| status("Running"));
        let jobs = drain(&table);
        assert!(matches!(jobs.as_slice(), [Job::Delete(_)]), "{jobs:?}");
    }

    #[tokio::test]
    async fn a_key_written_right_now_is_written_again_after_the_write_completes() {
        let table = PodTable::new();
        table.insert(key(), pod("u1"), Stage::Active, None).unwrap();
        let Some(Job::Put { hash, .. }) = table.next_job(&HashSet::new()) else {
            panic!("expected a put")
        };
        table.update_status(&key(), "u1", |_| status("Running"));
        let busy: HashSet<PodKey> = [key()].into();
        assert!(
            table.next_job(&busy).is_none(),
            "one write per key at a time"
        );
        table.complete(&key(), Done::Put(hash, 0));
        let job = table.next_job(&HashSet::new());
        assert!(matches!(job, Some(Job::Put { .. })), "{job:?}");
    }

    #[tokio::test]
    async fn a_termination_is_recorded_only_once_kv_holds_it() {
        let table = PodTable::new();
        table.insert(key(), pod("u1"), Stage::Active, None).unwrap();
        let Some(Job::Put { hash, version, .. }) = table.next_job(&HashSet::new()) else {
            panic!("the new pod must be written")
        };
        table.complete(&key(), Done::Put(hash, version));
        assert!(
            table
                .begin_termination(&key(), "other", 30, Timestamp::from_seconds(9))
                .is_none(),
            "another uid"
        );
        let mut first = table
            .begin_termination(&key(), "u1", 30, Timestamp::from_seconds(9))
            .unwrap();
        assert!(first.started);
        let mut again = table
            .begin_termination(&key(), "u1", 5, Timestamp::from_seconds(12))
            .unwrap();
        assert!(!again.started, "terminating already");
        assert_eq!(
            again
                .pod
                .metadata
                .as_ref()
                .unwrap()
                .deletion_grace_period_seconds,
            Some(30),
            "the first termination stands"
        );
        let Some(Job::Put {
            value,
            hash,
            version,
            ..
        }) = table.next_job(&HashSet::new())
        else {
            panic!("the terminating record must be written")
        };
        assert!(value.metadata.unwrap().deletion_timestamp.is_some());
        assert!(first.recorded.try_recv().is_err(), "not before the write");
        assert!(again.recorded.try_recv().is_err(), "not before the write");
        table.complete(&key(), Done::Put(hash, version));
        first.recorded.await.unwrap();
        again.recorded.await.unwrap();

        // Asked again once the key's removal is queued: resolved when the key is gone.
        let deleted = table.delete(&key());
        let last = table
            .begin_termination(&key(), "u1", 30, Timestamp::from_seconds(20))
            .unwrap();
        assert!(!last.started);
        let jobs = drain(&table);
        assert!(matches!(jobs.as_slice(), [Job::Delete(_)]), "{jobs:?}");
        table.complete(&key(), Done::Deleted);
        deleted.await.unwrap();
        last.recorded.await.unwrap();
    }

    #[tokio::test]
    async fn deletion_resolves_once_the_key_is_gone() {
        let table = PodTable::new();
        table.insert(key(), pod("u1"), Stage::Active, None).unwrap();
        drain(&table);
        let terminating = table
            .begin_termination(&key(), "u1", 30, Timestamp::from_seconds(9))
            .unwrap();
        assert!(terminating.started);
        assert_eq!(
            terminating.pod.metadata.unwrap().deletion_timestamp,
            Some(Timestamp::from_seconds(9))
        );
        let deleted = table.delete(&key());
        let jobs = drain(&table);
        assert!(matches!(jobs.as_slice(), [Job::Delete(_)]), "{jobs:?}");
        table.complete(&key(), Done::Deleted);
        deleted.await.unwrap();
        assert!(table.get(&key()).is_none());
    }
}
