//! The node lifecycle: leases kept in memory, shared between replicas over core NATS, and the
//! transitions they drive (Ready → NotReady → removed, and back to Ready on a heartbeat).
//!
//! Three tracked tasks run per replica, started by [`Lifecycle::start`]:
//! - the **informer** lists the `nodes` bucket once (before the gRPC server starts) and then
//!   watches it from the listing's revision, so that the [`Leases`] table holds a lease for
//!   exactly the stored nodes, with a hint of whether each is Ready. A node seen for the first
//!   time gets a lease renewed "now": at start-up that is the grace period that keeps a
//!   restarted registry from declaring every node NotReady;
//! - the **heartbeat listener** renews leases on the heartbeats other replicas heard
//!   (`everynode.heartbeat.node.<name>`, core NATS; the payload is the sending replica's id, so
//!   a replica skips its own);
//! - the **ticker** pops the leases that expired or passed the removal deadline
//!   ([`Leases::due`]) and reconciles those nodes with bounded concurrency; failures are
//!   retried on the next tick. When the NATS connection was lost since the last tick, it first
//!   renews every lease (heartbeats relayed by other replicas may have been missed meanwhile).
//!
//! [`Lifecycle::reconcile`] is the one level-triggered transition: it reads the node and its
//! lease and writes with compare-and-set whatever the lease says (fresh → Ready; expired →
//! `Ready=Unknown` with the unreachable taints; past `remove_after` → removed). Two replicas
//! racing on the same transition produce one write and one set of events: the loser's
//! compare-and-set fails, it re-reads, and finds nothing left to do.
//!
//! Heartbeats never write the store. Only a heartbeat for a node not Ready (as last seen) costs
//! a store round trip: the transition back to Ready, done by the replica the agent called.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use everynode_bus::Change as KvChange;
use everynode_bus::async_nats::{self, connection::State};
use everynode_bus::names::{
    NODE_HEARTBEATS_ALL, NodeKey, node_heartbeat_subject, parse_node_heartbeat_subject,
};
use everynode_core::model::{Node, Timestamp};
use everynode_core::retry::Backoff;
use everynode_service::Shutdown;
use futures::StreamExt;
use tokio::time::{Instant, MissedTickBehavior};

use crate::error::Error;
use crate::leases::{LeaseState, Leases, Renewal, Timing};
use crate::node;
use crate::store::{NodeStore, Outcome, Stored, Write};

/// Transitions run at once by the ticker (a mass expiry is written in parallel, but bounded).
const TRANSITION_CONCURRENCY: usize = 64;
/// Pauses before watching the bucket again after the watch could not start: the project's
/// retry policy from 100 ms doubling to 5 s, with jitter.
const REWATCH: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
/// How many times one reconcile re-evaluates when heartbeats keep arriving during its write.
const RECONCILE_ROUNDS: usize = 4;

/// The wall-clock time of a past monotonic `instant`.
fn wall_time_of(instant: Instant) -> Timestamp {
    Timestamp::ago(Instant::now().saturating_duration_since(instant))
}

/// How often the ticker looks at the lease queues: a tenth of `not_ready_after`, between 50 ms
/// and 1 s, so a lease is acted on at most that late.
pub fn tick_interval(not_ready_after: Duration) -> Duration {
    (not_ready_after / 10).clamp(Duration::from_millis(50), Duration::from_secs(1))
}

/// What to write for a node, given its lease: the lifecycle's decision, as a pure function.
pub fn decide(
    lease: &LeaseState,
    heard: Option<Timestamp>,
    current: &Node,
    now: Timestamp,
) -> Write {
    if lease.removable {
        Write::Remove
    } else if lease.fresh {
        Write::Put(Box::new(node::mark_ready(current, now)))
    } else {
        Write::Put(Box::new(node::mark_unreachable(current, heard, now)))
    }
}

/// The lease table and what the transitions need; cheap to clone.
#[derive(Clone, Debug)]
pub struct Lifecycle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: NodeStore,
    nats: async_nats::Client,
    leases: Mutex<Leases>,
    /// This replica's id, the payload of the heartbeats it relays.
    replica: Bytes,
}

