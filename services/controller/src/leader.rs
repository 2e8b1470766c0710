//! Leader election on a lease in KV `leases`, so that of several controller replicas exactly
//! one is active (reconciles and writes) and the others stand by (serve the read APIs, keep
//! their caches warm) and take over when it dies.
//!
//! The protocol is Kubernetes' `leaderelection` on a `Lease`, with the KV revision as the
//! resourceVersion:
//! - the lease record names its holder and its duration; every write is a compare-and-set on
//!   the revision read just before, so two candidates can never both win;
//! - the holder renews every `renew` interval; a candidate takes over a lease whose revision
//!   it has seen unchanged for the lease's duration *by its own clock* (so clock skew between
//!   machines does not matter), or a lease without holder;
//! - the holder counts as leader only until `renew_deadline` after the start of its last
//!   successful write (`renew_deadline < duration`), so it stops acting before anyone else can
//!   take over, even when it cannot reach NATS;
//! - on shutdown the holder releases the lease (empty holder), and a standby takes over at its
//!   next attempt instead of after a full lease duration;
//! - every acquisition starts a new *term* (`Lease.term`, the fencing token agents check on
//!   every command): the larger of the previous term + 1 and the wall clock in milliseconds,
//!   so terms grow with every change of hands and restart above every earlier one even if the
//!   lease record is lost. Renewals keep the term. [`run`] publishes the latest term it has
//!   read or written to a [`TermCell`], which stamps every command this replica sends.
//!
//! [`Elector`] is the decision logic, pure and unit-tested; [`run`] is the loop around it that
//! reads and writes the lease and starts and stops the active *term*.

use std::future::Future;
use std::time::{Duration, SystemTime};

use everynode_bus::{ErrorKind, LeaseKey, Store};
use everynode_service::Shutdown;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The lease record stored in KV `leases` (the contract's `everynode.v1.Lease`).
pub type LeaseRecord = everynode_api::v1::Lease;

/// The latest lease term this replica has read or written: the fencing token its pod commands
/// carry. Shared by the leader loop (writer) and the command senders (readers).
#[derive(Debug, Clone, Default)]
pub struct TermCell(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl TermCell {
    /// The term now (0 before the lease was first read).
    pub fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Raises the term to `term` (never lowers it).
    pub fn raise(&self, term: u64) {
        self.0.fetch_max(term, std::sync::atomic::Ordering::AcqRel);
    }
}

/// The term an acquisition after `previous` gets at `wall` (see the module docs).
pub fn next_term(previous: u64, wall: SystemTime) -> u64 {
    let now_ms = wall
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    previous.saturating_add(1).max(now_ms)
}

/// Lease settings.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Key of the lease in KV `leases`.
    pub name: String,
    /// This replica's identity.
    pub identity: String,
    /// How long a lease lasts without renewal.
    pub duration: Duration,
    /// How often the holder renews (and a candidate retries).
    pub renew: Duration,
}

impl LeaseConfig {
    /// How long after its last successful renewal the holder still acts: the duration minus
    /// one renew interval.
    pub fn renew_deadline(&self) -> Duration {
        self.duration.saturating_sub(self.renew)
    }
}

/// What the elector wants written.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nobody holds the lease: create it with this record.
    Create(LeaseRecord),
    /// Write this record if the lease is still at `revision` (renew or take over).
    Update {
        /// The revision read.
        revision: u64,
        /// The record to write.
        record: LeaseRecord,
    },
    /// Someone else holds a live lease.
    Wait {
        /// The holder.
        holder: String,
    },
}

#[derive(Debug, Clone)]
struct Observed {
    revision: u64,
    record: LeaseRecord,
    at: Instant,
}

/// The election logic of one replica (see the module docs).
#[derive(Debug)]
pub struct Elector {
    identity: String,
    duration: Duration,
    renew_deadline: Duration,
    observed: Option<Observed>,
    /// Start of the last successful write of our own record.
    renewed: Option<Instant>,
}

