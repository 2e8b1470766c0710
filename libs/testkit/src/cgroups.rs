//! A cgroup parent of a test's own, for agents running the process runtime: pods of parallel
//! tests never share a cgroup, and the parent is removed when the test ends.

use std::fs;
use std::path::{Path, PathBuf};

use everynode_agent::cgroup::{Detection, Hierarchy, detect_host};

/// Where the test parents live, under each hierarchy.
const ROOT: &str = "everynode-test";

/// A cgroup parent `everynode-test/<random>` for one test; on drop, whatever still runs in it
/// (a test that failed half-way) is killed and its cgroups are removed.
#[derive(Debug)]
pub struct TestCgroups {
    parent: String,
    hierarchy: Option<Hierarchy>,
}

impl TestCgroups {
    /// A fresh parent; cgroups may or may not be usable on this machine.
    pub fn new() -> Self {
        let hierarchy = match detect_host() {
            Detection::Usable(hierarchy) => Some(hierarchy),
            Detection::Off(_) => None,
        };
        Self {
            parent: format!("{ROOT}/{:016x}", rand_id()),
            hierarchy,
        }
    }

    /// A fresh parent; panics, saying what is missing, unless this test runs as root with
    /// usable cgroups (tests of confinement must not pass without it).
    pub fn require() -> Self {
        assert!(
            nix_euid_is_root(),
            "this test needs root (it sets limits, users and cgroups); it runs as uid {}",
            fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
                .unwrap_or_default()
        );
        match detect_host() {
            Detection::Usable(hierarchy) => Self {
                parent: format!("{ROOT}/{:016x}", rand_id()),
                hierarchy: Some(hierarchy),
            },
            Detection::Off(reason) => {
                panic!(
                    "this test needs usable cgroups (v2 with memory, cpu, pids, or v1 memory, cpu, freezer): {reason}"
                )
            }
        }
    }

    /// The `--cgroup-parent` to give the agent.
    pub fn parent(&self) -> &str {
        &self.parent
    }

    /// The hierarchy in use, if any.
    pub fn hierarchy(&self) -> Option<&Hierarchy> {
        self.hierarchy.as_ref()
    }

    /// The directories of this parent, one per hierarchy.
    pub fn dirs(&self) -> Vec<PathBuf> {
        mounts(self.hierarchy.as_ref())
            .into_iter()
            .map(|m| m.join(&self.parent))
            .collect()
    }
}

impl Default for TestCgroups {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestCgroups {
    fn drop(&mut self) {
        let dirs = self.dirs();
        for _ in 0..50 {
            let mut pids = Vec::new();
            for dir in &dirs {
                collect_procs(dir, &mut pids);
            }
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for dir in &dirs {
            remove_tree(dir);
        }
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

fn mounts(hierarchy: Option<&Hierarchy>) -> Vec<PathBuf> {
    match hierarchy {
        None => Vec::new(),
        Some(Hierarchy::V2(mount)) => vec![mount.clone()],
        Some(Hierarchy::V1 {
            memory,
            cpu,
            freezer,
            pids,
        }) => {
            let mut all = vec![memory.clone(), cpu.clone(), freezer.clone()];
            all.extend(pids.clone());
            all
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
    let _ = fs::remove_dir(dir);
}

fn nix_euid_is_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
            .unwrap_or(false)
    })
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}
