//! The `fake` runtime: pods without processes, for tests, demos and the benchmark.
//!
//! A pod is `ContainerCreating` for the start latency, then its containers run; they turn ready
//! after the readiness delay. With a failure rate, each start attempt fails with that
//! probability (decided by a hash of the pod uid and the attempt, so runs are reproducible):
//! the containers crash-loop with back-off, counting restarts, until an attempt succeeds.
//!
//! Scale: one timer task (a heap of deadlines) drives every pod of every simulated node, and a
//! pod costs a small struct; there is no task per node or per pod.
//!
//! Pods outlive the agent, as processes do: made with [`FakeRuntime::persistent`] (what the
//! agent does, under its data dir), the runtime keeps one file per pod it runs,
//! `<data-dir>/fake/pods/<uid>.pb` (the `v1::Pod` with the status the runtime gave it when it
//! accepted it; written once, whole — a temporary file renamed over it — by a thread of its
//! own, off the runtime's lock), and removes it before a stop completes (a graceful shutdown
//! waits for pending writes). These files are the simulated processes: a new runtime on the
//! same data dir loads them, and those pods are still running. A resume re-attaches: as the
//! record shows it when it shows the pod running (same start time and restart count, nothing
//! published, no `ContainerCreating`), else where the pod's timers would have brought it since
//! the file was written (its modification time). [`Runtime::unrecorded`] offers loaded pods
//! without a record. A resumed pod without a file was not running: it starts again.
//! [`running_pods`] reads the files for an outside observer, and [`boot_id`] keeps the
//! simulated machines' boot id in `<data-dir>/fake/boot-id`, so that a restarted agent process
//! is the same machines, not rebooted ones.

