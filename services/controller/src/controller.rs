//! The active controller: one *term* per period of leadership.
//!
//! A term owns what must not outlive leadership: the work queue, the expectations and the
//! failed-pod back-off. It starts with all of them empty (a replica that takes over never
//! trusts state from an earlier term), waits until the caches are ready, queues every
//! DaemonSet, runs `workers` reconcile loops, re-queues everything every `resync` (the backstop
//! for anything lost) and runs the pod garbage collector. When leadership ends, the term's
//! token is cancelled: in-flight reconciles are dropped (commands are idempotent), the queue
//! shuts down, and the workers are awaited.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use everynode_api::v1;
use everynode_bus::{DaemonSetKey, NodeKey, PodKey, RevisionKey, Store};
use everynode_core::planner::BackoffUpdate;
use everynode_core::planner::backoff::{self, BackoffState};
use everynode_service::Shutdown;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::admission::Admission;
use crate::agents::Agents;
use crate::cache::World;
use crate::expectations::Expectations;
use crate::queue::{RateLimit, WorkQueue};
use crate::router::Router;
use crate::{gc, reconcile};

/// The buckets the controller reads or writes directly.
#[derive(Debug, Clone)]
pub struct Stores {
    /// KV `daemonsets` (read; confirming that a DaemonSet is really gone).
    pub daemonsets: Store<DaemonSetKey, v1::DaemonSet>,
    /// KV `nodes` (read; confirming that a node is really gone).
    pub nodes: Store<NodeKey, v1::Node>,
    /// KV `pods` (keys of removed nodes are deleted by pod GC).
    pub pods: Store<PodKey, v1::Pod>,
    /// KV `revisions` (owned by the controller).
    pub revisions: Store<RevisionKey, v1::ControllerRevision>,
}

/// Tunables of the active controller.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Reconcile loops.
    pub workers: usize,
    /// Period of the full re-queue and garbage collection.
    pub resync: Duration,
    /// Most pod commands in flight per reconcile.
    pub command_concurrency: usize,
    /// Expectations older than this count as satisfied.
    pub expectations_timeout: Duration,
    /// Retry back-off of failed reconciles.
    pub retry: RateLimit,
}

/// What every term shares: the caches, the clients, the stores and the settings.
#[derive(Debug)]
pub struct Deps {
    /// The informers.
    pub world: World,
    /// Pod commands.
    pub agents: Agents,
    /// Status and finalizer writes.
    pub admission: Admission,
    /// Direct KV access.
    pub stores: Stores,
    /// Tunables.
    pub settings: Settings,
}

/// The state of one period of leadership.
#[derive(Debug)]
pub struct Term {
    /// Cancelled when leadership ends.
    pub token: CancellationToken,
    /// DaemonSet keys to reconcile.
    pub queue: WorkQueue<DaemonSetKey>,
    /// Pending creates and deletes.
    pub expectations: Expectations,
    /// Failed-pod back-off, per DaemonSet uid.
    backoff: Mutex<HashMap<String, BackoffState>>,
    /// Wakes the pod garbage collector (a node was removed).
    pub gc: Notify,
}

impl Term {
    /// A fresh term.
    pub fn new(token: CancellationToken, settings: &Settings) -> Self {
        Self {
            token,
            queue: WorkQueue::new(settings.retry),
            expectations: Expectations::new(settings.expectations_timeout),
            backoff: Mutex::new(HashMap::new()),
            gc: Notify::new(),
        }
    }

    fn backoff_lock(&self) -> MutexGuard<'_, HashMap<String, BackoffState>> {
        self.backoff
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of the failed-pod back-off of the DaemonSet `uid`.
    pub fn backoff_of(&self, uid: &str) -> BackoffState {
        self.backoff_lock().get(uid).cloned().unwrap_or_default()
    }

    /// Stores back-off entries the planner asked for.
    pub fn store_backoff(&self, uid: &str, updates: Vec<BackoffUpdate>) {
        if updates.is_empty() {
            return;
        }
        let mut all = self.backoff_lock();
        let state = all.entry(uid.to_string()).or_default();
        for update in updates {
            state.insert(update.key, update.entry);
        }
    }

    /// Drops the back-off of the DaemonSet `uid` (it is gone).
    pub fn forget_backoff(&self, uid: &str) {
        self.backoff_lock().remove(uid);
    }

    /// Drops expired back-off entries (Kubernetes does this every minute).
    pub fn gc_backoff(&self) {
        let now = crate::now();
        let mut all = self.backoff_lock();
        for state in all.values_mut() {
            backoff::gc(state, now);
        }
        all.retain(|_, state| !state.is_empty());
    }
}

