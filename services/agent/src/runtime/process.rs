//! The `process` runtime: each container's `command` + `args` run as a real process on this
//! machine.
//!
//! Per pod, one supervisor task (tracked on the agent's shutdown) runs the init containers to
//! completion in order, then every container concurrently (as futures of that same task):
//! - before anything runs, the pod is checked ([`crate::names`], [`crate::security`]): a
//!   privileged container, a `hostPath` volume or a host namespace is refused without
//!   `--allow-privileged`, and so is `runAsNonRoot` with user 0; every container then waits
//!   with reason `CreateContainerConfigError` and the reason in its message;
//! - the pod gets two directories: `<data-dir>/pods/<uid>/`, its working directory and
//!   `HOME`, owned by the user it runs as (group `fsGroup`, setgid, when one is set); and
//!   `<data-dir>/state/<uid>/`, root's alone (mode 0700), with the agent's bookkeeping: pid
//!   records and logs. Neither is ever reached through a symbolic link;
//! - with cgroups ([`crate::cgroup`]) the pod gets `pod-<uid>` with its limits and each
//!   container a cgroup inside it with `resources.limits.memory`/`.cpu`; a process joins its
//!   container's cgroup, and takes its user and groups, before `exec` ([`crate::confine`]);
//! - a container runs in its own process group (`setpgid`), with the environment of
//!   [`crate::env`] on top of a minimal base (`PATH`, `HOSTNAME`, `HOME` = the pod directory;
//!   nothing of the agent's own environment leaks in), its working directory (default the pod
//!   directory), stdin from `/dev/null`, stdout and stderr appended to
//!   `<data-dir>/state/<uid>/<container>.log`, rotated by size ([`crate::logs`]);
//! - a container killed by the kernel for memory (the OOM kill counter of its cgroups grew)
//!   ends with reason `OOMKilled`;
//! - right after the spawn its pid, start time and boot id go to `<container>.pid`; an agent
//!   that restarts re-attaches to a recorded process that still runs instead of starting a
//!   second one. Re-attached processes are not the agent's children: they are watched by
//!   polling `/proc/<pid>/stat`, and their exit status cannot be known (reported as reason
//!   `Unknown`);
//! - when a container's main process exits, whatever else still runs in its group and its
//!   cgroup is killed (as the end of a container's PID namespace would); under restart policy
//!   Always (and
//!   OnFailure after a failure) it starts again after the crash back-off
//!   ([`crate::backoff`]), counting `restartCount` and keeping `lastState`;
//! - startup, liveness and readiness probes run as the kubelet runs them ([`crate::probe`]); a
//!   failed liveness or startup probe kills the container, which restarts per policy;
//! - stopping (a delete) sends SIGTERM to the whole group and every process of the container's
//!   cgroup, waits up to the grace (at least the kubelet's 2 s minimum) for them to end, then
//!   SIGKILLs the group and kills the cgroup (frozen first: nothing escapes, not a
//!   double-forked or `setsid` child); the pod's cgroups and directories are then removed;
//! - a container without `command` cannot run here (there is no image to take an entrypoint
//!   from): it waits with reason `NoCommand`;
//! - on agent shutdown supervisors return and leave every process running.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use everynode_api::v1;
use everynode_core::model::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, Pod, PodSpec, Timestamp,
};
use everynode_service::Shutdown;
use nix::sys::signal::Signal;
use prost::Message as _;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{PodRun, Runtime, StartMode};
use crate::backoff::{Backoff, BackoffPolicy, should_restart};
use crate::cgroup::{self, Cgroups, Limits};
use crate::confine::Confinement;
use crate::env::{EnvContext, command_line, container_env};
use crate::logs::{self, LogLimits};
use crate::names::{check_container_name, check_pod_uid, checked_dir, ensure_real_dir};
use crate::pods::{PodSink, uid_of};
use crate::probe::{ExecContext, Handler, ProbeError, ProbeSpec, Tally, probe_once};
use crate::process_group::signal_group;
use crate::procfs::{self, PidRecord};
use crate::security::{self, Identity};
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
/// Terminated reason of a container whose process the kernel killed for memory.
pub const REASON_OOM_KILLED: &str = "OOMKilled";