impl Lifecycle {
    /// Subscribes to relayed heartbeats, lists the stored nodes (each gets a lease renewed now:
    /// the start-up grace), and spawns the informer, the heartbeat listener and the ticker as
    /// tasks of `shutdown`.
    pub async fn start(
        store: NodeStore,
        nats: async_nats::Client,
        timing: Timing,
        shutdown: &Shutdown,
    ) -> Result<Self, Error> {
        // Subscribe first, so no heartbeat between the listing and the subscription is lost.
        let heartbeats = nats.subscribe(NODE_HEARTBEATS_ALL).await.map_err(|e| {
            Error::Unavailable(everynode_bus::Error::nats(
                "subscribing to node heartbeats",
                e,
            ))
        })?;
        let lifecycle = Self {
            inner: Arc::new(Inner {
                store,
                nats,
                leases: Mutex::new(Leases::new(timing)),
                replica: Bytes::copy_from_slice(uuid::Uuid::new_v4().as_bytes()),
            }),
        };
        let listed = lifecycle.relist().await?;
        tracing::info!(
            nodes = lifecycle.leases().len(),
            revision = listed,
            ?timing,
            "node leases loaded; every lease starts renewed (start-up grace)"
        );
        shutdown.spawn(lifecycle.clone().informer(listed, shutdown.clone()));
        shutdown.spawn(
            lifecycle
                .clone()
                .heartbeat_listener(heartbeats, shutdown.clone()),
        );
        shutdown.spawn(lifecycle.clone().ticker(shutdown.clone()));
        Ok(lifecycle)
    }

    fn leases(&self) -> MutexGuard<'_, Leases> {
        self.inner
            .leases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The lease durations.
    pub fn timing(&self) -> Timing {
        self.leases().timing()
    }

    /// The store the transitions write to.
    pub fn store(&self) -> &NodeStore {
        &self.inner.store
    }

    /// The lease of `name` now, and the wall time of its last heartbeat.
    fn lease(&self, name: &str) -> Option<(LeaseState, Option<Timestamp>)> {
        let state = self.leases().state(name, Instant::now())?;
        Some((state, state.heard.map(wall_time_of)))
    }

    /// Refuses the agent with boot id `claimant` when another, live agent holds `name`: the
    /// stored node (`holder`, when given, else the lease table's record) names another boot
    /// id and its lease is fresh. An empty boot id on either side is no claim (agents before
    /// boot ids, or a machine without one).
    pub fn check_holder(
        &self,
        name: &str,
        holder: Option<&str>,
        claimant: &str,
    ) -> Result<(), Error> {
        let leases = self.leases();
        let holder = holder.or_else(|| leases.holder(name)).unwrap_or("");
        if holder.is_empty() || claimant.is_empty() || holder == claimant {
            return Ok(());
        }
        let alive = leases
            .state(name, Instant::now())
            .is_some_and(|lease| lease.fresh);
        if !alive {
            return Ok(());
        }
        Err(Error::Claimed {
            name: name.to_owned(),
            holder: holder.to_owned(),
            claimant: claimant.to_owned(),
            free_after: leases.timing().not_ready_after,
        })
    }

    /// A heartbeat an agent (with boot id `boot_id`) sent to this replica: renews the lease (no
    /// store write), relays it to the other replicas, and makes the node Ready again if it was
    /// not. NOT_FOUND when the node does not exist; ALREADY_EXISTS when another agent holds it.
    pub async fn heartbeat(&self, name: &str, boot_id: &str) -> Result<(), Error> {
        self.check_holder(name, None, boot_id)?;
        let renewal = self.leases().renew(name, Instant::now());
        let needs_ready = match renewal {
            Renewal::Ready => false,
            Renewal::NotReady => true,
            Renewal::Unknown => {
                // Registered a moment ago through another replica, before this one's informer
                // saw it; or really unknown.
                let stored = self
                    .inner
                    .store
                    .get(name)
                    .await?
                    .ok_or_else(|| Error::NotFound(name.to_owned()))?;
                self.check_holder(name, Some(node::boot_id(&stored.node)), boot_id)?;
                let ready = node::is_ready(&stored.node);
                let mut leases = self.leases();
                leases.observe(name, ready, Instant::now());
                leases.set_holder(name, node::boot_id(&stored.node));
                leases.renew(name, Instant::now());
                !ready
            }
        };
        self.relay(name).await;
        if needs_ready {
            self.reconcile(name).await?;
        }
        Ok(())
    }

    /// Renews the lease of a node about to be (re-)registered, before the write that makes it
    /// Ready, so the ticker cannot expire it in between; relays the renewal.
    pub async fn registering(&self, name: &str) {
        self.leases().register(name, Instant::now());
        self.relay(name).await;
    }

