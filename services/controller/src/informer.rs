//! A generic informer: a local cache of one KV bucket, kept up to date by list-then-watch.
//!
//! The state machine follows kube-runtime's watcher: **list** (every live key and the revision
//! the list is complete up to), **apply** it to the cache as one reset (a diff against what the
//! cache held, so a re-list after a broken watch reports only what really changed), mark the
//! informer **ready**, then **watch** from `revision + 1` and apply changes in batches (whatever
//! the watch has ready, up to [`MAX_BATCH`], under one write lock). A watch that fails or ends
//! goes back to listing after a capped back-off, and so does one whose NATS connection was
//! re-established (a restarted server has lost the watch's consumer). Nothing is ever polled
//! but the connection's local reconnect counter.
//!
//! What the informer owns and guarantees:
//! - the cache itself is a [`Cache`]: each bucket's cache decides how it stores and indexes its
//!   objects (pods are grouped by owner, nodes kept in one shared vector) so that readers can
//!   take cheap snapshots;
//! - every applied change becomes a [`Delta`] (old and new object, the revision); after each
//!   batch the *handler* (the controller's event router) is called with the batch, outside the
//!   lock, after the cache already shows the change, so a reconcile the handler triggers reads
//!   the new state;
//! - deltas are also broadcast to API watchers and, when `history` is not zero, kept in a
//!   bounded history so a watch can resume from a resourceVersion; the broadcast happens under
//!   the write lock so a subscriber sees every delta exactly once (history or broadcast);
//! - [`Informer::is_ready`] is false until the first list is applied: nobody acts on a partial
//!   cache.
//!
//! The lock is a `std::sync::RwLock`: every critical section is short and synchronous (readers
//! clone an `Arc` or a few small objects out and release it), never held across `.await`.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use everynode_bus::async_nats;
use everynode_bus::{Change, Key, KeyFilter, Listing, Store};
use everynode_core::retry::Backoff;
use everynode_service::Shutdown;
use futures::{FutureExt, StreamExt};
use tokio::sync::{broadcast, watch};

/// Most changes applied under one write lock.
pub const MAX_BATCH: usize = 512;
/// Capacity of the broadcast channel of deltas (API watchers that fall further behind are cut
/// off and must re-list, as a Kubernetes watch that is too slow).
const BROADCAST_CAPACITY: usize = 8192;
/// How long to wait before listing again after failures: the project's retry policy from
/// 100 ms doubling to 5 s (with jitter, so that every informer of every replica does not
/// re-list at the same instant after a NATS restart).
const RETRY: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
/// How often the watch loop checks whether the NATS connection was re-established.
const RECONNECT_CHECK: Duration = Duration::from_millis(250);

/// The storage of one informer: how a bucket's objects are kept and indexed.
pub trait Cache: Default + Send + Sync + 'static {
    /// The bucket's key type.
    type Key: Key + Eq + Hash;
    /// The stored protobuf message.
    type Proto: prost::Message + Default + Send + 'static;
    /// The domain object kept in the cache.
    type Object: Send + Sync + 'static;

    /// The domain object of a stored value, with `resourceVersion` set to `revision`.
    fn decode(key: &Self::Key, value: Self::Proto, revision: u64) -> Self::Object;
    /// Stores `object` (at `revision`) under `key`; returns the object it replaces.
    fn put(
        &mut self,
        key: &Self::Key,
        object: &Arc<Self::Object>,
        revision: u64,
    ) -> Option<Arc<Self::Object>>;
    /// Removes `key`; returns the object it held.
    fn remove(&mut self, key: &Self::Key) -> Option<Arc<Self::Object>>;
    /// The revision `key` is stored at, if present.
    fn revision(&self, key: &Self::Key) -> Option<u64>;
    /// Every key in the cache.
    fn keys(&self) -> Vec<Self::Key>;
}

/// One change applied to a cache.
#[derive(Debug)]
pub struct Delta<K, O> {
    /// The key that changed.
    pub key: K,
    /// The revision of the change (for a re-list: the listing's revision).
    pub revision: u64,
    /// The object before the change (`None`: it was added).
    pub old: Option<Arc<O>>,
    /// The object after the change (`None`: it was deleted).
    pub new: Option<Arc<O>>,
}