/// Runs one term until `token` is cancelled (see the module docs).
pub async fn run_term(
    deps: Arc<Deps>,
    router: Arc<Router>,
    token: CancellationToken,
    shutdown: Shutdown,
) {
    let term = Arc::new(Term::new(token.clone(), &deps.settings));
    tokio::select! {
        () = token.cancelled() => return,
        () = deps.world.wait_ready() => {}
    }
    router.set_active(Some(Arc::clone(&term)));
    enqueue_all(&deps, &term);
    tracing::info!(
        workers = deps.settings.workers,
        daemonsets = deps.world.daemonsets.read(|c| c.len()),
        nodes = deps.world.nodes.read(|c| c.len()),
        pods = deps.world.pods.read(|c| c.len()),
        "active term started"
    );
    let workers: Vec<_> = (0..deps.settings.workers.max(1))
        .map(|_| shutdown.spawn(worker(Arc::clone(&deps), Arc::clone(&term))))
        .collect();
    let mut resync = tokio::time::interval(deps.settings.resync);
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut backoff_gc = tokio::time::interval(backoff::GC_INTERVAL);
    backoff_gc.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let collect = tokio::select! {
            () = token.cancelled() => break,
            _ = resync.tick() => {
                enqueue_all(&deps, &term);
                true
            }
            () = term.gc.notified() => true,
            _ = backoff_gc.tick() => {
                term.gc_backoff();
                false
            }
        };
        if collect {
            tokio::select! {
                () = token.cancelled() => break,
                result = gc::collect_pods_of_removed_nodes(&deps) => match result {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "pod GC deleted pods of removed nodes"),
                    Err(error) => tracing::warn!(%error, "pod GC failed; retrying at the next resync"),
                },
            }
        }
    }
    router.set_active(None);
    term.queue.shut_down();
    for handle in workers {
        if let Err(error) = handle.await {
            tracing::error!(%error, "a reconcile worker ended abnormally");
        }
    }
    tracing::info!("active term ended");
}

/// Queues every DaemonSet, and the keys of deleted DaemonSets that still own pods or
/// revisions (their reconcile deletes them).
fn enqueue_all(deps: &Deps, term: &Term) {
    let mut keys = deps.world.daemonsets.read(|c| c.all_keys());
    let mut owners = deps.world.pods.read(|c| c.daemon_set_owners());
    owners.extend(deps.world.revisions.read(|c| c.daemon_set_owners()));
    for (uid, namespace, name) in owners {
        if deps.world.daemonsets.read(|c| c.has_uid(&uid)) {
            continue;
        }
        if let Ok(key) = DaemonSetKey::new(namespace, name) {
            keys.push(key);
        }
    }
    for key in keys {
        term.queue.add(key);
    }
}

/// One reconcile loop: take a key, reconcile it, retry it with back-off on failure.
async fn worker(deps: Arc<Deps>, term: Arc<Term>) {
    while let Some(key) = term.queue.get().await {
        let started = tokio::time::Instant::now();
        let result = tokio::select! {
            () = term.token.cancelled() => {
                term.queue.done(&key);
                break;
            }
            result = reconcile::sync(&deps, &term, &key) => result,
        };
        let elapsed = started.elapsed();
        let name = format!("{}/{}", key.namespace(), key.name());
        match result {
            Ok(requeue) => {
                term.queue.forget(&key);
                if let Some(after) = requeue {
                    term.queue.add_after(key.clone(), after);
                }
                tracing::debug!(daemonset = %name, ?elapsed, ?requeue, "reconciled");
            }
            Err(error) => {
                let failures = term.queue.failures(&key) + 1;
                if failures <= 3 {
                    tracing::info!(daemonset = %name, %error, failures, "reconcile failed; retrying");
                } else {
                    tracing::warn!(daemonset = %name, %error, failures, "reconcile failed; retrying");
                }
                term.queue.add_rate_limited(key.clone());
            }
        }
        term.queue.done(&key);
    }
}

#[cfg(test)]
mod tests {
    use everynode_core::model::Timestamp;
    use everynode_core::planner::BackoffEntry;

    use super::*;

    fn term() -> Term {
        Term::new(
            CancellationToken::new(),
            &Settings {
                workers: 1,
                resync: Duration::from_secs(30),
                command_concurrency: 1,
                expectations_timeout: Duration::from_secs(300),
                retry: RateLimit {
                    base: Duration::from_millis(5),
                    max: Duration::from_secs(1),
                },
            },
        )
    }

    fn update(node: &str, delay: Duration, at: Timestamp) -> BackoffUpdate {
        BackoffUpdate {
            key: format!("ds/1/{node}"),
            node: node.to_string(),
            entry: BackoffEntry {
                delay,
                last_update: at,
            },
        }
    }

    #[test]
    fn failed_pod_back_off_is_kept_per_daemonset_and_replaced_by_newer_entries() {
        let t = term();
        let now = crate::now();
        t.store_backoff("ds", vec![update("n1", Duration::from_secs(1), now)]);
        t.store_backoff("other", vec![update("n1", Duration::from_secs(8), now)]);
        t.store_backoff("ds", vec![update("n1", Duration::from_secs(2), now)]);
        let state = t.backoff_of("ds");
        assert_eq!(state.len(), 1);
        assert_eq!(state["ds/1/n1"].delay, Duration::from_secs(2));
        assert!(t.backoff_of("unknown").is_empty());
        t.forget_backoff("ds");
        assert!(t.backoff_of("ds").is_empty());
        assert_eq!(t.backoff_of("other").len(), 1);
    }

    #[test]
    fn back_off_entries_expire_after_twice_the_maximum_delay() {
        let t = term();
        let now = crate::now();
        let long_ago = Timestamp::from_seconds(now.seconds - 2 * 15 * 60 - 1);
        t.store_backoff(
            "ds",
            vec![
                update("old", Duration::from_secs(1), long_ago),
                update("new", Duration::from_secs(1), now),
            ],
        );
        t.store_backoff(
            "gone",
            vec![update("old", Duration::from_secs(1), long_ago)],
        );
        t.gc_backoff();
        let kept: Vec<String> = t.backoff_of("ds").into_keys().collect();
        assert_eq!(kept, ["ds/1/new"]);
        assert!(t.backoff_of("gone").is_empty());
    }
}
