//! Typed KV access shared by all services: protobuf values under typed keys, compare-and-set on
//! revisions, and list-then-watch for informers.
//!
//! A [`Store<K, M>`] is one bucket (chosen by the key type `K`) holding protobuf messages `M`.
//! Every write returns the key's new *revision* (the stream sequence of the write, unique and
//! increasing across the whole bucket); the Kubernetes `resourceVersion` of an object is its
//! revision.
//!
//! - [`Store::create`] writes only if the key does not exist ([`Error::AlreadyExists`]).
//! - [`Store::update`] and [`Store::delete`] with a revision write only if the key is still at
//!   that revision ([`Error::Conflict`]), so read-modify-write loops never lose an update.
//! - [`Store::list`] returns every live entry *and* the bucket revision the list is complete up
//!   to; [`Store::watch`] from `revision + 1` then delivers every later change, so an informer
//!   built from the two misses nothing (it may see a change twice, which compare-by-revision
//!   absorbs).
//! - An entry that does not decode (a foreign or corrupt write) never fails a list or a watch:
//!   it is skipped, logged once per key and revision, counted ([`undecodable_seen`]), and a
//!   listing names it in [`Listing::undecodable`] so an informer can keep its last good copy.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, ReplayPolicy, push};
use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateErrorKind};
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::{Client, HeaderMap, jetstream};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use prost::Message;

use crate::error::{BoxError, Error};
use crate::names::{Bucket, Key, KeyFilter};

/// Header in which KV writes mark deletions and purges.
const KV_OPERATION: &str = "KV-Operation";
/// Longest pause between two entries while listing before the list is abandoned.
const LIST_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a listing of a whole bucket fetches its last revision again when writes keep
/// landing while it reads; past that, keys rewritten in the last moments may be missing from
/// the listing, and the watch from its revision brings them.
const LIST_CHASES: u32 = 16;
/// How long a filtered listing waits for more messages once the consumer said nothing is
/// pending but the bucket had been written since (the writes may all be outside the filter).
const LIST_SETTLE: Duration = Duration::from_millis(100);

/// A value and the revision it was read at.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<M> {
    /// The decoded value.
    pub value: M,
    /// The key's revision when read; pass it to [`Store::update`] to compare-and-set.
    pub revision: u64,
}

/// One live key of a [`Listing`].
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<K, M> {
    /// The key.
    pub key: K,
    /// The decoded value.
    pub value: M,
    /// The key's revision.
    pub revision: u64,
}

/// A live entry that does not decode: its key as stored, the key decoded if the key itself is
/// well-formed (only the value is bad), and the revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Undecodable<K> {
    /// The key as stored in the bucket.
    pub raw_key: String,
    /// The key, when it decodes.
    pub key: Option<K>,
    /// The entry's revision.
    pub revision: u64,
}

/// Every live entry of a bucket (or of a filtered part of it), and the revision the listing is
/// complete up to: every write at or below `revision` is reflected, so a watch from
/// `revision + 1` continues exactly where the list ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<K, M> {
    /// The live entries, in revision order.
    pub entries: Vec<Entry<K, M>>,
    /// The bucket revision the listing is complete up to.
    pub revision: u64,
    /// Live entries skipped because they do not decode (their key still exists: a cache
    /// should keep what it last knew of them rather than treat them as deleted).
    pub undecodable: Vec<Undecodable<K>>,
}

impl<K, M> Listing<K, M> {
    /// A listing of `entries` complete up to `revision`, with nothing undecodable.
    pub fn new(entries: Vec<Entry<K, M>>, revision: u64) -> Self {
        Self {
            entries,
            revision,
            undecodable: Vec::new(),
        }
    }
}

/// What a snapshot read last saw of one key.
enum Slot<K, M> {
    Entry(Entry<K, M>),
    Undecodable(Undecodable<K>),
}

/// How many distinct (bucket, key, revision) entries this process has skipped because they
/// do not decode.
pub fn undecodable_seen() -> u64 {
    UNDECODABLE.count.load(Ordering::Relaxed)
}