    /// Records what this replica just wrote, without waiting for the informer.
    pub fn written(&self, outcome: &Outcome) {
        match outcome {
            Outcome::Unchanged(stored) | Outcome::Updated(stored) => {
                let mut leases = self.leases();
                leases.set_ready(stored.node.name(), node::is_ready(&stored.node));
                leases.set_holder(stored.node.name(), node::boot_id(&stored.node));
            }
            Outcome::Removed(stored) => self.leases().forget(stored.node.name()),
        }
    }

    /// Tells the other replicas that `name` heartbeated (best effort: core NATS).
    async fn relay(&self, name: &str) {
        let Ok(key) = NodeKey::new(name) else {
            return;
        };
        if let Err(e) = self
            .inner
            .nats
            .publish(node_heartbeat_subject(&key), self.inner.replica.clone())
            .await
        {
            tracing::debug!(error = %e, node = name, "heartbeat not relayed to other replicas");
        }
    }

    /// Brings the stored node `name` in line with its lease (see [`decide`]) with
    /// compare-and-set, and re-evaluates if the lease was renewed while writing. Returns the
    /// last outcome, or `None` when the node (or its lease) is gone.
    pub async fn reconcile(&self, name: &str) -> Result<Option<Outcome>, Error> {
        let mut last = None;
        for _ in 0..RECONCILE_ROUNDS {
            let Some((started, _)) = self.lease(name) else {
                return Ok(last);
            };
            let result = self
                .inner
                .store
                .modify(name, None, |current: &Stored| {
                    // The lease as it is now, on every attempt.
                    let Some((lease, heard)) = self.lease(name) else {
                        return Ok(Write::Keep);
                    };
                    Ok(decide(&lease, heard, &current.node, Timestamp::now()))
                })
                .await;
            let outcome = match result {
                Ok(outcome) => outcome,
                Err(Error::NotFound(_)) => {
                    self.leases().forget(name);
                    return Ok(last);
                }
                Err(e) => return Err(e),
            };
            self.written(&outcome);
            let wrote = !matches!(outcome, Outcome::Unchanged(_));
            let removed = matches!(outcome, Outcome::Removed(_));
            if let Outcome::Updated(stored) | Outcome::Removed(stored) = &outcome {
                tracing::info!(
                    node = name,
                    ready = node::is_ready(&stored.node),
                    removed,
                    revision = stored.revision,
                    "node lifecycle transition"
                );
            }
            last = Some(outcome);
            let renewed_meanwhile = self
                .lease(name)
                .is_some_and(|(now, _)| now.seq != started.seq);
            if !wrote || removed || !renewed_meanwhile {
                break;
            }
        }
        Ok(last)
    }

    /// Lists the bucket and aligns the lease table with it; returns the listing's revision.
    async fn relist(&self) -> Result<u64, Error> {
        let (nodes, revision) = self.inner.store.list().await?;
        let now = Instant::now();
        let mut leases = self.leases();
        let names: std::collections::HashSet<&str> = nodes.iter().map(|s| s.node.name()).collect();
        leases.retain(|name| names.contains(name));
        for stored in &nodes {
            leases.observe(stored.node.name(), node::is_ready(&stored.node), now);
            leases.set_holder(stored.node.name(), node::boot_id(&stored.node));
        }
        Ok(revision)
    }

