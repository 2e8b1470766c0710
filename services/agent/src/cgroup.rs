//! A cgroup per pod (and one per container inside it) for the process runtime: limits, the OOM
//! kill count, and killing every process of a pod, double-forked and `setsid` children
//! included.
//!
//! [`detect`] reads `/proc/self/mountinfo` and picks:
//! - cgroup v2 where a `cgroup2` file system is mounted whose `cgroup.controllers` offers
//!   `memory`, `cpu` and `pids`;
//! - else cgroup v1 where the `memory`, `cpu` and `freezer` hierarchies are mounted (`pids` is
//!   used when mounted too);
//! - else nothing: limits are not enforced and a pod's processes are found through their
//!   process groups only (said once at start-up, with the reason).
//!
//! Layout, under each hierarchy's mount point: `<parent>/pod-<uid>/<container>/` (the
//! `--cgroup-parent`, default `everynode`). A container's processes live in its leaf; the pod
//! cgroup holds the pod's limits (the sum of its containers' limits when every container has
//! one, the largest init container's when that is more, as the kubelet computes them).
//! Killing a cgroup: v2 writes `cgroup.kill` (or freezes, kills and thaws where that file is
//! missing); v1 freezes the freezer cgroup, SIGKILLs every pid of it and its children, then
//! thaws, so nothing can fork in between.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::time::Instant;

/// The v1 controllers the runtime needs.
const V1_REQUIRED: [&str; 3] = ["memory", "cpu", "freezer"];
/// The v2 controllers the runtime needs.
const V2_REQUIRED: [&str; 3] = ["memory", "cpu", "pids"];
/// CFS period written with every CPU limit, in microseconds (the kubelet's).
const CPU_PERIOD_US: u64 = 100_000;
/// Smallest CFS quota the kernel accepts, in microseconds.
const MIN_CPU_QUOTA_US: u64 = 1_000;
/// How long a cgroup may take to freeze, and to empty after its processes were killed.
const SETTLE: Duration = Duration::from_secs(5);

/// Which cgroup hierarchies are used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// The unified hierarchy, mounted at the path.
    V2(PathBuf),
    /// Per-controller hierarchies.
    V1 {
        /// `memory` mount.
        memory: PathBuf,
        /// `cpu` mount (often shared with `cpuacct`).
        cpu: PathBuf,
        /// `freezer` mount.
        freezer: PathBuf,
        /// `pids` mount, when there is one.
        pids: Option<PathBuf>,
    },
}

/// What [`detect`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detection {
    /// Cgroups can be used.
    Usable(Hierarchy),
    /// They cannot; why.
    Off(String),
}

impl std::fmt::Display for Hierarchy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hierarchy::V2(mount) => write!(f, "cgroup v2 at {}", mount.display()),
            Hierarchy::V1 {
                memory,
                cpu,
                freezer,
                pids,
            } => {
                write!(
                    f,
                    "cgroup v1 (memory at {}, cpu at {}, freezer at {}",
                    memory.display(),
                    cpu.display(),
                    freezer.display()
                )?;
                match pids {
                    Some(pids) => write!(f, ", pids at {})", pids.display()),
                    None => write!(f, ", no pids hierarchy)"),
                }
            }
        }
    }
}

/// One line of `/proc/self/mountinfo`: mount point, file system type, super options.
fn parse_mount_line(line: &str) -> Option<(&str, &str, &str)> {
    let (before, after) = line.split_once(" - ")?;
    let mount_point = before.split_whitespace().nth(4)?;
    let mut rest = after.split_whitespace();
    let fs_type = rest.next()?;
    let _source = rest.next()?;
    let options = rest.next().unwrap_or("");
    Some((mount_point, fs_type, options))
}