/// The undecodable entries already reported: each is logged once, however often it is listed
/// again. Bounded, so that a flood of garbage cannot grow the agent's or a service's memory;
/// past the bound entries are still skipped and counted, but no longer named one by one.
struct UndecodableLog {
    seen: OnceLock<Mutex<HashSet<(Bucket, String, u64)>>>,
    count: AtomicU64,
}

/// Most undecodable entries remembered (and logged) individually.
const UNDECODABLE_REMEMBERED: usize = 10_000;

static UNDECODABLE: UndecodableLog = UndecodableLog {
    seen: OnceLock::new(),
    count: AtomicU64::new(0),
};

impl UndecodableLog {
    fn note(&self, bucket: Bucket, raw_key: &str, revision: u64, error: &str) {
        let mut seen = self
            .seen
            .get_or_init(|| Mutex::new(HashSet::new()))
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= UNDECODABLE_REMEMBERED {
            if seen.len() == UNDECODABLE_REMEMBERED {
                tracing::error!(
                    %bucket,
                    "too many undecodable entries; skipping further ones without naming them"
                );
                seen.insert((bucket, String::new(), 0));
            }
            self.count.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if seen.insert((bucket, raw_key.to_owned(), revision)) {
            self.count.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                %bucket,
                key = raw_key,
                revision,
                error,
                "skipping an entry that does not decode; every other entry is still served"
            );
        }
    }
}

/// A change delivered by [`Store::watch`].
#[derive(Debug, Clone, PartialEq)]
pub enum Change<K, M> {
    /// The key was created or updated.
    Put {
        /// The key.
        key: K,
        /// The new value.
        value: M,
        /// The key's new revision.
        revision: u64,
    },
    /// The key was deleted.
    Deleted {
        /// The key.
        key: K,
        /// The revision of the deletion.
        revision: u64,
    },
}

impl<K, M> Change<K, M> {
    /// The key that changed.
    pub fn key(&self) -> &K {
        match self {
            Change::Put { key, .. } | Change::Deleted { key, .. } => key,
        }
    }

    /// The revision of the change.
    pub fn revision(&self) -> u64 {
        match self {
            Change::Put { revision, .. } | Change::Deleted { revision, .. } => *revision,
        }
    }
}

/// The stream of changes of a watch. It ends only if the client is closed; transient
/// disconnections are ridden out by the underlying ordered consumer.
pub type Changes<K, M> = BoxStream<'static, Result<Change<K, M>, Error>>;

/// Typed access to one KV bucket: keys `K`, protobuf values `M`.
pub struct Store<K, M> {
    kv: kv::Store,
    client: Client,
    types: PhantomData<fn() -> (K, M)>,
}

impl<K, M> Clone for Store<K, M> {
    fn clone(&self) -> Self {
        Self {
            kv: self.kv.clone(),
            client: self.client.clone(),
            types: PhantomData,
        }
    }
}

impl<K, M> std::fmt::Debug for Store<K, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("bucket", &self.kv.name)
            .finish()
    }
}

/// How long [`Store::list_filtered`] waits for the best-effort delete of its consumer.
const LIST_CONSUMER_DELETE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