use std::cmp::Reverse;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use everynode_api::v1;
use everynode_core::model::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, Pod, PodStatus, Timestamp,
};
use everynode_service::Shutdown;
use prost::Message as _;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{PodRun, Runtime, StartMode};
use crate::backoff::{Backoff, BackoffPolicy};
use crate::names::{check_pod_uid, checked_dir, ensure_real_dir};
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
    /// The pods' files, when pods are kept in files.
    files: Option<Files>,
    state: Mutex<State>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct State {
    pods: HashMap<String, FakePod>,
    /// Pods found in files at start, not resumed yet: still "running", as processes that
    /// outlived their agent.
    loaded: BTreeMap<String, Loaded>,
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
    /// A fake runtime whose pods live in memory only (they end with it); [`run`](Self::run)
    /// drives its timers.
    pub fn new(config: FakeConfig) -> Self {
        Self::with(config, None, BTreeMap::new())
    }

    /// A fake runtime keeping its pods in `<data_dir>/fake/pods` (made if missing; never
    /// through a symbolic link), with the pods found there still running. A file that cannot
    /// be read or decoded is logged and skipped, and left where it is.
    pub fn persistent(config: FakeConfig, data_dir: &Path) -> io::Result<Self> {
        let dir = prepare(data_dir)?;
        let loaded = load(&dir)?;
        if !loaded.is_empty() {
            tracing::info!(dir = %dir.display(), pods = loaded.len(), "fake pods still running from before; resuming re-attaches to them");
        }
        Ok(Self::with(config, Some(dir), loaded))
    }

    fn with(config: FakeConfig, dir: Option<PathBuf>, loaded: BTreeMap<String, Loaded>) -> Self {
        let files = dir.map(Files::start);
        Self {
            inner: Arc::new(Inner {
                config,
                files,
                state: Mutex::new(State {
                    loaded,
                    ..State::default()
                }),
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
                () = shutdown.signal() => {
                    // What the pods' files are to hold is on disk before the agent exits.
                    self.flush().await;
                    return;
                }
            }
        }
    }

    /// Resolves once every file change asked for so far is done (at once without files).
    pub async fn flush(&self) {
        if let Some(files) = &self.inner.files {
            files.flush().await;
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
            publish(pod, false);
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

    /// Has pod `uid`'s file written (when pods are kept in files). Called with the state
    /// locked, so that file changes are asked for in the order of the pods' changes.
    fn keep(&self, uid: &str, pod: Pod) {
        let Some(files) = &self.files else {
            return;
        };
        if let Err(err) = check_pod_uid(uid) {
            tracing::warn!(error = %err, "a fake pod with this uid cannot be kept in a file; it ends with this agent");
            return;
        }
        files.send(FileOp::Write {
            uid: uid.to_owned(),
            pod: Box::new(pod),
        });
    }

    /// Has pod `uid`'s file removed, if any. Called with the state locked.
    fn forget(&self, uid: &str) {
        if let Some(files) = &self.files
            && check_pod_uid(uid).is_ok()
        {
            files.send(FileOp::Remove {
                uid: uid.to_owned(),
            });
        }
    }
}

/// The pods' files, changed by one thread of their own: file system calls (a rename over a
/// file may wait for the disk) never hold the runtime's lock nor an async worker. Changes
/// are done in the order they are asked for; several asked for one pod before the thread
/// gets to them collapse into the last one.
#[derive(Debug)]
struct Files {
    ops: std::sync::mpsc::Sender<FileOp>,
}

#[derive(Debug)]
enum FileOp {
    Write {
        uid: String,
        pod: Box<Pod>,
    },
    Remove {
        uid: String,
    },
    /// Answered once every change asked for before is done.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Most file changes taken at once.
const FILE_BATCH: usize = 4096;

impl Files {
    /// Starts the thread changing the files in `dir`; it ends when the runtime is dropped.
    fn start(dir: PathBuf) -> Self {
        let (ops, queue) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("fake-pod-files".to_owned())
            .spawn(move || change_files(&dir, &queue));
        if let Err(err) = spawned {
            // The channel's receiver is gone with the closure: every change is dropped, and
            // said so below.
            tracing::warn!(error = %err, "no thread for the fake pods' files; they will not outlive this agent");
        }
        Self { ops }
    }

    fn send(&self, op: FileOp) {
        if self.ops.send(op).is_err() {
            tracing::warn!(
                "the fake pods' files cannot be changed any more; pods will not outlive this agent"
            );
        }
    }

    async fn flush(&self) {
        let (done, flushed) = tokio::sync::oneshot::channel();
        self.send(FileOp::Flush(done));
        let _ = flushed.await;
    }
}

/// The file thread: batches of changes, each pod's last one done.
fn change_files(dir: &Path, queue: &std::sync::mpsc::Receiver<FileOp>) {
    while let Ok(first) = queue.recv() {
        let mut last: HashMap<String, Option<Box<Pod>>> = HashMap::new();
        let mut flushed = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(op) = next {
            match op {
                FileOp::Write { uid, pod } => {
                    last.insert(uid, Some(pod));
                }
                FileOp::Remove { uid } => {
                    last.insert(uid, None);
                }
                FileOp::Flush(done) => flushed.push(done),
            }
            taken += 1;
            next = if taken < FILE_BATCH {
                queue.try_recv().ok()
            } else {
                None
            };
        }
        for (uid, pod) in last {
            match pod {
                Some(pod) => {
                    if let Err(err) = write_pod(dir, &uid, &v1::Pod::from(*pod)) {
                        tracing::warn!(dir = %dir.display(), uid, error = %err, "could not keep a fake pod in its file; it ends with this agent");
                    }
                }
                None => {
                    let path = pod_file(dir, &uid);
                    if let Err(err) = fs::remove_file(&path)
                        && err.kind() != io::ErrorKind::NotFound
                    {
                        tracing::warn!(path = %path.display(), error = %err, "could not remove a stopped fake pod's file");
                    }
                }
            }
        }
        for done in flushed {
            let _ = done.send(());
        }
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

/// Sets the pod's status from its stage; with `keep`, returns that status, for its file
/// (`None` when the status was not taken: the pod is being deleted or replaced).
fn publish(pod: &FakePod, keep: bool) -> Option<PodStatus> {
    let mut kept = None;
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
                restart_count: if stage == Stage::BackOff {
                    failures.saturating_sub(1).max(0)
                } else {
                    failures
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
        let status = status::assemble(
            &spec,
            init,
            main,
            facts,
            current.status.as_ref(),
            Timestamp::now().whole_seconds(),
        );
        if keep {
            kept = Some(status.clone());
        }
        status
    });
    kept
}

impl Runtime for FakeRuntime {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn start(&self, run: PodRun) {
        let uid = uid_of(&run.pod).to_owned();
        let mut state = self.inner.state();
        if state.pods.contains_key(&uid) {
            return;
        }
        if let Some(running) = state.loaded.remove(&uid) {
            self.reattach(&mut state, uid, running, run);
            drop(state);
            self.inner.notify.notify_one();
            return;
        }
        if run.mode == StartMode::ResumeForDeletion {
            // Nothing of it runs here: the stop that follows has nothing to end.
            return;
        }
        // Without files, nothing tells whether a resumed pod still runs: one recorded ready
        // is taken as running on. With files, a resumed pod without one did not outlive the
        // agent (its machine was reset, say) and starts again.
        let was_ready = run.mode == StartMode::Resume
            && self.inner.files.is_none()
            && run.pod.status.as_ref().is_some_and(|s| {
                s.phase == status::PHASE_RUNNING
                    && s.conditions
                        .iter()
                        .any(|c| c.type_ == status::READY && c.status == "True")
            });
        // A pod started again after its containers ran keeps counting restarts.
        let failures = if run.mode == StartMode::Resume && self.inner.files.is_some() {
            let before = Seen::of(run.pod.status.as_ref());
            before
                .restarts
                .saturating_add(i32::from(before.started_at.is_some()))
        } else {
            0
        };
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
            failures,
            backoff: Backoff::default(),
            started_at,
            last_failure: None,
        };
        if !was_ready {
            let kept = publish(&pod, self.inner.files.is_some());
            if self.inner.files.is_some() {
                // As accepted, with the status it got (a status recorded before is not this
                // start's).
                let accepted = Pod {
                    status: kept,
                    ..run.pod
                };
                self.inner.keep(&uid, accepted);
            }
            let at = Instant::now() + self.inner.config.start_latency;
            state.timers.push(Reverse((at, generation, uid.clone())));
        }
        state.pods.insert(uid, pod);
        drop(state);
        self.inner.notify.notify_one();
    }

    async fn stop(&self, uid: &str, _grace: Duration) {
        {
            let mut state = self.inner.state();
            state.pods.remove(uid);
            state.loaded.remove(uid);
            self.inner.forget(uid);
        }
        // Stopped means its file is gone: a restarted agent must not find it running.
        self.flush().await;
    }

    async fn unrecorded(&self, known: &HashSet<String>) -> Vec<v1::Pod> {
        self.inner
            .state()
            .loaded
            .iter()
            .filter(|(uid, _)| !known.contains(*uid))
            .map(|(_, found)| found.pod.clone())
            .collect()
    }
}

impl FakeRuntime {
    /// Takes over pod `uid`, found running in its file: it goes on from where the resumed
    /// record (`run.pod`) shows it running, else from where its simulation has come since it
    /// was accepted; it does not start again.
    fn reattach(&self, state: &mut State, uid: String, found: Loaded, run: PodRun) {
        let config = self.inner.config;
        let recorded = Seen::of(run.pod.status.as_ref());
        let now = SystemTime::now();
        let (stage, failures, backoff, started_at, next) = match recorded.started_at {
            // Shown running: it runs on as shown.
            Some(started_at) => {
                let running_for = now
                    .duration_since(system_time(started_at))
                    .unwrap_or_default();
                let ready = recorded.ready || running_for >= config.ready_delay;
                let next = (!ready).then(|| config.ready_delay.saturating_sub(running_for));
                let stage = Stage::Running { ready };
                (
                    stage,
                    recorded.restarts,
                    Backoff::default(),
                    started_at,
                    next,
                )
            }
            None => {
                let accepted = Pod::from(found.pod);
                let restarts = Seen::of(accepted.status.as_ref()).restarts;
                let replay = replay(&uid, found.accepted, restarts, &config, now);
                (
                    replay.stage,
                    replay.failures,
                    replay.backoff,
                    replay.started_at,
                    replay.next,
                )
            }
        };
        state.generation += 1;
        let generation = state.generation;
        let pod = FakePod {
            sink: run.sink,
            facts: run.facts,
            stage,
            generation,
            failures,
            backoff,
            started_at,
            last_failure: None,
        };
        tracing::debug!(uid, ?stage, "re-attached to a fake pod still running");
        if run.mode != StartMode::ResumeForDeletion {
            let unchanged = matches!(stage, Stage::Running { ready } if recorded.started_at.is_some() && recorded.ready == ready);
            if !unchanged {
                publish(&pod, false);
            }
            if let Some(delay) = next {
                state
                    .timers
                    .push(Reverse((Instant::now() + delay, generation, uid.clone())));
            }
        }
        state.pods.insert(uid, pod);
    }
}

/// A pod found in its file at start.
#[derive(Debug, Clone)]
struct Loaded {
    /// The pod as the runtime accepted it.
    pod: v1::Pod,
    /// When: the file's modification time (it is written once, on acceptance).
    accepted: SystemTime,
}

/// Where a pod's simulation is at some moment.
#[derive(Debug, Clone, Copy)]
struct Replay {
    stage: Stage,
    failures: i32,
    backoff: Backoff,
    /// When its containers started (meaningful once running).
    started_at: Timestamp,
    /// How long until it moves on, if it does.
    next: Option<Duration>,
}

/// Most start attempts replayed (with a failure rate of 1 they never end).
const MAX_REPLAYED_ATTEMPTS: i32 = 10_000;

/// Where pod `uid`, accepted at `accepted` after `failures` failed starts, is at `now` had
/// nothing stopped it: the same start attempts, failures and back-offs as the timers make.
fn replay(
    uid: &str,
    accepted: SystemTime,
    mut failures: i32,
    config: &FakeConfig,
    now: SystemTime,
) -> Replay {
    let elapsed = now.duration_since(accepted).unwrap_or_default();
    let mut backoff = Backoff::default();
    let mut attempt_at = config.start_latency;
    let mut attempts = 0;
    loop {
        if elapsed < attempt_at || attempts >= MAX_REPLAYED_ATTEMPTS {
            let stage = if backoff == Backoff::default() {
                Stage::Creating
            } else {
                Stage::BackOff
            };
            return Replay {
                stage,
                failures,
                backoff,
                started_at: Timestamp::from_system_time(now).whole_seconds(),
                next: Some(attempt_at.saturating_sub(elapsed)),
            };
        }
        attempts += 1;
        if fails(uid, failures, config.failure_rate) {
            failures = failures.saturating_add(1);
            attempt_at = attempt_at.saturating_add(backoff.next(&config.backoff, Duration::ZERO));
            continue;
        }
        let ready_at = attempt_at.saturating_add(config.ready_delay);
        let ready = elapsed >= ready_at;
        return Replay {
            stage: Stage::Running { ready },
            failures,
            backoff,
            started_at: Timestamp::from_system_time(accepted + attempt_at).whole_seconds(),
            next: (!ready).then(|| ready_at.saturating_sub(elapsed)),
        };
    }
}

/// `timestamp` as a system time (the epoch for one before it).
fn system_time(timestamp: Timestamp) -> SystemTime {
    let seconds = u64::try_from(timestamp.seconds).unwrap_or(0);
    let nanos = u32::try_from(timestamp.nanos).unwrap_or(0).min(999_999_999);
    SystemTime::UNIX_EPOCH + Duration::new(seconds, nanos)
}

/// What a pod's status says of its containers: the first one's start, the most restarts,
/// and whether the pod is ready.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    started_at: Option<Timestamp>,
    restarts: i32,
    ready: bool,
}

impl Seen {
    fn of(status: Option<&PodStatus>) -> Self {
        let Some(status) = status else {
            return Self::default();
        };
        let started_at = status
            .container_statuses
            .iter()
            .find_map(|c| match &c.state {
                Some(ContainerState::Running(running)) => running.started_at,
                _ => None,
            });
        let all_running = !status.container_statuses.is_empty()
            && status
                .container_statuses
                .iter()
                .all(|c| matches!(c.state, Some(ContainerState::Running(_))));
        Self {
            started_at: started_at.filter(|_| all_running),
            restarts: status
                .container_statuses
                .iter()
                .map(|c| c.restart_count)
                .max()
                .unwrap_or(0)
                .max(0),
            ready: all_running
                && status.phase == status::PHASE_RUNNING
                && status
                    .conditions
                    .iter()
                    .any(|c| c.type_ == status::READY && c.status == "True"),
        }
    }
}

/// The folder holding the fake runtime's state: `<data_dir>/fake`.
pub const FAKE_DIR: &str = "fake";
/// Its folder of pod files: `<data_dir>/fake/pods`.
pub const PODS_DIR: &str = "pods";
/// Its boot id file: `<data_dir>/fake/boot-id`.
pub const BOOT_ID_FILE: &str = "boot-id";
/// How a pod file's name ends (`<uid>.pb`).
const POD_FILE_SUFFIX: &str = ".pb";

/// `<data_dir>/fake/pods`.
pub fn pods_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(FAKE_DIR).join(PODS_DIR)
}

fn pod_file(dir: &Path, uid: &str) -> PathBuf {
    dir.join(format!("{uid}{POD_FILE_SUFFIX}"))
}

/// Makes `<data_dir>/fake` and `<data_dir>/fake/pods` (mode 0700, real directories, never
/// reached through a symbolic link); returns the latter.
fn prepare(data_dir: &Path) -> io::Result<PathBuf> {
    fs::create_dir_all(data_dir)?;
    ensure_real_dir(data_dir)?;
    let fake = checked_dir(data_dir, FAKE_DIR, 0o700)?;
    checked_dir(&fake, PODS_DIR, 0o700)
}

/// Writes `bytes` to `path` whole: a temporary file beside it (never a link followed),
/// renamed over it.
fn write_whole(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(&temporary)?;
    file.write_all(bytes)?;
    drop(file);
    fs::rename(&temporary, path)
}

fn write_pod(dir: &Path, uid: &str, pod: &v1::Pod) -> io::Result<()> {
    write_whole(&pod_file(dir, uid), &pod.encode_to_vec())
}

/// The pod file `path`, decoded.
fn read_pod(path: &Path) -> io::Result<v1::Pod> {
    let bytes = fs::read(path)?;
    v1::Pod::decode(bytes.as_slice()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} does not decode as a pod: {e}", path.display()),
        )
    })
}

