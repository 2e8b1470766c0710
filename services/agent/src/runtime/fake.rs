//! The `fake` runtime: pods without processes, for tests, demos and the benchmark.
//!
//! A pod is `ContainerCreating` for the start latency, then its containers run; they turn ready
//! after the readiness delay. With a failure rate, each start attempt fails with that
//! probability (decided by a hash of the pod uid and the attempt, so runs are reproducible):
//! the containers crash-loop with back-off, counting restarts, until an attempt succeeds.
//!
//! Scale: one timer task (a heap of deadlines) drives every pod of every simulated node, and a
//! pod costs a small struct; there is no task per node or per pod.

use std::cmp::Reverse;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use everynode_api::v1;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use everynode_core::model::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, Pod, Timestamp,
};
use everynode_service::Shutdown;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{PodRun, Runtime, StartMode};
use crate::backoff::{Backoff, BackoffPolicy};
use crate::pods::{PodSink, uid_of};
use crate::status::{self, PodFacts, REASON_CONTAINER_CREATING, REASON_CRASH_LOOP_BACK_OFF};

/// Settings of the fake runtime.
#[derive(Debug, Clone, Copy)]
pub struct FakeConfig {
    /// From accepting a pod to its containers running.
    pub start_latency: Duration,
    /// From running to ready.
    pub ready_delay: Duration,
    /// Probability that a start attempt fails.
    pub failure_rate: f64,
    /// Back-off between failed attempts.
    pub backoff: BackoffPolicy,
}