impl<K: Key, M: Message + Default + 'static> Store<K, M> {
    /// Opens the bucket of `K` (created by [`Bus::ensure`](crate::Bus::ensure)).
    pub async fn open(js: &jetstream::Context) -> Result<Self, Error> {
        let kv = js
            .get_key_value(K::BUCKET.name())
            .await
            .map_err(|err| Error::nats(format!("opening KV bucket {}", K::BUCKET), err))?;
        Ok(Self {
            kv,
            client: js.client(),
            types: PhantomData,
        })
    }

    /// The bucket.
    pub fn bucket(&self) -> Bucket {
        K::BUCKET
    }

    /// The value of `key` and its revision, or `None` if it does not exist or was deleted.
    ///
    /// Read from the bucket's stream leader, so it reflects every write acknowledged before
    /// the call. The buckets allow direct gets, which any replica answers (a client's own
    /// server first) and which lag behind the leader by a few writes in steady state and by
    /// seconds on a member that is catching up after a restart (measured): a read-modify-write
    /// that compares such a read with its caller's revision would refuse an up-to-date caller
    /// with "modified" for as long as the replica lags.
    pub async fn get(&self, key: &K) -> Result<Option<Versioned<M>>, Error> {
        let raw = key.encode();
        let subject = format!("{}{raw}", self.kv.prefix);
        let message = match self
            .kv
            .stream
            .get_last_raw_message_by_subject(&subject)
            .await
        {
            Ok(message) => message,
            Err(err) if err.kind() == LastRawMessageErrorKind::NoMessageFound => return Ok(None),
            Err(err) => {
                return Err(Error::nats(
                    format!("reading {} key {raw:?}", K::BUCKET),
                    err,
                ));
            }
        };
        if is_deletion(Some(&message.headers)) {
            return Ok(None);
        }
        Ok(Some(Versioned {
            value: decode::<K, M>(&raw, &message.payload)?,
            revision: message.sequence,
        }))
    }

    /// Like [`get`](Self::get), with a missing key as [`Error::NotFound`].
    pub async fn get_required(&self, key: &K) -> Result<Versioned<M>, Error> {
        self.get(key).await?.ok_or_else(|| Error::NotFound {
            bucket: K::BUCKET,
            key: key.encode(),
        })
    }

    /// Writes `value` under `key` if the key does not exist (or was deleted); returns the new
    /// revision, or [`Error::AlreadyExists`].
    pub async fn create(&self, key: &K, value: &M) -> Result<u64, Error> {
        let raw = key.encode();
        self.kv
            .create(&raw, encode(value))
            .await
            .map_err(|err| match err.kind() {
                CreateErrorKind::AlreadyExists => Error::AlreadyExists {
                    bucket: K::BUCKET,
                    key: raw.clone(),
                },
                _ => Error::nats(format!("creating {} key {raw:?}", K::BUCKET), err),
            })
    }

    /// Writes `value` under `key` if the key is still at `expected_revision`; returns the new
    /// revision, or [`Error::Conflict`] with the current revision when the server tells it
    /// (`Some(0)`: the key does not exist).
    pub async fn update(&self, key: &K, value: &M, expected_revision: u64) -> Result<u64, Error> {
        let raw = key.encode();
        self.kv
            .update(&raw, encode(value), expected_revision)
            .await
            .map_err(|err| self.cas_error(&raw, expected_revision, "updating", err))
    }

    /// Writes `value` under `key` whatever is there. Only for a key's single writer (an agent
    /// writing its own pods' status); everyone else uses [`update`](Self::update).
    pub async fn put(&self, key: &K, value: &M) -> Result<u64, Error> {
        let raw = key.encode();
        self.kv
            .put(&raw, encode(value))
            .await
            .map_err(|err| Error::nats(format!("writing {} key {raw:?}", K::BUCKET), err))
    }

    /// Deletes `key` (leaving a delete marker that watchers see). With `Some(revision)`, only
    /// if the key is still at that revision ([`Error::Conflict`] otherwise); with `None`,
    /// unconditionally (deleting a missing key succeeds).
    pub async fn delete(&self, key: &K, expected_revision: Option<u64>) -> Result<(), Error> {
        let raw = key.encode();
        self.kv
            .delete_expect_revision(&raw, expected_revision)
            .await
            .map_err(|err| self.cas_error(&raw, expected_revision.unwrap_or(0), "deleting", err))
    }

    /// Every live entry of the bucket, and the revision the list is complete up to.
    pub async fn list(&self) -> Result<Listing<K, M>, Error> {
        self.list_filtered(&KeyFilter::all()).await
    }

    /// The live entries matching `filter`, and the revision the list is complete up to.
    ///
    /// Reads a snapshot with an ordered consumer delivering every entry the bucket holds (one
    /// per key: the buckets keep no history), until nothing is pending. The consumer delivers
    /// in revision order, and writes made while it reads arrive too (a key rewritten or
    /// deleted meanwhile shows up again at its new revision, replacing or removing what was
    /// read of it). The revision is the last one the consumer delivered, never one merely
    /// read from the stream: the consumer may run on a replica that lags behind the stream's
    /// leader, and claiming the leader's revision would skip what the replica had not yet
    /// applied (see [`Snapshot`]).
    pub async fn list_filtered(&self, filter: &KeyFilter<K>) -> Result<Listing<K, M>, Error> {
        let what = format!("listing {} {:?}", K::BUCKET, filter.pattern());
        let deliver_subject = self.client.new_inbox();
        // A named consumer is created on `$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>`:
        // with the filter in the subject, NATS permissions can limit a node to its own keys.
        // Listing everything needs no pinning and stays unnamed.
        let name = (filter.pattern() != ">").then(|| {
            format!(
                "list-{}",
                deliver_subject.rsplit('.').next().unwrap_or_default()
            )
        });
        let consumer = self
            .kv
            .stream
            .create_consumer(push::OrderedConfig {
                name,
                deliver_subject,
                description: Some(format!("everynode list of {}", K::BUCKET)),
                filter_subject: format!("{}{}", self.kv.prefix, filter.pattern()),
                // Not LastPerSubject: its pending count covers only the keys' last entries
                // as of the consumer's creation, so a key rewritten meanwhile (its old entry
                // gone, its new one beyond that set) could be missed when the count reaches
                // zero. The buckets keep one entry per key, so "all" delivers the same
                // entries, and its pending count includes every later write.
                deliver_policy: DeliverPolicy::All,
                replay_policy: ReplayPolicy::Instant,
                ..Default::default()
            })
            .await
            .map_err(|err| Error::nats(what.clone(), err))?;
        let consumer_name = consumer.cached_info().name.clone();
        let whole = filter.pattern() == KeyFilter::<K>::all().pattern();
        let pending = consumer.cached_info().num_pending;
        let listing = match self.nothing_to_read(pending, whole, &what).await {
            Ok(Some(revision)) => Ok(Listing::new(Vec::new(), revision)),
            Ok(None) => match consumer.messages().await {
                Ok(messages) => self.read_snapshot(messages, whole, &what).await,
                Err(err) => Err(Error::nats(what.clone(), err)),
            },
            Err(err) => Err(err),
        };
        // Best effort: the server drops an idle consumer by itself a little later anyway.
        // Bounded: an agent's NATS credentials do not allow deleting consumers, and a refused
        // request would otherwise wait for the client's whole request timeout.
        match tokio::time::timeout(
            LIST_CONSUMER_DELETE_TIMEOUT,
            self.kv.stream.delete_consumer(&consumer_name),
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::debug!(error = %err, "could not delete the list consumer"),
            Err(_) => tracing::debug!("deleting the list consumer timed out; the server drops it"),
        }
        listing
    }

    /// `Some(revision)` when a new snapshot consumer with `pending` messages has nothing to
    /// read, and the empty listing is complete up to `revision`. With nothing pending, a
    /// filtered snapshot is empty (up to revision 0: the consumer delivered nothing); a whole
    /// one only if the stream's leader holds no message either (up to the leader's last
    /// revision), since the consumer's replica may lag behind or writes may have landed
    /// since it was created: then it is read like any other.
    async fn nothing_to_read(
        &self,
        pending: u64,
        whole: bool,
        what: &str,
    ) -> Result<Option<u64>, Error> {
        match (pending, whole) {
            (0, false) => return Ok(Some(0)),
            (0, true) => {}
            _ => return Ok(None),
        }
        let state = self.leader_state(what).await?;
        Ok((state.messages == 0).then_some(state.last_sequence))
    }

    /// The bucket's stream state, as its leader answers it.
    async fn leader_state(&self, what: &str) -> Result<jetstream::stream::State, Error> {
        Ok(self
            .kv
            .stream
            .get_info()
            .await
            .map_err(|err| Error::nats(what, err))?
            .state)
    }

    /// Reads the snapshot until it is complete; see [`list_filtered`](Self::list_filtered)
    /// and [`Snapshot`] for when that is.
    async fn read_snapshot(
        &self,
        mut messages: push::Ordered,
        whole: bool,
        what: &str,
    ) -> Result<Listing<K, M>, Error> {
        let mut snapshot = Snapshot::new(whole);
        let mut latest: HashMap<String, Slot<K, M>> = HashMap::new();
        loop {
            let message = match tokio::time::timeout(snapshot.wait(), messages.next()).await {
                Ok(Some(Ok(message))) => message,
                Ok(Some(Err(err))) => return Err(Error::nats(what, err)),
                Ok(None) => return Err(Error::other(what, "the consumer ended early")),
                Err(_) if snapshot.settled() => break,
                Err(elapsed) => return Err(Error::nats(what, elapsed)),
            };
            let (revision, pending) = {
                let info = message.info().map_err(|err| Error::other(what, err))?;
                (info.stream_sequence, info.pending)
            };
            snapshot.delivered(revision);
            let raw = message
                .subject
                .strip_prefix(self.kv.prefix.as_str())
                .unwrap_or(message.subject.as_str());
            if is_deletion(message.headers.as_ref()) {
                latest.remove(raw);
            } else {
                let slot = match (K::decode(raw), decode::<K, M>(raw, &message.payload)) {
                    (Ok(key), Ok(value)) => Slot::Entry(Entry {
                        key,
                        value,
                        revision,
                    }),
                    (key, value) => {
                        let error = match (&key, value) {
                            (Err(err), _) => err.to_string(),
                            (Ok(_), Err(err)) => err.to_string(),
                            (Ok(_), Ok(_)) => String::new(),
                        };
                        UNDECODABLE.note(K::BUCKET, raw, revision, &error);
                        Slot::Undecodable(Undecodable {
                            raw_key: raw.to_owned(),
                            key: key.ok(),
                            revision,
                        })
                    }
                };
                latest.insert(raw.to_owned(), slot);
            }
            if snapshot.wants_last(pending) {
                let last = self.leader_state(what).await?.last_sequence;
                if snapshot.last_is(last) {
                    break;
                }
            }
        }
        let revision_seen = snapshot.revision();
        let mut listing = Listing::new(Vec::with_capacity(latest.len()), revision_seen);
        for slot in latest.into_values() {
            match slot {
                Slot::Entry(entry) => listing.entries.push(entry),
                Slot::Undecodable(undecodable) => listing.undecodable.push(undecodable),
            }
        }
        listing.entries.sort_unstable_by_key(|entry| entry.revision);
        listing.undecodable.sort_unstable_by_key(|u| u.revision);
        Ok(listing)
    }

    /// Every change of a key matching `filter` from revision `from_revision` on (inclusive; use
    /// a listing's `revision + 1`). Changes of the same key arrive in revision order; a key
    /// changed several times before the watch reaches it may show only its latest value.
    pub async fn watch(
        &self,
        filter: &KeyFilter<K>,
        from_revision: u64,
    ) -> Result<Changes<K, M>, Error> {
        let watch = self
            .kv
            .watch_from_revision(filter.pattern(), from_revision.max(1))
            .await
            .map_err(|err| {
                Error::nats(
                    format!("watching {} {:?}", K::BUCKET, filter.pattern()),
                    err,
                )
            })?;
        let entries = watch.boxed();
        let entries = if filter.pattern() == KeyFilter::<K>::all().pattern() {
            watchdog(
                entries,
                self.kv.stream.clone(),
                K::BUCKET,
                from_revision.max(1) - 1,
                WATCH_IDLE_CHECK,
            )
        } else {
            entries
        };
        Ok(entries
            .filter_map(|entry| futures::future::ready(Self::change(entry)))
            .boxed())
    }

    /// One watched entry as a [`Change`]; `None` (after noting it) for an entry that does not
    /// decode, so that one bad write never ends a watch.
    fn change(entry: Result<kv::Entry, kv::WatcherError>) -> Option<Result<Change<K, M>, Error>> {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => return Some(Err(Error::nats(format!("watching {}", K::BUCKET), err))),
        };
        let decoded = K::decode(&entry.key)
            .map_err(|err| err.to_string())
            .and_then(|key| match entry.operation {
                Operation::Put => decode::<K, M>(&entry.key, &entry.value)
                    .map(|value| Change::Put {
                        key,
                        value,
                        revision: entry.revision,
                    })
                    .map_err(|err| err.to_string()),
                Operation::Delete | Operation::Purge => Ok(Change::Deleted {
                    key,
                    revision: entry.revision,
                }),
            });
        match decoded {
            Ok(change) => Some(Ok(change)),
            Err(error) => {
                UNDECODABLE.note(K::BUCKET, &entry.key, entry.revision, &error);
                None
            }
        }
    }

    fn cas_error(&self, raw: &str, expected: u64, doing: &str, err: kv::UpdateError) -> Error {
        if err.kind() == UpdateErrorKind::WrongLastRevision {
            Error::Conflict {
                bucket: K::BUCKET,
                key: raw.to_owned(),
                expected,
                actual: actual_revision(&err),
            }
        } else {
            Error::nats(format!("{doing} {} key {raw:?}", K::BUCKET), err)
        }
    }
}