/// The uid a directory entry's name is the pod file of (`None`: not a pod file).
fn file_uid(name: &std::ffi::OsStr) -> Option<&str> {
    name.to_str()?.strip_suffix(POD_FILE_SUFFIX)
}

/// The pods kept in `dir`, by uid; files that cannot be used are logged and skipped.
fn load(dir: &Path) -> io::Result<BTreeMap<String, Loaded>> {
    let mut pods = BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                tracing::warn!(dir = %dir.display(), error = %err, "could not list every fake pod file");
                continue;
            }
        };
        let name = entry.file_name();
        let Some(uid) = file_uid(&name) else {
            continue;
        };
        let path = entry.path();
        if let Err(err) = check_pod_uid(uid) {
            tracing::warn!(path = %path.display(), error = %err, "skipping a fake pod file not named after a pod uid; left as it is");
            continue;
        }
        let read = read_pod(&path).and_then(|pod| {
            let accepted = fs::metadata(&path)?.modified()?;
            Ok(Loaded { pod, accepted })
        });
        match read {
            Ok(found) if found.pod.metadata.as_ref().is_some_and(|m| m.uid == uid) => {
                pods.insert(uid.to_owned(), found);
            }
            Ok(_) => {
                tracing::warn!(path = %path.display(), "skipping a fake pod file holding a pod of another uid; left as it is");
            }
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "skipping a fake pod file that cannot be read; left as it is");
            }
        }
    }
    Ok(pods)
}