/// Settings of the process runtime.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// The agent's data dir; pods live in `<data_dir>/pods/<uid>/`, the agent's records of
    /// them in `<data_dir>/state/<uid>/`.
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
    /// Whether privileged containers, `hostPath` volumes and host namespaces may run.
    pub allow_privileged: bool,
    /// How container logs are bounded.
    pub log_limits: LogLimits,
    /// The pods' cgroups; `None` when cgroups are not used.
    pub cgroups: Option<Cgroups>,
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

    /// The directory of pod `uid` (its working directory).
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.inner.pod_dir(uid)
    }

    /// The agent's bookkeeping of pod `uid` (pid records, logs).
    pub fn state_dir(&self, uid: &str) -> PathBuf {
        self.inner.state_dir(uid)
    }
}

impl Inner {
    fn pods_dir(&self) -> PathBuf {
        self.config.data_dir.join("pods")
    }

    fn pod_dir(&self, uid: &str) -> PathBuf {
        self.pods_dir().join(uid)
    }

    fn states_dir(&self) -> PathBuf {
        self.config.data_dir.join("state")
    }

    fn state_dir(&self, uid: &str) -> PathBuf {
        self.states_dir().join(uid)
    }

    /// Removes what is left of pod `uid`: its cgroups (killing what still runs in them) and
    /// both its directories.
    async fn remove_pod(&self, uid: &str) {
        if let Some(cgroups) = &self.config.cgroups {
            cgroups.kill_all(uid, None).await;
            cgroups.remove_pod(uid);
        }
        for dir in [self.pod_dir(uid), self.state_dir(uid)] {
            if let Err(err) = fs::remove_dir_all(&dir)
                && err.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(dir = %dir.display(), error = %err, "could not remove a pod directory");
            }
        }
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
        if check_pod_uid(uid).is_ok() {
            self.inner.remove_pod(uid).await;
        }
    }

    async fn unrecorded(&self, known: &HashSet<String>) -> Vec<v1::Pod> {
        let mut found: BTreeSet<String> = BTreeSet::new();
        for dir in [self.inner.pods_dir(), self.inner.states_dir()] {
            found.extend(
                fs::read_dir(dir)
                    .into_iter()
                    .flatten()
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned()),
            );
        }
        let mut pods = Vec::new();
        for uid in found {
            if known.contains(&uid) || check_pod_uid(&uid).is_err() {
                continue;
            }
            match read_copy(&self.inner.state_dir(&uid)) {
                Ok(pod) if uid_of(&Pod::from(pod.clone())) == uid => pods.push(pod),
                Ok(_) => tracing::warn!(
                    uid,
                    "the kept copy of a pod names another uid; leaving what runs of it alone"
                ),
                Err(err) => {
                    tracing::warn!(uid, error = %err, "a pod without record and without a readable copy; leaving what runs of it alone")
                }
            }
        }
        pods
    }
}

/// The file, in a pod's state directory (root's alone), holding the pod as it was started:
/// what recovery records again when the pod's record is gone.
const POD_COPY: &str = "pod.pb";

/// Keeps `pod` in `state_dir` (a temporary file renamed over the copy: always whole).
fn keep_copy(state_dir: &Path, pod: &v1::Pod) -> io::Result<()> {
    let temporary = state_dir.join(format!("{POD_COPY}.tmp"));
    fs::write(&temporary, pod.encode_to_vec())?;
    fs::rename(&temporary, state_dir.join(POD_COPY))
}

/// The pod kept in `state_dir`.
fn read_copy(state_dir: &Path) -> io::Result<v1::Pod> {
    let bytes = fs::read(state_dir.join(POD_COPY))?;
    v1::Pod::decode(bytes.as_slice()).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
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
    /// The agent's bookkeeping of the pod: pid records and logs.
    state_dir: PathBuf,
    uid: String,
    env: EnvContext,
    observed: Mutex<Observed>,
    /// The statuses recorded before an agent restart, by container name.
    previous: HashMap<String, ContainerStatus>,
    initialized_before: bool,
}