/// When a listing's snapshot is complete, and up to which revision.
///
/// The snapshot's consumer may run on any replica of the stream, and a follower can lag a
/// little behind the leader (measured: right after a NATS member was killed, a listing that
/// took the leader's last revision as its own missed the three writes its follower had not
/// applied yet, and the watch from that revision never brought them). So completeness is
/// judged only by what the consumer delivered: once it says nothing is pending, the
/// leader's last revision is read, and the snapshot is complete when it has delivered that
/// far. (The pending count alone cannot tell either: it lags behind fast writers — measured:
/// it read 0 while a rewrite of a key not yet delivered was already stored, and the key was
/// missing; a key rewritten while the snapshot is read loses its old entry and shows up again
/// at its new revision.) A whole-bucket snapshot reads on until then (the message at the last revision always
/// comes: a later write only adds one past it), checking the leader again at most
/// [`LIST_CHASES`] times against writers that never pause; a filtered one, whose filter may
/// match none of the later writes, settles after [`LIST_SETTLE`] without a message. Its
/// revision is the last one delivered: everything at or below it that matched is in it.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    whole: bool,
    delivered: u64,
    /// The leader's last revision, once the consumer has said nothing is pending.
    fence: Option<u64>,
    chases: u32,
}

impl Snapshot {
    fn new(whole: bool) -> Self {
        Self {
            whole,
            delivered: 0,
            fence: None,
            chases: 0,
        }
    }