/// Picks the hierarchies from the text of `/proc/self/mountinfo`; mount points are looked at
/// under `root` (`/` on a real system, a temporary directory in tests).
pub fn detect(mountinfo: &str, root: &Path) -> Detection {
    let under_root = |mount: &str| root.join(mount.trim_start_matches('/'));
    let mut v2_reasons = Vec::new();
    let mut v1: Vec<(String, PathBuf)> = Vec::new();
    for (mount_point, fs_type, options) in mountinfo.lines().filter_map(parse_mount_line) {
        match fs_type {
            "cgroup2" => {
                let path = under_root(mount_point);
                let controllers =
                    fs::read_to_string(path.join("cgroup.controllers")).unwrap_or_default();
                let offered: BTreeSet<&str> = controllers.split_whitespace().collect();
                let missing: Vec<&str> = V2_REQUIRED
                    .iter()
                    .copied()
                    .filter(|c| !offered.contains(c))
                    .collect();
                if missing.is_empty() {
                    return Detection::Usable(Hierarchy::V2(path));
                }
                v2_reasons.push(format!(
                    "the cgroup2 mount at {mount_point} lacks {}",
                    missing.join(", ")
                ));
            }
            "cgroup" => {
                let path = under_root(mount_point);
                if !path.join("cgroup.procs").is_file() {
                    continue;
                }
                for option in options.split(',') {
                    if V1_REQUIRED.contains(&option) || option == "pids" {
                        v1.push((option.to_owned(), path.clone()));
                    }
                }
            }
            _ => {}
        }
    }
    let find = |name: &str| v1.iter().find(|(c, _)| c == name).map(|(_, p)| p.clone());
    match (find("memory"), find("cpu"), find("freezer")) {
        (Some(memory), Some(cpu), Some(freezer)) => Detection::Usable(Hierarchy::V1 {
            memory,
            cpu,
            freezer,
            pids: find("pids"),
        }),
        _ => {
            let missing: Vec<&str> = V1_REQUIRED
                .iter()
                .copied()
                .filter(|c| find(c).is_none())
                .collect();
            if v2_reasons.is_empty() {
                v2_reasons.push("no cgroup2 file system is mounted".to_owned());
            }
            Detection::Off(format!(
                "{}; cgroup v1 lacks the {} hierarchy",
                v2_reasons.join("; "),
                missing.join(", ")
            ))
        }
    }
}

/// Detects the hierarchies of this machine.
pub fn detect_host() -> Detection {
    match fs::read_to_string("/proc/self/mountinfo") {
        Ok(text) => detect(&text, Path::new("/")),
        Err(err) => Detection::Off(format!("cannot read /proc/self/mountinfo: {err}")),
    }
}

/// Limits of one cgroup: memory in bytes, CPU in millicores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// `resources.limits.memory`.
    pub memory: Option<u64>,
    /// `resources.limits.cpu`, in thousandths of a CPU.
    pub cpu_millis: Option<u64>,
}

/// The CFS quota of `millis` thousandths of a CPU over [`CPU_PERIOD_US`].
pub fn cpu_quota_us(millis: u64) -> u64 {
    (millis.saturating_mul(CPU_PERIOD_US) / 1000).max(MIN_CPU_QUOTA_US)
}

/// The pod's limits from its containers' (see the module documentation).
pub fn pod_limits(main: &[Limits], init: &[Limits]) -> Limits {
    fn total(main: &[Limits], init: &[Limits], get: fn(&Limits) -> Option<u64>) -> Option<u64> {
        let sum = main
            .iter()
            .map(get)
            .try_fold(0u64, |acc, v| v.map(|v| acc.saturating_add(v)))?;
        let largest_init = init
            .iter()
            .map(get)
            .try_fold(0u64, |acc, v| v.map(|v| acc.max(v)))?;
        Some(sum.max(largest_init))
    }
    Limits {
        memory: total(main, init, |l| l.memory),
        cpu_millis: total(main, init, |l| l.cpu_millis),
    }
}

/// The cgroups of the process runtime, below one parent.
#[derive(Debug, Clone)]
pub struct Cgroups {
    hierarchy: Hierarchy,
    parent: String,
}

