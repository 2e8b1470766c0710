//! The `process` runtime: each container's `command` + `args` run as a real process on this
//! machine.
//!
//! Per pod, one supervisor task (tracked on the agent's shutdown) runs the init containers to
//! completion in order, then every container concurrently (as futures of that same task):
//! - a container runs in its own process group (`setpgid`), with the environment of
//!   [`crate::env`] on top of a minimal base (`PATH`, `HOSTNAME`, `HOME` = the pod directory;
//!   nothing of the agent's own environment leaks in), its working directory (default the pod
//!   directory `<data-dir>/pods/<uid>/`), stdin from `/dev/null`, stdout and stderr appended to
//!   `<data-dir>/pods/<uid>/<container>.log`;
//! - right after the spawn its pid, start time and boot id go to `<container>.pid`; an agent
//!   that restarts re-attaches to a recorded process that still runs instead of starting a
//!   second one. Re-attached processes are not the agent's children: they are watched by
//!   polling `/proc/<pid>/stat`, and their exit status cannot be known (reported as reason
//!   `Unknown`);
//! - when a container's main process exits, whatever else still runs in its group is killed
//!   (as the end of a container's PID namespace would); under restart policy Always (and
//!   OnFailure after a failure) it starts again after the crash back-off
//!   ([`crate::backoff`]), counting `restartCount` and keeping `lastState`;
//! - startup, liveness and readiness probes run as the kubelet runs them ([`crate::probe`]); a
//!   failed liveness or startup probe kills the container, which restarts per policy;
//! - stopping (a delete) sends SIGTERM to the whole group, waits up to the grace (at least the
//!   kubelet's 2 s minimum) for the group to empty, then SIGKILLs the group;
//! - a container without `command` cannot run here (there is no image to take an entrypoint
//!   from): it waits with reason `NoCommand`;
//! - on agent shutdown supervisors return and leave every process running.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use everynode_core::model::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, Pod, PodSpec, Timestamp,
};
use everynode_service::Shutdown;
use nix::sys::signal::Signal;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{PodRun, Runtime, StartMode};
use crate::backoff::{Backoff, BackoffPolicy, should_restart};
use crate::env::{EnvContext, command_line, container_env};
use crate::pods::{PodSink, uid_of};
use crate::probe::{ExecContext, Handler, ProbeError, ProbeSpec, Tally, probe_once};
use crate::process_group::signal_group;
use crate::procfs::{self, PidRecord};
use crate::status::{self, PodFacts, REASON_CRASH_LOOP_BACK_OFF};

/// Waiting reason of a container without `command`.
pub const REASON_NO_COMMAND: &str = "NoCommand";
/// Waiting message of a container without `command`.
pub const MESSAGE_NO_COMMAND: &str =
    "the process runtime runs `command`; an image alone cannot be run";
/// Waiting reason of a container whose environment cannot be resolved.
pub const REASON_CONFIG_ERROR: &str = "CreateContainerConfigError";
/// Terminated reason of a process that could not be started.
pub const REASON_START_ERROR: &str = "StartError";
/// Terminated reason of a re-attached process, whose exit status is not observable.
pub const REASON_UNKNOWN: &str = "Unknown";

/// Settings of the process runtime.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// The agent's data dir; pods live in `<data_dir>/pods/<uid>/`.
    pub data_dir: PathBuf,
    /// Crash back-off.
    pub backoff: BackoffPolicy,
    /// Shortest SIGTERM-to-SIGKILL grace.
    pub min_grace: Duration,
    /// How often re-attached processes and emptying process groups are looked at.
    pub poll_interval: Duration,
    /// `PATH` of every container.
    pub container_path: String,
    /// The node's name.
    pub node_name: String,
    /// The node's allocatable resources (for `resourceFieldRef`s of unset limits).
    pub allocatable: BTreeMap<String, String>,
}

/// The `process` runtime.
#[derive(Debug, Clone)]
pub struct ProcessRuntime {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ProcessConfig,
    boot_id: String,
    shutdown: Shutdown,
    pods: Mutex<HashMap<String, Arc<PodControl>>>,
}