impl PodContext {
    fn new(inner: Arc<Inner>, run: PodRun) -> Self {
        let spec = run.pod.spec.clone().unwrap_or_default();
        let uid = uid_of(&run.pod).to_owned();
        let dir = inner.pod_dir(&uid);
        let state_dir = inner.state_dir(&uid);
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
            state_dir,
            uid,
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

    /// How `container`'s processes are confined; why it cannot run otherwise.
    fn confinement(&self, container: &Container) -> Result<Confinement, String> {
        let identity = security::identity(&self.spec, container, primary_group)?;
        security::check_non_root(
            &self.spec,
            container,
            &self.pod_label(),
            &identity,
            nix::unistd::geteuid().as_raw(),
        )?;
        let cgroup_procs = match &self.inner.config.cgroups {
            Some(cgroups) => cgroups
                .create_container(&self.uid, &container.name, container_limits(container)?)
                .map_err(|err| format!("cannot create the container's cgroup: {err}"))?,
            None => Vec::new(),
        };
        let no_new_privs = container
            .security_context
            .as_ref()
            .and_then(|s| s.allow_privilege_escalation)
            == Some(false);
        let last_cap = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(40);
        let drop_capabilities = security::dropped_capabilities(container, last_cap)?;
        Ok(Confinement {
            cgroup_procs,
            identity,
            no_new_privs,
            drop_capabilities,
        })
    }

    /// Every container waits with `reason` and `message` (the pod cannot start).
    fn wait_all(&self, reason: &str, message: &str) {
        {
            let mut observed = self.observed();
            let Observed { init, main } = &mut *observed;
            for status in init.iter_mut().chain(main.iter_mut()) {
                status.state = Some(ContainerState::Waiting(ContainerStateWaiting {
                    reason: reason.to_owned(),
                    message: message.to_owned(),
                }));
                status.ready = false;
                status.started = Some(false);
            }
        }
        self.publish();
    }

    /// Checks the pod and makes its directories and cgroup; why it cannot run otherwise.
    fn prepare(&self) -> Result<(), String> {
        check_pod_uid(&self.uid).map_err(|e| e.to_string())?;
        for container in self
            .spec
            .init_containers
            .iter()
            .chain(&self.spec.containers)
        {
            check_container_name(&container.name).map_err(|e| e.to_string())?;
        }
        if let Some(refusal) =
            security::privilege_refusal(&self.spec, self.inner.config.allow_privileged)
        {
            return Err(refusal);
        }
        let pods_dir = self.inner.pods_dir();
        let states_dir = self.inner.states_dir();
        let made = (|| -> io::Result<()> {
            ensure_real_dir(&pods_dir)?;
            ensure_real_dir(&states_dir)?;
            let state = checked_dir(&states_dir, &self.uid, 0o700)?;
            let mut copy = v1::Pod::from(self.pod.clone());
            copy.status = None;
            keep_copy(&state, &copy)?;
            let (owner, mode) = self.work_dir_owner()?;
            let dir = checked_dir(&pods_dir, &self.uid, mode)?;
            if let Some((uid, gid)) = owner {
                // `dir` is a real directory (checked) in a directory only root can write.
                std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&dir, fs::Permissions::from_mode(mode))?;
            }
            Ok(())
        })();
        made.map_err(|err| format!("cannot prepare the pod's directories: {err}"))?;
        if let Some(cgroups) = &self.inner.config.cgroups {
            let limits = |containers: &[Container]| -> Result<Vec<Limits>, String> {
                containers.iter().map(container_limits).collect()
            };
            let pod = cgroup::pod_limits(
                &limits(&self.spec.containers)?,
                &limits(&self.spec.init_containers)?,
            );
            cgroups
                .create_pod(&self.uid, pod)
                .map_err(|err| format!("cannot create the pod's cgroup: {err}"))?;
        }
        Ok(())
    }