    /// Keeps the lease table aligned with the bucket: a lease for every stored node, none for
    /// removed ones.
    async fn informer(self, listed: u64, shutdown: Shutdown) {
        let mut from = listed + 1;
        let mut retries = REWATCH.start();
        while !shutdown.is_triggered() {
            let mut changes = match self.inner.store.changes(from).await {
                Ok(changes) => {
                    retries.reset();
                    changes
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch the nodes bucket; retrying");
                    let pause = retries.next_delay().unwrap_or(REWATCH.max);
                    tokio::select! {
                        () = shutdown.signal() => return,
                        () = tokio::time::sleep(pause) => continue,
                    }
                }
            };
            loop {
                let change = tokio::select! {
                    () = shutdown.signal() => return,
                    change = changes.next() => change,
                };
                match change {
                    Some(Ok(KvChange::Put {
                        key,
                        value,
                        revision,
                    })) => {
                        from = revision + 1;
                        let node = Node::from(value);
                        let mut leases = self.leases();
                        leases.observe(key.name(), node::is_ready(&node), Instant::now());
                        leases.set_holder(key.name(), node::boot_id(&node));
                    }
                    Some(Ok(KvChange::Deleted { key, revision })) => {
                        from = revision + 1;
                        self.leases().forget(key.name());
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "bad entry in the nodes bucket watch; skipped");
                    }
                    None => {
                        tracing::warn!("the nodes bucket watch ended; watching again");
                        break;
                    }
                }
            }
        }
    }

    /// Renews leases on heartbeats relayed by other replicas.
    async fn heartbeat_listener(self, mut heartbeats: async_nats::Subscriber, shutdown: Shutdown) {
        loop {
            let message = tokio::select! {
                () = shutdown.signal() => return,
                message = heartbeats.next() => message,
            };
            let Some(message) = message else {
                tracing::warn!("the node heartbeat subscription ended");
                return;
            };
            if message.payload == self.inner.replica {
                continue;
            }
            match parse_node_heartbeat_subject(message.subject.as_str()) {
                Ok(key) => {
                    self.leases().renew(key.name(), Instant::now());
                }
                Err(e) => tracing::debug!(error = %e, "ignoring a malformed heartbeat subject"),
            }
        }
    }

    /// Acts on expired leases, one tick at a time.
    async fn ticker(self, shutdown: Shutdown) {
        let every = tick_interval(self.timing().not_ready_after);
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let statistics = self.inner.nats.statistics();
        let mut connects = statistics
            .connects
            .load(std::sync::atomic::Ordering::Relaxed);
        let mut retry: Vec<Arc<str>> = Vec::new();
        loop {
            tokio::select! {
                () = shutdown.signal() => return,
                _ = interval.tick() => {}
            }
            if self.inner.nats.connection_state() != State::Connected {
                continue;
            }
            let now_connects = statistics
                .connects
                .load(std::sync::atomic::Ordering::Relaxed);
            if now_connects != connects {
                connects = now_connects;
                self.leases().renew_all(Instant::now());
                tracing::info!(
                    "reconnected to NATS: every lease renewed (grace for missed heartbeats)"
                );
                continue;
            }
            let mut due = self.leases().due(Instant::now());
            for name in retry.drain(..) {
                if !due.contains(&name) {
                    due.push(name);
                }
            }
            if due.is_empty() {
                continue;
            }
            let failed: Vec<Arc<str>> = futures::stream::iter(due)
                .map(|name| {
                    let this = self.clone();
                    async move {
                        match this.reconcile(&name).await {
                            Ok(_) => None,
                            Err(e) => {
                                tracing::warn!(error = %e, node = %name, "node lifecycle transition failed; retrying");
                                Some(name)
                            }
                        }
                    }
                })
                .buffer_unordered(TRANSITION_CONCURRENCY)
                .filter_map(std::future::ready)
                .collect()
                .await;
            retry = failed;
        }
    }
}

#[cfg(test)]
mod tests {
    use everynode_core::model::ObjectMeta;

    use super::*;

    fn lease(fresh: bool, removable: bool) -> LeaseState {
        LeaseState {
            seq: 1,
            renewed: Instant::now(),
            heard: None,
            fresh,
            removable,
        }
    }

    fn ready_node() -> Node {
        let request = Node {
            metadata: Some(ObjectMeta {
                name: "n1".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        node::new_node(&request, "u".into(), Timestamp::from_seconds(1))
    }

    #[test]
    fn the_lease_decides_the_transition() {
        let n = ready_node();
        let t = Timestamp::from_seconds(2);
        assert_eq!(
            decide(&lease(true, false), None, &n, t),
            Write::Put(Box::new(n.clone()))
        );
        let Write::Put(lost) = decide(&lease(false, false), None, &n, t) else {
            panic!("an expired lease writes");
        };
        assert!(!node::is_ready(&lost));
        assert_eq!(decide(&lease(false, true), None, &lost, t), Write::Remove);
        let Write::Put(back) = decide(&lease(true, false), None, &lost, t) else {
            panic!("a fresh lease writes");
        };
        assert!(node::is_ready(&back));
    }

    #[test]
    fn ticks_are_a_tenth_of_the_lease_within_bounds() {
        assert_eq!(
            tick_interval(Duration::from_secs(15)),
            Duration::from_secs(1)
        );
        assert_eq!(
            tick_interval(Duration::from_secs(1)),
            Duration::from_millis(100)
        );
        assert_eq!(
            tick_interval(Duration::from_millis(100)),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn wall_time_of_a_past_instant_is_in_the_past() {
        let before = Timestamp::now();
        let earlier = wall_time_of(Instant::now() - Duration::from_secs(10));
        assert!(
            earlier.seconds <= before.seconds - 9,
            "{earlier:?} vs {before:?}"
        );
    }
}