/// The pods the fake runtime of the agent with data dir `data_dir` runs, read from their files
/// (for an observer, independently of the runtime and of KV): empty when there are none or the
/// agent never ran there. A file removed while it is read (its pod stopped meanwhile) is
/// skipped; one that cannot be read or decoded is an error naming it.
pub fn running_pods(data_dir: &Path) -> io::Result<Vec<v1::Pod>> {
    let dir = pods_dir(data_dir);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut pods = Vec::new();
    for entry in entries {
        let entry = entry?;
        if file_uid(&entry.file_name()).is_none() {
            continue;
        }
        match read_pod(&entry.path()) {
            Ok(pod) => pods.push(pod),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    Ok(pods)
}

/// The boot id of the machines an agent with data dir `data_dir` simulates: the one in
/// `<data_dir>/fake/boot-id`, made once (a random UUID). A restarted agent is thus the same
/// machines, which the registry lets register again at once; another data dir is other
/// machines. A file that holds no UUID is replaced (and said so).
pub fn boot_id(data_dir: &Path) -> io::Result<String> {
    prepare(data_dir)?;
    let path = data_dir.join(FAKE_DIR).join(BOOT_ID_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => match uuid::Uuid::parse_str(text.trim()) {
            Ok(id) => return Ok(id.to_string()),
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "the simulated machines' boot id file holds no UUID; making a new one (a reboot)");
            }
        },
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let id = uuid::Uuid::new_v4().to_string();
    write_whole(&path, format!("{id}\n").as_bytes())?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::{PodTable, Stage as TableStage};
    use everynode_bus::PodKey;
    use everynode_core::model::{Container, ObjectMeta, PodSpec};

    const WAIT: Duration = Duration::from_secs(10);

    fn config(failure_rate: f64) -> FakeConfig {
        FakeConfig {
            start_latency: Duration::from_millis(10),
            ready_delay: Duration::ZERO,
            failure_rate,
            backoff: BackoffPolicy {
                base: Duration::from_millis(20),
                max: Duration::from_millis(20),
                reset_after: Duration::from_secs(600),
            },
        }
    }

    fn pod(uid: &str) -> Pod {
        Pod {
            metadata: Some(ObjectMeta {
                name: format!("p-{uid}"),
                namespace: "default".to_owned(),
                uid: uid.to_owned(),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                node_name: "n1".to_owned(),
                containers: vec![Container {
                    name: "app".to_owned(),
                    image: "app:1".to_owned(),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
            ..Pod::default()
        }
    }

    fn key(pod: &Pod) -> PodKey {
        PodKey::new("n1", "default", &pod.metadata.as_ref().unwrap().name).unwrap()
    }

    /// A runtime with its timer task, stopped on drop.
    struct Running {
        runtime: FakeRuntime,
        shutdown: Shutdown,
    }

    impl Running {
        fn persistent(config: FakeConfig, data_dir: &Path) -> Self {
            Self::of(FakeRuntime::persistent(config, data_dir).unwrap())
        }

        fn of(runtime: FakeRuntime) -> Self {
            let shutdown = Shutdown::new(Duration::from_secs(1));
            tokio::spawn(runtime.clone().run(shutdown.clone()));
            Self { runtime, shutdown }
        }

        /// Puts `pod` in `table` (as the agent does) and hands it to the runtime.
        fn start(&self, table: &Arc<PodTable>, pod: Pod, mode: StartMode) {
            let key = key(&pod);
            let uid = uid_of(&pod).to_owned();
            table
                .insert(key.clone(), pod.clone(), TableStage::Active, Some(0))
                .unwrap();
            let now = Timestamp::now().whole_seconds();
            self.runtime.start(PodRun {
                facts: PodFacts {
                    host_ip: "10.0.0.1".to_owned(),
                    pod_ip: "10.0.0.1".to_owned(),
                    start_time: pod
                        .status
                        .as_ref()
                        .and_then(|s| s.start_time)
                        .unwrap_or(now),
                },
                pod,
                mode,
                sink: PodSink::new(Arc::clone(table), key, uid),
            });
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            self.shutdown.trigger();
        }
    }

    fn status(table: &PodTable, pod: &Pod) -> PodStatus {
        table
            .get(&key(pod))
            .and_then(|s| s.pod.status)
            .unwrap_or_default()
    }

    fn container(status: &PodStatus) -> ContainerStatus {
        status
            .container_statuses
            .first()
            .cloned()
            .unwrap_or_default()
    }

    fn waiting_reason(status: &PodStatus) -> Option<String> {
        match container(status).state {
            Some(ContainerState::Waiting(waiting)) => Some(waiting.reason),
            _ => None,
        }
    }

    /// Waits until the pod's status in `table` satisfies `done`; on time-out, says what it was.
    async fn until(table: &PodTable, pod: &Pod, what: &str, done: impl Fn(&PodStatus) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            let seen = status(table, pod);
            if done(&seen) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}; last seen {seen:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn ready(status: &PodStatus) -> bool {
        Seen::of(Some(status)).ready
    }

    fn files(data_dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(pods_dir(data_dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// A uid whose first start attempt fails and second succeeds at rate 0.5.
    fn failing_once() -> String {
        (0..)
            .map(|i| format!("uid-{i}"))
            .find(|u| fails(u, 0, 0.5) && !fails(u, 1, 0.5))
            .unwrap()
    }

    #[tokio::test]
    async fn pods_in_files_outlive_the_runtime_and_resume_without_restarting() {
        let dir = tempfile::tempdir().unwrap();
        let uid = failing_once();
        let created = pod(&uid);
        let table = PodTable::new();
        let first = Running::persistent(config(0.5), dir.path());
        first.start(&table, created.clone(), StartMode::Create);
        first.runtime.flush().await;
        assert_eq!(
            files(dir.path()),
            [format!("{uid}.pb")],
            "kept when accepted"
        );
        until(
            &table,
            &created,
            "running and ready after one failure",
            |s| ready(s) && container(s).restart_count == 1,
        )
        .await;
        let recorded = status(&table, &created);
        let started_at = Seen::of(Some(&recorded)).started_at.unwrap();
        drop(first);
        // The next second: a start made again would show a later start time.
        tokio::time::sleep(Duration::from_millis(1100)).await;

        // A new runtime on the same data dir: the pod still runs; resumed from its record,
        // nothing changes, now or later.
        let second = Running::persistent(config(0.5), dir.path());
        let unrecorded = second.runtime.unrecorded(&HashSet::new()).await;
        assert_eq!(unrecorded.len(), 1);
        assert_eq!(unrecorded[0].metadata.as_ref().unwrap().uid, uid);
        assert!(
            second
                .runtime
                .unrecorded(&HashSet::from([uid.clone()]))
                .await
                .is_empty()
        );
        let table = PodTable::new();
        let resumed = Pod {
            status: Some(recorded.clone()),
            ..created.clone()
        };
        second.start(&table, resumed, StartMode::Resume);
        assert_eq!(status(&table, &created), recorded);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            status(&table, &created),
            recorded,
            "no restart later either"
        );
        assert_eq!(second.runtime.len(), 1);
        drop(second);

        // Its record gone, it is resumed from its file alone: running since its simulation
        // says (accepted a minute ago, per its file: one failed start, one back-off).
        let accepted = SystemTime::now() - Duration::from_secs(60);
        fs::File::options()
            .write(true)
            .open(pods_dir(dir.path()).join(format!("{uid}.pb")))
            .unwrap()
            .set_modified(accepted)
            .unwrap();
        let expected = Timestamp::from_system_time(
            accepted + Duration::from_millis(10) + Duration::from_millis(20),
        )
        .whole_seconds();
        let third = Running::persistent(config(0.5), dir.path());
        let from_file = Pod::from(
            third
                .runtime
                .unrecorded(&HashSet::new())
                .await
                .pop()
                .unwrap(),
        );
        let table = PodTable::new();
        third.start(&table, from_file, StartMode::Resume);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let again = status(&table, &created);
        assert!(ready(&again), "{again:?}");
        assert_eq!(Seen::of(Some(&again)).started_at, Some(expected));
        assert_ne!(Some(expected), Some(started_at));
        assert_eq!(container(&again).restart_count, 1);
        assert_eq!(files(dir.path()), [format!("{uid}.pb")]);
    }

    #[tokio::test]
    async fn stop_removes_the_file_and_a_pod_resumed_for_deletion_stays_until_then() {
        let dir = tempfile::tempdir().unwrap();
        assert!(running_pods(dir.path()).unwrap().is_empty(), "no agent yet");
        let table = PodTable::new();
        let first = Running::persistent(config(0.0), dir.path());
        let (a, b) = (pod("uid-a"), pod("uid-b"));
        first.start(&table, a.clone(), StartMode::Create);
        first.start(&table, b.clone(), StartMode::Create);
        until(&table, &a, "a ready", ready).await;
        first.runtime.flush().await;
        let mut running: Vec<String> = running_pods(dir.path())
            .unwrap()
            .into_iter()
            .map(|p| p.metadata.unwrap().uid)
            .collect();
        running.sort();
        assert_eq!(running, ["uid-a", "uid-b"]);
        first.runtime.stop("uid-a", Duration::ZERO).await;
        assert_eq!(files(dir.path()), ["uid-b.pb"]);
        drop(first);

        let second = Running::persistent(config(0.0), dir.path());
        let table = PodTable::new();
        second.start(&table, b.clone(), StartMode::ResumeForDeletion);
        assert_eq!(second.runtime.len(), 1, "kept until stopped");
        assert!(second.runtime.unrecorded(&HashSet::new()).await.is_empty());
        assert_eq!(files(dir.path()), ["uid-b.pb"]);
        second.runtime.stop("uid-b", Duration::ZERO).await;
        assert!(second.runtime.is_empty());
        assert!(files(dir.path()).is_empty());
        assert!(running_pods(dir.path()).unwrap().is_empty());
        // Stopping what is not there is fine.
        second.runtime.stop("uid-b", Duration::ZERO).await;
    }

    #[tokio::test]
    async fn a_resumed_pod_without_its_file_starts_again() {
        let dir = tempfile::tempdir().unwrap();
        let table = PodTable::new();
        let elsewhere = Running::of(FakeRuntime::new(config(0.0)));
        let created = pod("uid-gone");
        elsewhere.start(&table, created.clone(), StartMode::Create);
        until(&table, &created, "ready", ready).await;
        let recorded = status(&table, &created);
        assert!(!pods_dir(dir.path()).exists(), "a runtime without files");

        // Recorded ready, but nothing of it runs on this data dir: it starts again.
        let runtime = Running::persistent(config(0.0), dir.path());
        let table = PodTable::new();
        runtime.start(
            &table,
            Pod {
                status: Some(recorded),
                ..created.clone()
            },
            StartMode::Resume,
        );
        assert_eq!(
            waiting_reason(&status(&table, &created)).as_deref(),
            Some(REASON_CONTAINER_CREATING)
        );
        runtime.runtime.flush().await;
        assert_eq!(files(dir.path()), ["uid-gone.pb"]);
        until(&table, &created, "ready again, one restart counted", |s| {
            ready(s) && container(s).restart_count == 1
        })
        .await;
    }

    #[tokio::test]
    async fn files_that_cannot_be_used_are_skipped_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let pods = prepare(dir.path()).unwrap();
        fs::write(pods.join("uid-garbage.pb"), b"\xff\xff\xff not a pod").unwrap();
        let mut other = v1::Pod::from(pod("uid-other"));
        fs::write(pods.join("uid-named.pb"), other.encode_to_vec()).unwrap();
        other.metadata.as_mut().unwrap().uid = ".hidden".to_owned();
        fs::write(pods.join(".hidden.pb"), other.encode_to_vec()).unwrap();
        fs::write(pods.join("uid-half.pb.tmp"), b"half").unwrap();
        write_pod(&pods, "uid-good", &v1::Pod::from(pod("uid-good"))).unwrap();
        let before = files(dir.path());

        let runtime = FakeRuntime::persistent(config(0.0), dir.path()).unwrap();
        let found: Vec<String> = runtime
            .unrecorded(&HashSet::new())
            .await
            .into_iter()
            .map(|p| p.metadata.unwrap().uid)
            .collect();
        assert_eq!(found, ["uid-good"]);
        assert_eq!(files(dir.path()), before, "nothing deleted");
        let err = running_pods(dir.path()).unwrap_err();
        assert!(err.to_string().contains("uid-garbage.pb"), "{err}");
    }

    #[test]
    fn a_replay_goes_through_the_starts_the_timers_make() {
        let accepted = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |millis: u64| accepted + Duration::from_millis(millis);
        let mut slow = config(0.0);
        slow.ready_delay = Duration::from_millis(500);
        let creating = replay("uid-x", accepted, 0, &slow, at(5));
        assert_eq!(creating.stage, Stage::Creating);
        assert_eq!(creating.next, Some(Duration::from_millis(5)));
        let unready = replay("uid-x", accepted, 0, &slow, at(110));
        assert_eq!(unready.stage, Stage::Running { ready: false });
        assert_eq!(unready.next, Some(Duration::from_millis(400)));
        assert_eq!(unready.started_at, Timestamp::from_seconds(1_000_000));
        let ready = replay("uid-x", accepted, 0, &slow, at(60_000));
        assert_eq!(ready.stage, Stage::Running { ready: true });
        assert_eq!((ready.failures, ready.next), (0, None));

        // One failed start: back-off (20 ms) before the second attempt.
        let uid = failing_once();
        let backing_off = replay(&uid, accepted, 0, &config(0.5), at(15));
        assert_eq!(
            (backing_off.stage, backing_off.failures),
            (Stage::BackOff, 1)
        );
        assert_eq!(backing_off.next, Some(Duration::from_millis(15)));
        let running = replay(&uid, accepted, 0, &config(0.5), at(1_030));
        assert_eq!(running.stage, Stage::Running { ready: true });
        assert_eq!(running.failures, 1);
        assert_eq!(running.started_at, Timestamp::from_seconds(1_000_000));
        // Restarts counted before it was accepted go on counting.
        assert_eq!(replay("uid-x", accepted, 3, &slow, at(60_000)).failures, 3);
        // A start that always fails ends the replay in back-off, not in a loop.
        let never = replay("uid-x", accepted, 0, &config(1.0), at(86_400_000));
        assert_eq!(never.stage, Stage::BackOff);
    }

    #[test]
    fn the_boot_id_is_made_once_and_kept_per_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let first = boot_id(&a).unwrap();
        assert!(uuid::Uuid::parse_str(&first).is_ok(), "{first}");
        assert_eq!(boot_id(&a).unwrap(), first, "kept");
        assert_ne!(boot_id(&b).unwrap(), first, "other machines");
        let file = a.join(FAKE_DIR).join(BOOT_ID_FILE);
        fs::write(&file, "not a uuid").unwrap();
        let replaced = boot_id(&a).unwrap();
        assert!(uuid::Uuid::parse_str(&replaced).is_ok());
        assert_eq!(fs::read_to_string(&file).unwrap().trim(), replaced);
    }

    #[test]
    fn the_state_folder_is_never_reached_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join(FAKE_DIR)).unwrap();
        assert!(FakeRuntime::persistent(config(0.0), dir.path()).is_err());
        assert!(boot_id(dir.path()).is_err());
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    }

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
