//! Expectations (Kubernetes: `UIDTrackingControllerExpectations`): the pod creates and deletes
//! the controller sent for a DaemonSet and has not seen in the pod cache yet.
//!
//! Before sending commands, the executor records the uids it is about to create (with their
//! node) and delete. While any of them is pending, the DaemonSet's reconcile plans no pod work
//! (status only), so a slow agent or a slow watch never gets a second pod for one node. A
//! pending uid is lowered when
//! - the pod cache shows it (a create) or shows it gone or terminating (a delete),
//! - the command failed or was skipped (slow start stopped),
//! - or the whole record is older than the timeout (Kubernetes: 5 minutes), as a backstop for
//!   a lost observation.
//!
//! Tracking uids rather than counters means an observation is never counted twice, and a
//! record made for an earlier incarnation of the DaemonSet (another uid) is dropped.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use everynode_bus::DaemonSetKey;

/// Kubernetes' `ExpectationsTimeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug)]
struct Record {
    ds_uid: String,
    /// Pod uid → node, for pods being created.
    creates: HashMap<String, String>,
    /// Pod uids being deleted.
    deletes: HashSet<String>,
    /// When expectations were last raised.
    since: Instant,
}

#[derive(Debug, Default)]
struct State {
    records: HashMap<DaemonSetKey, Record>,
    /// Pending pod uid → the DaemonSet that expects it.
    owners: HashMap<String, DaemonSetKey>,
}

/// The pending creates and deletes of every DaemonSet.
#[derive(Debug)]
pub struct Expectations {
    timeout: Duration,
    state: Mutex<State>,
}

impl Expectations {
    /// No expectations; records older than `timeout` count as satisfied.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records the creates (`(pod uid, node)`) and deletes (pod uids) about to be sent for the
    /// DaemonSet `key` with uid `ds_uid`.
    pub fn expect(
        &self,
        key: &DaemonSetKey,
        ds_uid: &str,
        creates: impl IntoIterator<Item = (String, String)>,
        deletes: impl IntoIterator<Item = String>,
        now: Instant,
    ) {
        let mut state = self.lock();
        let State { records, owners } = &mut *state;
        let record = records.entry(key.clone()).or_insert_with(|| Record {
            ds_uid: ds_uid.to_string(),
            creates: HashMap::new(),
            deletes: HashSet::new(),
            since: now,
        });
        if record.ds_uid != ds_uid {
            for uid in record.creates.keys().chain(record.deletes.iter()) {
                owners.remove(uid);
            }
            record.creates.clear();
            record.deletes.clear();
            record.ds_uid = ds_uid.to_string();
        }
        record.since = now;
        for (uid, node) in creates {
            owners.insert(uid.clone(), key.clone());
            record.creates.insert(uid, node);
        }
        for uid in deletes {
            owners.insert(uid.clone(), key.clone());
            record.deletes.insert(uid);
        }
    }

    /// A pod with `uid` was seen (created), or its create failed or was skipped.
    pub fn lower_create(&self, uid: &str) {
        self.lower(uid, |record| record.creates.remove(uid).is_some());
    }

    /// A pod with `uid` was seen gone or terminating, or its delete failed.
    pub fn lower_delete(&self, uid: &str) {
        self.lower(uid, |record| record.deletes.remove(uid));
    }

    fn lower(&self, uid: &str, remove: impl FnOnce(&mut Record) -> bool) {
        let mut state = self.lock();
        let State { records, owners } = &mut *state;
        let Some(key) = owners.get(uid) else {
            return;
        };
        let Some(record) = records.get_mut(key) else {
            owners.remove(uid);
            return;
        };
        if remove(record) {
            let still_pending = record.creates.contains_key(uid) || record.deletes.contains(uid);
            if !still_pending {
                owners.remove(uid);
            }
        }
    }

    /// True when the DaemonSet `key` (uid `ds_uid`) may plan pod work: nothing pending, the
    /// record belongs to another uid, or it timed out (then it is dropped).
    pub fn satisfied(&self, key: &DaemonSetKey, ds_uid: &str, now: Instant) -> bool {
        let mut state = self.lock();
        let Some(record) = state.records.get(key) else {
            return true;
        };
        let expired = now.saturating_duration_since(record.since) > self.timeout;
        let done = record.creates.is_empty() && record.deletes.is_empty();
        if record.ds_uid == ds_uid && !done && !expired {
            return false;
        }
        if expired && !done && record.ds_uid == ds_uid {
            tracing::warn!(
                daemonset = %format!("{}/{}", key.namespace(), key.name()),
                creates = record.creates.len(),
                deletes = record.deletes.len(),
                "expectations timed out; planning again"
            );
        }
        drop_record(&mut state, key);
        true
    }