    /// How long to wait for the next message.
    fn wait(&self) -> Duration {
        match self.fence {
            Some(_) if !self.whole => LIST_SETTLE,
            _ => LIST_STALL_TIMEOUT,
        }
    }

    /// Whether a wait that timed out ends the snapshot (rather than failing it).
    fn settled(&self) -> bool {
        self.fence.is_some() && !self.whole
    }

    fn delivered(&mut self, revision: u64) {
        self.delivered = self.delivered.max(revision);
    }

    /// Whether to read the leader's last revision now: the consumer says nothing is pending,
    /// or the snapshot has reached the last revision read before.
    fn wants_last(&self, pending: u64) -> bool {
        pending == 0 || self.fence.is_some_and(|fence| self.delivered >= fence)
    }

    /// Takes the leader's last revision; `true` when the snapshot is complete.
    fn last_is(&mut self, last: u64) -> bool {
        if self.delivered >= last || (self.whole && self.chases >= LIST_CHASES) {
            return true;
        }
        self.chases += 1;
        self.fence = Some(last);
        false
    }

    /// The revision the snapshot is complete up to.
    fn revision(&self) -> u64 {
        self.delivered
    }
}

/// How long a watch of a whole bucket may deliver nothing before it checks that the bucket
/// has not moved on without it.
const WATCH_IDLE_CHECK: Duration = Duration::from_secs(5);
/// The longest that check waits for the stream's information.
const WATCH_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