/// The delta type of a cache.
pub type DeltaOf<C> = Delta<<C as Cache>::Key, <C as Cache>::Object>;
/// A subscription to the deltas of an informer.
pub type Subscription<C> = broadcast::Receiver<Arc<DeltaOf<C>>>;
/// The deltas a resumed watch missed, and its subscription to the later ones.
pub type Resumed<C> = (Vec<Arc<DeltaOf<C>>>, Subscription<C>);
/// What the informer calls after each applied batch.
pub type Handler<C> = Arc<dyn Fn(&[Arc<DeltaOf<C>>]) + Send + Sync>;

/// A decoded change: key, revision, and the new object (`None`: deleted).
type Decoded<C> = (<C as Cache>::Key, u64, Option<Arc<<C as Cache>::Object>>);

/// A watch asked for changes after a revision the history no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too old resource version: {requested} (the oldest that can be resumed from is {oldest})")]
pub struct TooOld {
    /// The revision asked for.
    pub requested: u64,
    /// The oldest revision a watch can resume from.
    pub oldest: u64,
}

struct State<C: Cache> {
    cache: C,
    /// The bucket revision the cache is complete up to.
    revision: u64,
    /// Recent deltas, oldest first (only when the informer keeps history).
    history: VecDeque<Arc<DeltaOf<C>>>,
    /// Every delta after this revision is in `history`.
    floor: u64,
}

struct Inner<C: Cache> {
    name: &'static str,
    state: RwLock<State<C>>,
    ready: watch::Sender<bool>,
    events: broadcast::Sender<Arc<DeltaOf<C>>>,
    history_limit: usize,
    /// Asks the running informer to list again (see [`Informer::relist`]).
    relist: tokio::sync::Notify,
    /// How many re-lists were asked for.
    relists_asked: std::sync::atomic::AtomicU64,
}

/// A list-then-watch cache of one bucket; cheap to clone (all clones share the cache).
pub struct Informer<C: Cache> {
    inner: Arc<Inner<C>>,
}

impl<C: Cache> Clone for Informer<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: Cache> std::fmt::Debug for Informer<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Informer")
            .field("name", &self.inner.name)
            .field("ready", &self.is_ready())
            .field("revision", &self.revision())
            .finish()
    }
}