    /// Drops the record of `key` (the DaemonSet is gone).
    pub fn forget(&self, key: &DaemonSetKey) {
        drop_record(&mut self.lock(), key);
    }

    /// The pending `(creates, deletes)` of `key`.
    pub fn pending(&self, key: &DaemonSetKey) -> (usize, usize) {
        self.lock()
            .records
            .get(key)
            .map_or((0, 0), |r| (r.creates.len(), r.deletes.len()))
    }

    /// The nodes with a pending create for `key`.
    pub fn pending_nodes(&self, key: &DaemonSetKey) -> Vec<String> {
        self.lock()
            .records
            .get(key)
            .map(|r| r.creates.values().cloned().collect())
            .unwrap_or_default()
    }
}

fn drop_record(state: &mut State, key: &DaemonSetKey) {
    if let Some(record) = state.records.remove(key) {
        for uid in record.creates.keys().chain(record.deletes.iter()) {
            state.owners.remove(uid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DaemonSetKey {
        DaemonSetKey::new("default", "ds").unwrap()
    }

    fn creates(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(u, n)| (u.to_string(), n.to_string()))
            .collect()
    }

    #[test]
    fn pending_creates_block_until_observed() {
        let e = Expectations::new(DEFAULT_TIMEOUT);
        let now = Instant::now();
        assert!(e.satisfied(&key(), "u", now));
        e.expect(&key(), "u", creates(&[("p1", "n1"), ("p2", "n2")]), [], now);
        assert!(!e.satisfied(&key(), "u", now));
        assert_eq!(e.pending_nodes(&key()).len(), 2);
        e.lower_create("p1");
        e.lower_create("p1");
        assert_eq!(e.pending(&key()), (1, 0));
        e.lower_create("p2");
        assert!(e.satisfied(&key(), "u", now));
        assert_eq!(e.pending(&key()), (0, 0));
    }

    #[test]
    fn a_delete_is_lowered_only_as_a_delete() {
        let e = Expectations::new(DEFAULT_TIMEOUT);
        let now = Instant::now();
        e.expect(&key(), "u", [], ["p1".to_string()], now);
        e.lower_create("p1");
        assert!(!e.satisfied(&key(), "u", now));
        e.lower_delete("p1");
        assert!(e.satisfied(&key(), "u", now));
    }

    #[test]
    fn expectations_time_out() {
        let e = Expectations::new(Duration::from_secs(300));
        let now = Instant::now();
        e.expect(&key(), "u", creates(&[("p1", "n1")]), [], now);
        assert!(!e.satisfied(&key(), "u", now + Duration::from_secs(299)));
        assert!(e.satisfied(&key(), "u", now + Duration::from_secs(301)));
        assert_eq!(e.pending(&key()), (0, 0));
    }

    #[test]
    fn a_recreated_daemonset_starts_with_fresh_expectations() {
        let e = Expectations::new(DEFAULT_TIMEOUT);
        let now = Instant::now();
        e.expect(&key(), "old", creates(&[("p1", "n1")]), [], now);
        assert!(e.satisfied(&key(), "new", now));
        e.expect(&key(), "new", creates(&[("p2", "n1")]), [], now);
        e.expect(&key(), "old2", creates(&[("p3", "n1")]), [], now);
        assert_eq!(e.pending(&key()), (1, 0));
        e.lower_create("p2");
        assert_eq!(
            e.pending(&key()),
            (1, 0),
            "p2 belonged to the replaced record"
        );
    }

    #[test]
    fn forget_drops_everything_of_a_daemonset() {
        let e = Expectations::new(DEFAULT_TIMEOUT);
        let now = Instant::now();
        e.expect(
            &key(),
            "u",
            creates(&[("p1", "n1")]),
            ["p2".to_string()],
            now,
        );
        e.forget(&key());
        assert!(e.satisfied(&key(), "u", now));
        e.lower_create("p1");
        assert_eq!(e.pending(&key()), (0, 0));
    }
}