type RawEntries = BoxStream<'static, Result<kv::Entry, kv::WatcherError>>;

/// Passes a whole-bucket watch's entries through, and ends it with an error when it has
/// stalled: after `idle` without a delivery the bucket's last revision is read, and if it is
/// past the last revision delivered (`seen` before the first) the watch has missed writes.
///
/// The client's watch is an ordered consumer that recreates itself after missed heartbeats,
/// retrying without end and without a word; when its stream's leader was killed that can
/// leave it waiting for good (measured: a controller's pods cache stood still for two minutes
/// after a NATS member kill while the bucket moved on). An error instead makes the caller
/// list and watch again, which it does for any broken watch.
fn watchdog(
    entries: RawEntries,
    stream: jetstream::stream::Stream,
    bucket: Bucket,
    seen: u64,
    idle: Duration,
) -> RawEntries {
    type Item = Result<kv::Entry, kv::WatcherError>;
    struct Watching {
        entries: RawEntries,
        stream: jetstream::stream::Stream,
        seen: u64,
    }
    let stalled = move |seen: u64, last: u64| -> Item {
        Err(kv::WatcherError::with_source(
            kv::WatcherErrorKind::Other,
            format!(
                "the watch of bucket {bucket} stalled: the bucket is at revision {last}, the watch delivered up to {seen}"
            ),
        ))
    };
    futures::stream::unfold(
        Some(Watching {
            entries,
            stream,
            seen,
        }),
        move |state| async move {
            let mut watching = state?;
            loop {
                match tokio::time::timeout(idle, watching.entries.next()).await {
                    Ok(Some(Ok(entry))) => {
                        watching.seen = watching.seen.max(entry.revision);
                        return Some((Ok(entry), Some(watching)));
                    }
                    Ok(Some(Err(err))) => return Some((Err(err), Some(watching))),
                    Ok(None) => return None,
                    Err(_) => {
                        let probe = watching.stream.get_info();
                        match tokio::time::timeout(WATCH_PROBE_TIMEOUT, probe).await {
                            Ok(Ok(info)) if info.state.last_sequence > watching.seen => {
                                tracing::warn!(
                                    bucket = %bucket,
                                    seen = watching.seen,
                                    last = info.state.last_sequence,
                                    "a watch stalled; ending it"
                                );
                                return Some((
                                    stalled(watching.seen, info.state.last_sequence),
                                    None,
                                ));
                            }
                            Ok(Ok(info)) => tracing::debug!(
                                bucket = %bucket,
                                seen = watching.seen,
                                last = info.state.last_sequence,
                                "an idle watch is up to date"
                            ),
                            Ok(Err(error)) => tracing::debug!(
                                bucket = %bucket,
                                %error,
                                "could not check an idle watch"
                            ),
                            Err(_) => tracing::debug!(
                                bucket = %bucket,
                                "checking an idle watch timed out"
                            ),
                        }
                    }
                }
            }
        },
    )
    .boxed()
}

