//! The work queue of DaemonSet keys (client-go's rate-limiting work queue, in small):
//!
//! - **deduplicated**: a key added while it waits is not queued twice;
//! - **one at a time per key**: a key handed to a worker is *processing*; adding it again only
//!   marks it dirty, and [`WorkQueue::done`] queues it once more, so two workers never
//!   reconcile the same DaemonSet at once and no change is lost;
//! - **delayed adds** ([`WorkQueue::add_after`]): the earliest deadline per key wins;
//! - **rate-limited retries** ([`WorkQueue::add_rate_limited`]): per key, the delay of the
//!   project's one retry policy ([`Backoff`]: doubling, capped, jittered) for the number of
//!   failures in a row, reset by [`WorkQueue::forget`] after a success;
//! - **shutdown** ([`WorkQueue::shut_down`]): waiting workers get `None`.
//!
//! The state is behind a `std::sync::Mutex`, held only for the few lines that touch it; workers
//! wait on a `tokio::sync::Notify` or the next delayed deadline.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use everynode_core::retry::Backoff;
use tokio::sync::Notify;
use tokio::time::Instant;

struct State<K> {
    queue: VecDeque<K>,
    dirty: HashSet<K>,
    processing: HashSet<K>,
    /// Delayed keys: deadline per key, and the same ordered by (deadline, sequence).
    waiting: HashMap<K, (Instant, u64)>,
    timers: BTreeMap<(Instant, u64), K>,
    sequence: u64,
    failures: HashMap<K, u32>,
    shutting_down: bool,
}

/// A deduplicating, rate-limiting queue of keys; see the module docs.
pub struct WorkQueue<K> {
    state: Mutex<State<K>>,
    notify: Notify,
    limit: Backoff,
}