/// The `fake` runtime.
#[derive(Debug, Clone)]
pub struct FakeRuntime {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: FakeConfig,
    state: Mutex<State>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct State {
    pods: HashMap<String, FakePod>,
    /// (deadline, generation, uid): a timer is stale once the pod's generation moved on.
    timers: BinaryHeap<Reverse<(Instant, u64, String)>>,
    generation: u64,
}

#[derive(Debug)]
struct FakePod {
    sink: PodSink,
    facts: PodFacts,
    stage: Stage,
    generation: u64,
    /// Failed start attempts so far.
    failures: i32,
    backoff: Backoff,
    started_at: Timestamp,
    last_failure: Option<(Timestamp, Timestamp)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Creating,
    BackOff,
    Running { ready: bool },
}

impl FakeRuntime {
    /// A fake runtime; [`run`](Self::run) drives its timers.
    pub fn new(config: FakeConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State::default()),
                notify: Notify::new(),
            }),
        }
    }

    /// How many pods it runs.
    pub fn len(&self) -> usize {
        self.inner.state().pods.len()
    }

    /// Whether it runs no pod.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drives every pod's timers until shutdown.
    pub async fn run(self, shutdown: Shutdown) {
        loop {
            let next = self.fire_due();
            tokio::select! {
                () = async {
                    match next {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {}
                () = self.inner.notify.notified() => {}
                () = shutdown.signal() => return,
            }
        }
    }

    /// Advances every pod whose timer is due; returns the next deadline.
    fn fire_due(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut state = self.inner.state();
        loop {
            let Reverse((at, generation, uid)) = state.timers.peek()?.clone();
            if at > now {
                return Some(at);
            }
            state.timers.pop();
            let config = self.inner.config;
            let state = &mut *state;
            let Some(pod) = state.pods.get_mut(&uid) else {
                continue;
            };
            if pod.generation != generation {
                continue;
            }
            state.generation += 1;
            pod.generation = state.generation;
            let next = advance(&uid, pod, &config);
            publish(pod);
            if let Some(delay) = next {
                state
                    .timers
                    .push(Reverse((now + delay, pod.generation, uid)));
            }
        }
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether start attempt `attempt` of pod `uid` fails.
fn fails(uid: &str, attempt: i32, rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    let mut hasher = DefaultHasher::new();
    (uid, attempt).hash(&mut hasher);
    // The top 53 bits as a fraction in [0, 1).
    let fraction = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    fraction < rate
}

/// Moves a pod to its next stage; returns when it moves again.
fn advance(uid: &str, pod: &mut FakePod, config: &FakeConfig) -> Option<Duration> {
    match pod.stage {
        Stage::Creating | Stage::BackOff => {
            let now = Timestamp::now().whole_seconds();
            if fails(uid, pod.failures, config.failure_rate) {
                pod.failures = pod.failures.saturating_add(1);
                pod.stage = Stage::BackOff;
                pod.last_failure = Some((now, now));
                Some(pod.backoff.next(&config.backoff, Duration::ZERO))
            } else {
                pod.started_at = now;
                let ready = config.ready_delay.is_zero();
                pod.stage = Stage::Running { ready };
                (!ready).then_some(config.ready_delay)
            }
        }
        Stage::Running { .. } => {
            pod.stage = Stage::Running { ready: true };
            None
        }
    }
}

fn publish(pod: &FakePod) {
    let stage = pod.stage;
    let failures = pod.failures;
    let started_at = pod.started_at;
    let last_failure = pod.last_failure;
    let facts = &pod.facts;
    let uid = pod.sink.uid().to_owned();
    pod.sink.update(|current: &Pod| {
        let spec = current.spec.clone().unwrap_or_default();
        let container = |name: &str, image: &str| {
            let last_state = last_failure.map(|(started, finished)| {
                ContainerState::Terminated(ContainerStateTerminated {
                    exit_code: 1,
                    reason: "Error".to_owned(),
                    message: "simulated start failure".to_owned(),
                    started_at: Some(started),
                    finished_at: Some(finished),
                    ..ContainerStateTerminated::default()
                })
            });
            let (state, ready, started) = match stage {
                Stage::Creating => (
                    ContainerState::Waiting(ContainerStateWaiting {
                        reason: REASON_CONTAINER_CREATING.to_owned(),
                        message: String::new(),
                    }),
                    false,
                    false,
                ),
                Stage::BackOff => (
                    ContainerState::Waiting(ContainerStateWaiting {
                        reason: REASON_CRASH_LOOP_BACK_OFF.to_owned(),
                        message: format!("back-off restarting failed container={name}"),
                    }),
                    false,
                    false,
                ),
                Stage::Running { ready } => (
                    ContainerState::Running(ContainerStateRunning {
                        started_at: Some(started_at),
                    }),
                    ready,
                    true,
                ),
            };
            ContainerStatus {
                name: name.to_owned(),
                state: Some(state),
                last_state,
                ready,
                restart_count: if matches!(stage, Stage::Running { .. }) {
                    failures
                } else {
                    failures.saturating_sub(1).max(0)
                },
                image: image.to_owned(),
                image_id: String::new(),
                container_id: if matches!(stage, Stage::Running { .. }) {
                    format!("fake://{uid}/{name}")
                } else {
                    String::new()
                },
                started: Some(started),
            }
        };
        let init = spec
            .init_containers
            .iter()
            .map(|c| {
                if matches!(stage, Stage::Running { .. }) {
                    ContainerStatus {
                        name: c.name.clone(),
                        state: Some(ContainerState::Terminated(ContainerStateTerminated {
                            exit_code: 0,
                            reason: "Completed".to_owned(),
                            started_at: Some(started_at),
                            finished_at: Some(started_at),
                            ..ContainerStateTerminated::default()
                        })),
                        image: c.image.clone(),
                        started: Some(false),
                        ..ContainerStatus::default()
                    }
                } else {
                    status::waiting(&c.name, &c.image, REASON_CONTAINER_CREATING, "")
                }
            })
            .collect();
        let main = spec
            .containers
            .iter()
            .map(|c| container(&c.name, &c.image))
            .collect();
        status::assemble(
            &spec,
            init,
            main,
            facts,
            current.status.as_ref(),
            Timestamp::now().whole_seconds(),
        )
    });
}

impl Runtime for FakeRuntime {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn start(&self, run: PodRun) {
        let uid = uid_of(&run.pod).to_owned();
        if run.mode == StartMode::ResumeForDeletion {
            return;
        }
        let was_ready = run.mode == StartMode::Resume
            && run.pod.status.as_ref().is_some_and(|s| {
                s.phase == status::PHASE_RUNNING
                    && s.conditions
                        .iter()
                        .any(|c| c.type_ == status::READY && c.status == "True")
            });
        let mut state = self.inner.state();
        if state.pods.contains_key(&uid) {
            return;
        }
        state.generation += 1;
        let generation = state.generation;
        let started_at = run
            .pod
            .status
            .as_ref()
            .and_then(|s| s.start_time)
            .unwrap_or_else(|| Timestamp::now().whole_seconds());
        let pod = FakePod {
            sink: run.sink,
            facts: run.facts,
            stage: if was_ready {
                Stage::Running { ready: true }
            } else {
                Stage::Creating
            },
            generation,
            failures: 0,
            backoff: Backoff::default(),
            started_at,
            last_failure: None,
        };
        if !was_ready {
            publish(&pod);
            let at = Instant::now() + self.inner.config.start_latency;
            state.timers.push(Reverse((at, generation, uid.clone())));
        }
        state.pods.insert(uid, pod);
        drop(state);
        self.inner.notify.notify_one();
    }

    async fn stop(&self, uid: &str, _grace: Duration) {
        self.inner.state().pods.remove(uid);
    }

    async fn unrecorded(&self, _known: &HashSet<String>) -> Vec<v1::Pod> {
        // Simulated pods end with the process: nothing outlives an agent.
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_decisions_follow_the_rate_and_are_reproducible() {
        let uids: Vec<String> = (0..2000).map(|i| format!("uid-{i}")).collect();
        let failed = uids.iter().filter(|u| fails(u, 0, 0.25)).count();
        assert!((400..600).contains(&failed), "{failed} of 2000 at 25%");
        assert_eq!(
            uids.iter().filter(|u| fails(u, 0, 0.25)).count(),
            failed,
            "same decisions again"
        );
        assert!(!uids.iter().any(|u| fails(u, 0, 0.0)));
        assert!(uids.iter().all(|u| fails(u, 0, 1.0)));
    }
}