impl Cgroups {
    /// Sets up `parent` in `hierarchy` (creating it, and enabling the controllers for its
    /// children on v2).
    pub fn new(hierarchy: Hierarchy, parent: &str) -> io::Result<Self> {
        let cgroups = Self {
            hierarchy,
            parent: parent.trim_matches('/').to_owned(),
        };
        for mount in cgroups.mounts() {
            let mut dir = mount.to_path_buf();
            if let Hierarchy::V2(_) = cgroups.hierarchy {
                enable_v2_controllers(&dir)?;
            }
            for part in cgroups.parent.split('/').filter(|p| !p.is_empty()) {
                dir.push(part);
                make_dir(&dir)?;
                if let Hierarchy::V2(_) = cgroups.hierarchy {
                    enable_v2_controllers(&dir)?;
                }
            }
        }
        Ok(cgroups)
    }

    /// Checks that a new process can really join a cgroup below the parent (a kernel may
    /// refuse, e.g. across a cgroup namespace, or a file system may be read-only): starts
    /// `program` (which must exit by itself) in a probe cgroup, then removes it.
    pub async fn check_join(&self, program: &Path, args: &[&str]) -> io::Result<()> {
        let uid = "join-check";
        self.create_pod(uid, Limits::default())?;
        let result = async {
            let procs = self.create_container(uid, "probe", Limits::default())?;
            let confinement = crate::confine::Confinement {
                cgroup_procs: procs,
                ..Default::default()
            };
            let mut command = tokio::process::Command::new(program);
            command
                .args(args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            confinement.apply(&mut command, Path::new("/"))?;
            command.spawn()?.wait().await.map(drop)
        }
        .await;
        self.kill_all(uid, None).await;
        self.remove_pod(uid);
        result
    }

    /// Which hierarchy is used.
    pub fn hierarchy(&self) -> &Hierarchy {
        &self.hierarchy
    }

    fn mounts(&self) -> Vec<&Path> {
        match &self.hierarchy {
            Hierarchy::V2(mount) => vec![mount],
            Hierarchy::V1 {
                memory,
                cpu,
                freezer,
                pids,
            } => {
                let mut all = vec![memory.as_path(), cpu, freezer];
                all.extend(pids.as_deref());
                all
            }
        }
    }

    fn parents(&self) -> Vec<PathBuf> {
        self.mounts()
            .into_iter()
            .map(|m| m.join(&self.parent))
            .collect()
    }

    fn pod_dirs(&self, uid: &str) -> Vec<PathBuf> {
        self.parents()
            .into_iter()
            .map(|p| p.join(format!("pod-{uid}")))
            .collect()
    }

    fn container_dirs(&self, uid: &str, container: &str) -> Vec<PathBuf> {
        self.pod_dirs(uid)
            .into_iter()
            .map(|p| p.join(container))
            .collect()
    }

    /// The directory that controls memory (v1 `memory`, or the v2 one) of pod `uid`, or of
    /// its container `container`.
    fn memory_dir(&self, uid: &str, container: Option<&str>) -> PathBuf {
        let mount = match &self.hierarchy {
            Hierarchy::V2(mount) => mount,
            Hierarchy::V1 { memory, .. } => memory,
        };
        let pod = mount.join(&self.parent).join(format!("pod-{uid}"));
        container.map_or_else(|| pod.clone(), |c| pod.join(c))
    }

    /// The directory whose `cgroup.procs` lists every process (v1: the freezer's).
    fn kill_dir(&self, uid: &str, container: Option<&str>) -> PathBuf {
        let mount = match &self.hierarchy {
            Hierarchy::V2(mount) => mount,
            Hierarchy::V1 { freezer, .. } => freezer,
        };
        let pod = mount.join(&self.parent).join(format!("pod-{uid}"));
        container.map_or_else(|| pod.clone(), |c| pod.join(c))
    }

    /// Creates pod `uid`'s cgroup (or finds it, after an agent restart) with `limits`.
    pub fn create_pod(&self, uid: &str, limits: Limits) -> io::Result<()> {
        for dir in self.pod_dirs(uid) {
            make_dir(&dir)?;
        }
        if let Hierarchy::V2(_) = self.hierarchy {
            enable_v2_controllers(&self.memory_dir(uid, None))?;
        }
        self.set_limits(uid, None, limits)
    }

    /// Creates container `container`'s cgroup in pod `uid`'s with `limits`; returns the
    /// `cgroup.procs` files a new process writes itself into.
    pub fn create_container(
        &self,
        uid: &str,
        container: &str,
        limits: Limits,
    ) -> io::Result<Vec<PathBuf>> {
        let dirs = self.container_dirs(uid, container);
        for dir in &dirs {
            make_dir(dir)?;
        }
        self.set_limits(uid, Some(container), limits)?;
        Ok(dirs.into_iter().map(|d| d.join("cgroup.procs")).collect())
    }

    fn set_limits(&self, uid: &str, container: Option<&str>, limits: Limits) -> io::Result<()> {
        let memory_dir = self.memory_dir(uid, container);
        match &self.hierarchy {
            Hierarchy::V2(_) => {
                let memory = limits.memory.map_or("max".to_owned(), |m| m.to_string());
                write(&memory_dir.join("memory.max"), &memory)?;
                // No swapping around the limit: over it is an OOM kill, as with the kubelet.
                if limits.memory.is_some() {
                    let _ = write(&memory_dir.join("memory.swap.max"), "0");
                }
                let cpu = limits
                    .cpu_millis
                    .map_or("max".to_owned(), |m| cpu_quota_us(m).to_string());
                write(
                    &memory_dir.join("cpu.max"),
                    &format!("{cpu} {CPU_PERIOD_US}"),
                )?;
            }
            Hierarchy::V1 { cpu, .. } => {
                let bytes = limits.memory.map_or("-1".to_owned(), |m| m.to_string());
                write(&memory_dir.join("memory.limit_in_bytes"), &bytes)?;
                let memsw = memory_dir.join("memory.memsw.limit_in_bytes");
                if memsw.exists() {
                    let _ = write(&memsw, &bytes);
                }
                let pod = cpu.join(&self.parent).join(format!("pod-{uid}"));
                let cpu_dir = container.map_or_else(|| pod.clone(), |c| pod.join(c));
                write(
                    &cpu_dir.join("cpu.cfs_period_us"),
                    &CPU_PERIOD_US.to_string(),
                )?;
                let quota = limits
                    .cpu_millis
                    .map_or("-1".to_owned(), |m| cpu_quota_us(m).to_string());
                write(&cpu_dir.join("cpu.cfs_quota_us"), &quota)?;
            }
        }
        Ok(())
    }

    /// How many processes the kernel has OOM-killed in container `container` of pod `uid`
    /// and in the pod's own cgroup (a counter that only grows).
    pub fn oom_kills(&self, uid: &str, container: &str) -> u64 {
        [Some(container), None]
            .into_iter()
            .map(|c| self.oom_kills_in(&self.memory_dir(uid, c)))
            .sum()
    }

    fn oom_kills_in(&self, dir: &Path) -> u64 {
        let file = match self.hierarchy {
            Hierarchy::V2(_) => "memory.events",
            Hierarchy::V1 { .. } => "memory.oom_control",
        };
        let text = fs::read_to_string(dir.join(file)).unwrap_or_default();
        match parse_oom_kill(&text) {
            Some(count) => count,
            // Kernels before 4.13 have no v1 counter: a hit limit is the best sign there is.
            None => fs::read_to_string(dir.join("memory.failcnt"))
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0),
        }
    }

