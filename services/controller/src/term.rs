//! What an active controller works with: the [`Deps`] every term shares (caches, effects,
//! settings) and the [`Term`] — the state of one period of leadership.
//!
//! A term owns what must not outlive leadership: the work queue, the expectations and the
//! failed-pod back-off. It starts with all of them empty: a replica that takes over never
//! trusts state from an earlier term.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use everynode_bus::DaemonSetKey;
use everynode_core::model::Timestamp;
use everynode_core::planner::BackoffUpdate;
use everynode_core::planner::backoff::{self, BackoffState};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::cache::World;
use crate::expectations::Expectations;
use crate::queue::WorkQueue;
use everynode_core::retry::Backoff;

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
    pub retry: Backoff,
}

/// What every term shares: the caches, the outside world and the settings.
#[derive(Debug)]
pub struct Deps<E> {
    /// The informers: the current state every decision is made from.
    pub world: World,
    /// Everything the controller does (and the reads that confirm a deletion).
    pub effects: E,
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
    /// The lease term this period of leadership holds: every command it sends carries it.
    pub fence: u64,
}

impl Term {
    /// A fresh term holding the lease term `fence`.
    pub fn new(token: CancellationToken, settings: &Settings, fence: u64) -> Self {
        Self {
            fence,
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
        let now = Timestamp::now();
        let mut all = self.backoff_lock();
        for state in all.values_mut() {
            backoff::gc(state, now);
        }
        all.retain(|_, state| !state.is_empty());
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
            &crate::testing::settings(),
            crate::testing::TEST_FENCE,
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
        let now = Timestamp::now();
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
        let now = Timestamp::now();
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
