//! The in-memory lease table: when each node last heartbeated, and which leases ran out.
//!
//! Heartbeats never touch the KV store; they renew a lease here. The table answers three
//! questions cheaply at 10,000 nodes:
//! - renew `name` (a heartbeat): a hash lookup and a push onto a queue, O(1);
//! - which leases expired or passed the removal deadline since the last tick: [`Leases::due`],
//!   amortised O(1) per renewal, with no per-node timer and no scan of the table;
//! - the state of one lease, for the transition that follows: O(1).
//!
//! How: every renewal gets a sequence number and is appended to the `fresh` queue with its
//! time. Renewal times only grow (they are taken under the table's lock from a monotonic clock,
//! and clamped so that the queue never goes back in time), so the queue is sorted by time
//! without any sorting. A tick pops entries older than `not_ready_after`; an entry whose
//! sequence number is no longer its lease's (the node heartbeated again since) is stale and
//! dropped. A current one means the lease expired: the node is due for a NotReady check, and
//! the entry moves to the `expired` queue (sorted the same way), which a tick pops after
//! `remove_after` for removal. Memory is one small entry per renewal within the last
//! `not_ready_after` (30,000 entries for 10,000 nodes heartbeating every 5 s with 15 s leases).
//!
//! The table is a plain synchronous structure (callers hold a `std::sync::Mutex` for a few
//! microseconds, never across an `.await`) and takes the current instant as an argument, so it
//! is tested without clocks.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// How long leases last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// A lease not renewed for this long has expired: the node becomes NotReady.
    pub not_ready_after: Duration,
    /// A lease not renewed for this long gets the node removed; `None`: never.
    pub remove_after: Option<Duration>,
}

#[derive(Debug)]
struct Lease {
    renewed: Instant,
    seq: u64,
    /// The last heartbeat heard (not a grace renewal).
    heard: Option<Instant>,
    /// Whether the node is Ready in the store, as last seen (a hint: transitions re-read).
    ready: bool,
    /// The boot id of the agent holding the node (the one that registered it last), if known.
    holder: Option<Arc<str>>,
}

#[derive(Debug)]
struct Mark {
    at: Instant,
    seq: u64,
    name: Arc<str>,
}

/// The result of renewing a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// No such node is known here.
    Unknown,
    /// Renewed; the node was Ready as last seen.
    Ready,
    /// Renewed; the node was not Ready as last seen, so it needs a Ready transition.
    NotReady,
}

/// One lease at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseState {
    /// Sequence number of the latest renewal; it changes with every renewal.
    pub seq: u64,
    /// When the lease was last renewed.
    pub renewed: Instant,
    /// When the node last heartbeated (or registered), as far as this replica heard; `None`
    /// when the lease only comes from a grace renewal.
    pub heard: Option<Instant>,
    /// Renewed less than `not_ready_after` ago.
    pub fresh: bool,
    /// Not renewed for `remove_after` or longer.
    pub removable: bool,
}

/// Every node's lease, and the time-ordered queues the ticker pops.
#[derive(Debug)]
pub struct Leases {
    timing: Timing,
    leases: HashMap<Arc<str>, Lease>,
    fresh: VecDeque<Mark>,
    expired: VecDeque<Mark>,
    next_seq: u64,
    last_at: Option<Instant>,
}

impl Leases {
    /// An empty table.
    pub fn new(timing: Timing) -> Self {
        Self {
            timing,
            leases: HashMap::new(),
            fresh: VecDeque::new(),
            expired: VecDeque::new(),
            next_seq: 0,
            last_at: None,
        }
    }

    /// The lease durations.
    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// How many nodes have a lease.
    pub fn len(&self) -> usize {
        self.leases.len()
    }