    /// The live processes of pod `uid` (or of its container `container`), children cgroups
    /// included.
    pub fn processes(&self, uid: &str, container: Option<&str>) -> Vec<i32> {
        let mut pids = Vec::new();
        collect_procs(&self.kill_dir(uid, container), &mut pids);
        pids
    }

    /// Kills every process of pod `uid` (or only of its container `container`) with SIGKILL,
    /// so that none can fork in between, and waits (up to a few seconds) for them to be gone.
    pub async fn kill_all(&self, uid: &str, container: Option<&str>) {
        let dir = self.kill_dir(uid, container);
        if !dir.is_dir() {
            return;
        }
        match &self.hierarchy {
            Hierarchy::V2(_) if dir.join("cgroup.kill").exists() => {
                if let Err(err) = write(&dir.join("cgroup.kill"), "1") {
                    tracing::warn!(cgroup = %dir.display(), error = %err, "cgroup.kill failed");
                }
            }
            Hierarchy::V2(_) => {
                freeze_kill_thaw(&dir, "cgroup.freeze", ("1", "0"), |d| {
                    fs::read_to_string(d.join("cgroup.events"))
                        .is_ok_and(|e| e.lines().any(|l| l.trim() == "frozen 1"))
                })
                .await;
            }
            Hierarchy::V1 { .. } => {
                freeze_kill_thaw(&dir, "freezer.state", ("FROZEN", "THAWED"), |d| {
                    fs::read_to_string(d.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN")
                })
                .await;
            }
        }
        let deadline = Instant::now() + SETTLE;
        loop {
            let mut left = Vec::new();
            collect_procs(&dir, &mut left);
            if left.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                tracing::warn!(cgroup = %dir.display(), pids = ?left, "processes outlived SIGKILL");
                return;
            }
            // A process that forked after the list was read (v2 without cgroup.kill, or a
            // freezer that did not settle) is killed on the next round.
            for pid in left {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Removes pod `uid`'s cgroups (after [`Self::kill_all`]); a missing one is fine.
    pub fn remove_pod(&self, uid: &str) {
        for dir in self.pod_dirs(uid) {
            remove_tree(&dir);
        }
    }
}

/// `oom_kill N` in `memory.events` (v2) or `memory.oom_control` (v1).
pub fn parse_oom_kill(text: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(' ')?;
        (key == "oom_kill").then(|| value.trim().parse().ok())?
    })
}

async fn freeze_kill_thaw(
    dir: &Path,
    file: &str,
    (freeze, thaw): (&str, &str),
    frozen: impl Fn(&Path) -> bool,
) {
    if let Err(err) = write(&dir.join(file), freeze) {
        tracing::warn!(cgroup = %dir.display(), error = %err, "could not freeze the cgroup");
    }
    let deadline = Instant::now() + SETTLE;
    while !frozen(dir) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut pids = Vec::new();
    collect_procs(dir, &mut pids);
    for pid in pids {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    if let Err(err) = write(&dir.join(file), thaw) {
        tracing::warn!(cgroup = %dir.display(), error = %err, "could not thaw the cgroup");
    }
}

fn collect_procs(dir: &Path, pids: &mut Vec<i32>) {
    if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
        pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    for entry in fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
    {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_procs(&entry.path(), pids);
        }
    }
}

fn remove_tree(dir: &Path) {
    for entry in fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
    {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path());
        }
    }
    match fs::remove_dir(dir) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => {
            tracing::warn!(cgroup = %dir.display(), error = %err, "could not remove a cgroup");
        }
        _ => {}
    }
}