#[derive(Debug)]
struct PodControl {
    control: watch::Sender<Control>,
    done: watch::Receiver<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    Run,
    Stop(Duration),
}

impl ProcessRuntime {
    /// A runtime keeping pods under `config.data_dir`, its tasks tracked by `shutdown`.
    pub fn new(config: ProcessConfig, shutdown: Shutdown) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                boot_id: procfs::boot_id(),
                shutdown,
                pods: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The directory of pod `uid`.
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.inner.pod_dir(uid)
    }
}

impl Inner {
    fn pods_dir(&self) -> PathBuf {
        self.config.data_dir.join("pods")
    }

    fn pod_dir(&self, uid: &str) -> PathBuf {
        self.pods_dir().join(uid)
    }

    fn pods(&self) -> MutexGuard<'_, HashMap<String, Arc<PodControl>>> {
        self.pods.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Runtime for ProcessRuntime {
    fn name(&self) -> &'static str {
        "process"
    }

    fn start(&self, run: PodRun) {
        let uid = uid_of(&run.pod).to_owned();
        let (control_tx, control_rx) = watch::channel(Control::Run);
        let (done_tx, done_rx) = watch::channel(false);
        {
            let mut pods = self.inner.pods();
            if pods.contains_key(&uid) {
                return;
            }
            pods.insert(
                uid.clone(),
                Arc::new(PodControl {
                    control: control_tx,
                    done: done_rx,
                }),
            );
        }
        let context = PodContext::new(Arc::clone(&self.inner), run);
        self.inner.shutdown.spawn(async move {
            let _done = DoneGuard(done_tx);
            supervise(context, control_rx).await;
        });
    }

    async fn stop(&self, uid: &str, grace: Duration) {
        let control = self.inner.pods().get(uid).cloned();
        if let Some(control) = control {
            control
                .control
                .send_replace(Control::Stop(grace.max(self.inner.config.min_grace)));
            let mut done = control.done.clone();
            while !*done.borrow_and_update() {
                if done.changed().await.is_err() {
                    break;
                }
            }
            self.inner.pods().remove(uid);
        }
        let dir = self.inner.pod_dir(uid);
        if let Err(err) = fs::remove_dir_all(&dir)
            && err.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %dir.display(), error = %err, "could not remove the pod directory");
        }
    }

    async fn clean_up_orphans(&self, known: &HashSet<String>) {
        let Ok(entries) = fs::read_dir(self.inner.pods_dir()) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let uid = entry.file_name().to_string_lossy().into_owned();
            if known.contains(&uid) {
                continue;
            }
            tracing::info!(uid, "stopping what runs of a pod that is gone from KV");
            let records: Vec<PidRecord> = fs::read_dir(entry.path())
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .filter(|f| f.path().extension().is_some_and(|e| e == "pid"))
                .filter_map(|f| PidRecord::read(&f.path()))
                .filter(|r| r.is_running(&self.inner.boot_id))
                .collect();
            for record in records {
                let mut process = Proc::Adopted(record);
                terminate(
                    &mut process,
                    self.inner.config.min_grace,
                    &self.inner.boot_id,
                    self.inner.config.poll_interval,
                )
                .await;
            }
            if let Err(err) = fs::remove_dir_all(entry.path()) {
                tracing::warn!(uid, error = %err, "could not remove an orphaned pod directory");
            }
        }
    }
}

/// Marks the supervisor done even if it panics.
struct DoneGuard(watch::Sender<bool>);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

/// Which status slot a container fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Init(usize),
    Main(usize),
}

#[derive(Debug, Default)]
struct Observed {
    init: Vec<ContainerStatus>,
    main: Vec<ContainerStatus>,
}

struct PodContext {
    inner: Arc<Inner>,
    pod: Pod,
    spec: PodSpec,
    facts: PodFacts,
    mode: StartMode,
    sink: PodSink,
    dir: PathBuf,
    env: EnvContext,
    observed: Mutex<Observed>,
    /// The statuses recorded before an agent restart, by container name.
    previous: HashMap<String, ContainerStatus>,
    initialized_before: bool,
}