impl<K> std::fmt::Debug for WorkQueue<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkQueue")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<K: Clone + Eq + Hash> WorkQueue<K> {
    /// An empty queue retrying failed keys with `limit`.
    pub fn new(limit: Backoff) -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashSet::new(),
                waiting: HashMap::new(),
                timers: BTreeMap::new(),
                sequence: 0,
                failures: HashMap::new(),
                shutting_down: false,
            }),
            notify: Notify::new(),
            limit,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<K>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `key` now (unless it already waits).
    pub fn add(&self, key: K) {
        let queued = {
            let mut state = self.lock();
            add_locked(&mut state, key)
        };
        if queued {
            self.notify.notify_one();
        }
    }

    /// Queues `key` after `delay` (zero: now). An earlier pending deadline for the key wins.
    pub fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            self.add(key);
            return;
        }
        let deadline = Instant::now() + delay;
        {
            let mut state = self.lock();
            if state.shutting_down {
                return;
            }
            if let Some((existing, sequence)) = state.waiting.get(&key).copied() {
                if existing <= deadline {
                    return;
                }
                state.timers.remove(&(existing, sequence));
            }
            state.sequence += 1;
            let sequence = state.sequence;
            state.waiting.insert(key.clone(), (deadline, sequence));
            state.timers.insert((deadline, sequence), key);
        }
        // A sleeping worker must recompute its timer.
        self.notify.notify_one();
    }

    /// Queues `key` after its rate-limited delay and counts the failure.
    pub fn add_rate_limited(&self, key: K) {
        self.add_rate_limited_at_most(key, Duration::MAX);
    }

    /// [`add_rate_limited`](Self::add_rate_limited), but never later than `cap` from now: for
    /// failures that say "not now" (a service or NATS unavailable) rather than "not this way",
    /// so that a key which failed many times during a short outage is retried soon after it.
    pub fn add_rate_limited_at_most(&self, key: K, cap: Duration) {
        let failures = {
            let mut state = self.lock();
            let failures = state.failures.entry(key.clone()).or_insert(0);
            *failures = failures.saturating_add(1);
            *failures
        };
        self.add_after(key, self.limit.delay(failures).min(cap));
    }

    /// Forgets the failures of `key` (after a successful reconcile).
    pub fn forget(&self, key: &K) {
        self.lock().failures.remove(key);
    }

    /// How many times `key` failed in a row.
    pub fn failures(&self, key: &K) -> u32 {
        self.lock().failures.get(key).copied().unwrap_or(0)
    }

    /// Waits for the next key and marks it processing; `None` once the queue shuts down.
    pub async fn get(&self) -> Option<K> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let next_timer = {
                let mut state = self.lock();
                promote_due(&mut state, Instant::now());
                if let Some(key) = state.queue.pop_front() {
                    state.dirty.remove(&key);
                    state.processing.insert(key.clone());
                    let more = !state.queue.is_empty();
                    drop(state);
                    if more {
                        // Keep the other workers busy.
                        self.notify.notify_one();
                    }
                    return Some(key);
                }
                if state.shutting_down {
                    return None;
                }
                state.timers.keys().next().map(|(deadline, _)| *deadline)
            };
            match next_timer {
                Some(deadline) => {
                    tokio::select! {
                        () = notified => {}
                        () = tokio::time::sleep_until(deadline) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Marks `key` done; if it was added while processing, it is queued again.
    pub fn done(&self, key: &K) {
        let queued = {
            let mut state = self.lock();
            state.processing.remove(key);
            if state.dirty.contains(key) && !state.shutting_down {
                state.queue.push_back(key.clone());
                true
            } else {
                false
            }
        };
        if queued {
            self.notify.notify_one();
        }
    }

    /// Stops the queue: every waiting and future [`get`](Self::get) returns `None`.
    pub fn shut_down(&self) {
        self.lock().shutting_down = true;
        self.notify.notify_waiters();
    }

    /// Keys queued now (not counting delayed ones).
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// True when no key is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Adds `key` to the queue unless it is dirty already; true when it was queued for a worker.
fn add_locked<K: Clone + Eq + Hash>(state: &mut State<K>, key: K) -> bool {
    if state.shutting_down || state.dirty.contains(&key) {
        return false;
    }
    state.dirty.insert(key.clone());
    if state.processing.contains(&key) {
        return false;
    }
    state.queue.push_back(key);
    true
}

/// Moves the delayed keys whose deadline has passed into the queue.
fn promote_due<K: Clone + Eq + Hash>(state: &mut State<K>, now: Instant) {
    while let Some(entry) = state.timers.first_entry() {
        if entry.key().0 > now {
            break;
        }
        let key = entry.remove();
        state.waiting.remove(&key);
        add_locked(state, key);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn queue() -> WorkQueue<&'static str> {
        WorkQueue::new(Backoff::new(
            Duration::from_millis(10),
            Duration::from_secs(1),
        ))
    }

    async fn next(q: &WorkQueue<&'static str>) -> Option<&'static str> {
        tokio::time::timeout(Duration::from_secs(5), q.get())
            .await
            .ok()
            .flatten()
    }

    #[tokio::test]
    async fn a_key_added_twice_is_handed_out_once() {
        let q = queue();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.len(), 2);
        assert_eq!(next(&q).await, Some("a"));
        assert_eq!(next(&q).await, Some("b"));
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn a_key_added_while_processing_waits_for_done() {
        let q = queue();
        q.add("a");
        assert_eq!(next(&q).await, Some("a"));
        q.add("a");
        assert!(
            q.is_empty(),
            "a processing key is not handed to a second worker"
        );
        q.done(&"a");
        assert_eq!(q.len(), 1);
        assert_eq!(next(&q).await, Some("a"));
        q.done(&"a");
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_keys_arrive_at_their_deadline_and_the_earliest_wins() {
        let q = queue();
        let start = Instant::now();
        q.add_after("a", Duration::from_secs(10));
        q.add_after("a", Duration::from_secs(3));
        q.add_after("a", Duration::from_secs(7));
        assert_eq!(next(&q).await, Some("a"));
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        q.done(&"a");
        assert!(
            tokio::time::timeout(Duration::from_secs(60), q.get())
                .await
                .is_err(),
            "the later deadlines were dropped"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_exponentially_until_forgotten() {
        let q = queue();
        let mut delays = Vec::new();
        for _ in 0..4 {
            let start = Instant::now();
            q.add_rate_limited("a");
            assert_eq!(next(&q).await, Some("a"));
            q.done(&"a");
            delays.push(start.elapsed().as_millis());
        }
        // The policy's ceilings are 10, 20, 40, 80 ms; jitter waits between half and all.
        for (delay, ceiling) in delays.iter().zip([10, 20, 40, 80]) {
            assert!(
                (ceiling / 2..=ceiling).contains(delay),
                "{delays:?} against ceilings 10, 20, 40, 80"
            );
        }
        assert_eq!(q.failures(&"a"), 4);
        q.forget(&"a");
        let start = Instant::now();
        q.add_rate_limited("a");
        assert_eq!(next(&q).await, Some("a"));
        assert!(
            start.elapsed() <= Duration::from_millis(10),
            "reset after forget"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn capped_retries_wait_at_most_the_cap_however_many_failures() {
        let q = queue();
        for _ in 0..30 {
            let start = Instant::now();
            q.add_rate_limited_at_most("a", Duration::from_millis(40));
            assert_eq!(next(&q).await, Some("a"));
            q.done(&"a");
            assert!(
                start.elapsed() <= Duration::from_millis(40),
                "{:?}",
                start.elapsed()
            );
        }
        assert_eq!(q.failures(&"a"), 30);
        // Uncapped, the 31st failure would wait the policy's ceiling.
        let start = Instant::now();
        q.add_rate_limited("a");
        assert_eq!(next(&q).await, Some("a"));
        assert!(
            start.elapsed() > Duration::from_millis(40),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn shut_down_releases_waiting_workers() {
        let q = Arc::new(queue());
        let waiter = {
            let q = Arc::clone(&q);
            tokio::spawn(async move { q.get().await })
        };
        tokio::task::yield_now().await;
        q.shut_down();
        assert_eq!(waiter.await.unwrap(), None);
        q.add("a");
        assert_eq!(q.get().await, None);
    }

    #[tokio::test]
    async fn several_workers_share_the_keys() {
        let q = Arc::new(queue());
        let mut workers = Vec::new();
        for _ in 0..3 {
            let q = Arc::clone(&q);
            workers.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                while let Some(key) = q.get().await {
                    seen.push(key);
                    q.done(&key);
                }
                seen
            }));
        }
        for key in ["a", "b", "c", "d", "e"] {
            q.add(key);
        }
        tokio::time::timeout(Duration::from_secs(5), async {
            while !q.is_empty() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
        q.shut_down();
        let mut all = Vec::new();
        for worker in workers {
            all.extend(worker.await.unwrap());
        }
        all.sort();
        assert_eq!(all, ["a", "b", "c", "d", "e"]);
    }
}