    /// Whether no node has a lease.
    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }

    /// Queue entries held (for tests and diagnostics).
    pub fn queued(&self) -> usize {
        self.fresh.len() + self.expired.len()
    }

    /// Appends a renewal of `name` at `now` (clamped so the queue stays sorted); returns it.
    fn stamp(&mut self, name: Arc<str>, now: Instant) -> (Instant, u64) {
        let at = self.last_at.map_or(now, |last| last.max(now));
        self.last_at = Some(at);
        self.next_seq += 1;
        let seq = self.next_seq;
        self.fresh.push_back(Mark { at, seq, name });
        (at, seq)
    }

    /// Renews the lease of a known node (a heartbeat). Unknown nodes get no lease: only the
    /// store says which nodes exist.
    pub fn renew(&mut self, name: &str, now: Instant) -> Renewal {
        let Some((key, ready)) = self
            .leases
            .get_key_value(name)
            .map(|(key, lease)| (key.clone(), lease.ready))
        else {
            return Renewal::Unknown;
        };
        let (at, seq) = self.stamp(key, now);
        if let Some(lease) = self.leases.get_mut(name) {
            lease.renewed = at;
            lease.seq = seq;
            lease.heard = Some(at);
        }
        if ready {
            Renewal::Ready
        } else {
            Renewal::NotReady
        }
    }

    /// Records that the store holds `name`, Ready or not. A node seen for the first time gets a
    /// lease renewed at `now` (it was just registered, or this replica just started: the grace
    /// period). Returns whether the node was new here.
    pub fn observe(&mut self, name: &str, ready: bool, now: Instant) -> bool {
        if let Some(lease) = self.leases.get_mut(name) {
            lease.ready = ready;
            return false;
        }
        let key: Arc<str> = Arc::from(name);
        let (renewed, seq) = self.stamp(key.clone(), now);
        self.leases.insert(
            key,
            Lease {
                renewed,
                seq,
                heard: None,
                ready,
                holder: None,
            },
        );
        true
    }

    /// Renews the lease of a node being registered, creating it (not Ready as far as known)
    /// when the node is new here.
    pub fn register(&mut self, name: &str, now: Instant) {
        if !self.leases.contains_key(name) {
            self.observe(name, false, now);
        }
        self.renew(name, now);
    }

    /// Records the readiness this replica just wrote for `name`.
    pub fn set_ready(&mut self, name: &str, ready: bool) {
        if let Some(lease) = self.leases.get_mut(name) {
            lease.ready = ready;
        }
    }

    /// Records the boot id of the agent holding `name` (empty: unknown).
    pub fn set_holder(&mut self, name: &str, boot_id: &str) {
        if let Some(lease) = self.leases.get_mut(name)
            && lease.holder.as_deref() != Some(boot_id)
        {
            lease.holder = (!boot_id.is_empty()).then(|| Arc::from(boot_id));
        }
    }

    /// The boot id of the agent holding `name`, if known.
    pub fn holder(&self, name: &str) -> Option<&str> {
        self.leases.get(name)?.holder.as_deref()
    }

    /// Drops the lease of a node that is gone; its queue entries become stale.
    pub fn forget(&mut self, name: &str) {
        self.leases.remove(name);
    }

    /// Drops every lease whose node `keep` rejects (after a fresh listing of the store).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.leases.retain(|name, _| keep(name));
    }

    /// Renews every lease at `now`: the grace period after this replica lost track of
    /// heartbeats (a restart, a NATS reconnection), so that nobody is declared NotReady for
    /// heartbeats this replica could not hear.
    pub fn renew_all(&mut self, now: Instant) {
        let names: Vec<Arc<str>> = self.leases.keys().cloned().collect();
        for name in names {
            let (at, seq) = self.stamp(name.clone(), now);
            if let Some(lease) = self.leases.get_mut(&name) {
                lease.renewed = at;
                lease.seq = seq;
            }
        }
    }

    /// The lease of `name` at `now`.
    pub fn state(&self, name: &str, now: Instant) -> Option<LeaseState> {
        let lease = self.leases.get(name)?;
        let age = now.saturating_duration_since(lease.renewed);
        Some(LeaseState {
            seq: lease.seq,
            renewed: lease.renewed,
            heard: lease.heard,
            fresh: age < self.timing.not_ready_after,
            removable: self.timing.remove_after.is_some_and(|after| age >= after),
        })
    }

    /// The nodes whose lease expired or passed the removal deadline since the last call, each
    /// once per renewal; the caller re-reads the store and decides (see the module docs).
    pub fn due(&mut self, now: Instant) -> Vec<Arc<str>> {
        let mut due = Vec::new();
        while let Some(mark) = self.fresh.front() {
            if now.saturating_duration_since(mark.at) < self.timing.not_ready_after {
                break;
            }
            let Some(mark) = self.fresh.pop_front() else {
                break;
            };
            if self.is_current(&mark) {
                due.push(mark.name.clone());
                if self.timing.remove_after.is_some() {
                    self.expired.push_back(mark);
                }
            }
        }
        if let Some(remove_after) = self.timing.remove_after {
            while let Some(mark) = self.expired.front() {
                if now.saturating_duration_since(mark.at) < remove_after {
                    break;
                }
                let Some(mark) = self.expired.pop_front() else {
                    break;
                };
                if self.is_current(&mark) && !due.contains(&mark.name) {
                    due.push(mark.name);
                }
            }
        }
        due
    }

    fn is_current(&self, mark: &Mark) -> bool {
        self.leases
            .get(&mark.name)
            .is_some_and(|lease| lease.seq == mark.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn table(remove_after: Option<u64>) -> Leases {
        Leases::new(Timing {
            not_ready_after: 15 * SEC,
            remove_after: remove_after.map(Duration::from_secs),
        })
    }

    fn names(due: Vec<Arc<str>>) -> Vec<String> {
        due.into_iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn unknown_nodes_get_no_lease_from_a_heartbeat() {
        let mut leases = table(Some(300));
        assert_eq!(leases.renew("n1", Instant::now()), Renewal::Unknown);
        assert!(leases.is_empty());
    }

    #[test]
    fn a_lease_expires_once_after_not_ready_after_without_renewal() {
        let t0 = Instant::now();
        let mut leases = table(None);
        leases.observe("n1", true, t0);
        leases.observe("n2", true, t0);
        assert_eq!(names(leases.due(t0 + 14 * SEC)), Vec::<String>::new());
        assert_eq!(leases.renew("n2", t0 + 10 * SEC), Renewal::Ready);
        assert_eq!(names(leases.due(t0 + 15 * SEC)), ["n1"]);
        assert_eq!(
            names(leases.due(t0 + 16 * SEC)),
            Vec::<String>::new(),
            "only once"
        );
        assert_eq!(names(leases.due(t0 + 25 * SEC)), ["n2"]);
        assert_eq!(leases.queued(), 0, "nothing kept without removal");
    }

    #[test]
    fn heartbeats_keep_a_lease_fresh_and_stale_entries_are_dropped() {
        let t0 = Instant::now();
        let mut leases = table(Some(300));
        leases.observe("n1", true, t0);
        for s in 1..=100 {
            leases.renew("n1", t0 + s * 5 * SEC);
            assert!(leases.due(t0 + s * 5 * SEC).is_empty());
        }
        let state = leases.state("n1", t0 + 500 * SEC).unwrap();
        assert!(state.fresh && !state.removable);
        assert!(
            leases.queued() <= 4,
            "old renewals are popped: {}",
            leases.queued()
        );
    }

    #[test]
    fn an_expired_lease_is_due_again_at_the_removal_deadline() {
        let t0 = Instant::now();
        let mut leases = table(Some(300));
        leases.observe("n1", true, t0);
        assert_eq!(names(leases.due(t0 + 20 * SEC)), ["n1"]);
        assert!(leases.due(t0 + 299 * SEC).is_empty());
        let state = leases.state("n1", t0 + 300 * SEC).unwrap();
        assert!(!state.fresh && state.removable);
        assert_eq!(names(leases.due(t0 + 300 * SEC)), ["n1"]);
    }

    #[test]
    fn a_heartbeat_after_expiry_cancels_the_removal() {
        let t0 = Instant::now();
        let mut leases = table(Some(300));
        leases.observe("n1", true, t0);
        assert_eq!(names(leases.due(t0 + 20 * SEC)), ["n1"]);
        leases.set_ready("n1", false);
        assert_eq!(leases.renew("n1", t0 + 30 * SEC), Renewal::NotReady);
        leases.set_ready("n1", true);
        assert_eq!(leases.renew("n1", t0 + 290 * SEC), Renewal::Ready);
        assert!(
            leases.due(t0 + 301 * SEC).is_empty(),
            "the expired entry is stale"
        );
        assert_eq!(names(leases.due(t0 + 305 * SEC)), ["n1"], "a new expiry");
    }

    #[test]
    fn registering_creates_or_renews_and_counts_as_heard() {
        let t0 = Instant::now();
        let mut leases = table(Some(300));
        leases.observe("n1", true, t0);
        assert_eq!(
            leases.state("n1", t0).unwrap().heard,
            None,
            "grace is not a heartbeat"
        );
        leases.register("n1", t0 + SEC);
        leases.register("n2", t0 + SEC);
        assert_eq!(leases.state("n1", t0 + SEC).unwrap().heard, Some(t0 + SEC));
        assert_eq!(
            leases.renew("n1", t0 + SEC),
            Renewal::Ready,
            "readiness hint kept"
        );
        assert_eq!(leases.renew("n2", t0 + SEC), Renewal::NotReady);
    }

    #[test]
    fn a_forgotten_node_is_never_due() {
        let t0 = Instant::now();
        let mut leases = table(Some(30));
        leases.observe("n1", true, t0);
        leases.forget("n1");
        assert!(leases.due(t0 + 60 * SEC).is_empty());
        assert!(
            leases.observe("n1", true, t0 + 60 * SEC),
            "a re-registered node is new"
        );
    }

    #[test]
    fn renew_all_is_a_grace_period_for_every_node() {
        let t0 = Instant::now();
        let mut leases = table(Some(300));
        leases.observe("n1", true, t0);
        leases.observe("n2", false, t0);
        leases.renew_all(t0 + 10 * SEC);
        assert!(leases.due(t0 + 20 * SEC).is_empty());
        let mut due = names(leases.due(t0 + 25 * SEC));
        due.sort();
        assert_eq!(due, ["n1", "n2"]);
    }

    #[test]
    fn a_clock_going_backwards_keeps_the_queue_sorted() {
        let t0 = Instant::now();
        let mut leases = table(None);
        leases.observe("n1", true, t0 + 5 * SEC);
        leases.observe("n2", true, t0);
        assert!(leases.due(t0 + 19 * SEC).is_empty());
        assert_eq!(names(leases.due(t0 + 20 * SEC)), ["n1", "n2"]);
    }

    #[test]
    fn ten_thousand_nodes_heartbeating_stay_cheap() {
        let t0 = Instant::now();
        let mut leases = table(Some(300));
        let names: Vec<String> = (0..10_000).map(|i| format!("node-{i}")).collect();
        for name in &names {
            leases.observe(name, true, t0);
        }
        let started = std::time::Instant::now();
        // One minute of heartbeats every 5 s, ticks every second.
        for second in 1..=60u32 {
            let now = t0 + second * SEC;
            if second % 5 == 0 {
                for name in &names {
                    leases.renew(name, now);
                }
            }
            assert!(leases.due(now).is_empty());
        }
        let elapsed = started.elapsed();
        assert!(leases.queued() <= 40_000, "{}", leases.queued());
        // 120,000 renewals; generous bound so a slow CI machine passes.
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    }
}