fn make_dir(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Err(err) if err.kind() != io::ErrorKind::AlreadyExists => Err(io::Error::new(
            err.kind(),
            format!("creating cgroup {}: {err}", dir.display()),
        )),
        _ => Ok(()),
    }
}

fn write(path: &Path, value: &str) -> io::Result<()> {
    fs::write(path, value).map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("writing {value:?} to {}: {err}", path.display()),
        )
    })
}

fn enable_v2_controllers(dir: &Path) -> io::Result<()> {
    write(&dir.join("cgroup.subtree_control"), "+memory +cpu +pids")
}

/// Opens the `cgroup.procs` files a new process writes `0` into to join its cgroups.
pub fn open_procs(paths: &[PathBuf]) -> io::Result<Vec<File>> {
    paths
        .iter()
        .map(|p| {
            OpenOptions::new().write(true).open(p).map_err(|err| {
                io::Error::new(err.kind(), format!("opening {}: {err}", p.display()))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_HOST: &str = "\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
33 25 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
34 33 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
37 33 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
38 33 0:33 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
39 33 0:34 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids
40 33 0:35 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,freezer
";

    fn fake_fs(dirs: &[(&str, &[(&str, &str)])]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (dir, files) in dirs {
            let path = root.path().join(dir);
            fs::create_dir_all(&path).unwrap();
            for (name, text) in *files {
                fs::write(path.join(name), text).unwrap();
            }
        }
        root
    }

    #[test]
    fn v1_is_picked_when_the_cgroup2_mount_has_no_memory_controller() {
        let root = fake_fs(&[
            ("sys/fs/cgroup/unified", &[("cgroup.controllers", "")]),
            ("sys/fs/cgroup/cpu,cpuacct", &[("cgroup.procs", "")]),
            ("sys/fs/cgroup/memory", &[("cgroup.procs", "")]),
            ("sys/fs/cgroup/pids", &[("cgroup.procs", "")]),
            ("sys/fs/cgroup/freezer", &[("cgroup.procs", "")]),
        ]);
        let base = root.path().join("sys/fs/cgroup");
        assert_eq!(
            detect(V1_HOST, root.path()),
            Detection::Usable(Hierarchy::V1 {
                memory: base.join("memory"),
                cpu: base.join("cpu,cpuacct"),
                freezer: base.join("freezer"),
                pids: Some(base.join("pids")),
            })
        );
    }

    #[test]
    fn v2_is_picked_when_it_offers_the_controllers() {
        let mountinfo = "34 33 0:29 / /sys/fs/cgroup rw,nosuid shared:10 - cgroup2 cgroup2 rw\n";
        let root = fake_fs(&[(
            "sys/fs/cgroup",
            &[(
                "cgroup.controllers",
                "cpuset cpu io memory hugetlb pids rdma\n",
            )],
        )]);
        assert_eq!(
            detect(mountinfo, root.path()),
            Detection::Usable(Hierarchy::V2(root.path().join("sys/fs/cgroup")))
        );
        // Also preferred over a complete v1.
        let both = format!("{V1_HOST}{mountinfo}");
        assert!(matches!(
            detect(&both, root.path()),
            Detection::Usable(Hierarchy::V2(_))
        ));
    }

    #[test]
    fn nothing_usable_says_why() {
        let root = fake_fs(&[
            ("sys/fs/cgroup/unified", &[("cgroup.controllers", "pids")]),
            ("sys/fs/cgroup/memory", &[("cgroup.procs", "")]),
        ]);
        let Detection::Off(reason) = detect(V1_HOST, root.path()) else {
            panic!("expected off");
        };
        assert!(reason.contains("lacks memory, cpu"), "{reason}");
        assert!(
            reason.contains("cgroup v1 lacks the cpu, freezer hierarchy"),
            "{reason}"
        );
        let Detection::Off(reason) = detect("", root.path()) else {
            panic!("expected off");
        };
        assert!(
            reason.contains("no cgroup2 file system is mounted"),
            "{reason}"
        );
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn v2_files_are_written_as_the_kernel_expects() {
        // A plain directory stands in for the cgroup file system: what is written is checked.
        let root = tempfile::tempdir().unwrap();
        let mount = root.path().to_path_buf();
        let cgroups = Cgroups::new(Hierarchy::V2(mount.clone()), "/everynode/").unwrap();
        assert_eq!(
            read(&mount.join("cgroup.subtree_control")),
            "+memory +cpu +pids"
        );
        let parent = mount.join("everynode");
        assert_eq!(
            read(&parent.join("cgroup.subtree_control")),
            "+memory +cpu +pids"
        );
        let limits = Limits {
            memory: Some(64 << 20),
            cpu_millis: Some(250),
        };
        cgroups.create_pod("u1", limits).unwrap();
        let pod = parent.join("pod-u1");
        assert_eq!(read(&pod.join("memory.max")), "67108864");
        assert_eq!(read(&pod.join("memory.swap.max")), "0");
        assert_eq!(read(&pod.join("cpu.max")), "25000 100000");
        assert_eq!(
            read(&pod.join("cgroup.subtree_control")),
            "+memory +cpu +pids"
        );
        let procs = cgroups
            .create_container("u1", "app", Limits::default())
            .unwrap();
        assert_eq!(procs, vec![pod.join("app").join("cgroup.procs")]);
        assert_eq!(read(&pod.join("app/memory.max")), "max");
        assert_eq!(read(&pod.join("app/cpu.max")), "max 100000");

        fs::write(pod.join("app/memory.events"), "oom 1\noom_kill 2\n").unwrap();
        fs::write(pod.join("memory.events"), "oom 1\noom_kill 2\n").unwrap();
        assert_eq!(cgroups.oom_kills("u1", "app"), 4);
        fs::write(pod.join("app/cgroup.procs"), "").unwrap();
        assert!(cgroups.processes("u1", None).is_empty());
    }

    #[test]
    fn v1_files_are_written_per_controller() {
        let root = tempfile::tempdir().unwrap();
        let at = |c: &str| {
            let dir = root.path().join(c);
            fs::create_dir_all(&dir).unwrap();
            dir
        };
        let hierarchy = Hierarchy::V1 {
            memory: at("memory"),
            cpu: at("cpu"),
            freezer: at("freezer"),
            pids: None,
        };
        let cgroups = Cgroups::new(hierarchy, "everynode").unwrap();
        cgroups
            .create_pod(
                "u1",
                Limits {
                    memory: Some(1000),
                    cpu_millis: None,
                },
            )
            .unwrap();
        let memory = root.path().join("memory/everynode/pod-u1");
        let cpu = root.path().join("cpu/everynode/pod-u1");
        assert_eq!(read(&memory.join("memory.limit_in_bytes")), "1000");
        assert!(
            !memory.join("memory.memsw.limit_in_bytes").exists(),
            "only where it exists"
        );
        assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "100000");
        assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "-1");
        assert!(root.path().join("freezer/everynode/pod-u1").is_dir());
        let procs = cgroups
            .create_container(
                "u1",
                "app",
                Limits {
                    memory: None,
                    cpu_millis: Some(1500),
                },
            )
            .unwrap();
        assert_eq!(procs.len(), 3, "one cgroup.procs per hierarchy: {procs:?}");
        assert_eq!(read(&memory.join("app/memory.limit_in_bytes")), "-1");
        assert_eq!(read(&cpu.join("app/cpu.cfs_quota_us")), "150000");
        fs::write(
            memory.join("app/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        )
        .unwrap();
        assert_eq!(cgroups.oom_kills("u1", "app"), 1);
        cgroups.remove_pod("u1");
        assert!(!root.path().join("freezer/everynode/pod-u1").exists());
    }

    #[test]
    fn limits_and_counters() {
        assert_eq!(cpu_quota_us(500), 50_000);
        assert_eq!(cpu_quota_us(2000), 200_000);
        assert_eq!(cpu_quota_us(1), MIN_CPU_QUOTA_US);
        let l = |memory: Option<u64>, cpu: Option<u64>| Limits {
            memory,
            cpu_millis: cpu,
        };
        assert_eq!(
            pod_limits(&[l(Some(10), Some(100)), l(Some(20), None)], &[]),
            l(Some(30), None),
            "an unlimited container leaves the pod unlimited"
        );
        assert_eq!(
            pod_limits(&[l(Some(10), Some(100))], &[l(Some(50), Some(50))]),
            l(Some(50), Some(100))
        );
        assert_eq!(
            pod_limits(&[l(Some(1), Some(1))], &[l(None, Some(1))]).memory,
            None
        );
        assert_eq!(
            parse_oom_kill("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"),
            Some(3)
        );
        assert_eq!(
            parse_oom_kill("low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\noom_group_kill 0\n"),
            Some(1)
        );
        assert_eq!(parse_oom_kill("oom_kill_disable 0\nunder_oom 0\n"), None);
    }
}