impl Elector {
    /// An elector for `config`.
    pub fn new(config: &LeaseConfig) -> Self {
        Self {
            identity: config.identity.clone(),
            duration: config.duration,
            renew_deadline: config.renew_deadline(),
            observed: None,
            renewed: None,
        }
    }

    /// Decides, at `now` (monotonic) and `wall` (for the record), what to write given the lease
    /// as just read (`(revision, record)`, or `None` when there is none).
    pub fn step(
        &mut self,
        now: Instant,
        wall: SystemTime,
        current: Option<(u64, LeaseRecord)>,
    ) -> Step {
        let Some((revision, record)) = current else {
            self.observed = None;
            return Step::Create(self.fresh_record(wall, 0, 0));
        };
        if self.observed.as_ref().map(|o| o.revision) != Some(revision) {
            self.observed = Some(Observed {
                revision,
                record: record.clone(),
                at: now,
            });
        }
        if record.holder_identity == self.identity {
            let mut renewed = record;
            renewed.renew_time = Some(timestamp(wall));
            renewed.lease_duration_ms = millis(self.duration);
            return Step::Update {
                revision,
                record: renewed,
            };
        }
        let seen_since = self.observed.as_ref().map_or(now, |o| o.at);
        let lasts = match record.lease_duration_ms {
            0 => self.duration,
            ms => Duration::from_millis(ms),
        };
        if record.holder_identity.is_empty() || now.saturating_duration_since(seen_since) >= lasts {
            return Step::Update {
                revision,
                record: self.fresh_record(
                    wall,
                    record.lease_transitions.saturating_add(1),
                    record.term,
                ),
            };
        }
        // Someone else holds it: whatever we believed, we are not leading.
        self.renewed = None;
        Step::Wait {
            holder: record.holder_identity,
        }
    }

    /// Our write that started at `started` stored `record` at `revision`.
    pub fn written(&mut self, started: Instant, revision: u64, record: LeaseRecord) {
        self.renewed = Some(started);
        self.observed = Some(Observed {
            revision,
            record,
            at: started,
        });
    }

    /// Our write lost a compare-and-set (or timed out): we are not leading.
    pub fn lost(&mut self) {
        self.renewed = None;
    }

    /// True while we lead: our last successful write started less than the renew deadline ago.
    pub fn is_leader(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|deadline| now < deadline)
    }

    /// When our leadership ends unless renewed.
    pub fn deadline(&self) -> Option<Instant> {
        self.renewed.map(|renewed| renewed + self.renew_deadline)
    }

    /// The write that releases our lease (holder cleared), if the last record we saw is ours.
    pub fn release(&self, wall: SystemTime) -> Option<(u64, LeaseRecord)> {
        let observed = self.observed.as_ref()?;
        if observed.record.holder_identity != self.identity {
            return None;
        }
        let mut record = observed.record.clone();
        record.holder_identity.clear();
        record.renew_time = Some(timestamp(wall));
        Some((observed.revision, record))
    }

    fn fresh_record(&self, wall: SystemTime, transitions: u32, previous_term: u64) -> LeaseRecord {
        LeaseRecord {
            holder_identity: self.identity.clone(),
            lease_duration_ms: millis(self.duration),
            acquire_time: Some(timestamp(wall)),
            renew_time: Some(timestamp(wall)),
            lease_transitions: transitions,
            term: next_term(previous_term, wall),
        }
    }

    /// The term of the lease as last read or written.
    pub fn term(&self) -> u64 {
        self.observed.as_ref().map_or(0, |o| o.record.term)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn timestamp(wall: SystemTime) -> prost_types::Timestamp {
    let since = wall
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    prost_types::Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
    }
}