impl PodContext {
    fn new(inner: Arc<Inner>, run: PodRun) -> Self {
        let spec = run.pod.spec.clone().unwrap_or_default();
        let dir = inner.pod_dir(uid_of(&run.pod));
        let previous_status = run.pod.status.clone().unwrap_or_default();
        let previous: HashMap<String, ContainerStatus> = if run.mode == StartMode::Create {
            HashMap::new()
        } else {
            previous_status
                .init_container_statuses
                .iter()
                .chain(&previous_status.container_statuses)
                .map(|s| (s.name.clone(), s.clone()))
                .collect()
        };
        let initialized_before = run.mode != StartMode::Create
            && previous_status
                .conditions
                .iter()
                .any(|c| c.type_ == status::INITIALIZED && c.status == "True");
        let fresh = status::initial(&spec, &run.facts, Timestamp::now().whole_seconds());
        let pick = |fresh: Vec<ContainerStatus>| -> Vec<ContainerStatus> {
            fresh
                .into_iter()
                .map(|s| previous.get(&s.name).cloned().unwrap_or(s))
                .collect()
        };
        let observed = Observed {
            init: pick(fresh.init_container_statuses),
            main: pick(fresh.container_statuses),
        };
        let env = EnvContext {
            node_name: inner.config.node_name.clone(),
            host_ip: run.facts.host_ip.clone(),
            pod_ip: run.facts.pod_ip.clone(),
            allocatable: inner.config.allocatable.clone(),
        };
        Self {
            inner,
            pod: run.pod,
            spec,
            facts: run.facts,
            mode: run.mode,
            sink: run.sink,
            dir,
            env,
            observed: Mutex::new(observed),
            previous,
            initialized_before,
        }
    }

    fn observed(&self) -> MutexGuard<'_, Observed> {
        self.observed.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, slot: Slot, change: impl FnOnce(&mut ContainerStatus)) {
        let mut observed = self.observed();
        let status = match slot {
            Slot::Init(i) => observed.init.get_mut(i),
            Slot::Main(i) => observed.main.get_mut(i),
        };
        if let Some(status) = status {
            change(status);
        }
    }

    fn publish(&self) {
        let (init, main) = {
            let observed = self.observed();
            (observed.init.clone(), observed.main.clone())
        };
        self.sink.update(|pod| {
            status::assemble(
                &self.spec,
                init,
                main,
                &self.facts,
                pod.status.as_ref(),
                Timestamp::now().whole_seconds(),
            )
        });
    }

    /// Whether the container ran before (so that its next start counts as a restart).
    fn had_run(&self, name: &str) -> bool {
        self.previous.get(name).is_some_and(|s| {
            s.restart_count > 0
                || s.last_state.is_some()
                || matches!(
                    s.state,
                    Some(ContainerState::Running(_) | ContainerState::Terminated(_))
                )
        })
    }

    fn pod_label(&self) -> String {
        let meta = self.pod.metadata.clone().unwrap_or_default();
        format!("{}_{}({})", meta.name, meta.namespace, meta.uid)
    }

    fn base_env(&self) -> Vec<(String, String)> {
        let hostname = if self.spec.host_network {
            self.inner.config.node_name.clone()
        } else {
            self.pod
                .metadata
                .as_ref()
                .map_or_else(String::new, |m| m.name.clone())
        };
        vec![
            ("PATH".to_owned(), self.inner.config.container_path.clone()),
            ("HOSTNAME".to_owned(), hostname),
            ("HOME".to_owned(), self.dir.display().to_string()),
        ]
    }
}

/// What ended a container's supervision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Exited and will not restart (an init container that succeeded, or restart policy).
    Finished { exit_code: i32 },
    /// Stopped by a delete.
    Stopped,
    /// The agent shuts down; the process was left running.
    Detached,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signalled {
    Stop(Duration),
    Detach,
}

impl From<Signalled> for Outcome {
    fn from(signal: Signalled) -> Self {
        match signal {
            Signalled::Stop(_) => Outcome::Stopped,
            Signalled::Detach => Outcome::Detached,
        }
    }
}