impl<C: Cache> Informer<C> {
    /// An empty, not yet ready informer named `name` (for logs) that keeps the last
    /// `history_limit` deltas for resumed watches (0: none).
    pub fn new(name: &'static str, history_limit: usize) -> Self {
        let (ready, _) = watch::channel(false);
        let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
        Self {
            inner: Arc::new(Inner {
                name,
                state: RwLock::new(State {
                    cache: C::default(),
                    revision: 0,
                    history: VecDeque::new(),
                    floor: 0,
                }),
                ready,
                events,
                history_limit,
                relist: tokio::sync::Notify::new(),
                relists_asked: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// Asks the informer to list the bucket again now, as after a broken watch: for a caller
    /// that has proof the cache misses something (an agent refusing a create because a pod of
    /// another uid holds the name). Requests made before the re-list starts are served by it.
    pub fn relist(&self) {
        self.inner.relists_asked.fetch_add(1, Ordering::Relaxed);
        self.inner.relist.notify_one();
    }

    /// How many re-lists were asked for so far.
    pub fn relists_asked(&self) -> u64 {
        self.inner.relists_asked.load(Ordering::Relaxed)
    }

    fn read_state(&self) -> RwLockReadGuard<'_, State<C>> {
        self.inner
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State<C>> {
        self.inner
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the cache under the read lock. Keep `f` short and synchronous.
    pub fn read<R>(&self, f: impl FnOnce(&C) -> R) -> R {
        f(&self.read_state().cache)
    }

    /// Runs `f` on the cache and the revision it is complete up to, under the read lock.
    pub fn read_at<R>(&self, f: impl FnOnce(&C, u64) -> R) -> R {
        let state = self.read_state();
        f(&state.cache, state.revision)
    }

    /// True once the first list has been applied.
    pub fn is_ready(&self) -> bool {
        *self.inner.ready.borrow()
    }

    /// Resolves once the first list has been applied.
    pub async fn wait_ready(&self) {
        let mut ready = self.inner.ready.subscribe();
        // The sender lives as long as `self`, so `wait_for` cannot fail while we hold it.
        let _ = ready.wait_for(|ready| *ready).await;
    }

    /// The bucket revision the cache is complete up to.
    pub fn revision(&self) -> u64 {
        self.read_state().revision
    }

    /// Runs `f` on the cache and subscribes to every later delta, atomically: the deltas
    /// received are exactly those applied after what `f` saw. Returns `f`'s result and the
    /// revision it saw.
    pub fn snapshot_and_subscribe<R>(&self, f: impl FnOnce(&C) -> R) -> (R, u64, Subscription<C>) {
        let state = self.read_state();
        let receiver = self.inner.events.subscribe();
        (f(&state.cache), state.revision, receiver)
    }

    /// The deltas after `revision` (from the history) and a subscription to every later one.
    /// Fails when the history does not reach back to `revision`.
    pub fn subscribe_from(&self, revision: u64) -> Result<Resumed<C>, TooOld> {
        let state = self.read_state();
        if revision < state.floor {
            return Err(TooOld {
                requested: revision,
                oldest: state.floor,
            });
        }
        let past = state
            .history
            .iter()
            .filter(|d| d.revision > revision)
            .cloned()
            .collect();
        Ok((past, self.inner.events.subscribe()))
    }

    /// Starts the list-then-watch task on `store` (tracked by `shutdown`); `handler` is called
    /// after every applied batch.
    ///
    /// `client` is the connection `store` uses: after it reconnects (a NATS restart), the
    /// informer lists again at once rather than waiting for the watch to notice.
    pub fn start(
        &self,
        store: Store<C::Key, C::Proto>,
        client: &async_nats::Client,
        handler: Handler<C>,
        shutdown: &Shutdown,
    ) -> tokio::task::JoinHandle<()> {
        let informer = self.clone();
        let stop = shutdown.clone();
        let statistics = client.statistics();
        shutdown.spawn(async move { informer.run(store, statistics, handler, stop).await })
    }

    async fn run(
        self,
        store: Store<C::Key, C::Proto>,
        statistics: Arc<async_nats::Statistics>,
        handler: Handler<C>,
        shutdown: Shutdown,
    ) {
        let name = self.inner.name;
        let mut failures: u32 = 0;
        let connects = || statistics.connects.load(Ordering::Relaxed);
        loop {
            if failures > 0 {
                let pause = RETRY.delay(failures);
                tokio::select! {
                    () = shutdown.signal() => return,
                    () = tokio::time::sleep(pause) => {}
                }
            }
            let connected = connects();
            let listing = tokio::select! {
                () = shutdown.signal() => return,
                listing = store.list() => listing,
            };
            let listing = match listing {
                Ok(listing) => listing,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(informer = name, %error, failures, "list failed; retrying");
                    continue;
                }
            };
            let count = listing.entries.len();
            let deltas = self.apply_listing(listing);
            tracing::debug!(
                informer = name,
                objects = count,
                changed = deltas.len(),
                revision = self.revision(),
                "listed"
            );
            if !deltas.is_empty() {
                handler(&deltas);
            }
            let from = self.revision().saturating_add(1);
            let everything = KeyFilter::all();
            let changes = tokio::select! {
                () = shutdown.signal() => return,
                changes = store.watch(&everything, from) => changes,
            };
            let mut changes = match changes {
                Ok(changes) => changes,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(informer = name, %error, "watch failed to start; re-listing");
                    continue;
                }
            };
            failures = 0;
            let mut check = tokio::time::interval(RECONNECT_CHECK);
            check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let first = tokio::select! {
                    () = shutdown.signal() => return,
                    () = self.inner.relist.notified() => {
                        tracing::info!(informer = name, "re-listing on request");
                        break;
                    }
                    change = changes.next() => change,
                    _ = check.tick() => {
                        if connects() == connected {
                            continue;
                        }
                        // The server may have restarted and lost the watch's consumer; a
                        // fresh list and watch is cheaper than waiting for the watch's
                        // heartbeats to notice.
                        tracing::info!(informer = name, "NATS reconnected; re-listing");
                        break;
                    }
                };
                let mut batch = Vec::new();
                let mut broken = match first {
                    Some(Ok(change)) => {
                        batch.push(change);
                        None
                    }
                    Some(Err(error)) => Some(error.to_string()),
                    None => Some("the watch ended".to_string()),
                };
                while broken.is_none() && batch.len() < MAX_BATCH {
                    match changes.next().now_or_never() {
                        Some(Some(Ok(change))) => batch.push(change),
                        Some(Some(Err(error))) => broken = Some(error.to_string()),
                        Some(None) => broken = Some("the watch ended".to_string()),
                        None => break,
                    }
                }
                if !batch.is_empty() {
                    let deltas = self.apply_changes(batch);
                    if !deltas.is_empty() {
                        handler(&deltas);
                    }
                }
                if let Some(reason) = broken {
                    failures = failures.saturating_add(1);
                    tracing::warn!(informer = name, %reason, "watch interrupted; re-listing");
                    break;
                }
            }
        }
    }

    /// Applies a full listing as a reset: puts what changed, removes what is gone, and returns
    /// the deltas. Marks the informer ready.
    pub fn apply_listing(&self, listing: Listing<C::Key, C::Proto>) -> Vec<Arc<DeltaOf<C>>> {
        let first = !self.is_ready();
        let revision = listing.revision;
        let undecodable: Vec<C::Key> = listing
            .undecodable
            .into_iter()
            .filter_map(|u| u.key)
            .collect();
        // Decoding happens outside the lock; only the cache updates hold it.
        let decoded: Vec<(C::Key, u64, Arc<C::Object>)> = listing
            .entries
            .into_iter()
            .map(|e| {
                let object = Arc::new(C::decode(&e.key, e.value, e.revision));
                (e.key, e.revision, object)
            })
            .collect();
        let mut deltas = Vec::new();
        {
            let mut state = self.write_state();
            let mut listed = HashSet::with_capacity(decoded.len() + undecodable.len());
            // A key whose value does not decode still exists: keep the last good copy (if
            // any) rather than report it deleted and have its pods or node collected.
            listed.extend(undecodable);
            for (key, at, new) in decoded {
                listed.insert(key.clone());
                if state.cache.revision(&key) == Some(at) {
                    continue;
                }
                let old = state.cache.put(&key, &new, at);
                deltas.push(Arc::new(Delta {
                    key,
                    revision,
                    old,
                    new: Some(new),
                }));
            }
            for key in state.cache.keys() {
                if listed.contains(&key) {
                    continue;
                }
                let old = state.cache.remove(&key);
                deltas.push(Arc::new(Delta {
                    key,
                    revision,
                    old,
                    new: None,
                }));
            }
            state.revision = state.revision.max(revision);
            if first {
                // Nobody can have resumed from before the first list.
                state.floor = state.revision;
            } else {
                self.record(&mut state, &deltas);
            }
        }
        self.inner.ready.send_replace(true);
        deltas
    }

    /// Applies watched changes (skipping any the cache already reflects) and returns the
    /// deltas.
    pub fn apply_changes(&self, changes: Vec<Change<C::Key, C::Proto>>) -> Vec<Arc<DeltaOf<C>>> {
        // Decoding happens outside the lock; only the cache updates hold it.
        let decoded: Vec<Decoded<C>> = changes
            .into_iter()
            .map(|change| match change {
                Change::Put {
                    key,
                    value,
                    revision,
                } => {
                    let object = Arc::new(C::decode(&key, value, revision));
                    (key, revision, Some(object))
                }
                Change::Deleted { key, revision } => (key, revision, None),
            })
            .collect();
        let mut state = self.write_state();
        let mut deltas = Vec::with_capacity(decoded.len());
        for (key, revision, new) in decoded {
            if revision <= state.revision {
                continue;
            }
            state.revision = revision;
            match new {
                Some(new) => {
                    let old = state.cache.put(&key, &new, revision);
                    deltas.push(Arc::new(Delta {
                        key,
                        revision,
                        old,
                        new: Some(new),
                    }));
                }
                None => {
                    if let Some(old) = state.cache.remove(&key) {
                        deltas.push(Arc::new(Delta {
                            key,
                            revision,
                            old: Some(old),
                            new: None,
                        }));
                    }
                }
            }
        }
        self.record(&mut state, &deltas);
        deltas
    }

    /// Keeps `deltas` in the history and broadcasts them, under the write lock (see the module
    /// docs).
    fn record(&self, state: &mut State<C>, deltas: &[Arc<DeltaOf<C>>]) {
        if self.inner.history_limit > 0 {
            for delta in deltas {
                state.history.push_back(Arc::clone(delta));
            }
            while state.history.len() > self.inner.history_limit {
                if let Some(dropped) = state.history.pop_front() {
                    state.floor = state.floor.max(dropped.revision);
                }
            }
        } else {
            state.floor = state.revision;
        }
        if self.inner.events.receiver_count() > 0 {
            for delta in deltas {
                // Only fails when nobody listens.
                let _ = self.inner.events.send(Arc::clone(delta));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use everynode_bus::Entry;
    use everynode_bus::names::LeaseKey;

    use super::*;

    /// A cache of strings (protobuf `StringValue`s would do; a `String` message is enough).
    #[derive(Default)]
    struct Strings(HashMap<LeaseKey, (Arc<String>, u64)>);

    #[derive(Clone, PartialEq, prost::Message)]
    struct Text {
        #[prost(string, tag = "1")]
        text: String,
    }

    impl Cache for Strings {
        type Key = LeaseKey;
        type Proto = Text;
        type Object = String;

        fn decode(_: &LeaseKey, value: Text, _: u64) -> String {
            value.text
        }
        fn put(
            &mut self,
            key: &LeaseKey,
            object: &Arc<String>,
            revision: u64,
        ) -> Option<Arc<String>> {
            self.0
                .insert(key.clone(), (Arc::clone(object), revision))
                .map(|(old, _)| old)
        }
        fn remove(&mut self, key: &LeaseKey) -> Option<Arc<String>> {
            self.0.remove(key).map(|(old, _)| old)
        }
        fn revision(&self, key: &LeaseKey) -> Option<u64> {
            self.0.get(key).map(|(_, r)| *r)
        }
        fn keys(&self) -> Vec<LeaseKey> {
            self.0.keys().cloned().collect()
        }
    }

    fn key(name: &str) -> LeaseKey {
        LeaseKey::new(name).unwrap()
    }

    fn entry(name: &str, text: &str, revision: u64) -> Entry<LeaseKey, Text> {
        Entry {
            key: key(name),
            value: Text { text: text.into() },
            revision,
        }
    }

    fn put(name: &str, text: &str, revision: u64) -> Change<LeaseKey, Text> {
        Change::Put {
            key: key(name),
            value: Text { text: text.into() },
            revision,
        }
    }

    fn summary(deltas: &[Arc<DeltaOf<Strings>>]) -> Vec<String> {
        deltas
            .iter()
            .map(|d| {
                format!(
                    "{}:{}->{}",
                    d.key.name(),
                    d.old.as_deref().map_or("-", String::as_str),
                    d.new.as_deref().map_or("-", String::as_str)
                )
            })
            .collect()
    }

    #[test]
    fn first_listing_makes_the_informer_ready_and_adds_everything() {
        let informer = Informer::<Strings>::new("test", 0);
        assert!(!informer.is_ready());
        let deltas = informer.apply_listing(Listing::new(
            vec![entry("a", "1", 3), entry("b", "2", 5)],
            7,
        ));
        assert!(informer.is_ready());
        assert_eq!(informer.revision(), 7);
        let mut seen = summary(&deltas);
        seen.sort();
        assert_eq!(seen, ["a:-->1", "b:-->2"]);
    }

    #[test]
    fn changes_at_or_below_the_cache_revision_are_skipped() {
        let informer = Informer::<Strings>::new("test", 0);
        informer.apply_listing(Listing::new(vec![entry("a", "1", 3)], 7));
        let deltas = informer.apply_changes(vec![
            put("a", "stale", 6),
            put("a", "2", 8),
            Change::Deleted {
                key: key("zzz"),
                revision: 9,
            },
        ]);
        assert_eq!(summary(&deltas), ["a:1->2"]);
        assert_eq!(informer.revision(), 9);
    }

    #[test]
    fn a_relist_reports_only_the_differences() {
        let informer = Informer::<Strings>::new("test", 16);
        informer.apply_listing(Listing::new(
            vec![entry("a", "1", 3), entry("b", "2", 4)],
            4,
        ));
        // While the watch was broken: a changed, b deleted, c added.
        let deltas = informer.apply_listing(Listing::new(
            vec![entry("a", "1b", 10), entry("c", "3", 11)],
            12,
        ));
        let mut seen = summary(&deltas);
        seen.sort();
        assert_eq!(seen, ["a:1->1b", "b:2->-", "c:-->3"]);
        assert!(deltas.iter().all(|d| d.revision == 12));
    }

    #[test]
    fn a_relist_keeps_the_last_good_copy_of_a_key_whose_value_no_longer_decodes() {
        let informer = Informer::<Strings>::new("test", 16);
        informer.apply_listing(Listing::new(
            vec![entry("a", "1", 3), entry("b", "2", 4)],
            4,
        ));
        let mut listing = Listing::new(vec![entry("b", "2", 4)], 9);
        listing.undecodable.push(everynode_bus::Undecodable {
            raw_key: "a".into(),
            key: Some(key("a")),
            revision: 8,
        });
        let deltas = informer.apply_listing(listing);
        assert!(deltas.is_empty(), "nothing changed: {:?}", summary(&deltas));
        // Without the undecodable entry the same relist reports "a" deleted.
        let deltas = informer.apply_listing(Listing::new(vec![entry("b", "2", 4)], 10));
        assert_eq!(summary(&deltas), ["a:1->-"]);
    }

    #[test]
    fn a_watch_resumes_from_the_history_or_is_told_it_is_too_old() {
        let informer = Informer::<Strings>::new("test", 2);
        informer.apply_listing(Listing::new(vec![], 10));
        informer.apply_changes(vec![put("a", "1", 11), put("b", "1", 12)]);
        let (past, _rx) = informer.subscribe_from(11).unwrap();
        assert_eq!(summary(&past), ["b:-->1"]);
        informer.apply_changes(vec![put("c", "1", 13)]);
        // The history keeps 2 deltas: 12 and 13; resuming from 11 still works, from 10 not.
        assert!(informer.subscribe_from(11).is_ok());
        assert_eq!(
            informer.subscribe_from(10).unwrap_err(),
            TooOld {
                requested: 10,
                oldest: 11
            }
        );
    }

    #[test]
    fn subscribers_get_every_later_delta_once() {
        let informer = Informer::<Strings>::new("test", 0);
        informer.apply_listing(Listing::new(vec![entry("a", "1", 1)], 1));
        let (count, revision, mut rx) = informer.snapshot_and_subscribe(|c| c.0.len());
        assert_eq!((count, revision), (1, 1));
        informer.apply_changes(vec![put("a", "2", 2)]);
        let delta = rx.try_recv().unwrap();
        assert_eq!(delta.new.as_deref().map(String::as_str), Some("2"));
        assert!(rx.try_recv().is_err());
    }

    /// A running informer whose cache lacks an entry its revision claims (what a listing that
    /// over-claimed left behind) gets it back when a re-list is asked for: the watch has
    /// nothing new to bring.
    #[tokio::test]
    async fn a_relist_asked_for_restores_an_entry_the_cache_lacks() {
        use everynode_testkit::{NatsServer, Wait};
        let server = NatsServer::start().await.unwrap();
        let client = everynode_bus::connect(&server.url(), "informer-test")
            .await
            .unwrap();
        let js = everynode_bus::jetstream(&client);
        everynode_bus::Bus::ensure(&js, 1).await.unwrap();
        let store: Store<LeaseKey, Text> = Store::open(&js).await.unwrap();
        store
            .put(&key("a"), &Text { text: "1".into() })
            .await
            .unwrap();
        let shutdown = Shutdown::new(Duration::from_secs(1));
        let informer: Informer<Strings> = Informer::new("leases", 0);
        informer.start(store, &client, Arc::new(|_| {}), &shutdown);
        let has_a = |informer: &Informer<Strings>| informer.read(|c| c.0.contains_key(&key("a")));
        Wait::new("the informer lists a")
            .until(|| async { has_a(&informer).then_some(()).ok_or("not yet") })
            .await
            .unwrap();

        // The cache loses `a` while its revision moves past it.
        let beyond = informer.revision() + 1;
        informer.apply_changes(vec![Change::Deleted {
            key: key("a"),
            revision: beyond,
        }]);
        assert!(!has_a(&informer), "the cache lacks a");

        informer.relist();
        Wait::new("the re-list restores a")
            .until(|| async { has_a(&informer).then_some(()).ok_or("still missing") })
            .await
            .unwrap();
        assert_eq!(informer.relists_asked(), 1);
        shutdown.trigger();
    }
}