    /// Who owns the pod's working directory, and its mode: the pod's user (or the one user
    /// all its containers share) and `fsGroup` (setgid, group-writable) or that user's group;
    /// nobody in particular (the agent's user, mode 0755) when the pod sets no user; sticky and
    /// world-writable, as `/tmp`, when its containers run as different users without
    /// `fsGroup`.
    fn work_dir_owner(&self) -> io::Result<(Option<(u32, u32)>, u32)> {
        let identities: Vec<Identity> = self
            .spec
            .init_containers
            .iter()
            .chain(&self.spec.containers)
            .map(|c| security::identity(&self.spec, c, primary_group))
            .collect::<Result<_, _>>()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let users: BTreeSet<Option<u32>> = identities.iter().map(|i| i.uid).collect();
        let fs_group = self
            .spec
            .security_context
            .as_ref()
            .and_then(|s| s.fs_group)
            .and_then(|g| u32::try_from(g).ok());
        let single = match users.iter().collect::<Vec<_>>().as_slice() {
            [Some(uid)] => Some(*uid),
            _ => None,
        };
        Ok(match (single, fs_group) {
            (Some(uid), Some(group)) => (Some((uid, group)), 0o2770),
            (Some(uid), None) => {
                let gid = identities.iter().find_map(|i| i.gid).unwrap_or(0);
                (Some((uid, gid)), 0o750)
            }
            (None, Some(group)) => (Some((nix::unistd::geteuid().as_raw(), group)), 0o2770),
            (None, None) if users.len() > 1 => (None, 0o1777),
            (None, None) => (None, 0o755),
        })
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
    let shutdown = context.inner.shutdown.clone();
    if let Err(message) = context.prepare() {
        tracing::warn!(pod = %context.pod_label(), %message, "the pod cannot run");
        context.wait_all(REASON_CONFIG_ERROR, &message);
        signalled(&mut control.clone(), &shutdown).await;
        return;
    }
    context.publish();
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

/// The cgroup a container's (or a whole pod's) processes are in, when cgroups are used.
#[derive(Clone, Copy)]
struct Scope<'a> {
    cgroups: Option<&'a Cgroups>,
    uid: &'a str,
    container: Option<&'a str>,
}

impl<'a> Scope<'a> {
    fn members(&self) -> Vec<i32> {
        self.cgroups
            .map(|c| c.processes(self.uid, self.container))
            .unwrap_or_default()
    }

    fn signal(&self, signal: Signal) {
        for pid in self.members() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
    }

    async fn kill_all(&self) {
        if let Some(cgroups) = self.cgroups {
            cgroups.kill_all(self.uid, self.container).await;
        }
    }
}

/// SIGTERM to the group and the cgroup, up to `grace` for them to empty, SIGKILL to what is
/// left; returns how the main process ended.
async fn terminate(
    process: &mut Proc,
    grace: Duration,
    boot_id: &str,
    poll: Duration,
    scope: Scope<'_>,
) -> Exit {
    let pgid = process.pid();
    signal_group(pgid, Signal::SIGTERM);
    scope.signal(Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    let exit = tokio::time::timeout_at(deadline, process.wait(boot_id, poll))
        .await
        .ok();
    while Instant::now() < deadline
        && (!procfs::group_members(pgid).is_empty() || !scope.members().is_empty())
    {
        tokio::time::sleep(poll).await;
    }
    if !procfs::group_members(pgid).is_empty() {
        signal_group(pgid, Signal::SIGKILL);
    }
    let exit = match exit {
        Some(exit) => exit,
        None => process.wait(boot_id, poll).await,
    };
    kill_leftovers(pgid, scope).await;
    exit
}

/// Kills whatever still runs in the group and the cgroup of a container whose main process
/// ended.
async fn kill_leftovers(pgid: i32, scope: Scope<'_>) {
    if !procfs::group_members(pgid).is_empty() {
        signal_group(pgid, Signal::SIGKILL);
    }
    if !scope.members().is_empty() {
        scope.kill_all().await;
    }
}

/// Waits for the process to end, rotating its log meanwhile (cancel-safe).
async fn wait_rotating(
    process: &mut Proc,
    boot_id: &str,
    poll: Duration,
    log_path: &Path,
    limits: LogLimits,
) -> Exit {
    let mut ticks = tokio::time::interval(poll);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let wait = process.wait(boot_id, poll);
    tokio::pin!(wait);
    loop {
        tokio::select! {
            exit = &mut wait => return exit,
            _ = ticks.tick() => {
                if let Err(err) = logs::rotate_if_needed(log_path, limits) {
                    tracing::warn!(log = %log_path.display(), error = %err, "could not rotate a container log");
                }
            }
        }
    }
}

/// The limits of a container's cgroup, from `resources.limits`.
fn container_limits(container: &Container) -> Result<Limits, String> {
    let limits = container
        .resources
        .as_ref()
        .map(|r| &r.limits)
        .cloned()
        .unwrap_or_default();
    let milli = |name: &str| -> Result<Option<u64>, String> {
        let Some(text) = limits.get(name) else {
            return Ok(None);
        };
        let quantity = everynode_core::quantity::Quantity::parse(text)
            .map_err(|err| format!("resources.limits.{name} {text:?}: {err}"))?;
        u64::try_from(quantity.milli_value())
            .map(Some)
            .map_err(|_| format!("resources.limits.{name} {text:?} is out of range"))
    };
    Ok(Limits {
        memory: milli("memory")?.map(|m| m.div_ceil(1000)),
        cpu_millis: milli("cpu")?,
    })
}

/// The host's primary group of user `uid` (`/etc/passwd`), if it has an entry.
fn primary_group(uid: u32) -> Option<u32> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|user| user.gid.as_raw())
}