/// Resolves when the pod is to stop or the agent shuts down.
async fn signalled(control: &mut watch::Receiver<Control>, shutdown: &Shutdown) -> Signalled {
    loop {
        if let Control::Stop(grace) = *control.borrow_and_update() {
            return Signalled::Stop(grace);
        }
        if shutdown.is_triggered() {
            return Signalled::Detach;
        }
        tokio::select! {
            changed = control.changed() => {
                if changed.is_err() {
                    return Signalled::Detach;
                }
            }
            () = shutdown.signal() => {}
        }
    }
}

async fn supervise(context: PodContext, control: watch::Receiver<Control>) {
    let context = &context;
    if let Err(err) = fs::create_dir_all(&context.dir) {
        tracing::error!(dir = %context.dir.display(), error = %err, "cannot create the pod directory");
    }
    context.publish();
    let shutdown = context.inner.shutdown.clone();
    if !context.initialized_before {
        for (index, container) in context.spec.init_containers.iter().enumerate() {
            let completed = context.mode != StartMode::Create
                && context.previous.get(&container.name).is_some_and(
                    |s| matches!(&s.state, Some(ContainerState::Terminated(t)) if t.exit_code == 0),
                );
            if completed {
                continue;
            }
            match run_container(context, Slot::Init(index), container, control.clone()).await {
                Outcome::Finished { exit_code: 0 } => {}
                Outcome::Finished { .. } => {
                    // Restart policy Never: the pod has failed; wait to be deleted.
                    signalled(&mut control.clone(), &shutdown).await;
                    return;
                }
                Outcome::Stopped | Outcome::Detached => return,
            }
        }
    }
    let containers = context
        .spec
        .containers
        .iter()
        .enumerate()
        .map(|(index, c)| run_container(context, Slot::Main(index), c, control.clone()));
    let outcomes = futures::future::join_all(containers).await;
    if outcomes
        .iter()
        .all(|o| matches!(o, Outcome::Finished { .. }))
    {
        signalled(&mut control.clone(), &shutdown).await;
    }
}

/// How a started process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Exit {
    code: i32,
    signal: i32,
    known: bool,
}

impl Exit {
    fn unknown() -> Self {
        Self {
            code: 0,
            signal: 0,
            known: false,
        }
    }

    fn from_status(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Self {
                code,
                signal: 0,
                known: true,
            },
            (None, Some(signal)) => Self {
                code: 128 + signal,
                signal,
                known: true,
            },
            (None, None) => Self::unknown(),
        }
    }
}

/// A container's main process: a child, or a process re-attached after an agent restart.
enum Proc {
    Child {
        child: tokio::process::Child,
        pid: i32,
    },
    Adopted(PidRecord),
}

impl Proc {
    fn pid(&self) -> i32 {
        match self {
            Proc::Child { pid, .. } => *pid,
            Proc::Adopted(record) => record.pid,
        }
    }

    /// Waits for the process to end (cancel-safe).
    async fn wait(&mut self, boot_id: &str, poll: Duration) -> Exit {
        match self {
            Proc::Child { child, .. } => match child.wait().await {
                Ok(status) => Exit::from_status(status),
                Err(err) => {
                    tracing::warn!(error = %err, "waiting for a container process failed");
                    Exit::unknown()
                }
            },
            Proc::Adopted(record) => {
                while record.is_running(boot_id) {
                    tokio::time::sleep(poll).await;
                }
                Exit::unknown()
            }
        }
    }
}

/// SIGTERM to the group, up to `grace` for it to empty, SIGKILL to what is left; returns how
/// the main process ended.
async fn terminate(process: &mut Proc, grace: Duration, boot_id: &str, poll: Duration) -> Exit {
    let pgid = process.pid();
    signal_group(pgid, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    let exit = tokio::time::timeout_at(deadline, process.wait(boot_id, poll))
        .await
        .ok();
    while Instant::now() < deadline && !procfs::group_members(pgid).is_empty() {
        tokio::time::sleep(poll).await;
    }
    if !procfs::group_members(pgid).is_empty() {
        signal_group(pgid, Signal::SIGKILL);
    }
    let exit = match exit {
        Some(exit) => exit,
        None => process.wait(boot_id, poll).await,
    };
    kill_leftovers(pgid);
    exit
}

/// Kills whatever still runs in the group of a container whose main process ended.
fn kill_leftovers(pgid: i32) {
    if !procfs::group_members(pgid).is_empty() {
        signal_group(pgid, Signal::SIGKILL);
    }
}

fn spawn(
    argv: &[String],
    env: &[(String, String)],
    cwd: &Path,
    log_path: &Path,
) -> io::Result<tokio::process::Child> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
    fs::create_dir_all(cwd)?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)?;
    let stderr = log.try_clone()?;
    tokio::process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(false)
        .spawn()
}