/// One attempt: read the lease, decide, write. Errors leave the elector as it was (a
/// leadership that cannot be renewed ends at its deadline).
async fn attempt(
    elector: &mut Elector,
    store: &Store<LeaseKey, LeaseRecord>,
    key: &LeaseKey,
) -> Result<(), everynode_bus::Error> {
    let started = Instant::now();
    let current = store.get(key).await?.map(|v| (v.revision, v.value));
    match elector.step(started, SystemTime::now(), current) {
        Step::Create(record) => match store.create(key, &record).await {
            Ok(revision) => elector.written(started, revision, record),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        },
        Step::Update { revision, record } => match store.update(key, &record, revision).await {
            Ok(revision) => elector.written(started, revision, record),
            Err(e) if e.kind() == ErrorKind::Conflict => elector.lost(),
            Err(e) => return Err(e),
        },
        Step::Wait { .. } => {}
    }
    Ok(())
}

/// Campaigns for the lease until `shutdown`, keeping `terms` at the latest term seen; while
/// this replica leads, runs `lead(token, term)` as a tracked task, cancelling `token` (and
/// waiting for the task) when leadership ends.
pub async fn run<F, Fut>(
    store: Store<LeaseKey, LeaseRecord>,
    config: LeaseConfig,
    terms: TermCell,
    shutdown: Shutdown,
    mut lead: F,
) where
    F: FnMut(CancellationToken, u64) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let key = match LeaseKey::new(config.name.clone()) {
        Ok(key) => key,
        Err(e) => {
            tracing::error!(error = %e, "invalid lease name; this replica never leads");
            return;
        }
    };
    let mut elector = Elector::new(&config);
    let mut term: Option<(CancellationToken, tokio::task::JoinHandle<()>)> = None;
    loop {
        // One attempt gets at most one renew interval (and never past the leadership's
        // deadline): a request to a bucket whose stream has no leader (a NATS member was
        // killed and its streams are electing new ones) gets no answer until the client's own
        // timeout, and retrying every interval finds the new leader as soon as it is there.
        let deadline = elector.deadline();
        let cutoff = attempt_cutoff(Instant::now(), config.renew, deadline);
        let io = attempt(&mut elector, &store, &key);
        let outcome = tokio::select! {
            () = shutdown.signal() => break,
            result = io => Some(result),
            () = tokio::time::sleep_until(cutoff) => None,
        };
        let mut again_now = false;
        match outcome {
            Some(Ok(())) => {}
            Some(Err(error)) => tracing::warn!(%error, "lease read or write failed"),
            None if deadline.is_some_and(|deadline| cutoff >= deadline) => {
                tracing::warn!("lease renewal did not finish before the renew deadline");
                elector.lost();
            }
            None => {
                tracing::debug!(
                    "lease read or write unanswered within the renew interval; trying again"
                );
                again_now = true;
            }
        }
        terms.raise(elector.term());
        let leading = elector.is_leader(Instant::now());
        if leading && term.is_none() {
            tracing::info!(identity = %config.identity, lease = %config.name, term = elector.term(), "became the active controller");
            let token = CancellationToken::new();
            let handle = shutdown.spawn(lead(token.clone(), elector.term()));
            term = Some((token, handle));
        } else if !leading && let Some(active) = term.take() {
            tracing::warn!(identity = %config.identity, "lost the lease; standing by");
            stop(active).await;
        }
        if again_now {
            continue;
        }
        let mut wake = Instant::now() + config.renew;
        if let Some(deadline) = elector.deadline() {
            wake = wake.min(deadline);
        }
        tokio::select! {
            () = shutdown.signal() => break,
            () = tokio::time::sleep_until(wake) => {}
        }
    }
    if let Some(active) = term.take() {
        stop(active).await;
    }
    if let Some((revision, record)) = elector.release(SystemTime::now()) {
        let release = store.update(&key, &record, revision);
        match tokio::time::timeout(config.renew, release).await {
            Ok(Ok(_)) => tracing::info!("released the lease"),
            Ok(Err(error)) => tracing::debug!(%error, "could not release the lease"),
            Err(_) => tracing::debug!("releasing the lease timed out"),
        }
    }
}