fn spawn(
    argv: &[String],
    env: &[(String, String)],
    cwd: &Path,
    log_path: &Path,
    confinement: &Confinement,
) -> io::Result<tokio::process::Child> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
    let log = logs::open_for_append(log_path)?;
    let stderr = log.try_clone()?;
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(false);
    confinement.apply(&mut command, cwd)?;
    command.spawn()
}

fn terminated_state(
    exit: Exit,
    message: String,
    started_at: Timestamp,
    container_id: String,
    oom_killed: bool,
) -> ContainerStateTerminated {
    let (reason, message) = if !exit.known {
        (
            REASON_UNKNOWN.to_owned(),
            "the process was re-attached after an agent restart; its exit status cannot be observed"
                .to_owned(),
        )
    } else if oom_killed {
        (REASON_OOM_KILLED.to_owned(), message)
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
    let argv = match command_line(container, &container_vars) {
        Ok(argv) => argv,
        Err(err) => {
            waiting(REASON_CONFIG_ERROR, err.to_string());
            return signalled(&mut control, shutdown).await.into();
        }
    };
    let confinement = match context.confinement(container) {
        Ok(confinement) => confinement,
        Err(message) => {
            waiting(REASON_CONFIG_ERROR, message);
            return signalled(&mut control, shutdown).await.into();
        }
    };
    let scope = Scope {
        cgroups: inner.config.cgroups.as_ref(),
        uid: &context.uid,
        container: Some(name),
    };
    let oom_kills = || scope.cgroups.map_or(0, |c| c.oom_kills(&context.uid, name));
    let log_limits = inner.config.log_limits;
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
        confinement: confinement.clone(),
    };
    let pid_path = context.state_dir.join(format!("{name}.pid"));
    let log_path = context.state_dir.join(format!("{name}.log"));
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
        // A process adopted from before a restart is stopped the normal way (SIGTERM, what is
        // left of the grace, SIGKILL) even when the stop came first: below, `signalled`
        // answers at once.
        if adopt.is_none()
            && let Control::Stop(_) = *control.borrow()
        {
            return Outcome::Stopped;
        }
        if shutdown.is_triggered() {
            return Outcome::Detached;
        }
        let began = Instant::now();
        let oom_before = oom_kills();
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
                match spawn(&argv, &env, &cwd, &log_path, &confinement) {
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
                    exit = wait_rotating(&mut process, boot_id, poll, &log_path, log_limits) => Ended::Exited(exit),
                    kill = probes(context, slot, container, &exec), if !is_init => Ended::Probe(kill),
                    signal = signalled(&mut control, shutdown) => Ended::Signalled(signal),
                };
                let (exit, message) = match ended {
                    Ended::Exited(exit) => {
                        kill_leftovers(pid, scope).await;
                        (exit, String::new())
                    }
                    Ended::Probe(kill) => {
                        tracing::info!(container = name, "{}", kill.message);
                        let grace =
                            grace_seconds(kill.grace.or(pod_grace)).max(inner.config.min_grace);
                        (
                            terminate(&mut process, grace, boot_id, poll, scope).await,
                            kill.message,
                        )
                    }
                    Ended::Signalled(Signalled::Stop(grace)) => {
                        let exit = terminate(&mut process, grace, boot_id, poll, scope).await;
                        let _ = fs::remove_file(&pid_path);
                        let terminated = terminated_state(
                            exit,
                            String::new(),
                            started_at,
                            container_id,
                            oom_kills() > oom_before,
                        );
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
                terminated_state(
                    exit,
                    message,
                    started_at,
                    container_id,
                    oom_kills() > oom_before,
                )
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