fn terminated_state(
    exit: Exit,
    message: String,
    started_at: Timestamp,
    container_id: String,
) -> ContainerStateTerminated {
    let (reason, message) = if !exit.known {
        (
            REASON_UNKNOWN.to_owned(),
            "the process was re-attached after an agent restart; its exit status cannot be observed"
                .to_owned(),
        )
    } else if exit.code == 0 {
        ("Completed".to_owned(), message)
    } else {
        ("Error".to_owned(), message)
    };
    ContainerStateTerminated {
        exit_code: exit.code,
        signal: exit.signal,
        reason,
        message,
        started_at: Some(started_at),
        finished_at: Some(Timestamp::now().whole_seconds()),
        container_id,
    }
}

/// Why the probes want the container killed.
struct ProbeKill {
    message: String,
    grace: Option<i64>,
}

impl ProbeKill {
    /// The kubelet's kill message, with the last attempt's failure so the pod status shows it.
    fn new(
        container: &Container,
        kind: &str,
        spec: &ProbeSpec,
        failure: Option<ProbeError>,
    ) -> Self {
        let mut message = format!(
            "Container {} failed {kind} probe, will be restarted",
            container.name
        );
        if let Some(failure) = failure {
            message.push_str(": ");
            message.push_str(&failure.to_string());
        }
        Self {
            message,
            grace: spec.termination_grace_period_seconds,
        }
    }
}

/// Runs the container's probes from its start; returns only when a liveness or startup probe
/// has failed. Readiness and the `started` flag are reported as they change.
async fn probes(
    context: &PodContext,
    slot: Slot,
    container: &Container,
    exec: &ExecContext,
) -> ProbeKill {
    let pod_ip = &context.facts.pod_ip;
    let spec = |kind: &str, probe: &Option<everynode_core::model::Probe>| {
        let spec = probe
            .as_ref()
            .map(|p| ProbeSpec::new(p, container, pod_ip))?;
        if let Handler::Invalid(reason) = &spec.handler {
            tracing::warn!(container = %container.name, probe = kind, %reason, "the probe cannot run; every attempt fails");
        }
        Some(spec)
    };
    let (startup, liveness, readiness) = (
        spec("startup", &container.startup_probe),
        spec("liveness", &container.liveness_probe),
        spec("readiness", &container.readiness_probe),
    );
    let started = Instant::now();
    if let Some(startup) = &startup {
        tokio::time::sleep_until(started + startup.initial_delay).await;
        let mut tally = Tally::new(false);
        loop {
            let result = probe_once(&startup.handler, startup.timeout, exec).await;
            if tally.observe(result.is_ok(), startup) {
                if tally.result() {
                    break;
                }
                return ProbeKill::new(container, "startup", startup, result.err());
            }
            tokio::time::sleep(startup.period).await;
        }
        context.set(slot, |s| {
            s.started = Some(true);
            s.ready = readiness.is_none();
        });
        context.publish();
    }
    let readiness_loop = async {
        let Some(readiness) = &readiness else {
            return std::future::pending::<()>().await;
        };
        tokio::time::sleep_until(started + readiness.initial_delay).await;
        let mut tally = Tally::new(false);
        loop {
            let result = probe_once(&readiness.handler, readiness.timeout, exec).await;
            if let Err(error) = &result {
                tracing::debug!(container = %container.name, %error, "readiness probe failed");
            }
            if tally.observe(result.is_ok(), readiness) {
                let ready = tally.result();
                context.set(slot, |s| s.ready = ready);
                context.publish();
            }
            tokio::time::sleep(readiness.period).await;
        }
    };
    let liveness_loop = async {
        let Some(liveness) = &liveness else {
            return std::future::pending::<ProbeKill>().await;
        };
        tokio::time::sleep_until(started + liveness.initial_delay).await;
        let mut tally = Tally::new(true);
        loop {
            let result = probe_once(&liveness.handler, liveness.timeout, exec).await;
            if let Err(error) = &result {
                tracing::debug!(container = %container.name, %error, "liveness probe failed");
            }
            if tally.observe(result.is_ok(), liveness) && !tally.result() {
                return ProbeKill::new(container, "liveness", liveness, result.err());
            }
            tokio::time::sleep(liveness.period).await;
        }
    };
    tokio::select! {
        kill = liveness_loop => kill,
        () = readiness_loop => ProbeKill { message: String::new(), grace: None },
    }
}