/// When an attempt started at `now` is given up: one renew interval later, or at the
/// leadership's `deadline` if that comes first.
fn attempt_cutoff(now: Instant, renew: Duration, deadline: Option<Instant>) -> Instant {
    let cutoff = now + renew;
    deadline.map_or(cutoff, |deadline| cutoff.min(deadline))
}

async fn stop((token, handle): (CancellationToken, tokio::task::JoinHandle<()>)) {
    token.cancel();
    if let Err(error) = handle.await {
        tracing::error!(%error, "the active term ended abnormally");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(identity: &str) -> LeaseConfig {
        LeaseConfig {
            name: "controller".into(),
            identity: identity.into(),
            duration: Duration::from_secs(6),
            renew: Duration::from_secs(2),
        }
    }

    fn record(holder: &str) -> LeaseRecord {
        LeaseRecord {
            holder_identity: holder.into(),
            lease_duration_ms: 6000,
            ..Default::default()
        }
    }

    fn wall() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)
    }

    #[test]
    fn the_first_candidate_creates_the_lease_and_leads_until_the_renew_deadline() {
        let mut a = Elector::new(&config("a"));
        let t0 = Instant::now();
        let Step::Create(created) = a.step(t0, wall(), None) else {
            panic!("expected a create");
        };
        assert_eq!(created.holder_identity, "a");
        assert!(!a.is_leader(t0));
        a.written(t0, 1, created);
        assert!(a.is_leader(t0 + Duration::from_secs(3)));
        assert!(
            !a.is_leader(t0 + Duration::from_secs(4)),
            "renew deadline is 6s - 2s"
        );
    }

    #[test]
    fn the_holder_renews_at_the_revision_it_read() {
        let mut a = Elector::new(&config("a"));
        let t0 = Instant::now();
        match a.step(t0, wall(), Some((7, record("a")))) {
            Step::Update { revision, record } => {
                assert_eq!(revision, 7);
                assert_eq!(record.holder_identity, "a");
                assert_eq!(record.lease_transitions, 0);
            }
            other => panic!("expected a renewal, got {other:?}"),
        }
    }

    #[test]
    fn a_candidate_waits_for_a_full_duration_of_an_unchanged_lease() {
        let mut b = Elector::new(&config("b"));
        let t0 = Instant::now();
        assert!(matches!(
            b.step(t0, wall(), Some((5, record("a")))),
            Step::Wait { .. }
        ));
        assert!(matches!(
            b.step(t0 + Duration::from_secs(5), wall(), Some((5, record("a")))),
            Step::Wait { .. }
        ));
        // a renewed (new revision): the clock starts again.
        assert!(matches!(
            b.step(t0 + Duration::from_secs(5), wall(), Some((6, record("a")))),
            Step::Wait { .. }
        ));
        assert!(matches!(
            b.step(t0 + Duration::from_secs(10), wall(), Some((6, record("a")))),
            Step::Wait { .. }
        ));
        match b.step(t0 + Duration::from_secs(11), wall(), Some((6, record("a")))) {
            Step::Update { revision, record } => {
                assert_eq!(revision, 6);
                assert_eq!(record.holder_identity, "b");
                assert_eq!(record.lease_transitions, 1);
            }
            other => panic!("expected a takeover, got {other:?}"),
        }
    }

    #[test]
    fn a_released_lease_is_taken_at_once() {
        let mut b = Elector::new(&config("b"));
        let t0 = Instant::now();
        assert!(matches!(
            b.step(t0, wall(), Some((9, record("")))),
            Step::Update { revision: 9, .. }
        ));
    }

    #[test]
    fn the_old_leader_stops_before_a_candidate_can_take_over() {
        let cfg = config("a");
        let mut a = Elector::new(&cfg);
        let mut b = Elector::new(&config("b"));
        let t0 = Instant::now();
        a.written(t0, 1, record("a"));
        // b first sees the lease a little after a wrote it.
        b.step(
            t0 + Duration::from_millis(10),
            wall(),
            Some((1, record("a"))),
        );
        // a cannot renew any more (NATS unreachable from a). When can b take over?
        let mut takeover = None;
        for ms in (0..20_000).step_by(100) {
            let now = t0 + Duration::from_millis(ms);
            if matches!(
                b.step(now, wall(), Some((1, record("a")))),
                Step::Update { .. }
            ) {
                takeover = Some(now);
                break;
            }
        }
        let takeover = takeover.unwrap();
        assert!(a.deadline().unwrap() < takeover);
        assert!(!a.is_leader(takeover));
    }

    #[test]
    fn seeing_another_holder_or_losing_a_write_ends_leadership() {
        let mut a = Elector::new(&config("a"));
        let t0 = Instant::now();
        a.written(t0, 1, record("a"));
        assert!(a.is_leader(t0));
        a.step(t0, wall(), Some((2, record("b"))));
        assert!(!a.is_leader(t0));
        a.written(t0, 3, record("a"));
        a.lost();
        assert!(!a.is_leader(t0));
    }

    #[test]
    fn only_the_holder_releases() {
        let mut a = Elector::new(&config("a"));
        let t0 = Instant::now();
        assert!(a.release(wall()).is_none());
        a.written(t0, 4, record("a"));
        let (revision, released) = a.release(wall()).unwrap();
        assert_eq!(revision, 4);
        assert!(released.holder_identity.is_empty());
        a.step(t0, wall(), Some((5, record("b"))));
        assert!(a.release(wall()).is_none());
    }
    #[test]
    fn every_acquisition_starts_a_larger_term_and_renewals_keep_it() {
        let ms = |t: SystemTime| {
            u64::try_from(
                t.duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_millis(),
            )
            .unwrap()
        };
        assert_eq!(
            next_term(0, wall()),
            ms(wall()),
            "the wall clock when it is larger"
        );
        assert_eq!(
            next_term(u64::MAX - 1, wall()),
            u64::MAX,
            "else the previous + 1"
        );
        let later = wall() + Duration::from_secs(1);
        assert_eq!(
            next_term(ms(later) + 5, later),
            ms(later) + 6,
            "clocks going back"
        );

        let mut a = Elector::new(&config("a"));
        let t0 = Instant::now();
        let Step::Create(created) = a.step(t0, wall(), None) else {
            panic!("expected a create");
        };
        let first = created.term;
        assert_eq!(first, ms(wall()));
        a.written(t0, 1, created.clone());
        assert_eq!(a.term(), first);
        // A renewal keeps the term, even later by the clock.
        match a.step(t0, later, Some((1, created.clone()))) {
            Step::Update { record, .. } => assert_eq!(record.term, first),
            other => panic!("expected a renewal, got {other:?}"),
        }
        // b takes over a released lease: a new, larger term, even with b's clock behind.
        let mut released = created;
        released.holder_identity.clear();
        let mut b = Elector::new(&config("b"));
        let behind = wall() - Duration::from_secs(3600);
        match b.step(t0, behind, Some((2, released))) {
            Step::Update { record, .. } => assert_eq!(record.term, first + 1),
            other => panic!("expected a takeover, got {other:?}"),
        }
    }

    #[test]
    fn an_attempt_gets_one_renew_interval_and_never_passes_the_deadline() {
        let now = Instant::now();
        let renew = Duration::from_secs(2);
        assert_eq!(attempt_cutoff(now, renew, None), now + renew);
        assert_eq!(
            attempt_cutoff(now, renew, Some(now + Duration::from_secs(5))),
            now + renew
        );
        assert_eq!(
            attempt_cutoff(now, renew, Some(now + Duration::from_millis(500))),
            now + Duration::from_millis(500)
        );
    }

    #[test]
    fn the_term_cell_only_rises() {
        let cell = TermCell::default();
        assert_eq!(cell.get(), 0);
        cell.raise(5);
        cell.raise(3);
        assert_eq!(cell.get(), 5);
    }
}