impl Error {
    pub(crate) fn other(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Other {
            context: context.into(),
            source: source.into(),
        }
    }
}

fn encode<M: Message>(value: &M) -> Bytes {
    Bytes::from(value.encode_to_vec())
}

fn decode<K: Key, M: Message + Default>(raw_key: &str, bytes: &[u8]) -> Result<M, Error> {
    M::decode(bytes).map_err(|source| Error::Decode {
        what: format!("{} key {raw_key:?}", K::BUCKET),
        source,
    })
}

fn is_deletion(headers: Option<&HeaderMap>) -> bool {
    headers.is_some_and(|headers| {
        headers
            .get(KV_OPERATION)
            .is_some_and(|op| matches!(op.as_str(), "DEL" | "PURGE"))
            || headers
                .get(async_nats::header::NATS_MARKER_REASON)
                .is_some()
    })
}

/// The key's current revision from a "wrong last sequence: N" answer, if the server said.
fn actual_revision(err: &(dyn std::error::Error + 'static)) -> Option<u64> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(api) = err.downcast_ref::<jetstream::Error>() {
            let text = api.to_string();
            let (_, after) = text.split_once("wrong last sequence")?;
            let digits: String = after
                .trim_start_matches([':', ' '])
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            return digits.parse().ok();
        }
        current = err.source();
    }
    None
}

#[cfg(test)]
mod snapshot_tests {
    use super::{LIST_CHASES, LIST_SETTLE, LIST_STALL_TIMEOUT, Snapshot};

    /// Delivers `revisions` with the pending counts the consumer reports, and answers each
    /// request for the leader's last revision from `lasts`; `Some(revision)` once complete.
    fn run(snapshot: &mut Snapshot, messages: &[(u64, u64)], lasts: &[u64]) -> Option<u64> {
        let mut lasts = lasts.iter();
        for &(revision, pending) in messages {
            snapshot.delivered(revision);
            if snapshot.wants_last(pending) {
                let last = *lasts.next().expect("a leader revision for each check");
                if snapshot.last_is(last) {
                    return Some(snapshot.revision());
                }
            }
        }
        None
    }