fn grace_seconds(seconds: Option<i64>) -> Duration {
    Duration::from_secs(seconds.and_then(|s| u64::try_from(s).ok()).unwrap_or(30))
}

/// Supervises one container until it finishes for good, the pod stops, or the agent shuts
/// down.
async fn run_container(
    context: &PodContext,
    slot: Slot,
    container: &Container,
    mut control: watch::Receiver<Control>,
) -> Outcome {
    let inner = &context.inner;
    let shutdown = &inner.shutdown;
    let poll = inner.config.poll_interval;
    let boot_id = inner.boot_id.as_str();
    let is_init = matches!(slot, Slot::Init(_));
    let name = container.name.as_str();

    let waiting = |reason: &str, message: String| {
        context.set(slot, |s| {
            s.state = Some(ContainerState::Waiting(ContainerStateWaiting {
                reason: reason.to_owned(),
                message,
            }));
            s.ready = false;
            s.started = Some(false);
        });
        context.publish();
    };

    if container.command.is_empty() {
        waiting(REASON_NO_COMMAND, MESSAGE_NO_COMMAND.to_owned());
        return signalled(&mut control, shutdown).await.into();
    }
    let container_vars = match container_env(&context.pod, container, &context.env) {
        Ok(vars) => vars,
        Err(err) => {
            waiting(REASON_CONFIG_ERROR, err.to_string());
            return signalled(&mut control, shutdown).await.into();
        }
    };
    let argv = command_line(container, &container_vars);
    let mut env = context.base_env();
    for (key, value) in container_vars {
        match env.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => env.push((key, value)),
        }
    }
    let cwd = if container.working_dir.is_empty() {
        context.dir.clone()
    } else {
        PathBuf::from(&container.working_dir)
    };
    let exec = ExecContext {
        env: env.clone(),
        cwd: cwd.clone(),
    };
    let pid_path = context.dir.join(format!("{name}.pid"));
    let log_path = context.dir.join(format!("{name}.log"));
    let restart_policy = context.spec.restart_policy.as_str();
    let pod_grace = context.spec.termination_grace_period_seconds;

    let mut adopt = if context.mode == StartMode::Create {
        None
    } else {
        PidRecord::read(&pid_path).filter(|r| r.is_running(boot_id))
    };
    if adopt.is_none() {
        let _ = fs::remove_file(&pid_path);
    }
    let mut had_run = context.had_run(name);
    let mut backoff = Backoff::default();

    loop {
        if let Control::Stop(_) = *control.borrow() {
            return Outcome::Stopped;
        }
        if shutdown.is_triggered() {
            return Outcome::Detached;
        }
        let began = Instant::now();
        let spawned = match adopt.take() {
            Some(record) => {
                tracing::info!(
                    container = name,
                    pid = record.pid,
                    "re-attached to a running container process"
                );
                Ok((record.started_at, Proc::Adopted(record)))
            }
            None if context.mode == StartMode::ResumeForDeletion => {
                return signalled(&mut control, shutdown).await.into();
            }
            None => {
                if had_run {
                    context.set(slot, |s| {
                        s.restart_count = s.restart_count.saturating_add(1)
                    });
                }
                let started_at = Timestamp::now().whole_seconds();
                match spawn(&argv, &env, &cwd, &log_path) {
                    Ok(child) => {
                        let pid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
                        match PidRecord::of_running(pid, boot_id, started_at) {
                            Some(record) => {
                                if let Err(err) = record.write(&pid_path) {
                                    tracing::warn!(container = name, error = %err, "could not record the container's pid");
                                }
                            }
                            None => tracing::debug!(
                                container = name,
                                pid,
                                "exited before it could be recorded"
                            ),
                        }
                        Ok((started_at, Proc::Child { child, pid }))
                    }
                    Err(err) => Err((started_at, err)),
                }
            }
        };
        had_run = true;

        let terminated = match spawned {
            Err((started_at, err)) => ContainerStateTerminated {
                exit_code: 128,
                signal: 0,
                reason: REASON_START_ERROR.to_owned(),
                message: format!(
                    "starting {:?}: {err}",
                    argv.first().map_or("", String::as_str)
                ),
                started_at: Some(started_at),
                finished_at: Some(Timestamp::now().whole_seconds()),
                container_id: String::new(),
            },
            Ok((started_at, mut process)) => {
                let pid = process.pid();
                let container_id = format!("process://{pid}");
                let has_startup = container.startup_probe.is_some();
                let has_readiness = container.readiness_probe.is_some();
                context.set(slot, |s| {
                    s.state = Some(ContainerState::Running(ContainerStateRunning {
                        started_at: Some(started_at),
                    }));
                    s.container_id = container_id.clone();
                    s.started = Some(!has_startup);
                    s.ready = !is_init && !has_startup && !has_readiness;
                });
                context.publish();

                enum Ended {
                    Exited(Exit),
                    Probe(ProbeKill),
                    Signalled(Signalled),
                }
                let ended = tokio::select! {
                    exit = process.wait(boot_id, poll) => Ended::Exited(exit),
                    kill = probes(context, slot, container, &exec), if !is_init => Ended::Probe(kill),
                    signal = signalled(&mut control, shutdown) => Ended::Signalled(signal),
                };
                let (exit, message) = match ended {
                    Ended::Exited(exit) => {
                        kill_leftovers(pid);
                        (exit, String::new())
                    }
                    Ended::Probe(kill) => {
                        tracing::info!(container = name, "{}", kill.message);
                        let grace =
                            grace_seconds(kill.grace.or(pod_grace)).max(inner.config.min_grace);
                        (
                            terminate(&mut process, grace, boot_id, poll).await,
                            kill.message,
                        )
                    }
                    Ended::Signalled(Signalled::Stop(grace)) => {
                        let exit = terminate(&mut process, grace, boot_id, poll).await;
                        let _ = fs::remove_file(&pid_path);
                        let terminated =
                            terminated_state(exit, String::new(), started_at, container_id);
                        context.set(slot, |s| {
                            s.state = Some(ContainerState::Terminated(terminated));
                            s.ready = false;
                        });
                        context.publish();
                        return Outcome::Stopped;
                    }
                    Ended::Signalled(Signalled::Detach) => return Outcome::Detached,
                };
                let _ = fs::remove_file(&pid_path);
                terminated_state(exit, message, started_at, container_id)
            }
        };

        let exit_code = terminated.exit_code;
        let restart = if is_init {
            exit_code != 0 && restart_policy != "Never"
        } else {
            should_restart(restart_policy, exit_code)
        };
        if !restart {
            context.set(slot, |s| {
                s.state = Some(ContainerState::Terminated(terminated));
                s.ready = false;
            });
            context.publish();
            return Outcome::Finished { exit_code };
        }
        let delay = backoff.next(&inner.config.backoff, began.elapsed());
        let message = format!(
            "back-off {} restarting failed container={name} pod={}",
            humantime::format_duration(delay),
            context.pod_label()
        );
        context.set(slot, |s| {
            s.last_state = Some(ContainerState::Terminated(terminated));
            s.state = Some(ContainerState::Waiting(ContainerStateWaiting {
                reason: REASON_CRASH_LOOP_BACK_OFF.to_owned(),
                message,
            }));
            s.ready = false;
            s.started = Some(false);
        });
        context.publish();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            signal = signalled(&mut control, shutdown) => return signal.into(),
        }
    }
}
