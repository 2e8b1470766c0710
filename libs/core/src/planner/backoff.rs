//! Back-off for deleting failed daemon pods (Kubernetes: the controller's `failedPodsBackoff`, a
//! `flowcontrol.Backoff` of 1 s doubling to 15 min, without jitter).
//!
//! The state is plain data owned by the executor ([`BackoffState`], keyed by [`backoff_key`]);
//! the planner only reads it and returns the entries to store ([`crate::planner::BackoffUpdate`]).
//! The executor drops stale entries with [`gc`] (Kubernetes runs that every minute).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::{DaemonSet, Timestamp};

/// First delay after a failed pod was deleted on a node.
pub const INITIAL_DELAY: Duration = Duration::from_secs(1);
/// Longest delay; an entry untouched for twice this long starts over.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// How often Kubernetes garbage-collects back-off entries (a suggestion for the executor).
pub const GC_INTERVAL: Duration = Duration::from_secs(60);

/// The back-off of one key: the current delay and when it was last bumped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffEntry {
    /// How long after `last_update` a failed pod on this node may be deleted again.
    pub delay: Duration,
    /// When the delay was last set (when the last failed pod was deleted).
    pub last_update: Timestamp,
}

/// Every back-off entry the executor keeps, by [`backoff_key`].
pub type BackoffState = BTreeMap<String, BackoffEntry>;

/// The key of a node's back-off: `<ds.uid>/<ds.status.observedGeneration>/<node>` (Kubernetes:
/// `failedPodsBackoffKey`), so a new generation of the DaemonSet starts without back-off.
pub fn backoff_key(ds: &DaemonSet, node: &str) -> String {
    let uid = ds.metadata.as_ref().map_or("", |m| m.uid.as_str());
    let generation = ds.status.as_ref().map_or(0, |s| s.observed_generation);
    format!("{uid}/{generation}/{node}")
}

/// True while `entry` forbids another deletion at `now` (Kubernetes:
/// `IsInBackOffSinceUpdate`): less than `delay` has passed since `last_update`, and the entry
/// has not expired.
pub fn in_backoff(entry: &BackoffEntry, now: Timestamp) -> bool {
    let elapsed = since(entry.last_update, now);
    !expired(elapsed) && elapsed < nanos(entry.delay)
}

/// Time left before `entry` allows a deletion at `now` (zero when it already does).
pub fn remaining(entry: &BackoffEntry, now: Timestamp) -> Duration {
    if !in_backoff(entry, now) {
        return Duration::ZERO;
    }
    let left = nanos(entry.delay) - since(entry.last_update, now);
    Duration::from_nanos(u64::try_from(left).unwrap_or(0))
}

/// The entry after a deletion at `now` (Kubernetes: `Backoff.Next`): [`INITIAL_DELAY`] when there
/// was none or it expired, else the delay doubled, at most [`MAX_DELAY`].
pub fn next(previous: Option<&BackoffEntry>, now: Timestamp) -> BackoffEntry {
    let delay = match previous {
        Some(p) if !expired(since(p.last_update, now)) => {
            (p.delay.saturating_mul(2)).min(MAX_DELAY)
        }
        _ => INITIAL_DELAY,
    };
    BackoffEntry {
        delay,
        last_update: now,
    }
}

/// Removes the entries untouched for more than twice [`MAX_DELAY`] (Kubernetes: `Backoff.GC`).
pub fn gc(state: &mut BackoffState, now: Timestamp) {
    state.retain(|_, e| !expired(since(e.last_update, now)));
}

fn expired(elapsed: i128) -> bool {
    elapsed > 2 * nanos(MAX_DELAY)
}

/// Nanoseconds from `from` to `to` (negative when `to` is earlier).
pub(crate) fn since(from: Timestamp, to: Timestamp) -> i128 {
    timestamp_nanos(to) - timestamp_nanos(from)
}

pub(crate) fn timestamp_nanos(t: Timestamp) -> i128 {
    i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)
}

pub(crate) fn nanos(d: Duration) -> i128 {
    i128::try_from(d.as_nanos()).unwrap_or(i128::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64, nanos: i32) -> Timestamp {
        Timestamp { seconds, nanos }
    }

    #[test]
    fn first_deletion_starts_at_one_second_and_doubles_to_fifteen_minutes() {
        let e = next(None, at(100, 0));
        assert_eq!(e.delay, INITIAL_DELAY);
        let e = next(Some(&e), at(101, 0));
        assert_eq!(e.delay, Duration::from_secs(2));
        let mut e = e;
        for _ in 0..20 {
            e = next(Some(&e), e.last_update);
        }
        assert_eq!(e.delay, MAX_DELAY);
    }

    #[test]
    fn backoff_lasts_exactly_the_delay() {
        let e = next(None, at(100, 0));
        assert!(in_backoff(&e, at(100, 0)));
        assert!(in_backoff(&e, at(100, 999_999_999)));
        assert!(!in_backoff(&e, at(101, 0)));
        assert_eq!(
            remaining(&e, at(100, 250_000_000)),
            Duration::from_millis(750)
        );
        assert_eq!(remaining(&e, at(101, 0)), Duration::ZERO);
    }

    #[test]
    fn entries_expire_after_twice_the_max_delay() {
        let e = BackoffEntry {
            delay: Duration::from_secs(64),
            last_update: at(0, 0),
        };
        let late = at(2 * 15 * 60 + 1, 0);
        assert_eq!(next(Some(&e), late).delay, INITIAL_DELAY);
        let mut state = BackoffState::new();
        state.insert("a".into(), e);
        state.insert(
            "b".into(),
            BackoffEntry {
                delay: INITIAL_DELAY,
                last_update: late,
            },
        );
        gc(&mut state, late);
        assert_eq!(state.keys().collect::<Vec<_>>(), ["b"]);
    }
}