    #[test]
    fn a_consumer_on_a_lagging_replica_is_not_complete_until_it_delivered_the_leaders_last() {
        // The replica has applied up to 7; the leader is at 10. The consumer says nothing
        // is pending after 7: the listing is not complete (claiming 10 would skip 8-10).
        let mut snapshot = Snapshot::new(true);
        assert_eq!(run(&mut snapshot, &[(3, 2), (5, 1), (7, 0)], &[10]), None);
        assert_eq!(snapshot.wait(), LIST_STALL_TIMEOUT, "it waits for the rest");
        assert!(!snapshot.settled(), "a timeout fails the listing");
        // The replica catches up: 9 and 10 arrive, and the leader is still at 10.
        assert_eq!(run(&mut snapshot, &[(9, 1), (10, 0)], &[10]), Some(10));
    }

    #[test]
    fn a_consumer_that_delivered_the_leaders_last_is_complete_at_once() {
        let mut snapshot = Snapshot::new(true);
        assert_eq!(run(&mut snapshot, &[(4, 1), (6, 0)], &[6]), Some(6));
    }

    #[test]
    fn writes_landing_while_reading_are_chased_up_to_the_last_check() {
        let mut snapshot = Snapshot::new(true);
        // Pending 0 at 6 while the leader is at 8; on reaching 8 it is at 9, then stays.
        assert_eq!(run(&mut snapshot, &[(6, 0), (8, 1)], &[8, 9]), None);
        assert_eq!(run(&mut snapshot, &[(9, 0)], &[9]), Some(9));
    }

    #[test]
    fn against_a_writer_that_never_pauses_it_stops_at_what_it_delivered() {
        let mut snapshot = Snapshot::new(true);
        let mut revision = 1;
        let mut done = None;
        for _ in 0..=LIST_CHASES {
            done = run(&mut snapshot, &[(revision, 0)], &[revision + 5]);
            revision += 5;
            if done.is_some() {
                break;
            }
        }
        let done = done.expect("it gives up chasing");
        assert_eq!(
            done, snapshot.delivered,
            "complete only up to what it delivered"
        );
        assert!(
            done < revision,
            "not up to the leader's last ({done} vs {revision})"
        );
    }

    #[test]
    fn a_filtered_snapshot_settles_without_claiming_what_it_did_not_deliver() {
        let mut snapshot = Snapshot::new(false);
        // Its last match is 4; the bucket is at 12 (writes of keys outside the filter).
        assert_eq!(run(&mut snapshot, &[(2, 1), (4, 0)], &[12]), None);
        assert_eq!(snapshot.wait(), LIST_SETTLE);
        assert!(snapshot.settled(), "a quiet wait ends it");
        assert_eq!(snapshot.revision(), 4);
    }
}

#[cfg(test)]
mod watchdog_tests {
    use super::*;
    use crate::names::NodeKey;
    use everynode_testkit::NatsServer;

    /// The inner watch here never delivers (as a watch whose consumer is stuck recreating
    /// itself): while the bucket stands still nothing happens, and once the bucket moves on
    /// the watch ends with an error naming both revisions.
    #[tokio::test]
    async fn a_watch_that_misses_writes_is_ended_with_an_error() {
        let server = NatsServer::start().await.unwrap();
        let client = crate::connect(&server.url(), "watchdog-test")
            .await
            .unwrap();
        let js = jetstream::new(client);
        crate::Bus::ensure(&js, 1).await.unwrap();
        let store: Store<NodeKey, ()> = Store::open(&js).await.unwrap();
        store.put(&NodeKey::new("n1").unwrap(), &()).await.unwrap();

        let mut watch = watchdog(
            futures::stream::pending().boxed(),
            store.kv.stream.clone(),
            Bucket::Nodes,
            1,
            Duration::from_millis(200),
        );
        assert!(
            tokio::time::timeout(Duration::from_secs(1), watch.next())
                .await
                .is_err(),
            "nothing was missed: the watch goes on"
        );
        store.put(&NodeKey::new("n2").unwrap(), &()).await.unwrap();
        let item = tokio::time::timeout(Duration::from_secs(5), watch.next())
            .await
            .expect("the watch ends")
            .expect("with an item");
        let error = item.expect_err("an error").to_string();
        assert!(error.contains("stalled"), "{error}");
        assert!(error.contains("revision 2"), "{error}");
        assert!(watch.next().await.is_none(), "and nothing after it");
    }
}
